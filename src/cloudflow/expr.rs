//! The CloudFlow expression language: `$Input.order.total >= 100`,
//! `format("hello {}", $Input.name)`, `$Context.Current.TaskToken`.
//!
//! Owns the grammar, its parse errors (each with the character offset of
//! the problem, which the builder turns into a line and column through
//! `Node::pos_at`), the static checks a place in a flow imposes (`$Output`
//! only in output constructors, no randomness in a condition), and
//! evaluation on a [`Scope`]. The built-in functions live in
//! [`super::functions`]. Pure: no clock, no global randomness (`uuid()`
//! and `randomInt` draw from the caller's RNG).
//!
//! ```text
//! expr    := or
//! or      := and ("||" and)*
//! and     := cmp ("&&" cmp)*
//! cmp     := unary (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") unary)?   (no chaining)
//! unary   := "!" unary | "-" unary | postfix
//! postfix := primary (".key" | "[" index "]" | "[" string "]")*   (after a call or "(…)")
//! primary := path | string | number | "true" | "false" | "null"
//!          | name "(" (expr ("," expr)*)? ")" | "(" expr ")"
//!          | "[" (expr ("," expr)*)? "]" | "{" (string ":" expr ("," …)*)? "}"
//! path    := ("$Input" | "$Output" | "$Context") (".key" | "[0]" | "[\"key\"]")*
//! string  := "…" (JSON escapes) | '…' (the same, plus \') | `…` (raw)
//! number  := digits ("." digits)? ([eE] [+-]? digits)?
//! ```
//!
//! Rules the vendor's pages leave open, decided here:
//! - Precedence, tightest first: `!` and unary `-`; comparisons and `in`
//!   (which do not chain); `&&`; `||`. `!$Input.a == false` reads
//!   `(!$Input.a) == false`.
//! - No arithmetic (the docs list none); `intAdd` adds integers.
//! - `==` and `!=` compare any JSON values structurally, numbers by value
//!   (`1 == 1.0`); values of different types are simply unequal.
//! - `<`, `<=`, `>`, `>=` order numbers with numbers and strings with
//!   strings (by Unicode code point); any other pair is an evaluation
//!   error naming both types. No coercion anywhere: `"10" > 9` is an error.
//! - `x in array` is true when an element equals `x`; `"k" in object` when
//!   the object has key `k`; anything else on the right is an error.
//! - `&&`, `||` and `!` need booleans and short-circuit.
//! - A path the data does not have: in a constructor (and in `ItemsPath`,
//!   `Seconds.$`, `Timeout.$`) it is `null`; in a Choice `Condition` the
//!   comparison reading it is false (and `!` of it true), so the choice
//!   moves on, as flowsim's FDL choice does.

mod eval;
mod lex;
mod parse;
#[cfg(test)]
mod tests;
mod witness;

use std::fmt;

use serde_json::Value;

pub use eval::{CurrentError, EvalError, EvalReason, Scope};
pub(crate) use eval::{describe, json_eq};
pub(crate) use lex::CmpOp;

use super::functions::Spec;
use parse::parse;

/// Most built-in function calls that may nest inside one another (BIF).
pub const MAX_FUNCTION_NESTING: usize = 10;

/// What a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// `$Input`: the state's input (`$Context.Current.Input`).
    Input,
    /// `$Output`: the task's result (`$Context.Current.Output`), only in
    /// output constructors.
    Output,
    /// `$Context`: the execution and the current state.
    Context,
}

impl Root {
    pub fn as_str(self) -> &'static str {
        match self {
            Root::Input => "$Input",
            Root::Output => "$Output",
            Root::Context => "$Context",
        }
    }
}

/// One step of a path: `.key` / `["key"]` or `[n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Key(k) if !k.is_empty() && k.chars().all(lex::is_key_char) => write!(f, ".{k}"),
            Seg::Key(k) => write!(f, "[{}]", Value::String(k.clone())),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// The parsed form of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Lit(Value),
    Path(Root, Vec<Seg>),
    Array(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Call(&'static Spec, Vec<Expr>),
    /// `.key` / `[n]` after a call or a parenthesised expression.
    Access(Box<Expr>, Vec<Seg>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Box<Expr>),
}

impl fmt::Display for Expr {
    /// Fully parenthesised, to show (and test) how an expression was read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &[Expr]| -> fmt::Result {
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{e}")?;
            }
            Ok(())
        };
        match self {
            Expr::Lit(v) => write!(f, "{v}"),
            Expr::Path(root, segs) => {
                write!(f, "{}", root.as_str())?;
                segs.iter().try_for_each(|s| write!(f, "{s}"))
            }
            Expr::Array(items) => {
                write!(f, "[")?;
                list(f, items)?;
                write!(f, "]")
            }
            Expr::Object(entries) => {
                write!(f, "{{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{}: {v}", Value::String(k.clone()))?;
                }
                write!(f, "}}")
            }
            Expr::Call(spec, args) => {
                write!(f, "{}(", spec.name)?;
                list(f, args)?;
                write!(f, ")")
            }
            Expr::Access(e, segs) => {
                write!(f, "({e})")?;
                segs.iter().try_for_each(|s| write!(f, "{s}"))
            }
            Expr::Not(e) => write!(f, "!{e}"),
            Expr::Neg(e) => write!(f, "-{e}"),
            Expr::And(a, b) => write!(f, "({a} && {b})"),
            Expr::Or(a, b) => write!(f, "({a} || {b})"),
            Expr::Cmp(op, a, b) => write!(f, "({a} {} {b})", op.as_str()),
            Expr::In(a, b) => write!(f, "({a} in {b})"),
        }
    }
}

/// Why an expression could not be parsed, or is not allowed where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {})", offset + 1)]
pub struct ExprError {
    /// The 0-based character offset of the problem in the expression text
    /// (its length for "ended too early").
    pub offset: usize,
    pub message: String,
}

/// What a place in a flow allows in its expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    /// `$Output` and `$Context.Current.Output` (output constructors only).
    pub output: bool,
    /// `uuid()` and `randomInt` (not in a condition, which has no RNG).
    pub random: bool,
    /// An OutputConstructor (of a state with a result or without).
    pub in_output: bool,
}

impl Place {
    /// Everywhere but output constructors and conditions.
    pub const INPUT: Place = Place {
        output: false,
        random: true,
        in_output: false,
    };
    /// An OutputConstructor (a Task's, Parallel's or Map's, or a Catch's).
    pub const OUTPUT: Place = Place {
        output: true,
        random: true,
        in_output: true,
    };
    /// The OutputConstructor of a state with no result (Pass, Wait,
    /// Succeed, Fail): `$Output` would always be null.
    pub const OUTPUT_WITHOUT_RESULT: Place = Place {
        output: false,
        random: true,
        in_output: true,
    };
    /// A Choice branch's `Condition`.
    pub const CONDITION: Place = Place {
        output: false,
        random: false,
        in_output: false,
    };
}

/// A parsed expression, ready to evaluate many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    /// The expression as written.
    pub source: String,
    pub(crate) expr: Expr,
}

impl Expression {
    /// Parses an expression for a place that allows everything (`$Output`
    /// and random functions included). Flows are checked more strictly
    /// by [`crate::cloudflow::load`], which knows where each one sits.
    pub fn parse(text: &str) -> Result<Expression, ExprError> {
        Expression::parse_in(text, Place::OUTPUT)
    }

    pub(crate) fn parse_in(text: &str, place: Place) -> Result<Expression, ExprError> {
        let (expr, _) = parse(text, place)?;
        Ok(Expression {
            source: text.to_owned(),
            expr,
        })
    }

    /// The expression fully parenthesised, showing how it was read
    /// (`!$Input.a && $Input.b > 1` reads `(!$Input.a && ($Input.b > 1))`).
    pub fn explain(&self) -> String {
        self.expr.to_string()
    }

    /// The value of the expression on `scope`. A path the data does not
    /// have is `null`. `rng` feeds `uuid()` and `randomInt` (pass the
    /// simulation's seeded RNG: same seed, same values).
    pub fn eval(
        &self,
        scope: &Scope<'_>,
        rng: &mut impl rand::RngCore,
    ) -> Result<Value, EvalError> {
        eval::value(self, scope, Some(rng))
    }

    /// The value as a constant, when the expression is one (`"a"`, `[1]`).
    pub fn as_constant(&self) -> Option<&Value> {
        match &self.expr {
            Expr::Lit(v) => Some(v),
            _ => None,
        }
    }
}

/// A Choice branch's condition: an expression that must give true or
/// false.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    expression: Expression,
}

impl Condition {
    /// Parses a condition: `$Output` and the random functions are refused,
    /// and a constant that is not a boolean is an error.
    pub fn parse(text: &str) -> Result<Condition, ExprError> {
        let (expr, ty) = parse(text, Place::CONDITION)?;
        if !ty.has(Ty::BOOL) {
            return Err(ExprError {
                offset: 0,
                message: format!(
                    "a condition must give true or false, and this gives {}; compare it, as in `$Input.x == \"ready\"`",
                    ty.describe()
                ),
            });
        }
        Ok(Condition {
            expression: Expression {
                source: text.to_owned(),
                expr,
            },
        })
    }

    /// The condition as written.
    pub fn source(&self) -> &str {
        &self.expression.source
    }

    /// The condition fully parenthesised (see [`Expression::explain`]).
    pub fn explain(&self) -> String {
        self.expression.explain()
    }

    /// Evaluates the condition. A comparison (or a bare path) that reads a
    /// path the data does not have does not match: it is false, and `!`
    /// of it is true, so the choice moves on to its next branch and then
    /// to its `Default`.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, EvalError> {
        eval::truth(&self.expression, scope)
    }

    /// A state input for which the condition is true (`want`) or false,
    /// when one can be derived from comparisons of `$Input` paths with
    /// literals (for `flowsim test --init`); checked by evaluating.
    pub fn witness(&self, want: bool) -> Option<Value> {
        let mut v = Value::Object(serde_json::Map::new());
        witness::witness(&self.expression.expr, want, &mut v)?;
        (self.eval(&Scope::new(&v)).ok() == Some(want)).then_some(v)
    }
}

// ---- static types ------------------------------------------------------------

/// What an expression can give, as far as parsing can tell: a set of
/// JSON types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ty(pub u8);

impl Ty {
    pub const NULL: Ty = Ty(1);
    pub const BOOL: Ty = Ty(2);
    pub const NUM: Ty = Ty(4);
    pub const STR: Ty = Ty(8);
    pub const ARR: Ty = Ty(16);
    pub const OBJ: Ty = Ty(32);
    pub const ANY: Ty = Ty(63);

    pub const fn or(self, other: Ty) -> Ty {
        Ty(self.0 | other.0)
    }

    pub fn has(self, other: Ty) -> bool {
        self.0 & other.0 != 0
    }

    pub fn of(v: &Value) -> Ty {
        match v {
            Value::Null => Ty::NULL,
            Value::Bool(_) => Ty::BOOL,
            Value::Number(_) => Ty::NUM,
            Value::String(_) => Ty::STR,
            Value::Array(_) => Ty::ARR,
            Value::Object(_) => Ty::OBJ,
        }
    }

    /// "a string", "a number or a string", "any value".
    pub fn describe(self) -> String {
        if self == Ty::ANY {
            return "any value".to_owned();
        }
        let names = [
            (Ty::NULL, "null"),
            (Ty::BOOL, "a boolean"),
            (Ty::NUM, "a number"),
            (Ty::STR, "a string"),
            (Ty::ARR, "an array"),
            (Ty::OBJ, "an object"),
        ];
        let parts: Vec<&str> = names
            .iter()
            .filter(|(t, _)| self.has(*t))
            .map(|(_, n)| *n)
            .collect();
        match parts.as_slice() {
            [] => "nothing".to_owned(),
            [one] => (*one).to_owned(),
            [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        }
    }
}

/// `-n` for a number literal; `None` past the range.
pub(crate) fn negate(n: &serde_json::Number) -> Option<Value> {
    if let Some(i) = n.as_i64() {
        return i.checked_neg().map(Value::from);
    }
    if n.as_u64() == Some(1 << 63) {
        return Some(Value::from(i64::MIN));
    }
    n.as_f64()
        .and_then(|f| serde_json::Number::from_f64(-f))
        .map(Value::Number)
}
