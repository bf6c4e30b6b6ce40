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

mod check;
mod model;
mod queue;
mod topic;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use base64::Engine as _;
use md5::{Digest, Md5};
use rand::{Rng, RngCore};
use serde::Serialize;

use crate::kernel::{Component, Ctx, Millis, Msg, PushOutcome, TaskError};

pub use check::{
    MAX_MESSAGE_SIZE, MAX_SUBSCRIPTIONS_PER_TOPIC, check_message_tag, check_message_text,
    parse_http_endpoint, validate_name,
};
pub use model::{
    Attempt, Endpoint, MessageRecord, MnsError, NotifyFormat, NotifyStrategy, PublishRequest,
    Queue, QueueAttributes, QueueCounts, QueuedMessage, ReceivedMessage, Subscription, Topic,
    TopicAttributes,
};
pub use topic::SubscribeSpec;

use check::check_range;
use queue::rewake;

/// The account id shown as `TopicOwner` and `Subscriber`.
pub const ACCOUNT: &str = "1234567890123456";

/// How long a push waits for an answer before it counts as failed
/// (not documented upstream; 5 s here).
pub const PUSH_TIMEOUT_MS: Millis = 5_000;

/// How many published messages are kept for inspection.
pub const MESSAGE_LOG_LIMIT: usize = 10_000;

/// The REST API version (`x-mns-version`).
pub const API_VERSION: &str = "2015-06-06";

pub use crate::kernel::{Dest, PublishReceipt};

impl NotifyStrategy {
    /// Delay before retry number `retry` (1-based), or `None` when retries
    /// are spent.
    pub fn retry_delay(self, retry: u32, rng: &mut impl RngCore) -> Option<Millis> {
        match self {
            NotifyStrategy::BackoffRetry => (retry <= 3).then(|| rng.random_range(10_000..=20_000)),
            NotifyStrategy::ExponentialDecayRetry => (retry <= 176).then(|| {
                let exp = (retry - 1).min(9);
                (1u64 << exp) * 1000
            }),
        }
    }
}

/// A notification being delivered (a message to one subscriber).
#[derive(Debug, Clone)]
struct Notification {
    seq: u64,
    endpoint: Endpoint,
    subscription: String,
    strategy: NotifyStrategy,
    format: NotifyFormat,
    body: Arc<str>,
    wrapped: bool,
    attempt: u32,
    timer: Option<crate::kernel::EnvelopeKey>,
    message_id: Arc<str>,
    tag: Option<Box<str>>,
}

/// A push to a real HTTP endpoint, for the runtime to perform: `POST url`
/// with these headers and body, then [`crate::sim::Sim::push_answered`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPush {
    pub notification: u64,
    pub attempt: u32,
    pub url: String,
    pub subscription: String,
    pub message_id: String,
    pub body: Arc<str>,
    /// Header names (lower case) and values, in the order to send them.
    pub headers: Vec<(&'static str, String)>,
}

/// The in-memory MNS.
#[derive(Debug, Default)]
pub struct Mns {
    topics: BTreeMap<String, Topic>,
    queues: BTreeMap<String, Queue>,
    log: VecDeque<MessageRecord>,
    next_seq: u64,
    notifications: HashMap<u64, Notification>,
    next_notification: u64,
    dropped: u64,
}

/// The notify body of the JSON and XML formats (SPEC §1; same fields in
/// the same order in both).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NotificationBody<'a> {
    #[serde(rename = "@xmlns", skip_serializing_if = "Option::is_none")]
    xmlns: Option<&'static str>,
    topic_owner: &'a str,
    topic_name: &'a str,
    subscriber: &'a str,
    subscription_name: &'a str,
    message_id: &'a str,
    message: &'a str,
    #[serde(rename = "MessageMD5")]
    message_md5: &'a str,
    message_tag: &'a str,
    publish_time: String,
}

/// The XML namespace of every MNS body.
pub const XMLNS: &str = "http://mns.aliyuncs.com/doc/v1/";

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
                let result = self.publish(
                    ctx,
                    PublishRequest {
                        dest,
                        body,
                        tag,
                        delay_seconds,
                        priority: None,
                        origin,
                    },
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
        let md5 = format!("{:X}", Md5::digest(body.as_bytes()));
        let message_id = random_hex(ctx.rng, 16);
        let request_id = random_hex(ctx.rng, 12);
        let seq = self.next_seq;
        self.next_seq += 1;
        let receipt = PublishReceipt {
            message_id: message_id.clone(),
            message_body_md5: md5.clone(),
            request_id,
        };
        if let Some(task) = origin {
            // The task learns it published before any push is answered.
            ctx.send(
                0,
                Component::Mns,
                Component::Engine,
                Msg::Published {
                    task,
                    result: Ok(receipt.clone()),
                },
            );
        }
        let publish_ms = ctx.wall_ms();
        let shared_id: Arc<str> = Arc::from(message_id.as_str());
        let mut targets = Vec::new();
        let mut delay = delay_seconds.unwrap_or(0).saturating_mul(1000);
        match &dest {
            Dest::Topic(t) => {
                if let Some(topic) = self.topics.get_mut(t) {
                    topic.messages += 1;
                    for s in &topic.subscriptions {
                        if s.filter_tag.is_some() && s.filter_tag.as_deref() != tag.as_deref() {
                            continue;
                        }
                        let http = matches!(s.endpoint, Endpoint::Http(_));
                        let (text, wrapped) = match s.format {
                            NotifyFormat::Simplified => (body.clone(), false),
                            NotifyFormat::Json | NotifyFormat::Xml => {
                                let n = NotificationBody {
                                    xmlns: None,
                                    topic_owner: ACCOUNT,
                                    topic_name: t,
                                    subscriber: ACCOUNT,
                                    subscription_name: &s.name,
                                    message_id: &message_id,
                                    message: &body,
                                    message_md5: &md5,
                                    message_tag: tag.as_deref().unwrap_or(""),
                                    publish_time: publish_ms.to_string(),
                                };
                                // The simulated function reads JSON whatever
                                // the format; a real endpoint gets XML.
                                let text = if http && s.format == NotifyFormat::Xml {
                                    let n = NotificationBody {
                                        xmlns: Some(XMLNS),
                                        ..n
                                    };
                                    xml_document("Notification", &n)
                                } else {
                                    serde_json::to_string(&n).unwrap_or_default()
                                };
                                (Arc::from(text), true)
                            }
                        };
                        targets.push((
                            s.endpoint.clone(),
                            s.name.clone(),
                            s.strategy,
                            s.format,
                            text,
                            wrapped,
                        ));
                    }
                }
            }
            Dest::Queue(q) => {
                if let Some(queue) = self.queues.get_mut(q) {
                    if delay_seconds.is_none() {
                        delay = Millis::from(queue.attributes.delay_seconds) * 1000;
                    }
                    match &queue.consumer {
                        Some(f) => targets.push((
                            Endpoint::Function(f.clone()),
                            format!("{q}-consumer"),
                            NotifyStrategy::BackoffRetry,
                            NotifyFormat::Simplified,
                            body.clone(),
                            false,
                        )),
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
            id: message_id.clone(),
            dest,
            body,
            md5: md5.clone(),
            tag: tag.clone(),
            published: ctx.now,
            origin,
            attempts: Vec::new(),
            dropped: false,
        });
        for (endpoint, subscription, strategy, format, body, wrapped) in targets {
            let id = self.next_notification;
            self.next_notification += 1;
            self.notifications.insert(
                id,
                Notification {
                    seq,
                    endpoint,
                    subscription,
                    strategy,
                    format,
                    body,
                    wrapped,
                    attempt: 0,
                    timer: None,
                    message_id: shared_id.clone(),
                    tag: tag.clone(),
                },
            );
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

    /// Makes one push attempt of a notification.
    fn push(&mut self, ctx: &mut Ctx<'_>, id: u64) {
        let Some(n) = self.notifications.get_mut(&id) else {
            return;
        };
        n.attempt += 1;
        let msg = Msg::Notify {
            notification: id,
            body: n.body.clone(),
            wrapped: n.wrapped,
        };
        match &n.endpoint {
            Endpoint::Function(_) => {
                ctx.send(0, Component::Mns, Component::Fc, msg);
                n.timer = Some(ctx.send(
                    PUSH_TIMEOUT_MS,
                    Component::Mns,
                    Component::Mns,
                    Msg::PushTimeout { notification: id },
                ));
            }
            // The shell always answers (status, error, or a timeout after
            // PUSH_TIMEOUT_MS of wall time), so no virtual timer: at high
            // speeds it would expire before any real endpoint could answer.
            Endpoint::Http(_) => {
                ctx.send(0, Component::Mns, Component::Shell, msg);
            }
        }
        let (seq, attempt, subscription) = (n.seq, n.attempt, n.subscription.clone());
        if let Some(rec) = self.record_mut(seq) {
            rec.attempts.push(Attempt {
                subscription,
                attempt,
                at: ctx.now,
                outcome: None,
                answered_at: None,
                latency_ms: None,
            });
        }
    }

    /// Describes the real HTTP request for a push that reached the shell;
    /// `None` when the notification is gone or not for an HTTP endpoint.
    /// Headers as upstream sends them (SPEC §3), except the signature ones
    /// (`Authorization`, `x-mns-signing-cert-url`): see README. `Date` is
    /// the virtual clock's.
    pub fn http_push(&self, ctx: &mut Ctx<'_>, notification: u64) -> Option<HttpPush> {
        let n = self.notifications.get(&notification)?;
        let Endpoint::Http(url) = &n.endpoint else {
            return None;
        };
        let content_type = match n.format {
            NotifyFormat::Json => "application/json;charset=utf-8",
            NotifyFormat::Xml => "text/xml;charset=utf-8",
            NotifyFormat::Simplified => "text/plain;charset=utf-8",
        };
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(n.body.as_bytes()));
        let mut headers = vec![
            ("content-type", content_type.to_owned()),
            ("content-md5", md5),
            ("date", http_date(ctx.wall_ms())),
            ("x-mns-request-id", random_hex(ctx.rng, 12)),
            ("x-mns-version", API_VERSION.to_owned()),
        ];
        if n.format == NotifyFormat::Simplified {
            headers.push(("x-mns-message-id", n.message_id.to_string()));
            if let Some(tag) = &n.tag {
                headers.push(("x-mns-message-tag", tag.to_string()));
            }
        }
        Some(HttpPush {
            notification,
            attempt: n.attempt,
            url: url.clone(),
            subscription: n.subscription.clone(),
            message_id: n.message_id.to_string(),
            body: n.body.clone(),
            headers,
        })
    }

    /// Records the wall-clock latency of a real push's current attempt.
    pub fn note_latency(&mut self, notification: u64, latency_ms: u64) {
        let Some(n) = self.notifications.get(&notification) else {
            return;
        };
        let (seq, attempt, subscription) = (n.seq, n.attempt, n.subscription.clone());
        if let Some(rec) = self.record_mut(seq)
            && let Some(a) = rec
                .attempts
                .iter_mut()
                .rev()
                .find(|a| a.subscription == subscription && a.attempt == attempt)
        {
            a.latency_ms = Some(latency_ms);
        }
    }

    fn record_mut(&mut self, seq: u64) -> Option<&mut MessageRecord> {
        let first = self.log.front()?.seq;
        self.log.get_mut(seq.checked_sub(first)? as usize)
    }

    fn answered(&mut self, ctx: &mut Ctx<'_>, id: u64, outcome: PushOutcome) {
        let Some(n) = self.notifications.get_mut(&id) else {
            return; // a late answer to a push that already timed out
        };
        if let Some(k) = n.timer.take() {
            ctx.cancel(k);
        }
        let (seq, attempt, strategy) = (n.seq, n.attempt, n.strategy);
        let subscription = n.subscription.clone();
        let delivered = outcome.delivered();
        if let Some(rec) = self.record_mut(seq)
            && let Some(a) = rec
                .attempts
                .iter_mut()
                .rev()
                .find(|a| a.subscription == subscription && a.attempt == attempt)
        {
            a.outcome = Some(outcome);
            a.answered_at = Some(ctx.now);
        }
        if delivered {
            self.notifications.remove(&id);
            return;
        }
        match strategy.retry_delay(attempt, ctx.rng) {
            Some(delay) => {
                ctx.send(
                    delay,
                    Component::Mns,
                    Component::Mns,
                    Msg::PushRetry { notification: id },
                );
            }
            None => {
                self.notifications.remove(&id);
                self.dropped += 1;
                if let Some(rec) = self.record_mut(seq) {
                    rec.dropped = true;
                }
            }
        }
    }
}

/// An XML document (declaration, then `value` as element `root`).
pub fn xml_document<T: Serialize>(root: &str, value: &T) -> String {
    // Serialising plain structs of strings and numbers cannot fail.
    let body = quick_xml::se::to_string_with_root(root, value).unwrap_or_default();
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}")
}

/// An RFC 7231 date (`Wed, 01 Jan 2026 00:00:00 GMT`) of Unix milliseconds.
pub fn http_date(unix_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

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
