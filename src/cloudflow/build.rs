//! Validation: a positioned YAML tree in, a typed [`StateMachine`] (and
//! its warnings) or every problem out.
//!
//! One pass over the tree builds the model and collects diagnostics as it
//! goes, so a file with ten mistakes reports ten lines. Nothing stops at
//! the first error: a state of an unknown type still gets its name checked
//! and its siblings built. State names are collected per scope before the
//! scope's states are built, so `Next` can point forward; each scope's
//! graph (reachability, loops with no way out) is checked once its states
//! are built and every reference in it resolved. Task integrations, retry
//! and catch live in [`task`], the other state types in [`states`], the
//! graph checks in [`graph`].

mod graph;
mod states;
pub(crate) mod task;

use std::collections::HashSet;

use super::constructor::{self, Constructor};
use super::expr::{Condition, Expression, Place};
use super::model::*;
use super::{LoadOptions, Loaded};
use crate::syntax::yaml::{self, Data, Entry, Node};
use crate::syntax::{Diagnostic, Pos};

/// The eight state types.
const TYPES: [&str; 8] = [
    "Task", "Pass", "Wait", "Succeed", "Fail", "Choice", "Parallel", "Map",
];
const TOP_FIELDS: [&str; 7] = [
    "Type",
    "Name",
    "SpecVersion",
    "Description",
    "StartAt",
    "States",
    "ExecutionMode",
];
/// Fields of a distributed Map (distributed-mode page), which flowsim
/// refuses.
const DISTRIBUTED: [&str; 8] = [
    "ItemReader",
    "ItemBatcher",
    "ItemConstructor",
    "ResultWriter",
    "MaxItems",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
    "ProcessorConfig",
];

/// Errors and warnings found so far.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Diags {
    pub fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(pos, message));
    }

    pub fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        self.warnings.push(Diagnostic::new(pos, message));
    }

    /// Parses the expression `text` held by scalar `node` (under key
    /// `field`) for `place`; an error points at its character.
    pub fn expr(
        &mut self,
        node: &Node,
        text: &str,
        field: &str,
        place: Place,
    ) -> Option<Expression> {
        match Expression::parse_in(text, place) {
            Ok(e) => Some(e),
            Err(e) => {
                self.err(
                    node.pos_at(e.offset),
                    expr_message(text, field, e.offset, &e.message),
                );
                None
            }
        }
    }

    fn condition(&mut self, node: &Node) -> Option<Condition> {
        let Some(text) = node.as_str() else {
            self.err(
                node.pos,
                format!(
                    "`Condition` must be an expression string such as `$Input.status == \"ready\"`, found {}",
                    node.kind()
                ),
            );
            return None;
        };
        match Condition::parse(text) {
            Ok(c) => Some(c),
            Err(e) => {
                self.err(
                    node.pos_at(e.offset),
                    expr_message(text, "Condition", e.offset, &e.message),
                );
                None
            }
        }
    }
}

/// "bad expression `…` in `field` at character n: message".
fn expr_message(text: &str, field: &str, offset: usize, message: &str) -> String {
    let shown: String = if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text.to_owned()
    };
    format!(
        "bad expression `{}` in `{field}` at character {}: {message}",
        shown.trim(),
        offset + 1
    )
}

/// The closest of `candidates` to a misspelt `word`, if any is close.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                *c,
            )
        })
        // Close, but not merely as far as a one-letter name is from any
        // other ("b" is not a misspelling of "a").
        .filter(|(d, c)| *d <= (c.len() / 3).max(1) && *d < c.len().min(word.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None => format!(" (expected one of: {})", candidates.join(", ")),
    }
}

/// The fields of one mapping, after the unknown ones were reported.
pub(crate) struct Fields<'n> {
    entries: &'n [Entry],
    pub pos: Pos,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&'n Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// One scope being built: its state names (first occurrence) and whether
/// a reference in it failed, which makes its graph checks pointless.
struct Frame {
    names: Vec<(String, Pos)>,
    broken: bool,
}

pub(crate) struct Builder {
    pub d: Diags,
    mode: Mode,
    frames: Vec<Frame>,
    /// Every state name of the document, for "that state is in another
    /// scope".
    all_names: HashSet<String>,
}

pub(crate) fn build(
    name: &str,
    source: &str,
    options: &LoadOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut d = Diags::default();
    let doc = match yaml::parse(source, &mut d.errors) {
        Ok(Some(doc)) => doc,
        Ok(None) => {
            d.err(
                Pos { line: 1, col: 1 },
                "the flow is empty; a CloudFlow flow needs `Type: StateMachine`, `StartAt` and `States`",
            );
            return Err(finish(d.errors));
        }
        Err(e) => {
            d.errors.push(e);
            return Err(finish(d.errors));
        }
    };
    let mut b = Builder {
        d,
        mode: Mode::Standard,
        frames: Vec::new(),
        all_names: HashSet::new(),
    };
    let machine = b.machine(name, source, &doc, options);
    if b.d.errors.is_empty()
        && let Some(machine) = machine
    {
        let mut warnings = b.d.warnings;
        warnings.sort();
        warnings.dedup();
        Ok(Loaded { machine, warnings })
    } else {
        Err(finish(b.d.errors))
    }
}

fn finish(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort();
    diags.dedup();
    diags
}

/// Collects every `Name` of a state under any `States` list.
fn collect_names(node: &Node, out: &mut HashSet<String>) {
    match &node.data {
        Data::Map(entries) => {
            for e in entries {
                if e.key == "States"
                    && let Some(items) = e.value.as_seq()
                {
                    for item in items {
                        if let Some(m) = item.as_map()
                            && let Some(n) = m.iter().find(|e| e.key == "Name")
                            && let Some(s) = n.value.as_str()
                        {
                            out.insert(s.to_owned());
                        }
                    }
                }
                collect_names(&e.value, out);
            }
        }
        Data::Seq(items) => items.iter().for_each(|i| collect_names(i, out)),
        _ => {}
    }
}

impl Builder {
    pub fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.d.err(pos, message);
    }

    /// Checks that `node` is a mapping and reports the keys not in
    /// `allowed` (`None`: any key). `special` gives a tailored message for
    /// a key (old syntax, a field that does not belong here).
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: Option<&[&str]>,
        special: &dyn Fn(&str) -> Option<String>,
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
                if allowed.contains(&e.key.as_str()) {
                    continue;
                }
                let msg = match special(&e.key) {
                    Some(m) => m,
                    None => format!(
                        "unknown field \"{}\" in {what}{}",
                        e.key,
                        did_you_mean(&e.key, allowed)
                    ),
                };
                self.err(e.key_pos, msg);
            }
        }
        Some(Fields {
            entries,
            pos: node.pos,
        })
    }

    pub fn required<'n>(&mut self, f: &Fields<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let n = f.get(key);
        if n.is_none() {
            self.err(f.pos, format!("{what} is missing `{key}`"));
        }
        n
    }

    /// A non-empty string.
    pub fn string<'n>(&mut self, node: &'n Node, field: &str) -> Option<&'n str> {
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

    /// Any string (a description may be empty).
    fn text(&mut self, node: &Node, field: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.err(
                    node.pos,
                    format!("`{field}` must be a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    pub fn uint(&mut self, node: &Node, field: &str, min: u64, max: u64) -> Option<u64> {
        match node.data {
            Data::Int(i) if i >= 0 && (min..=max).contains(&i.unsigned_abs()) => {
                Some(i.unsigned_abs())
            }
            Data::Int(i) => {
                self.err(
                    node.pos,
                    format!("`{field}` must be from {min} to {max}, found {i}"),
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

    pub fn bool(&mut self, node: &Node, field: &str) -> Option<bool> {
        match node.data {
            Data::Bool(b) => Some(b),
            _ => {
                self.err(
                    node.pos,
                    format!("`{field}` must be true or false, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// Resolves a state name written at `node` (under `field`) against the
    /// current scope.
    pub fn target(&mut self, node: &Node, field: &str) -> Option<Target> {
        let Some(name) = self.string(node, field).map(str::to_owned) else {
            self.mark_broken();
            return None;
        };
        let frame = self.frames.last()?;
        if let Some(index) = frame.names.iter().position(|(n, _)| *n == name) {
            return Some(Target {
                name,
                index,
                pos: node.pos,
            });
        }
        let msg = if self.all_names.contains(&name) {
            format!(
                "{field} \"{name}\": that state is in another scope; `{field}` can only name a state of the same `States` list"
            )
        } else {
            let names: Vec<&str> = frame.names.iter().map(|(n, _)| n.as_str()).collect();
            let hint = suggest(&name, &names)
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            format!("{field} \"{name}\": no state of this scope has that name{hint}")
        };
        self.err(node.pos, msg);
        self.mark_broken();
        None
    }

    fn mark_broken(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            f.broken = true;
        }
    }

    fn constructor(&mut self, f: &Fields<'_>, key: &str, place: Place) -> Option<Constructor> {
        let node = f.get(key)?;
        constructor::parse(node, key, place, &mut self.d)
    }

    fn machine(
        &mut self,
        name: &str,
        source: &str,
        doc: &Node,
        options: &LoadOptions,
    ) -> Option<StateMachine> {
        let Some(entries) = doc.as_map() else {
            self.err(
                doc.pos,
                format!(
                    "a CloudFlow flow is a YAML mapping with `Type: StateMachine`, `StartAt` and `States`, found {}",
                    doc.kind()
                ),
            );
            return None;
        };
        if !entries.iter().any(|e| e.key == "Type")
            && let Some(e) = entries.iter().find(|e| e.key == "type")
        {
            self.err(
                e.key_pos,
                "this is an FDL v1 flow (`type: flow`), not a CloudFlow one; CloudFlow flows start with `Type: StateMachine`",
            );
            return None;
        }
        collect_names(doc, &mut self.all_names);
        let f = self.fields(doc, "the flow", Some(&TOP_FIELDS), &|_| None)?;
        if let Some(n) = self.required(&f, "Type", "the flow")
            && n.as_str() != Some("StateMachine")
        {
            self.err(n.pos, "the flow's `Type` must be `StateMachine`");
        }
        let declared_name = f
            .get("Name")
            .and_then(|n| self.string(n, "Name"))
            .map(str::to_owned);
        let spec_version = match f.get("SpecVersion") {
            None => "v1".to_owned(),
            Some(n) => match n.as_str() {
                Some("v1") => "v1".to_owned(),
                _ => {
                    let found = match &n.data {
                        Data::Str(s) => format!("\"{s}\""),
                        _ => n.kind().to_owned(),
                    };
                    self.err(
                        n.pos,
                        format!("unsupported SpecVersion {found}; CloudFlow's spec is `v1`"),
                    );
                    String::new()
                }
            },
        };
        let description = f
            .get("Description")
            .and_then(|n| self.text(n, "Description"));
        self.mode = self.mode(f.get("ExecutionMode"), options);
        let body = self.block(f.get("States"), f.get("StartAt"), &f, "the flow");
        Some(StateMachine {
            name: name.to_owned(),
            declared_name,
            spec_version,
            description,
            mode: self.mode,
            definition: source.to_owned(),
            body: body?,
        })
    }

    fn mode(&mut self, node: Option<&Node>, options: &LoadOptions) -> Mode {
        let written = node.and_then(|n| match n.as_str() {
            Some("Standard") => Some((Mode::Standard, n.pos)),
            Some("Express") => Some((Mode::Express, n.pos)),
            _ => {
                let found = n
                    .as_str()
                    .map_or_else(|| n.kind().to_owned(), |s| format!("\"{s}\""));
                let hint = n
                    .as_str()
                    .and_then(|s| suggest(s, &["Standard", "Express"]))
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                self.err(
                    n.pos,
                    format!("`ExecutionMode` must be Standard or Express, found {found}{hint}"),
                );
                None
            }
        });
        match (written, options.mode) {
            (Some((w, pos)), Some(o)) if w != o => {
                self.err(
                    pos,
                    format!(
                        "the flow says `ExecutionMode: {}` but is being created in {} mode",
                        w.as_str(),
                        o.as_str()
                    ),
                );
                o
            }
            (_, Some(o)) => o,
            (Some((w, _)), None) => w,
            (None, None) => Mode::Standard,
        }
    }

    /// A scope: `States` (a non-empty list) and `StartAt` from `owner`'s
    /// fields `f`.
    fn block(
        &mut self,
        states: Option<&Node>,
        start_at: Option<&Node>,
        f: &Fields<'_>,
        owner: &str,
    ) -> Option<Block> {
        let (Some(states), start_at) = (states, start_at) else {
            self.err(f.pos, format!("{owner} is missing `States`"));
            if start_at.is_none() {
                self.err(f.pos, format!("{owner} is missing `StartAt`"));
            }
            return None;
        };
        let Some(items) = states.as_seq() else {
            self.err(
                states.pos,
                format!("`States` must be a list of states, found {}", states.kind()),
            );
            return None;
        };
        if items.is_empty() {
            self.err(
                states.pos,
                format!("`States` of {owner} is empty; add at least one state"),
            );
            return None;
        }
        let mut names: Vec<(String, Pos)> = Vec::new();
        for item in items {
            let Some(n) = item
                .as_map()
                .and_then(|m| m.iter().find(|e| e.key == "Name"))
            else {
                continue;
            };
            let Some(name) = n.value.as_str() else {
                continue;
            };
            if let Some((_, first)) = names.iter().find(|(x, _)| x == name) {
                let first = *first;
                self.err(
                    n.value.pos,
                    format!(
                        "duplicate state name \"{name}\" in this scope (first at line {}, column {})",
                        first.line, first.col
                    ),
                );
            } else {
                names.push((name.to_owned(), n.value.pos));
            }
        }
        // Indexes of `names` must be indexes of `states`: states without
        // a usable name still take a slot, under a name no target can
        // write.
        let mut slots: Vec<(String, Pos)> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let name = item
                .as_map()
                .and_then(|m| m.iter().find(|e| e.key == "Name"))
                .and_then(|e| e.value.as_str())
                .filter(|n| names.iter().any(|(x, _)| x == n) && !slots.iter().any(|(x, _)| x == n))
                .map_or_else(|| format!("\u{0}#{i}"), str::to_owned);
            slots.push((name, item.pos));
        }
        self.frames.push(Frame {
            names: slots,
            broken: false,
        });
        let built: Vec<State> = items.iter().map(|item| self.state(item)).collect();
        let start = match start_at {
            Some(n) => self.target(n, "StartAt"),
            None => {
                self.err(f.pos, format!("{owner} is missing `StartAt`"));
                self.mark_broken();
                None
            }
        };
        let frame = self.frames.pop()?;
        let start = start?;
        // States with no usable name (missing, or a duplicate reported
        // above) cannot be targeted: saying they are unreachable too would
        // report one mistake twice.
        let nameless: Vec<bool> = frame
            .names
            .iter()
            .map(|(n, _)| n.starts_with('\u{0}'))
            .collect();
        let block = Block {
            start_at: start,
            states: built,
            pos: f.pos,
        };
        if !frame.broken {
            graph::check(&block, &nameless, &mut self.d);
        }
        Some(block)
    }

    fn state(&mut self, node: &Node) -> State {
        let mut state = State {
            name: String::new(),
            pos: node.pos,
            description: None,
            kind: StateKind::Pass,
            next: Next::None,
            input_constructor: None,
            output_constructor: None,
        };
        let Some(entries) = node.as_map() else {
            self.err(
                node.pos,
                format!(
                    "a state must be a mapping with `Name` and `Type`, found {}",
                    node.kind()
                ),
            );
            self.mark_broken();
            return state;
        };
        let get = |k: &str| entries.iter().find(|e| e.key == k).map(|e| &e.value);
        // `type:`/`name:` as FDL v1 writes them: say so where they are.
        let lower_case = |k: &str| {
            entries
                .iter()
                .find(|e| e.key != k && e.key.eq_ignore_ascii_case(k))
                .map(|e| (e.key_pos, e.key.clone()))
        };
        let ty = match get("Type") {
            None => {
                match lower_case("Type") {
                    Some((pos, key)) => self.err(
                        pos,
                        format!(
                            "`{key}` is written `Type` in a CloudFlow state machine (FDL v1 writes `type`); one of: {}",
                            TYPES.join(", ")
                        ),
                    ),
                    None => self.err(
                        node.pos,
                        format!("state is missing `Type` (one of: {})", TYPES.join(", ")),
                    ),
                }
                None
            }
            Some(n) => match n.as_str() {
                Some(t) if TYPES.contains(&t) => Some(t),
                Some(t) => {
                    let hint = did_you_mean(t, &TYPES);
                    self.err(n.pos, format!("unknown state type \"{t}\"{hint}"));
                    None
                }
                None => {
                    self.err(
                        n.pos,
                        format!("`Type` must be a string, found {}", n.kind()),
                    );
                    None
                }
            },
        };
        match get("Name") {
            None => match lower_case("Name") {
                Some((pos, key)) => self.err(
                    pos,
                    format!(
                        "`{key}` is written `Name` in a CloudFlow state machine (FDL v1 writes `name`)"
                    ),
                ),
                None => self.err(node.pos, "state is missing `Name`"),
            },
            Some(n) => {
                if let Some(s) = self.string(n, "Name") {
                    state.name = s.to_owned();
                }
            }
        }
        let label = if state.name.is_empty() {
            "<unnamed>".to_owned()
        } else {
            state.name.clone()
        };
        let what = match ty {
            Some(t) => format!("{t} state \"{label}\""),
            None => format!("state \"{label}\""),
        };
        let extra: &[&str] = match ty {
            Some("Task") => &[
                "Action",
                "TaskMode",
                "Parameters",
                "Timeout",
                "Timeout.$",
                "Retry",
                "Catch",
            ],
            Some("Wait") => &["Seconds", "Seconds.$"],
            Some("Fail") => &["Code", "Detail"],
            Some("Choice") => &["Branches", "Default"],
            Some("Parallel") => &["Branches", "Retry", "Catch"],
            Some("Map") => &[
                "ItemsPath",
                "Processor",
                "MaxConcurrency",
                "MaxConcuccency",
                "Retry",
                "Catch",
            ],
            _ => &[],
        };
        let moves: &[&str] = match ty {
            Some("Choice") => &[],
            Some("Succeed" | "Fail") => &["End"],
            _ => &["Next", "End"],
        };
        let output: &[&str] = match ty {
            Some("Choice") => &[],
            _ => &["OutputConstructor"],
        };
        let allowed: Vec<&str> = ["Name", "Type", "Description", "InputConstructor"]
            .iter()
            .chain(output)
            .chain(moves)
            .chain(extra)
            .copied()
            .collect();
        let t = ty.unwrap_or("");
        let special = |key: &str| -> Option<String> {
            match (t, key) {
                (_, "OnErrors") => Some(
                    "`OnErrors` is the 2023 syntax, which flowsim does not read; CloudFlow now writes \
                     `Retry: [{Errors, MaxAttempts, IntervalSeconds, BackoffRate, MaxBackoffSeconds}]` and \
                     `Catch: [{Errors, Next, OutputConstructor}]`"
                        .to_owned(),
                ),
                ("Choice", "Next" | "End") => Some(format!(
                    "a Choice state has no `{key}`: its `Branches` and `Default` choose the next state"
                )),
                ("Succeed" | "Fail", "Next") => Some(format!(
                    "a {t} state ends the flow (or its scope); it has no `Next`"
                )),
                ("Choice", "OutputConstructor") => {
                    Some("a Choice state has no `OutputConstructor`; its output is its input".to_owned())
                }
                ("Wait", "UntilDateTime") => Some(
                    "`UntilDateTime` was dropped from CloudFlow's Wait state (2024); wait a number of `Seconds`"
                        .to_owned(),
                ),
                ("Map", k) if DISTRIBUTED.contains(&k) => Some(format!(
                    "`{k}` belongs to a distributed Map, which flowsim does not support; use an inline Map \
                     (`ItemsPath` and `Processor`)"
                )),
                ("Wait" | "Pass" | "Succeed" | "Fail" | "Choice", "Retry" | "Catch") => Some(format!(
                    "`{key}` is for Task, Parallel and Map states, not {t}"
                )),
                _ => None,
            }
        };
        let Some(f) = self.fields(node, &what, ty.map(|_| allowed.as_slice()), &special) else {
            return state;
        };
        state.description = f
            .get("Description")
            .and_then(|n| self.text(n, "Description"));
        state.input_constructor = self.constructor(&f, "InputConstructor", Place::INPUT);
        let place = match ty {
            Some("Task" | "Parallel" | "Map") => Place::OUTPUT,
            _ => Place::OUTPUT_WITHOUT_RESULT,
        };
        state.output_constructor = self.constructor(&f, "OutputConstructor", place);
        state.kind = match ty {
            Some("Task") => self.task(&f, &what),
            Some("Wait") => self.wait(&f, &what),
            Some("Succeed") => StateKind::Succeed,
            Some("Fail") => self.fail(&f, &what),
            Some("Choice") => self.choice(&f, &what),
            Some("Parallel") => self.parallel(&f, &what),
            Some("Map") => self.map(&f, &what),
            _ => StateKind::Pass,
        };
        state.next = match ty {
            None => {
                self.mark_broken();
                Next::None
            }
            Some("Choice") => Next::None,
            Some("Succeed" | "Fail") => {
                if let Some(n) = f.get("End")
                    && self.bool(n, "End") == Some(false)
                {
                    self.err(
                        n.pos,
                        format!("a {t} state always ends; remove `End: false`"),
                    );
                }
                Next::None
            }
            Some(_) => self.next(&f, &what),
        };
        state
    }

    /// `Next` / `End` of a state that moves on.
    fn next(&mut self, f: &Fields<'_>, what: &str) -> Next {
        let end = match f.get("End") {
            Some(n) => self.bool(n, "End"),
            None => None,
        };
        match (f.get("Next"), end) {
            (Some(_), Some(true)) => {
                let at = f.entry("End").map_or(f.pos, |e| e.key_pos);
                self.err(
                    at,
                    format!("{what} has both `Next` and `End: true`; keep one"),
                );
                self.mark_broken();
                Next::End
            }
            (Some(n), _) => match self.target(n, "Next") {
                Some(t) => Next::State(t),
                None => Next::None,
            },
            (None, Some(true)) => Next::End,
            (None, None) if f.get("End").is_some() => {
                // `End` is there but not a boolean: reported above.
                self.mark_broken();
                Next::None
            }
            (None, _) => {
                self.err(
                    f.pos,
                    format!(
                        "{what} has neither `Next` nor `End: true`; say which state follows it"
                    ),
                );
                self.mark_broken();
                Next::None
            }
        }
    }
}
