//! TEMPORARY placeholder.

/// A parsed choice condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The condition as written.
    pub source: String,
}

#[derive(Debug)]
pub struct ConditionError {
    pub offset: usize,
    pub message: String,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        Ok(Condition {
            source: text.into(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("eval")]
pub struct EvalError;

impl Condition {
    pub fn eval(&self, _input: &serde_json::Value) -> Result<bool, EvalError> {
        Ok(self.source.contains("true"))
    }
}
