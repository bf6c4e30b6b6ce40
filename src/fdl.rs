//! Flows: FDL v1 parsing, validation and graph layout.
//!
//! Owns everything about flow *definitions*: YAML text in, a typed [`Flow`]
//! (or every problem at once, as [`Diagnostic`]s with line and column) out,
//! plus the graph the TUI draws. Pure functions; knows nothing of
//! executions, the simulation or any front end.

pub mod condition;
pub mod model;
pub mod path;

pub use model::*;
