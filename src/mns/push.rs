//! push: delivery of published messages to subscribers: the notify body
//! of each format, one push attempt at a time to the simulated function
//! (with a virtual timeout) or to the shell (real `http://` endpoints,
//! described as an [`HttpPush`]), answers and timeouts, retries on the
//! virtual clock per the notify strategy, then success or drop. Every
//! attempt is recorded in the message log.
//!
//! Also the wire details a push shares with the REST API (`api::mns`):
//! the account, API version and XML namespace, XML documents, HTTP dates.
//! It must not touch topics, subscriptions or queues (a notification
//! carries what it needs), and does no I/O.

use std::sync::Arc;

use base64::Engine as _;
use md5::{Digest, Md5};
use rand::{Rng, RngCore};
use serde::Serialize;

use super::model::{Attempt, Endpoint, NotifyFormat, NotifyStrategy, Subscription};
use super::{Mns, random_hex};
use crate::kernel::{Component, Ctx, Millis, Msg, PushOutcome};

/// The account id shown as `TopicOwner` and `Subscriber`.
pub const ACCOUNT: &str = "1234567890123456";

/// How long a push waits for an answer before it counts as failed
/// (not documented upstream; 5 s here).
pub const PUSH_TIMEOUT_MS: Millis = 5_000;

/// The REST API version (`x-mns-version`).
pub const API_VERSION: &str = "2015-06-06";

/// The XML namespace of every MNS body.
pub const XMLNS: &str = "http://mns.aliyuncs.com/doc/v1/";

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

/// Where a notification goes: the simulated function (one, whatever its
/// name), or a real endpoint.
#[derive(Debug, Clone)]
pub(super) enum Target {
    Function,
    Http(String),
}

impl Target {
    pub(super) fn of(e: &Endpoint) -> Target {
        match e {
            Endpoint::Function(_) => Target::Function,
            Endpoint::Http(url) => Target::Http(url.clone()),
        }
    }
}

/// Notification ids are sequential numbers MNS hands out itself: a
/// multiplicative hash spreads them well, at a fraction of SipHash's cost.
#[derive(Default)]
pub(super) struct SeqHasher(u64);

impl std::hash::Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A notification being delivered (a message to one subscriber).
#[derive(Debug, Clone)]
pub(super) struct Notification {
    pub(super) seq: u64,
    pub(super) target: Target,
    pub(super) subscription: Arc<str>,
    pub(super) strategy: NotifyStrategy,
    pub(super) format: NotifyFormat,
    pub(super) body: Arc<str>,
    pub(super) wrapped: bool,
    pub(super) attempt: u32,
    pub(super) timer: Option<crate::kernel::EnvelopeKey>,
    pub(super) message_id: Arc<str>,
    pub(super) tag: Option<Box<str>>,
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

/// The text pushed to subscription `s` of topic `topic` for a message,
/// and whether it is wrapped in a notify body (JSON, XML) rather than the
/// bare message (SIMPLIFIED).
#[allow(clippy::too_many_arguments)]
pub(super) fn notification_text(
    buf: &mut Vec<u8>,
    s: &Subscription,
    topic: &str,
    message_id: &str,
    body: &Arc<str>,
    md5: &str,
    tag: Option<&str>,
    publish_ms: i64,
) -> (Arc<str>, bool) {
    let http = matches!(s.endpoint, Endpoint::Http(_));
    match s.format {
        NotifyFormat::Simplified => (body.clone(), false),
        // The simulated function reads JSON whatever the format; a real
        // endpoint gets XML.
        NotifyFormat::Xml if http => {
            let n = NotificationBody {
                xmlns: Some(XMLNS),
                topic_owner: ACCOUNT,
                topic_name: topic,
                subscriber: ACCOUNT,
                subscription_name: &s.name,
                message_id,
                message: body,
                message_md5: md5,
                message_tag: tag.unwrap_or(""),
                publish_time: publish_ms.to_string(),
            };
            (Arc::from(xml_document("Notification", &n)), true)
        }
        NotifyFormat::Json | NotifyFormat::Xml => {
            // Hot path (every push of every task): written by hand, the
            // fields of `NotificationBody` in its order, as serde_json
            // would write them.
            use crate::kernel::json::push_str;
            buf.clear();
            buf.extend_from_slice(b"{\"TopicOwner\":");
            push_str(buf, ACCOUNT);
            buf.extend_from_slice(b",\"TopicName\":");
            push_str(buf, topic);
            buf.extend_from_slice(b",\"Subscriber\":");
            push_str(buf, ACCOUNT);
            buf.extend_from_slice(b",\"SubscriptionName\":");
            push_str(buf, &s.name);
            buf.extend_from_slice(b",\"MessageId\":");
            push_str(buf, message_id);
            buf.extend_from_slice(b",\"Message\":");
            push_str(buf, body);
            buf.extend_from_slice(b",\"MessageMD5\":");
            push_str(buf, md5);
            buf.extend_from_slice(b",\"MessageTag\":");
            push_str(buf, tag.unwrap_or(""));
            buf.extend_from_slice(b",\"PublishTime\":\"");
            buf.extend_from_slice(publish_ms.to_string().as_bytes());
            buf.extend_from_slice(b"\"}");
            let text = match std::str::from_utf8(buf) {
                Ok(t) => Arc::from(t),
                Err(_) => Arc::from(String::from_utf8_lossy(buf)),
            };
            (text, true)
        }
    }
}

impl Mns {
    /// Makes one push attempt of a notification.
    pub(super) fn push(&mut self, ctx: &mut Ctx<'_>, id: u64) {
        let Some(n) = self.notifications.get_mut(&id) else {
            return;
        };
        n.attempt += 1;
        let msg = Msg::Notify {
            notification: id,
            body: n.body.clone(),
            wrapped: n.wrapped,
        };
        match &n.target {
            Target::Function => {
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
            Target::Http(_) => {
                ctx.send(0, Component::Mns, Component::Shell, msg);
            }
        }
        let (seq, attempt, subscription) = (n.seq, n.attempt, n.subscription.clone());
        if let Some(rec) = self.record_mut(seq) {
            // Most messages are pushed once, to one subscriber.
            if rec.attempts.is_empty() {
                rec.attempts.reserve_exact(1);
            }
            rec.attempts.push(Attempt {
                subscription: subscription.to_string(),
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
        let Target::Http(url) = &n.target else {
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
            subscription: n.subscription.to_string(),
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
                .find(|a| *a.subscription == *subscription && a.attempt == attempt)
        {
            a.latency_ms = Some(latency_ms);
        }
    }

    /// Whether attempt `attempt` of a notification still waits for its
    /// answer (a restart performs such a push again).
    pub fn push_awaiting(&self, notification: u64, attempt: u32) -> bool {
        let Some(n) = self.notifications.get(&notification) else {
            return false;
        };
        n.attempt == attempt
            && self.message(n.seq).is_none_or(|rec| {
                !rec.attempts.iter().any(|a| {
                    *a.subscription == *n.subscription
                        && a.attempt == attempt
                        && a.outcome.is_some()
                })
            })
    }

    /// Records the answer (or timeout) of a notification's current
    /// attempt, then ends it (delivered), schedules its retry, or drops it
    /// when its strategy has no retry left.
    pub(super) fn answered(&mut self, ctx: &mut Ctx<'_>, id: u64, outcome: PushOutcome) {
        let Some(n) = self.notifications.get_mut(&id) else {
            return; // a late answer to a push that already timed out
        };
        let (seq, attempt, strategy) = (n.seq, n.attempt, n.strategy);
        let subscription = n.subscription.clone();
        // An attempt is answered once: an answer after it timed out (a
        // person answering a held push late) is too late, whatever it says;
        // the retry already scheduled goes out.
        let late = self.record_mut(seq).is_some_and(|rec| {
            rec.attempts
                .iter()
                .rev()
                .find(|a| *a.subscription == *subscription && a.attempt == attempt)
                .is_some_and(|a| a.outcome.is_some())
        });
        if late {
            return;
        }
        let Some(n) = self.notifications.get_mut(&id) else {
            return;
        };
        if let Some(k) = n.timer.take() {
            ctx.cancel(k);
        }
        let delivered = outcome.delivered();
        if let Some(rec) = self.record_mut(seq)
            && let Some(a) = rec
                .attempts
                .iter_mut()
                .rev()
                .find(|a| *a.subscription == *subscription && a.attempt == attempt)
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
