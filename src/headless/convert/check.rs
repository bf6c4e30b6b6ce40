//! headless::convert::check: `flowsim convert --check`. Converts an FDL v1
//! flow (and the sub-flows it starts), runs the FDL flow and its CloudFlow
//! conversion headless on the same inputs with every automatic handler
//! behaviour (succeed, fail, error, drop: `manual` needs a person), each on
//! its own [`Sim`] with the same seed and epoch, and compares the final
//! status, the output (as JSON values: key order aside) and the error's
//! name. The error's cause is not compared: it names states and
//! executions, which the conversion may rename (a step reached with
//! different data becomes `name-2`).
//!
//! Inputs: the flow's sample input (`# input:`, else `{}`), then, for each
//! condition of a top-level choice, the sample with that condition's
//! witness laid over it (so most branches run at least once).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::Status;
use crate::fc::{Behaviour, HandlerConfig};
use crate::fdl::{self, Flow, StepKind};
use crate::headless::{self, Format};
use crate::sim::{Sim, SimConfig};

/// The behaviours compared (`manual` waits for a person).
pub const BEHAVIOURS: [Behaviour; 4] = [
    Behaviour::Succeed,
    Behaviour::Fail,
    Behaviour::Error,
    Behaviour::Drop,
];

/// How an execution ended, as compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub output: Option<Value>,
    /// The error's name (its cause is not compared).
    pub error: Option<String>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(o) = &self.output {
            write!(f, " {o}")?;
        }
        if let Some(e) = &self.error {
            write!(f, " {e}")?;
        }
        Ok(())
    }
}

/// One input and behaviour, run both ways.
#[derive(Debug, Clone)]
pub struct Case {
    pub flow: String,
    pub input: String,
    pub behaviour: Behaviour,
    pub fdl: Outcome,
    pub cloudflow: Outcome,
}

impl Case {
    pub fn same(&self) -> bool {
        self.fdl == self.cloudflow
    }

    /// One line: `same` or `DIFF`, the flow, the behaviour, the input and
    /// what happened.
    pub fn line(&self) -> String {
        let head = format!(
            "{:<25} {:<8} {}",
            self.flow,
            self.behaviour.as_str(),
            self.input
        );
        if self.same() {
            format!("same  {head}: {}", self.fdl)
        } else {
            format!(
                "DIFF  {head}: FDL {} | CloudFlow {}",
                self.fdl, self.cloudflow
            )
        }
    }
}

/// A flow and its conversion, ready to run.
struct Pair {
    fdl: Flow,
    cloudflow: Flow,
}

/// Converts `path` (and its sub-flows, found beside it or in `with`),
/// then runs every case. `Err`: the flow (or a sub-flow) cannot be loaded
/// or converted, with every problem as `file:line:col: message`.
pub fn check_file(path: &Path, with: &[PathBuf], seed: u64) -> Result<Vec<Case>, String> {
    let (text, root) = load_pair(path)?;
    let mut pairs = vec![root];
    let dir = path.parent();
    let mut i = 0;
    while i < pairs.len() {
        let wanted: Vec<String> = pairs[i]
            .fdl
            .subflow_names()
            .into_iter()
            .filter(|n| !pairs.iter().any(|p| p.fdl.name == *n))
            .map(str::to_owned)
            .collect();
        for name in wanted {
            let found = with
                .iter()
                .find(|p| p.file_stem().is_some_and(|s| s == name.as_str()))
                .cloned()
                .or_else(|| {
                    dir.and_then(|d| {
                        ["yaml", "yml"]
                            .iter()
                            .map(|ext| d.join(format!("{name}.{ext}")))
                            .find(|p| p.is_file())
                    })
                });
            let Some(p) = found else {
                return Err(format!(
                    "{}: sub-flow `{name}` is not beside it (add --with {name}.yaml)",
                    path.display()
                ));
            };
            pairs.push(load_pair(&p)?.1);
        }
        i += 1;
    }
    let inputs = inputs(&pairs[0].fdl, &text);
    run_cases(&pairs, &inputs, seed)
}

/// Converts FDL `text` (a flow named `name`, no sub-flows) and runs it both
/// ways on `input` with every behaviour (for tests).
pub fn check_text(name: &str, text: &str, input: &str) -> Result<Vec<Case>, String> {
    let flow = fdl::load(name, text).map_err(|d| format!("{d:?}"))?;
    let converted = super::convert(&flow, name).map_err(|d| format!("{d:?}"))?;
    let loaded = crate::cloudflow::load(name, &converted.text)
        .map_err(|d| format!("{d:?}\n{}", converted.text))?;
    let pair = Pair {
        fdl: flow,
        cloudflow: fdl::statemachine::compile(&loaded.machine),
    };
    run_cases(&[pair], &[input.to_owned()], 1)
}

fn run_cases(pairs: &[Pair], inputs: &[String], seed: u64) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for input in inputs {
        for behaviour in BEHAVIOURS {
            let fdl = run(pairs.iter().map(|p| p.fdl.clone()), input, behaviour, seed)?;
            let cloudflow = run(
                pairs.iter().map(|p| p.cloudflow.clone()),
                input,
                behaviour,
                seed,
            )?;
            cases.push(Case {
                flow: pairs[0].fdl.name.clone(),
                input: input.clone(),
                behaviour,
                fdl,
                cloudflow,
            });
        }
    }
    Ok(cases)
}

/// Loads an FDL file and its conversion (compiled). Answers the FDL text.
fn load_pair(path: &Path) -> Result<(String, Pair), String> {
    let (shown, name, text) = fdl::read_flow_file(path).map_err(|e| e.to_string())?;
    if crate::cloudflow::is_state_machine(&text) {
        return Err(format!("{shown}: already a CloudFlow state machine"));
    }
    let flow = fdl::load(&name, &text).map_err(|d| {
        d.iter()
            .map(|d| format!("{shown}:{}: {}", d.pos, d.message))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let converted = super::convert(&flow, &shown).map_err(|d| {
        d.iter()
            .map(|d| format!("{shown}:{}: {}", d.pos, d.message))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let loaded = crate::cloudflow::load(&name, &converted.text).map_err(|d| {
        let problems: Vec<String> = d
            .iter()
            .map(|d| format!("{shown} (converted):{}: {}", d.pos, d.message))
            .collect();
        format!(
            "the conversion does not validate (a converter bug):\n{}",
            problems.join("\n")
        )
    })?;
    let cloudflow = fdl::statemachine::compile(&loaded.machine);
    Ok((
        text,
        Pair {
            fdl: flow,
            cloudflow,
        },
    ))
}

/// The sample input, then one per top-level choice condition with a
/// witness.
fn inputs(flow: &Flow, text: &str) -> Vec<String> {
    let sample = fdl::sample_input(text).unwrap_or_else(|| "{}".to_owned());
    let mut out = vec![sample.clone()];
    let base: Value = serde_json::from_str(&sample).unwrap_or(Value::Null);
    for id in &flow.body {
        if let StepKind::Choice(c) = &flow.step(*id).kind {
            for b in &c.choices {
                if let (Some(Value::Object(w)), Value::Object(mut m)) =
                    (b.condition.witness(), base.clone())
                {
                    m.extend(w);
                    let text = Value::Object(m).to_string();
                    if !out.contains(&text) {
                        out.push(text);
                    }
                }
            }
        }
    }
    out
}

/// Runs the first of `flows` (the others are its sub-flows) to its end.
fn run(
    flows: impl Iterator<Item = Flow>,
    input: &str,
    behaviour: Behaviour,
    seed: u64,
) -> Result<Outcome, String> {
    let mut sim = Sim::new(SimConfig {
        seed,
        handler: HandlerConfig {
            behaviour,
            ..HandlerConfig::default()
        },
        ..SimConfig::default()
    });
    let mut first = None;
    for f in flows {
        first.get_or_insert_with(|| f.name.clone());
        sim.add_flow(f).map_err(|e| e.to_string())?;
    }
    let name = first.unwrap_or_default();
    let outcome = headless::run(
        &mut sim,
        &name,
        None,
        input,
        Format::Text,
        &mut std::io::sink(),
    )
    .map_err(|e| format!("{e:#}"))?;
    let x = sim
        .engine
        .execution(outcome.execution)
        .ok_or("the execution vanished")?;
    Ok(Outcome {
        status: x.status,
        output: x
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok()),
        error: x.error.as_ref().map(|e| e.error.clone()),
    })
}
