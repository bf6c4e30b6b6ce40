//! The typed model of a CloudFlow state machine: what a valid
//! `Type: StateMachine` document means.
//!
//! Produced only by [`crate::cloudflow::load`] after validation succeeded:
//! every state name a `StartAt`, `Next`, `Default` or Catch `Next` gives is
//! resolved to the index of a state of the same scope, every expression is
//! parsed and checked for its place, every constant is in its documented
//! range. The engine reads this model and never re-parses anything per
//! execution. Positions are kept so runtime errors can point at the source.

use std::fmt;

use serde_json::Value;

use super::constructor::Constructor;
use super::expr::{Condition, EvalError, EvalReason, Expression, Scope};
use crate::syntax::Pos;

/// A parsed, validated state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    /// The name the flow was loaded under (the file stem, or CreateFlow's
    /// `Name`).
    pub name: String,
    /// The document's own `Name`, if it has one.
    pub declared_name: Option<String>,
    /// `SpecVersion` (`v1`, the only version).
    pub spec_version: String,
    pub description: Option<String>,
    /// Standard or Express (see [`Mode`]).
    pub mode: Mode,
    /// The text the flow was parsed from (shown as `FlowDefinition`).
    pub definition: String,
    /// The top-level block.
    pub body: Block,
}

/// A scope: a list of states with its starting state (the flow's top
/// level, a Parallel branch, a Map's Processor). `Next` stays inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub start_at: Target,
    pub states: Vec<State>,
    /// Where the scope's mapping starts (the document, a branch item, the
    /// `Processor` mapping).
    pub pos: Pos,
}

impl Block {
    /// The state `StartAt` names.
    pub fn start(&self) -> &State {
        &self.states[self.start_at.index]
    }

    /// The state a target of this scope points at.
    pub fn state(&self, target: &Target) -> &State {
        &self.states[target.index]
    }

    /// Finds a state of this scope by name (names are unique in a scope).
    pub fn get(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }
}

impl StateMachine {
    /// The first state to run.
    pub fn start(&self) -> &State {
        self.body.start()
    }

    /// Every state of the flow, nested ones included, depth first in
    /// document order.
    pub fn all_states(&self) -> Vec<&State> {
        fn walk<'a>(scope: &'a Block, out: &mut Vec<&'a State>) {
            for s in &scope.states {
                out.push(s);
                for inner in s.kind.scopes() {
                    walk(inner, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.body, &mut out);
        out
    }
}

/// How executions of the flow run (standard-workflow-and-express-workflow
/// page). The cloud sets it with CreateFlow's `ExecutionMode`; flowsim
/// also reads an optional top-level `ExecutionMode: Standard | Express`
/// in the document (its own extension), and [`super::LoadOptions::mode`]
/// overrides both. Default: Standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Asynchronous, up to a year, all three TaskModes, Wait 1–300 s.
    #[default]
    Standard,
    /// Synchronous (StartSyncExecution), up to 5 minutes, RequestComplete
    /// tasks only, Wait 1–20 s.
    Express,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Standard => "Standard",
            Mode::Express => "Express",
        }
    }

    /// The longest `Wait` allowed, in seconds.
    pub fn max_wait_seconds(self) -> u64 {
        match self {
            Mode::Standard => 300,
            Mode::Express => 20,
        }
    }
}

/// A resolved reference to a state of the same scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    /// Index of the state in its scope's `states`.
    pub index: usize,
    /// Where the reference is written (the value of `Next`, `Default`…).
    pub pos: Pos,
}

/// One state.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    /// Where the state's mapping starts (the `- ` of its list item).
    pub pos: Pos,
    pub description: Option<String>,
    pub kind: StateKind,
    pub next: Next,
    /// `$Input` = this built from the raw input (`None`: the raw input).
    pub input_constructor: Option<Constructor>,
    /// The state's output built from `$Input`, `$Output`, `$Context`
    /// (`None`: the default output, the engine's rule).
    pub output_constructor: Option<Constructor>,
}

impl State {
    /// The type name as written (`Task`, `Pass`…).
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// The state's retry policies (Task, Parallel, Map; empty otherwise).
    pub fn retry(&self) -> &[Retry] {
        match &self.kind {
            StateKind::Task(t) => &t.retry,
            StateKind::Parallel(p) => &p.retry,
            StateKind::Map(m) => &m.retry,
            _ => &[],
        }
    }

    /// The state's catch rules (Task, Parallel, Map; empty otherwise).
    pub fn catch(&self) -> &[Catch] {
        match &self.kind {
            StateKind::Task(t) => &t.catch,
            StateKind::Parallel(p) => &p.catch,
            StateKind::Map(m) => &m.catch,
            _ => &[],
        }
    }
}

/// Where a state goes when it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// `Next: name`.
    State(Target),
    /// `End: true`: the state ends its scope (the flow, a branch, an
    /// iteration).
    End,
    /// No transition of its own: a Choice (its branches and `Default`
    /// decide), a Succeed or a Fail (they stop).
    None,
}

/// What a state does.
#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Pass,
    Task(Box<Task>),
    Wait(Wait),
    /// Ends the flow (or a child flow) successfully; inside a Parallel or
    /// Map it ends the current scope (FAIL page: it "waits for the current
    /// scope to complete").
    Succeed,
    Fail(Fail),
    Choice(Choice),
    Parallel(Parallel),
    Map(Box<MapState>),
}

impl StateKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Choice(_) => "Choice",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }

    /// The scopes nested in this state (a Parallel's branches, a Map's
    /// processor).
    pub fn scopes(&self) -> Vec<&Block> {
        match self {
            StateKind::Parallel(p) => p.branches.iter().collect(),
            StateKind::Map(m) => vec![&m.processor],
            _ => Vec::new(),
        }
    }
}

/// A Task state.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub action: Action,
    pub mode: TaskMode,
    /// The request's parameters (`Parameters`), built when the task starts.
    pub parameters: Option<Constructor>,
    /// What flowsim knows of the action (its target), for the integrations
    /// it simulates.
    pub integration: Integration,
    pub timeout: Option<Timeout>,
    pub retry: Vec<Retry>,
    pub catch: Vec<Catch>,
}

/// `Action: Service:Api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub service: String,
    pub api: String,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.api)
    }
}

/// `TaskMode` (service-integration-pattern page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskMode {
    /// Wait for the service's response (the default).
    #[default]
    RequestComplete,
    /// Send the request with a task token; the state ends when
    /// ReportTaskSucceeded or ReportTaskFailed names the token.
    WaitForCustomCallback,
    /// Start an asynchronous job (FC async, a child flow) and wait for it.
    WaitForSystemCallback,
}

impl TaskMode {
    pub const ALL: [&'static str; 3] = [
        "RequestComplete",
        "WaitForCustomCallback",
        "WaitForSystemCallback",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskMode::RequestComplete => "RequestComplete",
            TaskMode::WaitForCustomCallback => "WaitForCustomCallback",
            TaskMode::WaitForSystemCallback => "WaitForSystemCallback",
        }
    }

    /// Whether the task waits for a callback (Standard mode only).
    pub fn is_callback(self) -> bool {
        self != TaskMode::RequestComplete
    }
}

/// The integrations flowsim simulates, with their targets decoded from the
/// constant `Parameters.resourceArn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integration {
    /// `MNS:SendMessage` to a topic or a queue.
    MnsSendMessage {
        target: MnsTarget,
        region: String,
        account: String,
    },
    /// `FC:InvokeFunction`.
    FcInvokeFunction {
        function: FcFunction,
        /// `None` when `invocationType` is an expression (`invocationType.$`).
        invocation_type: Option<InvocationType>,
    },
    /// `FNF:StartExecution`: a child flow.
    StartExecution { flow: String },
    /// Any other `Service:Api` ("normal integration" of an OpenAPI
    /// operation): accepted by the loader, the engine decides.
    Other,
}

/// Where `MNS:SendMessage` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MnsTarget {
    /// `acs:mns:{region}:{account}:/topics/{name}/messages`.
    Topic(String),
    /// `acs:mns:{region}:{account}:/queues/{name}/messages`.
    Queue(String),
}

impl MnsTarget {
    pub fn name(&self) -> &str {
        match self {
            MnsTarget::Topic(n) | MnsTarget::Queue(n) => n,
        }
    }
}

/// A function named by an FC ARN: FC 3.0's `functions/{name}[/{qualifier}]`
/// or FC 2.0's `services/{service}[.{qualifier}]/functions/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcFunction {
    pub region: String,
    pub account: String,
    pub service: Option<String>,
    pub function: String,
    pub qualifier: Option<String>,
}

/// `invocationType` of `FC:InvokeFunction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    Sync,
    Async,
}

/// A task's `Timeout` (0–604800 s; 0 or none: never times out).
#[derive(Debug, Clone, PartialEq)]
pub enum Timeout {
    Seconds(u64),
    /// `Timeout.$`: evaluated when the task starts.
    Expr(Expression),
}

/// Longest task timeout, in seconds (TASK page).
pub const MAX_TIMEOUT_SECONDS: u64 = 604_800;

impl Task {
    /// The timeout in seconds for this run (`None`: never times out).
    /// A `Timeout.$` must give a whole number (or a string of one) from 0
    /// to 604800.
    pub fn timeout_seconds(
        &self,
        scope: &Scope<'_>,
        rng: &mut impl rand::RngCore,
    ) -> Result<Option<u64>, EvalError> {
        let secs = match &self.timeout {
            None => return Ok(None),
            Some(Timeout::Seconds(s)) => *s,
            Some(Timeout::Expr(e)) => {
                let v = e.eval(scope, rng)?;
                seconds_of(&v, 0, MAX_TIMEOUT_SECONDS).map_err(|message| {
                    EvalError::new(
                        &e.source,
                        EvalReason::Field {
                            field: "Timeout.$",
                            message,
                        },
                    )
                })?
            }
        };
        Ok((secs > 0).then_some(secs))
    }
}

/// A whole number of seconds in `min..=max` from a JSON value (a number or
/// a string of digits, as `Timeout` is documented as a string).
pub fn seconds_of(v: &Value, min: u64, max: u64) -> Result<u64, String> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "must give a whole number of seconds from {min} to {max}, and gave {}",
            super::expr::describe(v)
        )),
    }
}

/// A Wait state: how long.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    Seconds(u64),
    /// `Seconds.$`: evaluated when the state starts.
    Expr(Expression),
}

impl Wait {
    /// The wait in seconds for this run: a `Seconds.$` must give a whole
    /// number from 1 to the mode's limit (300 Standard, 20 Express).
    pub fn seconds(
        &self,
        scope: &Scope<'_>,
        mode: Mode,
        rng: &mut impl rand::RngCore,
    ) -> Result<u64, EvalError> {
        match self {
            Wait::Seconds(s) => Ok(*s),
            Wait::Expr(e) => {
                let v = e.eval(scope, rng)?;
                seconds_of(&v, 1, mode.max_wait_seconds()).map_err(|message| {
                    EvalError::new(
                        &e.source,
                        EvalReason::Field {
                            field: "Seconds.$",
                            message,
                        },
                    )
                })
            }
        }
    }
}

/// A Fail state: the error it ends the flow with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    /// The error code (`None` when the state has no `Code`).
    pub code: Option<String>,
    /// The error's description.
    pub detail: String,
}

/// A Choice state.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Tested in order; the first true one's `next` runs.
    pub branches: Vec<ChoiceBranch>,
    /// Where to go when no condition is true.
    pub default: Target,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceBranch {
    pub condition: Condition,
    pub next: Target,
    pub pos: Pos,
}

/// Most branches a Parallel state may have (PAR page).
pub const MAX_PARALLEL_BRANCHES: usize = 50;
/// Highest inline Map concurrency (inline-mode page).
pub const MAX_MAP_CONCURRENCY: u32 = 40;

/// A Parallel state: all branches start at once with the same input; the
/// output is `{"Branch0": …, "Branch1": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub branches: Vec<Block>,
    pub retry: Vec<Retry>,
    pub catch: Vec<Catch>,
}

/// An inline Map state: the processor runs once per element of the array
/// `items_path` gives; the output is `{"Items": […]}` in element order.
#[derive(Debug, Clone, PartialEq)]
pub struct MapState {
    pub items_path: Expression,
    pub processor: Block,
    /// `MaxConcurrency` (or the docs' `MaxConcuccency`), 1–40; `None`: the
    /// limit, 40.
    pub max_concurrency: Option<u32>,
    pub retry: Vec<Retry>,
    pub catch: Vec<Catch>,
}

impl MapState {
    /// The elements to iterate over: `ItemsPath` must give an array.
    pub fn items(
        &self,
        scope: &Scope<'_>,
        rng: &mut impl rand::RngCore,
    ) -> Result<Vec<Value>, EvalError> {
        match self.items_path.eval(scope, rng)? {
            Value::Array(items) => Ok(items),
            other => Err(EvalError::new(
                &self.items_path.source,
                EvalReason::Field {
                    field: "ItemsPath",
                    message: format!(
                        "must give an array to iterate over, and gave {}",
                        super::expr::describe(&other)
                    ),
                },
            )),
        }
    }

    /// How many iterations may run at once.
    pub fn concurrency(&self) -> u32 {
        self.max_concurrency.unwrap_or(MAX_MAP_CONCURRENCY)
    }
}

/// Longest retry interval, in seconds (error-handling page).
pub const MAX_RETRY_INTERVAL_SECONDS: u64 = 86_400;

/// A retry policy (`Retry` item).
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// Error names it matches (`FnF.ALL` matches all).
    pub errors: Vec<String>,
    pub description: Option<String>,
    /// Retries after the first attempt.
    pub max_attempts: u32,
    /// The first retry's delay.
    pub interval_seconds: u64,
    /// Multiplier applied after each retry (1: a constant interval).
    pub backoff_rate: f64,
    /// Cap on the delay, if any.
    pub max_backoff_seconds: Option<u64>,
    pub pos: Pos,
}

impl Retry {
    /// Whether the policy matches an error name.
    pub fn matches(&self, error: &str) -> bool {
        self.errors.iter().any(|e| e == error || e == "FnF.ALL")
    }

    /// The delay before retry number `n` (1-based): IntervalSeconds ×
    /// BackoffRateⁿ⁻¹, capped at MaxBackoffSeconds (and at 86400).
    pub fn delay_seconds(&self, n: u32) -> u64 {
        let exp = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
        let raw = self.interval_seconds as f64 * self.backoff_rate.powi(exp);
        let cap = self
            .max_backoff_seconds
            .unwrap_or(MAX_RETRY_INTERVAL_SECONDS)
            .min(MAX_RETRY_INTERVAL_SECONDS);
        if raw.is_finite() && raw < cap as f64 {
            raw.round() as u64
        } else {
            cap
        }
    }
}

/// A catch rule (`Catch` item).
#[derive(Debug, Clone, PartialEq)]
pub struct Catch {
    pub errors: Vec<String>,
    pub description: Option<String>,
    /// Builds the input of `next` (it may read `$Context.Current.Error`).
    pub output_constructor: Option<Constructor>,
    pub next: Target,
    pub pos: Pos,
}

impl Catch {
    /// Whether the rule matches an error name.
    pub fn matches(&self, error: &str) -> bool {
        self.errors.iter().any(|e| e == error || e == "FnF.ALL")
    }
}
