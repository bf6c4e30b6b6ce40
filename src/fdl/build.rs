//! Validation: a positioned YAML tree in, a typed [`Flow`] or every problem out.
//!
//! One pass over the tree that builds the model and collects diagnostics as
//! it goes, so a file with ten mistakes reports ten lines, not one. Nothing
//! here stops at the first error: unknown types still get their names and
//! nested steps checked. `goto` targets are resolved once the list that
//! holds the jumping step is complete (targets may come later in it).

use std::collections::HashMap;

use super::Diagnostic;
use super::condition::Condition;
use super::model::*;
use super::yaml::{self, Data, Entry, Node};
use super::{FOREACH_CONCURRENCY, MAX_WAIT_SECONDS};

mod task;

/// The eight FDL step types.
const TYPES: [&str; 8] = [
    "task", "pass", "wait", "choice", "parallel", "foreach", "succeed", "fail",
];
const COMMON: [&str; 5] = ["type", "name", "end", "inputMappings", "outputMappings"];
const PATTERNS: [&str; 3] = ["requestResponse", "sync", "waitForCallback"];
const ARN_FORMS: &str = "acs:fc:{region}:{account}:services/{service}/functions/{function}, \
     acs:mns:::/topics/{topic}/messages, acs:mns:::/queues/{queue}/messages or acs:fnf:::flow/{flow}";

/// A flow's own `inputMappings`: it has no parent, so no `$local`.
const INPUT_ROOTS: &[Root] = &[Root::Input, Root::Context];
/// A step's `inputMappings` "map the input and local variables of a parent
/// step to the input of a child step" (help.aliyun.com document 122493):
/// `$local` there is the enclosing block's local (the flow's, a branch's
/// or an iteration's).
const STEP_INPUT_ROOTS: &[Root] = &[Root::Input, Root::Local, Root::Context];
const OUTPUT_ROOTS: &[Root] = &[Root::Input, Root::Local, Root::Context];

pub fn build(name: &str, source: &str) -> Result<Flow, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let doc = match yaml::parse(source, &mut diags) {
        Ok(Some(doc)) => doc,
        Ok(None) => {
            diags.push(Diagnostic::new(
                Pos { line: 1, col: 1 },
                "the flow is empty; a flow needs `version: v1`, `type: flow` and `steps`",
            ));
            return Err(finish(diags));
        }
        Err(d) => {
            diags.push(d);
            return Err(finish(diags));
        }
    };
    let mut b = Builder {
        diags,
        steps: Vec::new(),
        names: HashMap::new(),
        fixups: Vec::new(),
        lists: 0,
    };
    let flow = b.flow(name, source, &doc);
    if b.diags.is_empty() {
        flow.ok_or_else(Vec::new)
    } else {
        Err(finish(b.diags))
    }
}

fn finish(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort();
    diags.dedup();
    diags
}

/// The closest of `candidates` to a misspelt `word`, if any is close.
fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(crate) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None => format!(" (expected one of: {})", candidates.join(", ")),
    }
}

/// Where a resolved `goto` lands in the model.
enum Slot {
    Catch(usize),
    Choice(usize),
    Default,
}

struct Fixup {
    step: StepId,
    slot: Slot,
    target: String,
    pos: Pos,
    list: usize,
}

struct Builder {
    diags: Vec<Diagnostic>,
    steps: Vec<Step>,
    names: HashMap<String, Pos>,
    fixups: Vec<Fixup>,
    lists: usize,
}

/// The fields of one mapping, after the unknown ones were reported.
struct Fields<'n> {
    entries: &'n [Entry],
    pos: Pos,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }
}

impl Builder {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(pos, message));
    }

    /// Checks that `node` is a mapping and reports the keys not in `allowed`
    /// (`None`: any key, when the step type is unknown).
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: Option<&[&str]>,
    ) -> Option<Fields<'n>> {
        let Some(entries) = node.as_map() else {
            self.err(
                node.pos,
                format!("{what} must be a mapping, found {}", node.kind()),
            );
            return None;
        };
        if let Some(allowed) = allowed {
            for e in entries {
                if !allowed.contains(&e.key.as_str()) {
                    let hint = did_you_mean(&e.key, allowed);
                    self.err(
                        e.key_pos,
                        format!("unknown field \"{}\" in {what}{hint}", e.key),
                    );
                }
            }
        }
        Some(Fields {
            entries,
            pos: node.pos,
        })
    }

    fn required<'n>(&mut self, f: &Fields<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let n = f.get(key);
        if n.is_none() {
            self.err(f.pos, format!("{what} is missing `{key}`"));
        }
        n
    }

    fn string<'n>(&mut self, node: &'n Node, field: &str) -> Option<&'n str> {
        match node.as_str() {
            Some("") => {
                self.err(node.pos, format!("`{field}` must not be empty"));
                None
            }
            Some(s) => Some(s),
            None => {
                self.err(
                    node.pos,
                    format!("`{field}` must be a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    fn uint(&mut self, node: &Node, field: &str, min: i64, max: i64) -> Option<u64> {
        match node.data {
            Data::Int(i) if (min..=max).contains(&i) => u64::try_from(i).ok(),
            Data::Int(i) => {
                self.err(
                    node.pos,
                    format!("`{field}` must be between {min} and {max}, found {i}"),
                );
                None
            }
            _ => {
                self.err(
                    node.pos,
                    format!("`{field}` must be a whole number, found {}", node.kind()),
                );
                None
            }
        }
    }

    fn bool(&mut self, node: &Node, field: &str) -> bool {
        match node.data {
            Data::Bool(b) => b,
            _ => {
                self.err(
                    node.pos,
                    format!("`{field}` must be true or false, found {}", node.kind()),
                );
                false
            }
        }
    }

    fn string_list(&mut self, node: &Node, field: &str) -> Vec<String> {
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!("`{field}` must be a list of names, found {}", node.kind()),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.err(node.pos, format!("`{field}` must name at least one error"));
        }
        items
            .iter()
            .filter_map(|n| self.string(n, field).map(str::to_owned))
            .collect()
    }

    fn path(&mut self, node: &Node, text: &str, roots: &[Root], field: &str) -> Option<Path> {
        match Path::parse(text, roots) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(
                    node.pos_at(e.offset),
                    format!("bad path `{text}` in `{field}`: {}", e.message),
                );
                None
            }
        }
    }

    fn flow(&mut self, name: &str, source: &str, doc: &Node) -> Option<Flow> {
        if doc.as_map().is_none() {
            self.err(
                doc.pos,
                format!(
                    "a flow is a YAML mapping with `version`, `type` and `steps`, found {}",
                    doc.kind()
                ),
            );
            return None;
        }
        let f = self.fields(
            doc,
            "the flow",
            Some(&[
                "version",
                "type",
                "timeoutSeconds",
                "inputMappings",
                "outputMappings",
                "steps",
            ]),
        )?;
        let version = match self.required(&f, "version", "the flow") {
            Some(n) => match n.as_str() {
                Some("v1" | "v1beta1") => "v1".to_owned(),
                _ => {
                    let found = match &n.data {
                        Data::Str(s) => format!("\"{s}\""),
                        _ => n.kind().to_owned(),
                    };
                    self.err(
                        n.pos,
                        format!("unsupported version {found}; flowsim reads FDL v1 (or v1beta1)"),
                    );
                    String::new()
                }
            },
            None => String::new(),
        };
        if let Some(n) = self.required(&f, "type", "the flow")
            && n.as_str() != Some("flow")
        {
            self.err(n.pos, "the document's `type` must be `flow`");
        }
        let timeout_seconds = f
            .get("timeoutSeconds")
            .and_then(|n| self.uint(n, "timeoutSeconds", 1, i64::from(u32::MAX)));
        let input_mappings = f
            .get("inputMappings")
            .map(|n| self.mappings(n, INPUT_ROOTS, "inputMappings"))
            .unwrap_or_default();
        let output_mappings = f
            .get("outputMappings")
            .map(|n| self.mappings(n, OUTPUT_ROOTS, "outputMappings"))
            .unwrap_or_default();
        let body = match self.required(&f, "steps", "the flow") {
            Some(n) => self.step_list(n, None, "the flow"),
            None => Vec::new(),
        };
        Some(Flow {
            name: name.to_owned(),
            version,
            definition: source.to_owned(),
            timeout_seconds,
            input_mappings,
            output_mappings,
            body,
            steps: std::mem::take(&mut self.steps),
            lang: Lang::Fdl,
        })
    }

    fn mappings(&mut self, node: &Node, roots: &[Root], field: &str) -> Vec<Mapping> {
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!(
                    "`{field}` must be a list of {{target, source}}, found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(f) = self.fields(item, "a mapping", Some(&["target", "source"])) else {
                continue;
            };
            let target = self
                .required(&f, "target", "the mapping")
                .and_then(|n| self.string(n, "target"))
                .map(str::to_owned);
            let source = match self.required(&f, "source", "the mapping") {
                Some(n) => self.source(n, roots, field),
                None => None,
            };
            if let (Some(target), Some(source)) = (target, source) {
                out.push(Mapping {
                    target,
                    source,
                    pos: item.pos,
                });
            }
        }
        out
    }

    fn source(&mut self, node: &Node, roots: &[Root], field: &str) -> Option<Source> {
        if let Some(s) = node.as_str()
            && Path::is_reference(s)
        {
            return self.path(node, s, roots, field).map(Source::Path);
        }
        match node.to_json() {
            Ok(v) => Some(Source::Const(v)),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    fn step_list(&mut self, node: &Node, parent: Option<StepId>, owner: &str) -> Vec<StepId> {
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!("`steps` must be a list of steps, found {}", node.kind()),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.err(
                node.pos,
                format!("`steps` of {owner} is empty; add at least one step"),
            );
        }
        let list = self.lists;
        self.lists += 1;
        let ids: Vec<StepId> = items
            .iter()
            .filter_map(|item| self.step(item, parent, list))
            .collect();
        self.resolve(list, &ids);
        ids
    }

    /// Points the `goto`s made from steps of list `list` at their siblings.
    fn resolve(&mut self, list: usize, siblings: &[StepId]) {
        let (mine, rest): (Vec<Fixup>, Vec<Fixup>) = std::mem::take(&mut self.fixups)
            .into_iter()
            .partition(|f| f.list == list);
        self.fixups = rest;
        for fx in mine {
            let found = siblings
                .iter()
                .copied()
                .find(|&s| self.steps[s.index()].name == fx.target);
            let Some(target) = found else {
                let from = self.steps[fx.step.index()].name.clone();
                let msg = if self.names.contains_key(&fx.target) {
                    format!(
                        "goto \"{}\" from \"{from}\": the target is not a sibling; goto can only jump to a step of the same `steps` list",
                        fx.target
                    )
                } else {
                    let names: Vec<&str> = siblings
                        .iter()
                        .map(|s| self.steps[s.index()].name.as_str())
                        .collect();
                    let hint = suggest(&fx.target, &names)
                        .map(|s| format!("; did you mean \"{s}\"?"))
                        .unwrap_or_default();
                    format!("goto \"{}\": no step has that name{hint}", fx.target)
                };
                self.err(fx.pos, msg);
                continue;
            };
            match (&mut self.steps[fx.step.index()].kind, fx.slot) {
                (StepKind::Task(t), Slot::Catch(i)) => {
                    if let Some(c) = t.catch.get_mut(i) {
                        c.goto = target;
                    }
                }
                (StepKind::Choice(c), Slot::Choice(i)) => {
                    if let Some(b) = c.choices.get_mut(i) {
                        b.branch.goto = Some(target);
                    }
                }
                (StepKind::Choice(c), Slot::Default) => {
                    if let Some(d) = c.default.as_mut() {
                        d.goto = Some(target);
                    }
                }
                _ => {}
            }
        }
    }

    fn step(&mut self, node: &Node, parent: Option<StepId>, list: usize) -> Option<StepId> {
        let Some(entries) = node.as_map() else {
            self.err(
                node.pos,
                format!(
                    "a step must be a mapping with `type` and `name`, found {}",
                    node.kind()
                ),
            );
            return None;
        };
        let get = |k: &str| entries.iter().find(|e| e.key == k).map(|e| &e.value);
        let ty = match get("type") {
            None => {
                self.err(
                    node.pos,
                    format!("step is missing `type` (one of: {})", TYPES.join(", ")),
                );
                None
            }
            Some(n) => match n.as_str() {
                Some(t) if TYPES.contains(&t) => Some(t),
                Some(t) => {
                    let hint = did_you_mean(t, &TYPES);
                    self.err(n.pos, format!("unknown step type \"{t}\"{hint}"));
                    None
                }
                None => {
                    self.err(
                        n.pos,
                        format!("`type` must be a string, found {}", n.kind()),
                    );
                    None
                }
            },
        };
        let name = match get("name") {
            None => {
                self.err(node.pos, "step is missing `name`");
                None
            }
            Some(n) => self.string(n, "name").map(str::to_owned),
        };
        if let Some(name) = &name {
            if let Some(first) = self.names.get(name) {
                let first = *first;
                let at = get("name").map_or(node.pos, |n| n.pos);
                self.err(
                    at,
                    format!(
                        "duplicate step name \"{name}\" (first used at line {}, column {}); names are unique within a flow",
                        first.line, first.col
                    ),
                );
            } else {
                self.names
                    .insert(name.clone(), get("name").map_or(node.pos, |n| n.pos));
            }
        }
        if self.steps.len() == MAX_STEPS {
            self.err(
                node.pos,
                format!("a flow holds at most {MAX_STEPS} steps; this is one more"),
            );
        }
        let id = StepId(u16::try_from(self.steps.len()).unwrap_or(u16::MAX));
        let label = name.clone().unwrap_or_else(|| "<unnamed>".into());
        self.steps.push(Step {
            id,
            name: label.clone(),
            pos: node.pos,
            parent,
            end: false,
            input_mappings: None,
            output_mappings: None,
            kind: StepKind::Pass,
            next: None,
            constructors: None,
        });
        let extra: &[&str] = match ty {
            Some("task") => &[
                "resourceArn",
                "pattern",
                "timeoutSeconds",
                "serviceParams",
                "retry",
                "catch",
                "errorMappings",
            ],
            Some("wait") => &["duration", "timestamp"],
            Some("choice") => &["choices", "default"],
            Some("parallel") => &["branches"],
            Some("foreach") => &["iterationMapping", "steps"],
            Some("fail") => &["error", "cause"],
            _ => &[],
        };
        let allowed: Vec<&str> = COMMON.iter().chain(extra).copied().collect();
        let what = match ty {
            Some(t) => format!("{t} step \"{label}\""),
            None => format!("step \"{label}\""),
        };
        let f = self.fields(node, &what, ty.map(|_| allowed.as_slice()))?;
        let end = f.get("end").is_some_and(|n| self.bool(n, "end"));
        let input_mappings = f
            .get("inputMappings")
            .map(|n| self.mappings(n, STEP_INPUT_ROOTS, "inputMappings"));
        let output_mappings = f
            .get("outputMappings")
            .map(|n| self.mappings(n, OUTPUT_ROOTS, "outputMappings"));
        let kind = match ty {
            Some("task") => self.task(id, &f, &what, list),
            Some("wait") => self.wait(&f, &what),
            Some("choice") => self.choice(id, &f, &what, list),
            Some("parallel") => self.parallel(id, &f, &what),
            Some("foreach") => self.foreach(id, &f, &what),
            Some("succeed") => StepKind::Succeed,
            Some("fail") => self.fail(&f, &what),
            _ => StepKind::Pass,
        };
        let step = &mut self.steps[id.index()];
        step.end = end;
        step.input_mappings = input_mappings;
        step.output_mappings = output_mappings;
        step.kind = kind;
        Some(id)
    }

    fn wait(&mut self, f: &Fields<'_>, what: &str) -> StepKind {
        let fallback = StepKind::Wait(Wait::DurationSeconds(0.0));
        match (f.get("duration"), f.get("timestamp")) {
            (Some(_), Some(t)) => {
                self.err(
                    t.pos,
                    format!("{what} has both `duration` and `timestamp`; keep one"),
                );
                fallback
            }
            (None, None) => {
                self.err(f.pos, format!("{what} needs `duration` or `timestamp`"));
                fallback
            }
            (Some(n), None) => match &n.data {
                Data::Int(i) if *i >= 0 && i.unsigned_abs() <= MAX_WAIT_SECONDS => {
                    StepKind::Wait(Wait::DurationSeconds(*i as f64))
                }
                Data::Float(x) if x.is_finite() && (0.0..=MAX_WAIT_SECONDS as f64).contains(x) => {
                    StepKind::Wait(Wait::DurationSeconds(*x))
                }
                // Positive but past the limit (the arms above took the rest).
                Data::Int(1..) => {
                    self.err(
                        n.pos,
                        format!(
                            "`duration` is longer than the limit of {MAX_WAIT_SECONDS} seconds (one year)"
                        ),
                    );
                    fallback
                }
                Data::Float(x) if *x > 0.0 => {
                    self.err(
                        n.pos,
                        format!(
                            "`duration` is longer than the limit of {MAX_WAIT_SECONDS} seconds (one year)"
                        ),
                    );
                    fallback
                }
                Data::Str(s) if s.starts_with('$') => self
                    .path(n, s, &[Root::Dollar, Root::Input], "duration")
                    .map_or(fallback, |p| StepKind::Wait(Wait::DurationPath(p))),
                _ => {
                    self.err(
                        n.pos,
                        "`duration` must be a number of seconds (0 or more) or a `$.path`",
                    );
                    fallback
                }
            },
            (None, Some(n)) => match n.as_str() {
                Some(s) if s.starts_with('$') => self
                    .path(n, s, &[Root::Dollar, Root::Input], "timestamp")
                    .map_or(fallback, |p| StepKind::Wait(Wait::TimestampPath(p))),
                Some(s) => match parse_rfc3339_millis(s) {
                    Some(ms) => StepKind::Wait(Wait::TimestampMillis(ms)),
                    None => {
                        self.err(
                            n.pos,
                            format!(
                                "`timestamp` \"{s}\" is not an RFC 3339 time such as 2026-01-01T08:00:00Z"
                            ),
                        );
                        fallback
                    }
                },
                None => {
                    self.err(
                        n.pos,
                        "`timestamp` must be an RFC 3339 time string or a `$.path`",
                    );
                    fallback
                }
            },
        }
    }

    fn branch_steps(&mut self, id: StepId, f: &Fields<'_>, owner: &str) -> Vec<StepId> {
        match f.get("steps") {
            Some(n) => self.step_list(n, Some(id), owner),
            None => Vec::new(),
        }
    }

    fn choice(&mut self, id: StepId, f: &Fields<'_>, what: &str, list: usize) -> StepKind {
        let mut choices = Vec::new();
        if let Some(n) = self.required(f, "choices", what) {
            match n.as_seq() {
                Some([]) => self.err(n.pos, "`choices` is empty; add at least one condition"),
                Some(items) => {
                    for item in items {
                        let Some(cf) =
                            self.fields(item, "a choice", Some(&["condition", "steps", "goto"]))
                        else {
                            continue;
                        };
                        let condition = self
                            .required(&cf, "condition", "the choice")
                            .and_then(|c| self.condition(c));
                        let steps = self.branch_steps(id, &cf, what);
                        if let Some(g) = cf.get("goto")
                            && let Some(target) = self.string(g, "goto")
                        {
                            self.fixups.push(Fixup {
                                step: id,
                                slot: Slot::Choice(choices.len()),
                                target: target.to_owned(),
                                pos: g.pos,
                                list,
                            });
                        }
                        if let Some(condition) = condition {
                            choices.push(ChoiceBranch {
                                condition: ChoiceCondition::Fdl(condition),
                                branch: Branch {
                                    steps,
                                    goto: None,
                                    pos: item.pos,
                                },
                            });
                        }
                    }
                }
                None => self.err(
                    n.pos,
                    format!("`choices` must be a list, found {}", n.kind()),
                ),
            }
        }
        let default = match f.get("default") {
            None => None,
            Some(n) => {
                let df = self.fields(n, "`default`", Some(&["steps", "goto"]));
                df.map(|df| {
                    let steps = self.branch_steps(id, &df, what);
                    if let Some(g) = df.get("goto")
                        && let Some(target) = self.string(g, "goto")
                    {
                        self.fixups.push(Fixup {
                            step: id,
                            slot: Slot::Default,
                            target: target.to_owned(),
                            pos: g.pos,
                            list,
                        });
                    }
                    Branch {
                        steps,
                        goto: None,
                        pos: n.pos,
                    }
                })
            }
        };
        StepKind::Choice(Choice { choices, default })
    }

    fn condition(&mut self, node: &Node) -> Option<Condition> {
        let text = match &node.data {
            Data::Str(s) => s.as_str(),
            _ => {
                self.err(
                    node.pos,
                    format!(
                        "`condition` must be a string such as `$.x > 1`, found {}",
                        node.kind()
                    ),
                );
                return None;
            }
        };
        match Condition::parse(text) {
            Ok(c) => Some(c),
            Err(e) => {
                self.err(
                    node.pos_at(e.offset),
                    format!("bad condition `{text}`: {}", e.message),
                );
                None
            }
        }
    }

    fn parallel(&mut self, id: StepId, f: &Fields<'_>, what: &str) -> StepKind {
        let mut branches = Vec::new();
        if let Some(n) = self.required(f, "branches", what) {
            match n.as_seq() {
                Some([]) => self.err(n.pos, "`branches` is empty; add at least one branch"),
                Some(items) => {
                    for item in items {
                        if let Some(bf) = self.fields(item, "a branch", Some(&["steps"]))
                            && let Some(s) = self.required(&bf, "steps", "the branch")
                        {
                            branches.push(self.step_list(s, Some(id), what));
                        }
                    }
                }
                None => self.err(
                    n.pos,
                    format!("`branches` must be a list, found {}", n.kind()),
                ),
            }
        }
        StepKind::Parallel(Parallel {
            branches,
            handlers: Handlers::default(),
        })
    }

    fn foreach(&mut self, id: StepId, f: &Fields<'_>, what: &str) -> StepKind {
        let mut collection = None;
        let mut item = None;
        let mut index = None;
        if let Some(n) = self.required(f, "iterationMapping", what)
            && let Some(mf) = self.fields(
                n,
                "`iterationMapping`",
                Some(&["collection", "item", "index"]),
            )
        {
            if let Some(c) = self.required(&mf, "collection", "`iterationMapping`")
                && let Some(s) = self.string(c, "collection")
            {
                collection = self.path(c, s, &[Root::Dollar, Root::Input], "collection");
            }
            item = self
                .required(&mf, "item", "`iterationMapping`")
                .and_then(|n| self.string(n, "item"))
                .map(str::to_owned);
            index = mf
                .get("index")
                .and_then(|n| self.string(n, "index").map(|s| (n, s)))
                .and_then(|(n, s)| {
                    // Both are fields of each iteration's input: the index
                    // would silently overwrite the item.
                    if item.as_deref() == Some(s) {
                        self.err(
                            n.pos,
                            format!(
                                "`iterationMapping.index` `{s}` is the same name as `item`; \
                                 the index would overwrite the item"
                            ),
                        );
                        None
                    } else {
                        Some(s.to_owned())
                    }
                });
        }
        let steps = match self.required(f, "steps", what) {
            Some(n) => self.step_list(n, Some(id), what),
            None => Vec::new(),
        };
        StepKind::Foreach(Foreach {
            collection: Items::Path(collection.unwrap_or(Path {
                root: Root::Dollar,
                segments: Vec::new(),
            })),
            max_concurrency: FOREACH_CONCURRENCY,
            handlers: Handlers::default(),
            item: item.unwrap_or_default(),
            index,
            steps,
        })
    }

    fn fail(&mut self, f: &Fields<'_>, what: &str) -> StepKind {
        let error = self
            .required(f, "error", what)
            .and_then(|n| self.string(n, "error"))
            .unwrap_or_default()
            .to_owned();
        let cause = match f.get("cause") {
            None => String::new(),
            Some(n) => match &n.data {
                Data::Str(s) => s.clone(),
                _ => {
                    self.err(
                        n.pos,
                        format!("`cause` must be a string, found {}", n.kind()),
                    );
                    String::new()
                }
            },
        };
        StepKind::Fail(Fail { error, cause })
    }
}

fn valid_name(s: &str, first_alpha_only: bool, max: usize) -> bool {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| {
        c.is_ascii_alphabetic() || (!first_alpha_only && (c == '_' || c.is_ascii_digit()))
    });
    first_ok
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Decodes a task's `resourceArn`.
pub fn parse_arn(arn: &str) -> Result<Resource, String> {
    let bad = || format!("`{arn}` is not a resource ARN flowsim knows; expected {ARN_FORMS}");
    let parts: Vec<&str> = arn.splitn(5, ':').collect();
    let [acs, service, region, account, rest] = parts.as_slice() else {
        return Err(bad());
    };
    if *acs != "acs" {
        return Err(bad());
    }
    match *service {
        "fc" => {
            let segs: Vec<&str> = rest.split('/').collect();
            let ["services", svc, "functions", func] = segs.as_slice() else {
                return Err(format!(
                    "bad FC resource `{arn}`: expected acs:fc:{{region}}:{{account}}:services/{{service}}/functions/{{function}}"
                ));
            };
            let svc_name = svc.split_once('.').map_or(*svc, |(s, _)| s);
            if !valid_name(svc_name, false, 128) {
                return Err(format!(
                    "bad FC service name \"{svc}\" in `{arn}`: letters, digits, `_` and `-`, up to 128"
                ));
            }
            if !valid_name(func, false, 128) {
                return Err(format!(
                    "bad FC function name \"{func}\" in `{arn}`: letters, digits, `_` and `-`, up to 128"
                ));
            }
            Ok(Resource::Function {
                region: (*region).to_owned(),
                account: (*account).to_owned(),
                service: (*svc).to_owned(),
                function: (*func).to_owned(),
            })
        }
        "mns" => {
            let segs: Vec<&str> = rest.split('/').collect();
            let (kind, name) = match segs.as_slice() {
                ["", kind @ ("topics" | "queues"), name, "messages"] => (*kind, *name),
                _ => {
                    return Err(format!(
                        "bad MNS resource `{arn}`: expected acs:mns:::/topics/{{topic}}/messages or acs:mns:::/queues/{{queue}}/messages"
                    ));
                }
            };
            if !valid_name(name, true, 256) {
                return Err(format!(
                    "bad MNS {} name \"{name}\" in `{arn}`: starts with a letter; letters, digits and `-`, up to 256",
                    &kind[..kind.len() - 1]
                ));
            }
            Ok(if kind == "topics" {
                Resource::MnsTopic {
                    topic: name.to_owned(),
                }
            } else {
                Resource::MnsQueue {
                    queue: name.to_owned(),
                }
            })
        }
        "fnf" => match rest.strip_prefix("flow/") {
            Some(name) if valid_name(name, false, 128) => Ok(Resource::Flow {
                flow: name.to_owned(),
            }),
            _ => Err(format!(
                "bad sub-flow resource `{arn}`: expected acs:fnf:::flow/{{flow name}}"
            )),
        },
        other => Err(format!(
            "unknown service \"{other}\" in `{arn}`; flowsim runs fc, mns and fnf resources"
        )),
    }
}

fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}
