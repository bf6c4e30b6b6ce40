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

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::detail::{
    detail_field, detail_of, found_json, json_of, json_type, param_text, param_value, until_ms,
    utf8, wait_ms, with_article, write_json, write_json_str,
};
use super::history::{EventType, HistoryEvent};
use super::mapping::{self, Context};
use super::subflow::{SUBFLOW_CANCELLED, subflow_request};
use super::token::TokenKey;
use super::{
    CANCELLED, CONDITION_ERROR, DATA_LIMIT, DATA_LIMIT_ERROR, EVENT_LIMIT, EVENT_LIMIT_ERROR,
    ErrorInfo, Execution, FOREACH_CONCURRENCY, Status, TASK_TIMEOUT,
};
use crate::fdl::{Choice, Flow, ParamValue, Pattern, Resource, StepId, StepKind, Task, Wait};
use crate::kernel::{Component, Ctx, Dest, EnvelopeKey, ExecId, Msg, TaskError, TaskRef};

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
    /// Set when the execution ended during an operation.
    pub(super) ended: Option<Status>,
    /// Set by [`Machine::log`] when the history came within
    /// [`EVENT_MARGIN`] of [`EVENT_LIMIT`], with the step of that event:
    /// no more blocks run, and the execution fails when the operation
    /// ends (see [`Machine::check_event_limit`]).
    over_limit: Option<Option<StepId>>,
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
    pub(super) scratch: &'a mut Vec<u8>,
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
        detail: impl Into<Box<str>>,
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
        let detail = detail_of(self.scratch, key, v);
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

    pub(super) fn start(&mut self, input: Value) {
        let input = if self.flow.input_mappings.is_empty() {
            input
        } else {
            let ctx = self.context("", None);
            mapping::apply(
                &self.flow.input_mappings,
                &input,
                &Value::Object(Map::new()),
                &ctx,
            )
        };
        self.run.blocks.push(Some(Block {
            list: BlockList::Body,
            parent: None,
            pos: 0,
            input: Arc::new(input),
            iteration: None,
            local: Value::Object(Map::new()),
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
        let Some(block) = self.run.blocks.get(b).and_then(Option::as_ref) else {
            return;
        };
        let ctx = Context {
            flow: &flow.name,
            execution: &self.x.name,
            step: &step.name,
            token: token.as_deref(),
        };
        let input = mapping::step_input_in(
            step.input_mappings.as_deref(),
            block.input_view(flow),
            &block.local,
            &ctx,
        );
        let detail = detail_of(self.scratch, "input", &input);
        let too_large = detail.len() > DATA_LIMIT + 10;
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
        if too_large {
            let cause = format!(
                "the input of step `{}` is larger than {DATA_LIMIT} bytes",
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
        match &step.kind {
            StepKind::Pass => self.complete_step(b, Value::Object(Map::new())),
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
                match f.collection.lookup(&cur.input) {
                    Some(Value::Array(items)) => {
                        let n = items.len();
                        self.spawn_children(b, step_id, n, items);
                    }
                    other => {
                        let found = match other {
                            None => "nothing".to_owned(),
                            Some(v) => with_article(json_type(&v)),
                        };
                        let cause = format!(
                            "foreach `{}`: collection `{}` must be an array in the step input, found {found}",
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

    /// Evaluates a choice's conditions on its input, in order, and runs the
    /// first true one's steps (or the default's). With no match and no
    /// default the step completes at once and the flow moves on.
    fn start_choice(&mut self, b: usize, step_id: StepId, c: &Choice) {
        let flow = self.flow;
        let Some(cur) = self.block(b).and_then(|bl| bl.current.as_ref()) else {
            return;
        };
        let mut taken = None;
        for (i, branch) in c.choices.iter().enumerate() {
            match branch.condition.eval(&cur.input) {
                Ok(true) => {
                    taken = Some(i);
                    break;
                }
                Ok(false) => {}
                Err(e) => {
                    let cause = format!(
                        "choice `{}`, condition `{}`: {e}",
                        flow.step(step_id).name,
                        branch.condition.source
                    );
                    self.fail_step(
                        b,
                        TaskError {
                            error: CONDITION_ERROR.into(),
                            cause,
                        },
                    );
                    return;
                }
            }
        }
        let slot = match (taken, &c.default) {
            (Some(i), _) => i,
            (None, Some(_)) => usize::MAX,
            (None, None) => {
                self.complete_step(b, Value::Object(Map::new()));
                return;
            }
        };
        if self.steps(BlockList::Choice(step_id, slot)).is_empty() {
            self.finish_choice(b, step_id, slot, Value::Object(Map::new()));
            return;
        }
        if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
            cur.children = Some(Box::new(Children {
                results: vec![Value::Null],
                ..Children::default()
            }));
        }
        let child = self.spawn_child(b, step_id, slot);
        self.run_block(child);
    }

    /// A choice's taken branch (`slot`, `usize::MAX` for the default) ended
    /// with `local`: complete the step, then follow the branch's `goto`.
    fn finish_choice(&mut self, b: usize, step_id: StepId, slot: usize, local: Value) {
        let goto = match &self.flow.step(step_id).kind {
            StepKind::Choice(c) if slot == usize::MAX => c.default.as_ref().and_then(|d| d.goto),
            StepKind::Choice(c) => c.choices.get(slot).and_then(|x| x.branch.goto),
            _ => None,
        };
        self.complete_step(b, local);
        let Some(target) = goto else { return };
        let Some(list) = self
            .block(b)
            .filter(|bl| bl.current.is_none())
            .map(|bl| bl.list)
        else {
            return;
        };
        // Validation resolved `goto` to a sibling, so it is in this list.
        let pos = self.steps(list).iter().position(|&s| s == target);
        if let (Some(block), Some(pos)) = (self.block(b), pos) {
            block.pos = pos;
        }
    }

    /// Starts the child blocks of a parallel (`items` empty) or foreach
    /// step. Foreach runs at most [`FOREACH_CONCURRENCY`] iterations at once.
    fn spawn_children(&mut self, b: usize, step: StepId, n: usize, items: Vec<Value>) {
        if n == 0 {
            self.complete_step(b, Value::Array(Vec::new()));
            return;
        }
        let is_foreach = !items.is_empty();
        let first = if is_foreach {
            n.min(FOREACH_CONCURRENCY)
        } else {
            n
        };
        if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
            cur.children = Some(Box::new(Children {
                results: vec![Value::Null; n],
                running: 0,
                next: first,
                items,
            }));
        }
        let mut ids = Vec::with_capacity(first);
        for slot in 0..first {
            // Past the event limit the execution is about to fail: log no
            // more entries (see `Run::over_limit`).
            if self.run.over_limit.is_some() {
                break;
            }
            ids.push(self.spawn_child(b, step, slot));
        }
        for c in ids {
            self.run_block(c);
        }
    }

    /// Creates one child block (branch or iteration `slot`) of the current
    /// step of block `b`, logging its entry. The caller runs it.
    fn spawn_child(&mut self, b: usize, step: StepId, slot: usize) -> usize {
        let flow = self.flow;
        let Some(cur) = self
            .run
            .blocks
            .get_mut(b)
            .and_then(Option::as_mut)
            .and_then(|bl| bl.current.as_mut())
        else {
            return usize::MAX;
        };
        let entered = cur.entered;
        // Shared, not copied (see `Block::input`).
        let input = cur.input.clone();
        let mut iteration = None;
        let (list, detail) = match &flow.step(step).kind {
            StepKind::Foreach(_) => {
                // Each slot starts once: its item moves into the iteration.
                let item = cur
                    .children
                    .as_mut()
                    .and_then(|ch| ch.items.get_mut(slot))
                    .map(std::mem::take)
                    .unwrap_or(Value::Null);
                // Only the index and the item: logging the whole step input
                // per iteration made a foreach's history grow with the
                // square of its collection. The iteration's full input shows
                // in its first step's StepEntered.
                let buf = &mut *self.scratch;
                buf.clear();
                buf.extend_from_slice(format!("{{\"index\":{slot},\"item\":").as_bytes());
                write_json(buf, &item);
                buf.push(b'}');
                let detail = utf8(buf);
                iteration = Some(Box::new((item, Value::from(slot))));
                (
                    BlockList::Foreach(step),
                    Some((EventType::IterationEntered, detail)),
                )
            }
            // A choice runs one branch: its StepEntered says enough.
            StepKind::Choice(_) => (BlockList::Choice(step, slot), None),
            _ => {
                let buf = &mut *self.scratch;
                buf.clear();
                buf.extend_from_slice(format!("{{\"branch\":{slot},\"input\":").as_bytes());
                write_json(buf, &input);
                buf.push(b'}');
                let detail = utf8(buf);
                (
                    BlockList::Parallel(step, slot),
                    Some((EventType::BranchEntered, detail)),
                )
            }
        };
        if let Some(ch) = cur.children.as_mut() {
            ch.running += 1;
        }
        if let Some((kind, detail)) = detail {
            self.log(kind, Some(step), entered, detail);
        }
        let block = Block {
            list,
            parent: Some((b, slot)),
            pos: 0,
            input,
            iteration,
            local: Value::Object(Map::new()),
            current: None,
        };
        match self.run.blocks.iter().position(Option::is_none) {
            Some(i) => {
                self.run.blocks[i] = Some(block);
                i
            }
            None => {
                self.run.blocks.push(Some(block));
                self.run.blocks.len() - 1
            }
        }
    }

    fn start_wait(&mut self, b: usize, step: StepId, wait: &Wait) {
        let now_ms = self.ctx.wall_ms();
        let Some(cur) = self.block(b).and_then(|bl| bl.current.as_ref()) else {
            return;
        };
        let delay: Result<u64, String> = match wait {
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
            Ok(0) => self.complete_step(b, Value::Object(Map::new())),
            Ok(ms) => {
                let entered = cur.entered;
                let key = self.ctx.send(
                    ms,
                    Component::Engine,
                    Component::Engine,
                    Msg::Timer(self.task_ref(entered)),
                );
                let _ = step;
                if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
                    cur.timer = Some(key);
                }
            }
        }
    }

    /// Schedules one attempt of a task step.
    ///
    /// Hot path: the mapped input is serialised once per attempt (on the
    /// first attempt it is already in the StepEntered detail) and that text
    /// is reused for `$` in the TaskScheduled detail, the message body and
    /// the invocation payload; the detail is written straight into the
    /// scratch buffer.
    fn start_task(&mut self, b: usize, step_id: StepId, task: &Task, token: Option<String>) {
        let flow = self.flow;
        let step = flow.step(step_id);
        let scheduled = self.next_event_id();
        let Some(cur) = self
            .run
            .blocks
            .get(b)
            .and_then(Option::as_ref)
            .and_then(|bl| bl.current.as_ref())
        else {
            return;
        };
        let entered = cur.entered;
        // The first attempt's TaskScheduled comes right after StepEntered,
        // whose detail is `{"input": <this input>}`; a retry mapped a fresh
        // input (new token) and serialises it.
        let logged = (scheduled == entered + 1)
            .then(|| self.x.history.get(entered as usize - 1))
            .flatten()
            .filter(|e| e.kind == EventType::StepEntered)
            .map(|e| detail_field(&e.detail, "input"));
        let fresh: Box<str>;
        let text: &str = match logged {
            Some(t) => t,
            None => {
                fresh = json_of(self.scratch, &cur.input);
                &fresh
            }
        };
        let mut buf = std::mem::take(self.scratch);
        buf.clear();
        buf.extend_from_slice(b"{\"resourceArn\":");
        write_json_str(&mut buf, &task.resource_arn);
        buf.extend_from_slice(b",\"pattern\":");
        write_json_str(&mut buf, task.pattern.as_str());
        if let Some(t) = task.timeout_seconds {
            buf.extend_from_slice(b",\"timeoutSeconds\":");
            buf.extend_from_slice(t.to_string().as_bytes());
        }
        buf.extend_from_slice(b",\"serviceParams\":{");
        for (i, (k, p)) in task.service_params.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write_json_str(&mut buf, k);
            buf.push(b':');
            match p {
                ParamValue::Path(path) if path.segments.is_empty() && cur.input.is_object() => {
                    buf.extend_from_slice(text.as_bytes());
                }
                ParamValue::Path(path) => {
                    write_json(&mut buf, &path.lookup(&cur.input).unwrap_or(Value::Null));
                }
                ParamValue::Const(c) => write_json(&mut buf, c),
            }
        }
        buf.extend_from_slice(b"}}");
        let scheduled_detail = utf8(&buf);
        *self.scratch = buf;
        // What the resource receives, from the same text.
        let params = &task.service_params;
        let action = match &task.resource {
            Resource::MnsTopic { .. } | Resource::MnsQueue { .. } => Action::Publish {
                body: param_text(params, "MessageBody", &cur.input, text)
                    .map(|t| Arc::from(&*t))
                    .unwrap_or_else(|| Arc::from("")),
                tag: param_text(params, "MessageTag", &cur.input, text)
                    .filter(|t| !t.is_empty())
                    .map(|t| t.into_owned().into_boxed_str()),
                // Absent: the queue's default delay; an explicit 0: none.
                delay_seconds: param_value(params, "DelaySeconds", &cur.input)
                    .and_then(|v| v.as_u64()),
            },
            Resource::Function { .. } => Action::Invoke(Arc::from(text)),
            Resource::Flow { .. } => {
                let params = mapping::service_params(params, &cur.input);
                Action::Subflow(subflow_request(
                    &params,
                    text.to_owned(),
                    &self.x.name,
                    &step.name,
                    scheduled,
                ))
            }
        };
        self.log(
            EventType::TaskScheduled,
            Some(step_id),
            entered,
            scheduled_detail,
        );
        let started_detail = match &token {
            // A token is base64: nothing in it needs escaping.
            Some(t) => format!("{{\"taskToken\":\"{t}\"}}"),
            None => "{}".to_owned(),
        };
        self.log(
            EventType::TaskStarted,
            Some(step_id),
            scheduled,
            started_detail,
        );
        let tref = self.task_ref(scheduled);
        self.run.tasks.push((scheduled, b));
        let timer = task.timeout_seconds.map(|t| {
            self.ctx.send(
                t.saturating_mul(1000),
                Component::Engine,
                Component::Engine,
                Msg::TaskTimeout(tref),
            )
        });
        if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
            cur.task = Some(scheduled);
            cur.timer = timer;
        }
        match (&task.resource, action) {
            (
                Resource::MnsTopic { .. } | Resource::MnsQueue { .. },
                Action::Publish {
                    body,
                    tag,
                    delay_seconds,
                },
            ) => {
                let dest = match &task.resource {
                    Resource::MnsQueue { queue } => Dest::Queue(queue.clone()),
                    Resource::MnsTopic { topic } => Dest::Topic(topic.clone()),
                    _ => return,
                };
                self.ctx.send(
                    0,
                    Component::Engine,
                    Component::Mns,
                    Msg::Publish {
                        dest,
                        body,
                        tag,
                        delay_seconds,
                        origin: Some(tref),
                    },
                );
            }
            (
                Resource::Function {
                    service, function, ..
                },
                Action::Invoke(payload),
            ) => {
                self.ctx.send(
                    0,
                    Component::Engine,
                    Component::Fc,
                    Msg::Invoke {
                        task: tref,
                        function: format!("{service}/{function}").into(),
                        payload,
                    },
                );
            }
            (Resource::Flow { flow: child }, Action::Subflow(request)) => match request {
                Ok((name, input)) => {
                    self.ctx.send(
                        0,
                        Component::Engine,
                        Component::Engine,
                        Msg::StartSubflow {
                            task: tref,
                            step: step_id,
                            pattern: task.pattern,
                            flow: child.as_str().into(),
                            name: name.into(),
                            input: input.into(),
                        },
                    );
                }
                Err(cause) => {
                    self.task_failed(
                        scheduled,
                        TaskError {
                            error: "FnF.InvalidArgument".into(),
                            cause,
                        },
                        EventType::TaskSubmitFailed,
                    );
                }
            },
            // `action` was made from `task.resource` above.
            _ => {}
        }
    }

    /// A sub-flow task's child execution started (`info` is the
    /// StartExecution-style result): requestResponse completes with it;
    /// sync and waitForCallback are submitted and wait for the child.
    pub(super) fn subflow_started(
        &mut self,
        task: u32,
        child: ExecId,
        info: Value,
        pattern: Pattern,
    ) {
        let Some(b) = self.pending(task) else { return };
        let Some((step, _)) = self.current_step(b) else {
            return;
        };
        if pattern == Pattern::RequestResponse {
            self.task_succeeded(task, info);
            return;
        }
        self.run.children.push((task, child));
        let detail = json_of(self.scratch, &info);
        self.log(EventType::TaskSubmitted, Some(step), task, detail);
    }

    /// The task attempt `task` ends without its child execution: stop the
    /// child (after this operation).
    fn cancel_child(&mut self, task: u32, error: &'static str, cause: String) {
        if let Some(i) = self.run.children.iter().position(|&(t, _)| t == task) {
            let (_, exec) = self.run.children.swap_remove(i);
            self.run.cancel.push(Cancel { exec, error, cause });
        }
    }

    /// Block and step of a task attempt in flight.
    fn pending(&self, task: u32) -> Option<usize> {
        self.run
            .tasks
            .iter()
            .find(|&&(t, _)| t == task)
            .map(|&(_, b)| b)
    }

    /// Forgets a task attempt: it is no longer in flight, its timer is off.
    fn settle(&mut self, task: u32) -> Option<usize> {
        let i = self.run.tasks.iter().position(|&(t, _)| t == task)?;
        let (_, b) = self.run.tasks.swap_remove(i);
        // Its child execution (if any) ended or reported: nothing to stop.
        self.run.children.retain(|&(t, _)| t != task);
        let mut timer = None;
        if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
            cur.task = None;
            timer = cur.timer.take();
        }
        if let Some(k) = timer {
            self.ctx.cancel(k);
        }
        Some(b)
    }

    fn current_step(&mut self, b: usize) -> Option<(StepId, u32)> {
        self.block(b)
            .and_then(|bl| bl.current.as_ref())
            .map(|c| (c.step, c.entered))
    }

    /// MNS accepted a publish, or a function returned. For waitForCallback
    /// tasks that only means the task was submitted; otherwise the task is
    /// done with `result` as its local.
    pub(super) fn submitted(
        &mut self,
        task: u32,
        result: Result<Value, TaskError>,
        fail_kind: EventType,
    ) {
        let Some(b) = self.pending(task) else { return };
        let Some((step, _)) = self.current_step(b) else {
            return;
        };
        let pattern = match &self.flow.step(step).kind {
            StepKind::Task(t) => t.pattern,
            _ => Pattern::RequestResponse,
        };
        match result {
            Err(e) => {
                self.task_failed(task, e, fail_kind);
            }
            Ok(local) if pattern == Pattern::WaitForCallback => {
                let detail = json_of(self.scratch, &local);
                self.log(EventType::TaskSubmitted, Some(step), task, detail);
            }
            Ok(local) => {
                self.task_succeeded(task, local);
            }
        }
    }

    /// A task attempt succeeded with `local`. Answers the TaskSucceeded id.
    pub(super) fn task_succeeded(&mut self, task: u32, local: Value) -> Option<u32> {
        let b = self.settle(task)?;
        let (step, _) = self.current_step(b)?;
        let id = self.log_value(EventType::TaskSucceeded, Some(step), task, "output", &local);
        self.complete_step(b, local);
        self.run_block(b);
        Some(id)
    }

    /// A task attempt failed. Answers the id of the failure event.
    pub(super) fn task_failed(
        &mut self,
        task: u32,
        err: TaskError,
        kind: EventType,
    ) -> Option<u32> {
        let b = self.settle(task)?;
        let (step, _) = self.current_step(b)?;
        let detail = json!({"error": err.error, "cause": err.cause}).to_string();
        let id = self.log(kind, Some(step), task, detail);
        self.fail_step(b, err);
        self.run_block(b);
        Some(id)
    }

    pub(super) fn task_timed_out(&mut self, task: u32) {
        let Some(b) = self.pending(task) else { return };
        if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
            cur.timer = None; // it just fired
        }
        let Some((step, _)) = self.current_step(b) else {
            return;
        };
        let secs = match &self.flow.step(step).kind {
            StepKind::Task(t) => t.timeout_seconds.unwrap_or(0),
            _ => 0,
        };
        let cause = format!(
            "its parent task `{}` of execution `{}` timed out after {secs} seconds",
            self.flow.step(step).name,
            self.x.name
        );
        self.cancel_child(task, TASK_TIMEOUT, cause);
        let err = TaskError {
            error: TASK_TIMEOUT.into(),
            cause: format!("task timed out after {secs} seconds without a callback"),
        };
        self.task_failed(task, err, EventType::TaskTimedOut);
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
                // A retry: map the input again, with a fresh token.
                let scheduled = self.next_event_id();
                let token = (task.pattern == Pattern::WaitForCallback).then(|| {
                    self.key
                        .mint(&flow.name, &self.x.name, self.x.id.0, scheduled)
                });
                let step = flow.step(step_id);
                if let Some(block) = self.run.blocks.get(b).and_then(Option::as_ref) {
                    let ctx = Context {
                        flow: &flow.name,
                        execution: &self.x.name,
                        step: &step.name,
                        token: token.as_deref(),
                    };
                    let input = mapping::step_input_in(
                        step.input_mappings.as_deref(),
                        block.input_view(flow),
                        &block.local,
                        &ctx,
                    );
                    if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
                        cur.input = Arc::new(input);
                    }
                }
                self.start_task(b, step_id, task, token);
            }
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
        let ctx = Context {
            flow: &flow.name,
            execution: &self.x.name,
            step: &step.name,
            token: None,
        };
        let output = mapping::step_output(
            step.output_mappings.as_deref(),
            &step.kind,
            &cur.input,
            local,
            &ctx,
        );
        let detail = detail_of(self.scratch, "output", &output);
        if detail.len() > DATA_LIMIT + 11 {
            // Put the step back so it can fail like any other.
            if let Some(block) = self.block(b) {
                block.current = Some(cur);
            }
            let cause = format!(
                "the output of step `{}` is larger than {DATA_LIMIT} bytes",
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
        let list_len = self
            .block(b)
            .map(|bl| bl.list)
            .map(|l| self.steps(l).len())
            .unwrap_or(0);
        if let Some(block) = self.block(b) {
            mapping::merge(&mut block.local, output);
            block.pos = if step.end { list_len } else { block.pos + 1 };
        }
    }

    /// The current step of block `b` failed: retry it, catch it, or fail the
    /// block (and so its parent, up to the execution).
    fn fail_step(&mut self, b: usize, err: TaskError) {
        let flow = self.flow;
        let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) else {
            return;
        };
        let step = flow.step(cur.step);
        if let StepKind::Task(task) = &step.kind {
            // Retry: the first policy whose errors match decides, counting
            // only the retries made under that policy.
            if let Some((i, policy)) = task
                .retry
                .iter()
                .enumerate()
                .find(|(_, p)| error_matches(&p.errors, &err.error))
                && cur.attempts.get(i).copied().unwrap_or(0) < policy.max_attempts
            {
                if cur.attempts.len() < task.retry.len() {
                    cur.attempts.resize(task.retry.len(), 0);
                }
                let made = cur.attempts[i];
                // The n-th retry of a policy waits
                // intervalSeconds * multiplier^(n-1), capped.
                let interval = (policy.interval_seconds as f64)
                    * policy.multiplier.powi(made.min(i32::MAX as u32) as i32);
                let interval = interval.min(policy.max_interval_seconds as f64);
                cur.attempts[i] = made + 1;
                let entered = cur.entered;
                let key = self.ctx.send(
                    (interval * 1000.0) as u64,
                    Component::Engine,
                    Component::Engine,
                    Msg::Timer(self.task_ref(entered)),
                );
                if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
                    cur.timer = Some(key);
                }
                return;
            }
        }
        let Some(cur) = self.block(b).and_then(|bl| bl.current.take()) else {
            return;
        };
        let detail = json!({"error": err.error, "cause": err.cause}).to_string();
        self.log(EventType::StepFailed, Some(cur.step), cur.entered, detail);
        if let StepKind::Task(task) = &step.kind
            && let Some(rule) = task
                .catch
                .iter()
                .find(|c| error_matches(&c.errors, &err.error))
        {
            let local = json!({"error": err.error, "cause": err.cause});
            let output = match &task.error_mappings {
                Some(m) => {
                    let ctx = Context {
                        flow: &flow.name,
                        execution: &self.x.name,
                        step: &step.name,
                        token: None,
                    };
                    mapping::apply(m, &cur.input, &local, &ctx)
                }
                None => Value::Object(Map::new()),
            };
            let list = self.block(b).map(|bl| bl.list);
            let target = list.and_then(|l| self.steps(l).iter().position(|&s| s == rule.goto));
            if let (Some(block), Some(target)) = (self.block(b), target) {
                mapping::merge(&mut block.local, output);
                block.pos = target;
                return;
            }
        }
        // Uncaught: the block fails, and with it its parent step (up to the
        // execution).
        let (parent, list) = match self.run.blocks[b].as_ref() {
            Some(bl) => (bl.parent, bl.list),
            None => (None, BlockList::Body),
        };
        self.drop_block(b);
        if let Some((pb, slot)) = parent {
            // The failed branch or iteration exits with the error, like
            // any other that ends.
            self.log_child_exit(pb, list, slot, &err.error, &err.cause);
        }
        match parent {
            None => {
                let detail = json!({"error": err.error, "cause": err.cause}).to_string();
                self.log(EventType::ExecutionFailed, None, 1, detail);
                self.end(
                    Status::Failed,
                    None,
                    Some(ErrorInfo {
                        error: err.error,
                        cause: err.cause,
                    }),
                );
            }
            Some((pb, slot)) => {
                // Siblings (other branches, iterations) are cancelled, and
                // say so in the history.
                let what = match list {
                    BlockList::Foreach(step) => {
                        format!(
                            "iteration {slot} of foreach `{}`",
                            self.flow.step(step).name
                        )
                    }
                    BlockList::Parallel(step, _) => {
                        format!("branch {slot} of parallel `{}`", self.flow.step(step).name)
                    }
                    BlockList::Choice(step, _) => {
                        format!("the branch of choice `{}`", self.flow.step(step).name)
                    }
                    BlockList::Body => "the flow body".to_owned(),
                };
                let cause = format!("cancelled: {what} failed with {}", err.error);
                self.cancel_children(pb, None, &cause);
                self.fail_step(pb, err);
                self.run_block(pb);
            }
        }
    }

    /// Fails the whole execution at once (limits).
    fn fail_execution(&mut self, error: &str, cause: String) {
        let detail = json!({"error": error, "cause": cause}).to_string();
        self.log(EventType::ExecutionFailed, None, 1, detail);
        self.end(
            Status::Failed,
            None,
            Some(ErrorInfo {
                error: error.to_owned(),
                cause,
            }),
        );
    }

    /// Removes a block, its descendants, their timers and tasks in flight.
    fn drop_block(&mut self, b: usize) {
        self.drop_children(b);
        let Some(block) = self.run.blocks.get_mut(b).and_then(Option::take) else {
            return;
        };
        if let Some(mut cur) = block.current {
            if let Some(k) = cur.timer.take() {
                self.ctx.cancel(k);
            }
            if let Some(t) = cur.task {
                self.run.tasks.retain(|&(x, _)| x != t);
                let cause = format!(
                    "its parent task `{}` of execution `{}` was cancelled",
                    self.flow.step(cur.step).name,
                    self.x.name
                );
                self.cancel_child(t, SUBFLOW_CANCELLED, cause);
            }
        }
    }

    /// Cancels every child block of block `b` (a sibling of theirs failed),
    /// logging it: the running step of each cancelled block, innermost
    /// first, gets `StepFailed` with [`CANCELLED`] and `cause`, and each
    /// cancelled branch or iteration gets `BranchExited`/`IterationExited`
    /// with the same error. Then the blocks are dropped.
    ///
    /// `except` (a child block) is left alone.
    fn cancel_children(&mut self, b: usize, except: Option<usize>, cause: &str) {
        let mut children: Vec<(usize, usize)> = self
            .run
            .blocks
            .iter()
            .enumerate()
            .filter_map(|(i, bl)| match bl.as_ref().and_then(|bl| bl.parent) {
                Some((p, slot)) if p == b && Some(i) != except => Some((slot, i)),
                _ => None,
            })
            .collect();
        // Branch/iteration order reads best, whatever slots blocks reuse.
        children.sort_unstable();
        for (slot, c) in children {
            self.cancel_children(c, None, cause);
            let Some(block) = self.run.blocks.get(c).and_then(Option::as_ref) else {
                continue;
            };
            let list = block.list;
            if let Some((step, entered)) = block.current.as_ref().map(|cur| (cur.step, cur.entered))
            {
                let detail = json!({"error": CANCELLED, "cause": cause}).to_string();
                self.log(EventType::StepFailed, Some(step), entered, detail);
            }
            self.drop_block(c);
            self.log_child_exit(b, list, slot, CANCELLED, cause);
        }
    }

    /// A succeed step in block `b` ends the flow: closes, in the history,
    /// everything still open around it, innermost first, so every
    /// `StepEntered`/`BranchEntered`/`IterationEntered` has its exit. The
    /// blocks enclosing the succeed step exit normally (`BranchExited` or
    /// `IterationExited` with their local, then the enclosing step's
    /// `StepExited` with the results so far, unmapped); every other open
    /// branch or iteration is cancelled as when a sibling fails
    /// (`StepFailed` [`CANCELLED`], then its exit with that error).
    fn close_around_succeed(&mut self, b: usize, succeed: StepId) {
        let cause = format!(
            "cancelled: succeed step `{}` ended the flow",
            self.flow.step(succeed).name
        );
        let mut child = b;
        while let Some((pb, slot)) = self
            .run
            .blocks
            .get(child)
            .and_then(Option::as_ref)
            .and_then(|bl| bl.parent)
        {
            self.cancel_children(pb, Some(child), &cause);
            self.drop_children(child);
            let Some(block) = self.run.blocks.get_mut(child).and_then(Option::take) else {
                break;
            };
            let Some(mut cur) = self.block(pb).and_then(|bl| bl.current.take()) else {
                break;
            };
            if let Some(k) = cur.timer.take() {
                self.ctx.cancel(k);
            }
            let exit = match block.list {
                BlockList::Foreach(_) => Some((EventType::IterationExited, "index")),
                BlockList::Parallel(..) => Some((EventType::BranchExited, "branch")),
                BlockList::Choice(..) | BlockList::Body => None,
            };
            if let Some((kind, key)) = exit {
                let detail = json!({key: slot, "output": &block.local}).to_string();
                self.log(kind, Some(cur.step), cur.entered, detail);
            }
            let mut results = cur.children.take().map(|c| c.results).unwrap_or_default();
            let output = match block.list {
                BlockList::Choice(..) => block.local,
                _ => {
                    if let Some(r) = results.get_mut(slot) {
                        *r = block.local;
                    }
                    Value::Array(results)
                }
            };
            self.log_value(
                EventType::StepExited,
                Some(cur.step),
                cur.entered,
                "output",
                &output,
            );
            child = pb;
        }
    }

    /// Logs that child `slot` (of `list`) of the current step of block `pb`
    /// ended with an error: `BranchExited` or `IterationExited` with
    /// `{branch|index, error, cause}`. A choice branch logs nothing (it has
    /// no `BranchEntered` either).
    fn log_child_exit(
        &mut self,
        pb: usize,
        list: BlockList,
        slot: usize,
        error: &str,
        cause: &str,
    ) {
        let (kind, key) = match list {
            BlockList::Foreach(_) => (EventType::IterationExited, "index"),
            BlockList::Parallel(..) => (EventType::BranchExited, "branch"),
            BlockList::Choice(..) | BlockList::Body => return,
        };
        let Some((step, entered)) = self.current_step(pb) else {
            return;
        };
        let detail = json!({key: slot, "error": error, "cause": cause}).to_string();
        self.log(kind, Some(step), entered, detail);
    }

    /// Removes every child block of block `b`.
    fn drop_children(&mut self, b: usize) {
        let children: Vec<usize> = self
            .run
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, bl)| {
                bl.as_ref()
                    .is_some_and(|bl| bl.parent.map(|p| p.0) == Some(b))
            })
            .map(|(i, _)| i)
            .collect();
        for c in children {
            self.drop_block(c);
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
        let detail = detail_of(self.scratch, "output", &output);
        let text = detail_field(&detail, "output").into();
        self.log(EventType::ExecutionSucceeded, None, 1, detail);
        self.end(Status::Succeeded, Some(text), None);
    }

    /// Child `slot` of the current step of block `pb` finished with `local`.
    fn child_finished(&mut self, pb: usize, list: BlockList, slot: usize, local: Value) {
        let Some(cur) = self.block(pb).and_then(|bl| bl.current.as_mut()) else {
            return;
        };
        let (step, entered) = (cur.step, cur.entered);
        let Some(ch) = cur.children.as_mut() else {
            return;
        };
        ch.running = ch.running.saturating_sub(1);
        let detail = format!(
            "{{\"{}\":{slot},\"output\":{local}}}",
            if matches!(list, BlockList::Foreach(_)) {
                "index"
            } else {
                "branch"
            }
        );
        // A choice runs one branch, kept at 0 whatever its index.
        let at = if matches!(list, BlockList::Choice(..)) {
            0
        } else {
            slot
        };
        if let Some(r) = ch.results.get_mut(at) {
            *r = local;
        }
        let next = (ch.next < ch.items.len()).then_some(ch.next);
        if next.is_some() {
            ch.next += 1;
        }
        let done = ch.running == 0 && next.is_none();
        match list {
            BlockList::Foreach(_) => {
                self.log(EventType::IterationExited, Some(step), entered, detail);
            }
            BlockList::Parallel(..) => {
                self.log(EventType::BranchExited, Some(step), entered, detail);
            }
            _ => {}
        }
        if let Some(slot) = next {
            let c = self.spawn_child(pb, step, slot);
            // Run by the caller's `run_block` loop (see there).
            self.tail = Some(c);
            return;
        }
        if done {
            let results = self
                .block(pb)
                .and_then(|bl| bl.current.as_mut())
                .and_then(|c| c.children.take())
                .map(|c| c.results)
                .unwrap_or_default();
            match list {
                // A choice's local is its branch's local.
                BlockList::Choice(step, slot) => {
                    let local = results
                        .into_iter()
                        .next()
                        .unwrap_or(Value::Object(Map::new()));
                    self.finish_choice(pb, step, slot, local);
                }
                _ => self.complete_step(pb, Value::Array(results)),
            }
            self.tail = Some(pb);
        }
    }

    /// Ends the execution: records the outcome and cancels every timer.
    pub(super) fn end(
        &mut self,
        status: Status,
        output: Option<Box<str>>,
        error: Option<ErrorInfo>,
    ) {
        if self.run.ended.is_some() {
            return;
        }
        self.run.ended = Some(status);
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

/// What a task attempt sends to its resource.
enum Action {
    Publish {
        body: Arc<str>,
        tag: Option<Box<str>>,
        delay_seconds: Option<u64>,
    },
    Invoke(Arc<str>),
    Subflow(Result<(String, String), String>),
}

/// Whether an error name matches a retry/catch `errors` list (`FnF.ALL`
/// matches everything).
pub fn error_matches(errors: &[String], error: &str) -> bool {
    errors.iter().any(|e| e == "FnF.ALL" || e == error)
}
