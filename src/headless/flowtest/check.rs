//! check: a case's expectations against what its execution did.
//!
//! Each failed expectation says what was expected and what happened, and
//! points at the history event where it shows (the first step off the
//! expected path, the visit too many...), so a report and the TUI can
//! show where the run diverged. Reads the simulation, changes nothing.

use serde_json::Value;

use super::run::{Driven, End};
use super::spec::{Case, fmt_ms};
use super::step_named;
use crate::engine::{EventType, Execution, Status};
use crate::fdl::StepId;
use crate::kernel::ExecId;

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What was checked: `status`, `output`, `path`, `visits.charge`...
    pub what: String,
    pub expected: String,
    pub actual: String,
    /// The history event (of the execution given) where it shows.
    pub at: Option<(ExecId, usize)>,
}

impl Failure {
    /// `what: expected X, got Y`.
    pub fn line(&self) -> String {
        format!(
            "{}: expected {}, got {}",
            self.what, self.expected, self.actual
        )
    }
}

/// Checks every expectation of `case` against the run; empty when all hold.
pub fn check(case: &Case, d: &Driven) -> Vec<Failure> {
    let mut out = Vec::new();
    let Some(x) = d.sim.engine.execution(d.exec) else {
        return out;
    };
    let x_ = &case.expect;
    let last = x.history.len().checked_sub(1).map(|i| (x.id, i));
    // How the run stopped, when the execution did not end.
    match &d.end {
        End::Ended => {}
        End::Stuck(why) if x_.status == Some(Status::Running) => {
            let _ = why;
        }
        End::Stuck(why) => out.push(Failure {
            what: "end".into(),
            expected: match x_.status {
                Some(s) => format!("the execution to end {s}"),
                None => "the execution to end".into(),
            },
            actual: format!("it is still Running and nothing more can happen: {why}"),
            at: last,
        }),
        End::TimeBound(t) => out.push(Failure {
            what: "end".into(),
            expected: "the execution to end".into(),
            actual: format!(
                "it is still Running after {} of virtual time, the case's max_time (raise it with `max_time:`)",
                fmt_ms(*t)
            ),
            at: last,
        }),
        End::DeliveryBound => out.push(Failure {
            what: "end".into(),
            expected: "the execution to end".into(),
            actual: format!(
                "it is still Running after {} deliveries (a loop without end?)",
                super::run::MAX_DELIVERIES
            ),
            at: last,
        }),
    }
    if let Some(s) = x_.status
        && s != x.status
        && (s == Status::Running || x.status.is_final())
    {
        out.push(Failure {
            what: "status".into(),
            expected: s.to_string(),
            actual: x.status.to_string(),
            at: last,
        });
    }
    let error = x.error.as_deref();
    if let Some(e) = &x_.error
        && error.is_none_or(|a| &a.error != e)
    {
        out.push(Failure {
            what: "error".into(),
            expected: e.clone(),
            actual: error.map_or_else(|| "no error".to_owned(), |a| a.error.clone()),
            at: last,
        });
    }
    if let Some(c) = &x_.cause
        && error.is_none_or(|a| !a.cause.contains(c.as_str()))
    {
        out.push(Failure {
            what: "cause".into(),
            expected: format!("a cause containing \"{c}\""),
            actual: error.map_or_else(|| "no error".to_owned(), |a| format!("\"{}\"", a.cause)),
            at: last,
        });
    }
    let output: Option<Value> = x
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok());
    for (exp, exact) in [(&x_.output, false), (&x_.output_exact, true)] {
        let Some(exp) = exp else { continue };
        let what = if exact { "output_exact" } else { "output" };
        let problem = match &output {
            None => Some(format!(
                "no output (the execution is {})",
                x.status.as_str()
            )),
            Some(actual) => {
                let mut path = String::from("$");
                diff(exp, actual, exact, &mut path).map(|d| format!("{actual}; {d}"))
            }
        };
        if let Some(actual) = problem {
            let how = if exact { "" } else { " (subset)" };
            out.push(Failure {
                what: what.into(),
                expected: format!("{exp}{how}"),
                actual,
                at: last,
            });
        }
    }
    let entered: Vec<(usize, StepId)> = x
        .history
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EventType::StepEntered)
        .filter_map(|(i, e)| e.step.map(|s| (i, s)))
        .collect();
    if let Some(path) = &x_.path {
        let actual: Vec<&str> = entered
            .iter()
            .map(|(_, s)| x.flow.step(*s).name.as_str())
            .collect();
        if actual != *path {
            let i = path
                .iter()
                .zip(&actual)
                .position(|(a, b)| a != b)
                .unwrap_or(path.len().min(actual.len()));
            let at = entered.get(i).or(entered.last()).map(|(e, _)| (x.id, *e));
            let note = match (path.get(i), actual.get(i)) {
                (Some(e), Some(a)) => format!(" (step {}: expected {e}, entered {a})", i + 1),
                (Some(e), None) => format!(" (it stopped before {e})"),
                (None, Some(a)) => format!(" (then it went on to {a})"),
                (None, None) => String::new(),
            };
            out.push(Failure {
                what: "path".into(),
                expected: arrows(path.iter().map(String::as_str)),
                actual: format!("{}{note}", arrows(actual.iter().copied())),
                at,
            });
        }
    }
    for (name, want) in &x_.visits {
        let Some(step) = step_named(&x.flow, name) else {
            continue;
        };
        let events = visits(x, step);
        let got = events.len() as u64;
        if got != *want {
            let at = if got > *want {
                events.get(*want as usize).map(|i| (x.id, *i))
            } else {
                events.last().map(|i| (x.id, *i)).or(last)
            };
            out.push(Failure {
                what: format!("visits.{name}"),
                expected: times(*want),
                actual: times(got),
                at,
            });
        }
    }
    for name in &x_.not_visited {
        let Some(step) = step_named(&x.flow, name) else {
            continue;
        };
        if let Some((i, _)) = entered.iter().find(|(_, s)| *s == step) {
            out.push(Failure {
                what: "not_visited".into(),
                expected: format!("{name} never entered"),
                actual: format!("{name} entered (event #{})", i + 1),
                at: Some((x.id, *i)),
            });
        }
    }
    if let Some((cmp, want)) = x_.elapsed {
        let got = x.stopped.unwrap_or(d.sim.now()) - x.started;
        if !cmp.holds(got, want) {
            out.push(Failure {
                what: "elapsed".into(),
                expected: format!("{}{}", cmp.as_str(), fmt_ms(want)),
                actual: fmt_ms(got),
                at: last,
            });
        }
    }
    for (problem, at) in &d.problems {
        out.push(Failure {
            what: "duplicate".into(),
            expected: "the second report refused with TaskAlreadyCompleted".into(),
            actual: problem.clone(),
            at: *at,
        });
    }
    out
}

/// Where a failed case diverged from what it expected: the earliest event
/// of its own execution a failure points at, else its last step.
pub fn divergence(d: &Driven, failures: &[Failure]) -> Option<(StepId, usize)> {
    let x = d.sim.engine.execution(d.exec)?;
    if failures.is_empty() {
        return None;
    }
    let at = failures
        .iter()
        .filter_map(|f| f.at)
        .filter(|(e, _)| *e == d.exec)
        .map(|(_, i)| i)
        .min();
    // The event itself, else the last one before it that concerns a step.
    let upto = at.unwrap_or(x.history.len().saturating_sub(1));
    x.history
        .get(..=upto.min(x.history.len().saturating_sub(1)))?
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, e)| e.step.map(|s| (s, i)))
}

/// The events counting as visits of `step`: its task attempts
/// (`TaskScheduled`) for a task, its entries otherwise.
pub fn visits(x: &Execution, step: StepId) -> Vec<usize> {
    let is_task = matches!(x.flow.step(step).kind, crate::fdl::StepKind::Task(_));
    let kind = if is_task {
        EventType::TaskScheduled
    } else {
        EventType::StepEntered
    };
    x.history
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == kind && e.step == Some(step))
        .map(|(i, _)| i)
        .collect()
}

fn times(n: u64) -> String {
    match n {
        1 => "1 time".to_owned(),
        n => format!("{n} times"),
    }
}

/// `a → b → c`, or `(none)`.
pub fn arrows<'a>(steps: impl Iterator<Item = &'a str>) -> String {
    let s: Vec<&str> = steps.collect();
    if s.is_empty() {
        "(no step)".to_owned()
    } else {
        s.join(" → ")
    }
}

/// Numbers by value (`1 == 1.0`), everything else structurally.
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        _ => a == b,
    }
}

fn key_path(path: &str, key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

/// The first difference between `expected` and `actual`: with `exact`
/// false, objects need only the expected keys (recursively), arrays are
/// compared element by element and must have the same length.
pub fn diff(expected: &Value, actual: &Value, exact: bool, path: &mut String) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let here = key_path(path, k);
                match a.get(k) {
                    None => return Some(format!("{here} is missing (expected {ev})")),
                    Some(av) => {
                        let mut p = here;
                        if let Some(d) = diff(ev, av, exact, &mut p) {
                            return Some(d);
                        }
                    }
                }
            }
            if exact && let Some(k) = a.keys().find(|k| !e.contains_key(*k)) {
                let here = key_path(path, k);
                return Some(format!("{here} is not expected (it is {})", a[k]));
            }
            None
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{path} has {} items, expected {}",
                    a.len(),
                    e.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                let mut p = format!("{path}[{i}]");
                if let Some(d) = diff(ev, av, exact, &mut p) {
                    return Some(d);
                }
            }
            None
        }
        (e, a) if same_scalar(e, a) => None,
        (e, a) => Some(format!("at {path}: expected {e}, got {a}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn d(e: Value, a: Value, exact: bool) -> Option<String> {
        diff(&e, &a, exact, &mut "$".to_owned())
    }

    #[test]
    fn a_subset_needs_only_the_expected_keys() {
        assert_eq!(d(json!({"a": 1}), json!({"a": 1, "b": 2}), false), None);
        assert_eq!(d(json!({"a": 1.0}), json!({"a": 1}), false), None);
        assert_eq!(
            d(json!({"a": {"b": "x"}}), json!({"a": {"b": "y"}}), false).unwrap(),
            r#"at $.a.b: expected "x", got "y""#
        );
        assert_eq!(
            d(json!({"c": 1}), json!({"a": 1}), false).unwrap(),
            "$.c is missing (expected 1)"
        );
        assert_eq!(
            d(json!({"xs": [1, 2]}), json!({"xs": [1]}), false).unwrap(),
            "$.xs has 1 items, expected 2"
        );
        assert_eq!(
            d(json!({"a b": 1}), json!({"a b": 2}), false).unwrap(),
            r#"at $["a b"]: expected 1, got 2"#
        );
    }

    #[test]
    fn exact_refuses_extra_keys() {
        assert_eq!(
            d(json!({"a": 1}), json!({"a": 1, "b": 2}), true).unwrap(),
            "$.b is not expected (it is 2)"
        );
        assert_eq!(
            d(json!({"a": [{"b": 1}]}), json!({"a": [{"b": 1}]}), true),
            None
        );
    }
}
