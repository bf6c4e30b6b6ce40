//! headless::convert: `flowsim convert`, FDL v1 flows rewritten as
//! CloudFlow state machines, and `convert --check` ([`check`]), which runs
//! both on the same inputs and handler behaviours and compares them.
//!
//! The conversion keeps FDL's data flow exactly, with constructors. An FDL
//! block merges each step's output into its `$local`; a state machine
//! pipes each state's output into the next. So the piped value *is* the
//! block's `$local`, and every state's OutputConstructor rebuilds it: the
//! keys it had (`k.$: $Input.k`) with the step's output merged over them.
//! Constructors build fixed keys, so the converter follows which keys the
//! local holds at each point (its shape); a step reached with different
//! shapes (a catch target reached from two tasks) becomes one state per
//! shape (`rejected`, `rejected-2`). What FDL reads besides the local:
//! - `$input` of the top-level block is the execution input
//!   (`$Context.Execution.Input`; the first state also has it as `$Input`);
//! - a step's input (inputMappings, or the block input merged with the
//!   local) is computed where it is used: in `Parameters` (the message,
//!   the function's body, the child flow's input), conditions, `Seconds.$`
//!   and in the OutputConstructor wherever `$input` appears;
//! - a nested block (parallel branch, foreach iteration) sees its input
//!   only in its first state (a Parallel's branches get the step input, a
//!   Map's iterations the element, or, when they read more than the item,
//!   the FDL iteration input built beforehand by a small loop of states);
//! - `$local[*].x` after a foreach is collected by the same kind of loop
//!   (CloudFlow has no wildcard and no built-in that maps over an array).
//!
//! What cannot convert is reported as `line:col: cannot convert: …`.

pub mod check;
mod expr;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use crate::fdl::{Flow, Mapping, Pos, Root, Segment, Source, Step, StepId, StepKind, Wait};
use crate::syntax::Diagnostic;
use expr::{Fields, Val, access, const_at, object};
use yaml::{Y, constant, scalar};

/// Most CloudFlow states one FDL step may become (one per shape of the
/// local it is reached with).
const MAX_SHAPES: usize = 8;

/// Inline Map concurrency limit (MAP inline-mode).
const MAP_CONCURRENCY: usize = 40;

/// A converted flow.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The CloudFlow YAML text.
    pub text: String,
    /// Approximations, each also written as a `# flowsim:` comment.
    pub warnings: Vec<Diagnostic>,
}

/// Converts a loaded FDL v1 flow; `file` is named in the header comment.
/// Every construct that cannot convert is reported, positioned.
pub fn convert(flow: &Flow, file: &str) -> Result<Converted, Vec<Diagnostic>> {
    let mut c = Conv {
        flow,
        blocks: Vec::new(),
        names: HashSet::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        branch: None,
    };
    let mut doc = Y::M(Vec::new());
    doc.comment(&format!(
        "Converted from {file} (FDL v1) by `flowsim convert`: each state rebuilds the"
    ));
    doc.comment("flow's accumulated data with constructors, as FDL merges step outputs.");
    if let Some(input) = flow.sample_input() {
        doc.comment(&format!("input: {input}"));
    }
    if let Some(t) = flow.timeout_seconds {
        let msg = format!(
            "the flow-level timeoutSeconds {t} has no CloudFlow counterpart and is left out"
        );
        doc.comment(&format!("flowsim: {msg}"));
        c.warnings
            .push(Diagnostic::new(Pos { line: 1, col: 1 }, msg));
    }
    doc.push("Type", scalar("StateMachine"));
    doc.push("Name", scalar(&flow.name));
    doc.push("SpecVersion", scalar("v1"));
    let top = c.new_block(flow.body.clone(), BlockIn::Top);
    let (start, states) = c.run_block(top);
    doc.push("StartAt", scalar(&start));
    doc.push("States", Y::L(states));
    if !c.errors.is_empty() {
        c.errors.sort_by_key(|d| d.pos);
        c.errors.dedup();
        return Err(c.errors);
    }
    Ok(Converted {
        text: yaml::render(&doc),
        warnings: c.warnings,
    })
}

/// What the FDL `$local` of a block holds where a state starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Shape {
    /// Nothing yet: the piped value is still the block's input.
    Fresh,
    /// Exactly these keys, in order; the piped value is the local.
    Keys(Vec<String>),
    /// A task's result, keys unknown; the piped value is the local.
    Dynamic,
}

/// Where a block's `$input` comes from.
#[derive(Debug, Clone)]
enum BlockIn {
    /// The execution input.
    Top,
    /// A parallel branch: the first state's input at this path, if the
    /// branches need it.
    Branch(Option<String>),
    /// A foreach iteration: the element (`zip` false: only `$input.ITEM`
    /// reads it) or the FDL iteration input (`zip`).
    Iter { zip: bool, item: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Step(usize),
    /// Step `.2` of branch `.1` (`usize::MAX`: the default) of the choice
    /// at step `.0`: FDL's nested choice steps, flattened into the scope.
    Branch(usize, usize, usize),
    End,
}

/// What the step being converted sees when it sits in a choice branch.
struct BranchCtx {
    /// The branch's first step: its `$input` is the choice's input, its
    /// `$local` empty.
    first: bool,
    /// The choice's input.
    choice_in: StepIn,
    /// Whether the choice has inputMappings (a later branch step's
    /// default input then cannot be rebuilt).
    mapped: bool,
}

struct Block {
    steps: Vec<StepId>,
    input: BlockIn,
    /// (target, shape) -> state name.
    named: HashMap<(Target, Shape), String>,
    pending: Vec<(Target, Shape)>,
    /// The local's shapes where the block ends.
    end_shapes: Vec<Shape>,
}

/// Where a state goes next.
enum Next {
    State(String),
    End,
}

/// A step's input: mapped fields, or one expression.
enum StepIn {
    Mapped(Fields),
    Whole(String),
    /// Not available here (why); an error only where it is read.
    Unavailable(String),
}

/// A step's output, to merge into the local.
enum Out {
    Keys(Fields),
    /// A task's result with no outputMappings.
    Dynamic,
}

type R<T> = Result<T, String>;

/// Resolves a `goto` (a sibling step) to a target.
type IndexOf<'c> = dyn Fn(&Conv<'c>, StepId) -> Target;

struct Conv<'f> {
    flow: &'f Flow,
    blocks: Vec<Block>,
    names: HashSet<String>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Set while a choice branch's step is converted.
    branch: Option<BranchCtx>,
}

impl Conv<'_> {
    /// The steps of a choice branch (block `b`, choice at `c`).
    fn branch_steps(&self, b: usize, c: usize, k: usize) -> &[StepId] {
        let Some(&id) = self.blocks[b].steps.get(c) else {
            return &[];
        };
        match &self.flow.step(id).kind {
            StepKind::Choice(ch) if k == usize::MAX => {
                ch.default.as_ref().map_or(&[], |d| d.steps.as_slice())
            }
            StepKind::Choice(ch) => ch.choices.get(k).map_or(&[], |x| x.branch.steps.as_slice()),
            _ => &[],
        }
    }

    /// The FDL step a target stands for.
    fn target_step(&self, b: usize, t: Target) -> Option<StepId> {
        match t {
            Target::Step(i) => self.blocks[b].steps.get(i).copied(),
            Target::Branch(c, k, p) => self.branch_steps(b, c, k).get(p).copied(),
            Target::End => None,
        }
    }

    fn new_block(&mut self, steps: Vec<StepId>, input: BlockIn) -> usize {
        self.blocks.push(Block {
            steps,
            input,
            named: HashMap::new(),
            pending: Vec::new(),
            end_shapes: Vec::new(),
        });
        self.blocks.len() - 1
    }

    fn fail(&mut self, pos: Pos, msg: impl std::fmt::Display) {
        self.errors
            .push(Diagnostic::new(pos, format!("cannot convert: {msg}")));
    }

    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// Converts block `b`: its start state's name and its states.
    fn run_block(&mut self, b: usize) -> (String, Vec<Y>) {
        let first = if self.blocks[b].steps.is_empty() {
            Target::End
        } else {
            Target::Step(0)
        };
        let start = match self.next(b, first, Shape::Fresh, true) {
            Next::State(n) => n,
            Next::End => String::new(),
        };
        // States in the order of the FDL steps (a step's other shapes
        // right after it), the end last.
        let mut states: Vec<(usize, usize, Vec<Y>)> = Vec::new();
        let mut done = 0;
        while let Some((t, shape)) = self.blocks[b].pending.get(done).cloned() {
            done += 1;
            let name = self.blocks[b].named[&(t, shape.clone())].clone();
            match t {
                Target::Step(i) | Target::Branch(i, _, _) => {
                    let Some(id) = self.target_step(b, t) else {
                        continue;
                    };
                    let step = self.flow.step(id);
                    let result = self.step_states(b, t, step, shape, &name);
                    self.branch = None;
                    match result {
                        Ok(s) => states.push((i, done, s)),
                        Err(msg) => {
                            let pos = step.pos;
                            self.fail(pos, format!("step `{}`: {msg}", step.name));
                            // Go on with the next step, to report every
                            // problem at once.
                            if let Target::Step(i) = t
                                && i + 1 < self.blocks[b].steps.len()
                            {
                                self.next(
                                    b,
                                    Target::Step(i + 1),
                                    shape_of(&t, &self.blocks[b].named, &name),
                                    false,
                                );
                            }
                        }
                    }
                }
                Target::End => {
                    states.push((usize::MAX, done, vec![self.end_state(b, shape, &name)]))
                }
            }
        }
        states.sort_by_key(|s| (s.0, s.1));
        (start, states.into_iter().flat_map(|s| s.2).collect())
    }

    /// Where to go to reach `t` with `shape`: a state (named now, built
    /// later) or the end of the block.
    fn next(&mut self, b: usize, t: Target, shape: Shape, need_state: bool) -> Next {
        let top_output =
            matches!(self.blocks[b].input, BlockIn::Top) && !self.flow.output_mappings.is_empty();
        if t == Target::End && shape != Shape::Fresh && !need_state && !top_output {
            self.blocks[b].end_shapes.push(shape);
            return Next::End;
        }
        if let Some(n) = self.blocks[b].named.get(&(t, shape.clone())) {
            return Next::State(n.clone());
        }
        let base = match t {
            Target::Step(_) | Target::Branch(..) => self
                .target_step(b, t)
                .map(|id| self.flow.step(id).name.clone())
                .unwrap_or_default(),
            Target::End if top_output => "flow-output".to_owned(),
            Target::End => "end".to_owned(),
        };
        let count = self.blocks[b].named.keys().filter(|(x, _)| *x == t).count();
        if count >= MAX_SHAPES {
            self.fail(
                Pos::default(),
                format!("`{base}` is reached with more than {MAX_SHAPES} different sets of keys in its data"),
            );
        }
        let name = self.unique(&base);
        self.blocks[b]
            .named
            .insert((t, shape.clone()), name.clone());
        self.blocks[b].pending.push((t, shape));
        Next::State(name)
    }

    /// The state that ends block `b` (the flow's outputMappings, or what
    /// turns a still fresh block's data into its empty local).
    fn end_state(&mut self, b: usize, shape: Shape, name: &str) -> Y {
        let mut s = state("Pass", name);
        let top = matches!(self.blocks[b].input, BlockIn::Top);
        if top && !self.flow.output_mappings.is_empty() {
            let mut fields = Fields::new();
            for m in &self.flow.output_mappings.clone() {
                let v = self.source(
                    m,
                    &|segs| self.in_ref(b, &shape, segs),
                    &|segs| local_ref(&shape, "$Input", segs),
                    "",
                    false,
                );
                match v {
                    Ok(v) => fields.push((m.target.clone(), v)),
                    Err(e) => self.fail(m.pos, format!("flow outputMappings: {e}")),
                }
            }
            self.blocks[b]
                .end_shapes
                .push(Shape::Keys(fields.iter().map(|f| f.0.clone()).collect()));
            s.push("OutputConstructor", fields_y(&fields));
        } else if shape == Shape::Fresh {
            self.blocks[b].end_shapes.push(Shape::Keys(Vec::new()));
            s.push("OutputConstructor", Y::M(Vec::new()));
        } else {
            self.blocks[b].end_shapes.push(shape);
        }
        s.push("End", Y::S("true".into()));
        s
    }

    /// The block's whole `$input` where a state of shape `shape` starts.
    fn block_in(&self, b: usize, shape: &Shape) -> R<String> {
        match &self.blocks[b].input {
            BlockIn::Top if !self.flow.input_mappings.is_empty() => {
                Ok(object(&self.flow_input()?))
            }
            BlockIn::Top if *shape == Shape::Fresh => Ok("$Input".into()),
            BlockIn::Top => Ok("$Context.Execution.Input".into()),
            BlockIn::Branch(Some(p)) if *shape == Shape::Fresh => Ok(p.clone()),
            BlockIn::Iter { zip: true, .. } if *shape == Shape::Fresh => Ok("$Input".into()),
            BlockIn::Iter { zip: false, item } if *shape == Shape::Fresh => Err(format!(
                "reads the whole iteration input; only `$input.{item}` converts here"
            )),
            _ => Err("reads its block's input after the block's first step (a nested CloudFlow state sees only the previous state's output)".into()),
        }
    }

    /// `$input` + `segs` of block `b`.
    fn in_ref(&self, b: usize, shape: &Shape, segs: &[Segment]) -> R<String> {
        match &self.blocks[b].input {
            BlockIn::Top if !self.flow.input_mappings.is_empty() => {
                let fields = self.flow_input()?;
                lookup_fields(&fields, segs)
            }
            BlockIn::Iter { zip: false, item } if *shape == Shape::Fresh => {
                match segs.split_first() {
                    Some((Segment::Key(k), rest)) if k == item => access("$Input", rest),
                    _ => Err(format!("reads the iteration input beyond `$input.{item}`")),
                }
            }
            _ => access(&self.block_in(b, shape)?, segs),
        }
    }

    /// The flow's inputMappings over the execution input.
    fn flow_input(&self) -> R<Fields> {
        let mut fields = Fields::new();
        for m in &self.flow.input_mappings {
            let v = self.source(
                m,
                &|segs| access("$Context.Execution.Input", segs),
                &|_| Ok("null".into()),
                "",
                false,
            )?;
            fields.push((m.target.clone(), v));
        }
        Ok(fields)
    }

    /// A mapping's source as a value: `$input` and `$local` by the
    /// caller's rules.
    fn source(
        &self,
        m: &Mapping,
        input: &dyn Fn(&[Segment]) -> R<String>,
        local: &dyn Fn(&[Segment]) -> R<String>,
        step: &str,
        token: bool,
    ) -> R<Val> {
        match &m.source {
            Source::Const(v) => Ok(Val::Const(v.clone())),
            Source::Path(p) => self.path(p, input, local, step, token),
        }
    }

    fn path(
        &self,
        p: &crate::fdl::Path,
        input: &dyn Fn(&[Segment]) -> R<String>,
        local: &dyn Fn(&[Segment]) -> R<String>,
        step: &str,
        token: bool,
    ) -> R<Val> {
        let e = match p.root {
            Root::Input | Root::Dollar => input(&p.segments),
            Root::Local => local(&p.segments),
            Root::Context => return expr::context(&p.segments, &self.flow.name, step, token),
        }
        .map_err(|e| format!("`{p}`: {e}"))?;
        Ok(Val::Expr(e))
    }

    /// The input of `step` (block `b`, shape `shape`).
    fn step_in(&self, b: usize, shape: &Shape, step: &Step, token: bool) -> R<StepIn> {
        if let Some(ctx) = &self.branch {
            const LATER: &str = "reads the choice branch's `$input` or `$local` after the branch's first step (the flattened branch keeps only the flow's data)";
            return match &step.input_mappings {
                Some(ms) => {
                    let mut fields = Fields::new();
                    for m in ms {
                        let v = self.source(
                            m,
                            &|segs| match ctx.first {
                                true => s_ref(&ctx.choice_in, segs),
                                false => Err(LATER.into()),
                            },
                            &|segs| match ctx.first {
                                true => local_ref(&Shape::Fresh, "$Input", segs),
                                false => Err(LATER.into()),
                            },
                            &step.name,
                            token,
                        )?;
                        fields.push((m.target.clone(), v));
                    }
                    Ok(StepIn::Mapped(fields))
                }
                None if ctx.first => Ok(StepIn::Whole(whole(&ctx.choice_in)?)),
                None if ctx.mapped => Err("takes the default input after a choice branch's first step, and the choice has inputMappings".into()),
                None => Ok(self.default_in(b, shape)),
            };
        }
        match &step.input_mappings {
            Some(ms) => {
                let mut fields = Fields::new();
                for m in ms {
                    let v = self.source(
                        m,
                        &|segs| self.in_ref(b, shape, segs),
                        &|segs| local_ref(shape, "$Input", segs),
                        &step.name,
                        token,
                    )?;
                    fields.push((m.target.clone(), v));
                }
                Ok(StepIn::Mapped(fields))
            }
            None => Ok(self.default_in(b, shape)),
        }
    }

    /// A step's default input: the block input merged with the local.
    fn default_in(&self, b: usize, shape: &Shape) -> StepIn {
        match self.block_in(b, shape) {
            Ok(i) if *shape == Shape::Fresh => StepIn::Whole(i),
            Ok(i) => StepIn::Whole(format!("jsonMerge({i}, $Input)")),
            Err(why) => StepIn::Unavailable(why),
        }
    }

    /// The states of step `i` of block `b` reached with `shape`.
    fn step_states(
        &mut self,
        b: usize,
        t: Target,
        step: &Step,
        shape: Shape,
        name: &str,
    ) -> R<Vec<Y>> {
        let len = self.blocks[b].steps.len();
        // Where the block goes after step `i` (of the block's own list).
        let after_step = move |c: &Self, i: usize| -> Target {
            let s = c.flow.step(c.blocks[b].steps[i]);
            if s.end || i + 1 >= len {
                Target::End
            } else {
                Target::Step(i + 1)
            }
        };
        let in_block = move |c: &Self, id: StepId| -> Target {
            c.blocks[b]
                .steps
                .iter()
                .position(|&s| s == id)
                .map_or(Target::End, Target::Step)
        };
        let (after, index_of): (Target, Box<IndexOf<'_>>) = match t {
            Target::Branch(c, k, p) => {
                let list = self.branch_steps(b, c, k).to_vec();
                let choice = self.flow.step(self.blocks[b].steps[c]);
                let goto = match &choice.kind {
                    StepKind::Choice(ch) if k == usize::MAX => {
                        ch.default.as_ref().and_then(|d| d.goto)
                    }
                    StepKind::Choice(ch) => ch.choices.get(k).and_then(|x| x.branch.goto),
                    _ => None,
                };
                let exit = goto.map_or(after_step(self, c), |g| in_block(self, g));
                let after = if step.end || p + 1 >= list.len() {
                    exit
                } else {
                    Target::Branch(c, k, p + 1)
                };
                let choice_in = self.step_in(b, &shape, choice, false);
                self.branch = Some(BranchCtx {
                    first: p == 0,
                    choice_in: choice_in.unwrap_or_else(StepIn::Unavailable),
                    mapped: choice.input_mappings.is_some(),
                });
                let of = move |_: &Self, id: StepId| {
                    list.iter()
                        .position(|&s| s == id)
                        .map_or(Target::End, |q| Target::Branch(c, k, q))
                };
                (after, Box::new(of))
            }
            Target::Step(i) => (after_step(self, i), Box::new(in_block)),
            Target::End => return Err("internal: the end is not a step".into()),
        };
        match &step.kind {
            StepKind::Pass | StepKind::Wait(_) => {
                let s_in = self.step_in(b, &shape, step, false);
                let fields = match &step.output_mappings {
                    None => Fields::new(),
                    Some(ms) => {
                        let s_in = s_in.as_ref().map_err(Clone::clone)?;
                        self.out_fields(ms, s_in, &|_| Ok("null".into()), &step.name)?
                    }
                };
                let is_wait = matches!(step.kind, StepKind::Wait(_));
                let mut s = state(if is_wait { "Wait" } else { "Pass" }, name);
                if let StepKind::Wait(w) = &step.kind {
                    match w {
                        Wait::DurationSeconds(d)
                            if d.fract() == 0.0 && (1.0..=300.0).contains(d) =>
                        {
                            s.push("Seconds", Y::S((*d as u64).to_string()))
                        }
                        Wait::DurationSeconds(d) => {
                            return Err(format!(
                                "a wait of {d} s (CloudFlow waits 1 to 300 whole seconds)"
                            ));
                        }
                        Wait::DurationPath(p) => {
                            let s_in = s_in.as_ref().map_err(Clone::clone)?;
                            let msg = "FDL waits any non-negative number of seconds; CloudFlow 1 to 300 whole seconds";
                            s.comment(&format!("flowsim: {msg}"));
                            self.warnings.push(Diagnostic::new(
                                step.pos,
                                format!("step `{}`: {msg}", step.name),
                            ));
                            s.push("Seconds.$", scalar(&s_ref(s_in, &p.segments)?));
                        }
                        Wait::TimestampMillis(_) | Wait::TimestampPath(_) => {
                            return Err("a wait `timestamp` (CloudFlow's Wait has only Seconds; UntilDateTime left the spec in 2024)".into());
                        }
                        Wait::Expr(_) => return Err("a CloudFlow wait in an FDL flow".into()),
                    }
                }
                // Nothing to add: the local passes through as it is.
                let shape = if fields.is_empty() && shape != Shape::Fresh {
                    shape
                } else {
                    let (ctor, shape) = merge_out(&shape, "$Input", Out::Keys(fields))?;
                    if let Some(ctor) = ctor {
                        s.push("OutputConstructor", ctor);
                    }
                    shape
                };
                let n = self.next(b, after, shape, false);
                Ok(vec![with_next(s, n)])
            }
            StepKind::Succeed => {
                if self.branch.is_some() {
                    return Err("a succeed inside a choice branch (FDL then outputs the flow's data from before the choice)".into());
                }
                if !matches!(self.blocks[b].input, BlockIn::Top) {
                    return Err("a succeed inside a parallel branch or foreach ends the whole FDL flow; a CloudFlow Succeed ends only its branch".into());
                }
                let s_in = self.step_in(b, &shape, step, false);
                let fields = match &step.output_mappings {
                    None => Fields::new(),
                    Some(ms) => {
                        let s_in = s_in.as_ref().map_err(Clone::clone)?;
                        self.out_fields(ms, s_in, &|_| Ok("null".into()), &step.name)?
                    }
                };
                let plain = fields.is_empty() && shape != Shape::Fresh;
                let (ctor, shape) = if plain {
                    (None, shape)
                } else {
                    merge_out(&shape, "$Input", Out::Keys(fields))?
                };
                let n = self.next(b, Target::End, shape, false);
                match (plain, n) {
                    (true, Next::End) => Ok(vec![state("Succeed", name)]),
                    (_, n) => {
                        let mut s = state("Pass", name);
                        if let Some(c) = ctor {
                            s.push("OutputConstructor", c);
                        }
                        Ok(vec![with_next(s, n)])
                    }
                }
            }
            StepKind::Fail(f) => {
                let mut s = state("Fail", name);
                s.push("Code", scalar(&f.error));
                s.push("Detail", scalar(&f.cause));
                Ok(vec![s])
            }
            StepKind::Choice(ch) => {
                let s_in = self.step_in(b, &shape, step, false)?;
                if step.output_mappings.as_ref().is_some_and(|m| !m.is_empty()) {
                    return Err("a choice with outputMappings (CloudFlow's Choice has no OutputConstructor)".into());
                }
                let mut s = state("Choice", name);
                let mut branches = Vec::new();
                let here = match t {
                    Target::Step(i) => Some(i),
                    _ => None,
                };
                let into = |k: usize, steps: &[StepId]| -> R<Option<Target>> {
                    match (steps.is_empty(), here) {
                        (true, _) => Ok(None),
                        (false, Some(i)) => Ok(Some(Target::Branch(i, k, 0))),
                        (false, None) => {
                            Err("a choice whose branches hold steps, inside a choice branch"
                                .to_owned())
                        }
                    }
                };
                for (k, br) in ch.choices.iter().enumerate() {
                    let cond = match &br.condition {
                        crate::fdl::ChoiceCondition::Fdl(c) => {
                            expr::condition(&c.source, &|segs| s_ref(&s_in, segs))?
                        }
                        crate::fdl::ChoiceCondition::Expr(_) => {
                            return Err("a CloudFlow condition in an FDL flow".into());
                        }
                    };
                    let t = match into(k, &br.branch.steps)? {
                        Some(t) => t,
                        None => br.branch.goto.map_or(after, |g| index_of(self, g)),
                    };
                    let Next::State(n) = self.next(b, t, shape.clone(), true) else {
                        return Err("internal: a choice branch needs a state".into());
                    };
                    let mut m = Y::M(Vec::new());
                    m.push("Condition", scalar(&cond));
                    m.push("Next", scalar(&n));
                    branches.push(m);
                }
                let default = match &ch.default {
                    Some(d) => match into(usize::MAX, &d.steps)? {
                        Some(t) => t,
                        None => d.goto.map_or(after, |g| index_of(self, g)),
                    },
                    None => after,
                };
                let Next::State(dn) = self.next(b, default, shape, true) else {
                    return Err("internal: a choice default needs a state".into());
                };
                s.push("Branches", Y::L(branches));
                s.push("Default", scalar(&dn));
                Ok(vec![s])
            }
            StepKind::Task(task) => self.task_states(b, step, task, shape, name, after, &*index_of),
            StepKind::Parallel(p) => self.parallel_states(b, step, &p.branches, shape, name, after),
            StepKind::Foreach(f) => self.foreach_states(b, step, f, shape, name, after),
        }
    }

    /// outputMappings over the step input and the step's `$local`.
    fn out_fields(
        &self,
        ms: &[Mapping],
        s_in: &StepIn,
        local: &dyn Fn(&[Segment]) -> R<String>,
        step: &str,
    ) -> R<Fields> {
        let mut fields = Fields::new();
        for m in ms {
            let v = self.source(m, &|segs| s_ref(s_in, segs), local, step, false)?;
            fields.push((m.target.clone(), v));
        }
        Ok(fields)
    }
}

mod fanout;
mod task;

/// The shape a named state was reached with.
fn shape_of(t: &Target, named: &HashMap<(Target, Shape), String>, name: &str) -> Shape {
    named
        .iter()
        .find(|((x, _), n)| x == t && n.as_str() == name)
        .map_or(Shape::Fresh, |((_, s), _)| s.clone())
}

/// `$local` + `segs` where the local has `shape` and lives at `base`.
fn local_ref(shape: &Shape, base: &str, segs: &[Segment]) -> R<String> {
    match shape {
        Shape::Fresh if segs.is_empty() => Ok("{}".into()),
        Shape::Fresh => Ok("null".into()),
        _ => access(base, segs),
    }
}

/// A caught error's `$local`: `{"error", "cause"}`.
fn error_local(segs: &[Segment]) -> R<String> {
    match segs.split_first() {
        None => Ok(
            "{\"error\": $Context.Current.Error.Code, \"cause\": $Context.Current.Error.Detail}"
                .into(),
        ),
        Some((Segment::Key(k), rest)) if k == "error" => {
            access("$Context.Current.Error.Code", rest)
        }
        Some((Segment::Key(k), rest)) if k == "cause" => {
            access("$Context.Current.Error.Detail", rest)
        }
        Some(_) => Ok("null".into()),
    }
}

/// A lookup in mapped fields (a step's or the flow's input).
fn lookup_fields(fields: &Fields, segs: &[Segment]) -> R<String> {
    match segs.split_first() {
        None => Ok(object(fields)),
        Some((Segment::Key(k), rest)) => match fields.iter().find(|f| f.0 == *k) {
            Some((_, Val::Const(v))) => Ok(const_at(v, rest).to_string()),
            Some((_, Val::Expr(e))) => access(e, rest),
            None => Ok("null".into()),
        },
        Some(_) => Ok("null".into()),
    }
}

/// The step input as one expression.
fn whole(s: &StepIn) -> R<String> {
    match s {
        StepIn::Mapped(fields) => Ok(object(fields)),
        StepIn::Whole(e) => Ok(e.clone()),
        StepIn::Unavailable(why) => Err(why.clone()),
    }
}

/// The step input + `segs`.
fn s_ref(s: &StepIn, segs: &[Segment]) -> R<String> {
    match s {
        StepIn::Mapped(fields) => lookup_fields(fields, segs),
        StepIn::Whole(e) => access(e, segs),
        StepIn::Unavailable(why) => Err(why.clone()),
    }
}

/// The step input as parameter `key`.
fn push_step_in(params: &mut Y, key: &str, s: &StepIn) -> R<()> {
    match s {
        StepIn::Mapped(fields) => params.push(key, fields_y(fields)),
        StepIn::Whole(e) => params.push(format!("{key}.$"), scalar(e)),
        StepIn::Unavailable(why) => return Err(why.clone()),
    }
    Ok(())
}

/// A constructor mapping.
fn fields_y(fields: &Fields) -> Y {
    let mut m = Y::M(Vec::new());
    for (k, v) in fields {
        match v {
            Val::Const(c) => m.push(k.clone(), constant(c)),
            Val::Expr(e) => m.push(format!("{k}.$"), scalar(e)),
        }
    }
    m
}

/// The constructor that merges `out` into the local of shape `shape`
/// (living at `base`), and the local's shape after. `None`: no
/// constructor (the state's own output is the local).
fn merge_out(shape: &Shape, base: &str, out: Out) -> R<(Option<Y>, Shape)> {
    match (shape, out) {
        (Shape::Fresh, Out::Keys(f)) => Ok((
            Some(fields_y(&f)),
            Shape::Keys(keys_of(&f)),
        )),
        (Shape::Keys(ks), Out::Keys(f)) => {
            let mut fields = Fields::new();
            for k in ks {
                match f.iter().find(|x| x.0 == *k) {
                    Some(x) => fields.push(x.clone()),
                    None => fields.push((k.clone(), Val::Expr(access(base, &[Segment::Key(k.clone())])?))),
                }
            }
            for x in &f {
                if !ks.contains(&x.0) {
                    fields.push(x.clone());
                }
            }
            let keys = keys_of(&fields);
            Ok((Some(fields_y(&fields)), Shape::Keys(keys)))
        }
        (Shape::Dynamic, Out::Keys(_)) => Err("adds keys to data whose keys are known only at run time (a task's result without outputMappings); CloudFlow constructors build fixed keys: give that task outputMappings".into()),
        (Shape::Fresh, Out::Dynamic) => Ok((None, Shape::Dynamic)),
        (Shape::Keys(ks), Out::Dynamic) if ks.is_empty() && base == "$Input" => Ok((None, Shape::Dynamic)),
        (_, Out::Dynamic) => Err("merges a task's result (no outputMappings: its keys are known only at run time) into data that has keys already; CloudFlow constructors build fixed keys: give the task outputMappings".into()),
    }
}

fn keys_of(f: &Fields) -> Vec<String> {
    f.iter().map(|x| x.0.clone()).collect()
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

fn state(kind: &str, name: &str) -> Y {
    let mut s = Y::M(Vec::new());
    s.push("Type", scalar(kind));
    s.push("Name", scalar(name));
    s
}

fn with_next(mut s: Y, n: Next) -> Y {
    match n {
        Next::State(n) => s.push("Next", scalar(&n)),
        Next::End => s.push("End", Y::S("true".into())),
    }
    s
}

/// Whether a step (or the steps nested in it) reads `$input` beyond
/// `$input.ITEM`, or takes the default input (which is the block input).
fn reads_block_input(steps: &[Step], item: Option<&str>) -> bool {
    steps.iter().any(|s| match &s.input_mappings {
        None => !matches!(s.kind, StepKind::Fail(_)),
        Some(ms) => ms.iter().any(|m| match &m.source {
            Source::Path(p) if p.root == Root::Input => match (item, p.segments.first()) {
                (Some(i), Some(Segment::Key(k))) => k != i,
                _ => true,
            },
            _ => false,
        }),
    })
}
