//! What the callback keys act on: the waiting task a report (`Y`/`y`/`f`)
//! goes to, the held push `a`/`A` answer, and what `C` copies.

use serde_json::Value;

use super::App;
use crate::engine::{EventType, history};
use crate::fc::{Answer, Behaviour, Received};
use crate::fdl::{Pattern, StepKind};
use crate::runtime::Command;
use crate::sim::Sim;
use crate::tui::action::Tab;
use crate::tui::editor::Target;

impl App {
    /// What `a`/`A` answer: the held push picked on the Messages tab
    /// (the first, until one is picked) among those the function holds for
    /// the selected execution.
    pub(super) fn held_target(&self, sim: &Sim) -> Result<(Target, String), String> {
        let id = self
            .selected
            .ok_or("no execution selected: press n to start one")?;
        let x = sim.engine.execution(id).ok_or("no execution selected")?;
        let held = self.held_of(sim);
        let Some(h) = held.get(self.held_sel.min(held.len().saturating_sub(1))) else {
            return Err(if self.handler(sim) == Behaviour::Manual {
                format!(
                    "the function holds nothing for execution {}: a answers a held push; Y / f report on the token",
                    x.name
                )
            } else {
                format!(
                    "the function is {}, not manual: it holds no push (h cycles it); Y / f report on the token",
                    self.handler(sim).as_str()
                )
            });
        };
        let what = match &h.received {
            Received::Push(n) => format!("push #{n}"),
            Received::Invoke(_) => "invocation".to_owned(),
        };
        Ok((Target::Held { id: h.id() }, format!("{} / {what}", x.name)))
    }

    /// What `y`/`Y`/`f` report on: the selected execution's waiting task
    /// (the picked step's first); else its last callback task, even if it
    /// already ended, so the upstream error shows.
    pub(super) fn report_target(&self, sim: &Sim) -> Result<(Target, String), String> {
        let id = self
            .selected
            .ok_or("no execution selected: press n to start one")?;
        let x = sim.engine.execution(id).ok_or("no execution selected")?;
        let waiting = sim.engine.waiting_tasks(id);
        // Not one reported a moment ago (its answer is on its way).
        let open: Vec<_> = waiting
            .iter()
            .filter(|(.., token)| !self.reporting.contains(token))
            .collect();
        let pick = open
            .iter()
            .copied()
            .find(|(s, ..)| Some(*s) == self.step_sel)
            .or_else(|| open.first().copied())
            .or_else(|| waiting.first());
        if let Some((step, _, token)) = pick {
            let name = x.flow.step(*step).name.clone();
            return Ok((
                Target::Task {
                    token: token.clone(),
                    step: name.clone(),
                },
                format!("{} / {name}", x.name),
            ));
        }
        // Nothing waits: say at once why nothing can be reported, with the
        // error the engine would answer a report with.
        let had_callback = x.history.iter().any(|e| {
            e.kind == EventType::TaskScheduled
                && e.step.is_some_and(|s| {
                    matches!(&x.flow.step(s).kind, StepKind::Task(t) if t.pattern == Pattern::WaitForCallback)
                })
        });
        Err(if !had_callback {
            format!("no task of execution {} waits for a callback", x.name)
        } else if x.status.is_final() {
            format!(
                "TaskAlreadyCompleted: execution {} has already ended ({}): nothing to report",
                x.name, x.status
            )
        } else {
            format!(
                "TaskAlreadyCompleted: no task of execution {} waits for a callback now",
                x.name
            )
        })
    }

    /// `C`: the text to copy: on the History tab the selected event (in the
    /// GetExecutionHistory shape), else the task token of the picked (else
    /// the waiting, else the inspected) step. Written to the clipboard
    /// with OSC 52 after the next frame.
    pub(super) fn copy(&mut self, sim: &Sim) {
        let Some(x) = self.selected.and_then(|id| sim.engine.execution(id)) else {
            self.set_error("nothing to copy: no execution selected");
            return;
        };
        if self.tab == Tab::History && !x.history.is_empty() {
            let n = x.history.len();
            let e = &x.history[self.shown_events(x).clamp(1, n) - 1];
            let json = history::event_json(&x.flow, e, sim.epoch_ms()).to_string();
            self.set_status(format!(
                "copied event {} ({}) to the clipboard ({} characters, OSC 52)",
                e.id,
                e.kind,
                json.chars().count()
            ));
            self.clipboard = Some(json);
            return;
        }
        let waiting = sim.engine.waiting_tasks(x.id);
        let live = waiting
            .iter()
            .find(|(s, ..)| Some(*s) == self.step_sel)
            .or_else(|| {
                if self.step_sel.is_none() {
                    waiting.first()
                } else {
                    None
                }
            })
            .map(|(s, _, tok)| (*s, tok.clone()));
        // Else the inspected step's last token as of the shown events
        // (it may have ended: a report on it shows the upstream error).
        let found = live.or_else(|| {
            let step = self.inspected_step(x)?;
            x.history[..self.shown_events(x)]
                .iter()
                .rev()
                .filter(|e| e.step == Some(step) && e.kind == EventType::TaskStarted)
                .find_map(|e| detail_token(&e.detail))
                .map(|t| (step, t))
        });
        match found {
            Some((step, token)) => {
                self.set_status(format!(
                    "copied the task token of {} to the clipboard (OSC 52)",
                    x.flow.step(step).name
                ));
                self.clipboard = Some(token);
            }
            None => self.set_error(format!(
                "nothing to copy: {} {} has no task token (History tab: C copies an event)",
                super::step_word(&x.flow),
                self.inspected_step(x)
                    .map(|s| x.flow.step(s).name.as_str())
                    .unwrap_or("—")
            )),
        }
    }
}

pub(super) fn success_command(target: Target, output: &str) -> Command {
    match target {
        Target::Task { token, .. } => Command::ReportSucceeded {
            token,
            output: output.to_owned(),
        },
        Target::Held { id } => Command::AnswerHeld {
            id,
            answer: Answer::Succeed(
                serde_json::from_str(output).unwrap_or(Value::Object(Default::default())),
            ),
        },
    }
}

/// The `taskToken` of a `TaskStarted` detail.
pub(super) fn detail_token(detail: &str) -> Option<String> {
    let v: Value = serde_json::from_str(detail).ok()?;
    v.get("taskToken")?.as_str().map(str::to_owned)
}
