//! init: a skeleton test file for a flow (`flowsim test --init FLOW`).
//!
//! One case for the way through with every task answered as the handler
//! would, one per choice branch and default, one per catch clause. Each
//! case is run once here: a branch case gets an input built from its
//! condition ([`Condition::witness`](crate::fdl::condition::Condition::witness)),
//! a catch case the answer that fires the catch (`drop` for a timeout of
//! a task with `timeoutSeconds`, else `fail` with an error the clause
//! names), and `expect` is filled with what the run did. A case whose run
//! did not take its branch or fire its catch says so with a TODO. Writes
//! nothing itself: it answers the text.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::coverage::{ItemKind, Tally};
use super::run::{self, Defaults};
use super::spec::{self, Answer, Case, Expect, Handler, Kind, TestFile};
use super::{FlowTestError, Problem};
use crate::engine::{Status, error_matches};
use crate::fdl::{Flow, Pattern, Pos, Resource, StepId, StepKind};

/// A case of the skeleton and the item it is meant to exercise.
struct Draft {
    case: Case,
    /// (step, kind) of the branch or catch it aims at.
    aim: Option<(StepId, ItemKind)>,
    /// Why the case may not do what it says, to the reader.
    todo: Option<String>,
}

/// The skeleton test file for `flow_path`, as it would be written at
/// `test_path` (the `flow:` line is relative to it).
pub fn skeleton(
    flow_path: &Path,
    test_path: &Path,
    defaults: &Defaults,
) -> Result<String, FlowTestError> {
    let rel = relative(flow_path, test_path);
    // Loaded through the test file reader itself, so sub-flows beside the
    // flow are found exactly as when the skeleton runs.
    let probe = format!(
        "flow: {}\ncases:\n  - name: probe\n",
        yaml_str(&rel.display().to_string())
    );
    let mut cache = spec::FlowCache::new();
    let file = spec::parse(test_path, &probe, &mut cache).map_err(|mut problems| {
        // A problem in the flow is reported against the flow; the probe's
        // own pointer at `flow:` means nothing to the user.
        problems.retain(|p| p.file != test_path.display().to_string());
        if problems.is_empty() {
            problems.push(Problem {
                file: flow_path.display().to_string(),
                pos: Pos { line: 1, col: 1 },
                message: "the flow cannot be loaded".into(),
            });
        }
        FlowTestError::Invalid(problems)
    })?;
    let flow = file.flow().clone();
    let through = case_of(
        "the way through".into(),
        Value::Object(Map::new()),
        &file,
        defaults,
    );
    // Which child execution each sub-flow task starts, on the way through:
    // a catch case fails that child's tasks and answers the ones before.
    let children = run::drive(&file, &through, defaults)
        .map(|d| child_order(&d))
        .unwrap_or_default();
    let mut drafts = vec![Draft {
        case: through,
        aim: None,
        todo: None,
    }];
    for step in &flow.steps {
        match &step.kind {
            StepKind::Choice(c) => {
                for (i, b) in c.choices.iter().enumerate() {
                    let name =
                        format!("{}: branch {} ({})", step.name, i + 1, b.condition.source());
                    let (input, todo) = match b.condition.witness() {
                        Some(w) => (w, None),
                        None => (
                            Value::Object(Map::new()),
                            Some(format!(
                                "write an input for which `{}` is true",
                                b.condition.source()
                            )),
                        ),
                    };
                    drafts.push(Draft {
                        case: case_of(name, input, &file, defaults),
                        aim: Some((step.id, ItemKind::Branch(i))),
                        todo,
                    });
                }
                if c.default.is_some() {
                    drafts.push(Draft {
                        case: case_of(
                            format!("{}: default", step.name),
                            Value::Object(Map::new()),
                            &file,
                            defaults,
                        ),
                        aim: Some((step.id, ItemKind::Default)),
                        todo: None,
                    });
                }
            }
            StepKind::Task(t) => {
                for (i, rule) in t.catch.iter().enumerate() {
                    let target = &flow.step(rule.goto).name;
                    let name = format!(
                        "{}: catch {} -> {target}",
                        step.name,
                        rule.errors.join(", ")
                    );
                    let mut case = case_of(name, Value::Object(Map::new()), &file, defaults);
                    let todo = match catch_answer(t, i) {
                        Some(answer) => {
                            let before = children
                                .iter()
                                .find(|(s, _)| *s == step.id)
                                .map_or(0, |(_, n)| *n);
                            script(&mut case, &file, step.id, &flow, answer, before, defaults);
                            None
                        }
                        None => Some(format!(
                            "an earlier catch clause of `{}` takes every error this one names",
                            step.name
                        )),
                    };
                    drafts.push(Draft {
                        case,
                        aim: Some((step.id, ItemKind::Catch(i))),
                        todo,
                    });
                }
            }
            _ => {}
        }
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Tests of {} (written by `flowsim test --init`; complete them, then run\n\
         # `flowsim test {}`). One case per choice branch and per catch clause;\n\
         # `expect` holds what each case did when it was written: check it.",
        rel.display(),
        test_path.display()
    );
    let _ = writeln!(text, "flow: {}", yaml_str(&rel.display().to_string()));
    let _ = writeln!(text, "cases:");
    for mut d in drafts {
        fill_expect(&mut d, &file, defaults);
        write_case(&mut text, &d);
    }
    Ok(text)
}

/// A case with every answerable task step of the flow under test scripted
/// as the handler would answer.
fn case_of(name: String, input: Value, file: &TestFile, defaults: &Defaults) -> Case {
    let flow = file.flow();
    let mut tasks = Vec::new();
    for step in &flow.steps {
        if answerable(&step.kind) {
            tasks.push((step.name.clone(), vec![default_answer(defaults)]));
        }
    }
    Case {
        name,
        pos: Pos::default(),
        input,
        seed: None,
        handler: None,
        max_time: None,
        tasks,
        expect: Expect::default(),
    }
}

fn answerable(kind: &StepKind) -> bool {
    match kind {
        StepKind::Task(t) => match t.resource {
            Resource::Flow { .. } => false,
            Resource::MnsTopic { .. } | Resource::MnsQueue { .. } => {
                t.pattern == Pattern::WaitForCallback
            }
            Resource::Function { .. } | Resource::Api { .. } => true,
        },
        _ => false,
    }
}

fn default_answer(defaults: &Defaults) -> Answer {
    let kind = match defaults.handler {
        Handler::Succeed => Kind::Succeed(Some(defaults.output.clone())),
        Handler::Fail => Kind::Fail(Some((
            defaults.fail_error.clone(),
            defaults.fail_cause.clone(),
        ))),
        Handler::Error => Kind::Error,
        Handler::Drop => Kind::Drop,
    };
    Answer {
        kind,
        after: 0,
        duplicate: false,
        pos: Pos::default(),
    }
}

/// The answer that fires catch clause `i` of `task`: `drop` for a timeout
/// (with `timeoutSeconds`), else a failure with an error the clause names
/// and no earlier clause takes.
fn catch_answer(task: &crate::fdl::Task, i: usize) -> Option<Kind> {
    let rule = task.catch.get(i)?;
    let earlier = &task.catch[..i];
    let candidates = rule
        .errors
        .iter()
        .map(|e| match e.as_str() {
            "FnF.ALL" => "HandlerError".to_owned(),
            other => other.to_owned(),
        })
        .chain(["HandlerError".to_owned(), "TestError".to_owned()]);
    for error in candidates {
        if !error_matches(&rule.errors, &error)
            || earlier.iter().any(|r| error_matches(&r.errors, &error))
        {
            continue;
        }
        if error == crate::engine::TASK_TIMEOUT && task.timeout_seconds.is_some() {
            return Some(Kind::Drop);
        }
        return Some(Kind::Fail(Some((
            error,
            "written by flowsim test --init".to_owned(),
        ))));
    }
    None
}

/// For each sub-flow task of the case's own execution, how many child
/// executions of the same flow started before its child (the child's
/// tasks are scripted by step name, one answer per delivery in order).
fn child_order(d: &run::Driven) -> Vec<(StepId, usize)> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::new();
    for x in d.sim.engine.executions() {
        let Some(p) = x.parent() else { continue };
        let n = match seen.iter_mut().find(|(f, _)| *f == x.flow.name) {
            Some((_, n)) => {
                *n += 1;
                *n - 1
            }
            None => {
                seen.push((x.flow.name.clone(), 1));
                0
            }
        };
        if p.task.exec == d.exec && !out.iter().any(|(s, _)| *s == p.step) {
            out.push((p.step, n));
        }
    }
    out
}

/// Scripts `kind` for task step `step`: itself when the function answers
/// it, else (a sub-flow task) every answerable task of the child flow,
/// after `before` deliveries answered as the handler would (the children
/// started before this one).
fn script(
    case: &mut Case,
    file: &TestFile,
    step: StepId,
    flow: &Flow,
    kind: Kind,
    before: usize,
    defaults: &Defaults,
) {
    let answer = Answer {
        kind,
        after: 0,
        duplicate: false,
        pos: Pos::default(),
    };
    let s = flow.step(step);
    let targets: Vec<String> = match &s.kind {
        StepKind::Task(t) => match &t.resource {
            Resource::Flow { flow: child } => file
                .flows
                .iter()
                .find(|(_, f)| f.name == *child)
                .map(|(_, f)| {
                    f.steps
                        .iter()
                        .filter(|s| answerable(&s.kind))
                        .map(|s| s.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            _ => vec![s.name.clone()],
        },
        _ => Vec::new(),
    };
    let is_child = targets.first().is_some_and(|t| *t != s.name);
    let mut answers = Vec::new();
    if is_child {
        answers.resize(before, default_answer(defaults));
    }
    answers.push(answer);
    for t in targets {
        match case.tasks.iter_mut().find(|(n, _)| *n == t) {
            Some((_, a)) => *a = answers.clone(),
            None => case.tasks.push((t, answers.clone())),
        }
    }
}

/// Runs the draft and writes what it did into `expect`; notes a case that
/// misses its aim.
fn fill_expect(d: &mut Draft, file: &TestFile, defaults: &Defaults) {
    let one = TestFile {
        cases: Vec::new(),
        ..file.clone()
    };
    let Ok(run) = run::drive(&one, &d.case, defaults) else {
        d.todo
            .get_or_insert_with(|| "the case does not start".into());
        return;
    };
    let Some(x) = run.sim.engine.execution(run.exec) else {
        return;
    };
    let mut tally = Tally::new(&x.flow);
    tally.add(x);
    if let Some((step, kind)) = d.aim {
        let hit = tally
            .items
            .iter()
            .zip(&tally.hits)
            .any(|(it, h)| it.step == step && it.kind == kind && *h > 0);
        if !hit && d.todo.is_none() {
            let what = tally
                .items
                .iter()
                .find(|it| it.step == step && it.kind == kind)
                .map_or_else(String::new, |it| it.label.clone());
            d.todo = Some(format!(
                "this case does not exercise `{what}` yet: change its input or answers"
            ));
        }
    }
    let e = &mut d.case.expect;
    e.status = Some(if x.status.is_final() {
        x.status
    } else {
        Status::Running
    });
    if let Some(err) = &x.error {
        e.error = Some(err.error.clone());
    }
    if x.status == Status::Succeeded
        && let Some(o) = x
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
    {
        e.output = Some(o);
    }
    e.path = Some(
        x.history
            .iter()
            .filter(|ev| ev.kind == crate::engine::EventType::StepEntered)
            .filter_map(|ev| ev.step)
            .map(|s| x.flow.step(s).name.clone())
            .collect(),
    );
}

fn write_case(out: &mut String, d: &Draft) {
    let c = &d.case;
    let _ = writeln!(out, "  - name: {}", yaml_str(&c.name));
    if let Some(t) = &d.todo {
        let _ = writeln!(out, "    # TODO: {t}");
    }
    let _ = writeln!(out, "    input: {}", json_inline(&c.input));
    if !c.tasks.is_empty() {
        let _ = writeln!(out, "    tasks:");
        for (name, answers) in &c.tasks {
            let _ = writeln!(out, "      {}:", yaml_str(name));
            for a in answers {
                let _ = writeln!(out, "        - {}", answer_text(a));
            }
        }
    }
    let e = &c.expect;
    let _ = writeln!(out, "    expect:");
    if let Some(s) = e.status {
        let _ = writeln!(out, "      status: {s}");
    }
    if let Some(err) = &e.error {
        let _ = writeln!(out, "      error: {}", yaml_str(err));
    }
    if let Some(o) = &e.output {
        let _ = writeln!(out, "      output: {}", json_inline(o));
    }
    if let Some(p) = &e.path {
        let names: Vec<String> = p.iter().map(|s| yaml_str(s)).collect();
        let _ = writeln!(out, "      path: [{}]", names.join(", "));
    }
}

fn answer_text(a: &Answer) -> String {
    match &a.kind {
        Kind::Succeed(Some(v)) => format!("succeed: {}", json_inline(v)),
        Kind::Succeed(None) => "succeed".into(),
        Kind::Fail(Some((e, c))) => {
            format!("fail: {}", json_inline(&json!({"error": e, "cause": c})))
        }
        Kind::Fail(None) => "fail".into(),
        Kind::Error => "error".into(),
        Kind::Drop | Kind::Default => "drop".into(),
    }
}

/// JSON as inline YAML (JSON is YAML), `{}` spaced for reading.
fn json_inline(v: &Value) -> String {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml_str(k), json_inline(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) if !a.is_empty() => {
            let items: Vec<String> = a.iter().map(json_inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) => yaml_str(s),
        other => other.to_string(),
    }
}

/// A string as YAML: plain when it reads back as the same string, else
/// double-quoted (JSON escapes are YAML's).
fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ' '))
        && !s.ends_with(' ')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off"
        );
    if plain {
        s.to_owned()
    } else {
        Value::String(s.to_owned()).to_string()
    }
}

/// `flow` relative to the folder of `test` when they share one, else as
/// given.
fn relative(flow: &Path, test: &Path) -> std::path::PathBuf {
    let dir = test.parent().unwrap_or(Path::new(""));
    let (Ok(f), Ok(d)) = (
        flow.canonicalize(),
        if dir.as_os_str().is_empty() {
            Path::new(".").canonicalize()
        } else {
            dir.canonicalize()
        },
    ) else {
        return flow.to_path_buf();
    };
    match f.strip_prefix(&d) {
        Ok(r) => r.to_path_buf(),
        Err(_) => f,
    }
}

/// Where `--init` writes the skeleton of `flow`: `NAME.test.yaml` beside it.
pub fn default_path(flow: &Path) -> std::path::PathBuf {
    let stem = flow
        .file_stem()
        .map_or_else(|| "flow".into(), |s| s.to_string_lossy().into_owned());
    flow.with_file_name(format!("{stem}.test.yaml"))
}
