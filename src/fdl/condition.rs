//! Choice conditions (placeholder until the parser lands).

/// A parsed choice condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The condition as written.
    pub source: String,
}
