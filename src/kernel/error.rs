//! The upstream FnF error codes the engine answers with.

use thiserror::Error;

/// An error of an FnF action, carrying the upstream `Code`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FnfError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    MissingRequiredParams(String),
    #[error("flow `{0}` does not exist")]
    FlowNotExists(String),
    #[error("flow `{0}` already exists")]
    FlowAlreadyExists(String),
    #[error("execution `{execution}` of flow `{flow}` does not exist")]
    ExecutionNotExists { flow: String, execution: String },
    #[error("execution `{0}` already exists and has ended")]
    ExecutionAlreadyExists(String),
    #[error("execution `{execution}` has already completed ({status})")]
    ExecutionAlreadyCompleted { execution: String, status: String },
    #[error("{0}")]
    TaskAlreadyCompleted(String),
    #[error("{0}")]
    TaskInvalidState(String),
    #[error("{0}")]
    EntityTooLarge(String),
}

impl FnfError {
    /// The upstream error `Code`.
    pub fn code(&self) -> &'static str {
        match self {
            FnfError::InvalidArgument(_) => "InvalidArgument",
            FnfError::MissingRequiredParams(_) => "MissingRequiredParams",
            FnfError::FlowNotExists(_) => "FlowNotExists",
            FnfError::FlowAlreadyExists(_) => "FlowAlreadyExists",
            FnfError::ExecutionNotExists { .. } => "ExecutionNotExists",
            FnfError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            FnfError::ExecutionAlreadyCompleted { .. } => "ExecutionAlreadyCompleted",
            FnfError::TaskAlreadyCompleted(_) => "TaskAlreadyCompleted",
            FnfError::TaskInvalidState(_) => "TaskInvalidState",
            FnfError::EntityTooLarge(_) => "EntityTooLarge",
        }
    }

    /// The upstream HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            FnfError::FlowNotExists(_) | FnfError::ExecutionNotExists { .. } => 404,
            FnfError::TaskInvalidState(_) | FnfError::FlowAlreadyExists(_) => 409,
            _ => 400,
        }
    }
}
