//! Choice conditions: parsing (SPEC §2) and evaluation on a step input.
//!
//! Owns the condition grammar, its parse errors (each with the character
//! offset of the problem, which the builder turns into a line and column)
//! and the evaluation rules. A hand-written recursive-descent parser: the
//! grammar is small and the messages matter more than generality.
//!
//! ```text
//! or      := and ("||" and)*
//! and     := cmp ("&&" cmp)*
//! cmp     := unary (("==" | "!=" | "<" | "<=" | ">" | ">=") unary)?   (no chaining)
//! unary   := "!" unary | primary
//! primary := path | string | number | "true" | "false" | "null" | "(" or ")"
//! path    := "$" or "$input", then .key [n] [*] ["key"] (see fdl::path)
//! string  := double-quoted, JSON escapes
//! number  := -?digits(.digits)?([eE][+-]?digits)?
//! ```
//!
//! Precedence, tightest first: `!`, comparisons, `&&`, `||`. So `!$.a == false`
//! is `(!$.a) == false`; write `!($.a == 1)` to negate a comparison.
//!
//! Evaluation: a path that does not exist in the input is an error naming
//! it (a condition never guesses); `&&`, `||`, `!` and a bare value need
//! true or false; `==`/`!=` compare any JSON values (numbers by value, so
//! `1 == 1.0`); `<`, `<=`, `>`, `>=` compare numbers with numbers and
//! strings with strings (by code point), anything else is an error saying
//! which types met. `&&` and `||` short-circuit, so `$.a != null && $.a.b > 1`
//! is safe when `a` is null.

use std::borrow::Cow;
use std::fmt;

use super::values::describe;
use serde_json::Value;

use super::model::{Path, Root};
use super::path::{self, PathError, shown};

/// A parsed choice condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The condition as written.
    pub source: String,
    expr: Expr,
}

/// Why a condition could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {})", offset + 1)]
pub struct ConditionError {
    /// The 0-based character offset of the problem in the condition text
    /// (its length for "ended too early").
    pub offset: usize,
    pub message: String,
}

impl From<PathError> for ConditionError {
    fn from(e: PathError) -> Self {
        ConditionError {
            offset: e.offset,
            message: e.message,
        }
    }
}

/// Why a condition could not be evaluated on an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The condition reads a path the input does not have.
    #[error("`{path}` does not exist in the step input")]
    MissingPath { path: String },
    /// `&&`, `||`, `!` or the whole condition met something else than a
    /// boolean.
    #[error("{what} is {found}, but a condition needs true or false here")]
    NotBoolean { what: String, found: String },
    /// `<`, `<=`, `>`, `>=` on values of different (or unordered) types.
    #[error(
        "cannot compare {left} with {right} using `{op}`: it compares numbers with numbers and strings with strings"
    )]
    Mismatch {
        op: &'static str,
        left: String,
        right: String,
    },
}

use crate::syntax::values::CmpOp;

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Path(Path),
    Lit(Value),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
}

impl fmt::Display for Expr {
    /// Fully parenthesised, to show (and test) how a condition was read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Path(p) => write!(f, "{p}"),
            Expr::Lit(v) => write!(f, "{v}"),
            Expr::Not(e) => write!(f, "!{e}"),
            Expr::And(a, b) => write!(f, "({a} && {b})"),
            Expr::Or(a, b) => write!(f, "({a} || {b})"),
            Expr::Cmp(op, a, b) => write!(f, "({a} {} {b})", op.as_str()),
        }
    }
}

/// Roots a condition may read: both mean the step input.
const ROOTS: &[Root] = &[Root::Dollar, Root::Input];

impl Condition {
    /// Parses a condition; the error carries the character offset of the
    /// problem.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let chars: Vec<char> = text.chars().collect();
        let tokens = lex(&chars);
        // Bounds keep parsing and evaluation (both recursive) far from the
        // stack's end whatever the text; real conditions are a few tokens.
        if let Some(t) = tokens.get(MAX_TOKENS) {
            return Err(ConditionError {
                offset: t.at,
                message: format!(
                    "the condition is too long: at most {MAX_TOKENS} paths, values and operators; \
                     split the decision over several choice steps"
                ),
            });
        }
        let mut p = Parser {
            tokens,
            next: 0,
            len: chars.len(),
            depth: 0,
        };
        if p.tokens.is_empty() {
            return Err(ConditionError {
                offset: 0,
                message: "the condition is empty; write one such as `$.status == \"ok\"`"
                    .to_owned(),
            });
        }
        let node = p.or()?;
        need_bool(&node)?;
        if let Some(t) = p.peek()? {
            let message = match &t.tok {
                Tok::RParen => "unmatched `)`".to_owned(),
                _ => format!(
                    "expected `&&`, `||` or the end after a complete condition, found {}",
                    t.describe()
                ),
            };
            return Err(ConditionError {
                offset: t.at,
                message,
            });
        }
        Ok(Condition {
            source: text.to_owned(),
            expr: node.expr,
        })
    }

    /// Evaluates the condition on a step input, as the service does: a
    /// comparison, or a bare path, that reads a key the input does not have
    /// does not match (it is false; `!` of it is true), so the choice moves
    /// on to its next condition and then to its default (the vendor's
    /// choice examples, help.aliyun.com documents 122500 and 122501).
    pub fn eval(&self, input: &Value) -> Result<bool, EvalError> {
        truth(&self.expr, input, Missing::NoMatch)
    }

    /// Evaluates the condition, failing on a path the input does not have
    /// ([`EvalError::MissingPath`]): what flowsim did before it followed
    /// the vendor's documented rule; kept for tools that want to catch a
    /// misspelt key (the engine always uses [`Condition::eval`]).
    pub fn eval_strict(&self, input: &Value) -> Result<bool, EvalError> {
        truth(&self.expr, input, Missing::Error)
    }

    /// A step input that makes the condition true, for the common shapes
    /// (comparisons of a path with a value, bare paths, `!`, `&&`, `||`);
    /// `None` when it finds none. Checked with [`Condition::eval`] before
    /// it is answered (`flowsim test --init` writes it as a case input).
    pub fn witness(&self) -> Option<Value> {
        let mut v = Value::Object(serde_json::Map::new());
        witness(&self.expr, true, &mut v)?;
        (self.eval(&v) == Ok(true)).then_some(v)
    }

    /// The condition fully parenthesised, showing how it was read
    /// (`$.a > 1 && !$.b` reads `(($.a > 1) && !$.b)`).
    pub fn explain(&self) -> String {
        self.expr.to_string()
    }
}

// ---- lexing ----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Path(Path),
    Lit(Value),
    Not,
    And,
    Or,
    Cmp(CmpOp),
    LParen,
    RParen,
    /// A lexing error: the parser reports it when it gets this far, so an
    /// earlier grammar error wins over a later bad character.
    Bad(ConditionError),
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    at: usize,
    end: usize,
    text: String,
}

impl Token {
    fn describe(&self) -> String {
        format!("`{}`", self.text)
    }
}

fn bad(at: usize, message: impl Into<String>) -> Tok {
    Tok::Bad(ConditionError {
        offset: at,
        message: message.into(),
    })
}

/// Splits the text into tokens; stops after the first bad one.
fn lex(chars: &[char]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let at = i;
        let next = chars.get(i + 1).copied();
        let (tok, end) = match c {
            '(' => (Tok::LParen, i + 1),
            ')' => (Tok::RParen, i + 1),
            '=' if next == Some('=') => (Tok::Cmp(CmpOp::Eq), i + 2),
            '=' => (
                bad(at, "`=` is not an operator; use `==` to compare"),
                i + 1,
            ),
            '!' if next == Some('=') => (Tok::Cmp(CmpOp::Ne), i + 2),
            '!' => (Tok::Not, i + 1),
            '<' if next == Some('=') => (Tok::Cmp(CmpOp::Le), i + 2),
            '<' => (Tok::Cmp(CmpOp::Lt), i + 1),
            '>' if next == Some('=') => (Tok::Cmp(CmpOp::Ge), i + 2),
            '>' => (Tok::Cmp(CmpOp::Gt), i + 1),
            '&' if next == Some('&') => (Tok::And, i + 2),
            '&' => (bad(at, "`&` is not an operator; use `&&`"), i + 1),
            '|' if next == Some('|') => (Tok::Or, i + 2),
            '|' => (bad(at, "`|` is not an operator; use `||`"), i + 1),
            '\'' => (
                bad(at, "strings are written in double quotes: \"text\""),
                i + 1,
            ),
            '"' => match path::scan_string(chars, i) {
                Ok((s, end)) => (Tok::Lit(Value::String(s)), end),
                Err(e) => (Tok::Bad(e.into()), chars.len()),
            },
            '$' => match path::parse_at(chars, i, ROOTS) {
                Ok((p, end)) => (Tok::Path(p), end),
                Err(e) => (Tok::Bad(e.into()), chars.len()),
            },
            '-' | '0'..='9' => number(chars, i),
            c if c.is_alphabetic() || c == '_' => word(chars, i),
            other => (
                bad(
                    at,
                    format!(
                        "unexpected `{other}`; a condition is made of `$.paths`, values, comparisons, `!`, `&&`, `||` and parentheses"
                    ),
                ),
                i + 1,
            ),
        };
        let stop = matches!(tok, Tok::Bad(_));
        out.push(Token {
            tok,
            at,
            end,
            text: chars[at..end.min(chars.len())].iter().collect(),
        });
        if stop {
            break;
        }
        i = end;
    }
    out
}

fn number(chars: &[char], start: usize) -> (Tok, usize) {
    let digits = |mut j: usize| {
        while chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let mut i = start;
    if chars[i] == '-' {
        i += 1;
        if !chars.get(i).is_some_and(char::is_ascii_digit) {
            return (
                bad(start, "`-` must be followed by a number, as in `-1.5`"),
                start + 1,
            );
        }
    }
    i = digits(i);
    let mut float = false;
    if chars.get(i) == Some(&'.') {
        if !chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            return (
                bad(
                    i + 1,
                    format!(
                        "expected a digit after `.`, found {}",
                        shown(chars.get(i + 1))
                    ),
                ),
                i + 1,
            );
        }
        i = digits(i + 1);
        float = true;
    }
    match crate::syntax::values::finish_number(chars, start, i, float) {
        Ok((n, end)) => (Tok::Lit(Value::Number(n)), end),
        Err((at, end, message)) => (bad(at, message), end),
    }
}

fn word(chars: &[char], start: usize) -> (Tok, usize) {
    let mut i = start;
    while chars
        .get(i)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        i += 1;
    }
    let w: String = chars[start..i].iter().collect();
    let tok = match w.as_str() {
        "true" => Tok::Lit(Value::Bool(true)),
        "false" => Tok::Lit(Value::Bool(false)),
        "null" => Tok::Lit(Value::Null),
        _ => {
            let lower = w.to_ascii_lowercase();
            let hint = match lower.as_str() {
                "true" | "false" | "null" => format!("; write `{lower}` in lower case"),
                "and" => "; write `&&`".to_owned(),
                "or" => "; write `||`".to_owned(),
                "not" => "; write `!`".to_owned(),
                _ => format!(
                    "; a value is a `$.path`, a \"string\", a number, true, false or null (did you mean `$.{w}` or \"{w}\"?)"
                ),
            };
            bad(start, format!("unknown word `{w}`{hint}"))
        }
    };
    (tok, i)
}

// ---- parsing ---------------------------------------------------------------

/// An expression and where it starts, for errors about it.
struct Node {
    expr: Expr,
    at: usize,
    text: String,
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// The text's length in characters: where "ended too early" points.
    len: usize,
    /// How many `(` and `!` enclose the current token.
    depth: usize,
}

/// Most tokens a condition may have.
const MAX_TOKENS: usize = 1_000;
/// Most `(` and `!` that may enclose one another.
const MAX_DEPTH: usize = 64;

const A_VALUE: &str = "a value (a `$.path`, a \"string\", a number, true, false, null, `!` or `(`)";

impl Parser {
    /// The next token, or the lexing error it stands for.
    fn peek(&self) -> Result<Option<&Token>, ConditionError> {
        match self.tokens.get(self.next) {
            Some(Token {
                tok: Tok::Bad(e), ..
            }) => Err(e.clone()),
            t => Ok(t),
        }
    }

    fn bump(&mut self) {
        self.next += 1;
    }

    /// The text of the tokens from `from` up to the last one taken, with
    /// single spaces where the source had any.
    fn text_since(&self, from: usize) -> String {
        let toks = self.tokens.get(from..self.next).unwrap_or(&[]);
        let mut s = String::new();
        let mut last_end = None;
        for t in toks {
            if last_end.is_some_and(|e| t.at > e) {
                s.push(' ');
            }
            s.push_str(&t.text);
            last_end = Some(t.end);
        }
        s
    }

    fn or(&mut self) -> Result<Node, ConditionError> {
        let from = self.next;
        let mut left = self.and()?;
        while matches!(self.peek()?, Some(Token { tok: Tok::Or, .. })) {
            need_bool(&left)?;
            self.bump();
            let right = self.and()?;
            need_bool(&right)?;
            left = Node {
                expr: Expr::Or(Box::new(left.expr), Box::new(right.expr)),
                at: left.at,
                text: self.text_since(from),
            };
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, ConditionError> {
        let from = self.next;
        let mut left = self.cmp()?;
        while matches!(self.peek()?, Some(Token { tok: Tok::And, .. })) {
            need_bool(&left)?;
            self.bump();
            let right = self.cmp()?;
            need_bool(&right)?;
            left = Node {
                expr: Expr::And(Box::new(left.expr), Box::new(right.expr)),
                at: left.at,
                text: self.text_since(from),
            };
        }
        Ok(left)
    }

    fn cmp(&mut self) -> Result<Node, ConditionError> {
        let from = self.next;
        let left = self.unary()?;
        let op = match self.peek()? {
            Some(Token {
                tok: Tok::Cmp(op), ..
            }) => *op,
            _ => return Ok(left),
        };
        self.bump();
        let right = self.unary()?;
        if let Some(t) = self.peek()?
            && matches!(t.tok, Tok::Cmp(_))
        {
            return Err(ConditionError {
                offset: t.at,
                message: format!(
                    "comparisons do not chain; join them with `&&`, as in `$.a {} $.b && $.b {} $.c`",
                    op.as_str(),
                    t.text
                ),
            });
        }
        Ok(Node {
            expr: Expr::Cmp(op, Box::new(left.expr), Box::new(right.expr)),
            at: left.at,
            text: self.text_since(from),
        })
    }

    fn unary(&mut self) -> Result<Node, ConditionError> {
        let Some(t) = self.peek()? else {
            return Err(ConditionError {
                offset: self.len,
                message: format!("expected {A_VALUE}, found the end"),
            });
        };
        let at = t.at;
        let from = self.next;
        if matches!(t.tok, Tok::Not | Tok::LParen) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ConditionError {
                    offset: at,
                    message: format!(
                        "the condition nests `(` and `!` more than {MAX_DEPTH} levels deep"
                    ),
                });
            }
        }
        let node = self.unary_at(at, from);
        if matches!(
            self.tokens.get(from).map(|t| &t.tok),
            Some(Tok::Not | Tok::LParen)
        ) {
            self.depth -= 1;
        }
        node
    }

    fn unary_at(&mut self, at: usize, from: usize) -> Result<Node, ConditionError> {
        let Some(t) = self.peek()? else {
            return Err(ConditionError {
                offset: self.len,
                message: format!("expected {A_VALUE}, found the end"),
            });
        };
        match &t.tok {
            Tok::Not => {
                self.bump();
                let inner = self.unary()?;
                need_bool(&inner)?;
                Ok(Node {
                    expr: Expr::Not(Box::new(inner.expr)),
                    at,
                    text: self.text_since(from),
                })
            }
            Tok::LParen => {
                self.bump();
                let inner = self.or()?;
                match self.peek()? {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => {
                        self.bump();
                        Ok(Node {
                            expr: inner.expr,
                            at,
                            text: self.text_since(from),
                        })
                    }
                    other => {
                        let (offset, found) = match other {
                            Some(t) => (t.at, t.describe()),
                            None => (self.len, "the end".to_owned()),
                        };
                        Err(ConditionError {
                            offset,
                            message: format!(
                                "missing `)` to close the `(` at character {}, found {found}",
                                at + 1
                            ),
                        })
                    }
                }
            }
            Tok::Path(p) => {
                let expr = Expr::Path(p.clone());
                self.bump();
                Ok(Node {
                    expr,
                    at,
                    text: self.text_since(from),
                })
            }
            Tok::Lit(v) => {
                let expr = Expr::Lit(v.clone());
                self.bump();
                Ok(Node {
                    expr,
                    at,
                    text: self.text_since(from),
                })
            }
            _ => Err(ConditionError {
                offset: at,
                message: format!("expected {A_VALUE}, found {}", t.describe()),
            }),
        }
    }
}

/// A constant that can never be true or false where one is needed is a
/// mistake worth catching before the flow runs (`$.a && 1`).
fn need_bool(node: &Node) -> Result<(), ConditionError> {
    match &node.expr {
        Expr::Lit(v) if !v.is_boolean() => Err(ConditionError {
            offset: node.at,
            message: format!(
                "`{}` is {}, not true or false; compare it, as in `$.x == {}`",
                node.text,
                describe(v),
                node.text
            ),
        }),
        _ => Ok(()),
    }
}

// ---- witnesses -------------------------------------------------------------

/// Sets in `v` what makes `e` evaluate to `want`.
fn witness(e: &Expr, want: bool, v: &mut Value) -> Option<()> {
    match e {
        Expr::Lit(Value::Bool(b)) => (*b == want).then_some(()),
        Expr::Lit(_) => None,
        Expr::Path(p) => set_path(v, p, Value::Bool(want)),
        Expr::Not(a) => witness(a, !want, v),
        Expr::And(a, b) if want => {
            witness(a, true, v)?;
            witness(b, true, v)
        }
        Expr::Or(a, b) if !want => {
            witness(a, false, v)?;
            witness(b, false, v)
        }
        Expr::And(a, b) | Expr::Or(a, b) => {
            let mut first = v.clone();
            if witness(a, want, &mut first).is_some() {
                *v = first;
                return Some(());
            }
            witness(b, want, v)
        }
        Expr::Cmp(op, a, b) => {
            let (path, lit, op) = match (a.as_ref(), b.as_ref()) {
                (Expr::Path(p), Expr::Lit(l)) => (p, l, *op),
                (Expr::Lit(l), Expr::Path(p)) => (p, l, op.flip()),
                _ => return None,
            };
            let op = if want { op } else { op.negate() };
            set_path(v, path, op.satisfying(lit)?)
        }
    }
}

/// Sets `path` in `root` to `value`, building objects and arrays on the way;
/// `None` on a wildcard or a clash with what is there.
fn set_path(root: &mut Value, path: &Path, value: Value) -> Option<()> {
    use super::model::Segment;
    let mut cur = root;
    for (i, seg) in path.segments.iter().enumerate() {
        let last = i + 1 == path.segments.len();
        let fresh = || {
            if last {
                Value::Null
            } else {
                match path.segments.get(i + 1) {
                    Some(Segment::Index(_)) => Value::Array(Vec::new()),
                    _ => Value::Object(serde_json::Map::new()),
                }
            }
        };
        cur = match seg {
            Segment::Key(k) => {
                let m = cur.as_object_mut()?;
                if !m.contains_key(k.as_str()) {
                    m.insert(k.clone(), fresh());
                }
                m.get_mut(k.as_str())?
            }
            Segment::Index(n) => {
                let a = cur.as_array_mut()?;
                while a.len() <= *n {
                    a.push(Value::Null);
                }
                if a[*n].is_null() && !last {
                    a[*n] = fresh();
                }
                a.get_mut(*n)?
            }
            Segment::Wildcard => return None,
        };
    }
    if cur.is_null() || *cur == value {
        *cur = value;
        Some(())
    } else {
        None
    }
}

// ---- evaluation ------------------------------------------------------------

/// What a path the input does not have means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// The comparison (or bare path) reading it is false.
    NoMatch,
    /// An [`EvalError::MissingPath`].
    Error,
}

/// The value of an operand; `None` for a path the input does not have.
fn value<'v>(
    e: &Expr,
    input: &'v Value,
    missing: Missing,
) -> Result<Option<Cow<'v, Value>>, EvalError> {
    match e {
        Expr::Path(p) => match lookup(p, input) {
            Some(v) => Ok(Some(v)),
            None if missing == Missing::NoMatch => Ok(None),
            None => Err(EvalError::MissingPath {
                path: p.to_string(),
            }),
        },
        Expr::Lit(v) => Ok(Some(Cow::Owned(v.clone()))),
        _ => truth(e, input, missing).map(|b| Some(Cow::Owned(Value::Bool(b)))),
    }
}

/// Looks a path up without cloning unless a `[*]` builds a new array.
fn lookup<'v>(p: &Path, input: &'v Value) -> Option<Cow<'v, Value>> {
    use super::model::Segment;
    let mut cur = input;
    for s in &p.segments {
        cur = match s {
            Segment::Key(k) => cur.get(k.as_str())?,
            Segment::Index(i) => cur.get(*i)?,
            Segment::Wildcard => return p.lookup(input).map(Cow::Owned),
        };
    }
    Some(Cow::Borrowed(cur))
}

fn truth(e: &Expr, input: &Value, missing: Missing) -> Result<bool, EvalError> {
    match e {
        Expr::Not(a) => truth(a, input, missing).map(|b| !b),
        Expr::And(a, b) => Ok(truth(a, input, missing)? && truth(b, input, missing)?),
        Expr::Or(a, b) => Ok(truth(a, input, missing)? || truth(b, input, missing)?),
        Expr::Cmp(op, a, b) => {
            let (Some(x), Some(y)) = (value(a, input, missing)?, value(b, input, missing)?) else {
                return Ok(false);
            };
            compare(*op, x.as_ref(), y.as_ref())
        }
        Expr::Path(_) | Expr::Lit(_) => match value(e, input, missing)? {
            None => Ok(false),
            Some(v) => match v.as_ref() {
                Value::Bool(b) => Ok(*b),
                other => Err(EvalError::NotBoolean {
                    what: format!("`{e}`"),
                    found: describe(other),
                }),
            },
        },
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool, EvalError> {
    op.compare(a, b).ok_or_else(|| EvalError::Mismatch {
        op: op.as_str(),
        left: describe(a),
        right: describe(b),
    })
}

#[cfg(test)]
mod tests;
