//! The typed flow model the engine runs, for both flow languages.
//!
//! FDL v1 builds it directly ([`crate::fdl::load`]); a CloudFlow state
//! machine compiles into it ([`crate::fdl::statemachine`]). The two differ
//! only where their semantics do, and the model says so in data, not in
//! the engine's control flow: [`Flow::lang`] picks how data moves between
//! steps (FDL merges each step's output into its block's `$local`; a
//! state machine pipes each state's output into the next state's input),
//! [`Step::next`] holds a state's explicit `Next`, [`Step::constructors`],
//! [`ChoiceCondition`], [`Items`], [`Wait::Expr`] and [`Task::api`] hold
//! CloudFlow's expressions, evaluated by [`crate::cloudflow`].
//!
//! Produced only after validation succeeded, so every
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
    /// The language the flow was written in.
    pub lang: Lang,
}

/// The language a flow was written in, and what that changes when it
/// runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// FDL v1 (`type: flow`): a step's output is merged into its block's
    /// `$local`; a block walks its steps in order.
    #[default]
    Fdl,
    /// A CloudFlow state machine (`Type: StateMachine`): a state's output
    /// is the next state's input; states follow their `Next`.
    StateMachine(crate::cloudflow::Mode),
}

impl Lang {
    /// Whether data is piped from state to state (CloudFlow).
    pub fn pipes(self) -> bool {
        matches!(self, Lang::StateMachine(_))
    }

    /// The largest input or output a step may have, in bytes: 32 KiB in
    /// FDL v1, 64 KiB for a state machine (the IO page).
    pub fn data_limit(self) -> usize {
        match self {
            Lang::Fdl => 32 * 1024,
            Lang::StateMachine(_) => 64 * 1024,
        }
    }

    /// `FDL v1`, `CloudFlow` or `CloudFlow (Express)`.
    pub fn label(self) -> &'static str {
        match self {
            Lang::Fdl => "FDL v1",
            Lang::StateMachine(crate::cloudflow::Mode::Standard) => "CloudFlow",
            Lang::StateMachine(crate::cloudflow::Mode::Express) => "CloudFlow (Express)",
        }
    }
}

impl Flow {
    pub fn step(&self, id: StepId) -> &Step {
        &self.steps[id.index()]
    }

    /// Finds a step by name (names are unique within a flow).
    pub fn step_by_name(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// A step's type as its language writes it (`task`, or `Task`; a
    /// CloudFlow `Map` is the model's foreach).
    pub fn type_name(&self, step: &Step) -> &'static str {
        if !self.lang.pipes() {
            return step.kind.type_name();
        }
        match step.kind {
            StepKind::Task(_) => "Task",
            StepKind::Pass => "Pass",
            StepKind::Wait(_) => "Wait",
            StepKind::Choice(_) => "Choice",
            StepKind::Parallel(_) => "Parallel",
            StepKind::Foreach(_) => "Map",
            StepKind::Succeed => "Succeed",
            StepKind::Fail(_) => "Fail",
        }
    }

    /// Whether this is an Express-mode state machine (StartSyncExecution;
    /// no callbacks).
    pub fn is_express(&self) -> bool {
        self.lang == Lang::StateMachine(crate::cloudflow::Mode::Express)
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
    /// A state's explicit `Next` (CloudFlow): the step of the same block
    /// that runs after this one. `None`: the next step of the block (FDL),
    /// or the end of the block when [`Step::end`] is set.
    pub next: Option<StepId>,
    /// A state's Input/OutputConstructor (CloudFlow; `None` in FDL).
    pub constructors: Option<Box<Constructors>>,
}

/// A CloudFlow state's constructors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Constructors {
    /// Builds `$Input` from the state's raw input (`None`: the raw input).
    pub input: Option<crate::cloudflow::Constructor>,
    /// Builds the state's output (`None`: the default output of its type).
    pub output: Option<crate::cloudflow::Constructor>,
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
    /// A CloudFlow task's action, mode and expressions (`None` in FDL).
    pub api: Option<Box<ApiTask>>,
}

/// What a CloudFlow task adds to the model's task.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiTask {
    /// `Service:Api`, as written.
    pub action: crate::cloudflow::Action,
    pub mode: crate::cloudflow::TaskMode,
    /// `Parameters`, built when an attempt starts.
    pub parameters: Option<crate::cloudflow::Constructor>,
    /// A `Timeout.$` expression, evaluated when an attempt starts (a
    /// constant `Timeout` is [`Task::timeout_seconds`]).
    pub timeout: Option<crate::cloudflow::Expression>,
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
    /// Any other CloudFlow action (`HTTP:Request`, `ECS:DescribeInstances`…):
    /// answered by the simulated function, like an invocation.
    Api { action: String },
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
    /// A CloudFlow Catch's OutputConstructor: builds the input of `goto`
    /// (it may read `$Context.Current.Error`).
    pub output: Option<crate::cloudflow::Constructor>,
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
    /// A CloudFlow `Seconds.$`, evaluated when the state starts (whole
    /// seconds within the mode's limit).
    Expr(crate::cloudflow::Wait),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub choices: Vec<ChoiceBranch>,
    pub default: Option<Branch>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceBranch {
    pub condition: ChoiceCondition,
    pub branch: Branch,
}

/// A choice branch's condition, in its flow's language.
#[derive(Debug, Clone, PartialEq)]
pub enum ChoiceCondition {
    /// FDL v1: JSONPath comparisons over the step input `$`.
    Fdl(crate::fdl::condition::Condition),
    /// CloudFlow: an expression over `$Input` and `$Context`.
    Expr(crate::cloudflow::Condition),
}

impl ChoiceCondition {
    /// The condition as written.
    pub fn source(&self) -> &str {
        match self {
            ChoiceCondition::Fdl(c) => &c.source,
            ChoiceCondition::Expr(c) => c.source(),
        }
    }

    /// Whether the condition holds for a step input alone (a CloudFlow
    /// condition sees `$Input` and an otherwise empty `$Context`): for
    /// tools that look at a history after the fact. The engine evaluates
    /// with the whole context.
    pub fn holds_for(&self, input: &Value) -> bool {
        match self {
            ChoiceCondition::Fdl(c) => c.eval(input).unwrap_or(false),
            ChoiceCondition::Expr(c) => c
                .eval(&crate::cloudflow::Scope::new(input))
                .unwrap_or(false),
        }
    }

    /// An input for which the condition holds, when one can be derived
    /// (comparisons of input paths with literals).
    pub fn witness(&self) -> Option<Value> {
        match self {
            ChoiceCondition::Fdl(c) => c.witness(),
            ChoiceCondition::Expr(c) => c.witness(true),
        }
    }
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
    /// A CloudFlow Parallel's Retry and Catch (empty in FDL).
    pub handlers: Handlers,
}

/// Retry policies and catch rules of a CloudFlow Parallel or Map state
/// (FDL has them on tasks only).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handlers {
    pub retry: Vec<RetryPolicy>,
    pub catch: Vec<CatchRule>,
}

/// What a foreach (a CloudFlow Map) iterates over.
#[derive(Debug, Clone, PartialEq)]
pub enum Items {
    /// FDL's `iterationMapping.collection`, a reference into the step input.
    Path(Path),
    /// A Map's `ItemsPath`, an expression over `$Input` and `$Context`.
    Expr(crate::cloudflow::Expression),
}

impl Items {
    /// What the items select from a step input alone (a CloudFlow
    /// expression sees `$Input` and an otherwise empty `$Context`): for
    /// tools that look at a history after the fact.
    pub fn select(&self, input: &Value) -> Option<Value> {
        match self {
            Items::Path(p) => p.lookup(input),
            Items::Expr(e) => {
                let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
                e.eval(&crate::cloudflow::Scope::new(input), &mut rng).ok()
            }
        }
    }
}

impl fmt::Display for Items {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Items::Path(p) => p.fmt(f),
            Items::Expr(e) => f.write_str(&e.source),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Foreach {
    /// What to iterate over.
    pub collection: Items,
    /// Most iterations running at once.
    pub max_concurrency: usize,
    /// A Map's Retry and Catch (empty in FDL).
    pub handlers: Handlers,
    /// `iterationMapping.item`: the key the element is put under (a Map's
    /// iteration input is the element itself; empty).
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
