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

pub mod history;
pub mod mapping;
pub mod token;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::RngCore;
use serde_json::{Map, Value, json};

pub use crate::kernel::{ExecId, FnfError, TaskRef};
pub use history::{EventType, HistoryEvent, StepState, step_states};
use mapping::Context;
pub use token::{TokenError, TokenKey};

use crate::fdl::{Choice, Flow, ParamValue, Pattern, Resource, StepId, StepKind, Task, Wait};
use crate::kernel::{Component, Ctx, Dest, EnvelopeKey, Millis, Msg, TaskError};

/// Upstream execution statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Starting,
    Running,
    Stopped,
    Succeeded,
    Failed,
    TimedOut,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Starting,
        Status::Running,
        Status::Stopped,
        Status::Succeeded,
        Status::Failed,
        Status::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "Starting",
            Status::Running => "Running",
            Status::Stopped => "Stopped",
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::TimedOut => "TimedOut",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Status::Starting | Status::Running)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error name used when a task's `timeoutSeconds` elapses.
pub const TASK_TIMEOUT: &str = "FnF.TaskTimeout";
/// Error name recorded when a flow's `timeoutSeconds` elapses.
pub const FLOW_TIMEOUT: &str = "FnF.Timeout";

/// Why an execution ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    pub error: String,
    pub cause: String,
}

/// One run of a flow. Retained after it ends.
#[derive(Debug, Clone)]
pub struct Execution {
    pub id: ExecId,
    pub name: Box<str>,
    pub flow: Arc<Flow>,
    pub status: Status,
    /// The input as JSON text.
    pub input: Box<str>,
    /// The output as JSON text, once it succeeded.
    pub output: Option<Box<str>>,
    pub error: Option<Box<ErrorInfo>>,
    pub started: Millis,
    pub stopped: Option<Millis>,
    pub history: Vec<HistoryEvent>,
    /// Who started it, when not plainly a `StartExecution` (a sub-flow task,
    /// or a `CallbackFnFTaskToken`). Boxed: most executions have none.
    pub origin: Option<Box<Origin>>,
}

/// How an execution started by a sub-flow task, or with a callback token,
/// is tied to the task that waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The sub-flow task (`acs:fnf:::flow/...`) that started it, if any.
    pub parent: Option<ParentTask>,
    /// The token it reports to when it ends (`CallbackFnFTaskToken`):
    /// `ReportTaskSucceeded` with its output, or `ReportTaskFailed` with its
    /// error.
    pub callback_token: Option<Box<str>>,
    /// Sub-flow nesting: 0 for an execution started from outside, parent's
    /// depth + 1 for a child. Bounded by [`SUBFLOW_DEPTH_LIMIT`].
    pub depth: u32,
    /// The execution started from outside at the top of this one's tree
    /// (its sub-flow and callback-token ancestors): the one whose
    /// [`SUBFLOW_TREE_LIMIT`] budget this execution's children draw on.
    pub root: ExecId,
}

/// The sub-flow task attempt that started a child execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentTask {
    /// The parent execution and the task's TaskScheduled event.
    pub task: TaskRef,
    /// The parent's task step.
    pub step: StepId,
    pub pattern: Pattern,
}

impl Execution {
    /// The execution in the `DescribeExecution` shape.
    pub fn to_json(&self, epoch_ms: i64) -> Value {
        let time = |t: Millis| history::format_time(history::wall_ms(epoch_ms, t));
        let mut v = json!({
            "Name": &*self.name,
            "FlowName": self.flow.name,
            "FlowDefinition": self.flow.definition,
            "Input": &*self.input,
            "Output": self.output.as_deref(),
            "Status": self.status.as_str(),
            "StartedTime": time(self.started),
            "StoppedTime": self.stopped.map(time),
        });
        if let (Some(e), Value::Object(m)) = (&self.error, &mut v) {
            m.insert("ErrorCode".into(), Value::String(e.error.clone()));
            m.insert("ErrorCause".into(), Value::String(e.cause.clone()));
        }
        v
    }

    /// Sub-flow nesting depth (0: started from outside).
    pub fn depth(&self) -> u32 {
        self.origin.as_ref().map_or(0, |o| o.depth)
    }

    /// The execution at the top of this one's sub-flow tree (itself when
    /// it was started from outside).
    pub fn root(&self) -> ExecId {
        self.origin.as_ref().map_or(self.id, |o| o.root)
    }

    /// The sub-flow task that started this execution, if any.
    pub fn parent(&self) -> Option<ParentTask> {
        self.origin.as_ref().and_then(|o| o.parent)
    }

    /// The step the execution is at: the last step entered and not exited.
    pub fn current_step(&self) -> Option<StepId> {
        if self.status.is_final() {
            return None;
        }
        self.history
            .iter()
            .rev()
            .find(|e| e.kind == EventType::StepEntered)
            .and_then(|e| e.step)
    }
}

/// Live runs by execution id. Ids are small sequential integers the
/// engine hands out itself, so a multiplicative hash spreads them well;
/// SipHash's resistance to chosen keys buys nothing here and cost several
/// percent of the hot path (a run is looked up on every operation).
type IdMap<V> = HashMap<ExecId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of an [`ExecId`] (see [`IdMap`]).
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `ExecId` (it hashes one u32); kept correct anyway.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A flow's executions by name: an open-addressing table (linear probing)
/// of execution ids whose names live in [`Engine::execs`], so each retained
/// execution costs a few bytes here rather than a second copy of its name
/// and a map entry. Executions are never removed from it.
#[derive(Debug, Default)]
struct NameIndex {
    /// `id + 1` per slot, 0 for empty; the length is 0 or a power of two.
    slots: Vec<u32>,
    len: usize,
}

impl NameIndex {
    fn hash(name: &str) -> usize {
        // FNV-1a, then a final mix so the low bits (the slot) depend on
        // every byte. Deterministic; names are the user's own, so no
        // protection against chosen collisions is needed.
        let mut h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h as usize
    }

    /// The execution named `name`.
    fn get(&self, name: &str, execs: &[Execution]) -> Option<ExecId> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(name) & mask;
        loop {
            let slot = *self.slots.get(i)?;
            if slot == 0 {
                return None;
            }
            let id = ExecId(slot - 1);
            if execs.get(id.0 as usize).is_some_and(|x| &*x.name == name) {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `id` (already in `execs`) under its name.
    fn insert(&mut self, id: ExecId, execs: &[Execution]) {
        // Grow at 3/4 full: probes stay short.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let size = (self.slots.len() * 2).max(16);
            let old = std::mem::replace(&mut self.slots, vec![0; size]);
            for slot in old.into_iter().filter(|&s| s != 0) {
                self.place(slot, execs);
            }
        }
        self.place(id.0 + 1, execs);
        self.len += 1;
    }

    fn place(&mut self, slot: u32, execs: &[Execution]) {
        let name = execs.get(slot as usize - 1).map_or("", |x| &*x.name);
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(name) & mask;
        // The table is at most 3/4 full: an empty slot exists.
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }
}

struct FlowEntry {
    flow: Arc<Flow>,
    executions: NameIndex,
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
    /// costs one exact allocation (the retained `Box<str>`).
    scratch: Vec<u8>,
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
            },
        );
        Ok(())
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

    /// Every execution, oldest first; index with [`ExecId`].
    pub fn executions(&self) -> &[Execution] {
        &self.execs
    }

    pub fn execution(&self, id: ExecId) -> Option<&Execution> {
        self.execs.get(id.0 as usize)
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
        Ok(&self.execs[id.0 as usize])
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
        let x = &mut self.execs[id.0 as usize];
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
                let x = &self.execs[exec.0 as usize];
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
        let entry = self
            .flows
            .get_mut(flow_name)
            .ok_or_else(|| FnfError::FlowNotExists(flow_name.to_owned()))?;
        let name: Box<str> = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                validate_execution_name(n)?;
                if let Some(id) = entry.executions.get(n, &self.execs) {
                    let x = &self.execs[id.0 as usize];
                    return if x.status.is_final() {
                        Err(FnfError::ExecutionAlreadyExists(n.to_owned()))
                    } else {
                        Ok(id)
                    };
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
        if input_text.len() > DATA_LIMIT {
            return Err(FnfError::EntityTooLarge(format!(
                "Input is {} bytes; the limit is {DATA_LIMIT}",
                input_text.len()
            )));
        }
        let input: Value = serde_json::from_str(input_text)
            .map_err(|e| FnfError::InvalidArgument(format!("Input is not valid JSON: {e}")))?;
        if !input.is_object() {
            return Err(FnfError::InvalidArgument(
                "Input must be a JSON object".to_owned(),
            ));
        }
        let id = ExecId(self.execs.len() as u32);
        let flow = entry.flow.clone();
        // Normalise the stored input to compact JSON, serialised once for
        // both the execution and its ExecutionStarted detail.
        let started = detail_of(&mut self.scratch, "input", &input);
        self.execs.push(Execution {
            id,
            name,
            flow: flow.clone(),
            status: Status::Running,
            input: detail_field(&started, "input").into(),
            output: None,
            error: None,
            started: ctx.now,
            stopped: None,
            history: Vec::with_capacity(8),
            origin,
        });
        entry.executions.insert(id, &self.execs);
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
        let x = &mut self.execs[id.0 as usize];
        let mut m = Machine {
            x,
            run: &mut run,
            flow: &flow,
            ctx,
            key: &self.key,
            scratch: &mut self.scratch,
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
        let Some(origin) = self
            .execs
            .get(id.0 as usize)
            .and_then(|x| x.origin.as_ref())
        else {
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
            let running = self
                .execs
                .get(c.exec.0 as usize)
                .is_some_and(|x| !x.status.is_final());
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
        let x = &mut self.execs[id.0 as usize];
        let flow = x.flow.clone();
        let mut m = Machine {
            x,
            run,
            flow: &flow,
            ctx,
            key: &self.key,
            scratch: &mut self.scratch,
            tail: None,
        };
        let r = f(&mut m);
        m.check_event_limit();
        let cancel = std::mem::take(&mut run.cancel);
        if let Some(status) = run.ended {
            self.runs.remove(&id);
            self.set_status(id, status);
            self.ended(ctx, id);
        }
        self.cancel_children(ctx, cancel);
        Some(r)
    }

    /// Finds the task a token names; the error is the upstream one.
    fn task_for_token(&self, token: &str) -> Result<TaskRef, FnfError> {
        let mut buf = String::new();
        let invalid = |e: TokenError| FnfError::InvalidArgument(e.to_string());
        let claims = self.key.decode(token, &mut buf).map_err(invalid)?;
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
        let x = &self.execs[exec.0 as usize];
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
        if text.len() > DATA_LIMIT {
            return Err(FnfError::EntityTooLarge(format!(
                "Output is {} bytes; the limit is {DATA_LIMIT}",
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

    /// Starts the child execution a sub-flow task asked for, and tells the
    /// task: requestResponse completes with the StartExecution-style result,
    /// sync and waitForCallback are submitted and wait for the child. A child
    /// that cannot start fails the task (`TaskSubmitFailed`) with `FnF.` +
    /// the StartExecution error code (`FnF.FlowNotExists`...),
    /// [`SUBFLOW_DEPTH_ERROR`] or [`SUBFLOW_TREE_ERROR`].
    fn start_subflow(
        &mut self,
        ctx: &mut Ctx<'_>,
        parent: ParentTask,
        flow: &str,
        name: &str,
        input: &str,
    ) {
        let task = parent.task;
        // The task may have ended (timeout, stop) while the envelope was in
        // flight: then nothing starts.
        let pending = self
            .runs
            .get(&task.exec)
            .is_some_and(|r| r.tasks.iter().any(|&(t, _)| t == task.task));
        if !pending {
            return;
        }
        let p = &self.execs[task.exec.0 as usize];
        let depth = p.depth() + 1;
        let root = p.root();
        let root_name = self.execs[root.0 as usize].name.clone();
        let started_below = self.descendants.get(&root).copied().unwrap_or(0);
        let step_name = p.flow.step(parent.step).name.clone();
        let callback_token = (parent.pattern == Pattern::WaitForCallback).then(|| {
            self.key
                .mint(&p.flow.name, &p.name, p.id.0, task.task)
                .into_boxed_str()
        });
        let exists = self
            .flows
            .get(flow)
            .is_some_and(|e| e.executions.get(name, &self.execs).is_some());
        let started = if depth > SUBFLOW_DEPTH_LIMIT {
            Err(TaskError {
                error: SUBFLOW_DEPTH_ERROR.into(),
                cause: format!(
                    "step `{step_name}` cannot start flow `{flow}`: sub-flows nest at most \
                     {SUBFLOW_DEPTH_LIMIT} deep (does a flow start itself?)"
                ),
            })
        } else if started_below >= SUBFLOW_TREE_LIMIT {
            Err(TaskError {
                error: SUBFLOW_TREE_ERROR.into(),
                cause: format!(
                    "step `{step_name}` cannot start flow `{flow}`: execution `{root_name}` has \
                     already started {SUBFLOW_TREE_LIMIT} sub-flow executions in all, the limit \
                     for one execution's tree (does a flow fan out into itself?)"
                ),
            })
        } else if exists {
            Err(TaskError {
                error: "FnF.ExecutionAlreadyExists".into(),
                cause: format!(
                    "step `{step_name}` cannot start execution `{name}` of flow `{flow}`: \
                     an execution of that name already exists"
                ),
            })
        } else {
            let origin = Origin {
                parent: Some(parent),
                callback_token,
                depth,
                root,
            };
            self.start(ctx, flow, Some(name), Some(input), Some(Box::new(origin)))
                .map_err(|e| TaskError {
                    error: format!("FnF.{}", e.code()),
                    cause: format!("step `{step_name}` cannot start a sub-flow execution: {e}"),
                })
        };
        match started {
            Ok(child) => {
                *self.descendants.entry(root).or_insert(0) += 1;
                let x = &self.execs[child.0 as usize];
                let info = json!({
                    "Name": &*x.name,
                    "FlowName": x.flow.name,
                    "Status": x.status.as_str(),
                    "StartedTime": history::format_time(history::wall_ms(ctx.epoch_ms, x.started)),
                });
                self.with_run(ctx, task.exec, |m| {
                    m.subflow_started(task.task, child, info, parent.pattern)
                });
            }
            Err(err) => {
                self.with_run(ctx, task.exec, |m| {
                    m.task_failed(task.task, err, EventType::TaskSubmitFailed)
                });
            }
        }
    }

    /// A child execution (or one started with a callback token) ended: a
    /// sync parent task succeeds with its output or fails with its error;
    /// a callback token gets `ReportTaskSucceeded`/`ReportTaskFailed`.
    fn execution_ended(&mut self, ctx: &mut Ctx<'_>, id: ExecId) {
        let Some(x) = self.execs.get(id.0 as usize) else {
            return;
        };
        let Some(origin) = x.origin.as_deref() else {
            return;
        };
        let outcome = match x.status {
            Status::Succeeded => Ok(x.output.as_deref().unwrap_or("{}").to_owned()),
            status => Err(child_error(x, status)),
        };
        if let Some(p) = origin.parent.filter(|p| p.pattern == Pattern::Sync) {
            // The task may have timed out or been cancelled: then nothing
            // waits any more.
            match outcome {
                Ok(text) => {
                    let local = serde_json::from_str(&text).unwrap_or(Value::Object(Map::new()));
                    self.with_run(ctx, p.task.exec, |m| m.task_succeeded(p.task.task, local));
                }
                Err(err) => {
                    self.with_run(ctx, p.task.exec, |m| {
                        m.task_failed(p.task.task, err, EventType::TaskFailed)
                    });
                }
            }
            return;
        }
        let Some(token) = origin.callback_token.clone() else {
            return;
        };
        // A refused report (the task already ended) is dropped, like a
        // late callback from anywhere else.
        let _ = match outcome {
            Ok(text) => match self.report_succeeded(ctx, &token, &text) {
                Err(FnfError::EntityTooLarge(why)) => {
                    self.report_failed(ctx, &token, DATA_LIMIT_ERROR, &why)
                }
                other => other,
            },
            Err(err) => self.report_failed(ctx, &token, &err.error, &err.cause),
        };
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
                let result = result.map(|r| r.to_json());
                self.with_run(ctx, task.exec, |m| {
                    m.submitted(task.task, result, EventType::TaskSubmitFailed)
                });
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

/// Why a child execution that did not succeed fails its parent task: its
/// own error, or (when it has none, e.g. a StopExecution without Error)
/// `FnF.Execution<Status>`.
fn child_error(x: &Execution, status: Status) -> TaskError {
    match &x.error {
        Some(e) if !e.error.is_empty() => TaskError {
            error: e.error.clone(),
            cause: e.cause.clone(),
        },
        other => TaskError {
            error: format!("FnF.Execution{status}"),
            cause: match other {
                Some(e) if !e.cause.is_empty() => e.cause.clone(),
                _ => format!("sub-flow execution `{}` ended {status}", x.name),
            },
        },
    }
}

/// What a sub-flow task asks to start: the child execution's name and
/// input. `serviceParams` may give `ExecutionName` (a string) and `Input`
/// (an object, or a string holding JSON), as upstream documents; without
/// them the name is [`child_execution_name`] and the input is the task's
/// mapped input (`input`, JSON text). `Err` says what is wrong.
fn subflow_request(
    params: &Map<String, Value>,
    input: String,
    parent: &str,
    step: &str,
    scheduled: u32,
) -> Result<(String, String), String> {
    let name = match params.get("ExecutionName") {
        None | Some(Value::Null) => child_execution_name(parent, step, scheduled),
        Some(Value::String(s)) if s.is_empty() => child_execution_name(parent, step, scheduled),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "serviceParams.ExecutionName of step `{step}` must be a string, found {other}"
            ));
        }
    };
    let input = match params.get("Input") {
        None => input,
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "serviceParams.Input of step `{step}` must be a JSON object, found {other}"
            ));
        }
    };
    Ok((name, input))
}

/// Sub-flow executions nest at most this deep below one started from
/// outside (a flow that starts itself stops here).
pub const SUBFLOW_DEPTH_LIMIT: u32 = 10;
/// Sub-flow executions one execution started from outside may have below
/// it in all, at every depth (a flow that fans out into itself would
/// otherwise start fan-out^[`SUBFLOW_DEPTH_LIMIT`] executions).
pub const SUBFLOW_TREE_LIMIT: u32 = 1_000;
/// Error name of a sub-flow task that would start more than
/// [`SUBFLOW_TREE_LIMIT`] executions below its root (flowsim's choice).
pub const SUBFLOW_TREE_ERROR: &str = "FnF.SubflowLimitExceeded";
/// Error name of a sub-flow task that would nest deeper than
/// [`SUBFLOW_DEPTH_LIMIT`] (flowsim's choice).
pub const SUBFLOW_DEPTH_ERROR: &str = "FnF.SubflowDepthExceeded";
/// Error name a child execution is stopped with when its parent task is
/// cancelled or its parent execution ends first (flowsim's choice).
pub const SUBFLOW_CANCELLED: &str = "FnF.ParentEnded";

/// Execution name of a sub-flow task's child when `serviceParams` has no
/// `ExecutionName`: `{parent}-{step}-{eventId}` (the TaskScheduled event),
/// characters outside `[A-Za-z0-9_-]` replaced by `_`, a leading `_` when
/// it would not start with a letter or `_`, and, past 128 characters, the
/// middle replaced by a hash of the whole. Deterministic and unique per
/// task attempt.
pub fn child_execution_name(parent: &str, step: &str, event_id: u32) -> String {
    let mut base: String = format!("{parent}-{step}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !base
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        base.insert(0, '_');
    }
    let suffix = format!("-{event_id}");
    if base.len() + suffix.len() > 128 {
        // FNV-1a: stable across platforms and releases, no dependency.
        let hash = base.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        // All ASCII after the mapping above, so any index is a boundary.
        base.truncate(128 - suffix.len() - 9);
        base.push_str(&format!("-{:08x}", hash as u32));
    }
    base + &suffix
}

/// Error name of a step cancelled because a sibling branch or iteration
/// failed (flowsim's choice: upstream documents no name).
pub const CANCELLED: &str = "FnF.Cancelled";

/// A choice condition could not be evaluated (it reads a missing field,
/// or compares values of different types).
pub const CONDITION_ERROR: &str = "FnF.ConditionError";

/// Limit on a step's input, output or local, and on API payloads (32 KiB).
pub const DATA_LIMIT: usize = 32 * 1024;
/// Error name when step data exceeds [`DATA_LIMIT`] (not documented
/// upstream; flowsim's choice).
pub const DATA_LIMIT_ERROR: &str = "FnF.DataTooLarge";
/// Limit on history events per execution.
pub const EVENT_LIMIT: usize = 5_000;
/// Error name when an execution reaches [`EVENT_LIMIT`] (flowsim's choice).
pub const EVENT_LIMIT_ERROR: &str = "FnF.EventLimitExceeded";
/// Room kept below the event limit for a step's own events and the
/// execution's end.
const EVENT_MARGIN: usize = 8;
/// Foreach iterations running at once.
pub const FOREACH_CONCURRENCY: usize = 100;

/// An event detail `{"<key>": v}` (`key` a plain identifier), serialised
/// once into `buf` (reused between events), so the detail costs one exact
/// allocation: no intermediate `String`, no growth, no shrink.
fn detail_of(buf: &mut Vec<u8>, key: &str, v: &Value) -> Box<str> {
    buf.clear();
    buf.extend_from_slice(b"{\"");
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
    write_json(buf, v);
    buf.push(b'}');
    utf8(buf)
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

/// The text a string-typed service parameter carries (see
/// [`mapping::as_text`]); `$` is `input_text`, the input already
/// serialised. `None` when the task has no such parameter.
fn param_text<'t>(
    params: &[(String, ParamValue)],
    name: &str,
    input: &Value,
    input_text: &'t str,
) -> Option<std::borrow::Cow<'t, str>> {
    use std::borrow::Cow;
    let (_, p) = params.iter().find(|(k, _)| k == name)?;
    Some(match p {
        ParamValue::Path(path) if path.segments.is_empty() && input.is_object() => {
            Cow::Borrowed(input_text)
        }
        ParamValue::Path(path) => {
            Cow::Owned(mapping::as_text(&path.lookup(input).unwrap_or(Value::Null)))
        }
        ParamValue::Const(c) => Cow::Owned(mapping::as_text(c)),
    })
}

/// A service parameter's value, if the task has it.
fn param_value(params: &[(String, ParamValue)], name: &str, input: &Value) -> Option<Value> {
    let (_, p) = params.iter().find(|(k, _)| k == name)?;
    match p {
        ParamValue::Path(path) => path.lookup(input),
        ParamValue::Const(c) => Some(c.clone()),
    }
}

/// Appends `s` as a JSON string.
fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    // As for `write_json`: writing to memory cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// `v` as compact JSON, serialised through `buf` (see [`detail_of`]).
fn json_of(buf: &mut Vec<u8>, v: &Value) -> Box<str> {
    buf.clear();
    write_json(buf, v);
    utf8(buf)
}

/// Appends `v` as compact JSON.
fn write_json(buf: &mut Vec<u8>, v: &Value) {
    // Serialising a `Value` into a `Vec` cannot fail (its map keys are
    // strings, and writing to memory has no I/O error).
    let _ = serde_json::to_writer(&mut *buf, v);
}

/// The text of a buffer serde_json wrote (always UTF-8; a lossy copy
/// otherwise, rather than a panic).
fn utf8(buf: &[u8]) -> Box<str> {
    // `from_utf8` validates several times faster than `from_utf8_lossy`.
    match std::str::from_utf8(buf) {
        Ok(s) => s.into(),
        Err(_) => String::from_utf8_lossy(buf).into(),
    }
}

/// The value part of a detail made by [`detail_of`] with `key`.
fn detail_field<'d>(detail: &'d str, key: &str) -> &'d str {
    detail
        .get(key.len() + 4..detail.len().saturating_sub(1))
        .unwrap_or("{}")
}

/// A JSON type name with its indefinite article ("an object", "a string").
fn with_article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// What a path found, for an error cause: the value as JSON, or
/// "nothing" when the path is absent.
fn found_json(v: Option<&Value>) -> String {
    match v {
        None => "nothing".to_owned(),
        Some(v) => v.to_string(),
    }
}

pub use crate::fdl::MAX_WAIT_SECONDS;

/// A wait of `secs` seconds (written `shown`, e.g. `1e300`) in
/// milliseconds, if within [`MAX_WAIT_SECONDS`].
fn wait_ms(secs: f64, shown: &str, path: &str) -> Result<u64, String> {
    if secs.is_finite() && (0.0..=MAX_WAIT_SECONDS as f64).contains(&secs) {
        Ok((secs * 1000.0) as u64)
    } else {
        Err(format!(
            "wait duration{path} of {shown} seconds is longer than the limit of \
             {MAX_WAIT_SECONDS} seconds (one year)"
        ))
    }
}

/// Milliseconds from `now_ms` until the Unix time `at_ms` (0 if past), if
/// within [`MAX_WAIT_SECONDS`].
fn until_ms(at_ms: i64, now_ms: i64, what: &str, path: &str) -> Result<u64, String> {
    let delay = at_ms.saturating_sub(now_ms).max(0);
    let delay = u64::try_from(delay).unwrap_or(0);
    if delay <= MAX_WAIT_SECONDS * 1000 {
        Ok(delay)
    } else {
        Err(format!(
            "wait {what}{path} is {} seconds away, longer than the limit of \
             {MAX_WAIT_SECONDS} seconds (one year)",
            delay / 1000
        ))
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `name` matches `[A-Za-z_][A-Za-z0-9_-]{0,127}`, the rule for
/// execution names (and flow names) upstream.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Execution names match `[A-Za-z_][A-Za-z0-9_-]{0,127}`.
pub fn validate_execution_name(name: &str) -> Result<(), FnfError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(FnfError::InvalidArgument(format!(
            "ExecutionName `{name}` is invalid: it must match [A-Za-z_][A-Za-z0-9_-]{{0,127}}"
        )))
    }
}

// ---------------------------------------------------------------------------
// Live state of a running execution.

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
struct Block {
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
    current: Option<Current>,
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
struct Current {
    step: StepId,
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
struct Run {
    blocks: Vec<Option<Block>>,
    /// Task attempts in flight: (TaskScheduled id, block).
    tasks: Vec<(u32, usize)>,
    /// Child executions that sync/waitForCallback sub-flow tasks in flight
    /// wait for: (TaskScheduled id, child).
    children: Vec<(u32, ExecId)>,
    /// Children to stop once the operation is over (the engine does it:
    /// an operation only touches its own execution).
    cancel: Vec<Cancel>,
    flow_timer: Option<EnvelopeKey>,
    /// Set when the execution ended during an operation.
    ended: Option<Status>,
    /// Set by [`Machine::log`] when the history came within
    /// [`EVENT_MARGIN`] of [`EVENT_LIMIT`], with the step of that event:
    /// no more blocks run, and the execution fails when the operation
    /// ends (see [`Machine::check_event_limit`]).
    over_limit: Option<Option<StepId>>,
}

/// A child execution to stop, and why.
#[derive(Debug)]
struct Cancel {
    exec: ExecId,
    error: &'static str,
    cause: String,
}

/// One operation on one running execution.
struct Machine<'a, 'c, 'r> {
    x: &'a mut Execution,
    run: &'a mut Run,
    flow: &'a Flow,
    ctx: &'a mut Ctx<'c>,
    key: &'r TokenKey,
    /// [`Engine::scratch`].
    scratch: &'a mut Vec<u8>,
    /// The block [`Machine::run_block`] runs next, set by a child block that
    /// finished (a tail call made iterative).
    tail: Option<usize>,
}

impl Machine<'_, '_, '_> {
    fn next_event_id(&self) -> u32 {
        self.x.history.len() as u32 + 1
    }

    fn log(
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
    fn check_event_limit(&mut self) {
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

    fn start(&mut self, input: Value) {
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
    fn subflow_started(&mut self, task: u32, child: ExecId, info: Value, pattern: Pattern) {
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
    fn submitted(&mut self, task: u32, result: Result<Value, TaskError>, fail_kind: EventType) {
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
    fn task_succeeded(&mut self, task: u32, local: Value) -> Option<u32> {
        let b = self.settle(task)?;
        let (step, _) = self.current_step(b)?;
        let id = self.log_value(EventType::TaskSucceeded, Some(step), task, "output", &local);
        self.complete_step(b, local);
        self.run_block(b);
        Some(id)
    }

    /// A task attempt failed. Answers the id of the failure event.
    fn task_failed(&mut self, task: u32, err: TaskError, kind: EventType) -> Option<u32> {
        let b = self.settle(task)?;
        let (step, _) = self.current_step(b)?;
        let detail = json!({"error": err.error, "cause": err.cause}).to_string();
        let id = self.log(kind, Some(step), task, detail);
        self.fail_step(b, err);
        self.run_block(b);
        Some(id)
    }

    fn task_timed_out(&mut self, task: u32) {
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
    fn timer(&mut self, id: u32) {
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
    fn end(&mut self, status: Status, output: Option<Box<str>>, error: Option<ErrorInfo>) {
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

/// Whether an error name matches a retry/catch `errors` list (`FnF.ALL`
/// matches everything).
pub fn error_matches(errors: &[String], error: &str) -> bool {
    errors.iter().any(|e| e == "FnF.ALL" || e == error)
}

#[cfg(test)]
mod tests;
