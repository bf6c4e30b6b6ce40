//! The typed flow model: what a valid FDL v1 document means.
//!
//! Produced only by [`crate::fdl::load`] after validation succeeded, so every
//! cross-reference in here (a `goto`, a catch target) is already resolved and
//! every expression already parsed. The engine reads this model and never
//! re-parses anything per execution. Positions are kept so runtime errors can
//! point back at the source.

use std::fmt;

use serde_json::Value;

pub use crate::syntax::Pos;

/// Index of a step in [`Flow::steps`] (the arena, in document order).
///
/// Two bytes: every history event names its step, and engines retain
/// every history (a flow holds at most [`MAX_STEPS`] steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId(pub u16);

/// The most steps a flow may hold ([`StepId`] is two bytes; its last
/// value stands for "not resolved yet" while a flow is built).
pub const MAX_STEPS: usize = u16::MAX as usize;

impl StepId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A parsed, validated flow definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// The flow's name: the file stem for files, the `Name` for `CreateFlow`.
    pub name: String,
    /// `v1` (`v1beta1` is accepted and normalised to `v1`).
    pub version: String,
    /// The FDL text this flow was parsed from (shown as `FlowDefinition`).
    pub definition: String,
    /// Flow-level timeout: the execution ends `TimedOut` when it elapses.
    pub timeout_seconds: Option<u64>,
    pub input_mappings: Vec<Mapping>,
    pub output_mappings: Vec<Mapping>,
    /// The top-level block, in order.
    pub body: Vec<StepId>,
    /// Every step of the flow, nested ones included, in document order;
    /// `steps[id.index()].id == id`.
    pub steps: Vec<Step>,
}

impl Flow {
    pub fn step(&self, id: StepId) -> &Step {
        &self.steps[id.index()]
    }

    /// Finds a step by name (names are unique within a flow).
    pub fn step_by_name(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The flows its sub-flow tasks start (`acs:fnf:::flow/NAME`), each
    /// once, in step order.
    pub fn subflow_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for step in &self.steps {
            if let StepKind::Task(t) = &step.kind
                && let Resource::Flow { flow: name } = &t.resource
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: StepId,
    pub name: String,
    /// Where the step's mapping starts (the `- ` of its list item).
    pub pos: Pos,
    /// The enclosing step, `None` at the top level.
    pub parent: Option<StepId>,
    /// `end: true`: the enclosing block stops after this step.
    pub end: bool,
    /// `None` when the document has no `inputMappings` (the default merge
    /// rule applies), `Some(vec![])` when it has an empty list.
    pub input_mappings: Option<Vec<Mapping>>,
    /// `None` when absent: the output is the local (parallel/foreach: `{}`).
    pub output_mappings: Option<Vec<Mapping>>,
    pub kind: StepKind,
}

/// The eight FDL step types.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Task(Task),
    Pass,
    Wait(Wait),
    Choice(Choice),
    Parallel(Parallel),
    Foreach(Foreach),
    Succeed,
    Fail(Fail),
}

impl StepKind {
    /// The FDL `type` keyword.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::Task(_) => "task",
            StepKind::Pass => "pass",
            StepKind::Wait(_) => "wait",
            StepKind::Choice(_) => "choice",
            StepKind::Parallel(_) => "parallel",
            StepKind::Foreach(_) => "foreach",
            StepKind::Succeed => "succeed",
            StepKind::Fail(_) => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The ARN as written.
    pub resource_arn: String,
    pub resource: Resource,
    pub pattern: Pattern,
    pub timeout_seconds: Option<u64>,
    /// In document order.
    pub service_params: Vec<(String, ParamValue)>,
    pub retry: Vec<RetryPolicy>,
    pub catch: Vec<CatchRule>,
    pub error_mappings: Option<Vec<Mapping>>,
}

/// What a task step calls, decoded from its `resourceArn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `acs:fc:{region}:{account}:services/{service}/functions/{function}`
    /// (region and account may be empty).
    Function {
        region: String,
        account: String,
        service: String,
        function: String,
    },
    /// `acs:mns:::/topics/{topic}/messages`
    MnsTopic { topic: String },
    /// `acs:mns:::/queues/{queue}/messages`
    MnsQueue { queue: String },
    /// `acs:fnf:::flow/{flow}`
    Flow { flow: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pattern {
    #[default]
    RequestResponse,
    Sync,
    WaitForCallback,
}

impl Pattern {
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::RequestResponse => "requestResponse",
            Pattern::Sync => "sync",
            Pattern::WaitForCallback => "waitForCallback",
        }
    }
}

/// A `serviceParams` value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `$` (the whole mapped step input) or `$.a.b`.
    Path(Path),
    /// Anything else, sent as is.
    Const(Value),
}

/// `{errors, intervalSeconds, maxIntervalSeconds, maxAttempts, multiplier}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub errors: Vec<String>,
    pub interval_seconds: u64,
    pub max_interval_seconds: u64,
    pub max_attempts: u32,
    pub multiplier: f64,
    pub pos: Pos,
}

impl RetryPolicy {
    pub const DEFAULT_INTERVAL_SECONDS: u64 = 1;
    pub const DEFAULT_MAX_INTERVAL_SECONDS: u64 = 86_400;
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
    pub const DEFAULT_MULTIPLIER: f64 = 2.0;
}

/// `{errors, goto}`; `goto` is resolved to a sibling of the task.
#[derive(Debug, Clone, PartialEq)]
pub struct CatchRule {
    pub errors: Vec<String>,
    pub goto: StepId,
    pub pos: Pos,
}

/// `{target, source}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub target: String,
    pub source: Source,
    pub pos: Pos,
}

/// A mapping source: a reference (starts with `$input`, `$local` or
/// `$context`) or a constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Path(Path),
    Const(Value),
}

/// A reference such as `$input.a.b[0]`, `$local[*].name`, `$.x`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    pub root: Root,
    pub segments: Vec<Segment>,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.root {
            Root::Input => "$input",
            Root::Local => "$local",
            Root::Context => "$context",
            Root::Dollar => "$",
        })?;
        for s in &self.segments {
            match s {
                // Keys the `.key` form cannot hold are written `["..."]`.
                Segment::Key(k) if !k.is_empty() && k.chars().all(super::path::is_key_char) => {
                    write!(f, ".{k}")?
                }
                Segment::Key(k) => write!(f, "[{}]", Value::String(k.clone()))?,
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Wildcard => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    Input,
    Local,
    Context,
    /// `$`: the step input, in `serviceParams`, choice conditions and wait
    /// `duration`/`timestamp` references.
    Dollar,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// `.name` or `["name"]`
    Key(String),
    /// `[3]`
    Index(usize),
    /// `[*]`: maps the rest of the path over every element of an array.
    Wildcard,
}

/// `duration` or `timestamp`, each a constant or a `$.path`.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    DurationSeconds(f64),
    DurationPath(Path),
    /// RFC 3339, as Unix milliseconds.
    TimestampMillis(i64),
    TimestampPath(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub choices: Vec<ChoiceBranch>,
    pub default: Option<Branch>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceBranch {
    pub condition: crate::fdl::condition::Condition,
    pub branch: Branch,
}

/// What a taken choice does: run `steps`, then jump to `goto` (a sibling of
/// the choice step) or fall through to the step after the choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub steps: Vec<StepId>,
    pub goto: Option<StepId>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub branches: Vec<Vec<StepId>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Foreach {
    /// `iterationMapping.collection`, a reference into the step input.
    pub collection: Path,
    /// `iterationMapping.item`: the key the element is put under.
    pub item: String,
    /// `iterationMapping.index`: the key the index is put under, if any.
    pub index: Option<String>,
    pub steps: Vec<StepId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    pub error: String,
    pub cause: String,
}
