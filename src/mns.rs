//! mns: the in-memory Simple Message Queue (formerly MNS).
//!
//! Owns topics, subscriptions, queues, the log of published messages and
//! push delivery: a publish becomes one notification per subscription,
//! pushed in the subscription's notify format, timed out, retried per its
//! notify strategy on the virtual clock, then dropped. Every attempt is
//! recorded. It knows the engine and the function only as bus addresses.
//!
//! It also owns what the REST API (`api::mns`) offers on top: creating and
//! deleting topics, subscriptions and queues with their attributes, and the
//! consumer side of queues (receive with receipt handles, delete, change
//! visibility), visibility timeouts and delays running on the virtual
//! clock. A push to a real `http://` endpoint is described here as an
//! [`HttpPush`] (body, headers) and performed by the runtime: this module
//! does no I/O. Every operation is a plain synchronous method.
//!
//! Layout: [`Mns`] with its entry points, [`Mns::handle`] (the bus) and
//! [`Mns::publish`] (the one path of every publish and send), here; the
//! values in `model`, the checks and limits in `check`, topic and
//! subscription management in `topic`, queues and their consumer side in
//! `queue`, push delivery in `push`. The paths other modules use are
//! re-exported here.
//!
//! Imports only [`crate::kernel`]: never the engine, the function, the
//! simulation or a front end.

mod check;
mod model;
mod push;
mod queue;
mod topic;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use md5::{Digest, Md5};
use rand::RngCore;

use crate::kernel::{Component, Ctx, Millis, Msg, PushOutcome, TaskError};

pub use crate::kernel::{Dest, PublishReceipt};
pub use check::{
    MAX_MESSAGE_SIZE, MAX_SUBSCRIPTIONS_PER_TOPIC, check_message_tag, check_message_text,
    parse_http_endpoint, validate_name,
};
pub use model::{
    Attempt, Endpoint, MessageRecord, MnsError, NotifyFormat, NotifyStrategy, PublishRequest,
    Queue, QueueAttributes, QueueCounts, QueuedMessage, ReceivedMessage, Subscription, Topic,
    TopicAttributes,
};
pub use push::{ACCOUNT, API_VERSION, HttpPush, PUSH_TIMEOUT_MS, XMLNS, http_date, xml_document};
pub use topic::SubscribeSpec;

use check::check_range;
use push::{Notification, SeqHasher, Target, notification_text};
use queue::rewake;

/// How many published messages are kept for inspection.
pub const MESSAGE_LOG_LIMIT: usize = 10_000;

/// The in-memory MNS.
#[derive(Debug, Default)]
pub struct Mns {
    topics: BTreeMap<String, Topic>,
    queues: BTreeMap<String, Queue>,
    log: VecDeque<MessageRecord>,
    next_seq: u64,
    notifications: HashMap<u64, Notification, BuildHasherDefault<SeqHasher>>,
    next_notification: u64,
    dropped: u64,
    /// A buffer notify bodies are written into, reused.
    scratch: Vec<u8>,
}

impl Mns {
    pub fn topics(&self) -> impl Iterator<Item = &Topic> {
        self.topics.values()
    }

    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.get(name)
    }

    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.get(name)
    }

    /// The retained messages, oldest first.
    pub fn messages(&self) -> &VecDeque<MessageRecord> {
        &self.log
    }

    /// A retained message by sequence number.
    pub fn message(&self, seq: u64) -> Option<&MessageRecord> {
        let first = self.log.front()?.seq;
        self.log.get(seq.checked_sub(first)? as usize)
    }

    /// Messages given up after every retry failed.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Notifications still being delivered.
    pub fn in_flight(&self) -> usize {
        self.notifications.len()
    }

    /// A retained message by sequence number, to record its push attempts.
    fn record_mut(&mut self, seq: u64) -> Option<&mut MessageRecord> {
        let first = self.log.front()?.seq;
        self.log.get_mut(seq.checked_sub(first)? as usize)
    }

    /// Handles an envelope addressed to MNS.
    pub fn handle(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        match msg {
            Msg::Publish {
                dest,
                body,
                tag,
                delay_seconds,
                origin,
            } => {
                let result = self.publish_inner(
                    ctx,
                    PublishRequest {
                        dest,
                        body,
                        tag,
                        delay_seconds,
                        priority: None,
                        origin,
                    },
                    false,
                );
                // Success was answered inside (before the pushes go out).
                if let (Some(task), Err(e)) = (origin, result) {
                    let result = Err(TaskError {
                        error: format!("MNS.{}", e.code()),
                        cause: e.to_string(),
                    });
                    ctx.send(
                        0,
                        Component::Mns,
                        Component::Engine,
                        Msg::Published { task, result },
                    );
                }
            }
            Msg::PushAnswer {
                notification,
                outcome,
            } => self.answered(ctx, notification, outcome),
            Msg::PushTimeout { notification } => {
                if let Some(n) = self.notifications.get_mut(&notification) {
                    n.timer = None;
                }
                self.answered(ctx, notification, PushOutcome::Timeout)
            }
            Msg::PushRetry { notification } => self.push(ctx, notification),
            // Only moves the clock: a queue message became visible.
            Msg::QueueVisible { .. } => {}
            _ => {}
        }
    }

    /// Checks a publish without doing it: the destination exists, the body
    /// fits and holds only characters XML allows, the tag, priority and
    /// delay are valid. [`Mns::publish`] runs it first; a batch runs it on
    /// every message before publishing any (all or none).
    pub fn check_publish(&self, req: &PublishRequest) -> Result<(), MnsError> {
        let dest = &req.dest;
        let max = match dest {
            Dest::Topic(t) => {
                self.topics
                    .get(t)
                    .ok_or_else(|| MnsError::TopicNotExist(t.clone()))?
                    .attributes
                    .maximum_message_size
            }
            Dest::Queue(q) => {
                self.queues
                    .get(q)
                    .ok_or_else(|| MnsError::QueueNotExist(q.clone()))?
                    .attributes
                    .maximum_message_size
            }
        };
        if req.body.len() > max as usize {
            return Err(MnsError::InvalidArgument(format!(
                "The message body is {} bytes; the {dest} accepts at most {max}.",
                req.body.len()
            )));
        }
        // Here, on the one path every publish and send takes (the REST API
        // and the engine's tasks), so no message can make an answer or a
        // push unbuildable later.
        check_message_text("MessageBody", &req.body)?;
        if let Some(tag) = &req.tag {
            check_message_tag(tag)?;
        }
        check_range("Priority", req.priority.unwrap_or(8), 1, 16)?;
        if let Some(d) = req.delay_seconds {
            check_range("DelaySeconds", d, 0, 604_800)?;
        }
        Ok(())
    }

    /// Publishes to a topic (one notification per subscription) or sends to
    /// a queue (pushed to its consumer function, else kept for receivers).
    /// Used by the engine's tasks (through [`Msg::Publish`]) and the REST
    /// API alike, so both reach the same subscribers.
    pub fn publish(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: PublishRequest,
    ) -> Result<PublishReceipt, MnsError> {
        self.publish_inner(ctx, req, true)
            .map(|r| r.unwrap_or_else(unreachable_receipt))
    }

    /// [`Mns::publish`]; the receipt is answered when `answer` (a task's
    /// publish is told through the bus, and nothing else reads it).
    fn publish_inner(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: PublishRequest,
        answer: bool,
    ) -> Result<Option<PublishReceipt>, MnsError> {
        self.check_publish(&req)?;
        let PublishRequest {
            dest,
            body,
            tag,
            delay_seconds,
            priority,
            origin,
        } = req;
        let priority = priority.unwrap_or(8);
        let md5 = upper_hex(&Md5::digest(body.as_bytes()));
        let message_id = random_hex(ctx.rng, 16);
        let request_id = random_hex(ctx.rng, 12);
        let seq = self.next_seq;
        self.next_seq += 1;
        let receipt = PublishReceipt {
            message_id: message_id.clone(),
            message_body_md5: md5.clone(),
            request_id,
        };
        let receipt = match origin {
            // The task learns it published before any push is answered.
            Some(task) => {
                let answered = answer.then(|| receipt.clone());
                ctx.send(
                    0,
                    Component::Mns,
                    Component::Engine,
                    Msg::Published {
                        task,
                        result: Ok(receipt),
                    },
                );
                answered
            }
            None => Some(receipt),
        };
        let publish_ms = ctx.wall_ms();
        let mut shared_id: Option<Arc<str>> = None;
        // Notifications are numbered in a row: the ones this publish makes
        // are `first..self.next_notification`, pushed once it is logged.
        let first = self.next_notification;
        let mut delay = delay_seconds.unwrap_or(0).saturating_mul(1000);
        let Mns {
            topics,
            queues,
            notifications,
            next_notification,
            scratch,
            ..
        } = self;
        let mut add = |target: Target, subscription: Arc<str>, strategy, format, body, wrapped| {
            let id = *next_notification;
            *next_notification += 1;
            let message_id = shared_id
                .get_or_insert_with(|| Arc::from(message_id.as_str()))
                .clone();
            notifications.insert(
                id,
                Notification {
                    seq,
                    target,
                    subscription,
                    strategy,
                    format,
                    body,
                    wrapped,
                    attempt: 0,
                    timer: None,
                    message_id,
                    tag: tag.clone(),
                },
            );
        };
        match &dest {
            Dest::Topic(t) => {
                if let Some(topic) = topics.get_mut(t) {
                    topic.messages += 1;
                    for s in &topic.subscriptions {
                        if s.filter_tag.is_some() && s.filter_tag.as_deref() != tag.as_deref() {
                            continue;
                        }
                        let (text, wrapped) = notification_text(
                            scratch,
                            s,
                            t,
                            &message_id,
                            &body,
                            &md5,
                            tag.as_deref(),
                            publish_ms,
                        );
                        add(
                            Target::of(&s.endpoint),
                            Arc::from(s.name.as_str()),
                            s.strategy,
                            s.format,
                            text,
                            wrapped,
                        );
                    }
                }
            }
            Dest::Queue(q) => {
                if let Some(queue) = queues.get_mut(q) {
                    if delay_seconds.is_none() {
                        delay = Millis::from(queue.attributes.delay_seconds) * 1000;
                    }
                    match &queue.consumer {
                        Some(_) => add(
                            Target::Function,
                            Arc::from(format!("{q}-consumer")),
                            NotifyStrategy::BackoffRetry,
                            NotifyFormat::Simplified,
                            body.clone(),
                            false,
                        ),
                        None => {
                            let mut m = QueuedMessage {
                                seq,
                                id: message_id.clone(),
                                body: body.clone(),
                                md5: md5.clone(),
                                priority,
                                enqueued: ctx.now,
                                first_dequeued: None,
                                dequeue_count: 0,
                                visible_at: ctx.now.saturating_add(delay),
                                receipt: None,
                                wake: None,
                            };
                            rewake(ctx, &mut m, q, delay);
                            queue.messages.push(m);
                        }
                    }
                }
            }
        }
        if self.log.len() >= MESSAGE_LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back(MessageRecord {
            seq,
            id: message_id,
            dest,
            body,
            md5,
            tag,
            published: ctx.now,
            origin,
            attempts: Vec::new(),
            dropped: false,
        });
        for id in first..self.next_notification {
            if delay == 0 {
                self.push(ctx, id);
            } else {
                ctx.send(
                    delay,
                    Component::Mns,
                    Component::Mns,
                    Msg::PushRetry { notification: id },
                );
            }
        }
        Ok(receipt)
    }
}

/// Never built: [`Mns::publish_inner`] answers a receipt whenever asked.
#[cold]
fn unreachable_receipt() -> PublishReceipt {
    PublishReceipt {
        message_id: String::new(),
        message_body_md5: String::new(),
        request_id: String::new(),
    }
}

/// `bytes` as upper-case hex (the `MessageBodyMD5`).
fn upper_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// `bytes` random bytes as upper-case hex (message ids, request ids,
/// receipt handles).
fn random_hex(rng: &mut impl RngCore, bytes: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        let b = (rng.next_u32() & 0xff) as usize;
        out.push(HEX[b >> 4] as char);
        out.push(HEX[b & 15] as char);
    }
    out
}

#[cfg(test)]
mod tests;
