//! Execution history: the append-only log of [`HistoryEvent`]s, with the
//! upstream event types.

use std::sync::Arc;

use serde::Serialize;

use crate::fdl::{Flow, Pattern, StepId, StepKind};
use crate::kernel::Millis;

/// The upstream history event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionStopped,
    ExecutionTimedOut,
    StepEntered,
    StepStarted,
    StepSucceeded,
    StepFailed,
    StepExited,
    BranchEntered,
    BranchExited,
    IterationEntered,
    IterationExited,
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSubmitFailed,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ExecutionStarted => "ExecutionStarted",
            EventType::ExecutionSucceeded => "ExecutionSucceeded",
            EventType::ExecutionFailed => "ExecutionFailed",
            EventType::ExecutionStopped => "ExecutionStopped",
            EventType::ExecutionTimedOut => "ExecutionTimedOut",
            EventType::StepEntered => "StepEntered",
            EventType::StepStarted => "StepStarted",
            EventType::StepSucceeded => "StepSucceeded",
            EventType::StepFailed => "StepFailed",
            EventType::StepExited => "StepExited",
            EventType::BranchEntered => "BranchEntered",
            EventType::BranchExited => "BranchExited",
            EventType::IterationEntered => "IterationEntered",
            EventType::IterationExited => "IterationExited",
            EventType::TaskScheduled => "TaskScheduled",
            EventType::TaskStarted => "TaskStarted",
            EventType::TaskSubmitted => "TaskSubmitted",
            EventType::TaskSubmitFailed => "TaskSubmitFailed",
            EventType::TaskSucceeded => "TaskSucceeded",
            EventType::TaskFailed => "TaskFailed",
            EventType::TaskTimedOut => "TaskTimedOut",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event's `EventDetail`: a JSON object as text, read as a `str`.
///
/// Shared rather than owned: the engine keeps every history, and short
/// details repeat (`{"output":{"status":"success"}}` ends most task steps,
/// and the same input starts many executions), so identical short texts
/// are one allocation (see `engine::intern`). Compares, hashes and prints
/// (`{:?}` too) as its text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Detail(Arc<str>);

impl Detail {
    /// The text, shared.
    pub fn shared(&self) -> &Arc<str> {
        &self.0
    }
}

impl std::ops::Deref for Detail {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Detail {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Detail {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Arc<str>> for Detail {
    fn from(s: Arc<str>) -> Detail {
        Detail(s)
    }
}

impl From<&str> for Detail {
    fn from(s: &str) -> Detail {
        Detail(Arc::from(s))
    }
}

impl From<String> for Detail {
    fn from(s: String) -> Detail {
        Detail(Arc::from(s))
    }
}

impl From<Box<str>> for Detail {
    fn from(s: Box<str>) -> Detail {
        Detail(Arc::from(s))
    }
}

/// One entry of an execution's history.
///
/// Kept compact (the engine retains every history): 40 bytes and the
/// detail, the `EventDetail` JSON object serialised once when the event
/// happens (and shared when it repeats, see [`Detail`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// Sequential from 1 within an execution.
    pub id: u32,
    /// The event that caused this one (0: none).
    pub schedule_id: u32,
    pub kind: EventType,
    /// The step it concerns; `None` for execution-level events.
    pub step: Option<StepId>,
    /// Virtual time.
    pub time: Millis,
    /// `EventDetail`: a JSON object as text.
    pub detail: Detail,
}

/// The state of one step, derived from history (for the graph, and for
/// time travel: derive it from a prefix of the history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum StepState {
    #[default]
    NotReached,
    Running,
    /// A waitForCallback task whose message was submitted.
    Waiting,
    Succeeded,
    Failed,
    TimedOut,
    /// Running or waiting when its execution ended (stopped, timed out):
    /// it never finished.
    Cancelled,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::NotReached => "not reached",
            StepState::Running => "running",
            StepState::Waiting => "waiting for callback",
            StepState::Succeeded => "succeeded",
            StepState::Failed => "failed",
            StepState::TimedOut => "timed out",
            StepState::Cancelled => "cancelled",
        }
    }

    /// Whether the step is under way (running or waiting).
    pub fn is_active(self) -> bool {
        matches!(self, StepState::Running | StepState::Waiting)
    }
}

/// Each step's state after replaying `events` (indexed by [`StepId`]).
pub fn step_states(flow: &Flow, events: &[HistoryEvent]) -> Vec<StepState> {
    let mut states = vec![StepState::NotReached; flow.steps.len()];
    for ev in events {
        let Some(step) = ev.step else {
            // The execution ended around steps still under way.
            if matches!(
                ev.kind,
                EventType::ExecutionStopped
                    | EventType::ExecutionTimedOut
                    | EventType::ExecutionFailed
            ) {
                for s in states.iter_mut().filter(|s| s.is_active()) {
                    *s = StepState::Cancelled;
                }
            }
            continue;
        };
        let Some(state) = states.get_mut(step.index()) else {
            continue;
        };
        *state = match ev.kind {
            EventType::StepEntered | EventType::StepStarted => StepState::Running,
            EventType::TaskSubmitted => match &flow.step(step).kind {
                StepKind::Task(t) if t.pattern == Pattern::WaitForCallback => StepState::Waiting,
                _ => StepState::Running,
            },
            EventType::TaskTimedOut => StepState::TimedOut,
            EventType::StepExited | EventType::StepSucceeded => StepState::Succeeded,
            EventType::StepFailed => {
                if *state == StepState::TimedOut {
                    StepState::TimedOut
                } else {
                    StepState::Failed
                }
            }
            EventType::TaskScheduled | EventType::TaskStarted => StepState::Running,
            _ => *state,
        };
    }
    states
}

pub use crate::kernel::wall_ms;

/// Formats Unix milliseconds as UTC RFC 3339 with milliseconds, the upstream
/// time format (`2019-01-01T01:01:01.001Z`).
pub fn format_time(unix_ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(unix_ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| unix_ms.to_string())
}

/// The event in the `GetExecutionHistory` shape.
pub fn event_json(flow: &Flow, ev: &HistoryEvent, epoch_ms: i64) -> serde_json::Value {
    serde_json::json!({
        "StepName": ev.step.map(|s| flow.step(s).name.as_str()).unwrap_or(""),
        "Type": ev.kind.as_str(),
        "EventId": ev.id,
        "ScheduleEventId": ev.schedule_id,
        "Time": format_time(wall_ms(epoch_ms, ev.time)),
        "EventDetail": &*ev.detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_upstream_times() {
        assert_eq!(format_time(1_546_304_461_001), "2019-01-01T01:01:01.001Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
    }
}
