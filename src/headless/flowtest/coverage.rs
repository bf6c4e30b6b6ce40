//! coverage: what of a flow's graph a test suite exercised.
//!
//! The items of a flow, from its model: every step (entered), every choice
//! branch and default (taken), every catch clause (fired), every retry
//! policy (a retry made under it), every parallel branch and foreach body
//! (run). Hits are read from the histories of every execution of the flow
//! in a case's simulation (sub-flow executions count for their own flow),
//! then summed over the cases. A choice branch is known by evaluating the
//! choice's conditions on the input its `StepEntered` recorded (the engine
//! logs no event for the branch itself, and a branch may have no steps).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::engine::{EventType, Execution, error_matches};
use crate::fdl::{Flow, StepId, StepKind};

/// What a coverage item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// The step was entered.
    Step,
    /// Condition `n` of a choice was the one taken.
    Branch(usize),
    /// The choice's default was taken.
    Default,
    /// Catch clause `n` of a task fired.
    Catch(usize),
    /// A retry was made under retry policy `n` of a task.
    Retry(usize),
    /// Branch `n` of a parallel step ran.
    Parallel(usize),
    /// A foreach ran its body (at least one iteration).
    Body,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Step => "step",
            ItemKind::Branch(_) => "choice",
            ItemKind::Default => "default",
            ItemKind::Catch(_) => "catch",
            ItemKind::Retry(_) => "retry",
            ItemKind::Parallel(_) => "parallel",
            ItemKind::Body => "foreach",
        }
    }
}

/// One thing a flow can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: ItemKind,
    pub step: StepId,
    /// Says which, in words: `choice decide: branch 1 ($.decision == "success")`.
    pub label: String,
}

/// A flow's items, in step order.
pub fn items(flow: &Flow) -> Vec<Item> {
    let mut out = Vec::new();
    for step in &flow.steps {
        let name = &step.name;
        let mut push = |kind, label: String| {
            out.push(Item {
                kind,
                step: step.id,
                label,
            })
        };
        push(ItemKind::Step, format!("step {name}"));
        match &step.kind {
            StepKind::Choice(c) => {
                for (i, b) in c.choices.iter().enumerate() {
                    push(
                        ItemKind::Branch(i),
                        format!("choice {name}: branch {} ({})", i + 1, b.condition.source()),
                    );
                }
                if c.default.is_some() {
                    push(ItemKind::Default, format!("choice {name}: default"));
                }
            }
            StepKind::Task(t) => {
                for (i, r) in t.retry.iter().enumerate() {
                    push(
                        ItemKind::Retry(i),
                        format!("retry {name}: [{}]", r.errors.join(", ")),
                    );
                }
                for (i, c) in t.catch.iter().enumerate() {
                    push(
                        ItemKind::Catch(i),
                        format!(
                            "catch {name}: [{}] -> {}",
                            c.errors.join(", "),
                            flow.step(c.goto).name
                        ),
                    );
                }
            }
            StepKind::Parallel(p) => {
                for i in 0..p.branches.len() {
                    push(
                        ItemKind::Parallel(i),
                        format!("parallel {name}: branch {}", i + 1),
                    );
                }
            }
            StepKind::Foreach(_) => push(ItemKind::Body, format!("foreach {name}: body")),
            _ => {}
        }
    }
    out
}

/// A flow's items and how often each was exercised.
#[derive(Debug, Clone)]
pub struct Tally {
    pub items: Vec<Item>,
    pub hits: Vec<u64>,
    index: HashMap<(StepId, ItemKind), usize>,
}

impl Tally {
    pub fn new(flow: &Flow) -> Tally {
        let items = items(flow);
        let index = items
            .iter()
            .enumerate()
            .map(|(i, it)| ((it.step, it.kind), i))
            .collect();
        Tally {
            hits: vec![0; items.len()],
            items,
            index,
        }
    }

    fn hit(&mut self, step: StepId, kind: ItemKind) {
        if let Some(&i) = self.index.get(&(step, kind)) {
            self.hits[i] += 1;
        }
    }

    /// Adds what one execution of the flow exercised.
    pub fn add(&mut self, x: &Execution) {
        let flow = &x.flow;
        // A task attempt (its TaskScheduled id) -> its StepEntered id, and
        // the error the last failed attempt of each entry ended with.
        let mut entered_of: HashMap<u32, u32> = HashMap::new();
        let mut failed: HashMap<u32, String> = HashMap::new();
        let h = &x.history;
        for (i, ev) in h.iter().enumerate() {
            let Some(step) = ev.step else { continue };
            let s = flow.step(step);
            match ev.kind {
                EventType::StepEntered => {
                    self.hit(step, ItemKind::Step);
                    if let StepKind::Choice(c) = &s.kind {
                        let input = detail(&ev.detail, "input");
                        let taken = c.choices.iter().position(|b| b.condition.holds_for(&input));
                        match taken {
                            Some(b) => self.hit(step, ItemKind::Branch(b)),
                            None if c.default.is_some() => self.hit(step, ItemKind::Default),
                            None => {}
                        }
                    }
                }
                EventType::BranchEntered => {
                    if let Some(b) = detail(&ev.detail, "branch").as_u64() {
                        self.hit(step, ItemKind::Parallel(b as usize));
                    }
                }
                EventType::IterationEntered => self.hit(step, ItemKind::Body),
                EventType::TaskScheduled => {
                    entered_of.insert(ev.id, ev.schedule_id);
                    if let (Some(err), StepKind::Task(t)) =
                        (failed.remove(&ev.schedule_id), &s.kind)
                        && let Some(p) = t.retry.iter().position(|r| error_matches(&r.errors, &err))
                    {
                        self.hit(step, ItemKind::Retry(p));
                    }
                }
                EventType::TaskFailed | EventType::TaskTimedOut | EventType::TaskSubmitFailed => {
                    if let Some(&entered) = entered_of.get(&ev.schedule_id)
                        && let Some(err) = detail(&ev.detail, "error").as_str()
                    {
                        failed.insert(entered, err.to_owned());
                    }
                }
                EventType::StepFailed => {
                    failed.remove(&ev.schedule_id);
                    // A catch fired when the very next event enters its
                    // target.
                    if let StepKind::Task(t) = &s.kind
                        && let Some(err) = detail(&ev.detail, "error").as_str()
                        && let Some(c) = t.catch.iter().position(|c| error_matches(&c.errors, err))
                        && h.get(i + 1).is_some_and(|n| {
                            n.kind == EventType::StepEntered && n.step == Some(t.catch[c].goto)
                        })
                    {
                        self.hit(step, ItemKind::Catch(c));
                    }
                }
                _ => {}
            }
        }
    }

    /// Adds another tally of the same flow.
    pub fn merge(&mut self, other: &Tally) {
        for (a, b) in self.hits.iter_mut().zip(&other.hits) {
            *a += b;
        }
    }

    pub fn covered(&self) -> usize {
        self.hits.iter().filter(|h| **h > 0).count()
    }

    pub fn total(&self) -> usize {
        self.items.len()
    }

    /// Covered items in percent (100 for a flow with no items).
    pub fn percent(&self) -> f64 {
        percent(self.covered(), self.total())
    }

    /// The items never exercised.
    pub fn missed(&self) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .zip(&self.hits)
            .filter(|(_, h)| **h == 0)
            .map(|(i, _)| i)
    }
}

pub fn percent(covered: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        covered as f64 * 100.0 / total as f64
    }
}

/// A field of an event detail (`Null` when absent or unreadable).
fn detail(text: &str, key: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut m)) => m.remove(key).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// One flow's coverage over a run, for the table and the JSON.
#[derive(Debug, Clone)]
pub struct FlowCoverage {
    pub flow: String,
    /// The flow file.
    pub file: String,
    pub tally: Tally,
}

/// The coverage report as JSON (`--coverage-json`).
pub fn to_json(flows: &[FlowCoverage]) -> Value {
    let covered: usize = flows.iter().map(|f| f.tally.covered()).sum();
    let total: usize = flows.iter().map(|f| f.tally.total()).sum();
    json!({
        "covered": covered,
        "total": total,
        "percent": round2(percent(covered, total)),
        "flows": flows.iter().map(|f| json!({
            "flow": f.flow,
            "file": f.file,
            "covered": f.tally.covered(),
            "total": f.tally.total(),
            "percent": round2(f.tally.percent()),
            "items": f.tally.items.iter().zip(&f.tally.hits).map(|(it, h)| {
                let mut item = json!({
                    "kind": it.kind.as_str(),
                    "step": f.tally_step_name(it.step),
                    "label": it.label,
                    "hits": h,
                });
                if let (Some(n), Value::Object(m)) = (index_of(it.kind), &mut item) {
                    m.insert("index".into(), json!(n));
                }
                item
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

impl FlowCoverage {
    fn tally_step_name(&self, step: StepId) -> String {
        // The label starts with the kind and the step name.
        self.tally
            .items
            .iter()
            .find(|i| i.step == step && i.kind == ItemKind::Step)
            .map(|i| i.label.trim_start_matches("step ").to_owned())
            .unwrap_or_default()
    }
}

fn index_of(kind: ItemKind) -> Option<usize> {
    match kind {
        ItemKind::Branch(n) | ItemKind::Catch(n) | ItemKind::Retry(n) | ItemKind::Parallel(n) => {
            Some(n)
        }
        _ => None,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_of_a_flow_with_every_construct() {
        let src = r#"
version: v1
type: flow
steps:
  - type: task
    name: t
    resourceArn: acs:fc:::services/s/functions/f
    retry:
      - errors: [E]
    catch:
      - errors: [FnF.ALL]
        goto: c
  - type: choice
    name: c
    choices:
      - condition: $.a == 1
        steps:
          - type: pass
            name: p
    default:
      goto: par
  - type: parallel
    name: par
    branches:
      - steps:
          - type: pass
            name: b0
      - steps:
          - type: pass
            name: b1
  - type: foreach
    name: each
    iterationMapping:
      collection: $.xs
      item: x
    steps:
      - type: pass
        name: body
"#;
        let flow = crate::fdl::load("f", src).unwrap_or_else(|d| panic!("{d:?}"));
        let labels: Vec<String> = items(&flow).into_iter().map(|i| i.label).collect();
        assert_eq!(
            labels,
            [
                "step t",
                "retry t: [E]",
                "catch t: [FnF.ALL] -> c",
                "step c",
                "choice c: branch 1 ($.a == 1)",
                "choice c: default",
                "step p",
                "step par",
                "parallel par: branch 1",
                "parallel par: branch 2",
                "step b0",
                "step b1",
                "step each",
                "foreach each: body",
                "step body",
            ]
        );
    }
}
