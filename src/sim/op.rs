//! op: every change made to the [`Sim`] from outside, as a value.
//!
//! The simulation is deterministic (seeded RNG, virtual clock): its state
//! is a function of its configuration and of the sequence of operations
//! applied to it, each at a known point (how many envelopes had been
//! delivered, and the clock). So an [`Op`] is what the front ends send
//! (the API's mutating actions, the TUI's commands, the answers of real
//! HTTP pushes), what `runtime::journal` writes to disk, and what a restart
//! replays: one [`Sim::apply`] serves both, so live and replayed runs
//! cannot drift apart. Reads are not ops; neither are clock movements
//! (deliveries are the simulation's own doing, and the journal records
//! where the clock stood at each op).
//!
//! Adding a mutating API action: add a variant here (serde-compatible with
//! the journals already written: new variants and `#[serde(default)]`
//! fields only), its effect in [`Sim::apply`], its answer in [`Applied`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Millis, PushOutcome, Sim};
use crate::fc::{Answer, Behaviour};
use crate::kernel::{Dest, ExecId, FnfError, PublishReceipt};
use crate::mns::{
    Endpoint, MnsError, NotifyFormat, NotifyStrategy, PublishRequest, QueueAttributes,
    ReceivedMessage, SubscribeSpec, Subscription, TopicAttributes,
};

/// Attribute changes of a queue (`CreateQueue`, `SetQueueAttributes`):
/// the fields given, the others left as they are (or default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_message_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_retention_period: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_wait_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_enabled: Option<bool>,
}

impl QueuePatch {
    /// `a` with the given fields changed.
    pub fn apply(&self, mut a: QueueAttributes) -> QueueAttributes {
        let set = |field: &mut u32, v: Option<u32>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut a.visibility_timeout, self.visibility_timeout);
        set(&mut a.maximum_message_size, self.maximum_message_size);
        set(
            &mut a.message_retention_period,
            self.message_retention_period,
        );
        set(&mut a.delay_seconds, self.delay_seconds);
        set(&mut a.polling_wait_seconds, self.polling_wait_seconds);
        if let Some(v) = self.logging_enabled {
            a.logging_enabled = v;
        }
        a
    }
}

/// Attribute changes of a topic (`CreateTopic`, `SetTopicAttributes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_message_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_enabled: Option<bool>,
}

impl TopicPatch {
    /// `a` with the given fields changed.
    pub fn apply(&self, mut a: TopicAttributes) -> TopicAttributes {
        if let Some(v) = self.maximum_message_size {
            a.maximum_message_size = v;
        }
        if let Some(v) = self.logging_enabled {
            a.logging_enabled = v;
        }
        a
    }
}

/// A message to send to a queue (checked by the API already).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

/// What `CreateFlow` was told that the flow itself does not say, and
/// when it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowMeta {
    pub id: String,
    pub description: String,
    /// Unix milliseconds (virtual time).
    pub created_ms: i64,
    /// What `CreateFlow` or `UpdateFlow` was told last.
    pub role_arn: String,
    /// The last `UpdateFlow` (Unix ms, virtual time).
    pub modified_ms: Option<i64>,
}

/// An operation on the simulation from outside. Field names are the
/// journal's format: keep them stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op")]
pub enum Op {
    /// A flow: loaded from a file at start (`id` empty) or `CreateFlow`.
    AddFlow {
        name: String,
        definition: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        id: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        description: String,
        /// A state machine's `ExecutionMode` (`Standard`, `Express`) as
        /// CreateFlow was given it (`None`: the document's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        role_arn: String,
    },
    /// `UpdateFlow`: a new definition (either spec) for an existing flow;
    /// running executions keep theirs. `None` fields keep what the flow has.
    UpdateFlow {
        name: String,
        definition: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_arn: Option<String>,
    },
    /// `StartSyncExecution` (an Express flow; named `{name}:{uuid}`, the
    /// uuid drawn from the simulation's seeded generator).
    StartSyncExecution {
        flow: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        input: String,
    },
    /// `DeleteFlow`: its running executions are stopped first.
    DeleteFlow { name: String },
    /// `StartExecution` (with `CallbackFnFTaskToken` when `callback`).
    StartExecution {
        flow: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        input: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        callback: Option<String>,
    },
    /// `StopExecution`.
    StopExecution {
        flow: String,
        name: String,
        error: String,
        cause: String,
    },
    /// `ReportTaskSucceeded`.
    ReportSucceeded { token: String, output: String },
    /// `ReportTaskFailed`.
    ReportFailed {
        token: String,
        error: String,
        cause: String,
    },
    /// A person answers a notification the function holds (TUI).
    AnswerHeld { id: u64, answer: Answer },
    /// What the simulated function does from now on (TUI).
    SetHandler { behaviour: Behaviour },
    /// `CreateTopic`.
    CreateTopic { topic: String, patch: TopicPatch },
    /// `SetTopicAttributes`.
    SetTopicAttributes { topic: String, patch: TopicPatch },
    /// `DeleteTopic`.
    DeleteTopic { topic: String },
    /// `PublishMessage`.
    Publish {
        topic: String,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    /// `Subscribe` (the endpoint as given; strategy and format as the
    /// upstream names them).
    Subscribe {
        topic: String,
        name: String,
        endpoint: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strategy: Option<String>,
        format: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter_tag: Option<String>,
    },
    /// `SetSubscriptionAttributes` (the notify strategy).
    SetSubscriptionStrategy {
        topic: String,
        name: String,
        strategy: String,
    },
    /// `Unsubscribe`.
    Unsubscribe { topic: String, name: String },
    /// `--subscribe TOPIC=URL,...` at start.
    SubscribeEndpoint {
        topic: String,
        url: String,
        format: String,
        strategy: String,
        name: String,
    },
    /// `CreateQueue`.
    CreateQueue { queue: String, patch: QueuePatch },
    /// `SetQueueAttributes`.
    SetQueueAttributes { queue: String, patch: QueuePatch },
    /// `DeleteQueue`.
    DeleteQueue { queue: String },
    /// `SendMessage`, `BatchSendMessage` (all or none).
    SendMessages {
        queue: String,
        messages: Vec<Outgoing>,
    },
    /// `ReceiveMessage`, `BatchReceiveMessage`: up to `n` messages (it
    /// changes their visibility and dequeue counts).
    Receive { queue: String, n: usize },
    /// `DeleteMessage`, `BatchDeleteMessage`.
    DeleteMessages { queue: String, handles: Vec<String> },
    /// `ChangeMessageVisibility`.
    ChangeVisibility {
        queue: String,
        handle: String,
        seconds: u32,
    },
    /// The answer of a real HTTP push (see [`Sim::push_answered`]).
    PushAnswered {
        notification: u64,
        outcome: PushOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<u64>,
    },
}

/// What applying an [`Op`] answered (the variant follows the op's).
#[derive(Debug, Clone)]
pub enum Applied {
    /// `AddFlow`: the flow's creation time (Unix ms).
    FlowAdded(Result<i64, FnfError>),
    /// `UpdateFlow`: the update's time (Unix ms).
    FlowUpdated(Result<i64, FnfError>),
    FlowDeleted(Result<(), FnfError>),
    Started(Result<ExecId, FnfError>),
    Stopped(Result<ExecId, FnfError>),
    /// A report: the `EventId` it logged.
    Reported(Result<u32, FnfError>),
    /// `AnswerHeld`.
    Answered(Result<(), String>),
    /// A creation: whether it was new (false: an identical one existed).
    Created(Result<bool, MnsError>),
    /// An MNS change with nothing to answer.
    Done(Result<(), MnsError>),
    Published(Result<Vec<PublishReceipt>, MnsError>),
    Received(Result<Vec<ReceivedMessage>, MnsError>),
    /// `DeleteMessages`: the handles that failed, with why.
    Deleted(Result<Vec<(String, MnsError)>, MnsError>),
    /// `ChangeVisibility`: the new receipt handle and when it shows again.
    Visibility(Result<(String, Millis), MnsError>),
    /// An op with no answer (settings, push answers).
    Unit,
}

/// The error a running execution is stopped with when its flow is deleted.
pub const FLOW_DELETED: &str = "FnF.FlowDeleted";

impl Sim {
    /// Applies an operation at the current virtual time: what the API, the
    /// TUI and the push dispatcher do live, and what a restart replays.
    pub fn apply(&mut self, op: Op) -> Applied {
        match op {
            Op::AddFlow {
                name,
                definition,
                id,
                description,
                mode,
                role_arn,
            } => Applied::FlowAdded(self.add_flow_op(
                name,
                &definition,
                id,
                description,
                mode.as_deref(),
                role_arn,
            )),
            Op::UpdateFlow {
                name,
                definition,
                mode,
                description,
                role_arn,
            } => Applied::FlowUpdated(self.update_flow_op(
                &name,
                &definition,
                mode.as_deref(),
                description,
                role_arn,
            )),
            Op::StartSyncExecution { flow, name, input } => {
                Applied::Started(self.start_sync_execution(&flow, name.as_deref(), Some(&input)))
            }
            Op::DeleteFlow { name } => Applied::FlowDeleted(self.delete_flow(&name)),
            Op::StartExecution {
                flow,
                name,
                input,
                callback,
            } => Applied::Started(match callback {
                None => self.start_execution(&flow, name.as_deref(), Some(&input)),
                Some(token) => self.start_execution_with_callback(
                    &flow,
                    name.as_deref(),
                    Some(&input),
                    Some(&token),
                ),
            }),
            Op::StopExecution {
                flow,
                name,
                error,
                cause,
            } => Applied::Stopped(self.stop_execution(&flow, &name, &error, &cause)),
            Op::ReportSucceeded { token, output } => {
                Applied::Reported(self.report_succeeded(&token, &output))
            }
            Op::ReportFailed {
                token,
                error,
                cause,
            } => Applied::Reported(self.report_failed(&token, &error, &cause)),
            Op::AnswerHeld { id, answer } => Applied::Answered(self.answer_held(id, answer)),
            Op::SetHandler { behaviour } => {
                self.set_handler(behaviour);
                Applied::Unit
            }
            Op::CreateTopic { topic, patch } => {
                let now = self.now;
                Applied::Created(self.mns.create_topic(
                    &topic,
                    patch.apply(TopicAttributes::default()),
                    now,
                ))
            }
            Op::SetTopicAttributes { topic, patch } => {
                let now = self.now;
                let base = self
                    .mns
                    .topic(&topic)
                    .map(|t| t.attributes)
                    .unwrap_or_default();
                Applied::Done(
                    self.mns
                        .set_topic_attributes(&topic, patch.apply(base), now),
                )
            }
            Op::DeleteTopic { topic } => Applied::Done(self.mns.delete_topic(&topic)),
            Op::Publish { topic, body, tag } => Applied::Published(
                self.mns_op(|mns, ctx| {
                    mns.publish(
                        ctx,
                        PublishRequest {
                            dest: Dest::Topic(topic),
                            body: Arc::from(body),
                            tag: tag.map(String::into_boxed_str),
                            delay_seconds: None,
                            priority: None,
                            origin: None,
                        },
                    )
                })
                .map(|r| vec![r]),
            ),
            Op::Subscribe {
                topic,
                name,
                endpoint,
                strategy,
                format,
                filter_tag,
            } => Applied::Created(self.subscribe_op(
                &topic,
                &name,
                &endpoint,
                strategy.as_deref(),
                &format,
                filter_tag,
            )),
            Op::SetSubscriptionStrategy {
                topic,
                name,
                strategy,
            } => {
                let now = self.now;
                Applied::Done(
                    NotifyStrategy::parse(&strategy)
                        .ok_or_else(|| bad_value("NotifyStrategy", &strategy))
                        .and_then(|s| self.mns.set_subscription_strategy(&topic, &name, s, now)),
                )
            }
            Op::Unsubscribe { topic, name } => Applied::Done(self.mns.unsubscribe(&topic, &name)),
            Op::SubscribeEndpoint {
                topic,
                url,
                format,
                strategy,
                name,
            } => {
                let spec = NotifyFormat::parse(&format)
                    .ok_or_else(|| bad_value("NotifyContentFormat", &format))
                    .and_then(|format| {
                        Ok(SubscribeSpec {
                            topic,
                            url,
                            format,
                            strategy: NotifyStrategy::parse(&strategy)
                                .ok_or_else(|| bad_value("NotifyStrategy", &strategy))?,
                            name,
                        })
                    });
                Applied::Done(spec.and_then(|s| self.subscribe_endpoint(&s)))
            }
            Op::CreateQueue { queue, patch } => {
                let now = self.now;
                Applied::Created(self.mns.create_queue(
                    &queue,
                    patch.apply(QueueAttributes::default()),
                    now,
                ))
            }
            Op::SetQueueAttributes { queue, patch } => {
                let now = self.now;
                let base = self
                    .mns
                    .queue(&queue)
                    .map(|q| q.attributes)
                    .unwrap_or_default();
                Applied::Done(
                    self.mns
                        .set_queue_attributes(&queue, patch.apply(base), now),
                )
            }
            Op::DeleteQueue { queue } => Applied::Done(self.mns.delete_queue(&queue)),
            Op::SendMessages { queue, messages } => {
                let requests: Vec<PublishRequest> = messages
                    .into_iter()
                    .map(|m| PublishRequest {
                        dest: Dest::Queue(queue.clone()),
                        body: Arc::from(m.body),
                        tag: None,
                        delay_seconds: m.delay_seconds,
                        priority: m.priority,
                        origin: None,
                    })
                    .collect();
                Applied::Published(self.mns_op(|mns, ctx| {
                    // All or none: every message is checked before any is sent.
                    for r in &requests {
                        mns.check_publish(r)?;
                    }
                    requests
                        .into_iter()
                        .map(|r| mns.publish(ctx, r))
                        .collect::<Result<Vec<_>, _>>()
                }))
            }
            Op::Receive { queue, n } => Applied::Received(self.mns_op(|mns, ctx| {
                let mut got = Vec::new();
                while got.len() < n {
                    match mns.receive(ctx, &queue, false)? {
                        Some(m) => got.push(m),
                        None => break,
                    }
                }
                Ok(got)
            })),
            Op::DeleteMessages { queue, handles } => Applied::Deleted(self.mns_op(|mns, ctx| {
                if mns.queue(&queue).is_none() {
                    return Err(MnsError::QueueNotExist(queue));
                }
                Ok(handles
                    .into_iter()
                    .filter_map(|h| {
                        let e = mns.delete_message(ctx, &queue, &h).err()?;
                        Some((h, e))
                    })
                    .collect())
            })),
            Op::ChangeVisibility {
                queue,
                handle,
                seconds,
            } => Applied::Visibility(
                self.mns_op(|mns, ctx| mns.change_visibility(ctx, &queue, &handle, seconds)),
            ),
            Op::PushAnswered {
                notification,
                outcome,
                latency_ms,
            } => {
                self.push_answered(notification, outcome, latency_ms);
                Applied::Unit
            }
        }
    }

    /// What `CreateFlow` (or the files at start) told about a flow.
    pub fn flow_meta(&self, name: &str) -> Option<&FlowMeta> {
        self.flow_meta.get(name)
    }

    fn add_flow_op(
        &mut self,
        name: String,
        definition: &str,
        id: String,
        description: String,
        mode: Option<&str>,
        role_arn: String,
    ) -> Result<i64, FnfError> {
        // Checked first: add_flow would create the topics before refusing.
        if self.engine.flow(&name).is_some() {
            return Err(FnfError::FlowAlreadyExists(name));
        }
        let flow = load_definition(&name, definition, mode)?;
        let created_ms = self.epoch_ms.saturating_add(self.now as i64);
        self.add_flow(flow)?;
        self.flow_meta.insert(
            name,
            FlowMeta {
                id,
                description,
                created_ms,
                role_arn,
                modified_ms: None,
            },
        );
        Ok(created_ms)
    }

    fn update_flow_op(
        &mut self,
        name: &str,
        definition: &str,
        mode: Option<&str>,
        description: Option<String>,
        role_arn: Option<String>,
    ) -> Result<i64, FnfError> {
        let flow = load_definition(name, definition, mode)?;
        self.replace_flow(flow)?;
        let at = self.epoch_ms.saturating_add(self.now as i64);
        let meta = self.flow_meta.entry(name.to_owned()).or_default();
        if let Some(d) = description {
            meta.description = d;
        }
        if let Some(r) = role_arn {
            meta.role_arn = r;
        }
        meta.modified_ms = Some(at);
        Ok(at)
    }

    fn delete_flow(&mut self, name: &str) -> Result<(), FnfError> {
        // Running executions would be orphaned (no flow to resolve their
        // names): stop them first, as their history then says.
        let running: Vec<String> = self
            .engine
            .executions()
            .iter()
            .filter(|x| x.flow.name == name && !x.status.is_final())
            .map(|x| x.name.to_string())
            .collect();
        for x in running {
            self.stop_execution(
                name,
                &x,
                FLOW_DELETED,
                &format!("the flow `{name}` was deleted (DeleteFlow)"),
            )?;
        }
        self.engine.remove_flow(name)?;
        self.flow_meta.remove(name);
        Ok(())
    }

    fn subscribe_op(
        &mut self,
        topic: &str,
        name: &str,
        endpoint: &str,
        strategy: Option<&str>,
        format: &str,
        filter_tag: Option<String>,
    ) -> Result<bool, MnsError> {
        let endpoint: Endpoint = crate::mns::parse_http_endpoint(endpoint)?;
        let mut sub = Subscription::new(name, endpoint, self.now);
        if let Some(s) = strategy {
            sub.strategy =
                NotifyStrategy::parse(s).ok_or_else(|| bad_value("NotifyStrategy", s))?;
        }
        sub.format =
            NotifyFormat::parse(format).ok_or_else(|| bad_value("NotifyContentFormat", format))?;
        sub.filter_tag = filter_tag;
        self.mns.create_subscription(topic, sub)
    }
}

/// A definition of either spec. The API and the command line validated it
/// before sending the op; refused here only if this build reads it
/// otherwise (a journal written by another version).
fn load_definition(
    name: &str,
    definition: &str,
    mode: Option<&str>,
) -> Result<crate::fdl::Flow, FnfError> {
    let mode = match mode {
        None => None,
        Some("Standard") => Some(crate::cloudflow::Mode::Standard),
        Some("Express") => Some(crate::cloudflow::Mode::Express),
        Some(other) => {
            return Err(FnfError::InvalidArgument(format!(
                "ExecutionMode `{other}` is not one of Standard, Express"
            )));
        }
    };
    crate::fdl::load_any(name, definition, mode)
        .map(|(flow, _)| flow)
        .map_err(|d| {
            FnfError::InvalidArgument(format!(
                "the definition of flow `{name}` does not load: {}",
                d.first().map(ToString::to_string).unwrap_or_default()
            ))
        })
}

/// A value the API checked before sending the op (seen only if a journal
/// was edited by hand).
fn bad_value(field: &str, value: &str) -> MnsError {
    MnsError::InvalidArgument(format!("{field} `{value}` is not valid"))
}
