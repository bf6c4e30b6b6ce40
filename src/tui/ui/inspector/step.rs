//! The Step tab: the execution's status and result, its parent when it is
//! a sub-flow's child, then the inspected step: kind, state, child
//! execution, and its input, local, output, task token and error as of
//! the shown events. For a CloudFlow state machine it reads in its words:
//! `State` (the name, its type, TaskMode and resource), `Status`, and
//! `Result` (the task's raw `$Output`) for the local.

use ratatui::text::{Line, Span};

use super::kv;
use crate::engine::{EventType, Execution, Status};
use crate::fdl::StepKind;
use crate::sim::Sim;
use crate::tui::app::{App, boxes_at, is_subflow_task};
use crate::tui::theme::Theme;
use crate::tui::ui::detail_field;

pub(super) fn step_lines<'a>(app: &App, sim: &Sim, x: &'a Execution, t: Theme) -> Vec<Line<'a>> {
    let shown = app.shown_events(x);
    let events = &x.history[..shown];
    let mut lines = Vec::new();
    // The execution first: its status and output (as of the shown event).
    let ended = events.iter().rev().find(|e| {
        matches!(
            e.kind,
            EventType::ExecutionSucceeded
                | EventType::ExecutionFailed
                | EventType::ExecutionStopped
                | EventType::ExecutionTimedOut
        )
    });
    let status = match ended.map(|e| e.kind) {
        Some(EventType::ExecutionSucceeded) => Status::Succeeded,
        Some(EventType::ExecutionFailed) => Status::Failed,
        Some(EventType::ExecutionStopped) => Status::Stopped,
        Some(EventType::ExecutionTimedOut) => Status::TimedOut,
        _ => Status::Running,
    };
    let head = vec![
        Span::styled("Execution ", t.dim()),
        Span::styled(x.name.to_string(), t.strong()),
        Span::raw(" "),
        Span::styled(
            format!("{} {}", Theme::status_glyph(status), status.as_str()),
            t.status(status),
        ),
    ];
    lines.push(Line::from(head));
    // A sub-flow's child names its parent execution and task.
    if let Some(p) = x.parent()
        && let Some(px) = sim.engine.execution(p.task.exec)
    {
        lines.push(Line::from(vec![
            Span::styled("Parent  ", t.dim()),
            Span::styled(format!("↰ {}", px.name), t.strong()),
            Span::styled(
                format!(" / {} ({})", px.flow.step(p.step).name, px.flow.name),
                t.dim(),
            ),
            Span::styled("  p: go there", t.key()),
        ]));
    }
    if let Some(e) = ended {
        if let Some(out) = detail_field(&e.detail, "output") {
            lines.push(Line::from(vec![
                Span::styled("  output ", t.dim()),
                Span::styled(out, t.strong()),
            ]));
        } else if let Some(err) = detail_field(&e.detail, "error") {
            let cause = detail_field(&e.detail, "cause").unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled("  error  ", t.dim()),
                Span::styled(format!("{err}: {cause}"), t.error()),
            ]));
        }
    }
    let Some(step) = app.inspected_step(x) else {
        return lines;
    };
    let s = x.flow.step(step);
    let boxes = boxes_at(x, shown);
    let b = boxes.get(step.index()).copied().unwrap_or_default();
    let st = b.state;
    // A state machine's words: its states, their CloudFlow types, a
    // task's TaskMode and Action, its raw result `$Output`.
    let sm = x.flow.lang.pipes();
    let mut kind = x.flow.type_name(s).to_owned();
    if let StepKind::Task(task) = &s.kind {
        kind = match &task.api {
            Some(api) => format!("{kind} · {} · {}", api.mode.as_str(), task.resource_arn),
            None => format!("{kind} · {} · {}", task.pattern.as_str(), task.resource_arn),
        };
    }
    let (step_key, state_key, local_key) = if sm {
        ("State   ", "Status  ", "Result")
    } else {
        ("Step    ", "State   ", "Local")
    };
    lines.push(Line::from(vec![
        Span::styled(step_key, t.dim()),
        Span::styled(s.name.clone(), t.strong()),
        Span::styled(format!("  {kind}"), t.dim()),
    ]));
    let mut state = vec![
        Span::styled(state_key, t.dim()),
        Span::styled(
            format!("{} {}", Theme::step_glyph(st), st.as_str()),
            t.step(st),
        ),
    ];
    if let Some((done, total)) = b.progress {
        let what = if matches!(s.kind, StepKind::Parallel(_)) {
            "branches"
        } else if matches!(s.kind, StepKind::Foreach(_)) {
            "iterations"
        } else {
            "runs"
        };
        state.push(Span::styled(
            format!(" · {done}/{total} {what} done"),
            t.dim(),
        ));
    }
    lines.push(Line::from(state));
    // A sub-flow task names the child execution it started (the last one,
    // after retries).
    if is_subflow_task(&s.kind) {
        let child = app
            .child_of(x.id, step)
            .and_then(|c| sim.engine.execution(c));
        lines.push(match child {
            Some(c) => Line::from(vec![
                Span::styled("Child   ", t.dim()),
                Span::styled(format!("↳ {}", c.name), t.strong()),
                Span::styled(
                    format!(" {} {}", Theme::status_glyph(c.status), c.status.as_str()),
                    t.status(c.status),
                ),
                Span::styled("  Enter/c: go there", t.key()),
            ]),
            None => kv("Child", "— (not started)".to_owned(), t),
        });
    }
    let mut input = None;
    let mut local = None;
    let mut output = None;
    let mut token = None;
    let mut error = None;
    for e in events.iter().filter(|e| e.step == Some(step)) {
        match e.kind {
            EventType::StepEntered => {
                input = detail_field(&e.detail, "input");
                (local, output, token, error) = (None, None, None, None);
            }
            EventType::TaskStarted => token = detail_field(&e.detail, "taskToken"),
            EventType::TaskSubmitted => local = Some(e.detail.to_string()),
            EventType::TaskSucceeded => local = detail_field(&e.detail, "output"),
            EventType::StepExited | EventType::StepSucceeded => {
                output = detail_field(&e.detail, "output")
            }
            EventType::TaskFailed
            | EventType::TaskTimedOut
            | EventType::TaskSubmitFailed
            | EventType::StepFailed => {
                let err = detail_field(&e.detail, "error").unwrap_or_default();
                let cause = detail_field(&e.detail, "cause").unwrap_or_default();
                error = Some(format!("{err}: {cause}"));
            }
            _ => {}
        }
    }
    let none = || "—".to_owned();
    lines.push(kv("Input", input.unwrap_or_else(none), t));
    lines.push(kv(local_key, local.unwrap_or_else(none), t));
    lines.push(kv("Output", output.unwrap_or_else(none), t));
    lines.push(kv("Token", token.unwrap_or_else(none), t));
    match error {
        Some(e) => lines.push(Line::from(vec![
            Span::styled("Error   ", t.dim()),
            Span::styled(e, t.error()),
        ])),
        None => lines.push(kv("Error", none(), t)),
    }
    lines
}
