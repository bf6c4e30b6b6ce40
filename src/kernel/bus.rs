//! The bus: envelopes in flight, ordered by due time then by send order.

use std::collections::BTreeMap;

use super::{Component, Millis, Msg};

/// Identifies one envelope on the bus; also the handle to cancel a timer.
///
/// Ordering is `(due, id)`: the bus delivers in due order and, among
/// envelopes due at the same instant, in the order they were sent. That
/// single rule is what makes a simulation reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvelopeKey {
    pub due: Millis,
    pub id: u64,
}

/// A message in flight between two components.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub key: EnvelopeKey,
    /// When it was sent.
    pub sent: Millis,
    pub from: Component,
    pub to: Component,
    pub msg: Msg,
}

/// The priority queue of envelopes.
#[derive(Debug, Default)]
pub struct Bus {
    pending: BTreeMap<EnvelopeKey, Envelope>,
    next_id: u64,
}

impl Bus {
    /// Puts `msg` on the bus, due `delay` after `now`.
    pub fn send(
        &mut self,
        now: Millis,
        delay: Millis,
        from: Component,
        to: Component,
        msg: Msg,
    ) -> EnvelopeKey {
        self.next_id += 1;
        let key = EnvelopeKey {
            due: now.saturating_add(delay),
            id: self.next_id,
        };
        self.pending.insert(
            key,
            Envelope {
                key,
                sent: now,
                from,
                to,
                msg,
            },
        );
        key
    }

    /// Takes an envelope off the bus before delivery (a cancelled timer).
    pub fn cancel(&mut self, key: EnvelopeKey) -> Option<Envelope> {
        self.pending.remove(&key)
    }

    /// The next envelope to be delivered, if any.
    pub fn peek(&self) -> Option<&Envelope> {
        self.pending.values().next()
    }

    /// Removes and returns the next envelope.
    pub fn pop(&mut self) -> Option<Envelope> {
        self.pending.pop_first().map(|(_, e)| e)
    }

    /// Envelopes in delivery order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Envelope> + ExactSizeIterator {
        self.pending.values()
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Number of envelopes sent since the start (ids are sequential).
    pub fn sent_total(&self) -> u64 {
        self.next_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_by_due_time_then_send_order() {
        let mut bus = Bus::default();
        let a = bus.send(0, 10, Component::Engine, Component::Mns, Msg::Noop);
        let b = bus.send(0, 5, Component::Engine, Component::Mns, Msg::Noop);
        let c = bus.send(0, 5, Component::Engine, Component::Fc, Msg::Noop);
        let order: Vec<_> = std::iter::from_fn(|| bus.pop()).map(|e| e.key).collect();
        assert_eq!(order, vec![b, c, a]);
    }

    #[test]
    fn cancelled_envelopes_are_never_delivered() {
        let mut bus = Bus::default();
        let a = bus.send(0, 1, Component::Engine, Component::Engine, Msg::Noop);
        let b = bus.send(0, 2, Component::Engine, Component::Engine, Msg::Noop);
        assert!(bus.cancel(a).is_some());
        assert!(bus.cancel(a).is_none());
        assert_eq!(bus.pop().map(|e| e.key), Some(b));
        assert!(bus.pop().is_none());
    }
}
