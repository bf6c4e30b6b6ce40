//! Flows: FDL v1 parsing, validation and graph layout.
//!
//! Owns everything about flow *definitions*: YAML text in, a typed [`Flow`]
//! (or every problem at once, as [`Diagnostic`]s with line and column) out,
//! plus the graph the TUI draws. Pure functions; knows nothing of
//! executions, the simulation or any front end.

mod build;
pub mod bundled;
pub mod condition;
pub mod layout;
pub mod model;
pub mod path;
pub(crate) mod values;
pub(crate) mod yaml;

pub use model::*;

/// The did-you-mean hint of flow diagnostics, for other positioned YAML
/// readers (test files).
pub(crate) use build::did_you_mean;

use std::fmt;

/// Longest wait a wait step may ask for, in seconds (one year of 365
/// days; flowsim's choice). A constant beyond it is refused when the flow
/// is loaded; at run time a `$.path` duration or a timestamp beyond it
/// fails the step with `FnF.InvalidWait`. It also keeps virtual time, and
/// so every event timestamp, well inside what the clock can represent.
pub const MAX_WAIT_SECONDS: u64 = 31_536_000;

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
    #[error("{path}: cannot read the flow: {source}")]
    Io {
        path: String,
        source: std::io::Error,
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

/// Parses and validates FDL text into a [`Flow`] called `name`.
///
/// Every problem is reported at once, sorted by position; never panics,
/// whatever the input.
pub fn load(name: &str, source: &str) -> Result<Flow, Vec<Diagnostic>> {
    // Editors on Windows save a byte-order mark; it is not part of the YAML.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    build::build(name, source)
}

/// The prefix of a *sample input line*: a line of a flow file's leading
/// comment that reads `# input: {"requestId": "r-42"}`. The TUI's `n`
/// prefills it as the new execution's input.
pub const SAMPLE_INPUT_PREFIX: &str = "input:";

/// The flow's *sample input line*, if its leading comment has one: the
/// first line of the comment block at the top of `source` (lines starting
/// with `#`, blank lines between them allowed) that reads `# input: JSON`
/// with JSON an object. The JSON text is answered as written (trimmed);
/// a line whose JSON is not an object is not a sample input. Pure.
pub fn sample_input(source: &str) -> Option<String> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    for line in source.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix('#') else {
            return None; // the leading comment is over
        };
        let Some(json) = comment.trim_start().strip_prefix(SAMPLE_INPUT_PREFIX) else {
            continue;
        };
        let json = json.trim();
        if matches!(
            serde_json::from_str::<serde_json::Value>(json),
            Ok(serde_json::Value::Object(_))
        ) {
            return Some(json.to_owned());
        }
    }
    None
}

impl Flow {
    /// The sample input of the flow's leading comment (see
    /// [`sample_input`]), if any.
    pub fn sample_input(&self) -> Option<String> {
        sample_input(&self.definition)
    }
}

/// Reads and loads a flow file; the flow is named after the file's stem.
pub fn load_file(path: &std::path::Path) -> Result<Flow, LoadError> {
    let (shown, name, text) = read_flow_file(path)?;
    load(&name, &text).map_err(|diagnostics| LoadError::Invalid {
        file: shown,
        diagnostics,
    })
}

/// Reads a flow file of either spec: its path as shown, the flow's name
/// (the file's stem) and its text. A file that is not UTF-8 is an invalid
/// flow, positioned at its first bad byte.
pub fn read_flow_file(path: &std::path::Path) -> Result<(String, String, String), LoadError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: shown.clone(),
        source,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_input_line_is_read_from_the_leading_comment() {
        let src = "# A flow.\n#\n#   input:  {\"a\": 1}  \nversion: v1\n";
        assert_eq!(sample_input(src).as_deref(), Some(r#"{"a": 1}"#));
        // After the comment block: not a sample input.
        assert_eq!(sample_input("version: v1\n# input: {\"a\": 1}\n"), None);
        // Not an object, or not JSON: skipped; a later line may still be one.
        let src = "# input: [1]\n# input: nope\n# input: {}\nversion: v1\n";
        assert_eq!(sample_input(src).as_deref(), Some("{}"));
        let bom = "\u{feff}\n\n# input: {\"b\": 2}\n";
        assert_eq!(sample_input(bom).as_deref(), Some(r#"{"b": 2}"#));
        assert_eq!(sample_input(""), None);
    }

    #[test]
    fn every_example_flow_has_a_sample_input() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "yaml")
                && !p.to_string_lossy().ends_with(".test.yaml")
            {
                let flow = load_file(&p).unwrap();
                assert!(
                    flow.sample_input().is_some(),
                    "{}: no sample input line (# input: {{...}})",
                    p.display()
                );
                n += 1;
            }
        }
        assert!(n >= 8, "{n} flows");
    }
}
