//! queue: queues and their consumer side: `CreateQueue`,
//! `SetQueueAttributes`, `DeleteQueue`, the state counts, `ReceiveMessage`
//! and `PeekMessage` (receipt handles), `DeleteMessage`,
//! `ChangeMessageVisibility`, and the wake-ups that make a message's
//! visibility (after a delay or a visibility timeout) move virtual time and
//! end long polls.
//!
//! Sending to a queue is [`Mns::publish`] (one path for topics and
//! queues). It must not touch topics, subscriptions or notifications; on
//! the bus it only schedules and cancels its own `QueueVisible` wake-ups.

use super::check::{check_range, validate_name};
use super::model::{MnsError, Queue, QueueAttributes, QueueCounts, QueuedMessage, ReceivedMessage};
use super::{Mns, random_hex};
use crate::kernel::{Component, Ctx, Millis, Msg};

impl Mns {
    pub fn ensure_queue(&mut self, name: &str, now: Millis) {
        self.queues.entry(name.to_owned()).or_insert_with(|| Queue {
            name: name.to_owned(),
            messages: Vec::new(),
            consumer: None,
            created: now,
            modified: now,
            attributes: QueueAttributes::default(),
        });
    }

    /// Makes the simulated function consume a queue.
    pub fn set_queue_consumer(&mut self, queue: &str, function: &str) {
        if let Some(q) = self.queues.get_mut(queue) {
            q.consumer = Some(function.to_owned());
        }
    }

    /// `CreateQueue`: `Ok(true)` when created, `Ok(false)` when an identical
    /// queue exists, `QueueAlreadyExist` when it exists with other
    /// attributes.
    pub fn create_queue(
        &mut self,
        name: &str,
        attributes: QueueAttributes,
        now: Millis,
    ) -> Result<bool, MnsError> {
        validate_name("queue", name)?;
        attributes.validate()?;
        if let Some(q) = self.queues.get(name) {
            return if q.attributes == attributes {
                Ok(false)
            } else {
                Err(MnsError::QueueAlreadyExist(name.to_owned()))
            };
        }
        self.ensure_queue(name, now);
        if let Some(q) = self.queues.get_mut(name) {
            q.attributes = attributes;
        }
        Ok(true)
    }

    /// `SetQueueAttributes`.
    pub fn set_queue_attributes(
        &mut self,
        name: &str,
        attributes: QueueAttributes,
        now: Millis,
    ) -> Result<(), MnsError> {
        attributes.validate()?;
        let q = self
            .queues
            .get_mut(name)
            .ok_or_else(|| MnsError::QueueNotExist(name.to_owned()))?;
        q.attributes = attributes;
        q.modified = now;
        Ok(())
    }

    /// `DeleteQueue`, with its messages.
    pub fn delete_queue(&mut self, name: &str) -> Result<(), MnsError> {
        self.queues
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| MnsError::QueueNotExist(name.to_owned()))
    }

    /// How many of a queue's messages are visible, invisible and delayed at
    /// `now`.
    pub fn queue_counts(&self, name: &str, now: Millis) -> Result<QueueCounts, MnsError> {
        let q = self
            .queues
            .get(name)
            .ok_or_else(|| MnsError::QueueNotExist(name.to_owned()))?;
        let mut c = QueueCounts::default();
        for m in q.messages.iter().filter(|m| kept(q, m, now)) {
            if m.visible_at <= now {
                c.active += 1;
            } else if m.dequeue_count == 0 {
                c.delayed += 1;
            } else {
                c.inactive += 1;
            }
        }
        Ok(c)
    }

    /// `ReceiveMessage` (or `PeekMessage` with `peek`): the visible message
    /// of highest priority, oldest first. A receive makes it invisible for
    /// the queue's visibility timeout and gives it a new receipt handle.
    /// `Ok(None)` when nothing is visible.
    pub fn receive(
        &mut self,
        ctx: &mut Ctx<'_>,
        queue: &str,
        peek: bool,
    ) -> Result<Option<ReceivedMessage>, MnsError> {
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| MnsError::QueueNotExist(queue.to_owned()))?;
        let now = ctx.now;
        expire(ctx, q);
        let Some(m) = q
            .messages
            .iter_mut()
            .filter(|m| m.visible_at <= now)
            .min_by_key(|m| (m.priority, m.seq))
        else {
            return Ok(None);
        };
        if peek {
            return Ok(Some(received(m, String::new())));
        }
        let handle = format!("{:X}-{}", m.seq, random_hex(ctx.rng, 12));
        m.receipt = Some(handle.clone());
        m.dequeue_count += 1;
        m.first_dequeued.get_or_insert(now);
        let timeout = Millis::from(q.attributes.visibility_timeout) * 1000;
        m.visible_at = now.saturating_add(timeout);
        rewake(ctx, m, queue, timeout);
        let received = received(m, handle);
        Ok(Some(received))
    }

    /// `BatchPeekMessage`: up to `n` visible messages in receive order,
    /// left as they are.
    pub fn peek(
        &self,
        queue: &str,
        now: Millis,
        n: usize,
    ) -> Result<Vec<ReceivedMessage>, MnsError> {
        let q = self
            .queues
            .get(queue)
            .ok_or_else(|| MnsError::QueueNotExist(queue.to_owned()))?;
        let mut visible: Vec<&QueuedMessage> = q
            .messages
            .iter()
            .filter(|m| m.visible_at <= now && kept(q, m, now))
            .collect();
        visible.sort_by_key(|m| (m.priority, m.seq));
        Ok(visible
            .into_iter()
            .take(n)
            .map(|m| received(m, String::new()))
            .collect())
    }

    /// Finds the message a receipt handle names, checking that the handle
    /// is the latest one and that the message is still invisible.
    fn by_receipt(
        &mut self,
        queue: &str,
        handle: &str,
        now: Millis,
    ) -> Result<(&mut Queue, usize), MnsError> {
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| MnsError::QueueNotExist(queue.to_owned()))?;
        let seq = handle
            .split_once('-')
            .and_then(|(seq, _)| u64::from_str_radix(seq, 16).ok())
            .ok_or_else(|| MnsError::ReceiptHandleError(handle.to_owned(), "malformed"))?;
        let i = q
            .messages
            .iter()
            .position(|m| m.seq == seq && kept(q, m, now))
            .ok_or_else(|| MnsError::MessageNotExist(queue.to_owned()))?;
        let m = &q.messages[i];
        if m.receipt.as_deref() != Some(handle) {
            return Err(MnsError::ReceiptHandleError(
                handle.to_owned(),
                "the message was received again since (use the latest handle)",
            ));
        }
        if m.visible_at <= now {
            return Err(MnsError::ReceiptHandleError(
                handle.to_owned(),
                "its visibility timeout has expired",
            ));
        }
        Ok((q, i))
    }

    /// `DeleteMessage` by receipt handle (its pending wake-up goes too).
    pub fn delete_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        queue: &str,
        handle: &str,
    ) -> Result<(), MnsError> {
        let (q, i) = self.by_receipt(queue, handle, ctx.now)?;
        let m = q.messages.remove(i);
        if let Some(k) = m.wake {
            ctx.cancel(k);
        }
        Ok(())
    }

    /// `ChangeMessageVisibility`: the message becomes visible `seconds`
    /// from now (0-43200); answers the new receipt handle and that time.
    pub fn change_visibility(
        &mut self,
        ctx: &mut Ctx<'_>,
        queue: &str,
        handle: &str,
        seconds: u32,
    ) -> Result<(String, Millis), MnsError> {
        check_range("VisibilityTimeout", seconds, 0, 43_200)?;
        let now = ctx.now;
        let (q, i) = self.by_receipt(queue, handle, now)?;
        let m = &mut q.messages[i];
        let new = format!("{:X}-{}", m.seq, random_hex(ctx.rng, 12));
        m.receipt = Some(new.clone());
        let delay = Millis::from(seconds) * 1000;
        m.visible_at = now.saturating_add(delay);
        let at = m.visible_at;
        rewake(ctx, m, queue, delay);
        Ok((new, at))
    }
}

/// What a receive (with its receipt handle) or a peek (with none) answers
/// about a message.
fn received(m: &QueuedMessage, receipt_handle: String) -> ReceivedMessage {
    ReceivedMessage {
        id: m.id.clone(),
        receipt_handle,
        body: m.body.clone(),
        md5: m.md5.clone(),
        priority: m.priority,
        enqueued: m.enqueued,
        first_dequeued: m.first_dequeued.unwrap_or(0),
        dequeue_count: m.dequeue_count,
        next_visible: m.visible_at,
    }
}

/// Whether a message is still kept at `now`: a queue keeps a message for
/// its `MessageRetentionPeriod` after it was sent, then it is gone, received
/// or not.
fn kept(q: &Queue, m: &QueuedMessage, now: Millis) -> bool {
    let retention = Millis::from(q.attributes.message_retention_period) * 1000;
    m.enqueued.saturating_add(retention) > now
}

/// Drops the messages past their retention period (and their wake-ups).
fn expire(ctx: &mut Ctx<'_>, q: &mut Queue) {
    let now = ctx.now;
    let retention = Millis::from(q.attributes.message_retention_period) * 1000;
    q.messages.retain(|m| {
        let keep = m.enqueued.saturating_add(retention) > now;
        if !keep && let Some(k) = m.wake {
            ctx.cancel(k);
        }
        keep
    });
}

/// Schedules a wake-up when a queue message becomes visible, so virtual
/// time moves up to it in RUN mode and long polls see it. Replaces the
/// message's previous wake-up: one envelope per message at most.
pub(super) fn rewake(ctx: &mut Ctx<'_>, m: &mut QueuedMessage, queue: &str, delay: Millis) {
    if let Some(k) = m.wake.take() {
        ctx.cancel(k);
    }
    if delay > 0 {
        m.wake = Some(ctx.send(
            delay,
            Component::Mns,
            Component::Mns,
            Msg::QueueVisible {
                queue: queue.into(),
            },
        ));
    }
}
