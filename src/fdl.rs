//! Flows: the model the engine runs, FDL v1 parsing and validation,
//! CloudFlow compilation, graph layout.
//!
//! Owns everything about flow *definitions* the engine runs: YAML text in,
//! a typed [`Flow`] (or every problem at once, as [`Diagnostic`]s with line
//! and column) out, plus the graph the TUI draws. FDL v1 builds the model
//! directly ([`load`]); a CloudFlow state machine is validated by
//! [`crate::cloudflow`] and compiled into it ([`statemachine`]);
//! [`load_any`] tells the two apart. Pure functions; knows nothing of
//! executions, the simulation or any front end.

mod build;
pub mod bundled;
pub mod condition;
pub mod layout;
pub mod model;
pub mod path;
pub mod statemachine;

pub use crate::syntax::{Diagnostic, LoadError, Pos, read_flow_file};
pub(crate) use crate::syntax::{values, yaml};
pub use model::*;

/// The did-you-mean hint of flow diagnostics, for other positioned YAML
/// readers (test files).
pub(crate) use build::did_you_mean;

/// Longest wait a wait step may ask for, in seconds (one year of 365
/// days; flowsim's choice). A constant beyond it is refused when the flow
/// is loaded; at run time a `$.path` duration or a timestamp beyond it
/// fails the step with `FnF.InvalidWait`. It also keeps virtual time, and
/// so every event timestamp, well inside what the clock can represent.
pub const MAX_WAIT_SECONDS: u64 = 31_536_000;

/// FDL foreach iterations running at once (a CloudFlow Map's
/// `MaxConcurrency` sets its own).
pub const FOREACH_CONCURRENCY: usize = 100;

/// Parses and validates FDL text into a [`Flow`] called `name`.
///
/// Every problem is reported at once, sorted by position; never panics,
/// whatever the input.
pub fn load(name: &str, source: &str) -> Result<Flow, Vec<Diagnostic>> {
    // Editors on Windows save a byte-order mark; it is not part of the YAML.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    build::build(name, source)
}

/// Loads a flow of either language, told apart by the document (see
/// [`crate::cloudflow::is_state_machine`]): an FDL v1 flow as it is, a
/// state machine compiled into the same model. Answers the flow and the
/// loader's warnings (a CloudFlow loop with no way out…), or every
/// problem at once. `mode` is CreateFlow's `ExecutionMode` for a state
/// machine (`None`: the document's, else Standard).
pub fn load_any(
    name: &str,
    source: &str,
    mode: Option<crate::cloudflow::Mode>,
) -> Result<(Flow, Vec<Diagnostic>), Vec<Diagnostic>> {
    if crate::cloudflow::is_state_machine(source) {
        let loaded =
            crate::cloudflow::load_with(name, source, &crate::cloudflow::LoadOptions { mode })?;
        Ok((statemachine::compile(&loaded.machine), loaded.warnings))
    } else {
        load(name, source).map(|f| (f, Vec::new()))
    }
}

/// [`load_any`] on a file; the flow is named after the file's stem.
pub fn load_any_file(path: &std::path::Path) -> Result<(Flow, Vec<Diagnostic>), LoadError> {
    let (shown, name, text) = read_flow_file(path)?;
    load_any(&name, &text, None).map_err(|diagnostics| LoadError::Invalid {
        file: shown,
        diagnostics,
    })
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
