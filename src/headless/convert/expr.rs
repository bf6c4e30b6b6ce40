//! headless::convert::expr: FDL references (`$input.a[0]`, `$local.x`,
//! `$context.task.token`) and choice conditions as CloudFlow expression
//! text. Pure text work; what a root stands for is the caller's.

use serde_json::Value;

use crate::fdl::{Path, Root, Segment};

/// A value to build: a constant, or a CloudFlow expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Const(Value),
    Expr(String),
}

impl Val {
    /// The value as expression text (a constant as its JSON literal,
    /// which the expression language reads).
    pub fn expr(&self) -> String {
        match self {
            Val::Const(v) => v.to_string(),
            Val::Expr(e) => e.clone(),
        }
    }
}

/// Output keys and their values, in order.
pub type Fields = Vec<(String, Val)>;

/// An object literal expression: `{"a": $Input.x, "b": 1}`.
pub fn object(fields: &Fields) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), v.expr()))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Whether `e` is a plain path (`$Input.a[0]`), which takes more segments
/// as it is; anything else is parenthesised first.
fn is_path(e: &str) -> bool {
    let path = e.starts_with('$')
        && e.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '$' | '.' | '_' | '-' | '[' | ']'));
    // A call (`get(…)`, whose parentheses enclose the rest) takes them too.
    let call = e.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && e.ends_with(')')
        && e.find('(').is_some_and(|open| closes_at_end(&e[open..]));
    path || call
}

/// Whether the parenthesis opening `s` closes at its end (strings aside).
fn closes_at_end(s: &str) -> bool {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let n = s.chars().count();
    for (i, c) in s.chars().enumerate() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && i + 1 < n {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// One segment as CloudFlow writes it.
pub fn seg(s: &Segment) -> Result<String, String> {
    Ok(match s {
        Segment::Key(k)
            if !k.is_empty()
                && k.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
        {
            format!(".{k}")
        }
        Segment::Key(k) => format!("[{}]", Value::String(k.clone())),
        Segment::Index(i) => format!("[{i}]"),
        Segment::Wildcard => return Err("a JSONPath wildcard `[*]`".into()),
    })
}

/// `base` followed by `segs`.
pub fn access(base: &str, segs: &[Segment]) -> Result<String, String> {
    if segs.is_empty() {
        return Ok(base.to_owned());
    }
    let mut out = if is_path(base) {
        base.to_owned()
    } else {
        format!("({base})")
    };
    for s in segs {
        out.push_str(&seg(s)?);
    }
    Ok(out)
}

/// A constant's part at `segs` (FDL's lookup; missing: null).
pub fn const_at(v: &Value, segs: &[Segment]) -> Value {
    Path {
        root: Root::Dollar,
        segments: segs.to_vec(),
    }
    .lookup(v)
    .unwrap_or(Value::Null)
}

/// `$context.…` as CloudFlow: the token, and names (flow and step names
/// as constants: a converted state may carry a suffix).
pub fn context(segs: &[Segment], flow: &str, step: &str, token: bool) -> Result<Val, String> {
    let keys: Vec<&str> = segs
        .iter()
        .map(|s| match s {
            Segment::Key(k) => Ok(k.as_str()),
            _ => Err(()),
        })
        .take_while(Result::is_ok)
        .map(|k| k.unwrap_or_default())
        .collect();
    match keys.as_slice() {
        ["task", "token"] if token && segs.len() == 2 => {
            Ok(Val::Expr("$Context.Current.TaskToken".into()))
        }
        ["task", "token"] if segs.len() == 2 => Ok(Val::Const(Value::Null)),
        ["execution", "name"] if segs.len() == 2 => Ok(Val::Expr("$Context.Execution.Name".into())),
        ["flow", "name"] if segs.len() == 2 => Ok(Val::Const(Value::from(flow))),
        ["step", "name"] if segs.len() == 2 => Ok(Val::Const(Value::from(step))),
        _ => Err(format!(
            "`{}` has no CloudFlow counterpart (only $context.task.token, .execution.name, .flow.name and .step.name convert)",
            Path {
                root: Root::Context,
                segments: segs.to_vec()
            }
        )),
    }
}

/// An FDL choice condition with each path (`$`, `$.a`, `$input.a`, over
/// the step input) rewritten by `path`; literals and operators are the
/// same in both languages (`==`, `!=`, `<`, `<=`, `>`, `>=`, `!`, `&&`,
/// `||`, parentheses, JSON strings and numbers, true/false/null).
pub fn condition(
    source: &str,
    path: &dyn Fn(&[Segment]) -> Result<String, String>,
) -> Result<String, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            // A JSON string, copied as is.
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            out.extend(&chars[start..i]);
            continue;
        }
        if c == '$' {
            let start = i;
            i += 1;
            // The path's text: up to an operator, space or parenthesis
            // (bracketed strings may hold anything).
            while i < chars.len() {
                match chars[i] {
                    '[' => {
                        while i < chars.len() && chars[i] != ']' {
                            if chars[i] == '"' {
                                i += 1;
                                while i < chars.len() && chars[i] != '"' {
                                    i += 1;
                                }
                            }
                            i += 1;
                        }
                        i += 1;
                    }
                    c if c.is_whitespace() || "()!=<>&|".contains(c) => break,
                    _ => i += 1,
                }
            }
            let text: String = chars[start..i.min(chars.len())].iter().collect();
            let p = Path::parse(&text, &[Root::Dollar, Root::Input])
                .map_err(|e| format!("path `{text}`: {e}"))?;
            out.push_str(&path(&p.segments)?);
            continue;
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(ks: &[&str]) -> Vec<Segment> {
        ks.iter().map(|k| Segment::Key((*k).into())).collect()
    }

    #[test]
    fn access_appends_to_paths_and_parenthesises_the_rest() {
        assert_eq!(
            access("$Input", &keys(&["a", "b"])),
            Ok("$Input.a.b".into())
        );
        assert_eq!(
            access(
                "jsonMerge($A, $B)",
                &[Segment::Key("odd key".into()), Segment::Index(2)]
            ),
            Ok("jsonMerge($A, $B)[\"odd key\"][2]".into())
        );
        assert_eq!(
            access("{\"a\": 1}", &keys(&["a"])),
            Ok("({\"a\": 1}).a".into())
        );
        assert_eq!(
            access("f(1) == g(2)", &keys(&["a"])),
            Ok("(f(1) == g(2)).a".into())
        );
        assert!(access("$Input", &[Segment::Wildcard]).is_err());
    }

    #[test]
    fn conditions_keep_operators_and_literals() {
        let rewrite = |segs: &[Segment]| access("$Input", segs);
        assert_eq!(
            condition("$.decision == \"a $.b\" && !($input.n >= 2)", &rewrite),
            Ok("$Input.decision == \"a $.b\" && !($Input.n >= 2)".into())
        );
        assert_eq!(
            condition("$.a[0].b!=null", &rewrite),
            Ok("$Input.a[0].b!=null".into())
        );
    }

    #[test]
    fn context_names_become_constants_and_the_token_an_expression() {
        assert_eq!(
            context(&keys(&["task", "token"]), "f", "s", true),
            Ok(Val::Expr("$Context.Current.TaskToken".into()))
        );
        assert_eq!(
            context(&keys(&["step", "name"]), "f", "s", false),
            Ok(Val::Const(json!("s")))
        );
        assert!(context(&keys(&["task"]), "f", "s", true).is_err());
    }

    #[test]
    fn constants_are_looked_up_like_fdl() {
        assert_eq!(
            const_at(
                &json!({"a": [1, 2]}),
                &[Segment::Key("a".into()), Segment::Index(1)]
            ),
            json!(2)
        );
        assert_eq!(const_at(&json!("x"), &keys(&["a"])), Value::Null);
        assert_eq!(
            object(&vec![("k".into(), Val::Const(json!(1)))]),
            "{\"k\": 1}"
        );
    }
}
