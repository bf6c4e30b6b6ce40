//! engine: executions of flows.
//!
//! Owns the flows added to the simulation, every [`Execution`] (retained
//! after it ends, with its history) and the live state of running ones. It
//! talks to MNS and the function only through envelopes on the bus, and
//! never imports a front end.
//!
//! An execution runs as a tree of *blocks*: a block is a list of steps
//! being walked (the flow body, a choice branch, a parallel branch, a
//! foreach iteration) with its own input and local. A step either completes
//! at once (pass, succeed, a zero wait) or suspends its block until an
//! envelope arrives (a publish receipt, a callback, a timer).
//!
//! Sub-flow tasks (`acs:fnf:::flow/{name}`) start child executions of
//! another loaded flow through an envelope the engine sends itself, so each
//! operation still touches one execution: requestResponse completes with the
//! StartExecution-style result, sync waits for the child's end, and
//! waitForCallback hands the child the task's token as its callback token
//! (the child reports to it when it ends). A parent task that ends without
//! its child (timeout, cancelled branch, parent execution ended) stops the
//! child once the operation is over. Nesting is bounded by
//! [`SUBFLOW_DEPTH_LIMIT`], and the executions one root execution's tree
//! may start in all by [`SUBFLOW_TREE_LIMIT`].
//!
//! This file keeps the [`Engine`] and its public API (flows, starting,
//! reporting to and stopping executions, the envelopes addressed to the
//! engine, queries), the public limits and error names, and the re-exports.
//! The rest lives in `engine/`: `execution` (what an execution is, and the
//! naming rule), `index` (lookup by name and by id), `subflow` (sub-flow
//! tasks), `detail` (event-detail writers and parameter/time helpers),
//! and `machine` (the interpreter: one operation on one running
//! execution), whose task, fan-out and failure parts are in `machine/`.

mod detail;
mod execution;
pub mod history;
mod index;
mod intern;
mod machine;
pub mod mapping;
mod subflow;
pub mod token;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::RngCore;
use serde_json::{Map, Value, json};

pub use crate::kernel::{ExecId, FnfError, TaskRef};
use detail::{detail_field, detail_of};
pub use execution::{
    ErrorInfo, Execution, Origin, ParentTask, Status, is_valid_name, validate_execution_name,
};
pub use history::{Detail, EventType, HistoryEvent, StepState, step_states};
use index::{IdMap, NameIndex};
use intern::Interner;
pub use machine::error_matches;
use machine::{Cancel, Machine, Run};
pub use subflow::{
    SUBFLOW_CANCELLED, SUBFLOW_DEPTH_ERROR, SUBFLOW_DEPTH_LIMIT, SUBFLOW_TREE_ERROR,
    SUBFLOW_TREE_LIMIT, child_execution_name,
};
pub use token::{TokenError, TokenKey};

use crate::fdl::{Flow, Pattern, StepId, StepKind};
use crate::kernel::{Component, Ctx, Millis, Msg, TaskError};

/// Error name used when a task's `timeoutSeconds` elapses.
pub const TASK_TIMEOUT: &str = "FnF.TaskTimeout";
/// Error name recorded when a flow's `timeoutSeconds` elapses.
pub const FLOW_TIMEOUT: &str = "FnF.Timeout";

struct FlowEntry {
    flow: Arc<Flow>,
    executions: NameIndex,
    /// Names of this flow's executions evicted from memory (`--retain`)
    /// to a data file ([`Engine::keep_evicted`]), with the status they
    /// ended in: a name stays taken while its execution can still be
    /// read (a new start under it is `ExecutionAlreadyExists`, a stop
    /// `ExecutionAlreadyCompleted`). Names only, a few dozen bytes each.
    /// Without a data file an evicted execution is gone, name and all.
    evicted_names: HashMap<Box<str>, Status>,
}

/// The workflow engine.
pub struct Engine {
    flows: BTreeMap<String, FlowEntry>,
    execs: Vec<Execution>,
    runs: IdMap<Run>,
    key: TokenKey,
    counts: [usize; 6],
    /// Sub-flow executions started so far below each root execution (see
    /// [`SUBFLOW_TREE_LIMIT`]); roots without any are absent.
    descendants: IdMap<u32>,
    /// A buffer event details are serialised into, reused so each detail
    /// costs one exact allocation (the retained text).
    scratch: Vec<u8>,
    /// Operations that ended a task attempt or an execution (see
    /// [`Engine::task_ends`]).
    task_ends: u64,
    /// Short texts shared between executions (details, inputs, outputs).
    texts: Interner,
    /// The input the last execution started with, parsed: executions
    /// started with the same text (a bench, a client repeating itself)
    /// share its value and texts instead of parsing it again.
    last_input: Option<LastInput>,
    /// Room a report's task token is decoded into, reused.
    token_buf: String,
    /// The id the next execution gets (ids are never reused).
    next_id: u32,
    /// Most finished executions kept (see [`Engine::set_retention`]).
    retain: Option<usize>,
    /// Finished executions evicted so far.
    evicted: u64,
    /// With [`Engine::keep_evicted`]: the evicted executions, until taken.
    evicted_out: Option<Vec<Execution>>,
}

/// An input already parsed (see [`Engine::last_input`]).
struct LastInput {
    /// As given (trimmed).
    text: Box<str>,
    value: Arc<Value>,
    /// The ExecutionStarted detail.
    started: Detail,
    /// As stored on the execution (compact JSON).
    stored: Arc<str>,
}

impl Engine {
    /// An engine whose task tokens are signed with `key`.
    pub fn new(key: [u8; 32]) -> Engine {
        Engine {
            flows: BTreeMap::new(),
            execs: Vec::new(),
            runs: IdMap::default(),
            key: TokenKey::new(key),
            counts: [0; 6],
            descendants: IdMap::default(),
            scratch: Vec::with_capacity(1024),
            task_ends: 0,
            texts: Interner::default(),
            last_input: None,
            token_buf: String::new(),
            next_id: 0,
            retain: None,
            evicted: 0,
            evicted_out: None,
        }
    }

    /// Adds a flow; fails if one of that name exists.
    pub fn add_flow(&mut self, flow: Flow) -> Result<(), FnfError> {
        self.add_shared_flow(Arc::new(flow))
    }

    /// Adds a flow shared with other simulations (the flow test runner
    /// runs each case on its own simulation of the same flows).
    pub fn add_shared_flow(&mut self, flow: Arc<Flow>) -> Result<(), FnfError> {
        if self.flows.contains_key(&flow.name) {
            return Err(FnfError::FlowAlreadyExists(flow.name.clone()));
        }
        self.flows.insert(
            flow.name.clone(),
            FlowEntry {
                flow,
                executions: NameIndex::default(),
                evicted_names: HashMap::new(),
            },
        );
        Ok(())
    }

    /// Replaces a flow's definition (`UpdateFlow`): executions started from
    /// now on run `flow`; running ones keep the definition they started
    /// with (each holds its own `Arc`), and every execution stays findable
    /// by name under the flow. Answers the definition replaced.
    pub fn replace_flow(&mut self, flow: Arc<Flow>) -> Result<Arc<Flow>, FnfError> {
        let entry = self
            .flows
            .get_mut(&flow.name)
            .ok_or_else(|| FnfError::FlowNotExists(flow.name.clone()))?;
        Ok(std::mem::replace(&mut entry.flow, flow))
    }

    /// Whether `x` is an execution of the flow named `flow` as it is now:
    /// found under that name, whatever definition it runs (an `UpdateFlow`
    /// changes the definition, not the flow), and not one of a deleted
    /// flow of the same name.
    pub fn is_execution_of(&self, flow: &str, x: &Execution) -> bool {
        *x.flow.name == *flow
            && self
                .flows
                .get(flow)
                .and_then(|e| e.executions.get(&x.name, &self.execs))
                == Some(x.id)
    }

    /// Removes a flow (its executions stay readable through their ids).
    pub fn remove_flow(&mut self, name: &str) -> Result<Arc<Flow>, FnfError> {
        self.flows
            .remove(name)
            .map(|e| e.flow)
            .ok_or_else(|| FnfError::FlowNotExists(name.to_owned()))
    }

    pub fn flow(&self, name: &str) -> Option<&Arc<Flow>> {
        self.flows.get(name).map(|e| &e.flow)
    }

    /// Flows in name order.
    pub fn flows(&self) -> impl Iterator<Item = &Arc<Flow>> {
        self.flows.values().map(|e| &e.flow)
    }

    /// Makes room for `additional` more executions at once, so that
    /// starting them grows no table (a caller that knows how many it will
    /// keep, like `flowsim bench`: each regrowth copies every execution
    /// and leaves the old table to the allocator).
    /// Asking for too much is not an error: the table then grows as usual.
    pub fn reserve_executions(&mut self, additional: usize) {
        let _ = self.execs.try_reserve_exact(additional);
    }

    /// Keeps at most `retain` finished executions (`None`: every one, the
    /// default). Beyond it, the oldest finished ones leave memory, with
    /// their histories and their names (`DescribeExecution` then answers
    /// `ExecutionNotExists`, a late report of one of their tokens
    /// `InvalidArgument`), in batches of about an eighth of the limit, as
    /// new executions start. Running executions are never evicted, nor an
    /// execution whose end a parent or callback token has not heard of yet.
    pub fn set_retention(&mut self, retain: Option<usize>) {
        self.retain = retain;
    }

    /// How many finished executions were evicted (see
    /// [`Engine::set_retention`]).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Keeps the executions retention evicts until [`Engine::take_evicted`]
    /// takes them (a data file stores them, so they stay queryable).
    pub fn keep_evicted(&mut self) {
        self.evicted_out.get_or_insert_with(Vec::new);
    }

    /// The executions evicted since the last call (with
    /// [`Engine::keep_evicted`]; none otherwise).
    pub fn take_evicted(&mut self) -> Vec<Execution> {
        match &mut self.evicted_out {
            Some(out) => std::mem::take(out),
            None => Vec::new(),
        }
    }

    /// Evicts the oldest finished executions beyond the retention limit,
    /// once they exceed it by a batch.
    fn evict_finished(&mut self, now: Millis) {
        let Some(keep) = self.retain else {
            return;
        };
        let finished: usize = [
            Status::Stopped,
            Status::Succeeded,
            Status::Failed,
            Status::TimedOut,
        ]
        .into_iter()
        .map(|s| self.count(s))
        .sum();
        if finished <= keep.saturating_add(keep / 8).saturating_add(16) {
            return;
        }
        let mut excess = finished - keep;
        let mut victims = Vec::new();
        for x in &self.execs {
            if excess == 0 {
                break;
            }
            // A parent task or a callback token hears of the end through
            // an envelope delivered at the same instant: keep the child
            // until the clock has moved past it.
            let heard = x.origin.as_ref().is_none_or(|o| {
                o.callback_token.is_none() && o.parent.is_none_or(|p| p.pattern != Pattern::Sync)
            }) || x.stopped.is_some_and(|t| t < now);
            if x.status.is_final() && heard {
                victims.push(x.id);
                excess -= 1;
            }
        }
        for &id in &victims {
            if let Some(p) = index::position(&self.execs, id) {
                let x = &self.execs[p];
                self.counts[x.status as usize] -= 1;
                if let Some(entry) = self.flows.get_mut(&x.flow.name) {
                    entry.executions.remove(id, &x.name);
                    if self.evicted_out.is_some() {
                        entry.evicted_names.insert(x.name.clone(), x.status);
                    }
                }
            }
            self.descendants.remove(&id);
        }
        let mut next = victims.iter().peekable();
        if let Some(out) = &mut self.evicted_out {
            let mut kept = Vec::with_capacity(self.execs.capacity());
            for x in self.execs.drain(..) {
                if next.peek() == Some(&&x.id) {
                    next.next();
                    out.push(x);
                } else {
                    kept.push(x);
                }
            }
            self.execs = kept;
            self.evicted += victims.len() as u64;
            return;
        }
        self.execs.retain(|x| {
            let evict = next.peek() == Some(&&x.id);
            if evict {
                next.next();
            }
            !evict
        });
        self.evicted += victims.len() as u64;
    }

    /// Every execution kept, oldest first (ids ascending; see
    /// [`Engine::set_retention`] for the ones that are gone).
    pub fn executions(&self) -> &[Execution] {
        &self.execs
    }

    pub fn execution(&self, id: ExecId) -> Option<&Execution> {
        index::position(&self.execs, id).map(|p| &self.execs[p])
    }

    /// The executions from `id` on (the newest, when `id` was evicted).
    pub fn executions_from(&self, id: ExecId) -> &[Execution] {
        let at = self.execs.partition_point(|x| x.id < id);
        &self.execs[at..]
    }

    pub fn find_execution(&self, flow: &str, name: &str) -> Result<&Execution, FnfError> {
        let entry = self
            .flows
            .get(flow)
            .ok_or_else(|| FnfError::FlowNotExists(flow.to_owned()))?;
        let id = entry.executions.get(name, &self.execs).ok_or_else(|| {
            FnfError::ExecutionNotExists {
                flow: flow.to_owned(),
                execution: name.to_owned(),
            }
        })?;
        self.execution(id)
            .ok_or_else(|| FnfError::ExecutionNotExists {
                flow: flow.to_owned(),
                execution: name.to_owned(),
            })
    }

    /// How many executions are in `status`.
    pub fn count(&self, status: Status) -> usize {
        self.counts[status as usize]
    }

    /// The token of the task scheduled as `task` (for display; tokens are
    /// derived, not stored).
    pub fn token_for(&self, task: TaskRef) -> Option<String> {
        let x = self.execution(task.exec)?;
        Some(self.key.mint(&x.flow.name, &x.name, x.id.0, task.task))
    }

    /// Changes (grows) whenever an operation ended a task attempt or an
    /// execution: a cheap way to know whether what waited may have stopped
    /// waiting (the simulated function releases its held notifications).
    pub fn task_ends(&self) -> u64 {
        self.task_ends
    }

    /// Whether the task attempt `task` is still in flight (a report on its
    /// token would be accepted).
    pub fn task_pending(&self, task: TaskRef) -> bool {
        self.runs
            .get(&task.exec)
            .is_some_and(|r| r.tasks.iter().any(|&(t, _)| t == task.task))
    }

    /// Whether the task a token names is still in flight (a report on it
    /// would be accepted); false for a token that does not decode.
    pub fn token_pending(&self, token: &str) -> bool {
        self.task_of_token(token)
            .is_some_and(|task| self.task_pending(task))
    }

    /// The task attempt a token names (its execution and TaskScheduled
    /// event), whether or not it is still pending; `None` for a token this
    /// engine did not issue.
    pub fn task_of_token(&self, token: &str) -> Option<TaskRef> {
        let exec = self.token_execution(token).ok()?;
        let mut buf = String::new();
        let claims = self.key.decode(token, &mut buf).ok()?;
        Some(TaskRef {
            exec,
            task: claims.event_id,
        })
    }

    /// The tokens of the tasks of `exec` that are waiting for a callback.
    pub fn waiting_tasks(&self, exec: ExecId) -> Vec<(StepId, TaskRef, String)> {
        let Some(run) = self.runs.get(&exec) else {
            return Vec::new();
        };
        let Some(x) = self.execution(exec) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for &(task, b) in &run.tasks {
            let Some(Some(block)) = run.blocks.get(b) else {
                continue;
            };
            let Some(cur) = &block.current else { continue };
            if let StepKind::Task(t) = &x.flow.step(cur.step).kind
                && t.pattern == Pattern::WaitForCallback
            {
                let r = TaskRef { exec, task };
                out.push((
                    cur.step,
                    r,
                    self.key.mint(&x.flow.name, &x.name, x.id.0, task),
                ));
            }
        }
        out
    }

    fn set_status(&mut self, id: ExecId, status: Status) {
        let Some(p) = index::position(&self.execs, id) else {
            return;
        };
        let x = &mut self.execs[p];
        self.counts[x.status as usize] -= 1;
        self.counts[status as usize] += 1;
        x.status = status;
    }

    /// `StartExecution`.
    pub fn start_execution(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow_name: &str,
        name: Option<&str>,
        input: Option<&str>,
    ) -> Result<ExecId, FnfError> {
        self.start(ctx, flow_name, name, input, None)
    }

    /// `StartSyncExecution`'s start: the execution is named
    /// `{name}:{UUID}` (or a UUID without `name`), as the service names
    /// synchronous executions, so a name need not be unique. `name` itself
    /// follows the execution name rule. Whether the flow is an Express one
    /// is the caller's business (the API refuses the others).
    pub fn start_sync_execution(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow_name: &str,
        name: Option<&str>,
        input: Option<&str>,
    ) -> Result<ExecId, FnfError> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if let Some(n) = name {
            validate_execution_name(n)?;
        }
        let mut bytes = [0u8; 16];
        ctx.rng.fill_bytes(&mut bytes);
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let full = match name {
            Some(n) => format!("{n}:{}", uuid.hyphenated()),
            None => uuid.hyphenated().to_string(),
        };
        self.start_as(ctx, flow_name, Some(&full), input, None, false)
    }

    /// `StartExecution` with `CallbackFnFTaskToken`: when the execution ends
    /// the engine reports to that token, `ReportTaskSucceeded` with the
    /// execution's output or `ReportTaskFailed` with its error and cause
    /// (a report the token's task refuses, because it already ended, is
    /// dropped). The token must be one this engine issued
    /// (`InvalidArgument` otherwise); an empty token counts as none.
    pub fn start_execution_with_callback(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow_name: &str,
        name: Option<&str>,
        input: Option<&str>,
        callback_token: Option<&str>,
    ) -> Result<ExecId, FnfError> {
        let origin = match callback_token.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => {
                let exec = self
                    .token_execution(token)
                    .map_err(|e| FnfError::InvalidArgument(format!("CallbackFnFTaskToken: {e}")))?;
                let x = self.execution(exec).ok_or_else(|| {
                    FnfError::InvalidArgument("CallbackFnFTaskToken: no such execution".into())
                })?;
                Some(Box::new(Origin {
                    parent: None,
                    callback_token: Some(token.into()),
                    depth: x.depth().saturating_add(1),
                    root: x.root(),
                }))
            }
        };
        self.start(ctx, flow_name, name, input, origin)
    }

    /// The execution a token's task belongs to (signature checked; the task
    /// need not be pending).
    fn token_execution(&self, token: &str) -> Result<ExecId, FnfError> {
        let mut buf = String::new();
        let invalid = |e: TokenError| FnfError::InvalidArgument(e.to_string());
        let claims = self.key.decode(token, &mut buf).map_err(invalid)?;
        let exec = self
            .flows
            .get(claims.flow)
            .and_then(|e| e.executions.get(claims.execution, &self.execs))
            .ok_or_else(|| {
                FnfError::InvalidArgument(format!(
                    "the token names execution `{}` of flow `{}`, which does not exist",
                    claims.execution, claims.flow
                ))
            })?;
        self.key.check(&claims, exec.0).map_err(invalid)?;
        Ok(exec)
    }

    fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow_name: &str,
        name: Option<&str>,
        input: Option<&str>,
        origin: Option<Box<Origin>>,
    ) -> Result<ExecId, FnfError> {
        self.start_as(ctx, flow_name, name, input, origin, true)
    }

    /// [`Engine::start`]; `check_name: false` for a name the engine made
    /// itself (a synchronous execution's `{name}:{UUID}`).
    fn start_as(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow_name: &str,
        name: Option<&str>,
        input: Option<&str>,
        origin: Option<Box<Origin>>,
        check_name: bool,
    ) -> Result<ExecId, FnfError> {
        self.evict_finished(ctx.now);
        let entry = self
            .flows
            .get_mut(flow_name)
            .ok_or_else(|| FnfError::FlowNotExists(flow_name.to_owned()))?;
        let name: Box<str> = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                if check_name {
                    validate_execution_name(n)?;
                }
                if let Some(id) = entry.executions.get(n, &self.execs)
                    && let Some(p) = index::position(&self.execs, id)
                {
                    let x = &self.execs[p];
                    return if x.status.is_final() {
                        Err(FnfError::ExecutionAlreadyExists(n.to_owned()))
                    } else {
                        Ok(id)
                    };
                }
                if entry.evicted_names.contains_key(n) {
                    return Err(FnfError::ExecutionAlreadyExists(n.to_owned()));
                }
                n.into()
            }
            None => {
                let mut bytes = [0u8; 16];
                ctx.rng.fill_bytes(&mut bytes);
                let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
                (&*uuid.hyphenated().encode_lower(&mut text)).into()
            }
        };
        let input_text = input
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("{}");
        let limit = entry.flow.lang.data_limit();
        if input_text.len() > limit {
            return Err(FnfError::EntityTooLarge(format!(
                "Input is {} bytes; the limit is {limit}",
                input_text.len()
            )));
        }
        let (input, started, stored) = match &self.last_input {
            Some(l) if *l.text == *input_text => {
                (l.value.clone(), l.started.clone(), l.stored.clone())
            }
            _ => {
                let input: Value = serde_json::from_str(input_text).map_err(|e| {
                    FnfError::InvalidArgument(format!("Input is not valid JSON: {e}"))
                })?;
                if !input.is_object() {
                    return Err(FnfError::InvalidArgument(
                        "Input must be a JSON object".to_owned(),
                    ));
                }
                // Normalise the stored input to compact JSON, serialised
                // once for both the execution and its ExecutionStarted
                // detail.
                let started = detail_of(&mut self.scratch, &mut self.texts, "input", &input);
                let stored = self.texts.text(detail_field(&started, "input"));
                let l = LastInput {
                    text: input_text.into(),
                    value: Arc::new(input),
                    started,
                    stored,
                };
                let r = (l.value.clone(), l.started.clone(), l.stored.clone());
                self.last_input = Some(l);
                r
            }
        };
        let id = ExecId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let flow = entry.flow.clone();
        self.execs.push(Execution {
            id,
            name,
            flow: flow.clone(),
            status: Status::Running,
            input: stored,
            output: None,
            error: None,
            started: ctx.now,
            stopped: None,
            history: Vec::with_capacity(8),
            origin,
        });
        entry.executions.insert(id, &self.execs);
        let p = self.execs.len() - 1;
        self.counts[Status::Running as usize] += 1;
        let mut run = Run::default();
        if let Some(t) = flow.timeout_seconds {
            run.flow_timer = Some(ctx.send(
                t.saturating_mul(1000),
                Component::Engine,
                Component::Engine,
                Msg::FlowTimeout(id),
            ));
        }
        let x = &mut self.execs[p];
        let mut m = Machine {
            x,
            run: &mut run,
            flow: &flow,
            ctx,
            key: &self.key,
            scratch: &mut self.scratch,
            texts: &mut self.texts,
            tail: None,
        };
        m.log(EventType::ExecutionStarted, None, 0, started);
        m.start(input);
        m.check_event_limit();
        self.finish_op(ctx, id, run);
        Ok(id)
    }

    /// Puts a run back, or settles an execution that ended; then stops the
    /// child executions the operation cancelled.
    fn finish_op(&mut self, ctx: &mut Ctx<'_>, id: ExecId, mut run: Run) {
        let cancel = std::mem::take(&mut run.cancel);
        match run.ended {
            Some(status) => {
                self.set_status(id, status);
                self.ended(ctx, id);
            }
            None => {
                self.runs.insert(id, run);
            }
        }
        self.cancel_children(ctx, cancel);
    }

    /// An execution just ended: if a task waits for it (a sync sub-flow
    /// task, or a callback token), tell it through the bus, so the parent
    /// moves on in its own delivery.
    fn ended(&mut self, ctx: &mut Ctx<'_>, id: ExecId) {
        let Some(origin) = self.execution(id).and_then(|x| x.origin.as_ref()) else {
            return;
        };
        let waits = origin.callback_token.is_some()
            || origin.parent.is_some_and(|p| p.pattern == Pattern::Sync);
        if waits {
            ctx.send(
                0,
                Component::Engine,
                Component::Engine,
                Msg::ExecutionEnded(id),
            );
        }
    }

    /// Stops child executions whose parent task ended without them (task
    /// timeout, cancelled branch, parent execution ended).
    fn cancel_children(&mut self, ctx: &mut Ctx<'_>, cancel: Vec<Cancel>) {
        for c in cancel {
            let running = self.execution(c.exec).is_some_and(|x| !x.status.is_final());
            if !running {
                continue;
            }
            self.with_run(ctx, c.exec, |m| {
                let detail = json!({"error": c.error, "cause": c.cause}).to_string();
                m.log(EventType::ExecutionStopped, None, 0, detail);
                m.end(
                    Status::Stopped,
                    None,
                    Some(ErrorInfo {
                        error: c.error.to_owned(),
                        cause: c.cause,
                    }),
                );
            });
        }
    }

    /// Runs `f` on the live state of `id`, if it is still running.
    fn with_run<R>(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ExecId,
        f: impl FnOnce(&mut Machine<'_, '_, '_>) -> R,
    ) -> Option<R> {
        let run = self.runs.get_mut(&id)?;
        let p = index::position(&self.execs, id)?;
        let x = &mut self.execs[p];
        let flow = x.flow.clone();
        let mut m = Machine {
            x,
            run,
            flow: &flow,
            ctx,
            key: &self.key,
            scratch: &mut self.scratch,
            texts: &mut self.texts,
            tail: None,
        };
        let r = f(&mut m);
        m.check_event_limit();
        if run.task_ends > 0 || run.ended.is_some() {
            run.task_ends = 0;
            self.task_ends += 1;
        }
        let cancel = std::mem::take(&mut run.cancel);
        if let Some(status) = run.ended {
            self.runs.remove(&id);
            self.set_status(id, status);
            self.ended(ctx, id);
        }
        self.cancel_children(ctx, cancel);
        Some(r)
    }

    /// Finds the task a token names; the error is the upstream one. The
    /// token is decoded into a buffer kept for the next report.
    fn task_for_token(&mut self, token: &str) -> Result<TaskRef, FnfError> {
        let mut buf = std::mem::take(&mut self.token_buf);
        let found = self.task_for_token_in(token, &mut buf);
        self.token_buf = buf;
        found
    }

    fn task_for_token_in(&self, token: &str, buf: &mut String) -> Result<TaskRef, FnfError> {
        let invalid = |e: TokenError| FnfError::InvalidArgument(e.to_string());
        let claims = self.key.decode(token, buf).map_err(invalid)?;
        let entry = self.flows.get(claims.flow).ok_or_else(|| {
            FnfError::InvalidArgument(format!(
                "TaskToken names flow `{}`, which does not exist",
                claims.flow
            ))
        })?;
        let exec = entry
            .executions
            .get(claims.execution, &self.execs)
            .ok_or_else(|| {
                FnfError::InvalidArgument(format!(
                    "TaskToken names execution `{}`, which does not exist",
                    claims.execution
                ))
            })?;
        self.key.check(&claims, exec.0).map_err(invalid)?;
        let task = TaskRef {
            exec,
            task: claims.event_id,
        };
        let x = self.execution(exec).ok_or_else(|| {
            FnfError::TaskAlreadyCompleted("the task has already completed".into())
        })?;
        if x.flow.is_express() {
            return Err(FnfError::InvalidArgument(format!(
                "execution `{}` of flow `{}` runs in Express mode, which has no callbacks: \
                 ReportTaskSucceeded and ReportTaskFailed answer WaitForCustomCallback tasks \
                 of Standard executions",
                x.name, x.flow.name
            )));
        }
        if x.status.is_final() {
            return Err(FnfError::TaskAlreadyCompleted(format!(
                "the task's execution `{}` has already ended ({})",
                x.name, x.status
            )));
        }
        let pending = self
            .runs
            .get(&exec)
            .is_some_and(|r| r.tasks.iter().any(|&(t, _)| t == task.task));
        if !pending {
            return Err(FnfError::TaskAlreadyCompleted(format!(
                "the task (event {}) of execution `{}` has already completed",
                task.task, x.name
            )));
        }
        Ok(task)
    }

    /// `ReportTaskSucceeded`.
    pub fn report_succeeded(
        &mut self,
        ctx: &mut Ctx<'_>,
        token: &str,
        output: &str,
    ) -> Result<u32, FnfError> {
        if token.trim().is_empty() {
            return Err(FnfError::MissingRequiredParams(
                "TaskToken is mandatory for this action".into(),
            ));
        }
        let task = self.task_for_token(token)?;
        let text = output.trim();
        let output: Value = if text.is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(text)
                .map_err(|e| FnfError::InvalidArgument(format!("Output is not valid JSON: {e}")))?
        };
        if !output.is_object() {
            return Err(FnfError::InvalidArgument(
                "Output must be a JSON object".into(),
            ));
        }
        let limit = self
            .execution(task.exec)
            .map_or(DATA_LIMIT, |x| x.flow.lang.data_limit());
        if text.len() > limit {
            return Err(FnfError::EntityTooLarge(format!(
                "Output is {} bytes; the limit is {limit}",
                text.len()
            )));
        }
        self.with_run(ctx, task.exec, |m| m.task_succeeded(task.task, output))
            .flatten()
            .ok_or_else(|| FnfError::TaskAlreadyCompleted("the task has already completed".into()))
    }

    /// `ReportTaskFailed`.
    pub fn report_failed(
        &mut self,
        ctx: &mut Ctx<'_>,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<u32, FnfError> {
        if token.trim().is_empty() {
            return Err(FnfError::MissingRequiredParams(
                "TaskToken is mandatory for this action".into(),
            ));
        }
        if error.is_empty() {
            return Err(FnfError::MissingRequiredParams(
                "Error is mandatory for this action".into(),
            ));
        }
        let task = self.task_for_token(token)?;
        let err = TaskError {
            error: error.to_owned(),
            cause: cause.to_owned(),
        };
        self.with_run(ctx, task.exec, |m| {
            m.task_failed(task.task, err, EventType::TaskFailed)
        })
        .flatten()
        .ok_or_else(|| FnfError::TaskAlreadyCompleted("the task has already completed".into()))
    }

    /// `StopExecution`.
    pub fn stop_execution(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow: &str,
        name: &str,
        error: &str,
        cause: &str,
    ) -> Result<ExecId, FnfError> {
        if let Some(status) = self.flows.get(flow).and_then(|e| e.evicted_names.get(name)) {
            return Err(FnfError::ExecutionAlreadyCompleted {
                execution: name.to_owned(),
                status: status.to_string(),
            });
        }
        let x = self.find_execution(flow, name)?;
        let id = x.id;
        if x.status.is_final() {
            return Err(FnfError::ExecutionAlreadyCompleted {
                execution: name.to_owned(),
                status: x.status.to_string(),
            });
        }
        self.with_run(ctx, id, |m| {
            let detail = json!({"error": error, "cause": cause}).to_string();
            m.log(EventType::ExecutionStopped, None, 0, detail);
            m.end(
                Status::Stopped,
                None,
                Some(ErrorInfo {
                    error: error.to_owned(),
                    cause: cause.to_owned(),
                }),
            );
        });
        Ok(id)
    }

    /// Handles an envelope addressed to the engine.
    pub fn handle(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        match msg {
            Msg::TaskTimeout(t) => {
                self.with_run(ctx, t.exec, |m| m.task_timed_out(t.task));
            }
            Msg::FlowTimeout(id) => {
                self.with_run(ctx, id, |m| {
                    m.run.flow_timer = None;
                    let secs = m.flow.timeout_seconds.unwrap_or(0);
                    let cause = format!("execution timed out after {secs} seconds");
                    let detail = json!({"error": FLOW_TIMEOUT, "cause": cause}).to_string();
                    m.log(EventType::ExecutionTimedOut, None, 0, detail);
                    m.end(
                        Status::TimedOut,
                        None,
                        Some(ErrorInfo {
                            error: FLOW_TIMEOUT.into(),
                            cause,
                        }),
                    );
                });
            }
            Msg::Timer(t) => {
                self.with_run(ctx, t.exec, |m| m.timer(t.task));
            }
            Msg::Published { task, result } => {
                self.with_run(ctx, task.exec, |m| m.published(task.task, result));
            }
            Msg::FunctionResult { task, result } => {
                self.with_run(ctx, task.exec, |m| {
                    m.submitted(task.task, result, EventType::TaskFailed)
                });
            }
            Msg::StartSubflow {
                task,
                step,
                pattern,
                flow,
                name,
                input,
            } => {
                let parent = ParentTask {
                    task,
                    step,
                    pattern,
                };
                self.start_subflow(ctx, parent, &flow, &name, &input);
            }
            Msg::ExecutionEnded(id) => self.execution_ended(ctx, id),
            Msg::ReportSucceeded { token, output } => {
                if let Err(error) = self.report_succeeded(ctx, &token, &output) {
                    ctx.send(
                        0,
                        Component::Engine,
                        Component::Fc,
                        Msg::ReportRejected { token, error },
                    );
                }
            }
            Msg::ReportFailed {
                token,
                error,
                cause,
            } => {
                if let Err(error) = self.report_failed(ctx, &token, &error, &cause) {
                    ctx.send(
                        0,
                        Component::Engine,
                        Component::Fc,
                        Msg::ReportRejected { token, error },
                    );
                }
            }
            _ => {}
        }
    }
}

/// Error name of a step cancelled because a sibling branch or iteration
/// failed (flowsim's choice: upstream documents no name).
pub const CANCELLED: &str = "FnF.Cancelled";

/// A choice condition could not be evaluated (it reads a missing field,
/// or compares values of different types).
pub const CONDITION_ERROR: &str = "FnF.ConditionError";

/// A CloudFlow expression failed at run time (a constructor, a condition,
/// `ItemsPath`, `Seconds.$`, `Timeout.$`: a function given the wrong
/// type, say). flowsim's choice: the docs name no such error.
pub const EXPRESSION_ERROR: &str = "FnF.ExpressionError";

/// Limit on a step's input, output or local, and on API payloads (32 KiB).
pub const DATA_LIMIT: usize = 32 * 1024;
/// Error name when step data exceeds [`DATA_LIMIT`] (not documented
/// upstream; flowsim's choice).
pub const DATA_LIMIT_ERROR: &str = "FnF.DataTooLarge";
/// Limit on history events per execution.
pub const EVENT_LIMIT: usize = 5_000;
/// Error name when an execution reaches [`EVENT_LIMIT`] (flowsim's choice).
pub const EVENT_LIMIT_ERROR: &str = "FnF.EventLimitExceeded";
pub use crate::fdl::{FOREACH_CONCURRENCY, MAX_WAIT_SECONDS};

#[cfg(test)]
mod tests;
