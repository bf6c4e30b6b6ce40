//! run: one test case on a simulation of its own, driven from outside.
//!
//! The simulated function is in `manual`: it holds every push and every
//! invocation. After each delivery the driver looks at what it holds, finds
//! the task step each one is for (an invocation names its task, a push
//! carries the task token) and applies that step's scripted answer for
//! that delivery, or the case's handler. Answers that come later (`after`)
//! wait in a queue of actions on the virtual clock; envelopes due at or
//! before an action's time are delivered first (so a timeout due at the
//! very instant of a late report wins). The case ends when its execution
//! ends, when nothing more can happen, or at a bound (virtual time,
//! deliveries), never hanging. Reads the engine, never reaches into it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::spec::{Answer, Case, DEFAULT_MAX_TIME_MS, Handler, Kind, TestFile};
use crate::engine::{EventType, Status};
use crate::fc::{self, Behaviour, HandlerConfig, Held, Received};
use crate::fdl::{Flow, StepId};
use crate::kernel::{ExecId, FnfError, Millis, TaskRef};
use crate::sim::{Sim, SimConfig};

/// Most envelopes one case may deliver (a flow that loops without end
/// stops here).
pub const MAX_DELIVERIES: u64 = 1_000_000;

/// What the function does with tasks a case does not script: the
/// handler's behaviour, output and failure.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub handler: Handler,
    pub output: Value,
    pub fail_error: String,
    pub fail_cause: String,
}

impl Default for Defaults {
    fn default() -> Self {
        let h = HandlerConfig::default();
        Defaults {
            handler: Handler::Succeed,
            output: h.output,
            fail_error: h.fail_error,
            fail_cause: h.fail_cause,
        }
    }
}

/// How a case's run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The execution ended.
    Ended,
    /// Nothing is due and no answer is coming: the execution waits for
    /// ever. Says what it waits for.
    Stuck(String),
    /// The next thing to happen lies past `max_time`.
    TimeBound(Millis),
    /// [`MAX_DELIVERIES`] envelopes were delivered.
    DeliveryBound,
}

/// A case that ran: its simulation (to inspect, or to open in the TUI),
/// its execution, how it stopped, and what the answers met on the way.
pub struct Driven {
    pub sim: Sim,
    pub exec: ExecId,
    pub end: End,
    /// Things worth knowing when reading a failure: late reports refused.
    pub notes: Vec<String>,
    /// Checks the answers make themselves (a duplicate report accepted),
    /// with the step and the history event they concern.
    pub problems: Vec<(String, Option<(ExecId, usize)>)>,
}

/// Why a case could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("the flow could not be added: {0}")]
    Flow(String),
    #[error("the execution could not start: {0}")]
    Start(String),
}

/// A report the driver makes itself, through the API (after a delay, or a
/// duplicate).
#[derive(Debug, Clone)]
enum Report {
    Succeed(String),
    Fail { error: String, cause: String },
}

#[derive(Debug)]
enum Action {
    /// Answer a held push or invocation (the copy that arrived at
    /// `arrived`).
    Answer {
        held: u64,
        arrived: Millis,
        step: String,
        answer: fc::Answer,
    },
    /// Report on a token through the API.
    Report {
        token: String,
        step: String,
        report: Report,
    },
    /// Report again on a token already reported, expecting
    /// `TaskAlreadyCompleted`.
    Duplicate {
        token: String,
        step: String,
        task: TaskRef,
        report: Report,
    },
}

/// The simulation a case runs on: the file's flows, the function in manual.
pub fn new_sim(file: &TestFile, case: &Case) -> Result<Sim, StartError> {
    let mut config = SimConfig {
        seed: case.seed.unwrap_or(file.seed),
        ..SimConfig::default()
    };
    if let Some(e) = file.epoch_ms {
        config.epoch_ms = e;
    }
    config.handler.behaviour = Behaviour::Manual;
    let mut sim = Sim::new(config);
    for (_, flow) in &file.flows {
        sim.add_shared_flow(flow.clone())
            .map_err(|e| StartError::Flow(e.to_string()))?;
    }
    Ok(sim)
}

/// A readable execution name from a case name (`approved after a retry`
/// -> `approved-after-a-retry`), or none when nothing is left of it.
pub fn execution_name(case: &str) -> Option<String> {
    let mut name: String = case
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let name = name.trim_matches('-');
    let name: String = name.chars().take(100).collect();
    crate::engine::is_valid_name(&name).then_some(name)
}

/// Runs one case to its end.
pub fn drive(file: &TestFile, case: &Case, defaults: &Defaults) -> Result<Driven, StartError> {
    let mut sim = new_sim(file, case)?;
    let input = case.input.to_string();
    let flow = file.flow().name.clone();
    let exec = sim
        .start_execution(&flow, execution_name(&case.name).as_deref(), Some(&input))
        .map_err(|e| StartError::Start(format!("{}: {e}", e.code())))?;
    let handler = case.handler.or(file.handler).unwrap_or(defaults.handler);
    let mut d = Driver {
        case,
        defaults,
        handler,
        sim,
        exec,
        seen: HashSet::new(),
        received: 0,
        deliveries: HashMap::new(),
        actions: BTreeMap::new(),
        seq: 0,
        notes: Vec::new(),
        problems: Vec::new(),
    };
    let max_time = case
        .max_time
        .or(file.max_time)
        .unwrap_or(DEFAULT_MAX_TIME_MS);
    let end = d.run(max_time);
    Ok(Driven {
        sim: d.sim,
        exec,
        end,
        notes: d.notes,
        problems: d.problems,
    })
}

struct Driver<'a> {
    case: &'a Case,
    defaults: &'a Defaults,
    handler: Handler,
    sim: Sim,
    exec: ExecId,
    /// Held deliveries already handled: (held id, when it arrived).
    seen: HashSet<(u64, Millis)>,
    /// What the function had received when the driver last looked.
    received: u64,
    /// Deliveries so far per task step name (picks the script's entry).
    deliveries: HashMap<String, usize>,
    /// Actions by (due time, order queued).
    actions: BTreeMap<(Millis, u64), Action>,
    seq: u64,
    notes: Vec<String>,
    problems: Vec<(String, Option<(ExecId, usize)>)>,
}

impl Driver<'_> {
    fn ended(&self) -> bool {
        self.sim
            .engine
            .execution(self.exec)
            .is_none_or(|x| x.status.is_final())
    }

    fn run(&mut self, max_time: Millis) -> End {
        let mut delivered = 0u64;
        let end = loop {
            if self.sim.fc.received() != self.received {
                self.received = self.sim.fc.received();
                self.look_at_held();
            }
            if self.ended() {
                break End::Ended;
            }
            let next_sim = self.sim.next_due();
            let next_action = self.actions.keys().next().map(|k| k.0);
            // Envelopes due at or before the next action go first.
            let (sim_first, at) = match (next_sim, next_action) {
                (None, None) => break End::Stuck(self.stuck_reason()),
                (Some(due), None) => (true, due),
                (None, Some(a)) => (false, a),
                (Some(due), Some(a)) if due <= a => (true, due),
                (Some(_), Some(a)) => (false, a),
            };
            if at > max_time {
                break End::TimeBound(max_time);
            }
            if sim_first {
                if delivered >= MAX_DELIVERIES {
                    break End::DeliveryBound;
                }
                self.sim.step_quiet();
                delivered += 1;
            } else {
                // Nothing is due before `at`: this only moves the clock.
                self.sim.advance_to(at);
                if let Some((_, action)) = self.actions.pop_first() {
                    self.apply(action);
                }
            }
        };
        // The execution ended on a report: its duplicates, queued for the
        // same instant, still get their answer (TaskAlreadyCompleted).
        // Answers due later are never given: say so, a reader wonders.
        let now = self.sim.now();
        for ((at, _), a) in std::mem::take(&mut self.actions) {
            match a {
                Action::Duplicate { .. } if at <= now => self.apply(a),
                Action::Answer { step, .. } | Action::Report { step, .. } if end == End::Ended => {
                    self.notes.push(format!(
                        "the answer for `{step}` due at {} was never given: the execution had ended",
                        crate::headless::fmt_clock(at)
                    ));
                }
                _ => {}
            }
        }
        end
    }

    fn queue(&mut self, at: Millis, action: Action) {
        self.seq += 1;
        self.actions.insert((at, self.seq), action);
    }

    /// Handles what the function received since last time.
    fn look_at_held(&mut self) {
        let fresh: Vec<Held> = self
            .sim
            .fc
            .inbox()
            .iter()
            .filter(|h| !self.seen.contains(&(h.id(), h.at)))
            .cloned()
            .collect();
        for held in fresh {
            self.seen.insert((held.id(), held.at));
            self.handle(held);
        }
    }

    fn handle(&mut self, held: Held) {
        let task = match &held.received {
            Received::Invoke(t) => Some(*t),
            Received::Push(_) => held
                .token
                .as_deref()
                .and_then(|t| self.sim.engine.task_of_token(t)),
        };
        // A push nobody's task token is in (a publish of another kind):
        // the handler's behaviour answers it.
        let step = task.and_then(|t| task_step(&self.sim, t));
        let answer = match &step {
            Some((name, _)) => {
                let n = self.deliveries.entry(name.clone()).or_insert(0);
                let i = *n;
                *n += 1;
                self.case
                    .script(name)
                    .and_then(|s| s.get(i).or(s.last()))
                    .cloned()
            }
            None => None,
        }
        .unwrap_or(Answer {
            kind: Kind::Default,
            after: 0,
            duplicate: false,
            pos: crate::fdl::Pos::default(),
        });
        let step_name = step.map(|(n, _)| n).unwrap_or_default();
        let kind = match answer.kind {
            Kind::Default => match self.handler {
                Handler::Succeed => Kind::Succeed(None),
                Handler::Fail => Kind::Fail(None),
                Handler::Error => Kind::Error,
                Handler::Drop => Kind::Drop,
            },
            k => k,
        };
        let report = match kind {
            Kind::Drop | Kind::Default => return,
            Kind::Error => {
                self.queue(
                    self.sim.now() + answer.after,
                    Action::Answer {
                        held: held.id(),
                        arrived: held.at,
                        step: step_name.clone(),
                        answer: fc::Answer::Error,
                    },
                );
                return;
            }
            Kind::Succeed(out) => Report::Succeed(
                out.unwrap_or_else(|| self.defaults.output.clone())
                    .to_string(),
            ),
            Kind::Fail(f) => {
                let (error, cause) = f.unwrap_or_else(|| {
                    (
                        self.defaults.fail_error.clone(),
                        self.defaults.fail_cause.clone(),
                    )
                });
                Report::Fail { error, cause }
            }
        };
        let now = self.sim.now();
        let at = now + answer.after;
        let is_push = matches!(held.received, Received::Push(_));
        match (&held.token, is_push && answer.after > 0) {
            // A push answered late: acknowledged at once (the function
            // handed the token on), reported later through the API.
            (Some(token), true) => {
                let _ = self.sim.answer_held(held.id(), fc::Answer::Accept);
                self.queue(
                    at,
                    Action::Report {
                        token: token.clone(),
                        step: step_name.clone(),
                        report: report.clone(),
                    },
                );
            }
            _ => {
                let answer = match &report {
                    Report::Succeed(text) => {
                        fc::Answer::Succeed(serde_json::from_str(text).unwrap_or(Value::Null))
                    }
                    Report::Fail { error, cause } => fc::Answer::Fail {
                        error: error.clone(),
                        cause: cause.clone(),
                    },
                };
                self.queue(
                    at,
                    Action::Answer {
                        held: held.id(),
                        arrived: held.at,
                        step: step_name.clone(),
                        answer,
                    },
                );
            }
        }
        if answer.duplicate {
            match (held.token, task) {
                (Some(token), Some(task)) => self.queue(
                    at,
                    Action::Duplicate {
                        token,
                        step: step_name,
                        task,
                        report,
                    },
                ),
                _ => self.problems.push((
                    format!(
                        "`{step_name}`: `duplicate` asked for a second report, but the message carries no task token to report with"
                    ),
                    None,
                )),
            }
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Answer {
                held,
                arrived,
                answer,
                ..
            } => {
                // MNS may have pushed it again meanwhile (the held attempt
                // timed out): the newer copy gets its own answer, this one
                // is moot.
                let same = self
                    .sim
                    .fc
                    .inbox()
                    .iter()
                    .any(|h| h.id() == held && h.at == arrived);
                if same {
                    let _ = self.sim.answer_held(held, answer);
                }
            }
            Action::Report {
                token,
                step,
                report,
            } => {
                if let Err(e) = self.report(&token, &report) {
                    let at = crate::headless::fmt_clock(self.sim.now());
                    self.notes.push(format!(
                        "{at}: the report for `{step}` was refused: {}: {e}",
                        e.code()
                    ));
                }
            }
            Action::Duplicate {
                token,
                step,
                task,
                report,
            } => {
                let at = event_of(&self.sim, task);
                match self.report(&token, &report) {
                    Err(FnfError::TaskAlreadyCompleted(_)) => {}
                    Ok(_) => self.problems.push((
                        format!(
                            "`{step}`: a duplicate report was accepted; expected it refused with TaskAlreadyCompleted"
                        ),
                        at,
                    )),
                    Err(e) => self.problems.push((
                        format!(
                            "`{step}`: a duplicate report was refused with {} ({e}); expected TaskAlreadyCompleted",
                            e.code()
                        ),
                        at,
                    )),
                }
            }
        }
    }

    fn report(&mut self, token: &str, report: &Report) -> Result<u32, FnfError> {
        match report {
            Report::Succeed(out) => self.sim.report_succeeded(token, out),
            Report::Fail { error, cause } => self.sim.report_failed(token, error, cause),
        }
    }

    /// What the execution (or a sub-flow execution under it) waits for.
    fn stuck_reason(&self) -> String {
        let execs = self.sim.engine.executions();
        let waiting = execs
            .iter()
            .rev()
            .filter(|x| !x.status.is_final())
            .find_map(|x| {
                self.sim
                    .engine
                    .waiting_tasks(x.id)
                    .first()
                    .map(|(step, _, _)| (x, *step))
            });
        match waiting {
            Some((x, step)) => {
                let whose = if x.id == self.exec {
                    String::new()
                } else {
                    format!(" of sub-flow execution `{}`", x.name)
                };
                format!(
                    "step `{}`{whose} waits for a callback that never comes (its answer was drop, or nothing reported), and no timeout is left to end it",
                    x.flow.step(step).name
                )
            }
            None => "nothing is left to happen while the execution is still running".to_owned(),
        }
    }
}

/// The task step (name, id) a task attempt belongs to, read from its
/// `TaskScheduled` event.
pub fn task_step(sim: &Sim, t: TaskRef) -> Option<(String, StepId)> {
    let x = sim.engine.execution(t.exec)?;
    let ev = x
        .history
        .get(usize::try_from(t.task).ok()?.checked_sub(1)?)?;
    if ev.kind != EventType::TaskScheduled {
        return None;
    }
    let step = ev.step?;
    Some((step_name_of(&x.flow, step).to_owned(), step))
}

fn step_name_of(flow: &Flow, id: StepId) -> &str {
    &flow.step(id).name
}

/// The execution and history index of a task attempt's `TaskScheduled`.
fn event_of(sim: &Sim, t: TaskRef) -> Option<(ExecId, usize)> {
    let i = usize::try_from(t.task).ok()?.checked_sub(1)?;
    sim.engine.execution(t.exec)?.history.get(i)?;
    Some((t.exec, i))
}

/// The status of the case's execution.
pub fn status(d: &Driven) -> Status {
    d.sim
        .engine
        .execution(d.exec)
        .map_or(Status::Failed, |x| x.status)
}
