//! read: a test file's text to a checked [`TestFile`].
//!
//! Reads it with the positioned YAML reader flows use
//! ([`crate::fdl::yaml`]), loads the flows it names, and checks every field
//! against them: every problem at once, each as `file:line:col: message`
//! (unknown fields with a did-you-mean, wrong types, unknown step names,
//! answers a step cannot take).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::{
    Answer, Case, Cmp, DEFAULT_SEED, Expect, FlowCache, Handler, Kind, Problem, TestFile,
    parse_duration,
};
use crate::engine::Status;
use crate::fdl::yaml::{self, Data, Entry, Node};
use crate::fdl::{self, Diagnostic, Flow, Pattern, Pos, Resource, StepKind, did_you_mean};
use crate::headless::flowtest::{step_named, step_names};
use crate::kernel::Millis;

const FILE_FIELDS: &[&str] = &[
    "flow", "with", "seed", "epoch", "handler", "max_time", "cases",
];
const CASE_FIELDS: &[&str] = &[
    "name", "input", "seed", "handler", "max_time", "tasks", "expect",
];
const ANSWER_FIELDS: &[&str] = &["succeed", "fail", "error", "drop", "after", "duplicate"];
const ANSWER_KINDS: &[&str] = &["succeed", "fail", "error", "drop"];
const FAIL_FIELDS: &[&str] = &["error", "cause"];
const EXPECT_FIELDS: &[&str] = &[
    "status",
    "output",
    "output_exact",
    "error",
    "cause",
    "path",
    "visits",
    "not_visited",
    "elapsed",
];
const STATUSES: &[&str] = &["Succeeded", "Failed", "TimedOut", "Stopped", "Running"];
const HANDLERS: &[&str] = &["succeed", "fail", "error", "drop"];

struct Reader {
    file: String,
    problems: Vec<Problem>,
}

impl Reader {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            pos,
            message: message.into(),
        });
    }

    fn diag(&mut self, d: Diagnostic) {
        self.err(d.pos, d.message);
    }

    fn finish(mut self) -> Vec<Problem> {
        self.problems.sort();
        self.problems.dedup();
        self.problems
    }

    /// The entries of a mapping, with unknown keys reported.
    fn fields<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<&'n [Entry]> {
        let Some(entries) = node.as_map() else {
            self.err(
                node.pos,
                format!("{what} must be a mapping, found {}", node.kind()),
            );
            return None;
        };
        for e in entries {
            if !allowed.contains(&e.key.as_str()) {
                let hint = did_you_mean(&e.key, allowed);
                self.err(
                    e.key_pos,
                    format!("unknown field \"{}\" in {what}{hint}", e.key),
                );
            }
        }
        Some(entries)
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

    fn seed(&mut self, node: &Node) -> Option<u64> {
        match node.data {
            Data::Int(i) if i >= 0 => u64::try_from(i).ok(),
            _ => {
                self.err(
                    node.pos,
                    format!(
                        "`seed` must be a whole number of 0 or more, found {}",
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, field: &str) -> Option<Millis> {
        let parsed = match &node.data {
            Data::Int(i) if *i >= 0 => u64::try_from(*i).ok().map(|s| s.saturating_mul(1000)),
            Data::Float(f) if f.is_finite() && *f >= 0.0 => Some((f * 1000.0).round() as Millis),
            Data::Str(s) => parse_duration(s),
            _ => None,
        };
        if parsed.is_none() {
            let found = match &node.data {
                Data::Str(s) => format!("\"{s}\""),
                _ => node.kind().to_owned(),
            };
            self.err(
                node.pos,
                format!(
                    "`{field}` must be a duration such as 45s, 1m30s, 2h, 1d or 500ms (a bare number is seconds), found {found}"
                ),
            );
        }
        parsed
    }

    fn handler(&mut self, node: &Node) -> Option<Handler> {
        let s = self.string(node, "handler")?;
        let h = Handler::parse(s);
        if h.is_none() {
            let hint = did_you_mean(s, HANDLERS);
            self.err(node.pos, format!("unknown handler \"{s}\"{hint}"));
        }
        h
    }

    fn file_spec(&mut self, path: &Path, doc: &Node, cache: &mut FlowCache) -> Option<TestFile> {
        let entries = self.fields(doc, "a test file", FILE_FIELDS)?;
        let get = |k: &str| entries.iter().find(|e| e.key == k).map(|e| &e.value);
        let dir = path.parent().unwrap_or(Path::new(""));
        let Some(flow_node) = get("flow") else {
            self.err(doc.pos, "a test file needs `flow:`, the flow file it tests");
            return None;
        };
        let mut flows: Vec<(PathBuf, Arc<Flow>)> = Vec::new();
        let main = self.string(flow_node, "flow").map(|s| dir.join(s));
        if let Some(p) = &main
            && let Some(f) = self.flow(p, flow_node.pos, cache)
        {
            flows.push((p.clone(), f));
        }
        if let Some(with) = get("with") {
            let items: Vec<&Node> = match &with.data {
                Data::Seq(items) => items.iter().collect(),
                Data::Str(_) => vec![with],
                _ => {
                    self.err(
                        with.pos,
                        format!("`with` must be a list of flow files, found {}", with.kind()),
                    );
                    Vec::new()
                }
            };
            for n in items {
                let Some(s) = self.string(n, "with") else {
                    continue;
                };
                let p = dir.join(s);
                if let Some(f) = self.flow(&p, n.pos, cache) {
                    if let Some((other, _)) = flows.iter().find(|(_, g)| g.name == f.name) {
                        self.err(
                            n.pos,
                            format!(
                                "two flows are named `{}` ({} and {}): flows are named after their file",
                                f.name,
                                other.display(),
                                p.display()
                            ),
                        );
                        continue;
                    }
                    flows.push((p, f));
                }
            }
        }
        // Sub-flows not loaded yet, from NAME.yaml / NAME.yml beside the
        // flow under test (as `flowsim run` does).
        if let Some(p) = &main {
            let flow_dir = p.parent().unwrap_or(Path::new(""));
            let mut i = 0;
            while i < flows.len() {
                let wanted: Vec<String> = flows[i]
                    .1
                    .subflow_names()
                    .into_iter()
                    .filter(|n| !flows.iter().any(|(_, g)| g.name == *n))
                    .map(str::to_owned)
                    .collect();
                for name in wanted {
                    let found = ["yaml", "yml"]
                        .iter()
                        .map(|ext| flow_dir.join(format!("{name}.{ext}")))
                        .find(|p| p.is_file());
                    if let Some(found) = found
                        && !flows.iter().any(|(_, g)| g.name == name)
                        && let Some(f) = self.flow(&found, flow_node.pos, cache)
                    {
                        flows.push((found, f));
                    }
                }
                i += 1;
            }
        }
        let seed = get("seed").and_then(|n| self.seed(n));
        let epoch_ms = get("epoch").and_then(|n| self.epoch(n));
        let handler = get("handler").and_then(|n| self.handler(n));
        let max_time = get("max_time").and_then(|n| self.duration(n, "max_time"));
        let Some(cases_node) = get("cases") else {
            self.err(doc.pos, "a test file needs `cases:`, a list of test cases");
            return None;
        };
        let Some(items) = cases_node.as_seq() else {
            self.err(
                cases_node.pos,
                format!(
                    "`cases` must be a list of test cases, found {}",
                    cases_node.kind()
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.err(cases_node.pos, "`cases` is empty: add at least one case");
        }
        // Without its flows a case's step names cannot be checked: report
        // the flow's problems alone.
        if flows.is_empty() || main.is_none() {
            return None;
        }
        let mut cases: Vec<Case> = Vec::new();
        for item in items {
            if let Some(c) = self.case(item, &flows) {
                if let Some(first) = cases.iter().find(|o| o.name == c.name) {
                    self.err(
                        item.pos,
                        format!(
                            "duplicate case name \"{}\" (first at line {}, column {})",
                            c.name, first.pos.line, first.pos.col
                        ),
                    );
                    continue;
                }
                cases.push(c);
            }
        }
        Some(TestFile {
            path: path.to_path_buf(),
            flows,
            seed: seed.unwrap_or(DEFAULT_SEED),
            epoch_ms,
            handler,
            max_time,
            cases,
        })
    }

    fn epoch(&mut self, node: &Node) -> Option<i64> {
        let s = self.string(node, "epoch")?;
        match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
            Ok(t) => i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok(),
            Err(e) => {
                self.err(
                    node.pos,
                    format!("`epoch` must be an RFC 3339 time such as 2026-01-01T00:00:00Z: {e}"),
                );
                None
            }
        }
    }

    /// Loads a flow file (once per run), its problems reported in its own
    /// file, pointed at from `at` in the test file.
    fn flow(&mut self, path: &Path, at: Pos, cache: &mut FlowCache) -> Option<Arc<Flow>> {
        if let Some(f) = cache.get(path) {
            return Some(f.clone());
        }
        // Either language: a CloudFlow state machine is tested like an FDL
        // flow (its warnings are the validator's business).
        match fdl::load_any_file(path).map(|(f, _)| f) {
            Ok(f) => {
                let f = Arc::new(f);
                cache.insert(path.to_path_buf(), f.clone());
                Some(f)
            }
            Err(fdl::LoadError::Io { error: source, .. }) => {
                self.err(
                    at,
                    format!("cannot read flow `{}`: {source}", path.display()),
                );
                None
            }
            Err(fdl::LoadError::Invalid { file, diagnostics }) => {
                let n = diagnostics.len();
                let s = if n == 1 { "" } else { "s" };
                self.err(
                    at,
                    format!("flow `{file}` does not load ({n} problem{s} below)"),
                );
                for d in diagnostics {
                    self.problems.push(Problem {
                        file: file.clone(),
                        pos: d.pos,
                        message: d.message,
                    });
                }
                None
            }
        }
    }

    fn case(&mut self, node: &Node, flows: &[(PathBuf, Arc<Flow>)]) -> Option<Case> {
        let entries = self.fields(node, "a test case", CASE_FIELDS)?;
        let get = |k: &str| entries.iter().find(|e| e.key == k).map(|e| &e.value);
        let name = match get("name") {
            Some(n) => self.string(n, "name").map(str::to_owned),
            None => {
                self.err(node.pos, "a test case needs `name:`");
                None
            }
        };
        let input = match get("input") {
            None => Some(Value::Object(serde_json::Map::new())),
            Some(n) if n.data == Data::Null => Some(Value::Object(serde_json::Map::new())),
            Some(n) => match n.to_json() {
                Ok(v @ Value::Object(_)) => Some(v),
                Ok(_) => {
                    self.err(
                        n.pos,
                        format!(
                            "`input` must be a mapping (the execution input, a JSON object), found {}",
                            n.kind()
                        ),
                    );
                    None
                }
                Err(d) => {
                    self.diag(d);
                    None
                }
            },
        };
        let seed = get("seed").and_then(|n| self.seed(n));
        let handler = get("handler").and_then(|n| self.handler(n));
        let max_time = get("max_time").and_then(|n| self.duration(n, "max_time"));
        let tasks = match get("tasks") {
            Some(n) => self.tasks(n, flows),
            None => Vec::new(),
        };
        let expect = match get("expect") {
            Some(n) => self.expect(n, &flows[0].1),
            None => Expect::default(),
        };
        Some(Case {
            name: name?,
            pos: node.pos,
            input: input?,
            seed,
            handler,
            max_time,
            tasks,
            expect,
        })
    }

    fn tasks(&mut self, node: &Node, flows: &[(PathBuf, Arc<Flow>)]) -> Vec<(String, Vec<Answer>)> {
        let Some(entries) = node.as_map() else {
            self.err(
                node.pos,
                format!(
                    "`tasks` must be a mapping of task step names to answers, found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries {
            let Some(task) = self.task_step(&e.key, e.key_pos, flows) else {
                continue;
            };
            let items: Vec<&Node> = match &e.value.data {
                Data::Seq(items) => items.iter().collect(),
                _ => vec![&e.value],
            };
            if items.is_empty() {
                self.err(
                    e.value.pos,
                    format!(
                        "the answers of `{}` are empty: give at least one (the last repeats)",
                        e.key
                    ),
                );
                continue;
            }
            let answers: Vec<Answer> = items
                .into_iter()
                .filter_map(|n| self.answer(n, &e.key, task))
                .collect();
            out.push((e.key.clone(), answers));
        }
        out
    }

    /// The task step a `tasks` key names, in any loaded flow; reports a
    /// name that is no task, or a task nothing answers.
    fn task_step<'f>(
        &mut self,
        name: &str,
        pos: Pos,
        flows: &'f [(PathBuf, Arc<Flow>)],
    ) -> Option<&'f fdl::Task> {
        let found = flows
            .iter()
            .find_map(|(_, f)| step_named(f, name).map(|id| (f, id)));
        let Some((flow, id)) = found else {
            let names: Vec<&str> = flows.iter().flat_map(|(_, f)| step_names(f)).collect();
            let hint = did_you_mean(name, &names);
            let which = if flows.len() > 1 {
                "in the loaded flows"
            } else {
                "in the flow"
            };
            self.err(pos, format!("unknown step \"{name}\" {which}{hint}"));
            return None;
        };
        let step = flow.step(id);
        let StepKind::Task(task) = &step.kind else {
            self.err(
                pos,
                format!(
                    "step \"{name}\" is a {} step: only task steps take answers",
                    step.kind.type_name()
                ),
            );
            return None;
        };
        match (&task.resource, task.pattern) {
            (Resource::Flow { flow: child }, _) => {
                self.err(
                    pos,
                    format!(
                        "step \"{name}\" starts sub-flow `{child}`: its child execution answers it; script the child's task steps instead"
                    ),
                );
                None
            }
            (Resource::MnsTopic { .. } | Resource::MnsQueue { .. }, p)
                if p != Pattern::WaitForCallback =>
            {
                self.err(
                    pos,
                    format!(
                        "step \"{name}\" publishes with the {} pattern: MNS accepting the message completes it, nothing answers it",
                        p.as_str()
                    ),
                );
                None
            }
            _ => Some(task),
        }
    }

    fn answer(&mut self, node: &Node, step: &str, task: &fdl::Task) -> Option<Answer> {
        let pos = node.pos;
        let plain = |kind| Answer {
            kind,
            after: 0,
            duplicate: false,
            pos,
        };
        if let Some(s) = node.as_str() {
            return match s {
                "succeed" => Some(plain(Kind::Succeed(None))),
                "fail" => Some(plain(Kind::Fail(None))),
                "error" => Some(plain(Kind::Error)),
                "drop" => Some(plain(Kind::Drop)),
                other => {
                    let hint = did_you_mean(other, ANSWER_KINDS);
                    self.err(pos, format!("unknown answer \"{other}\"{hint}"));
                    None
                }
            };
        }
        let entries = self.fields(node, "an answer", ANSWER_FIELDS)?;
        let mut kind: Option<(Kind, &str)> = None;
        let mut after = 0;
        let mut duplicate = false;
        let mut ok = true;
        for e in entries {
            let k = match e.key.as_str() {
                "succeed" => match &e.value.data {
                    Data::Null => Some(Kind::Succeed(None)),
                    Data::Map(_) => match e.value.to_json() {
                        Ok(v) => Some(Kind::Succeed(Some(v))),
                        Err(d) => {
                            self.diag(d);
                            ok = false;
                            None
                        }
                    },
                    _ => {
                        self.err(
                            e.value.pos,
                            format!(
                                "`succeed` takes the output, a mapping (or nothing for the handler's), found {}",
                                e.value.kind()
                            ),
                        );
                        ok = false;
                        None
                    }
                },
                "fail" => match &e.value.data {
                    Data::Null => Some(Kind::Fail(None)),
                    _ => match self.fail(&e.value) {
                        Some(f) => Some(Kind::Fail(Some(f))),
                        None => {
                            ok = false;
                            None
                        }
                    },
                },
                "error" | "drop" => {
                    if !matches!(e.value.data, Data::Null | Data::Bool(true)) {
                        self.err(
                            e.value.pos,
                            format!(
                                "`{}` takes no value (or true), found {}",
                                e.key,
                                e.value.kind()
                            ),
                        );
                        ok = false;
                    }
                    Some(if e.key == "error" {
                        Kind::Error
                    } else {
                        Kind::Drop
                    })
                }
                "after" => {
                    match self.duration(&e.value, "after") {
                        Some(d) => after = d,
                        None => ok = false,
                    }
                    None
                }
                "duplicate" => {
                    match e.value.data {
                        Data::Bool(b) => duplicate = b,
                        _ => {
                            self.err(
                                e.value.pos,
                                format!(
                                    "`duplicate` must be true or false, found {}",
                                    e.value.kind()
                                ),
                            );
                            ok = false;
                        }
                    }
                    None
                }
                _ => {
                    ok = false;
                    None
                }
            };
            if let Some(k) = k {
                if let Some((_, first)) = &kind {
                    self.err(
                        e.key_pos,
                        format!(
                            "an answer is one of succeed, fail, error or drop; this one already says `{first}`"
                        ),
                    );
                    ok = false;
                } else {
                    kind = Some((k, e.key.as_str()));
                }
            }
        }
        let kind = kind.map_or(Kind::Default, |(k, _)| k);
        if kind == Kind::Drop && after > 0 {
            self.err(pos, "`drop` never answers: `after` has nothing to delay");
            ok = false;
        }
        if duplicate {
            if !matches!(kind, Kind::Succeed(_) | Kind::Fail(_)) {
                self.err(
                    pos,
                    "`duplicate` reports again with the same token: it needs `succeed` or `fail`",
                );
                ok = false;
            } else if task.pattern != Pattern::WaitForCallback {
                self.err(
                    pos,
                    format!(
                        "`duplicate` needs a task token, and step \"{step}\" uses the {} pattern (no token): only waitForCallback tasks are reported to",
                        task.pattern.as_str()
                    ),
                );
                ok = false;
            }
        }
        ok.then_some(Answer {
            kind,
            after,
            duplicate,
            pos,
        })
    }

    fn fail(&mut self, node: &Node) -> Option<(String, String)> {
        let entries = self.fields(node, "`fail`", FAIL_FIELDS)?;
        let get = |k: &str| entries.iter().find(|e| e.key == k).map(|e| &e.value);
        let Some(error) = get("error") else {
            self.err(
                node.pos,
                "`fail` needs `error:`, the error name (and `cause:`, optional)",
            );
            return None;
        };
        let error = self.string(error, "error")?.to_owned();
        let cause = match get("cause") {
            Some(c) => match &c.data {
                Data::Str(s) => s.clone(),
                _ => {
                    self.err(
                        c.pos,
                        format!("`cause` must be a string, found {}", c.kind()),
                    );
                    return None;
                }
            },
            None => String::new(),
        };
        Some((error, cause))
    }

    fn expect(&mut self, node: &Node, flow: &Flow) -> Expect {
        let mut x = Expect::default();
        let Some(entries) = self.fields(node, "`expect`", EXPECT_FIELDS) else {
            return x;
        };
        for e in entries {
            let v = &e.value;
            match e.key.as_str() {
                "status" => {
                    if let Some(s) = self.string(v, "status") {
                        match Status::parse(s).filter(|_| STATUSES.contains(&s)) {
                            Some(st) => x.status = Some(st),
                            None => {
                                let hint = did_you_mean(s, STATUSES);
                                self.err(v.pos, format!("unknown status \"{s}\"{hint}"));
                            }
                        }
                    }
                }
                "output" | "output_exact" => match v.to_json() {
                    Ok(j) if e.key == "output" => x.output = Some(j),
                    Ok(j) => x.output_exact = Some(j),
                    Err(d) => self.diag(d),
                },
                "error" => x.error = self.string(v, "error").map(str::to_owned),
                "cause" => match &v.data {
                    Data::Str(s) => x.cause = Some(s.clone()),
                    _ => self.err(
                        v.pos,
                        format!("`cause` must be a string, found {}", v.kind()),
                    ),
                },
                "path" => x.path = Some(self.step_list(v, "path", flow)),
                "not_visited" => x.not_visited = self.step_list(v, "not_visited", flow),
                "visits" => {
                    let Some(m) = v.as_map() else {
                        self.err(
                            v.pos,
                            format!(
                                "`visits` must be a mapping of step names to counts, found {}",
                                v.kind()
                            ),
                        );
                        continue;
                    };
                    for s in m {
                        if !self.known_step(&s.key, s.key_pos, "visits", flow) {
                            continue;
                        }
                        match s.value.data {
                            Data::Int(i) if i >= 0 => x
                                .visits
                                .push((s.key.clone(), u64::try_from(i).unwrap_or(0))),
                            _ => self.err(
                                s.value.pos,
                                format!(
                                    "a visit count must be a whole number of 0 or more, found {}",
                                    s.value.kind()
                                ),
                            ),
                        }
                    }
                }
                "elapsed" => x.elapsed = self.elapsed(v),
                _ => {}
            }
        }
        if let (Some(_), Some(_)) = (&x.output, &x.output_exact)
            && let Some(e) = entries.iter().find(|e| e.key == "output_exact")
        {
            self.err(
                e.key_pos,
                "`output` (a subset) and `output_exact` (equality) exclude each other: keep one",
            );
        }
        x
    }

    fn elapsed(&mut self, node: &Node) -> Option<(Cmp, Millis)> {
        if let Some(s) = node.as_str() {
            let t = s.trim();
            let (cmp, rest) = [
                ("<=", Cmp::Le),
                (">=", Cmp::Ge),
                ("<", Cmp::Lt),
                (">", Cmp::Gt),
                ("==", Cmp::Eq),
            ]
            .iter()
            .find_map(|(p, c)| t.strip_prefix(p).map(|r| (*c, r.trim())))
            .unwrap_or((Cmp::Eq, t));
            return match parse_duration(rest) {
                Some(d) => Some((cmp, d)),
                None => {
                    self.err(
                        node.pos,
                        format!(
                            "`elapsed` must be a duration such as 47s or 1h, optionally after <, <=, > or >= (\"<= 2m\"), found \"{s}\""
                        ),
                    );
                    None
                }
            };
        }
        self.duration(node, "elapsed").map(|d| (Cmp::Eq, d))
    }

    fn step_list(&mut self, node: &Node, field: &str, flow: &Flow) -> Vec<String> {
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!(
                    "`{field}` must be a list of step names, found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|n| {
                let s = self.string(n, field)?;
                self.known_step(s, n.pos, field, flow).then(|| s.to_owned())
            })
            .collect()
    }

    fn known_step(&mut self, name: &str, pos: Pos, field: &str, flow: &Flow) -> bool {
        if step_named(flow, name).is_some() {
            return true;
        }
        let hint = did_you_mean(name, &step_names(flow));
        self.err(
            pos,
            format!(
                "unknown step \"{name}\" in `{field}`: flow `{}` has no such step{hint}",
                flow.name
            ),
        );
        false
    }
}

/// Checks the text of a test file found at `path` (flows are read relative
/// to its folder).
pub(super) fn file(
    path: &Path,
    text: &str,
    cache: &mut FlowCache,
) -> Result<TestFile, Vec<Problem>> {
    let shown = path.display().to_string();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = Reader {
        file: shown.clone(),
        problems: Vec::new(),
    };
    let mut diags = Vec::new();
    let doc = yaml::parse(text, &mut diags);
    for d in diags {
        r.diag(d);
    }
    let doc = match doc {
        Ok(Some(d)) => d,
        Ok(None) => {
            r.err(
                Pos { line: 1, col: 1 },
                "the test file is empty; it needs `flow:` and `cases:`",
            );
            return Err(r.finish());
        }
        Err(d) => {
            r.diag(d);
            return Err(r.finish());
        }
    };
    let file = r.file_spec(path, &doc, cache);
    match file {
        Some(f) if r.problems.is_empty() => Ok(f),
        _ => Err(r.finish()),
    }
}
