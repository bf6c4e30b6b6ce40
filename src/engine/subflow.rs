//! engine::subflow: sub-flow tasks (`acs:fnf:::flow/{name}`). What a task
//! asks to start ([`subflow_request`], [`child_execution_name`]), the
//! limits on nesting and on a tree's size (`SUBFLOW_*`), and the two engine
//! operations that tie a child execution to its parent task: starting the
//! child ([`Engine::start_subflow`]) and reporting its end
//! ([`Engine::execution_ended`]).
//!
//! Each operation touches one execution: a parent's task hears of its
//! child only through envelopes the engine sends itself, handled here. This
//! module must not reach into a run's blocks: a parent task is told through
//! the task methods of [`super::machine`] (via `Engine::with_run`).

use serde_json::{Map, Value, json};

use super::history::{self, EventType};
use super::{DATA_LIMIT_ERROR, Engine, Execution, FnfError, Origin, ParentTask, Status};
use crate::fdl::Pattern;
use crate::kernel::{Ctx, ExecId, TaskError};

impl Engine {
    /// Starts the child execution a sub-flow task asked for, and tells the
    /// task: requestResponse completes with the StartExecution-style result,
    /// sync and waitForCallback are submitted and wait for the child. A child
    /// that cannot start fails the task (`TaskSubmitFailed`) with `FnF.` +
    /// the StartExecution error code (`FnF.FlowNotExists`...),
    /// [`SUBFLOW_DEPTH_ERROR`] or [`SUBFLOW_TREE_ERROR`].
    pub(super) fn start_subflow(
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
        let Some(p) = self.execution(task.exec) else {
            return;
        };
        let depth = p.depth() + 1;
        let root = p.root();
        let root_name = self
            .execution(root)
            .map_or_else(|| format!("#{}", root.0).into(), |r| r.name.clone());
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
                let Some(x) = self.execution(child) else {
                    return;
                };
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
    pub(super) fn execution_ended(&mut self, ctx: &mut Ctx<'_>, id: ExecId) {
        let Some(x) = self.execution(id) else {
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
pub(super) fn subflow_request(
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
