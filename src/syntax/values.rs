//! JSON value helpers both expression languages share (FDL v1 conditions,
//! CloudFlow expressions): comparing numbers by value, equality with
//! numbers by value, how a value is named in a message, and a number
//! literal read into JSON.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// Numbers by value, exactly for integers.
pub(crate) fn num_cmp(x: &Number, y: &Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    match (x.as_f64(), y.as_f64()) {
        // serde_json numbers are never NaN, so partial_cmp always answers.
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    }
}

/// JSON equality with numbers compared by value (`1 == 1.0`).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// "a number (5)", "a string (\"ok\")", "null", "an array ([1,2])": for
/// messages.
pub(crate) fn describe(v: &Value) -> String {
    let text = |v: &Value| {
        let s = v.to_string();
        if s.chars().count() > 40 {
            format!("{}…", s.chars().take(39).collect::<String>())
        } else {
            s
        }
    };
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => format!("a boolean ({})", text(v)),
        Value::Number(_) => format!("a number ({})", text(v)),
        Value::String(_) => format!("a string ({})", text(v)),
        Value::Array(_) => format!("an array ({})", text(v)),
        Value::Object(_) => format!("an object ({})", text(v)),
    }
}

/// A number literal's text (already lexed) as JSON: an integer when it is
/// one and fits (`i64`, else `u64`), otherwise a float; `None` when it is
/// too large for either.
pub(crate) fn parse_number(text: &str, float: bool) -> Option<Number> {
    let n = if float {
        None
    } else {
        text.parse::<i64>()
            .ok()
            .map(Number::from)
            .or_else(|| text.parse::<u64>().ok().map(Number::from))
    };
    n.or_else(|| text.parse::<f64>().ok().and_then(Number::from_f64))
}

/// The comparison operators of both expression languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// `a op b` read as `b op' a`.
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    /// The operator true exactly when this one is false.
    pub fn negate(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
        }
    }

    /// A value `x` with `x op lit`, for the witnesses `flowsim test --init`
    /// writes (`None` when there is no simple one).
    pub fn satisfying(self, lit: &Value) -> Option<Value> {
        let whole = |f: f64| {
            if f.fract() == 0.0 && f.abs() < 9e15 {
                Value::from(f as i64)
            } else {
                Value::from(f)
            }
        };
        match (self, lit) {
            (CmpOp::Eq | CmpOp::Le | CmpOp::Ge, l) => Some(l.clone()),
            (CmpOp::Ne, Value::String(s)) => Some(Value::String(format!("not-{s}"))),
            (CmpOp::Ne, Value::Bool(b)) => Some(Value::Bool(!b)),
            (CmpOp::Ne, Value::Null) => Some(Value::String("something".into())),
            (CmpOp::Ne | CmpOp::Gt, Value::Number(n)) => Some(whole(n.as_f64()?.floor() + 1.0)),
            (CmpOp::Lt, Value::Number(n)) => Some(whole(n.as_f64()?.ceil() - 1.0)),
            (CmpOp::Gt, Value::String(s)) => Some(Value::String(format!("{s}z"))),
            (CmpOp::Lt, Value::String(s)) if !s.is_empty() => Some(Value::String(String::new())),
            _ => None,
        }
    }
}

impl CmpOp {
    /// `a op b`: `==`/`!=` compare any values (numbers by value); the
    /// orderings compare numbers with numbers and strings with strings.
    /// `None` when an ordering meets values of other types (the caller
    /// says so in its own words).
    pub fn compare(self, a: &Value, b: &Value) -> Option<bool> {
        let ord = match (self, a, b) {
            (CmpOp::Eq, ..) => return Some(json_eq(a, b)),
            (CmpOp::Ne, ..) => return Some(!json_eq(a, b)),
            (_, Value::Number(x), Value::Number(y)) => num_cmp(x, y),
            (_, Value::String(x), Value::String(y)) => x.as_str().cmp(y.as_str()),
            _ => return None,
        };
        Some(match self {
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
            CmpOp::Eq | CmpOp::Ne => ord == Ordering::Equal,
        })
    }
}

/// The end of a number literal in `chars`: from `i`, past its integer and
/// fraction digits (`float`: it had a fraction), an optional exponent;
/// then the number `chars[start..end]` reads as, and `end`. `Err`: the
/// character offset of the problem, where lexing goes on, and what it is.
pub fn finish_number(
    chars: &[char],
    start: usize,
    mut i: usize,
    mut float: bool,
) -> Result<(Number, usize), (usize, usize, String)> {
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if !chars.get(j).is_some_and(char::is_ascii_digit) {
            return Err((
                j,
                j,
                format!(
                    "expected the exponent's digits, found {}",
                    super::shown(chars.get(j))
                ),
            ));
        }
        while chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        i = j;
        float = true;
    }
    let text: String = chars[start..i].iter().collect();
    match parse_number(&text, float) {
        Some(n) => Ok((n, i)),
        None => Err((start, i, format!("the number {text} is too large"))),
    }
}
