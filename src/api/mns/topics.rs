//! topics: CreateTopic, SetTopicAttributes, GetTopicAttributes,
//! DeleteTopic, ListTopic, PublishMessage, Subscribe,
//! SetSubscriptionAttributes, GetSubscriptionAttributes, Unsubscribe,
//! ListSubscriptionByTopic.

use axum::extract::Path;
use axum::http::StatusCode;

use super::queues::unexpected;
use super::xml::{self, UrlField, UrlOnly};
use super::{
    Answer, MnsFail, MnsRequest, Paging, bool_text, boolean, created, empty, number, xml_response,
};
use crate::mns::{NotifyFormat, NotifyStrategy, Topic, XMLNS, parse_http_endpoint};
use crate::sim::op::{Applied, Op, TopicPatch};

/// Attribute changes read from a `<Topic>` body.
fn topic_patch(req: &MnsRequest) -> Result<TopicPatch, MnsFail> {
    let t: xml::TopicIn = if req.body.iter().all(u8::is_ascii_whitespace) {
        xml::TopicIn::default()
    } else {
        xml::parse("Topic", &req.body)?
    };
    Ok(TopicPatch {
        maximum_message_size: number("MaximumMessageSize", t.maximum_message_size.as_deref())?,
        logging_enabled: boolean("LoggingEnabled", t.logging_enabled.as_deref())?,
    })
}

/// Topics keep messages a day upstream (not settable).
const TOPIC_RETENTION_SECONDS: u32 = 86_400;

fn topic_out(t: &Topic, epoch_ms: i64, url: Option<String>, xmlns: bool) -> xml::TopicOut {
    xml::TopicOut {
        xmlns: xmlns.then_some(XMLNS),
        topic_url: url,
        topic_name: t.name.clone(),
        create_time: seconds(epoch_ms, t.created),
        last_modify_time: seconds(epoch_ms, t.modified),
        maximum_message_size: t.attributes.maximum_message_size,
        message_retention_period: TOPIC_RETENTION_SECONDS,
        message_count: t.messages,
        logging_enabled: bool_text(t.attributes.logging_enabled),
    }
}

/// Unix seconds of a virtual instant.
pub(super) fn seconds(epoch_ms: i64, at: u64) -> i64 {
    epoch_ms.saturating_add(at as i64) / 1000
}

/// Unix milliseconds of a virtual instant.
pub(super) fn millis(epoch_ms: i64, at: u64) -> i64 {
    epoch_ms.saturating_add(at as i64)
}

/// `PUT /topics/{topic}`: create (201, or 204 when identical), or with
/// `?metaoverride=true` set attributes (204).
pub(super) async fn create(Path(topic): Path<String>, req: MnsRequest) -> Answer {
    let patch = topic_patch(&req)?;
    let location = format!("{}/topics/{topic}", req.base);
    if req.meta_override() {
        match req
            .handle
            .apply(Op::SetTopicAttributes { topic, patch })
            .await?
        {
            Applied::Done(r) => r?,
            other => return Err(unexpected(&other)),
        }
        return Ok(empty(StatusCode::NO_CONTENT));
    }
    let fresh = match req.handle.apply(Op::CreateTopic { topic, patch }).await? {
        Applied::Created(r) => r?,
        other => return Err(unexpected(&other)),
    };
    let status = if fresh {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    // The SDK reads Location after any success.
    Ok(created(status, &location))
}

/// `GET /topics/{topic}`.
pub(super) async fn attributes(Path(topic): Path<String>, req: MnsRequest) -> Answer {
    let out = req
        .handle
        .with_sim(move |s| {
            s.mns
                .topic(&topic)
                .map(|t| topic_out(t, s.epoch_ms(), None, true))
                .ok_or(crate::mns::MnsError::TopicNotExist(topic))
        })
        .await??;
    Ok(xml_response(StatusCode::OK, "Topic", &out))
}

/// `DELETE /topics/{topic}`.
pub(super) async fn delete(Path(topic): Path<String>, req: MnsRequest) -> Answer {
    match req.handle.apply(Op::DeleteTopic { topic }).await? {
        Applied::Done(r) => r?,
        other => return Err(unexpected(&other)),
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /topics` with the paging headers.
pub(super) async fn list(req: MnsRequest) -> Answer {
    let paging = Paging::from(&req)?;
    let base = req.base.clone();
    let with_meta = paging.with_meta;
    let (entries, next) = req
        .handle
        .with_sim(move |s| {
            let (names, next) = paging.page(s.mns.topics().map(|t| t.name.as_str()));
            let entries: Vec<xml::TopicOut> = names
                .iter()
                .filter_map(|n| s.mns.topic(n))
                .map(|t| {
                    let url = format!("{base}/topics/{}", t.name);
                    topic_out(t, s.epoch_ms(), Some(url), false)
                })
                .collect();
            (entries, next)
        })
        .await?;
    if with_meta {
        let out = xml::TopicsOut {
            xmlns: XMLNS,
            topic: entries,
            next_marker: next,
        };
        Ok(xml_response(StatusCode::OK, "Topics", &out))
    } else {
        let out = xml::TopicsOut {
            xmlns: XMLNS,
            topic: entries
                .into_iter()
                .filter_map(|t| t.topic_url)
                .map(|u| UrlOnly {
                    url: UrlField::Topic(u),
                })
                .collect(),
            next_marker: next,
        };
        Ok(xml_response(StatusCode::OK, "Topics", &out))
    }
}

/// `POST /topics/{topic}/messages`: 201 with `MessageId` and
/// `MessageBodyMD5`; the topic pushes to its subscriptions as for a task's
/// publish.
pub(super) async fn publish(Path(topic): Path<String>, req: MnsRequest) -> Answer {
    let m: xml::MessageIn = xml::parse("Message", &req.body)?;
    let body = m
        .message_body
        .filter(|b| !b.is_empty())
        .ok_or_else(|| MnsFail::invalid("MessageBody is required and must not be empty."))?;
    let tag = m.message_tag.filter(|t| !t.is_empty());
    if tag.as_ref().is_some_and(|t| t.chars().count() > 16) {
        return Err(MnsFail::invalid("MessageTag must be 1 to 16 characters."));
    }
    let receipts = match req.handle.apply(Op::Publish { topic, body, tag }).await? {
        Applied::Published(r) => r?,
        other => return Err(unexpected(&other)),
    };
    let Some(receipt) = receipts.first() else {
        return Err(MnsFail::invalid("no message"));
    };
    let out = xml::MessageIdOut {
        xmlns: XMLNS,
        message_id: &receipt.message_id,
        message_body_md5: &receipt.message_body_md5,
    };
    Ok(xml_response(StatusCode::CREATED, "Message", &out))
}

/// `PUT /topics/{topic}/subscriptions/{name}`: subscribe (201, or 204 when
/// identical), or with `?metaoverride=true` change the notify strategy.
pub(super) async fn subscribe(
    Path((topic, name)): Path<(String, String)>,
    req: MnsRequest,
) -> Answer {
    let body = if req.body.iter().all(u8::is_ascii_whitespace) {
        xml::SubscriptionIn::default()
    } else {
        xml::parse("Subscription", &req.body)?
    };
    let strategy = match body.notify_strategy.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(NotifyStrategy::parse(s).ok_or_else(|| {
            MnsFail::invalid(format!(
                "NotifyStrategy `{s}` is not BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY."
            ))
        })?),
    };
    let location = format!("{}/topics/{topic}/subscriptions/{name}", req.base);
    if req.meta_override() {
        let strategy = strategy.ok_or_else(|| MnsFail::invalid("NotifyStrategy is required."))?;
        let op = Op::SetSubscriptionStrategy {
            topic,
            name,
            strategy: strategy.as_str().to_owned(),
        };
        match req.handle.apply(op).await? {
            Applied::Done(r) => r?,
            other => return Err(unexpected(&other)),
        }
        return Ok(empty(StatusCode::NO_CONTENT));
    }
    let endpoint = body
        .endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| MnsFail::invalid("Endpoint is required."))?;
    // Checked here for the error; the op carries the text.
    parse_http_endpoint(endpoint)?;
    // Upstream's default format is XML.
    let format = match body.notify_content_format.as_deref().map(str::trim) {
        None | Some("") => NotifyFormat::Xml,
        Some(f) => NotifyFormat::parse(f).ok_or_else(|| {
            MnsFail::invalid(format!(
                "NotifyContentFormat `{f}` is not XML, JSON or SIMPLIFIED."
            ))
        })?,
    };
    let filter_tag = body.filter_tag.filter(|t| !t.is_empty());
    if filter_tag.as_ref().is_some_and(|t| t.chars().count() > 16) {
        return Err(MnsFail::invalid("FilterTag must be 1 to 16 characters."));
    }
    let op = Op::Subscribe {
        topic,
        name,
        endpoint: endpoint.to_owned(),
        strategy: Some(strategy.unwrap_or_default().as_str().to_owned()),
        format: format.as_str().to_owned(),
        filter_tag,
    };
    let fresh = match req.handle.apply(op).await? {
        Applied::Created(r) => r?,
        other => return Err(unexpected(&other)),
    };
    let status = if fresh {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    Ok(created(status, &location))
}

/// `GET /topics/{topic}/subscriptions/{name}`.
pub(super) async fn subscription_attributes(
    Path((topic, name)): Path<(String, String)>,
    req: MnsRequest,
) -> Answer {
    let text = req
        .handle
        .with_sim(move |s| {
            let epoch = s.epoch_ms();
            s.mns.subscription(&topic, &name).map(|sub| {
                let out = xml::SubscriptionOut {
                    xmlns: XMLNS,
                    topic_owner: crate::mns::ACCOUNT,
                    topic_name: &topic,
                    subscription_name: &sub.name,
                    endpoint: sub.endpoint.to_string(),
                    notify_strategy: sub.strategy.as_str(),
                    notify_content_format: sub.format.as_str(),
                    filter_tag: sub.filter_tag.as_deref(),
                    create_time: seconds(epoch, sub.created),
                    last_modify_time: seconds(epoch, sub.modified),
                };
                crate::mns::xml_document("Subscription", &out)
            })
        })
        .await??;
    Ok(super::xml_text(StatusCode::OK, text))
}

/// `DELETE /topics/{topic}/subscriptions/{name}`.
pub(super) async fn unsubscribe(
    Path((topic, name)): Path<(String, String)>,
    req: MnsRequest,
) -> Answer {
    match req.handle.apply(Op::Unsubscribe { topic, name }).await? {
        Applied::Done(r) => r?,
        other => return Err(unexpected(&other)),
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /topics/{topic}/subscriptions` with the paging headers.
pub(super) async fn list_subscriptions(Path(topic): Path<String>, req: MnsRequest) -> Answer {
    let paging = Paging::from(&req)?;
    let base = format!("{}/topics/{topic}/subscriptions", req.base);
    let (names, next) = req
        .handle
        .with_sim(move |s| {
            let t = s
                .mns
                .topic(&topic)
                .ok_or(crate::mns::MnsError::TopicNotExist(topic.clone()))?;
            let mut names: Vec<&str> = t.subscriptions.iter().map(|s| s.name.as_str()).collect();
            names.sort_unstable();
            Ok::<_, crate::mns::MnsError>(paging.page(names.into_iter()))
        })
        .await??;
    let out = xml::SubscriptionsOut {
        xmlns: XMLNS,
        subscription: names
            .into_iter()
            .map(|n| UrlOnly {
                url: UrlField::Subscription(format!("{base}/{n}")),
            })
            .collect(),
        next_marker: next,
    };
    Ok(xml_response(StatusCode::OK, "Subscriptions", &out))
}
