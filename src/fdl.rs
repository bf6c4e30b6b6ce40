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

// TEMPORARY until the fdl branch (parser, validation, layout) is merged.
mod stub {
    use super::{Flow, Pos};

    /// A problem in a flow's source.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Diagnostic {
        pub pos: Pos,
        pub message: String,
    }

    /// Why a flow file could not be loaded.
    #[derive(Debug, thiserror::Error)]
    pub enum LoadError {
        #[error("{path}: {source}")]
        Io {
            path: String,
            source: std::io::Error,
        },
        #[error("{file}: invalid flow ({} problems)", diagnostics.len())]
        Invalid {
            file: String,
            diagnostics: Vec<Diagnostic>,
        },
    }

    pub fn load(_name: &str, _source: &str) -> Result<Flow, Vec<Diagnostic>> {
        Err(vec![Diagnostic {
            pos: Pos { line: 1, col: 1 },
            message: "the FDL parser is not merged yet".into(),
        }])
    }

    pub fn load_file(path: &std::path::Path) -> Result<Flow, LoadError> {
        Err(LoadError::Invalid {
            file: path.display().to_string(),
            diagnostics: load("", "").err().unwrap_or_default(),
        })
    }
}
pub use stub::*;
