//! engine::index: the engine's lookup tables. [`NameIndex`] finds a flow's
//! execution by name without keeping a second copy of the name;
//! [`IdMap`] keys the live runs by [`ExecId`] with a cheap hash.
//!
//! Owns only the tables: the executions themselves (and their names) live
//! in the engine's `execs`, which callers pass in; nothing here reads or
//! changes an execution's state.

use std::collections::HashMap;

use super::Execution;
use crate::kernel::ExecId;

/// Live runs by execution id. Ids are small sequential integers the
/// engine hands out itself, so a multiplicative hash spreads them well;
/// SipHash's resistance to chosen keys buys nothing here and cost several
/// percent of the hot path (a run is looked up on every operation).
pub(super) type IdMap<V> = HashMap<ExecId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of an [`ExecId`] (see [`IdMap`]).
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `ExecId` (it hashes one u32); kept correct anyway.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A flow's executions by name: an open-addressing table (linear probing)
/// of execution ids whose names live in [`Engine::execs`], so each retained
/// execution costs a few bytes here rather than a second copy of its name
/// and a map entry. Executions are never removed from it.
///
/// [`Engine::execs`]: super::Engine::execs
#[derive(Debug, Default)]
pub(super) struct NameIndex {
    /// `id + 1` per slot, 0 for empty; the length is 0 or a power of two.
    slots: Vec<u32>,
    len: usize,
}

impl NameIndex {
    fn hash(name: &str) -> usize {
        // FNV-1a, then a final mix so the low bits (the slot) depend on
        // every byte. Deterministic; names are the user's own, so no
        // protection against chosen collisions is needed.
        let mut h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h as usize
    }

    /// The execution named `name`.
    pub(super) fn get(&self, name: &str, execs: &[Execution]) -> Option<ExecId> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(name) & mask;
        loop {
            let slot = *self.slots.get(i)?;
            if slot == 0 {
                return None;
            }
            let id = ExecId(slot - 1);
            if execs.get(id.0 as usize).is_some_and(|x| &*x.name == name) {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `id` (already in `execs`) under its name.
    pub(super) fn insert(&mut self, id: ExecId, execs: &[Execution]) {
        // Grow at 3/4 full: probes stay short.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let size = (self.slots.len() * 2).max(16);
            let old = std::mem::replace(&mut self.slots, vec![0; size]);
            for slot in old.into_iter().filter(|&s| s != 0) {
                self.place(slot, execs);
            }
        }
        self.place(id.0 + 1, execs);
        self.len += 1;
    }

    fn place(&mut self, slot: u32, execs: &[Execution]) {
        let name = execs.get(slot as usize - 1).map_or("", |x| &*x.name);
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(name) & mask;
        // The table is at most 3/4 full: an empty slot exists.
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }
}
