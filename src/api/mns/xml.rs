//! xml: the request and answer bodies of the MNS REST API, as serde types
//! read and written by quick-xml. Field names are the upstream element
//! names. Request fields are all optional text so that a bad value gets an
//! `InvalidArgument` naming the field rather than a generic parse error.

use quick_xml::events::Event;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::MnsFail;

/// Parses a request body whose root element must be `root`.
pub(super) fn parse<T: DeserializeOwned>(root: &str, body: &[u8]) -> Result<T, MnsFail> {
    let text = std::str::from_utf8(body).map_err(|_| MnsFail::malformed("it is not UTF-8"))?;
    let found = root_name(text)?;
    if found != root {
        return Err(MnsFail::malformed(format!(
            "the root element is <{found}>, expected <{root}>"
        )));
    }
    quick_xml::de::from_str(text).map_err(MnsFail::malformed)
}

/// The local name of a document's root element.
pub(super) fn root_name(text: &str) -> Result<String, MnsFail> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Ok(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) => return Err(MnsFail::malformed("the document is empty")),
            Ok(Event::Text(t)) if !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(MnsFail::malformed("text before the root element"));
            }
            Ok(_) => {}
            Err(e) => return Err(MnsFail::malformed(e)),
        }
    }
}

// ---- requests

/// `<Topic>` of CreateTopic / SetTopicAttributes.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct TopicIn {
    pub maximum_message_size: Option<String>,
    pub logging_enabled: Option<String>,
}

/// `<Queue>` of CreateQueue / SetQueueAttributes.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct QueueIn {
    pub visibility_timeout: Option<String>,
    pub maximum_message_size: Option<String>,
    pub message_retention_period: Option<String>,
    pub delay_seconds: Option<String>,
    pub polling_wait_seconds: Option<String>,
    pub logging_enabled: Option<String>,
}

/// `<Subscription>` of Subscribe / SetSubscriptionAttributes.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct SubscriptionIn {
    pub endpoint: Option<String>,
    pub notify_strategy: Option<String>,
    pub notify_content_format: Option<String>,
    pub filter_tag: Option<String>,
}

/// `<Message>` of PublishMessage / SendMessage.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct MessageIn {
    pub message_body: Option<String>,
    pub message_tag: Option<String>,
    pub delay_seconds: Option<String>,
    pub priority: Option<String>,
}

/// `<Messages>` of BatchSendMessage.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct MessagesIn {
    #[serde(rename = "Message")]
    pub message: Vec<MessageIn>,
}

/// `<ReceiptHandles>` of BatchDeleteMessage.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ReceiptHandlesIn {
    #[serde(rename = "ReceiptHandle")]
    pub receipt_handle: Vec<String>,
}

// ---- answers

/// `<Messages>` answered by BatchSendMessage.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MessageIdsOut<'a> {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub message: Vec<MessageIdEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MessageIdEntry<'a> {
    pub message_id: &'a str,
    #[serde(rename = "MessageBodyMD5")]
    pub message_body_md5: &'a str,
}

/// `<Errors>` of a BatchDeleteMessage that partly failed.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteErrorsOut {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub error: Vec<DeleteErrorEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteErrorEntry {
    pub error_code: &'static str,
    pub error_message: String,
    pub receipt_handle: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ErrorOut<'a> {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub code: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
    pub host_id: &'a str,
}

/// `<Message>` answered by PublishMessage and SendMessage.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MessageIdOut<'a> {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub message_id: &'a str,
    #[serde(rename = "MessageBodyMD5")]
    pub message_body_md5: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TopicOut {
    #[serde(rename = "@xmlns", skip_serializing_if = "Option::is_none")]
    pub xmlns: Option<&'static str>,
    #[serde(rename = "TopicURL", skip_serializing_if = "Option::is_none")]
    pub topic_url: Option<String>,
    pub topic_name: String,
    pub create_time: i64,
    pub last_modify_time: i64,
    pub maximum_message_size: u32,
    pub message_retention_period: u32,
    pub message_count: u64,
    pub logging_enabled: &'static str,
}

/// A list entry without meta: just the URL.
#[derive(Serialize)]
pub(super) struct UrlOnly {
    #[serde(rename = "$value")]
    pub url: UrlField,
}

/// The one URL element of a list entry (`TopicURL`, `QueueURL`,
/// `SubscriptionURL`).
#[derive(Serialize)]
pub(super) enum UrlField {
    #[serde(rename = "TopicURL")]
    Topic(String),
    #[serde(rename = "QueueURL")]
    Queue(String),
    #[serde(rename = "SubscriptionURL")]
    Subscription(String),
}

/// `<Topics>`: one page of ListTopic.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TopicsOut<T: Serialize> {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub topic: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `<Queues>`: one page of ListQueue.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueuesOut<T: Serialize> {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub queue: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `<Subscriptions>`: one page of ListSubscriptionByTopic.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SubscriptionsOut {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub subscription: Vec<UrlOnly>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SubscriptionOut<'a> {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub topic_owner: &'static str,
    pub topic_name: &'a str,
    pub subscription_name: &'a str,
    pub endpoint: String,
    pub notify_strategy: &'static str,
    pub notify_content_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_tag: Option<&'a str>,
    pub create_time: i64,
    pub last_modify_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueueOut {
    #[serde(rename = "@xmlns", skip_serializing_if = "Option::is_none")]
    pub xmlns: Option<&'static str>,
    #[serde(rename = "QueueURL", skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
    pub queue_name: String,
    pub create_time: i64,
    pub last_modify_time: i64,
    pub visibility_timeout: u32,
    pub maximum_message_size: u32,
    pub message_retention_period: u32,
    pub delay_seconds: u32,
    pub polling_wait_seconds: u32,
    pub active_messages: u64,
    pub inactive_messages: u64,
    pub delay_messages: u64,
    pub logging_enabled: &'static str,
}

/// `<Message>` of ReceiveMessage / PeekMessage.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReceivedOut {
    #[serde(rename = "@xmlns", skip_serializing_if = "Option::is_none")]
    pub xmlns: Option<&'static str>,
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_handle: Option<String>,
    #[serde(rename = "MessageBodyMD5")]
    pub message_body_md5: String,
    pub message_body: String,
    pub enqueue_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_visible_time: Option<i64>,
    pub first_dequeue_time: i64,
    pub dequeue_count: u32,
    pub priority: u8,
}

/// `<Messages>` of the batch receive / peek.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReceivedListOut {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub message: Vec<ReceivedOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ChangeVisibilityOut {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub receipt_handle: String,
    pub next_visible_time: i64,
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn reads_what_the_python_sdk_sends() {
        let m: MessageIn = parse(
            "Message",
            br#"<?xml version="1.0" encoding="utf-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>{&quot;a&quot;: 1}</MessageBody><MessageTag>t</MessageTag></Message>"#,
        )
        .unwrap();
        assert_eq!(m.message_body.as_deref(), Some(r#"{"a": 1}"#));
        assert_eq!(m.message_tag.as_deref(), Some("t"));
        let t: TopicIn = parse(
            "Topic",
            br#"<?xml version="1.0" encoding="utf-8"?><Topic xmlns="http://mns.aliyuncs.com/doc/v1/"/>"#,
        )
        .unwrap();
        assert!(t.maximum_message_size.is_none());
    }

    #[test]
    fn wrong_root_and_broken_xml_are_malformed() {
        let e = parse::<MessageIn>("Message", b"<Topic/>").unwrap_err();
        assert_eq!(e.code, "MalformedXML");
        let e = parse::<MessageIn>("Message", b"<Message><MessageBody>x</Message>").unwrap_err();
        assert_eq!(e.code, "MalformedXML");
        let e = parse::<MessageIn>("Message", b"").unwrap_err();
        assert_eq!(e.code, "MalformedXML");
    }

    #[test]
    fn list_entries_render_as_upstream() {
        let out = TopicsOut {
            xmlns: crate::mns::XMLNS,
            topic: vec![UrlOnly {
                url: UrlField::Topic("http://h/topics/a".into()),
            }],
            next_marker: Some("b".into()),
        };
        let text = crate::mns::xml_document("Topics", &out);
        assert!(
            text.ends_with(
                "<Topics xmlns=\"http://mns.aliyuncs.com/doc/v1/\"><Topic><TopicURL>http://h/topics/a</TopicURL></Topic><NextMarker>b</NextMarker></Topics>"
            ),
            "{text}"
        );
    }
}
