//! The bus: envelopes in flight, delivered by due time then by send order.

use std::collections::{BTreeMap, VecDeque};

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

/// The priority queue of envelopes, in two lanes.
///
/// Most envelopes are due the instant they are sent (a publish, a push, a
/// report): they go to the *now lane*, a FIFO. Timers (timeouts, waits,
/// retries) go to the *timer lane*, ordered by key. The now lane is sorted
/// by key by construction: the clock never goes back, so each envelope sent
/// with no delay is due no earlier than the one before it, and ids grow.
/// Delivering takes the smaller of the two heads, so the order is exactly
/// `(due, id)`, as with one ordered map, at a fraction of its cost.
#[derive(Debug, Default)]
pub struct Bus {
    now_lane: VecDeque<Envelope>,
    timers: BTreeMap<EnvelopeKey, Envelope>,
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
        let env = Envelope {
            key,
            sent: now,
            from,
            to,
            msg,
        };
        // The FIFO stays sorted only if nothing in it is due later.
        if delay == 0 && self.now_lane.back().is_none_or(|b| b.key.due <= key.due) {
            self.now_lane.push_back(env);
        } else {
            self.timers.insert(key, env);
        }
        key
    }

    /// Takes an envelope off the bus before delivery (a cancelled timer).
    pub fn cancel(&mut self, key: EnvelopeKey) -> Option<Envelope> {
        if let Some(env) = self.timers.remove(&key) {
            return Some(env);
        }
        // Rare: an envelope due now cancelled before delivery. The lane is
        // sorted by key, so it is found by bisection.
        let at = self.now_lane.binary_search_by(|e| e.key.cmp(&key)).ok()?;
        self.now_lane.remove(at)
    }

    /// Whether the now lane's head comes before the timer lane's.
    fn now_lane_first(&self) -> bool {
        match (self.now_lane.front(), self.timers.first_key_value()) {
            (Some(n), Some((t, _))) => n.key < *t,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The next envelope to be delivered, if any.
    pub fn peek(&self) -> Option<&Envelope> {
        if self.now_lane_first() {
            self.now_lane.front()
        } else {
            self.timers.values().next()
        }
    }

    /// Removes and returns the next envelope.
    pub fn pop(&mut self) -> Option<Envelope> {
        if self.now_lane_first() {
            self.now_lane.pop_front()
        } else {
            self.timers.pop_first().map(|(_, e)| e)
        }
    }

    /// Envelopes in delivery order.
    pub fn iter(&self) -> impl Iterator<Item = &Envelope> {
        let mut now = self.now_lane.iter().peekable();
        let mut timers = self.timers.values().peekable();
        std::iter::from_fn(move || match (now.peek(), timers.peek()) {
            (Some(n), Some(t)) if n.key < t.key => now.next(),
            (Some(_), None) => now.next(),
            _ => timers.next(),
        })
    }

    pub fn len(&self) -> usize {
        self.now_lane.len() + self.timers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.now_lane.is_empty() && self.timers.is_empty()
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

    #[test]
    fn the_two_lanes_deliver_in_exactly_due_then_send_order() {
        // Random sends and pops against one ordered map: the same order.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut bus = Bus::default();
        let mut model = BTreeMap::new();
        let mut now = 0;
        for _ in 0..20_000 {
            match rng.random_range(0..10) {
                0..=4 => {
                    let delay = if rng.random_bool(0.6) {
                        0
                    } else {
                        rng.random_range(0..50)
                    };
                    let k = bus.send(now, delay, Component::Engine, Component::Mns, Msg::Noop);
                    model.insert(k, ());
                }
                5 => {
                    if let Some(&k) = model.keys().nth(
                        rng.random_range(0..model.len().max(1))
                            .min(model.len().saturating_sub(1)),
                    ) {
                        assert!(bus.cancel(k).is_some());
                        model.remove(&k);
                    }
                }
                _ => {
                    let want = model.pop_first().map(|(k, ())| k);
                    assert_eq!(bus.peek().map(|e| e.key), want);
                    let got = bus.pop().map(|e| e.key);
                    assert_eq!(got, want);
                    if let Some(k) = got {
                        now = now.max(k.due);
                    }
                }
            }
            assert_eq!(bus.len(), model.len());
            if rng.random_range(0..500) == 0 {
                let order: Vec<_> = bus.iter().map(|e| e.key).collect();
                assert_eq!(order, model.keys().copied().collect::<Vec<_>>());
            }
        }
    }
}
