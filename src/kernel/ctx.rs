//! The context a component handles one message with.

use super::{Bus, Component, EnvelopeKey, Millis, Msg, SimRng};

/// What a component gets while it handles one message.
pub struct Ctx<'a> {
    pub now: Millis,
    /// Unix milliseconds of virtual time zero.
    pub epoch_ms: i64,
    pub rng: &'a mut SimRng,
    pub bus: &'a mut Bus,
}

impl<'a> Ctx<'a> {
    /// A context for one operation at `now`.
    pub fn new(now: Millis, epoch_ms: i64, rng: &'a mut SimRng, bus: &'a mut Bus) -> Ctx<'a> {
        Ctx {
            now,
            epoch_ms,
            rng,
            bus,
        }
    }

    pub fn send(&mut self, delay: Millis, from: Component, to: Component, msg: Msg) -> EnvelopeKey {
        self.bus.send(self.now, delay, from, to, msg)
    }

    pub fn cancel(&mut self, key: EnvelopeKey) {
        self.bus.cancel(key);
    }

    /// Unix milliseconds of the current virtual instant.
    pub fn wall_ms(&self) -> i64 {
        super::wall_ms(self.epoch_ms, self.now)
    }
}
