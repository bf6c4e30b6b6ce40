//! spec: the flow test file format (`*.test.yaml`): what a loaded file
//! is (flows, cases, answers, expectations), the entry points that load
//! one (`read` does the reading and checking), and durations as test
//! files write them. What comes out is fully resolved: the runner never
//! looks at YAML. Runs nothing.

mod read;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::engine::Status;
use crate::fdl::{Flow, Pos};
use crate::kernel::Millis;

/// The seed every case runs with unless the file or the case says.
pub const DEFAULT_SEED: u64 = 1;

/// The virtual time a case may run for unless it says (`max_time`): more
/// than the longest wait a flow may ask for (a year).
pub const DEFAULT_MAX_TIME_MS: Millis = 366 * 86_400_000;

/// A problem in a test file (or in a flow it loads), at a 1-based line
/// and column of `file`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: String,
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.pos, self.message)
    }
}

/// What the function does with a task the case does not script (`--handler`,
/// or `handler:` in the file or the case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handler {
    #[default]
    Succeed,
    Fail,
    Error,
    Drop,
}

impl Handler {
    pub fn as_str(self) -> &'static str {
        match self {
            Handler::Succeed => "succeed",
            Handler::Fail => "fail",
            Handler::Error => "error",
            Handler::Drop => "drop",
        }
    }

    pub fn parse(s: &str) -> Option<Handler> {
        match s {
            "succeed" => Some(Handler::Succeed),
            "fail" => Some(Handler::Fail),
            "error" => Some(Handler::Error),
            "drop" => Some(Handler::Drop),
            _ => None,
        }
    }
}

/// One answer of a task's script.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub kind: Kind,
    /// Virtual time before the report (a push is acknowledged at once); for
    /// a function invocation, how long the call takes.
    pub after: Millis,
    /// Report again with the same token and require `TaskAlreadyCompleted`.
    pub duplicate: bool,
    pub pos: Pos,
}

/// What an answer does.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// ReportTaskSucceeded (a function returns) with this output; `None`:
    /// the handler's output.
    Succeed(Option<Value>),
    /// ReportTaskFailed (a function fails) with this error and cause;
    /// `None`: the handler's.
    Fail(Option<(String, String)>),
    /// HTTP 500 without a report (MNS retries the push); a function
    /// invocation fails with `FC.InternalServerError`.
    Error,
    /// Never answers.
    Drop,
    /// What the case's handler does (an answer with only `after`).
    Default,
}

/// A comparison for `elapsed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn holds(self, actual: Millis, expected: Millis) -> bool {
        match self {
            Cmp::Eq => actual == expected,
            Cmp::Lt => actual < expected,
            Cmp::Le => actual <= expected,
            Cmp::Gt => actual > expected,
            Cmp::Ge => actual >= expected,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "",
            Cmp::Lt => "< ",
            Cmp::Le => "<= ",
            Cmp::Gt => "> ",
            Cmp::Ge => ">= ",
        }
    }
}

/// What a case expects; every field is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    /// `Running`: the execution has not ended when nothing more can happen.
    pub status: Option<Status>,
    /// A subset of the output (objects: these keys; arrays: element-wise).
    pub output: Option<Value>,
    /// The whole output.
    pub output_exact: Option<Value>,
    pub error: Option<String>,
    /// A substring of the error's cause.
    pub cause: Option<String>,
    /// Steps entered, in history order (the case's own execution).
    pub path: Option<Vec<String>>,
    /// How many times each step ran: a task's attempts, other steps' entries.
    pub visits: Vec<(String, u64)>,
    pub not_visited: Vec<String>,
    pub elapsed: Option<(Cmp, Millis)>,
}

/// One test case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub name: String,
    /// Where the case's mapping starts.
    pub pos: Pos,
    /// The execution input (a JSON object).
    pub input: Value,
    pub seed: Option<u64>,
    pub handler: Option<Handler>,
    pub max_time: Option<Millis>,
    /// Scripts by task step name, in file order.
    pub tasks: Vec<(String, Vec<Answer>)>,
    pub expect: Expect,
}

impl Case {
    /// The script of the task step `name`, if the case has one.
    pub fn script(&self, name: &str) -> Option<&[Answer]> {
        self.tasks
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.as_slice())
    }
}

/// A loaded test file: its flows (the one under test first) and its cases.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// The file as found (shown in reports).
    pub path: PathBuf,
    /// The flows, the one under test first, then `with:` and the sub-flows
    /// found beside it; each with the file it came from.
    pub flows: Vec<(PathBuf, Arc<Flow>)>,
    pub seed: u64,
    pub epoch_ms: Option<i64>,
    pub handler: Option<Handler>,
    pub max_time: Option<Millis>,
    pub cases: Vec<Case>,
}

impl TestFile {
    /// The flow under test.
    pub fn flow(&self) -> &Arc<Flow> {
        &self.flows[0].1
    }

    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }
}

/// Flows already loaded, by path, so several test files of one flow parse
/// it once.
pub type FlowCache = HashMap<PathBuf, Arc<Flow>>;

/// Reads and checks a test file; every problem at once.
pub fn load(path: &Path, cache: &mut FlowCache) -> Result<TestFile, Vec<Problem>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem {
            file: shown.clone(),
            pos: Pos { line: 1, col: 1 },
            message: format!("cannot read the test file: {e}"),
        }]
    })?;
    parse(path, &text, cache)
}

/// Checks the text of a test file found at `path` (flows are read relative
/// to its folder).
pub fn parse(path: &Path, text: &str, cache: &mut FlowCache) -> Result<TestFile, Vec<Problem>> {
    read::file(path, text, cache)
}

/// Parses a duration: `45s`, `1m30s`, `2h`, `1d`, `500ms`, `1.5s`, or a
/// bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Millis> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(secs) = t.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as Millis);
    }
    let mut total: f64 = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if n == 0 {
            return None;
        }
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return None,
        };
        total += value * ms;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total < 1e18).then(|| total.round() as Millis)
}

/// Formats virtual milliseconds the way durations are written in test
/// files: `0s`, `500ms`, `1.5s`, `47s`, `1m30s`, `1h`, `1d2h`.
pub fn fmt_ms(ms: Millis) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let mut out = String::new();
    let (d, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, rest) = (rest / 3_600_000, rest % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    for (n, u) in [(d, "d"), (h, "h"), (m, "m")] {
        if n > 0 {
            out.push_str(&format!("{n}{u}"));
        }
    }
    if milli > 0 {
        let frac = format!("{milli:03}");
        out.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
    } else if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}
