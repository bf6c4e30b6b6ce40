//! engine::machine: the interpreter. The live state of a running execution
//! ([`Run`]: its tree of [`Block`]s, each at a [`Current`] step, the task
//! attempts in flight, the children to cancel) and [`Machine`], one
//! operation on one running execution: it walks blocks, enters and leaves
//! steps, logs the history, sets timers and sends envelopes.
//!
//! The core is here (logging, the event limit, walking a block, entering
//! and completing steps, waits and timers, finishing a block or the
//! execution); further `impl Machine` blocks live in [`task`] (task
//! attempts and their outcomes), [`fanout`] (choice, parallel and foreach
//! child blocks) and [`failure`] (retry, catch, failing and cancelling
//! blocks).
//!
//! A machine touches only the one execution it was made for, through the
//! [`Ctx`] it was given: it never reaches the engine's other executions
//! (child executions to stop are queued in [`Run::cancel`] for the engine),
//! and nothing outside `engine/` names it.

mod failure;
mod fanout;
mod pipe;
mod task;

use std::sync::Arc;

use serde_json::{Map, Value};

use super::detail::{
    detail_field, detail_of, found_json, json_type, until_ms, wait_ms, with_article,
};
use super::history::{Detail, EventType, HistoryEvent};
use super::intern::Interner;
use super::mapping::{self, Context};
use super::subflow::SUBFLOW_CANCELLED;
use super::token::TokenKey;
use super::{DATA_LIMIT_ERROR, EVENT_LIMIT, EVENT_LIMIT_ERROR, ErrorInfo, Execution, Status};
use crate::fdl::{Flow, Items, Pattern, StepId, StepKind, Wait};
use crate::kernel::{Component, Ctx, EnvelopeKey, ExecId, Msg, TaskError, TaskRef};

pub use failure::error_matches;

/// Room kept below the event limit for a step's own events and the
/// execution's end.
const EVENT_MARGIN: usize = 8;

/// Which list of steps a block walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockList {
    /// The flow's top-level steps.
    Body,
    /// The steps of a taken choice branch (`usize::MAX`: the default).
    Choice(StepId, usize),
    /// One branch of a parallel step.
    Parallel(StepId, usize),
    /// The body of a foreach step (one block per iteration).
    Foreach(StepId),
}

#[derive(Debug)]
pub(super) struct Block {
    list: BlockList,
    /// The block whose current step spawned this one, and this block's
    /// slot there (branch or iteration index).
    parent: Option<(usize, usize)>,
    pos: usize,
    /// Shared with the step that spawned the block: branches and iterations
    /// read their parent step's input without copying it.
    input: Arc<Value>,
    /// A foreach iteration's item and index, laid over `input` (see
    /// [`mapping::Input`]).
    iteration: Option<Box<(Value, Value)>>,
    local: Value,
    pub(super) current: Option<Current>,
}

impl Block {
    /// What the block's steps read as their parent input.
    fn input_view<'s>(&'s self, flow: &'s Flow) -> mapping::Input<'s> {
        match (&self.iteration, self.list) {
            (Some(it), BlockList::Foreach(step)) => match &flow.step(step).kind {
                StepKind::Foreach(f) => mapping::Input::Iteration {
                    base: &self.input,
                    item: (&f.item, &it.0),
                    index: f.index.as_deref().map(|k| (k, &it.1)),
                },
                _ => mapping::Input::Plain(&self.input),
            },
            _ => mapping::Input::Plain(&self.input),
        }
    }
}

/// The step a block is at.
#[derive(Debug)]
pub(super) struct Current {
    pub(super) step: StepId,
    /// Shared with the blocks it spawns (see [`Block::input`]).
    input: Arc<Value>,
    /// Id of its StepEntered event.
    entered: u32,
    /// Retries made so far under each retry policy of a task step (indexed
    /// like `Task::retry`; empty until the first retry, so most steps
    /// never allocate it). Upstream counts attempts per policy: a policy's
    /// `maxAttempts` and interval growth only see the retries it made.
    attempts: Vec<u32>,
    /// The TaskScheduled id of the task attempt in flight.
    task: Option<u32>,
    /// A task timeout, wait or retry timer.
    timer: Option<EnvelopeKey>,
    /// Child blocks of a choice, parallel or foreach step.
    children: Option<Box<Children>>,
}

/// What a step waiting on child blocks keeps.
#[derive(Debug, Default)]
struct Children {
    /// Each child's local when it finished (by slot).
    results: Vec<Value>,
    /// Children still running.
    running: usize,
    /// Foreach: the items not started yet begin at this index.
    next: usize,
    /// Foreach: the collection.
    items: Vec<Value>,
}

#[derive(Debug, Default)]
pub(super) struct Run {
    pub(super) blocks: Vec<Option<Block>>,
    /// Task attempts in flight: (TaskScheduled id, block).
    pub(super) tasks: Vec<(u32, usize)>,
    /// Child executions that sync/waitForCallback sub-flow tasks in flight
    /// wait for: (TaskScheduled id, child).
    children: Vec<(u32, ExecId)>,
    /// Children to stop once the operation is over (the engine does it:
    /// an operation only touches its own execution).
    pub(super) cancel: Vec<Cancel>,
    pub(super) flow_timer: Option<EnvelopeKey>,
    /// `$Context.Execution.Input` (state machines only).
    exec_input: Option<Arc<Value>>,
    /// Set when the execution ended during an operation.
    pub(super) ended: Option<Status>,
    /// Set by [`Machine::log`] when the history came within
    /// [`EVENT_MARGIN`] of [`EVENT_LIMIT`], with the step of that event:
    /// no more blocks run, and the execution fails when the operation
    /// ends (see [`Machine::check_event_limit`]).
    over_limit: Option<Option<StepId>>,
    /// Task attempts that stopped being in flight during the current
    /// operation (see [`Engine::task_ends`](super::Engine::task_ends)).
    pub(in crate::engine) task_ends: u32,
}

impl Run {
    /// The step block `b` is at, if the block exists and is at one.
    pub(super) fn current(&self, b: usize) -> Option<&Current> {
        self.blocks
            .get(b)
            .and_then(Option::as_ref)
            .and_then(|bl| bl.current.as_ref())
    }
}

/// A child execution to stop, and why.
#[derive(Debug)]
pub(super) struct Cancel {
    pub(super) exec: ExecId,
    pub(super) error: &'static str,
    pub(super) cause: String,
}

/// One operation on one running execution.
pub(super) struct Machine<'a, 'c, 'r> {
    pub(super) x: &'a mut Execution,
    pub(super) run: &'a mut Run,
    pub(super) flow: &'a Flow,
    pub(super) ctx: &'a mut Ctx<'c>,
    pub(super) key: &'r TokenKey,
    /// [`Engine::scratch`].
    ///
    /// [`Engine::scratch`]: super::Engine::scratch
    pub(super) scratch: &'a mut Vec<u8>,
    /// [`Engine::texts`].
    ///
    /// [`Engine::texts`]: super::Engine::texts
    pub(super) texts: &'a mut Interner,
    /// The block [`Machine::run_block`] runs next, set by a child block that
    /// finished (a tail call made iterative).
    pub(super) tail: Option<usize>,
}

impl Machine<'_, '_, '_> {
    fn next_event_id(&self) -> u32 {
        self.x.history.len() as u32 + 1
    }

    pub(super) fn log(
        &mut self,
        kind: EventType,
        step: Option<StepId>,
        schedule_id: u32,
        detail: impl Into<Detail>,
    ) -> u32 {
        let id = self.next_event_id();
        self.x.history.push(HistoryEvent {
            id,
            schedule_id,
            kind,
            step,
            time: self.ctx.now,
            detail: detail.into(),
        });
        if self.run.over_limit.is_none() && self.x.history.len() + EVENT_MARGIN >= EVENT_LIMIT {
            self.run.over_limit = Some(step);
        }
        id
    }

    /// Ends the operation of an execution whose history reached the event
    /// limit (see [`Run::over_limit`]): it fails with [`EVENT_LIMIT_ERROR`],
    /// unless it ended anyway. Every operation runs this last, so whatever
    /// logs events (steps, retries, branches, iterations, task events)
    /// cannot grow the history past the limit by more than one
    /// operation's closing events.
    pub(super) fn check_event_limit(&mut self) {
        let Some(step) = self.run.over_limit else {
            return;
        };
        if self.run.ended.is_some() {
            return;
        }
        let at = step
            .map(|s| format!(" at step `{}`", self.flow.step(s).name))
            .unwrap_or_default();
        self.fail_execution(
            EVENT_LIMIT_ERROR,
            format!("the execution reached the limit of {EVENT_LIMIT} history events{at}"),
        );
    }

    /// Logs an event whose detail is `{"<key>": v}` (see [`detail_of`]).
    fn log_value(
        &mut self,
        kind: EventType,
        step: Option<StepId>,
        schedule_id: u32,
        key: &str,
        v: &Value,
    ) -> u32 {
        let detail = detail_of(self.scratch, self.texts, key, v);
        self.log(kind, step, schedule_id, detail)
    }

    fn task_ref(&self, task: u32) -> TaskRef {
        TaskRef {
            exec: self.x.id,
            task,
        }
    }

    fn steps(&self, list: BlockList) -> &[StepId] {
        let flow = self.flow;
        match list {
            BlockList::Body => &flow.body,
            BlockList::Choice(step, i) => match &flow.step(step).kind {
                StepKind::Choice(c) if i == usize::MAX => {
                    c.default.as_ref().map_or(&[], |d| &d.steps)
                }
                StepKind::Choice(c) => c.choices.get(i).map_or(&[], |b| &b.branch.steps),
                _ => &[],
            },
            BlockList::Parallel(step, i) => match &flow.step(step).kind {
                StepKind::Parallel(p) => p.branches.get(i).map_or(&[], |b| b.as_slice()),
                _ => &[],
            },
            BlockList::Foreach(step) => match &flow.step(step).kind {
                StepKind::Foreach(f) => &f.steps,
                _ => &[],
            },
        }
    }

    fn block(&mut self, b: usize) -> Option<&mut Block> {
        self.run.blocks.get_mut(b).and_then(Option::as_mut)
    }

    /// Starts walking the flow body with the execution's `input` (shared
    /// with other executions started with the same text).
    pub(super) fn start(&mut self, input: Arc<Value>) {
        let input = if self.flow.input_mappings.is_empty() {
            input
        } else {
            let ctx = self.context("", None);
            Arc::new(mapping::apply(
                &self.flow.input_mappings,
                &input,
                &Value::Object(Map::new()),
                &ctx,
            ))
        };
        // A state machine pipes: the first state's raw input is the
        // execution's input (see `pipe`).
        let local = if self.flow.lang.pipes() {
            self.run.exec_input = Some(input.clone());
            (*input).clone()
        } else {
            Value::Object(Map::new())
        };
        self.run.blocks.push(Some(Block {
            list: BlockList::Body,
            parent: None,
            pos: 0,
            input,
            iteration: None,
            local,
            current: None,
        }));
        self.run_block(0);
    }

    fn context<'s>(&'s self, step: &'s str, token: Option<&'s str>) -> Context<'s> {
        Context {
            flow: &self.flow.name,
            execution: &self.x.name,
            step,
            token,
        }
    }

    /// Walks block `b` until a step suspends it, it ends, or the execution
    /// ends.
    fn run_block(&mut self, b: usize) {
        let mut b = b;
        loop {
            if self.run.ended.is_some() || self.run.over_limit.is_some() {
                return;
            }
            let Some(block) = self.block(b) else { return };
            if block.current.is_some() {
                return; // suspended
            }
            let (list, pos) = (block.list, block.pos);
            let Some(&step) = self.steps(list).get(pos) else {
                self.finish_block(b);
                // A finished child hands over the block to run next (the
                // next iteration, or its parent) as a tail call: looping here
                // instead of recursing keeps the stack flat when thousands
                // of iterations finish in one operation.
                match self.tail.take() {
                    Some(next) => {
                        b = next;
                        continue;
                    }
                    None => return,
                }
            };
            self.enter_step(b, step);
        }
    }

    fn enter_step(&mut self, b: usize, step_id: StepId) {
        let flow = self.flow;
        let step = flow.step(step_id);
        let entered = self.next_event_id();
        // A waitForCallback task's token names its TaskScheduled event, which
        // comes right after StepEntered; it must exist before input mapping
        // so `$context.task.token` can read it.
        let token = match &step.kind {
            StepKind::Task(t) if t.pattern == Pattern::WaitForCallback => {
                Some(
                    self.key
                        .mint(&flow.name, &self.x.name, self.x.id.0, entered + 1),
                )
            }
            _ => None,
        };
        if self.block(b).is_none() {
            return;
        }
        let (input, failed) = match self.step_input(b, step_id, token.as_deref(), 0) {
            Ok(input) => (input, None),
            Err((raw, e)) => (raw, Some(e)),
        };
        let detail = detail_of(self.scratch, self.texts, "input", &input);
        let limit = flow.lang.data_limit();
        let too_large = detail.len() > limit + 10;
        self.log(EventType::StepEntered, Some(step_id), 0, detail);
        if let Some(block) = self.block(b) {
            block.current = Some(Current {
                step: step_id,
                input: Arc::new(input),
                entered,
                attempts: Vec::new(),
                task: None,
                timer: None,
                children: None,
            });
        }
        if let Some(e) = failed {
            self.fail_step(b, e);
            return;
        }
        if too_large {
            let cause = format!(
                "the input of step `{}` is larger than {limit} bytes",
                step.name
            );
            self.fail_step(
                b,
                TaskError {
                    error: DATA_LIMIT_ERROR.into(),
                    cause,
                },
            );
            return;
        }
        self.begin(b, step_id, token);
    }

    /// Does what the current step of block `b` does, on its input (when it
    /// is entered, and again when a Parallel or Map is retried).
    fn begin(&mut self, b: usize, step_id: StepId, token: Option<String>) {
        let flow = self.flow;
        let step = flow.step(step_id);
        match &step.kind {
            StepKind::Pass => self.complete_step(b, Value::Object(Map::new())),
            // A state machine's Succeed ends its scope (the flow, a branch,
            // an iteration) with its input: it is a state with `End`.
            StepKind::Succeed if flow.lang.pipes() => {
                self.complete_step(b, Value::Object(Map::new()));
            }
            StepKind::Succeed => {
                self.complete_step(b, Value::Object(Map::new()));
                // Like `return`: the flow ends now, successfully, with what
                // it has so far; what encloses the step closes first.
                self.close_around_succeed(b, step_id);
                self.finish_block(0);
            }
            StepKind::Fail(f) => {
                let err = TaskError {
                    error: f.error.clone(),
                    cause: f.cause.clone(),
                };
                self.fail_step(b, err);
            }
            StepKind::Task(task) => self.start_task(b, step_id, task, token),
            StepKind::Wait(w) => self.start_wait(b, step_id, w),
            StepKind::Choice(c) => self.start_choice(b, step_id, c),
            StepKind::Parallel(p) => {
                let n = p.branches.len();
                self.spawn_children(b, step_id, n, Vec::new());
            }
            StepKind::Foreach(f) => {
                let Some(cur) = self.block(b).and_then(|bl| bl.current.as_ref()) else {
                    return;
                };
                let input = cur.input.clone();
                let found = match &f.collection {
                    Items::Path(p) => p.lookup(&input).ok_or(None),
                    Items::Expr(e) => self
                        .with_scope(step_id, &input, pipe::Extra::default(), |scope, rng| {
                            e.eval(scope, rng)
                        })
                        .map_err(|e| {
                            Some(pipe::eval_failed(&step.name, pipe::Place::ItemsPath, &e))
                        }),
                };
                match found {
                    Ok(Value::Array(items)) => {
                        let n = items.len();
                        self.spawn_children(b, step_id, n, items);
                    }
                    Err(Some(e)) => self.fail_step(b, e),
                    other => {
                        let found = match other {
                            Ok(v) => with_article(json_type(&v)),
                            Err(_) => "nothing".to_owned(),
                        };
                        let (what, kind) = if flow.lang.pipes() {
                            ("ItemsPath", "Map")
                        } else {
                            ("collection", "foreach")
                        };
                        let cause = format!(
                            "{kind} `{}`: {what} `{}` must be an array in the step input, found {found}",
                            step.name, f.collection
                        );
                        self.fail_step(
                            b,
                            TaskError {
                                error: "FnF.InvalidCollection".into(),
                                cause,
                            },
                        );
                    }
                }
            }
        }
    }

    fn start_wait(&mut self, b: usize, step: StepId, wait: &Wait) {
        let now_ms = self.ctx.wall_ms();
        if let (Wait::Expr(w), crate::fdl::Lang::StateMachine(mode)) = (wait, self.flow.lang) {
            let Some(input) = self
                .block(b)
                .and_then(|bl| bl.current.as_ref())
                .map(|c| c.input.clone())
            else {
                return;
            };
            let name = &self.flow.step(step).name;
            match self.with_scope(step, &input, pipe::Extra::default(), |scope, rng| {
                w.seconds(scope, mode, rng)
            }) {
                Ok(secs) => self.wait_for(b, secs.saturating_mul(1000)),
                // A value out of range is a bad wait, as in FDL; an
                // expression that cannot be evaluated, an expression error.
                Err(e) => {
                    let mut err = pipe::eval_failed(name, pipe::Place::Seconds, &e);
                    if matches!(e.reason, crate::cloudflow::EvalReason::Field { .. }) {
                        err.error = "FnF.InvalidWait".into();
                    }
                    self.fail_step(b, err)
                }
            }
            return;
        }
        let Some(cur) = self.block(b).and_then(|bl| bl.current.as_ref()) else {
            return;
        };
        let delay: Result<u64, String> = match wait {
            Wait::Expr(_) => Err("a CloudFlow `Seconds.$` in an FDL flow".to_owned()),
            Wait::DurationSeconds(s) => wait_ms(*s, &s.to_string(), ""),
            Wait::TimestampMillis(t) => until_ms(*t, now_ms, "timestamp", ""),
            Wait::DurationPath(p) => match p.lookup(&cur.input) {
                Some(Value::Number(n)) if n.as_f64().is_some_and(|s| s >= 0.0) => wait_ms(
                    n.as_f64().unwrap_or(0.0),
                    &n.to_string(),
                    &format!(" `{p}`"),
                ),
                other => Err(format!(
                    "wait duration `{p}` is not a non-negative number: found {}",
                    found_json(other.as_ref())
                )),
            },
            Wait::TimestampPath(p) => match p.lookup(&cur.input) {
                Some(Value::String(s)) => {
                    match time::OffsetDateTime::parse(
                        &s,
                        &time::format_description::well_known::Rfc3339,
                    ) {
                        Ok(t) => until_ms(
                            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
                            now_ms,
                            "timestamp",
                            &format!(" `{p}`"),
                        ),
                        Err(e) => Err(format!("wait timestamp `{p}` is not RFC 3339: {e}")),
                    }
                }
                other => Err(format!(
                    "wait timestamp `{p}` is not a string: found {}",
                    found_json(other.as_ref())
                )),
            },
        };
        match delay {
            Err(cause) => self.fail_step(
                b,
                TaskError {
                    error: "FnF.InvalidWait".into(),
                    cause,
                },
            ),
            Ok(ms) => self.wait_for(b, ms),
        }
    }

    /// The current step of block `b` waits `ms` (none: it completes now).
    fn wait_for(&mut self, b: usize, ms: u64) {
        let Some(entered) = self
            .block(b)
            .and_then(|bl| bl.current.as_ref())
            .map(|c| c.entered)
        else {
            return;
        };
        if ms == 0 {
            self.complete_step(b, Value::Object(Map::new()));
            return;
        }
        let key = self.ctx.send(
            ms,
            Component::Engine,
            Component::Engine,
            Msg::Timer(self.task_ref(entered)),
        );
        if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
            cur.timer = Some(key);
        }
    }

    fn current_step(&mut self, b: usize) -> Option<(StepId, u32)> {
        self.block(b)
            .and_then(|bl| bl.current.as_ref())
            .map(|c| (c.step, c.entered))
    }

    /// A wait elapsed or a retry interval passed (`id` is the StepEntered id).
    pub(super) fn timer(&mut self, id: u32) {
        let found = self.run.blocks.iter().position(|bl| {
            bl.as_ref()
                .and_then(|bl| bl.current.as_ref())
                .is_some_and(|c| c.entered == id && c.task.is_none())
        });
        let Some(b) = found else { return };
        let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) else {
            return;
        };
        cur.timer = None;
        let step_id = cur.step;
        let flow = self.flow;
        match &flow.step(step_id).kind {
            StepKind::Wait(_) => {
                self.complete_step(b, Value::Object(Map::new()));
                self.run_block(b);
            }
            StepKind::Task(task) => {
                // A retry, with a fresh token. FDL maps the input again; a
                // state keeps its `$Input` (its raw input is gone: the
                // state's output will replace it).
                let scheduled = self.next_event_id();
                let token = (task.pattern == Pattern::WaitForCallback).then(|| {
                    self.key
                        .mint(&flow.name, &self.x.name, self.x.id.0, scheduled)
                });
                if !flow.lang.pipes()
                    && let Ok(input) = self.step_input(b, step_id, token.as_deref(), 0)
                    && let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut())
                {
                    cur.input = Arc::new(input);
                }
                self.start_task(b, step_id, task, token);
            }
            // A Parallel or Map retried (CloudFlow): it runs again.
            StepKind::Parallel(_) | StepKind::Foreach(_) => self.begin(b, step_id, None),
            _ => {}
        }
    }

    /// The current step of block `b` succeeded with `local`: map its output,
    /// merge it into the block's local and move on (the caller resumes the
    /// block).
    fn complete_step(&mut self, b: usize, local: Value) {
        let flow = self.flow;
        let Some(cur) = self.block(b).and_then(|bl| bl.current.take()) else {
            return;
        };
        let step = flow.step(cur.step);
        let output = if flow.lang.pipes() {
            match self.state_output(step, &cur.input, local) {
                Ok(v) => v,
                Err(e) => {
                    // Put the step back so it can fail like any other.
                    if let Some(block) = self.block(b) {
                        block.current = Some(cur);
                    }
                    self.fail_step(b, e);
                    return;
                }
            }
        } else {
            let ctx = Context {
                flow: &flow.name,
                execution: &self.x.name,
                step: &step.name,
                token: None,
            };
            mapping::step_output(
                step.output_mappings.as_deref(),
                &step.kind,
                &cur.input,
                local,
                &ctx,
            )
        };
        let detail = detail_of(self.scratch, self.texts, "output", &output);
        let limit = flow.lang.data_limit();
        if detail.len() > limit + 11 {
            // Put the step back so it can fail like any other.
            if let Some(block) = self.block(b) {
                block.current = Some(cur);
            }
            let cause = format!(
                "the output of step `{}` is larger than {limit} bytes",
                step.name
            );
            self.fail_step(
                b,
                TaskError {
                    error: DATA_LIMIT_ERROR.into(),
                    cause,
                },
            );
            return;
        }
        self.log(EventType::StepExited, Some(cur.step), cur.entered, detail);
        let Some(list) = self.block(b).map(|bl| bl.list) else {
            return;
        };
        let steps = self.steps(list);
        let pos = match step.next {
            // A state's `Next` is a state of the same scope.
            Some(next) => steps.iter().position(|&s| s == next).unwrap_or(steps.len()),
            None if step.end => steps.len(),
            None => self.block(b).map_or(0, |bl| bl.pos + 1),
        };
        if let Some(block) = self.block(b) {
            if flow.lang.pipes() {
                block.local = output;
            } else {
                mapping::merge(&mut block.local, output);
            }
            block.pos = pos;
        }
    }

    /// Block `b` walked past its last step.
    fn finish_block(&mut self, b: usize) {
        let Some(block) = self.run.blocks.get_mut(b).and_then(Option::take) else {
            return;
        };
        if let Some((pb, slot)) = block.parent {
            self.child_finished(pb, block.list, slot, block.local);
            return;
        }
        // The root block: the flow's local is complete.
        let output = if self.flow.output_mappings.is_empty() {
            block.local
        } else {
            let ctx = self.context("", None);
            mapping::apply(&self.flow.output_mappings, &block.input, &block.local, &ctx)
        };
        // Serialised once: the detail, and the execution's output inside it.
        let detail = detail_of(self.scratch, self.texts, "output", &output);
        let text = self.texts.text(detail_field(&detail, "output"));
        self.log(EventType::ExecutionSucceeded, None, 1, detail);
        self.end(Status::Succeeded, Some(text), None);
    }

    /// Ends the execution: records the outcome and cancels every timer.
    pub(super) fn end(
        &mut self,
        status: Status,
        output: Option<Arc<str>>,
        error: Option<ErrorInfo>,
    ) {
        if self.run.ended.is_some() {
            return;
        }
        self.run.ended = Some(status);
        // Retained from now on: no room for events that will never come
        // (a no-op when the history filled its capacity exactly).
        self.x.history.shrink_to_fit();
        self.x.output = output;
        self.x.error = error.map(Box::new);
        self.x.stopped = Some(self.ctx.now);
        if let Some(k) = self.run.flow_timer.take() {
            self.ctx.cancel(k);
        }
        for block in self.run.blocks.iter_mut().flatten() {
            if let Some(k) = block.current.as_mut().and_then(|c| c.timer.take()) {
                self.ctx.cancel(k);
            }
        }
        self.run.tasks.clear();
        for (_, exec) in std::mem::take(&mut self.run.children) {
            let cause = format!("its parent execution `{}` ended {status}", self.x.name);
            self.run.cancel.push(Cancel {
                exec,
                error: SUBFLOW_CANCELLED,
                cause,
            });
        }
    }
}
