//! flowsim: a local simulator for Serverless Workflow (fnf, FDL v1) flows.
//!
//! Module map:
//! - [`fdl`]: flow definitions: parse, validate, lay out as a graph.

pub mod fdl;
