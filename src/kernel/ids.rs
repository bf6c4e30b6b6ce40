//! The ids messages carry: executions, task attempts, MNS destinations.

use serde_json::{Value, json};

/// Index of an execution in the engine's executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecId(pub u32);

/// Names one task attempt (or one timer) of one execution: the execution and
/// the id of the event that scheduled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskRef {
    pub exec: ExecId,
    pub task: u32,
}

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
