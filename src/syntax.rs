//! Positioned source text, shared by both flow languages: the YAML reader
//! that keeps every node's line and column, positions and diagnostics,
//! reading a flow file, and the JSON value helpers both expression
//! languages use. Knows nothing of either spec.

pub mod values;
pub mod yaml;

/// How a character shows in a message: quoted, with spaces named (`the
/// end` past the last).
pub fn shown(c: Option<&char>) -> String {
    match c {
        None => "the end".to_owned(),
        Some(c) if c.is_whitespace() => "a space".to_owned(),
        Some(c) => format!("`{c}`"),
    }
}

use std::fmt;

/// A 1-based line and column in a flow's source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A problem in a flow's source, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub pos: Pos,
    pub message: String,
}

impl Diagnostic {
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            pos,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// Why a flow file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read the flow: {error}")]
    Io {
        path: String,
        /// Not a `source`: the message already says it, once.
        error: std::io::Error,
    },
    /// Every problem found, one `file:line:col: message` line each.
    #[error("{}", render(file, diagnostics))]
    Invalid {
        file: String,
        diagnostics: Vec<Diagnostic>,
    },
}

fn render(file: &str, diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(|d| format!("{file}:{d}")).collect();
    lines.join("\n")
}

/// Reads a flow file of either spec: its path as shown, the flow's name
/// (the file's stem) and its text. A file that is not UTF-8 is an invalid
/// flow, positioned at its first bad byte.
pub fn read_flow_file(path: &std::path::Path) -> Result<(String, String, String), LoadError> {
    let shown = path.display().to_string();
    if path.is_dir() {
        return Err(LoadError::Io {
            path: shown,
            error: std::io::Error::other(
                "it is a folder, and a flow is one file (commands that take folders: validate, test, tui, serve)",
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
        path: shown.clone(),
        error,
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let valid = String::from_utf8_lossy(valid);
            let line = valid.matches('\n').count() + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return Err(LoadError::Invalid {
                file: shown,
                diagnostics: vec![Diagnostic::new(
                    Pos {
                        line: u32::try_from(line).unwrap_or(u32::MAX),
                        col: u32::try_from(col).unwrap_or(u32::MAX),
                    },
                    "the file is not UTF-8 text",
                )],
            });
        }
    };
    let name = path
        .file_stem()
        .map_or_else(|| shown.clone(), |s| s.to_string_lossy().into_owned());
    Ok((shown, name, text))
}
