//! A witness of a condition: a state input for which it is true (or
//! false), for `flowsim test --init`'s skeletons. Derived from paths into
//! `$Input` (or `$Context.Current.Input`) compared with literals, `!`,
//! `&&` and `||`; anything else (functions, `$Context.Execution`...) has
//! none. The caller checks the witness by evaluating the condition.

use serde_json::{Map, Value};

use super::Expr;
use super::Root;
use super::Seg;

/// Makes `e` evaluate to `want` by setting paths of `v` (the state input).
pub(super) fn witness(e: &Expr, want: bool, v: &mut Value) -> Option<()> {
    match e {
        Expr::Lit(Value::Bool(b)) => (*b == want).then_some(()),
        Expr::Path(..) => set(v, input_path(e)?, Value::Bool(want)),
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
                (p @ Expr::Path(..), Expr::Lit(l)) => (input_path(p)?, l, *op),
                (Expr::Lit(l), p @ Expr::Path(..)) => (input_path(p)?, l, op.flip()),
                _ => return None,
            };
            let op = if want { op } else { op.negate() };
            set(v, path, op.satisfying(lit)?)
        }
        _ => None,
    }
}

/// The segments of a path into the state input: `$Input.a.b` or
/// `$Context.Current.Input.a.b`.
fn input_path(e: &Expr) -> Option<&[Seg]> {
    let Expr::Path(root, segs) = e else {
        return None;
    };
    match root {
        Root::Input => Some(segs),
        Root::Context => match segs.as_slice() {
            [Seg::Key(c), Seg::Key(i), rest @ ..] if c == "Current" && i == "Input" => Some(rest),
            _ => None,
        },
        Root::Output => None,
    }
}

/// Sets `path` in `root` to `value`, making objects and arrays on the way;
/// `None` on a clash with what is there.
fn set(root: &mut Value, path: &[Seg], value: Value) -> Option<()> {
    if path.is_empty() {
        return None;
    }
    let mut cur = root;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let fresh = || match path.get(i + 1) {
            None => Value::Null,
            Some(Seg::Index(_)) => Value::Array(Vec::new()),
            Some(Seg::Key(_)) => Value::Object(Map::new()),
        };
        cur = match seg {
            Seg::Key(k) => {
                let m = cur.as_object_mut()?;
                if !m.contains_key(k.as_str()) {
                    m.insert(k.clone(), fresh());
                }
                m.get_mut(k.as_str())?
            }
            Seg::Index(n) => {
                let a = cur.as_array_mut()?;
                while a.len() <= *n {
                    a.push(Value::Null);
                }
                if a[*n].is_null() && !last {
                    a[*n] = fresh();
                }
                &mut a[*n]
            }
        };
    }
    if !cur.is_null() && *cur != value {
        return None;
    }
    *cur = value;
    Some(())
}
