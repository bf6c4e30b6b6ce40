//! The expression parser: tokens in, an [`Expr`] with its static type
//! out, or an [`ExprError`] at the character of the problem.
//!
//! A hand-written recursive-descent parser (the grammar is in
//! [`super`]'s documentation): the grammar is small and the messages
//! matter more than generality. Besides the grammar it makes the checks a
//! flow is loaded with: `$Output` only where the [`Place`] allows it,
//! `$Context` fields that exist, argument types and constant arguments of
//! built-in functions, at most 10 nested calls, operands that can never be
//! booleans (or ordered) where they must be.

use serde_json::Value;

use super::super::functions::{self, Arg};
use super::lex::{self, CmpOp, Tok, Token};
use super::{Expr, ExprError, MAX_FUNCTION_NESTING, Place, Root, Seg, Ty, negate};

/// Most tokens an expression may have.
const MAX_TOKENS: usize = 2_000;
/// Most parentheses, brackets, braces and unary operators that may
/// enclose one another: keeps parsing and evaluation (both recursive) far
/// from the stack's end whatever the text.
const MAX_DEPTH: usize = 64;

/// An expression being parsed, with where it starts, its text and its
/// static type, for errors about it.
struct Node {
    expr: Expr,
    at: usize,
    text: String,
    ty: Ty,
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    len: usize,
    depth: usize,
    calls: usize,
    place: Place,
}

const A_VALUE: &str = "a value (a `$Input…` path, a string, a number, true, false, null, a function call, `[`, `{`, `!` or `(`)";

pub(super) fn parse(text: &str, place: Place) -> Result<(Expr, Ty), ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let tokens = lex::lex(&chars);
    if let Some(t) = tokens.get(MAX_TOKENS) {
        return Err(ExprError {
            offset: t.at,
            message: format!(
                "the expression is too long: at most {MAX_TOKENS} paths, values and operators"
            ),
        });
    }
    if tokens.is_empty() {
        return Err(ExprError {
            offset: 0,
            message: "the expression is empty; write one such as `$Input.name`".to_owned(),
        });
    }
    let mut p = Parser {
        tokens,
        next: 0,
        len: chars.len(),
        depth: 0,
        calls: 0,
        place,
    };
    let node = p.or()?;
    if let Some(t) = p.peek()? {
        let message = match &t.tok {
            Tok::RParen => "unmatched `)`".to_owned(),
            Tok::RBracket => "unmatched `]`".to_owned(),
            Tok::RBrace => "unmatched `}`".to_owned(),
            Tok::Ident(w) if matches!(w.to_ascii_lowercase().as_str(), "and" | "or" | "not") => {
                unknown_word(w)
            }
            _ => format!(
                "expected an operator (`==`, `&&`, `||`…) or the end after a complete expression, found {}",
                t.describe()
            ),
        };
        return Err(ExprError {
            offset: t.at,
            message,
        });
    }
    Ok((node.expr, node.ty))
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        offset,
        message: message.into(),
    })
}

impl Parser {
    /// The next token, or the lexing error it stands for.
    fn peek(&self) -> Result<Option<&Token>, ExprError> {
        match self.tokens.get(self.next) {
            Some(Token {
                tok: Tok::Bad(e), ..
            }) => Err(e.clone()),
            t => Ok(t),
        }
    }

    fn peek_is(&self, f: impl Fn(&Tok) -> bool) -> bool {
        self.tokens.get(self.next).is_some_and(|t| f(&t.tok))
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

    fn enter(&mut self, at: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(
                at,
                format!("the expression nests more than {MAX_DEPTH} levels deep"),
            );
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let from = self.next;
        let mut left = self.and()?;
        while self.peek_is(|t| matches!(t, Tok::Or)) {
            need_bool(&left, "`||`")?;
            self.bump();
            let right = self.and()?;
            need_bool(&right, "`||`")?;
            left = Node {
                expr: Expr::Or(Box::new(left.expr), Box::new(right.expr)),
                at: left.at,
                text: self.text_since(from),
                ty: Ty::BOOL,
            };
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let from = self.next;
        let mut left = self.cmp()?;
        while self.peek_is(|t| matches!(t, Tok::And)) {
            need_bool(&left, "`&&`")?;
            self.bump();
            let right = self.cmp()?;
            need_bool(&right, "`&&`")?;
            left = Node {
                expr: Expr::And(Box::new(left.expr), Box::new(right.expr)),
                at: left.at,
                text: self.text_since(from),
                ty: Ty::BOOL,
            };
        }
        Ok(left)
    }

    fn cmp(&mut self) -> Result<Node, ExprError> {
        let from = self.next;
        let left = self.unary()?;
        let op = match self.peek()? {
            Some(Token {
                tok: Tok::Cmp(op), ..
            }) => Some(*op),
            Some(Token { tok: Tok::In, .. }) => None,
            _ => return Ok(left),
        };
        let op_at = self.tokens.get(self.next).map_or(0, |t| t.at);
        self.bump();
        let right = self.unary()?;
        if let Some(t) = self.peek()?
            && matches!(t.tok, Tok::Cmp(_) | Tok::In)
        {
            return err(
                t.at,
                format!(
                    "comparisons do not chain; join them with `&&`, as in `$Input.a {} $Input.b && $Input.b {} $Input.c`",
                    op.map_or("in", CmpOp::as_str),
                    t.text
                ),
            );
        }
        let expr = match op {
            Some(op) => {
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    orderable(&left, &right, op, op_at)?;
                }
                Expr::Cmp(op, Box::new(left.expr), Box::new(right.expr))
            }
            None => {
                if !right.ty.has(Ty::ARR.or(Ty::OBJ)) {
                    return err(
                        right.at,
                        format!(
                            "`in` looks in an array or an object, and `{}` is {}",
                            right.text,
                            right.ty.describe()
                        ),
                    );
                }
                Expr::In(Box::new(left.expr), Box::new(right.expr))
            }
        };
        Ok(Node {
            expr,
            at: left.at,
            text: self.text_since(from),
            ty: Ty::BOOL,
        })
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        let Some(t) = self.peek()? else {
            return err(self.len, format!("expected {A_VALUE}, found the end"));
        };
        let at = t.at;
        let from = self.next;
        match t.tok {
            Tok::Not => {
                self.enter(at)?;
                self.bump();
                let inner = self.unary()?;
                need_bool(&inner, "`!`")?;
                self.depth -= 1;
                Ok(Node {
                    expr: Expr::Not(Box::new(inner.expr)),
                    at,
                    text: self.text_since(from),
                    ty: Ty::BOOL,
                })
            }
            Tok::Minus => {
                self.enter(at)?;
                self.bump();
                let inner = self.unary()?;
                self.depth -= 1;
                if !inner.ty.has(Ty::NUM) {
                    return err(
                        inner.at,
                        format!(
                            "`-` negates a number, and `{}` is {}",
                            inner.text,
                            inner.ty.describe()
                        ),
                    );
                }
                let expr = match inner.expr {
                    Expr::Lit(Value::Number(n)) => match negate(&n) {
                        Some(v) => Expr::Lit(v),
                        None => return err(at, "the number is too large to negate"),
                    },
                    other => Expr::Neg(Box::new(other)),
                };
                Ok(Node {
                    expr,
                    at,
                    text: self.text_since(from),
                    ty: Ty::NUM,
                })
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Node, ExprError> {
        let from = self.next;
        let node = self.primary()?;
        let can_access = matches!(node.expr, Expr::Call(..))
            || self
                .tokens
                .get(from)
                .is_some_and(|t| matches!(t.tok, Tok::LParen));
        if !can_access {
            if let Some(t) = self.tokens.get(self.next)
                && let Tok::Field(_) = t.tok
            {
                return err(
                    t.at,
                    format!(
                        "unexpected {}: `.key` follows a path, a function call or a parenthesised expression",
                        t.describe()
                    ),
                );
            }
            return Ok(node);
        }
        let mut segs = Vec::new();
        loop {
            match self.tokens.get(self.next).map(|t| &t.tok) {
                Some(Tok::Field(k)) => {
                    segs.push(Seg::Key(k.clone()));
                    self.bump();
                }
                Some(Tok::LBracket) => {
                    let open = self.next;
                    self.bump();
                    let seg = match self.peek()?.map(|t| (&t.tok, t.at)) {
                        Some((Tok::Lit(Value::Number(n)), _)) if n.as_u64().is_some() => {
                            Seg::Index(
                                usize::try_from(n.as_u64().unwrap_or(0)).unwrap_or(usize::MAX),
                            )
                        }
                        Some((Tok::Lit(Value::String(s)), _)) => Seg::Key(s.clone()),
                        Some((_, at)) => {
                            return err(
                                at,
                                "expected an index such as `[0]` or a key such as `[\"a b\"]`",
                            );
                        }
                        None => return err(self.len, "expected an index or a key, found the end"),
                    };
                    self.bump();
                    if !self.peek_is(|t| matches!(t, Tok::RBracket)) {
                        let at = self.tokens.get(self.next).map_or(self.len, |t| t.at);
                        let open_at = self.tokens.get(open).map_or(0, |t| t.at);
                        return err(
                            at,
                            format!("missing `]` to close the `[` at character {}", open_at + 1),
                        );
                    }
                    self.bump();
                    segs.push(seg);
                }
                _ => break,
            }
        }
        if segs.is_empty() {
            return Ok(node);
        }
        Ok(Node {
            expr: Expr::Access(Box::new(node.expr), segs),
            at: node.at,
            text: self.text_since(from),
            ty: Ty::ANY,
        })
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let Some(t) = self.peek()? else {
            return err(self.len, format!("expected {A_VALUE}, found the end"));
        };
        let at = t.at;
        let from = self.next;
        let tok = t.tok.clone();
        let describe = t.describe();
        match tok {
            Tok::Path(root, segs) => {
                self.check_path(root, &segs, at)?;
                self.bump();
                Ok(Node {
                    expr: Expr::Path(root, segs),
                    at,
                    text: self.text_since(from),
                    ty: Ty::ANY,
                })
            }
            Tok::Lit(v) => {
                self.bump();
                let ty = Ty::of(&v);
                Ok(Node {
                    expr: Expr::Lit(v),
                    at,
                    text: self.text_since(from),
                    ty,
                })
            }
            Tok::Ident(name) => self.call(&name, at, from),
            Tok::LParen => {
                self.enter(at)?;
                self.bump();
                let inner = self.or()?;
                self.close(Tok::RParen, ")", "(", at)?;
                self.depth -= 1;
                Ok(Node {
                    expr: inner.expr,
                    at,
                    text: self.text_since(from),
                    ty: inner.ty,
                })
            }
            Tok::LBracket => {
                self.enter(at)?;
                self.bump();
                let items = self.list(Tok::RBracket, "]", "[", at)?;
                self.depth -= 1;
                let expr = constant_array(items);
                Ok(Node {
                    expr,
                    at,
                    text: self.text_since(from),
                    ty: Ty::ARR,
                })
            }
            Tok::LBrace => {
                self.enter(at)?;
                self.bump();
                let entries = self.object(at)?;
                self.depth -= 1;
                Ok(Node {
                    expr: constant_object(entries),
                    at,
                    text: self.text_since(from),
                    ty: Ty::OBJ,
                })
            }
            Tok::Field(_) => err(
                at,
                format!(
                    "unexpected {describe}: a path starts with `$Input`, `$Output` or `$Context`"
                ),
            ),
            _ => err(at, format!("expected {A_VALUE}, found {describe}")),
        }
    }

    /// Expects the closing token of a bracket opened at `open_at`.
    fn close(
        &mut self,
        tok: Tok,
        close: &str,
        open: &str,
        open_at: usize,
    ) -> Result<(), ExprError> {
        match self.peek()? {
            Some(t) if t.tok == tok => {
                self.bump();
                Ok(())
            }
            other => {
                let (offset, found) = match other {
                    Some(t) => (t.at, t.describe()),
                    None => (self.len, "the end".to_owned()),
                };
                err(
                    offset,
                    format!(
                        "missing `{close}` to close the `{open}` at character {}, found {found}",
                        open_at + 1
                    ),
                )
            }
        }
    }

    /// Comma-separated expressions up to `end` (the opener already taken).
    fn list(
        &mut self,
        end: Tok,
        close: &str,
        open: &str,
        open_at: usize,
    ) -> Result<Vec<Node>, ExprError> {
        let mut items = Vec::new();
        if self.peek_is(|t| *t == end) {
            self.bump();
            return Ok(items);
        }
        loop {
            items.push(self.or()?);
            match self.peek()? {
                Some(t) if t.tok == Tok::Comma => self.bump(),
                Some(t) if t.tok == end => {
                    self.bump();
                    return Ok(items);
                }
                other => {
                    let (offset, found) = match other {
                        Some(t) => (t.at, t.describe()),
                        None => (self.len, "the end".to_owned()),
                    };
                    return err(
                        offset,
                        format!(
                            "expected `,` or `{close}` to close the `{open}` at character {}, found {found}",
                            open_at + 1
                        ),
                    );
                }
            }
        }
    }

    fn object(&mut self, open_at: usize) -> Result<Vec<(String, Node)>, ExprError> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        if self.peek_is(|t| matches!(t, Tok::RBrace)) {
            self.bump();
            return Ok(entries);
        }
        loop {
            let Some(t) = self.peek()? else {
                return err(self.len, "expected a quoted key, found the end");
            };
            let key_at = t.at;
            let key = match &t.tok {
                Tok::Lit(Value::String(s)) => s.clone(),
                _ => {
                    return err(
                        key_at,
                        format!(
                            "an object's keys are quoted strings, as in {{\"name\": \"Tom\"}}; found {}",
                            t.describe()
                        ),
                    );
                }
            };
            if entries.iter().any(|(k, _)| *k == key) {
                return err(key_at, format!("duplicate key \"{key}\" in the object"));
            }
            self.bump();
            match self.peek()? {
                Some(t) if t.tok == Tok::Colon => self.bump(),
                other => {
                    let (offset, found) = match other {
                        Some(t) => (t.at, t.describe()),
                        None => (self.len, "the end".to_owned()),
                    };
                    return err(offset, format!("expected `:` after the key, found {found}"));
                }
            }
            let value = self.or()?;
            entries.push((key, value));
            match self.peek()? {
                Some(t) if t.tok == Tok::Comma => self.bump(),
                Some(t) if t.tok == Tok::RBrace => {
                    self.bump();
                    return Ok(entries);
                }
                other => {
                    let (offset, found) = match other {
                        Some(t) => (t.at, t.describe()),
                        None => (self.len, "the end".to_owned()),
                    };
                    return err(
                        offset,
                        format!(
                            "expected `,` or `}}` to close the `{{` at character {}, found {found}",
                            open_at + 1
                        ),
                    );
                }
            }
        }
    }

    fn call(&mut self, name: &str, at: usize, from: usize) -> Result<Node, ExprError> {
        let open_at = match self.tokens.get(self.next + 1) {
            Some(Token {
                tok: Tok::LParen,
                at,
                ..
            }) => *at,
            _ => return err(at, unknown_word(name)),
        };
        let Some(spec) = functions::lookup(name) else {
            return err(at, functions::unknown(name));
        };
        if spec.random && !self.place.random {
            return err(
                at,
                format!(
                    "`{}` draws a random value and cannot be used in a condition",
                    spec.name
                ),
            );
        }
        self.calls += 1;
        if self.calls > MAX_FUNCTION_NESTING {
            return err(
                at,
                format!("built-in functions nest at most {MAX_FUNCTION_NESTING} levels deep"),
            );
        }
        self.enter(at)?;
        self.bump();
        self.bump();
        let args = self.list(Tok::RParen, ")", "(", open_at)?;
        self.depth -= 1;
        self.calls -= 1;
        let info: Vec<Arg<'_>> = args
            .iter()
            .map(|n| Arg {
                ty: n.ty,
                constant: match &n.expr {
                    Expr::Lit(v) => Some(v),
                    _ => None,
                },
                at: n.at,
                text: &n.text,
            })
            .collect();
        let close_at = self.tokens.get(self.next - 1).map_or(self.len, |t| t.at);
        functions::check_call(spec, &info, close_at)?;
        Ok(Node {
            expr: Expr::Call(spec, args.into_iter().map(|n| n.expr).collect()),
            at,
            text: self.text_since(from),
            ty: spec.ret,
        })
    }

    /// The static checks of a path: `$Output` only where allowed, and
    /// `$Context` fields that exist.
    fn check_path(&self, root: Root, segs: &[Seg], at: usize) -> Result<(), ExprError> {
        let reads_output = match root {
            Root::Output => true,
            Root::Input => false,
            Root::Context => check_context(segs, at)?,
        };
        if reads_output && !self.place.output {
            let what = if root == Root::Output {
                "`$Output`"
            } else {
                "`$Context.Current.Output`"
            };
            let message = if self.place.in_output {
                format!(
                    "{what} is the result of a Task, Parallel or Map state, and this state has none (it would always be null); build the output from `$Input`"
                )
            } else {
                format!(
                    "{what} is the task's result and can only be used in an OutputConstructor; here use `$Input`"
                )
            };
            return err(at, message);
        }
        Ok(())
    }
}

/// Checks the fields of a `$Context` path against the context object
/// (data-transfer page): `Execution.{Name, Input, RoleArn}`,
/// `Current.{Name, Input, Output, Error.{Code, Detail}, RetryCount,
/// TaskToken}`. Returns whether it reads the current output.
fn check_context(segs: &[Seg], at: usize) -> Result<bool, ExprError> {
    const TOP: &[&str] = &["Execution", "Current"];
    const EXECUTION: &[&str] = &["Name", "Input", "RoleArn"];
    const CURRENT: &[&str] = &[
        "Name",
        "Input",
        "Output",
        "Error",
        "RetryCount",
        "TaskToken",
    ];
    const ERROR: &[&str] = &["Code", "Detail"];
    let field =
        |seg: Option<&Seg>, known: &[&str], of: &str| -> Result<Option<String>, ExprError> {
            match seg {
                None => Ok(None),
                Some(Seg::Key(k)) if known.contains(&k.as_str()) => Ok(Some(k.clone())),
                Some(s) => {
                    let shown = s.to_string();
                    let word = shown.trim_start_matches('.');
                    let hint = super::super::build::suggest(word, known)
                        .map(|s| format!("; did you mean `.{s}`?"))
                        .unwrap_or_else(|| format!(" (it has: {})", known.join(", ")));
                    err(at, format!("`{of}` has no field `{shown}`{hint}"))
                }
            }
        };
    let Some(top) = field(segs.first(), TOP, "$Context")? else {
        return Ok(false);
    };
    let leaf = |name: &str, rest: &[Seg], path: String| -> Result<(), ExprError> {
        match rest.first() {
            Some(s)
                if matches!(
                    name,
                    "Name" | "RoleArn" | "RetryCount" | "TaskToken" | "Code" | "Detail"
                ) =>
            {
                err(at, format!("`{path}` is a single value; it has no `{s}`"))
            }
            _ => Ok(()),
        }
    };
    if top == "Execution" {
        if let Some(f) = field(segs.get(1), EXECUTION, "$Context.Execution")? {
            leaf(&f, &segs[2..], format!("$Context.Execution.{f}"))?;
        }
        return Ok(false);
    }
    let Some(f) = field(segs.get(1), CURRENT, "$Context.Current")? else {
        return Ok(true);
    };
    if f == "Error" {
        if let Some(e) = field(segs.get(2), ERROR, "$Context.Current.Error")? {
            leaf(&e, &segs[3..], format!("$Context.Current.Error.{e}"))?;
        }
        return Ok(false);
    }
    leaf(&f, &segs[2..], format!("$Context.Current.{f}"))?;
    Ok(f == "Output")
}

fn unknown_word(w: &str) -> String {
    let lower = w.to_ascii_lowercase();
    match lower.as_str() {
        "true" | "false" | "null" => format!("unknown word `{w}`; write `{lower}` in lower case"),
        "and" => format!("unknown word `{w}`; write `&&`"),
        "or" => format!("unknown word `{w}`; write `||`"),
        "not" => format!("unknown word `{w}`; write `!`"),
        _ if functions::lookup(w).is_some() => {
            format!("`{w}` is a built-in function: call it, as in `{w}(…)`")
        }
        _ => format!(
            "unknown word `{w}`; a value is a path such as `$Input.{w}`, a quoted string such as \"{w}\", a number, true, false or null"
        ),
    }
}

/// An array of constants is a constant (so `arrayContains(["a"], …)` is
/// checked when loading).
fn constant_array(items: Vec<Node>) -> Expr {
    if items.iter().all(|n| matches!(n.expr, Expr::Lit(_))) {
        Expr::Lit(Value::Array(
            items
                .into_iter()
                .filter_map(|n| match n.expr {
                    Expr::Lit(v) => Some(v),
                    _ => None,
                })
                .collect(),
        ))
    } else {
        Expr::Array(items.into_iter().map(|n| n.expr).collect())
    }
}

fn constant_object(entries: Vec<(String, Node)>) -> Expr {
    if entries.iter().all(|(_, n)| matches!(n.expr, Expr::Lit(_))) {
        Expr::Lit(Value::Object(
            entries
                .into_iter()
                .filter_map(|(k, n)| match n.expr {
                    Expr::Lit(v) => Some((k, v)),
                    _ => None,
                })
                .collect(),
        ))
    } else {
        Expr::Object(entries.into_iter().map(|(k, n)| (k, n.expr)).collect())
    }
}

/// An operand that can never be true or false where one is needed is a
/// mistake worth catching before the flow runs (`$Input.a && 1`).
fn need_bool(node: &Node, op: &str) -> Result<(), ExprError> {
    if node.ty.has(Ty::BOOL) {
        return Ok(());
    }
    err(
        node.at,
        format!(
            "{op} needs true or false, and `{}` is {}; compare it, as in `{} == \"ready\"`",
            node.text,
            node.ty.describe(),
            node.text
        ),
    )
}

/// `<` and friends order numbers with numbers and strings with strings:
/// an operand that can be neither, or two that can never be the same
/// type, are refused when loading.
fn orderable(a: &Node, b: &Node, op: CmpOp, op_at: usize) -> Result<(), ExprError> {
    let ord = Ty::NUM.or(Ty::STR);
    for n in [a, b] {
        if !n.ty.has(ord) {
            return err(
                n.at,
                format!(
                    "`{}` orders numbers and strings, and `{}` is {}",
                    op.as_str(),
                    n.text,
                    n.ty.describe()
                ),
            );
        }
    }
    if Ty(a.ty.0 & b.ty.0 & ord.0) == Ty(0) {
        return err(
            op_at,
            format!(
                "`{}` compares numbers with numbers and strings with strings, and this compares {} with {}",
                op.as_str(),
                a.ty.describe(),
                b.ty.describe()
            ),
        );
    }
    Ok(())
}
