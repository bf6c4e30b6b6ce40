//! mns: the in-memory Simple Message Queue (formerly MNS).
//!
//! Owns topics, subscriptions, queues, the log of published messages and
//! push delivery: a publish becomes one notification per subscription,
//! pushed in the subscription's notify format, timed out, retried per its
//! notify strategy on the virtual clock, then dropped. Every attempt is
//! recorded. It knows the engine and the function only as bus addresses.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use md5::{Digest, Md5};
use rand::{Rng, RngCore};
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::TaskRef;
use crate::sim::{Component, Ctx, Millis, Msg, PushOutcome, TaskError};

/// The account id shown as `TopicOwner` and `Subscriber`.
pub const ACCOUNT: &str = "1234567890123456";

/// How long a push waits for an answer before it counts as failed
/// (not documented upstream; 5 s here).
pub const PUSH_TIMEOUT_MS: Millis = 5_000;

/// How many published messages are kept for inspection.
pub const MESSAGE_LOG_LIMIT: usize = 10_000;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dest {
    Topic(String),
    Queue(String),
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Topic(t) => write!(f, "topic {t}"),
            Dest::Queue(q) => write!(f, "queue {q}"),
        }
    }
}

/// What a publish answers (the requestResponse task's local).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReceipt {
    pub message_id: String,
    pub message_body_md5: String,
    pub request_id: String,
}

impl PublishReceipt {
    pub fn to_json(&self) -> Value {
        json!({
            "MessageId": self.message_id,
            "MessageBodyMD5": self.message_body_md5,
            "RequestId": self.request_id,
        })
    }
}

/// `NotifyStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyStrategy {
    /// 3 retries, 10-20 s apart (random).
    #[default]
    BackoffRetry,
    /// 176 retries: 1, 2, 4 ... 512 s, then every 512 s (about a day).
    ExponentialDecayRetry,
}

impl NotifyStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyStrategy::BackoffRetry => "BACKOFF_RETRY",
            NotifyStrategy::ExponentialDecayRetry => "EXPONENTIAL_DECAY_RETRY",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyStrategy> {
        match s {
            "BACKOFF_RETRY" => Some(NotifyStrategy::BackoffRetry),
            "EXPONENTIAL_DECAY_RETRY" => Some(NotifyStrategy::ExponentialDecayRetry),
            _ => None,
        }
    }

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

/// `NotifyContentFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyFormat {
    #[default]
    Json,
    Xml,
    Simplified,
}

impl NotifyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyFormat::Json => "JSON",
            NotifyFormat::Xml => "XML",
            NotifyFormat::Simplified => "SIMPLIFIED",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyFormat> {
        match s {
            "JSON" => Some(NotifyFormat::Json),
            "XML" => Some(NotifyFormat::Xml),
            "SIMPLIFIED" => Some(NotifyFormat::Simplified),
            _ => None,
        }
    }
}

/// Where a subscription pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The simulated function, by name.
    Function(String),
    /// A real HTTP endpoint (pushed by the shell).
    Http(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Function(n) => write!(f, "fc:{n}"),
            Endpoint::Http(u) => f.write_str(u),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub name: String,
    pub endpoint: Endpoint,
    pub strategy: NotifyStrategy,
    pub format: NotifyFormat,
    pub created: Millis,
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    pub subscriptions: Vec<Subscription>,
    pub created: Millis,
    pub messages: u64,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    /// Messages waiting (not consumed by a function).
    pub messages: VecDeque<u64>,
    /// The function that consumes it, if any.
    pub consumer: Option<String>,
    pub created: Millis,
}

/// One push attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub subscription: String,
    pub attempt: u32,
    pub at: Millis,
    /// `None` while in flight.
    pub outcome: Option<PushOutcome>,
    pub answered_at: Option<Millis>,
}

/// A published message, kept for inspection.
#[derive(Debug, Clone)]
pub struct MessageRecord {
    /// Sequence number (position in the log since the start).
    pub seq: u64,
    pub id: String,
    pub dest: Dest,
    pub body: Arc<str>,
    pub md5: String,
    pub tag: Option<Box<str>>,
    pub published: Millis,
    pub origin: Option<TaskRef>,
    pub attempts: Vec<Attempt>,
    /// Set when every retry failed and the message was given up.
    pub dropped: bool,
}

/// A notification being delivered (a message to one subscriber).
#[derive(Debug, Clone)]
struct Notification {
    seq: u64,
    endpoint: Endpoint,
    subscription: String,
    strategy: NotifyStrategy,
    body: Arc<str>,
    wrapped: bool,
    attempt: u32,
    timer: Option<crate::sim::EnvelopeKey>,
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

/// JSON notify body (SPEC §1).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonNotification<'a> {
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

    pub fn ensure_topic(&mut self, name: &str, now: Millis) {
        self.topics.entry(name.to_owned()).or_insert_with(|| Topic {
            name: name.to_owned(),
            subscriptions: Vec::new(),
            created: now,
            messages: 0,
        });
    }

    pub fn ensure_queue(&mut self, name: &str, now: Millis) {
        self.queues.entry(name.to_owned()).or_insert_with(|| Queue {
            name: name.to_owned(),
            messages: VecDeque::new(),
            consumer: None,
            created: now,
        });
    }

    /// Subscribes the simulated function to a topic (idempotent).
    pub fn subscribe_function(&mut self, topic: &str, function: &str, now: Millis) {
        self.ensure_topic(topic, now);
        let Some(t) = self.topics.get_mut(topic) else {
            return;
        };
        if t.subscriptions
            .iter()
            .any(|s| s.endpoint == Endpoint::Function(function.to_owned()))
        {
            return;
        }
        t.subscriptions.push(Subscription {
            name: function.to_owned(),
            endpoint: Endpoint::Function(function.to_owned()),
            strategy: NotifyStrategy::BackoffRetry,
            format: NotifyFormat::Json,
            created: now,
        });
    }

    /// Adds or replaces a subscription.
    pub fn subscribe(&mut self, topic: &str, sub: Subscription) -> bool {
        let Some(t) = self.topics.get_mut(topic) else {
            return false;
        };
        t.subscriptions.retain(|s| s.name != sub.name);
        t.subscriptions.push(sub);
        true
    }

    /// Makes the simulated function consume a queue.
    pub fn set_queue_consumer(&mut self, queue: &str, function: &str) {
        if let Some(q) = self.queues.get_mut(queue) {
            q.consumer = Some(function.to_owned());
        }
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
            } => self.publish(ctx, dest, body, tag, delay_seconds, origin),
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
            _ => {}
        }
    }

    fn publish(
        &mut self,
        ctx: &mut Ctx<'_>,
        dest: Dest,
        body: Arc<str>,
        tag: Option<Box<str>>,
        delay_seconds: u64,
        origin: Option<TaskRef>,
    ) {
        let exists = match &dest {
            Dest::Topic(t) => self.topics.contains_key(t),
            Dest::Queue(q) => self.queues.contains_key(q),
        };
        if !exists {
            if let Some(task) = origin {
                let (code, what) = match &dest {
                    Dest::Topic(t) => ("TopicNotExist", format!("The topic `{t}` does not exist")),
                    Dest::Queue(q) => ("QueueNotExist", format!("The queue `{q}` does not exist")),
                };
                ctx.send(
                    0,
                    Component::Mns,
                    Component::Engine,
                    Msg::Published {
                        task,
                        result: Err(TaskError {
                            error: format!("MNS.{code}"),
                            cause: what,
                        }),
                    },
                );
            }
            return;
        }
        let md5 = format!("{:X}", Md5::digest(body.as_bytes()));
        let message_id = random_hex(ctx.rng, 16);
        let request_id = random_hex(ctx.rng, 12);
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(task) = origin {
            ctx.send(
                0,
                Component::Mns,
                Component::Engine,
                Msg::Published {
                    task,
                    result: Ok(PublishReceipt {
                        message_id: message_id.clone(),
                        message_body_md5: md5.clone(),
                        request_id,
                    }),
                },
            );
        }
        let publish_ms = ctx.wall_ms();
        let mut targets = Vec::new();
        match &dest {
            Dest::Topic(t) => {
                if let Some(topic) = self.topics.get_mut(t) {
                    topic.messages += 1;
                    for s in &topic.subscriptions {
                        let (body, wrapped) = match s.format {
                            NotifyFormat::Simplified => (body.clone(), false),
                            NotifyFormat::Json | NotifyFormat::Xml => {
                                // XML pushes are rendered by the shell; the
                                // simulated function reads JSON.
                                let n = JsonNotification {
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
                                let text = serde_json::to_string(&n).unwrap_or_default();
                                (Arc::from(text), true)
                            }
                        };
                        targets.push((
                            s.endpoint.clone(),
                            s.name.clone(),
                            s.strategy,
                            body,
                            wrapped,
                        ));
                    }
                }
            }
            Dest::Queue(q) => {
                if let Some(queue) = self.queues.get_mut(q) {
                    match &queue.consumer {
                        Some(f) => targets.push((
                            Endpoint::Function(f.clone()),
                            format!("{q}-consumer"),
                            NotifyStrategy::BackoffRetry,
                            body.clone(),
                            false,
                        )),
                        None => queue.messages.push_back(seq),
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
        let delay = delay_seconds.saturating_mul(1000);
        for (endpoint, subscription, strategy, body, wrapped) in targets {
            let id = self.next_notification;
            self.next_notification += 1;
            self.notifications.insert(
                id,
                Notification {
                    seq,
                    endpoint,
                    subscription,
                    strategy,
                    body,
                    wrapped,
                    attempt: 0,
                    timer: None,
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
    }

    /// Makes one push attempt of a notification.
    fn push(&mut self, ctx: &mut Ctx<'_>, id: u64) {
        let Some(n) = self.notifications.get_mut(&id) else {
            return;
        };
        n.attempt += 1;
        let (to, msg) = match &n.endpoint {
            Endpoint::Function(_) => (
                Component::Fc,
                Msg::Notify {
                    notification: id,
                    body: n.body.clone(),
                    wrapped: n.wrapped,
                },
            ),
            Endpoint::Http(_) => (
                Component::Shell,
                Msg::Notify {
                    notification: id,
                    body: n.body.clone(),
                    wrapped: n.wrapped,
                },
            ),
        };
        ctx.send(0, Component::Mns, to, msg);
        n.timer = Some(ctx.send(
            PUSH_TIMEOUT_MS,
            Component::Mns,
            Component::Mns,
            Msg::PushTimeout { notification: id },
        ));
        let (seq, attempt, subscription) = (n.seq, n.attempt, n.subscription.clone());
        if let Some(rec) = self.record_mut(seq) {
            rec.attempts.push(Attempt {
                subscription,
                attempt,
                at: ctx.now,
                outcome: None,
                answered_at: None,
            });
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
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_retry_is_three_retries_10_to_20_seconds() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for r in 1..=3 {
            let d = NotifyStrategy::BackoffRetry
                .retry_delay(r, &mut rng)
                .unwrap_or(0);
            assert!((10_000..=20_000).contains(&d), "{d}");
        }
        assert_eq!(NotifyStrategy::BackoffRetry.retry_delay(4, &mut rng), None);
    }

    #[test]
    fn exponential_decay_retry_schedule() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let s = NotifyStrategy::ExponentialDecayRetry;
        let delays: Vec<_> = (1..=176)
            .filter_map(|r| s.retry_delay(r, &mut rng))
            .collect();
        assert_eq!(delays.len(), 176);
        assert_eq!(&delays[..4], &[1000, 2000, 4000, 8000]);
        assert_eq!(delays[9], 512_000);
        assert_eq!(delays[175], 512_000);
        assert_eq!(s.retry_delay(177, &mut rng), None);
        let total: u64 = delays.iter().sum();
        // About a day.
        assert!((80_000_000..90_000_000).contains(&total), "{total}");
    }
}
