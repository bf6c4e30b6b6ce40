//! engine::machine::task: task steps. Scheduling one attempt of a task
//! (the TaskScheduled/TaskStarted events and the envelope to MNS, the
//! function or the engine itself for a sub-flow), and what happens to an
//! attempt in flight: submitted, succeeded, failed, timed out, or its
//! sub-flow child started.
//!
//! Owns the task attempts in flight ([`Run::tasks`](super::Run::tasks))
//! and the child executions they wait for
//! ([`Run::children`](super::Run::children)). What a failed attempt leads
//! to (retry, catch, failing the block) is [`super::failure`]'s; the child
//! execution itself is the engine's.

use std::sync::Arc;

use serde_json::{Value, json};

use serde_json::Map;

use super::pipe::{Extra, Place, eval_failed};
use super::{Cancel, Machine};
use crate::cloudflow::{MAX_TIMEOUT_SECONDS, seconds_of};
use crate::engine::detail::{
    detail_field, json_of, param_text, param_value, write_json, write_json_str,
};
use crate::engine::history::{Detail, EventType};
use crate::engine::mapping;
use crate::engine::subflow::subflow_request;
use crate::engine::{EXPRESSION_ERROR, TASK_TIMEOUT};
use crate::fdl::{ApiTask, ParamValue, Pattern, Resource, StepId, StepKind, Task};
use crate::kernel::{Component, Dest, ExecId, Msg, PublishReceipt, TaskError};

impl Machine<'_, '_, '_> {
    /// Schedules one attempt of a task step.
    ///
    /// Hot path: the mapped input is serialised once per attempt (on the
    /// first attempt it is already in the StepEntered detail) and that text
    /// is reused for `$` in the TaskScheduled detail, the message body and
    /// the invocation payload; the detail is written straight into the
    /// scratch buffer.
    pub(super) fn start_task(
        &mut self,
        b: usize,
        step_id: StepId,
        task: &Task,
        token: Option<String>,
    ) {
        let scheduled = self.next_event_id();
        let Some(cur) = self.run.current(b) else {
            return;
        };
        let entered = cur.entered;
        let prepared = match &task.api {
            Some(api) => self.prepare_api(b, step_id, task, api, token.as_deref(), scheduled),
            None => Ok(self.prepare_fdl(b, step_id, task, scheduled)),
        };
        let (scheduled_detail, action, timeout) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.fail_step(b, e);
                return;
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
        let timer = timeout.map(|t| {
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
                resource @ (Resource::Function { .. } | Resource::Api { .. }),
                Action::Invoke(payload),
            ) => {
                let function = match resource {
                    Resource::Function {
                        service, function, ..
                    } if service.is_empty() => function.clone(),
                    Resource::Function {
                        service, function, ..
                    } => format!("{service}/{function}"),
                    Resource::Api { action } => action.clone(),
                    _ => String::new(),
                };
                self.ctx.send(
                    0,
                    Component::Engine,
                    Component::Fc,
                    Msg::Invoke {
                        task: tref,
                        function: function.into(),
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

    /// An FDL task attempt: its TaskScheduled detail and what the resource
    /// receives, from `serviceParams` over the mapped input.
    ///
    /// Hot path: the mapped input is serialised once per attempt (on the
    /// first attempt it is already in the StepEntered detail) and that text
    /// is reused for `$` in the TaskScheduled detail, the message body and
    /// the invocation payload; the detail is written straight into the
    /// scratch buffer.
    fn prepare_fdl(
        &mut self,
        b: usize,
        step_id: StepId,
        task: &Task,
        scheduled: u32,
    ) -> (Detail, Action, Option<u64>) {
        let step = self.flow.step(step_id);
        let Some(cur) = self.run.current(b) else {
            return (Detail::from(String::from("{}")), Action::None, None);
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
        let fresh: Detail;
        let text: &str = match logged {
            Some(t) => t,
            None => {
                fresh = json_of(self.scratch, self.texts, &cur.input);
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
        let scheduled_detail = self.texts.detail_bytes(&buf);
        *self.scratch = buf;
        // What the resource receives, from the same text.
        let params = &task.service_params;
        let action = match &task.resource {
            Resource::Api { .. } => Action::Invoke(Arc::from(text)),
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
        (scheduled_detail, action, task.timeout_seconds)
    }

    /// A sub-flow task's child execution started (`info` is the
    /// StartExecution-style result): requestResponse completes with it;
    /// sync and waitForCallback are submitted and wait for the child.
    pub(in crate::engine) fn subflow_started(
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
        let detail = json_of(self.scratch, self.texts, &info);
        self.log(EventType::TaskSubmitted, Some(step), task, detail);
    }

    /// The task attempt `task` ends without its child execution: stop the
    /// child (after this operation).
    pub(super) fn cancel_child(&mut self, task: u32, error: &'static str, cause: String) {
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
        self.run.task_ends += 1;
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

    /// MNS accepted a publish, or a function returned. For waitForCallback
    /// tasks that only means the task was submitted; otherwise the task is
    /// done with `result` as its local.
    pub(in crate::engine) fn submitted(
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
                let detail = json_of(self.scratch, self.texts, &local);
                self.log(EventType::TaskSubmitted, Some(step), task, detail);
            }
            Ok(local) => {
                self.task_succeeded(task, local);
            }
        }
    }

    /// MNS accepted (or refused) a task's publish. A waitForCallback task
    /// (the hot path) only logs the receipt, written straight into its
    /// detail; other tasks go on with it as their local.
    pub(in crate::engine) fn published(
        &mut self,
        task: u32,
        result: Result<PublishReceipt, TaskError>,
    ) {
        let step = self
            .pending(task)
            .and_then(|b| self.current_step(b))
            .map(|(step, _)| step)
            .filter(|&step| {
                matches!(&self.flow.step(step).kind,
                    StepKind::Task(t) if t.pattern == Pattern::WaitForCallback)
            });
        match (result, step) {
            (Ok(r), Some(step)) => {
                // The fields of `PublishReceipt::to_json`, in its order.
                let buf = &mut *self.scratch;
                buf.clear();
                buf.extend_from_slice(b"{\"MessageId\":");
                write_json_str(buf, &r.message_id);
                buf.extend_from_slice(b",\"MessageBodyMD5\":");
                write_json_str(buf, &r.message_body_md5);
                buf.extend_from_slice(b",\"RequestId\":");
                write_json_str(buf, &r.request_id);
                buf.push(b'}');
                let detail = self.texts.detail_bytes(buf);
                self.log(EventType::TaskSubmitted, Some(step), task, detail);
            }
            (result, _) => self.submitted(
                task,
                result.map(|r| r.to_json()),
                EventType::TaskSubmitFailed,
            ),
        }
    }

    /// A task attempt succeeded with `local`. Answers the TaskSucceeded id.
    pub(in crate::engine) fn task_succeeded(&mut self, task: u32, local: Value) -> Option<u32> {
        let b = self.settle(task)?;
        let (step, _) = self.current_step(b)?;
        let id = self.log_value(EventType::TaskSucceeded, Some(step), task, "output", &local);
        self.complete_step(b, local);
        self.run_block(b);
        Some(id)
    }

    /// A task attempt failed. Answers the id of the failure event.
    pub(in crate::engine) fn task_failed(
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

    pub(in crate::engine) fn task_timed_out(&mut self, task: u32) {
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
    /// Nothing (the step is gone).
    None,
}

impl Machine<'_, '_, '_> {
    /// A CloudFlow task attempt: its `Parameters` built on the state's
    /// scope (with the attempt's token and retry count), the TaskScheduled
    /// detail `{"action", "taskMode", "parameters", "timeoutSeconds"}`, and
    /// what the integration receives:
    /// - `MNS:SendMessage`: `message` as the body (a string as it is,
    ///   anything else as its JSON text), `messageTag`, `delaySeconds`;
    /// - `FC:InvokeFunction`: `body` as the payload (likewise; none: `{}`);
    /// - `FNF:StartExecution`: `input` and `executionName` for the child;
    /// - any other action: the whole `Parameters` object, to the simulated
    ///   function.
    fn prepare_api(
        &mut self,
        b: usize,
        step_id: StepId,
        task: &Task,
        api: &ApiTask,
        token: Option<&str>,
        scheduled: u32,
    ) -> Result<(Detail, Action, Option<u64>), TaskError> {
        let Some(cur) = self.run.current(b) else {
            return Ok((Detail::from(String::from("{}")), Action::None, None));
        };
        let input = cur.input.clone();
        let retry_count = cur.attempts.iter().sum::<u32>();
        let extra = Extra {
            token,
            retry_count,
            ..Extra::default()
        };
        let params = match &api.parameters {
            Some(c) => self.construct(step_id, c, &input, extra, Place::Parameters)?,
            None => Value::Object(Map::new()),
        };
        let timeout = match &api.timeout {
            None => task.timeout_seconds,
            Some(e) => {
                let v = self
                    .with_scope(step_id, &input, extra, |scope, rng| e.eval(scope, rng))
                    .map_err(|err| {
                        eval_failed(&self.flow.step(step_id).name, Place::Timeout, &err)
                    })?;
                let secs = seconds_of(&v, 0, MAX_TIMEOUT_SECONDS).map_err(|m| TaskError {
                    error: EXPRESSION_ERROR.into(),
                    cause: format!(
                        "state `{}`, Timeout.$ `{}`: {m}",
                        self.flow.step(step_id).name,
                        e.source
                    ),
                })?;
                (secs > 0).then_some(secs)
            }
        };
        // Written straight into the scratch buffer (the hot path of the
        // CloudFlow seed): `{"action", "taskMode", "parameters", "timeoutSeconds"?}`.
        let mut buf = std::mem::take(self.scratch);
        buf.clear();
        buf.extend_from_slice(b"{\"action\":\"");
        buf.extend_from_slice(api.action.service.as_bytes());
        buf.push(b':');
        buf.extend_from_slice(api.action.api.as_bytes());
        buf.extend_from_slice(b"\",\"taskMode\":\"");
        buf.extend_from_slice(api.mode.as_str().as_bytes());
        buf.extend_from_slice(b"\",\"parameters\":");
        write_json(&mut buf, &params);
        if let Some(t) = timeout {
            buf.extend_from_slice(b",\"timeoutSeconds\":");
            buf.extend_from_slice(t.to_string().as_bytes());
        }
        buf.push(b'}');
        let detail = self.texts.detail_bytes(&buf);
        let text_of = |buf: &mut Vec<u8>, v: Option<&Value>, absent: &str| -> String {
            match v {
                None | Some(Value::Null) => absent.to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    buf.clear();
                    write_json(buf, other);
                    String::from_utf8_lossy(buf).into_owned()
                }
            }
        };
        let action = match &task.resource {
            Resource::MnsTopic { .. } | Resource::MnsQueue { .. } => Action::Publish {
                body: Arc::from(text_of(&mut buf, params.get("message"), "")),
                tag: params
                    .get("messageTag")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(Box::from),
                delay_seconds: params.get("delaySeconds").and_then(Value::as_u64),
            },
            Resource::Function { .. } => {
                Action::Invoke(Arc::from(text_of(&mut buf, params.get("body"), "{}")))
            }
            Resource::Api { .. } => {
                Action::Invoke(Arc::from(text_of(&mut buf, Some(&params), "{}")))
            }
            Resource::Flow { .. } => {
                let mut request = Map::new();
                if let Some(v) = params.get("input") {
                    request.insert("Input".into(), v.clone());
                }
                if let Some(v) = params.get("executionName") {
                    request.insert("ExecutionName".into(), v.clone());
                }
                Action::Subflow(subflow_request(
                    &request,
                    text_of(&mut buf, Some(&input), "{}"),
                    &self.x.name,
                    &self.flow.step(step_id).name,
                    scheduled,
                ))
            }
        };
        *self.scratch = buf;
        Ok((detail, action, timeout))
    }
}
