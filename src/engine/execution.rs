//! engine::execution: what an execution *is*, as the rest of the crate
//! reads it: [`Status`], [`Execution`] (retained after it ends, with its
//! history), [`ErrorInfo`], how a sub-flow child or a callback-token
//! execution is tied to its parent ([`Origin`], [`ParentTask`]), and the
//! naming rule for executions ([`is_valid_name`],
//! [`validate_execution_name`]).
//!
//! Plain data and read-only queries: nothing here runs an execution or
//! touches the live state of a running one (that is the engine's and
//! [`super::machine`]'s).

use std::sync::Arc;

use serde_json::{Value, json};

use super::history::{self, EventType, HistoryEvent};
use crate::fdl::{Flow, Pattern, StepId};
use crate::kernel::{ExecId, FnfError, Millis, TaskRef};

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
    /// The input as JSON text (shared between executions started with the
    /// same short input).
    pub input: Arc<str>,
    /// The output as JSON text, once it succeeded (shared like the input).
    pub output: Option<Arc<str>>,
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
    ///
    /// [`SUBFLOW_DEPTH_LIMIT`]: super::SUBFLOW_DEPTH_LIMIT
    pub depth: u32,
    /// The execution started from outside at the top of this one's tree
    /// (its sub-flow and callback-token ancestors): the one whose
    /// [`SUBFLOW_TREE_LIMIT`] budget this execution's children draw on.
    ///
    /// [`SUBFLOW_TREE_LIMIT`]: super::SUBFLOW_TREE_LIMIT
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
