//! engine::index: the engine's lookup tables. [`NameIndex`] finds a flow's
//! execution by name without keeping a second copy of the name;
//! [`IdMap`] keys the live runs by [`ExecId`] with a cheap hash.
//!
//! Owns only the tables: the executions themselves (and their names) live
//! in the engine's `execs`, which callers pass in; nothing here reads or
//! changes an execution's state.

use std::collections::HashMap;

use hashbrown::HashTable;

use super::Execution;
use crate::kernel::ExecId;

/// Where execution `id` is in `execs`: the engine keeps executions in id
/// order, with gaps where finished ones were evicted (see
/// `Engine::set_retention`), so an execution is at its id less the number
/// of evicted executions before it: at its id when none were (the first
/// guess), else found by bisection below that guess.
pub(super) fn position(execs: &[Execution], id: ExecId) -> Option<usize> {
    let first = execs.first()?.id.0;
    let offset = id.0.checked_sub(first)? as usize;
    let guess = offset.min(execs.len() - 1);
    if execs[guess].id == id {
        return Some(guess);
    }
    execs[..guess].binary_search_by_key(&id, |x| x.id).ok()
}

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

/// A flow's executions by name: a [`HashTable`] of execution ids whose
/// names live in [`Engine::execs`], so each retained execution costs a few
/// bytes here rather than a second copy of its name and a map entry.
/// Executions are never removed from it.
///
/// Each entry keeps 32 bits of its name's hash: growing the table rehashes
/// from them instead of reading every execution's name again (a cache miss
/// or two per execution, most of the cost of a million), and a lookup reads
/// a name only when those bits match.
///
/// [`Engine::execs`]: super::Engine::execs
#[derive(Debug, Default)]
pub(super) struct NameIndex {
    table: HashTable<(ExecId, u32)>,
}

impl NameIndex {
    fn hash(name: &str) -> u64 {
        // FNV-1a, then a final mix so every bit (the table uses the low
        // bits for the bucket, the high ones for its tag) depends on every
        // byte. Deterministic; names are the user's own, so no protection
        // against chosen collisions is needed.
        let mut h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }

    /// The table's hash of an entry whose name hashed to `short`.
    fn full(short: u32) -> u64 {
        // hashbrown takes the bucket from the low bits and a tag from the
        // top seven: both come from the 32 bits kept.
        (u64::from(short) << 32) | u64::from(short)
    }

    /// The execution named `name`.
    pub(super) fn get(&self, name: &str, execs: &[Execution]) -> Option<ExecId> {
        let short = Self::hash(name) as u32;
        self.table
            .find(Self::full(short), |&(id, h)| {
                h == short && position(execs, id).is_some_and(|p| &*execs[p].name == name)
            })
            .map(|&(id, _)| id)
    }

    /// Forgets `id`, named `name` (an evicted execution).
    pub(super) fn remove(&mut self, id: ExecId, name: &str) {
        let short = Self::hash(name) as u32;
        if let Ok(entry) = self.table.find_entry(Self::full(short), |&(i, _)| i == id) {
            entry.remove();
        }
    }

    /// Adds `id` (already in `execs`) under its name.
    pub(super) fn insert(&mut self, id: ExecId, execs: &[Execution]) {
        let name = position(execs, id).map_or("", |p| &*execs[p].name);
        let short = Self::hash(name) as u32;
        self.table
            .insert_unique(Self::full(short), (id, short), |&(_, h)| Self::full(h));
    }
}
