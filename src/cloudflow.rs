//! CloudFlow flows (the new spec, `Type: StateMachine`): parsing with
//! positions, validation, and the expression language.
//!
//! Owns everything about CloudFlow *definitions*: YAML text in, a typed
//! [`StateMachine`] plus warnings (or every problem at once, as
//! [`Diagnostic`]s with line and column) out; and the expressions and
//! constructors the engine evaluates on each state. Pure functions; knows
//! nothing of executions, the simulation or any front end. Reuses FDL's
//! positioned YAML reader and its `Diagnostic`/`Pos`.
//!
//! - [`model`]: the state machine, its eight state types, Retry/Catch,
//!   integrations.
//! - [`expr`]: expressions (`$Input.a == 1`, `format("{}", $Input.x)`),
//!   [`Condition`], the evaluation [`Scope`].
//! - [`functions`]: the built-in functions.
//! - [`constructor`]: Input/Output constructors and `Parameters`.
//! - `build`: validation (crate-private).
//!
//! The engine's entry points: [`is_state_machine`] to pick the loader,
//! [`load`] / [`load_with`] / [`load_file`], then per state
//! [`Constructor::build`], [`Condition::eval`], [`Wait::seconds`],
//! [`Task::timeout_seconds`], [`MapState::items`], [`Retry::delay_seconds`].
//!
//! Rules the vendor's pages leave open, decided here (see also [`expr`]
//! and [`functions`]):
//! - The mode is Standard unless a top-level `ExecutionMode: Express`
//!   (flowsim's extension; the cloud sets it with CreateFlow) or
//!   [`LoadOptions::mode`] says otherwise.
//! - `Name` and `SpecVersion` (default `v1`) are optional; `Type`,
//!   `StartAt` and `States` are required.
//! - State names are unique within a scope; `Next`, `Default` and a
//!   Catch's `Next` name a state of the same scope.
//! - Unreachable states are errors; a loop with no way out is a warning.
//! - Succeed and Fail take no `Next` (`End: true` is accepted, as the 2023
//!   Fail example writes it). Fail needs `Detail` (the current page).
//! - A Retry policy needs `Errors`, `MaxAttempts` and `IntervalSeconds`;
//!   `Description` is optional (the 2024-12 page marks it required).
//! - The 2023 `OnErrors` syntax is refused with a message naming
//!   `Retry`/`Catch`; `UntilDateTime` (Wait, 2023) likewise.
//! - A distributed Map (`ItemReader`, `ProcessorConfig`, …) is refused.
//! - MNS, FC and child-flow tasks need a constant `resourceArn` (flowsim
//!   resolves targets when loading). FC's `invocationType` must be `Sync`
//!   with RequestComplete and `Async` with WaitForSystemCallback.
//! - `$Output` (and `$Context.Current.Output`) only in OutputConstructors,
//!   a Catch's included; `Timeout` accepts a number or a string of digits.

pub mod constructor;
pub mod expr;
pub mod functions;
pub mod model;

mod build;
#[cfg(test)]
mod tests;

pub use constructor::{Constructor, Field, Template};
pub use expr::{
    Condition, CurrentError, EvalError, EvalReason, ExprError, Expression, Root, Scope,
};
pub use model::*;

use crate::syntax::yaml::{self, Data};
use crate::syntax::{Diagnostic, LoadError};

/// How to load a flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The execution mode the flow is created in (CreateFlow's
    /// `ExecutionMode`). `None`: the document's `ExecutionMode`, else
    /// Standard. A document that says otherwise is an error.
    pub mode: Option<Mode>,
}

/// A valid flow and what is worth a warning in it (a loop with no way
/// out, a constructor value that looks like an expression but has no
/// `.$`).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub machine: StateMachine,
    /// Sorted by position.
    pub warnings: Vec<Diagnostic>,
}

/// Whether `source` is a CloudFlow document (`Type: StateMachine`) rather
/// than an FDL v1 one (`type: flow`). Decided on the top-level keys: a
/// `Type` key says CloudFlow (whatever its value: the CloudFlow loader
/// then explains a wrong one); otherwise a `type` key says FDL; otherwise
/// `StartAt`, `States` or `SpecVersion` say CloudFlow. Text that is not
/// YAML is judged by its lines starting with those keys. Never panics.
pub fn is_state_machine(source: &str) -> bool {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut ignored = Vec::new();
    let keys: Vec<String> = match yaml::parse(source, &mut ignored) {
        Ok(Some(doc)) => match &doc.data {
            Data::Map(entries) => entries.iter().map(|e| e.key.clone()).collect(),
            _ => return false,
        },
        Ok(None) => return false,
        Err(_) => source
            .lines()
            .filter(|l| !l.starts_with([' ', '\t', '#', '-']))
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim().to_owned()))
            .collect(),
    };
    let has = |k: &str| keys.iter().any(|x| x == k);
    if has("Type") {
        return true;
    }
    if has("type") {
        return false;
    }
    has("StartAt") || has("States") || has("SpecVersion")
}

/// Parses and validates CloudFlow text into a flow called `name`, in the
/// mode the document says (default Standard).
///
/// Every problem is reported at once, sorted by position; never panics,
/// whatever the input.
pub fn load(name: &str, source: &str) -> Result<Loaded, Vec<Diagnostic>> {
    load_with(name, source, &LoadOptions::default())
}

/// [`load`] with options (the execution mode the flow is created in).
pub fn load_with(
    name: &str,
    source: &str,
    options: &LoadOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    // Editors on Windows save a byte-order mark; it is not part of the YAML.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    build::build(name, source, options)
}

/// Reads and loads a flow file; the flow is named after the file's stem.
pub fn load_file(path: &std::path::Path) -> Result<Loaded, LoadError> {
    let (shown, name, text) = crate::syntax::read_flow_file(path)?;
    load(&name, &text).map_err(|diagnostics| LoadError::Invalid {
        file: shown,
        diagnostics,
    })
}
