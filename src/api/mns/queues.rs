//! queues: CreateQueue, SetQueueAttributes, GetQueueAttributes,
//! DeleteQueue, ListQueue, SendMessage and BatchSendMessage,
//! ReceiveMessage (long poll) and BatchReceiveMessage, PeekMessage and
//! BatchPeekMessage, DeleteMessage and BatchDeleteMessage,
//! ChangeMessageVisibility.
//!
//! A long poll never spins: it waits on the runtime's state channel, which
//! changes after every delivery (a send, a message becoming visible), and
//! looks at the queue under a short read lock before trying a receive.

use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use tokio::time::Instant;

use super::topics::{millis, seconds};
use super::xml::{self, UrlField, UrlOnly};
use super::{
    Answer, MnsFail, MnsRequest, Paging, bool_text, boolean, created, empty, number, ranged,
    xml_response,
};
use crate::mns::{MnsError, Queue, ReceivedMessage, XMLNS};
use crate::sim::op::{Applied, Op, Outgoing, QueuePatch};

/// Most messages one batch receive answers (upstream: 16).
const MAX_BATCH: usize = 16;

/// Attribute changes read from a `<Queue>` body.
fn queue_patch(req: &MnsRequest) -> Result<QueuePatch, MnsFail> {
    let q: xml::QueueIn = if req.body.iter().all(u8::is_ascii_whitespace) {
        xml::QueueIn::default()
    } else {
        xml::parse("Queue", &req.body)?
    };
    Ok(QueuePatch {
        visibility_timeout: number("VisibilityTimeout", q.visibility_timeout.as_deref())?,
        maximum_message_size: number("MaximumMessageSize", q.maximum_message_size.as_deref())?,
        message_retention_period: number(
            "MessageRetentionPeriod",
            q.message_retention_period.as_deref(),
        )?,
        delay_seconds: number("DelaySeconds", q.delay_seconds.as_deref())?,
        polling_wait_seconds: number("PollingWaitSeconds", q.polling_wait_seconds.as_deref())?,
        logging_enabled: boolean("LoggingEnabled", q.logging_enabled.as_deref())?,
    })
}

/// An op's answer that is not the one its kind gives (a bug).
pub(super) fn unexpected(applied: &Applied) -> MnsFail {
    MnsFail::new(
        500,
        "InternalError",
        format!("unexpected answer of an op: {applied:?}"),
    )
}

fn queue_out(
    q: &Queue,
    counts: crate::mns::QueueCounts,
    epoch_ms: i64,
    url: Option<String>,
    xmlns: bool,
) -> xml::QueueOut {
    let a = q.attributes;
    xml::QueueOut {
        xmlns: xmlns.then_some(XMLNS),
        queue_url: url,
        queue_name: q.name.clone(),
        create_time: seconds(epoch_ms, q.created),
        last_modify_time: seconds(epoch_ms, q.modified),
        visibility_timeout: a.visibility_timeout,
        maximum_message_size: a.maximum_message_size,
        message_retention_period: a.message_retention_period,
        delay_seconds: a.delay_seconds,
        polling_wait_seconds: a.polling_wait_seconds,
        active_messages: counts.active,
        inactive_messages: counts.inactive,
        delay_messages: counts.delayed,
        logging_enabled: bool_text(a.logging_enabled),
    }
}

/// `PUT /queues/{queue}`: create (201, or 204 when identical), or with
/// `?metaoverride=true` set attributes (204).
pub(super) async fn create(Path(queue): Path<String>, req: MnsRequest) -> Answer {
    let patch = queue_patch(&req)?;
    let location = format!("{}/queues/{queue}", req.base);
    if req.meta_override() {
        match req
            .handle
            .apply(Op::SetQueueAttributes { queue, patch })
            .await?
        {
            Applied::Done(r) => r?,
            other => return Err(unexpected(&other)),
        }
        return Ok(empty(StatusCode::NO_CONTENT));
    }
    let fresh = match req.handle.apply(Op::CreateQueue { queue, patch }).await? {
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

/// `GET /queues/{queue}`.
pub(super) async fn attributes(Path(queue): Path<String>, req: MnsRequest) -> Answer {
    let out = req
        .handle
        .with_sim(move |s| {
            let counts = s.mns.queue_counts(&queue, s.now())?;
            let q = s
                .mns
                .queue(&queue)
                .ok_or(MnsError::QueueNotExist(queue.clone()))?;
            Ok::<_, MnsError>(queue_out(q, counts, s.epoch_ms(), None, true))
        })
        .await??;
    Ok(xml_response(StatusCode::OK, "Queue", &out))
}

/// `DELETE /queues/{queue}`.
pub(super) async fn delete(Path(queue): Path<String>, req: MnsRequest) -> Answer {
    match req.handle.apply(Op::DeleteQueue { queue }).await? {
        Applied::Done(r) => r?,
        other => return Err(unexpected(&other)),
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /queues` with the paging headers.
pub(super) async fn list(req: MnsRequest) -> Answer {
    let paging = Paging::from(&req)?;
    let base = req.base.clone();
    let with_meta = paging.with_meta;
    let (entries, next) = req
        .handle
        .with_sim(move |s| {
            let (names, next) = paging.page(s.mns.queues().map(|q| q.name.as_str()));
            let now = s.now();
            let entries: Vec<xml::QueueOut> = names
                .iter()
                .filter_map(|n| Some((s.mns.queue(n)?, s.mns.queue_counts(n, now).ok()?)))
                .map(|(q, c)| {
                    let url = format!("{base}/queues/{}", q.name);
                    queue_out(q, c, s.epoch_ms(), Some(url), false)
                })
                .collect();
            (entries, next)
        })
        .await?;
    if with_meta {
        let out = xml::QueuesOut {
            xmlns: XMLNS,
            queue: entries,
            next_marker: next,
        };
        return Ok(xml_response(StatusCode::OK, "Queues", &out));
    }
    let out = xml::QueuesOut {
        xmlns: XMLNS,
        queue: entries
            .into_iter()
            .filter_map(|q| q.queue_url)
            .map(|u| UrlOnly {
                url: UrlField::Queue(u),
            })
            .collect(),
        next_marker: next,
    };
    Ok(xml_response(StatusCode::OK, "Queues", &out))
}

/// Most messages one batch send or delete takes (upstream: 16).
const MAX_BATCH_SEND: usize = 16;

/// A `<Message>` to send, checked.
fn outgoing(m: xml::MessageIn) -> Result<Outgoing, MnsFail> {
    let body = m
        .message_body
        .filter(|b| !b.is_empty())
        .ok_or_else(|| MnsFail::invalid("MessageBody is required and must not be empty."))?;
    let delay = ranged("DelaySeconds", m.delay_seconds.as_deref(), 0, 604_800)?;
    let priority = ranged("Priority", m.priority.as_deref(), 1, 16)?
        .map(|p| u8::try_from(p).unwrap_or(u8::MAX));
    Ok(Outgoing {
        body,
        // Absent: the queue's default DelaySeconds applies; 0 is no delay.
        delay_seconds: delay,
        priority,
    })
}

/// `POST /queues/{queue}/messages`: SendMessage (201 `<Message>`), or with
/// a `<Messages>` body BatchSendMessage (201 `<Messages>`; all or none).
pub(super) async fn send(Path(queue): Path<String>, req: MnsRequest) -> Answer {
    let text = std::str::from_utf8(&req.body).map_err(|_| MnsFail::malformed("not UTF-8"))?;
    let batch = xml::root_name(text)? == "Messages";
    let requests = if batch {
        let all: xml::MessagesIn = xml::parse("Messages", &req.body)?;
        if all.message.is_empty() || all.message.len() > MAX_BATCH_SEND {
            return Err(MnsFail::invalid(format!(
                "A batch holds 1 to {MAX_BATCH_SEND} messages, got {}.",
                all.message.len()
            )));
        }
        all.message
            .into_iter()
            .map(outgoing)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![outgoing(xml::parse("Message", &req.body)?)?]
    };
    let op = Op::SendMessages {
        queue,
        messages: requests,
    };
    let receipts = match req.handle.apply(op).await? {
        Applied::Published(r) => r?,
        other => return Err(unexpected(&other)),
    };
    if batch {
        let out = xml::MessageIdsOut {
            xmlns: XMLNS,
            message: receipts
                .iter()
                .map(|r| xml::MessageIdEntry {
                    message_id: &r.message_id,
                    message_body_md5: &r.message_body_md5,
                })
                .collect(),
        };
        return Ok(xml_response(StatusCode::CREATED, "Messages", &out));
    }
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

fn received_out(m: ReceivedMessage, epoch_ms: i64, peek: bool, xmlns: bool) -> xml::ReceivedOut {
    xml::ReceivedOut {
        xmlns: xmlns.then_some(XMLNS),
        message_id: m.id,
        receipt_handle: (!peek).then_some(m.receipt_handle),
        message_body_md5: m.md5,
        message_body: m.body.to_string(),
        enqueue_time: millis(epoch_ms, m.enqueued),
        next_visible_time: (!peek).then(|| millis(epoch_ms, m.next_visible)),
        first_dequeue_time: millis(epoch_ms, m.first_dequeued),
        dequeue_count: m.dequeue_count,
        priority: m.priority,
    }
}

/// `GET /queues/{queue}/messages[?waitseconds=N][&numOfMessages=N][&peekonly=true]`:
/// ReceiveMessage, BatchReceiveMessage, PeekMessage, BatchPeekMessage. A
/// receive with nothing visible waits up to `waitseconds` (else the queue's
/// PollingWaitSeconds) of wall time, then answers 404 `MessageNotExist`.
pub(super) async fn receive(Path(queue): Path<String>, req: MnsRequest) -> Answer {
    // Anything but true/false is refused: a typo must not consume the
    // message it meant to peek at.
    let peek = super::boolean("peekonly", req.query("peekonly"))?.unwrap_or(false);
    let batch = ranged(
        "numOfMessages",
        req.query("numofmessages"),
        1,
        MAX_BATCH as u64,
    )?
    .map(|n| n as usize);
    let wait = ranged("waitseconds", req.query("waitseconds"), 0, 30)?;
    let default_wait = {
        let sim = req.handle.sim();
        match sim.mns.queue(&queue) {
            Some(q) => u64::from(q.attributes.polling_wait_seconds),
            None => return Err(MnsError::QueueNotExist(queue).into()),
        }
    };
    let wait = if peek {
        0
    } else {
        wait.unwrap_or(default_wait)
    };
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut state = req.handle.state();
    let want = batch.unwrap_or(1);
    loop {
        state.borrow_and_update();
        // Look first under a short read lock: a receive through the runtime
        // publishes a new state, which would wake this loop again.
        let visible = {
            let sim = req.handle.sim();
            sim.mns.queue_counts(&queue, sim.now())?.active > 0
        };
        if visible {
            let q = queue.clone();
            let epoch = req.handle.sim().epoch_ms();
            let got = if peek {
                // A peek changes nothing: a read, not an op.
                req.handle
                    .with_sim(move |s| s.mns.peek(&q, s.now(), want))
                    .await??
            } else {
                match req.handle.apply(Op::Receive { queue: q, n: want }).await? {
                    Applied::Received(r) => r?,
                    other => return Err(unexpected(&other)),
                }
            };
            if !got.is_empty() {
                if batch.is_some() {
                    let out = xml::ReceivedListOut {
                        xmlns: XMLNS,
                        message: got
                            .into_iter()
                            .map(|m| received_out(m, epoch, peek, false))
                            .collect(),
                    };
                    return Ok(xml_response(StatusCode::OK, "Messages", &out));
                }
                let Some(m) = got.into_iter().next() else {
                    continue;
                };
                let out = received_out(m, epoch, peek, true);
                return Ok(xml_response(StatusCode::OK, "Message", &out));
            }
        }
        tokio::select! {
            changed = tokio::time::timeout_at(deadline, state.changed()) => match changed {
                Ok(Ok(())) => {}
                // Waited long enough, or the runtime stopped.
                Ok(Err(_)) | Err(_) => return Err(MnsError::MessageNotExist(queue).into()),
            },
            // The server is shutting down: answer now, as an empty wait would.
            () = req.api.closing() => return Err(MnsError::MessageNotExist(queue).into()),
        }
    }
}

fn receipt_handle(req: &MnsRequest) -> Result<String, MnsFail> {
    req.query("receipthandle")
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| MnsFail::new(400, "MissingReceiptHandle", "ReceiptHandle is required."))
}

/// `DELETE /queues/{queue}/messages?ReceiptHandle=...` (204), or with a
/// `<ReceiptHandles>` body BatchDeleteMessage (204; when some fail, 404
/// with the upstream `<Errors>` list, the others deleted).
pub(super) async fn delete_message(Path(queue): Path<String>, req: MnsRequest) -> Answer {
    if req.query("receipthandle").is_none() && !req.body.iter().all(u8::is_ascii_whitespace) {
        let all: xml::ReceiptHandlesIn = xml::parse("ReceiptHandles", &req.body)?;
        if all.receipt_handle.is_empty() || all.receipt_handle.len() > MAX_BATCH_SEND {
            return Err(MnsFail::invalid(format!(
                "A batch holds 1 to {MAX_BATCH_SEND} receipt handles, got {}.",
                all.receipt_handle.len()
            )));
        }
        let op = Op::DeleteMessages {
            queue,
            handles: all.receipt_handle,
        };
        let errors: Vec<xml::DeleteErrorEntry> = match req.handle.apply(op).await? {
            Applied::Deleted(r) => r?,
            other => return Err(unexpected(&other)),
        }
        .into_iter()
        .map(|(h, e)| xml::DeleteErrorEntry {
            error_code: e.code(),
            error_message: e.to_string(),
            receipt_handle: h,
        })
        .collect();
        if errors.is_empty() {
            return Ok(empty(StatusCode::NO_CONTENT));
        }
        let out = xml::DeleteErrorsOut {
            xmlns: XMLNS,
            error: errors,
        };
        return Ok(xml_response(StatusCode::NOT_FOUND, "Errors", &out));
    }
    let handle = receipt_handle(&req)?;
    let op = Op::DeleteMessages {
        queue,
        handles: vec![handle],
    };
    match req.handle.apply(op).await? {
        Applied::Deleted(r) => {
            if let Some((_, e)) = r?.into_iter().next() {
                return Err(e.into());
            }
        }
        other => return Err(unexpected(&other)),
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `PUT /queues/{queue}/messages?ReceiptHandle=...&VisibilityTimeout=N`:
/// ChangeMessageVisibility (200 with the new handle).
pub(super) async fn change_visibility(Path(queue): Path<String>, req: MnsRequest) -> Answer {
    let handle = receipt_handle(&req)?;
    let seconds = ranged(
        "VisibilityTimeout",
        req.query("visibilitytimeout"),
        0,
        43_200,
    )?
    .ok_or_else(|| {
        MnsFail::new(
            400,
            "MissingVisibilityTimeout",
            "VisibilityTimeout is required.",
        )
    })?;
    let seconds = u32::try_from(seconds).unwrap_or(u32::MAX);
    let epoch = req.handle.sim().epoch_ms();
    let op = Op::ChangeVisibility {
        queue,
        handle,
        seconds,
    };
    let (new, at) = match req.handle.apply(op).await? {
        Applied::Visibility(r) => r?,
        other => return Err(unexpected(&other)),
    };
    let out = xml::ChangeVisibilityOut {
        xmlns: XMLNS,
        receipt_handle: new,
        next_visible_time: millis(epoch, at),
    };
    Ok(xml_response(StatusCode::OK, "ChangeVisibility", &out))
}
