//! model: the MNS's values: topics and subscriptions, queues and the
//! messages in them, their attributes, the notify strategy and format, what
//! a publish asks and what a receive answers, the log of published messages
//! and their push attempts, and [`MnsError`].
//!
//! Plain data and the conversions that belong to it (names of strategies
//! and formats, error codes and statuses). It must not touch the bus, the
//! clock or the RNG, nor validate (`check`), nor deliver (`push`): the
//! attributes' range checks (`validate`) live in `check`, the strategies'
//! retry schedule ([`NotifyStrategy::retry_delay`]) in `push`.

use std::sync::Arc;

use super::check::{MAX_MESSAGE_SIZE, MAX_SUBSCRIPTIONS_PER_TOPIC};
use crate::kernel::{Dest, Millis, PushOutcome, TaskRef};

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

/// A subscription of a topic.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub name: String,
    pub endpoint: Endpoint,
    pub strategy: NotifyStrategy,
    pub format: NotifyFormat,
    /// Only messages with this tag are pushed (`FilterTag`).
    pub filter_tag: Option<String>,
    pub created: Millis,
    pub modified: Millis,
}

impl Subscription {
    /// A subscription with the defaults of the simulator (JSON, backoff).
    pub fn new(name: &str, endpoint: Endpoint, now: Millis) -> Subscription {
        Subscription {
            name: name.to_owned(),
            endpoint,
            strategy: NotifyStrategy::BackoffRetry,
            format: NotifyFormat::Json,
            filter_tag: None,
            created: now,
            modified: now,
        }
    }

    /// Whether two subscriptions push the same way (a repeated create of
    /// an identical subscription is not a conflict).
    pub(super) fn same_as(&self, other: &Subscription) -> bool {
        self.endpoint == other.endpoint
            && self.strategy == other.strategy
            && self.format == other.format
            && self.filter_tag == other.filter_tag
    }
}

/// A topic's settable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicAttributes {
    /// Largest message body in bytes (1024-65536).
    pub maximum_message_size: u32,
    pub logging_enabled: bool,
}

impl Default for TopicAttributes {
    fn default() -> Self {
        TopicAttributes {
            maximum_message_size: MAX_MESSAGE_SIZE,
            logging_enabled: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    pub subscriptions: Vec<Subscription>,
    pub created: Millis,
    pub modified: Millis,
    pub messages: u64,
    pub attributes: TopicAttributes,
}

/// A queue's settable attributes (seconds and bytes, as upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueAttributes {
    /// How long a received message stays invisible (1-43200 s).
    pub visibility_timeout: u32,
    /// Largest message body in bytes (1024-65536).
    pub maximum_message_size: u32,
    /// How long a message is kept (60-604800 s; not enforced, see README).
    pub message_retention_period: u32,
    /// Default delay of sent messages (0-604800 s).
    pub delay_seconds: u32,
    /// Default long-poll wait of receives (0-30 s).
    pub polling_wait_seconds: u32,
    pub logging_enabled: bool,
}

impl Default for QueueAttributes {
    fn default() -> Self {
        QueueAttributes {
            visibility_timeout: 30,
            maximum_message_size: MAX_MESSAGE_SIZE,
            message_retention_period: 345_600,
            delay_seconds: 0,
            polling_wait_seconds: 0,
            logging_enabled: false,
        }
    }
}

/// A message waiting in a queue for a consumer.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    /// Position in the message log.
    pub seq: u64,
    pub id: String,
    pub body: Arc<str>,
    pub md5: String,
    /// 1 (highest) to 16 (lowest).
    pub priority: u8,
    pub enqueued: Millis,
    pub first_dequeued: Option<Millis>,
    pub dequeue_count: u32,
    /// Until then it cannot be received (delay, or received and invisible).
    pub visible_at: Millis,
    /// The handle of the latest receive, if any.
    pub receipt: Option<String>,
    /// The wake-up scheduled for when it becomes visible, cancelled when a
    /// newer one replaces it or the message goes (so receives and
    /// visibility changes never pile envelopes up on the bus).
    pub wake: Option<crate::kernel::EnvelopeKey>,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    /// Messages waiting (not consumed by a function), in send order.
    pub messages: Vec<QueuedMessage>,
    /// The function that consumes it, if any.
    pub consumer: Option<String>,
    pub created: Millis,
    pub modified: Millis,
    pub attributes: QueueAttributes,
}

/// How many messages of a queue are in which state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounts {
    /// Visible: a receive would get them.
    pub active: u64,
    /// Received and not yet visible again.
    pub inactive: u64,
    /// Sent with a delay that has not elapsed.
    pub delayed: u64,
}

/// What a receive (or peek) answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub id: String,
    /// Empty for a peek.
    pub receipt_handle: String,
    pub body: Arc<str>,
    pub md5: String,
    pub priority: u8,
    pub enqueued: Millis,
    pub first_dequeued: Millis,
    pub dequeue_count: u32,
    pub next_visible: Millis,
}

/// A publish (topic) or send (queue).
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub dest: Dest,
    pub body: Arc<str>,
    pub tag: Option<Box<str>>,
    /// Queues: seconds before it can be received (0-604800); `None` takes
    /// the queue's `DelaySeconds`, an explicit 0 means no delay.
    pub delay_seconds: Option<u64>,
    /// Queues: 1-16 (8 when absent).
    pub priority: Option<u8>,
    pub origin: Option<TaskRef>,
}

/// Why an MNS operation was refused: the upstream code, HTTP status and a
/// message saying what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MnsError {
    #[error("The topic `{0}` does not exist.")]
    TopicNotExist(String),
    #[error("The queue `{0}` does not exist.")]
    QueueNotExist(String),
    #[error("The subscription `{1}` of topic `{0}` does not exist.")]
    SubscriptionNotExist(String, String),
    #[error("The topic `{0}` already exists with different attributes.")]
    TopicAlreadyExist(String),
    #[error("The queue `{0}` already exists with different attributes.")]
    QueueAlreadyExist(String),
    #[error("The subscription `{1}` of topic `{0}` already exists with different attributes.")]
    SubscriptionAlreadyExist(String, String),
    #[error("The message does not exist (queue `{0}` is empty, or the message was deleted).")]
    MessageNotExist(String),
    #[error("The receipt handle `{0}` is not valid: {1}.")]
    ReceiptHandleError(String, &'static str),
    #[error("{0}")]
    InvalidArgument(String),
    #[error(
        "The topic `{0}` already has {MAX_SUBSCRIPTIONS_PER_TOPIC} subscriptions, the most a topic can have; unsubscribe one first."
    )]
    SubscriptionLimitExceeded(String),
}

impl MnsError {
    /// The upstream error code.
    pub fn code(&self) -> &'static str {
        match self {
            MnsError::TopicNotExist(_) => "TopicNotExist",
            MnsError::QueueNotExist(_) => "QueueNotExist",
            MnsError::SubscriptionNotExist(..) => "SubscriptionNotExist",
            MnsError::TopicAlreadyExist(_) => "TopicAlreadyExist",
            MnsError::QueueAlreadyExist(_) => "QueueAlreadyExist",
            MnsError::SubscriptionAlreadyExist(..) => "SubscriptionAlreadyExist",
            MnsError::MessageNotExist(_) => "MessageNotExist",
            MnsError::ReceiptHandleError(..) => "ReceiptHandleError",
            MnsError::InvalidArgument(_) => "InvalidArgument",
            MnsError::SubscriptionLimitExceeded(_) => "SubscriptionLimitExceeded",
        }
    }

    /// The HTTP status upstream answers with.
    pub fn status(&self) -> u16 {
        match self {
            MnsError::TopicNotExist(_)
            | MnsError::QueueNotExist(_)
            | MnsError::SubscriptionNotExist(..)
            | MnsError::MessageNotExist(_) => 404,
            MnsError::TopicAlreadyExist(_)
            | MnsError::QueueAlreadyExist(_)
            | MnsError::SubscriptionAlreadyExist(..) => 409,
            MnsError::ReceiptHandleError(..) | MnsError::InvalidArgument(_) => 400,
            MnsError::SubscriptionLimitExceeded(_) => 403,
        }
    }
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
    /// Real pushes: wall-clock milliseconds the endpoint took to answer.
    pub latency_ms: Option<u64>,
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
