//! What travels in an envelope: [`Msg`], and the outcomes it carries.

use std::sync::Arc;

use serde_json::Value;

use super::{Dest, ExecId, FnfError, PublishReceipt, TaskRef};
use crate::fdl::{Pattern, StepId};

/// How a push attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PushOutcome {
    /// The endpoint answered with this HTTP status.
    Status(u16),
    /// No answer before the push timeout.
    Timeout,
    /// The request could not be made (connection refused...).
    Error(String),
}

impl PushOutcome {
    /// MNS counts a push as delivered for any status in [200, 400).
    pub fn delivered(&self) -> bool {
        matches!(self, PushOutcome::Status(s) if (200..400).contains(s))
    }
}

impl std::fmt::Display for PushOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushOutcome::Status(s) => write!(f, "HTTP {s}"),
            PushOutcome::Timeout => f.write_str("no answer (timeout)"),
            PushOutcome::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// An error a function (or a publish) reports back to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

/// What travels in an envelope.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Does nothing (tests).
    Noop,
    // ---- to the engine
    /// A task's `timeoutSeconds` elapsed.
    TaskTimeout(TaskRef),
    /// A flow's `timeoutSeconds` elapsed.
    FlowTimeout(ExecId),
    /// A wait step's time arrived, or a retry interval elapsed.
    Timer(TaskRef),
    /// MNS accepted (or refused) a task's publish.
    Published {
        task: TaskRef,
        result: Result<PublishReceipt, TaskError>,
    },
    /// A function called `ReportTaskSucceeded`.
    ReportSucceeded { token: Box<str>, output: Box<str> },
    /// A function called `ReportTaskFailed`.
    ReportFailed {
        token: Box<str>,
        error: Box<str>,
        cause: Box<str>,
    },
    /// A function invoked by a task returned.
    FunctionResult {
        task: TaskRef,
        result: Result<Value, TaskError>,
    },
    /// A sub-flow task (`acs:fnf:::flow/...`) asks to start a child
    /// execution (the engine sends this to itself).
    StartSubflow {
        task: TaskRef,
        step: StepId,
        pattern: Pattern,
        flow: Box<str>,
        name: Box<str>,
        /// JSON text.
        input: Box<str>,
    },
    /// An execution that a task waits for (sync sub-flow child, or started
    /// with a callback token) ended: tell that task.
    ExecutionEnded(ExecId),
    // ---- to MNS
    /// Publish to a topic or send to a queue.
    Publish {
        dest: Dest,
        body: Arc<str>,
        tag: Option<Box<str>>,
        /// `None`: the queue's default delay.
        delay_seconds: Option<u64>,
        origin: Option<TaskRef>,
    },
    /// The subscriber answered a push.
    PushAnswer {
        notification: u64,
        outcome: PushOutcome,
    },
    /// A push got no answer in time.
    PushTimeout { notification: u64 },
    /// Time to try a failed push again.
    PushRetry { notification: u64 },
    /// A queue message's delay or visibility timeout ends (only moves the
    /// clock, so receivers see it).
    QueueVisible { queue: Box<str> },
    // ---- to the function
    /// MNS pushes a message to the function's HTTP trigger.
    Notify {
        notification: u64,
        body: Arc<str>,
        /// `true` when `body` is a JSON notification wrapping the message;
        /// `false` when it is the message itself (queues, SIMPLIFIED).
        wrapped: bool,
    },
    /// A task invokes the function.
    Invoke {
        task: TaskRef,
        function: Box<str>,
        payload: Arc<str>,
    },
    /// The engine refused a report the function made.
    ReportRejected { token: Box<str>, error: FnfError },
}

impl Msg {
    /// A short, human-readable description for traces and the Bus view.
    pub fn summary(&self) -> String {
        match self {
            Msg::Noop => "noop".into(),
            Msg::TaskTimeout(t) => format!(
                "task timeout (execution #{}, task event {})",
                t.exec.0, t.task
            ),
            Msg::FlowTimeout(e) => format!("flow timeout (execution #{})", e.0),
            Msg::Timer(t) => format!("timer (execution #{}, event {})", t.exec.0, t.task),
            Msg::Published { result: Ok(r), .. } => format!("published MessageId={}", r.message_id),
            Msg::Published { result: Err(e), .. } => format!("publish failed: {}", e.error),
            Msg::ReportSucceeded { token, output } => {
                format!(
                    "ReportTaskSucceeded token={} output={output}",
                    short_token(token)
                )
            }
            Msg::ReportFailed { token, error, .. } => {
                format!(
                    "ReportTaskFailed token={} error={error}",
                    short_token(token)
                )
            }
            Msg::FunctionResult { result: Ok(v), .. } => format!("function returned {v}"),
            Msg::FunctionResult { result: Err(e), .. } => format!("function failed: {}", e.error),
            Msg::StartSubflow {
                flow,
                name,
                pattern,
                ..
            } => format!(
                "start sub-flow execution {name} of flow {flow} ({})",
                pattern.as_str()
            ),
            Msg::ExecutionEnded(e) => {
                format!(
                    "execution #{} ended: report to the task waiting for it",
                    e.0
                )
            }
            Msg::Publish { dest, body, .. } => format!("publish to {dest} ({} bytes)", body.len()),
            Msg::PushAnswer {
                notification,
                outcome,
            } => {
                format!("push #{notification} answered: {outcome}")
            }
            Msg::PushTimeout { notification } => format!("push #{notification} timeout"),
            Msg::PushRetry { notification } => format!("push #{notification} retry"),
            Msg::QueueVisible { queue } => format!("queue {queue}: a message becomes visible"),
            Msg::Notify {
                notification, body, ..
            } => {
                format!("push #{notification} to function ({} bytes)", body.len())
            }
            Msg::Invoke {
                function, payload, ..
            } => {
                format!("invoke {function} ({} bytes)", payload.len())
            }
            Msg::ReportRejected { error, .. } => format!("report rejected: {}", error.code()),
        }
    }
}

/// The first characters of a task token, for compact display.
pub fn short_token(token: &str) -> String {
    let head: String = token.chars().take(12).collect();
    if token.chars().count() > 12 {
        format!("{head}…")
    } else {
        head
    }
}
