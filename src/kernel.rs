//! kernel: the words every component speaks, and the bus they travel on.
//!
//! Virtual time ([`Millis`]), the [`Bus`] of [`Envelope`]s ordered by due
//! time, the [`Ctx`] a component handles a message with, the [`Msg`]s and
//! the ids they carry ([`ExecId`], [`TaskRef`], [`Dest`], [`PublishReceipt`]),
//! and the errors that cross component boundaries ([`FnfError`],
//! [`TaskError`], [`PushOutcome`]).
//!
//! The kernel imports only the flow model ([`crate::fdl`]); the engine, MNS
//! and the function import the kernel and never each other. No tokio, no
//! I/O, no wall clock: the same inputs give the same history.
//!
//! **The time invariant**: the clock never passes an envelope that is due
//! and undelivered. [`Bus`] only hands out envelopes in `(due, id)` order,
//! and every operation that moves the clock (see `crate::sim::Sim`) first
//! delivers, or refuses to pass, whatever is due before the new instant.

pub mod bus;
mod ctx;
mod error;
mod ids;
pub mod json;
mod msg;

use rand_chacha::ChaCha8Rng;

pub use bus::{Bus, Envelope, EnvelopeKey};
pub use ctx::Ctx;
pub use error::FnfError;
pub use ids::{Dest, ExecId, PublishReceipt, TaskRef};
pub use msg::{Msg, PushOutcome, TaskError, short_token};

/// Virtual time: milliseconds since the simulation's epoch.
pub type Millis = u64;

/// The seeded random number generator every component draws from.
pub type SimRng = ChaCha8Rng;

/// A participant on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// The workflow engine (executions).
    Engine,
    /// The in-memory MNS (topics, queues, push delivery).
    Mns,
    /// The simulated Function Compute function.
    Fc,
    /// The async shell: real I/O on behalf of the simulation (HTTP pushes).
    Shell,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Engine => "engine",
            Component::Mns => "mns",
            Component::Fc => "fc",
            Component::Shell => "shell",
        }
    }
}

/// Unix milliseconds of virtual instant `t` (milliseconds since the
/// simulation's start at `epoch_ms`), saturating rather than wrapping.
pub fn wall_ms(epoch_ms: i64, t: Millis) -> i64 {
    epoch_ms.saturating_add(i64::try_from(t).unwrap_or(i64::MAX))
}
