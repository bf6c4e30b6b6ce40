//! The executions list, newest first, optionally filtered by name: the
//! index that keeps the list O(visible).

use crate::engine::{ExecId, Execution};

/// The executions list, newest first, optionally filtered by name.
///
/// Unfiltered, row `r` is execution `len - 1 - r`: no index at all. With a
/// filter, `matches` holds the matching ids in ascending order and grows by
/// scanning only executions added since the last sync.
#[derive(Debug, Default, Clone)]
pub struct ExecList {
    /// The filter text (empty: no filter).
    pub text: String,
    matches: Vec<ExecId>,
    scanned: usize,
    total: usize,
}

impl ExecList {
    fn matches(text: &str, x: &Execution) -> bool {
        x.name.contains(text) || x.flow.name.contains(text)
    }

    /// Catches up with executions added since the last call.
    pub fn sync(&mut self, execs: &[Execution]) {
        self.total = execs.len();
        if self.text.is_empty() {
            self.scanned = execs.len();
            return;
        }
        for x in execs.get(self.scanned..).unwrap_or(&[]) {
            if ExecList::matches(&self.text, x) {
                self.matches.push(x.id);
            }
        }
        self.scanned = execs.len();
    }

    /// Sets the filter text and rescans.
    pub fn set_text(&mut self, text: String, execs: &[Execution]) {
        self.text = text;
        self.matches.clear();
        self.scanned = 0;
        self.sync(execs);
    }

    /// Rows in the list.
    pub fn len(&self) -> usize {
        if self.text.is_empty() {
            self.total
        } else {
            self.matches.len()
        }
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
        if self.text.is_empty() {
            Some(ExecId((n - 1 - row) as u32))
        } else {
            self.matches.get(n - 1 - row).copied()
        }
    }

    /// The row of an execution, if listed.
    pub fn row_of(&self, id: ExecId) -> Option<usize> {
        let n = self.len();
        if self.text.is_empty() {
            ((id.0 as usize) < n).then(|| n - 1 - id.0 as usize)
        } else {
            self.matches.binary_search(&id).ok().map(|i| n - 1 - i)
        }
    }
}
