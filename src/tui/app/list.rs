//! The executions list, newest first, optionally filtered by name: the
//! index that keeps the list O(visible).

use crate::engine::{Engine, ExecId, Execution};

/// The executions list, newest first, optionally filtered by name.
///
/// `rows` holds the listed ids (every execution kept, or those matching
/// the filter) in ascending order; it grows by scanning only executions
/// added since the last sync, and drops the ones the engine evicted (see
/// `Engine::set_retention`).
#[derive(Debug, Default, Clone)]
pub struct ExecList {
    /// The filter text (empty: no filter).
    pub text: String,
    /// The executions listed (those matching the filter), ids ascending.
    rows: Vec<ExecId>,
    /// Executions from this id on are not scanned yet.
    scanned: u32,
    /// The engine's eviction count when last synced.
    evicted: u64,
}

impl ExecList {
    fn matches(text: &str, x: &Execution) -> bool {
        x.name.contains(text) || x.flow.name.contains(text)
    }

    /// Catches up with executions added (and evicted) since the last call.
    pub fn sync(&mut self, engine: &Engine) {
        if engine.evicted() != self.evicted {
            self.evicted = engine.evicted();
            self.rows.retain(|&id| engine.execution(id).is_some());
        }
        for x in engine.executions_from(ExecId(self.scanned)) {
            if self.text.is_empty() || ExecList::matches(&self.text, x) {
                self.rows.push(x.id);
            }
            self.scanned = x.id.0.saturating_add(1);
        }
    }

    /// Sets the filter text and rescans.
    pub fn set_text(&mut self, text: String, engine: &Engine) {
        self.text = text;
        self.rows.clear();
        self.scanned = 0;
        self.sync(engine);
    }

    /// Rows in the list.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the list has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The execution on row `row` (0: newest).
    pub fn at(&self, row: usize) -> Option<ExecId> {
        let n = self.len();
        if row >= n {
            return None;
        }
        self.rows.get(n - 1 - row).copied()
    }

    /// The row of an execution, if listed.
    pub fn row_of(&self, id: ExecId) -> Option<usize> {
        let n = self.len();
        self.rows.binary_search(&id).ok().map(|i| n - 1 - i)
    }
}
