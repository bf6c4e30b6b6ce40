//! Evaluation: an [`Expression`] on a [`Scope`] gives a JSON value (or a
//! condition's true or false).
//!
//! Values are borrowed from the scope wherever possible (a comparison of
//! `$Input.status` copies nothing); only results that are built (a
//! function's, an array literal with paths in it) are owned.

use std::borrow::Cow;

use rand::RngCore;
use serde_json::{Map, Value};

use super::super::functions::Rand;
use super::{CmpOp, Expr, Expression, Root, Seg};
pub(crate) use crate::syntax::values::{describe, json_eq};

/// What an expression can read: the state's input and output, the
/// execution, and the current state's context (the `$Context` object of
/// the data-transfer page). The engine fills one per evaluation; nothing
/// is copied into it.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `$Input` = `$Context.Current.Input`. While an InputConstructor is
    /// being built this is the state's raw input (what the constructor
    /// replaces); afterwards it is the constructed input.
    pub input: &'a Value,
    /// `$Output` = `$Context.Current.Output`: the task's result (a
    /// callback's reported output), or a Parallel's `{Branch0, …}` / a
    /// Map's `{Items: […]}`. `None` where there is none (a path reading it
    /// is missing).
    pub output: Option<&'a Value>,
    /// `$Context.Execution.Name`.
    pub execution_name: &'a str,
    /// `$Context.Execution.Input`.
    pub execution_input: &'a Value,
    /// `$Context.Execution.RoleArn`, if the execution has one.
    pub role_arn: Option<&'a str>,
    /// `$Context.Current.Name`: the state's name.
    pub state_name: &'a str,
    /// `$Context.Current.Error`: the error being handled (in a Catch's
    /// OutputConstructor).
    pub error: Option<CurrentError<'a>>,
    /// `$Context.Current.RetryCount`: retries made so far.
    pub retry_count: u32,
    /// `$Context.Current.TaskToken`: the task's callback token.
    pub task_token: Option<&'a str>,
}

/// `$Context.Current.Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentError<'a> {
    pub code: &'a str,
    pub detail: &'a str,
}

static NULL: Value = Value::Null;

impl<'a> Scope<'a> {
    /// A scope with `input` as both the state's and the execution's
    /// input, and nothing else: no output, names empty, no error, no
    /// token. Set the other fields with struct update syntax.
    pub fn new(input: &'a Value) -> Scope<'a> {
        Scope {
            input,
            output: None,
            execution_name: "",
            execution_input: input,
            role_arn: None,
            state_name: "",
            error: None,
            retry_count: 0,
            task_token: None,
        }
    }

    /// The empty scope: `$Input` is null.
    pub fn empty() -> Scope<'static> {
        Scope::new(&NULL)
    }

    fn execution(&self) -> Value {
        let mut m = Map::new();
        m.insert("Name".into(), Value::from(self.execution_name));
        m.insert("Input".into(), self.execution_input.clone());
        if let Some(r) = self.role_arn {
            m.insert("RoleArn".into(), Value::from(r));
        }
        Value::Object(m)
    }

    fn current(&self) -> Value {
        let mut m = Map::new();
        m.insert("Name".into(), Value::from(self.state_name));
        m.insert("Input".into(), self.input.clone());
        if let Some(o) = self.output {
            m.insert("Output".into(), o.clone());
        }
        if let Some(e) = self.error {
            m.insert("Error".into(), error_value(e));
        }
        m.insert("RetryCount".into(), Value::from(self.retry_count));
        if let Some(t) = self.task_token {
            m.insert("TaskToken".into(), Value::from(t));
        }
        Value::Object(m)
    }
}

fn error_value(e: CurrentError<'_>) -> Value {
    let mut m = Map::new();
    m.insert("Code".into(), Value::from(e.code));
    m.insert("Detail".into(), Value::from(e.detail));
    Value::Object(m)
}

/// Why an expression could not be evaluated, naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{expression}`: {reason}")]
pub struct EvalError {
    /// The expression as written.
    pub expression: String,
    pub reason: EvalReason,
}

/// What went wrong while evaluating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalReason {
    /// `&&`, `||`, `!` or a whole condition met something other than a
    /// boolean.
    #[error("`{what}` is {found}, but true or false is needed here")]
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
    /// An operator met an operand it does not take (`-"a"`, `1 in 2`).
    #[error("`{op}` {needs}, and `{what}` is {found}")]
    Operand {
        op: &'static str,
        needs: &'static str,
        what: String,
        found: String,
    },
    /// A built-in function refused its arguments.
    #[error("{name}: {message}")]
    Function { name: &'static str, message: String },
    /// A state field computed by an expression (`Seconds.$`, `Timeout.$`,
    /// `ItemsPath`) got a value it cannot use.
    #[error("`{field}` {message}")]
    Field {
        field: &'static str,
        message: String,
    },
}

impl EvalError {
    pub(crate) fn new(expression: &str, reason: EvalReason) -> EvalError {
        EvalError {
            expression: expression.to_owned(),
            reason,
        }
    }
}

/// What a path the data does not have gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// `null` (constructors and state fields).
    Null,
    /// "no value": the comparison reading it is false (conditions).
    NoMatch,
}

/// An operand's value; `None` for a missing path in a condition.
type Val<'a> = Option<Cow<'a, Value>>;

struct Env<'a, 's, 'r> {
    scope: &'s Scope<'a>,
    rand: Rand<'r>,
    missing: Missing,
}

/// The value of `e` on `scope` (missing paths give null).
pub(super) fn value<'a>(
    e: &'a Expression,
    scope: &Scope<'a>,
    rng: Option<&mut dyn RngCore>,
) -> Result<Value, EvalError> {
    let mut env = Env {
        scope,
        rand: Rand(rng),
        missing: Missing::Null,
    };
    match env.val(&e.expr) {
        Ok(v) => Ok(v.map_or(Value::Null, Cow::into_owned)),
        Err(reason) => Err(EvalError::new(&e.source, reason)),
    }
}

/// The truth of condition `e` on `scope` (missing paths do not match).
pub(super) fn truth<'a>(e: &'a Expression, scope: &Scope<'a>) -> Result<bool, EvalError> {
    let mut env = Env {
        scope,
        rand: Rand(None),
        missing: Missing::NoMatch,
    };
    env.truth(&e.expr)
        .map_err(|reason| EvalError::new(&e.source, reason))
}

impl<'a> Env<'a, '_, '_> {
    fn missing(&self) -> Val<'a> {
        match self.missing {
            Missing::Null => Some(Cow::Owned(Value::Null)),
            Missing::NoMatch => None,
        }
    }

    fn truth(&mut self, e: &'a Expr) -> Result<bool, EvalReason> {
        match self.val(e)? {
            None => Ok(false),
            Some(v) => match v.as_ref() {
                Value::Bool(b) => Ok(*b),
                other => Err(EvalReason::NotBoolean {
                    what: e.to_string(),
                    found: describe(other),
                }),
            },
        }
    }

    fn val(&mut self, e: &'a Expr) -> Result<Val<'a>, EvalReason> {
        let bool_val = |b: bool| Ok(Some(Cow::Owned(Value::Bool(b))));
        match e {
            Expr::Lit(v) => Ok(Some(Cow::Borrowed(v))),
            Expr::Path(root, segs) => {
                let found = match root {
                    Root::Input => walk(Cow::Borrowed(self.scope.input), segs),
                    Root::Output => self.scope.output.and_then(|o| walk(Cow::Borrowed(o), segs)),
                    Root::Context => self.context(segs),
                };
                Ok(match found {
                    Some(v) => Some(v),
                    None => self.missing(),
                })
            }
            Expr::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let Some(v) = self.val(item)? else {
                        return Ok(None);
                    };
                    out.push(v.into_owned());
                }
                Ok(Some(Cow::Owned(Value::Array(out))))
            }
            Expr::Object(entries) => {
                let mut out = Map::new();
                for (k, item) in entries {
                    let Some(v) = self.val(item)? else {
                        return Ok(None);
                    };
                    out.insert(k.clone(), v.into_owned());
                }
                Ok(Some(Cow::Owned(Value::Object(out))))
            }
            Expr::Call(spec, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    let Some(v) = self.val(a)? else {
                        return Ok(None);
                    };
                    vals.push(v);
                }
                let refs: Vec<&Value> = vals.iter().map(AsRef::as_ref).collect();
                match (spec.run)(&refs, &mut self.rand) {
                    Ok(v) => Ok(Some(Cow::Owned(v))),
                    Err(message) => Err(EvalReason::Function {
                        name: spec.name,
                        message,
                    }),
                }
            }
            Expr::Access(inner, segs) => {
                let Some(v) = self.val(inner)? else {
                    return Ok(None);
                };
                Ok(match walk(v, segs) {
                    Some(v) => Some(v),
                    None => self.missing(),
                })
            }
            Expr::Not(inner) => match self.val(inner)? {
                None => bool_val(true),
                Some(v) => match v.as_ref() {
                    Value::Bool(b) => bool_val(!b),
                    other => Err(EvalReason::NotBoolean {
                        what: inner.to_string(),
                        found: describe(other),
                    }),
                },
            },
            Expr::Neg(inner) => {
                let Some(v) = self.val(inner)? else {
                    return Ok(None);
                };
                let negated = match v.as_ref() {
                    Value::Number(n) => super::negate(n),
                    _ => None,
                };
                match negated {
                    Some(n) => Ok(Some(Cow::Owned(n))),
                    None => Err(EvalReason::Operand {
                        op: "-",
                        needs: "negates a number (within range)",
                        what: inner.to_string(),
                        found: describe(&v),
                    }),
                }
            }
            Expr::And(a, b) => bool_val(self.truth(a)? && self.truth(b)?),
            Expr::Or(a, b) => bool_val(self.truth(a)? || self.truth(b)?),
            Expr::Cmp(op, a, b) => {
                let (Some(x), Some(y)) = (self.val(a)?, self.val(b)?) else {
                    return bool_val(false);
                };
                bool_val(compare(*op, &x, &y)?)
            }
            Expr::In(a, b) => {
                let (Some(x), Some(y)) = (self.val(a)?, self.val(b)?) else {
                    return bool_val(false);
                };
                match (x.as_ref(), y.as_ref()) {
                    (x, Value::Array(items)) => bool_val(items.iter().any(|i| json_eq(x, i))),
                    (Value::String(k), Value::Object(m)) => bool_val(m.contains_key(k)),
                    (other, Value::Object(_)) => Err(EvalReason::Operand {
                        op: "in",
                        needs: "looks up a string key in an object",
                        what: a.to_string(),
                        found: describe(other),
                    }),
                    (_, other) => Err(EvalReason::Operand {
                        op: "in",
                        needs: "looks in an array or an object",
                        what: b.to_string(),
                        found: describe(other),
                    }),
                }
            }
        }
    }

    /// A `$Context…` path: built from the scope's fields without copying
    /// the inputs unless the path asks for a whole object holding them.
    fn context(&self, segs: &[Seg]) -> Val<'a> {
        let s = self.scope;
        let key = |i: usize| match segs.get(i) {
            Some(Seg::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        let owned = |v: Value, from: usize| walk(Cow::Owned(v), segs.get(from..).unwrap_or(&[]));
        let borrowed =
            |v: &'a Value, from: usize| walk(Cow::Borrowed(v), segs.get(from..).unwrap_or(&[]));
        if segs.is_empty() {
            let mut m = Map::new();
            m.insert("Execution".into(), s.execution());
            m.insert("Current".into(), s.current());
            return Some(Cow::Owned(Value::Object(m)));
        }
        match (key(0)?, key(1)) {
            ("Execution", None) => owned(s.execution(), 1),
            ("Execution", Some("Name")) => owned(Value::from(s.execution_name), 2),
            ("Execution", Some("Input")) => borrowed(s.execution_input, 2),
            ("Execution", Some("RoleArn")) => owned(Value::from(s.role_arn?), 2),
            ("Current", None) => owned(s.current(), 1),
            ("Current", Some("Name")) => owned(Value::from(s.state_name), 2),
            ("Current", Some("Input")) => borrowed(s.input, 2),
            ("Current", Some("Output")) => borrowed(s.output?, 2),
            ("Current", Some("Error")) => owned(error_value(s.error?), 2),
            ("Current", Some("RetryCount")) => owned(Value::from(s.retry_count), 2),
            ("Current", Some("TaskToken")) => owned(Value::from(s.task_token?), 2),
            _ => None,
        }
    }
}

/// Follows `segs` from `v`; `None` when a key or index is missing.
fn walk<'a>(v: Cow<'a, Value>, segs: &[Seg]) -> Option<Cow<'a, Value>> {
    match v {
        Cow::Borrowed(mut cur) => {
            for s in segs {
                cur = match s {
                    Seg::Key(k) => cur.as_object()?.get(k)?,
                    Seg::Index(i) => cur.as_array()?.get(*i)?,
                };
            }
            Some(Cow::Borrowed(cur))
        }
        Cow::Owned(mut cur) => {
            for s in segs {
                cur = match (cur, s) {
                    (Value::Object(mut m), Seg::Key(k)) => m.remove(k)?,
                    (Value::Array(mut a), Seg::Index(i)) if *i < a.len() => a.swap_remove(*i),
                    _ => return None,
                };
            }
            Some(Cow::Owned(cur))
        }
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool, EvalReason> {
    op.compare(a, b).ok_or_else(|| EvalReason::Mismatch {
        op: op.as_str(),
        left: describe(a),
        right: describe(b),
    })
}
