//! engine::intern: one shared copy of short texts that repeat across
//! executions: event details such as `{"output":{"status":"success"}}`,
//! and executions' input and output.
//!
//! Owns only its table of texts; it never reads an execution. Bounded: at
//! most [`MAX_ENTRIES`] texts of at most [`MAX_LEN`] bytes are remembered,
//! and the table starts afresh when full (texts already handed out stay
//! valid: they are reference counted).

use std::sync::Arc;

use hashbrown::HashTable;

use super::history::Detail;

/// Longest text worth sharing: longer ones (a step input carrying a task
/// token) rarely repeat, and hashing them would cost more than it saves.
pub(super) const MAX_LEN: usize = 96;

/// Texts remembered at once.
pub(super) const MAX_ENTRIES: usize = 4096;

/// The table of shared texts.
#[derive(Debug, Default)]
pub(super) struct Interner {
    table: HashTable<Arc<str>>,
}

impl Interner {
    /// `s`, shared with every earlier identical short text.
    pub(super) fn text(&mut self, s: &str) -> Arc<str> {
        if s.len() > MAX_LEN {
            return Arc::from(s);
        }
        let h = hash(s.as_bytes());
        if let Some(found) = self.table.find(h, |t| **t == *s) {
            return found.clone();
        }
        if self.table.len() >= MAX_ENTRIES {
            self.table.clear();
        }
        let t: Arc<str> = Arc::from(s);
        self.table
            .insert_unique(h, t.clone(), |t| hash(t.as_bytes()));
        t
    }

    /// An event detail of text `s` (see [`Interner::text`]).
    pub(super) fn detail(&mut self, s: &str) -> Detail {
        Detail::from(self.text(s))
    }

    /// An event detail from the bytes serde_json (or the engine's own
    /// writers) produced: always UTF-8; a lossy copy otherwise, rather
    /// than a panic.
    pub(super) fn detail_bytes(&mut self, b: &[u8]) -> Detail {
        match std::str::from_utf8(b) {
            Ok(s) => self.detail(s),
            Err(_) => Detail::from(String::from_utf8_lossy(b).into_owned()),
        }
    }
}

/// A quick hash of a short text, eight bytes at a time. Deterministic;
/// the texts are the engine's own, so no protection against chosen
/// collisions is needed.
fn hash(b: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let mut w = [0u8; 8];
    let rest = chunks.remainder();
    w[..rest.len()].copy_from_slice(rest);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_short_texts_are_one_allocation() {
        let mut i = Interner::default();
        let a = i.text(r#"{"output":{"status":"success"}}"#);
        let b = i.text(r#"{"output":{"status":"success"}}"#);
        assert!(Arc::ptr_eq(&a, &b));
        let long = "x".repeat(MAX_LEN + 1);
        assert!(!Arc::ptr_eq(&i.text(&long), &i.text(&long)));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut i = Interner::default();
        for n in 0..MAX_ENTRIES * 2 + 3 {
            let t = i.text(&n.to_string());
            assert_eq!(&*t, n.to_string());
        }
        assert!(i.table.len() <= MAX_ENTRIES);
    }
}
