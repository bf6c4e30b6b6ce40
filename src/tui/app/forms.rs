//! The forms and overlays that take the keys: the editor (a new
//! execution's input, a report's output or error), the stop question, the
//! flow picker, the executions filter, and a bracketed paste.

use super::{App, success_command};
use crate::fc::Answer;
use crate::runtime::Command;
use crate::sim::Sim;
use crate::tui::action::Action;
use crate::tui::editor::{Field, Purpose, Target};

/// The question `x` asks before stopping an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub flow: String,
    pub name: String,
}

/// The flow picker (`F`): a filter and the picked row among the matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub filter: Field,
    pub sel: usize,
}

impl App {
    /// The stop question: yes stops, no keeps it running.
    pub(super) fn update_confirm(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Submit => {
                let c = self.confirm.take()?;
                Some(Command::StopExecution {
                    flow: c.flow,
                    name: c.name,
                    error: "Stopped".into(),
                    cause: "stopped from the TUI".into(),
                })
            }
            Action::Cancel => {
                self.confirm = None;
                self.set_status("not stopped");
                None
            }
            _ => None,
        }
    }

    /// The flows the picker lists: those matching its filter (any case),
    /// as indexes into `flows`.
    pub fn picker_matches(&self) -> Vec<usize> {
        let Some(p) = &self.picker else {
            return Vec::new();
        };
        let needle = p.filter.text.to_lowercase();
        (0..self.flows.len())
            .filter(|&i| self.flows[i].to_lowercase().contains(&needle))
            .collect()
    }

    pub(super) fn update_picker(&mut self, action: Action) {
        let matches = self.picker_matches();
        let Some(p) = self.picker.as_mut() else {
            return;
        };
        // The picked row: the flow `sel` names, else the first match.
        let row = matches.iter().position(|&i| i == p.sel).unwrap_or(0);
        match action {
            Action::Cancel => {
                self.picker = None;
                return;
            }
            Action::Up => p.sel = matches[..row].last().copied().unwrap_or(p.sel),
            Action::Down => p.sel = matches.get(row + 1).copied().unwrap_or(p.sel),
            Action::Submit => {
                let Some(&i) = matches.get(row) else {
                    return; // nothing matches: nothing to pick
                };
                self.picker = None;
                self.flow_idx = i;
                let f = self.flows[i].clone();
                self.set_status(format!("new executions start flow {f} (n)"));
                return;
            }
            Action::Insert(c) => p.filter.insert(c),
            Action::Backspace => p.filter.backspace(),
            Action::Delete => p.filter.delete(),
            Action::Left => p.filter.left(),
            Action::Right => p.filter.right(),
            Action::Top => p.filter.home(),
            Action::Bottom => p.filter.end(),
            Action::KillToStart => p.filter.kill_to_start(),
            Action::KillToEnd => p.filter.kill_to_end(),
            Action::KillWord => p.filter.kill_word(),
            _ => {}
        }
        // Typing may hide the picked flow: then the first match is picked.
        let matches = self.picker_matches();
        if let Some(p) = self.picker.as_mut()
            && !matches.contains(&p.sel)
            && let Some(&first) = matches.first()
        {
            p.sel = first;
        }
    }

    /// Sets the executions filter; keeps the selection if still listed,
    /// else the newest.
    pub(super) fn set_filter(&mut self, text: String, sim: &Sim) {
        if text == self.list.text {
            return;
        }
        self.list.set_text(text, &sim.engine);
        self.list_offset = 0;
        if self.selected.and_then(|id| self.list.row_of(id)).is_none() {
            self.select(self.list.at(0));
        }
        self.follow = self.selected.is_some() && self.selected == self.newest_root(sim);
    }

    pub(super) fn update_filter(&mut self, action: Action, sim: &Sim) {
        let mut text = self.list.text.clone();
        match action {
            Action::Insert(c) => text.push(c),
            Action::Backspace => {
                text.pop();
            }
            Action::KillToStart | Action::KillWord => text.clear(),
            Action::Submit => {
                self.filtering = false;
                return;
            }
            Action::Cancel => {
                self.filtering = false;
                text.clear();
            }
            _ => return,
        }
        self.set_filter(text, sim);
    }

    /// A bracketed paste: inserted into the open editor's field as text
    /// (line breaks and tabs become spaces: a field is one line and a paste
    /// never submits); ignored when no editor is open. Answers whether
    /// anything changed.
    pub fn paste(&mut self, text: &str) -> bool {
        let field = match (self.editor.as_mut(), self.picker.as_mut()) {
            (Some(editor), _) => editor.field(),
            (None, Some(picker)) => &mut picker.filter,
            (None, None) => return false,
        };
        let clean: String = text
            .replace("\r\n", "\n")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        field.insert_str(&clean);
        !clean.is_empty()
    }

    pub(super) fn update_editor(&mut self, action: Action) -> Option<Command> {
        let editor = self.editor.as_mut()?;
        match action {
            Action::Cancel => {
                self.editor = None;
                self.set_status("cancelled");
            }
            Action::Insert(c) => editor.field().insert(c),
            Action::Backspace => editor.field().backspace(),
            Action::Delete => editor.field().delete(),
            Action::Left => editor.field().left(),
            Action::Right => editor.field().right(),
            Action::Top => editor.field().home(),
            Action::Bottom => editor.field().end(),
            Action::KillToStart => editor.field().kill_to_start(),
            Action::KillToEnd => editor.field().kill_to_end(),
            Action::KillWord => editor.field().kill_word(),
            Action::NextField => editor.next_field(),
            Action::Submit => {
                if let Err(e) = editor.check() {
                    self.set_error(format!("cannot submit: {e}"));
                    return None;
                }
                let editor = self.editor.take()?;
                let text = |i: usize| {
                    editor
                        .fields
                        .get(i)
                        .map(|f| f.text.clone())
                        .unwrap_or_default()
                };
                return Some(match editor.purpose {
                    Purpose::NewExecution { flow } => {
                        self.inputs.insert(flow.clone(), text(0));
                        Command::StartExecution {
                            flow,
                            name: None,
                            input: text(0),
                        }
                    }
                    Purpose::ReportSuccess { target } => success_command(target, &text(0)),
                    Purpose::ReportFailure { target } => match target {
                        Target::Task { token, .. } => Command::ReportFailed {
                            token,
                            error: text(0),
                            cause: text(1),
                        },
                        Target::Held { id } => Command::AnswerHeld {
                            id,
                            answer: Answer::Fail {
                                error: text(0),
                                cause: text(1),
                            },
                        },
                    },
                });
            }
            _ => {}
        }
        None
    }
}
