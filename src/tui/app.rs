//! app: the TUI's state and what each [`Action`] does to it.
//!
//! Owns the view state (focus, selection, scroll offsets, overlays, the
//! status line, time travel) and the cached indexes that keep rendering
//! O(visible): the filtered executions list and executions -> messages,
//! both updated incrementally from what is new. `App::update` turns an
//! action into view changes and maybe a [`Command`] for the runtime; it
//! reads the `Sim` but never mutates it.
//!
//! Submodules, each an `impl App` block or a value it holds: `list` (the
//! executions list index), `forms` (the editor, the stop question, the
//! flow picker, the filter), `report` (what the callback keys and `C`
//! act on), `mouse` (clicks and the wheel), `format` (times, speeds).

mod format;
mod forms;
mod list;
mod mouse;
mod report;

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::action::{Action, Focus, KeyContext, Tab};
use super::editor::{DEFAULT_OUTPUT, Editor, Field};
use super::graph::{BoxState, box_states};
use super::theme::Theme;
use crate::engine::{EventType, ExecId, Execution, TaskRef};
use crate::fc::{Behaviour, Held, Received};
use crate::fdl::layout::{Graph, NodeKind, layout};
use crate::fdl::{Flow, Resource, StepId, StepKind};
use crate::runtime::{Command, CommandError, Mode, Outcome, Reply, RunState, SPEEDS};
use crate::sim::Sim;
pub use format::{format_age, format_clock, format_speed};
pub use forms::{Confirm, Picker};
pub use list::ExecList;
pub use mouse::Regions;
use report::success_command;

/// The input a new execution of a flow without a sample input line (and
/// not started before) is prefilled with.
pub const EMPTY_INPUT: &str = "{}";

/// How many newest rows [`App::sync`] looks through for the newest
/// execution started from outside (not a sub-flow's child) to follow.
const FOLLOW_SCAN: usize = 1_000;

/// Settings (mode, speed, the function's behaviour) asked of the runtime
/// and not answered yet: what the App shows and builds on meanwhile.
#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    mode: Option<Mode>,
    speed: Option<f64>,
    handler: Option<Behaviour>,
    /// Setting commands sent and not answered.
    inflight: usize,
}

/// The status line: the outcome of the last command, or a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub text: String,
    pub error: bool,
    /// A passing note (an execution started): what the selected execution
    /// waits for, if anything, is shown instead.
    pub passing: bool,
}

/// Where the TUI opens (see [`App::open_at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAt {
    pub exec: ExecId,
    /// The step to pick in the graph (and show on the Step tab).
    pub step: Option<StepId>,
    /// Time travel to just after this history event (an index).
    pub event: Option<usize>,
    /// The status line to open with, and whether it reports an error.
    pub status: String,
    pub error: bool,
}

/// The whole state of the TUI.
pub struct App {
    pub theme: Theme,
    /// The loaded flows, by name.
    pub flows: Vec<String>,
    /// The flow new executions start.
    pub flow_idx: usize,
    pub focus: Focus,
    pub tab: Tab,
    pub help: bool,
    pub help_scroll: u16,
    pub editor: Option<Editor>,
    /// `x` asks before it stops.
    pub confirm: Option<Confirm>,
    /// The flow picker, when open.
    pub picker: Option<Picker>,
    /// Typing the filter.
    pub filtering: bool,
    pub list: ExecList,
    pub selected: Option<ExecId>,
    /// Keep the newest execution selected as new ones arrive.
    pub follow: bool,
    /// First visible row of the list (adjusted when drawing).
    pub list_offset: usize,
    /// Rows the list showed last time (for paging).
    pub list_height: usize,
    /// Where the HTTP API is served (`--listen`), shown in the header.
    pub api: Option<String>,
    /// Time travel: how many history events the graph and the Step tab
    /// replay; `None` for the live state.
    pub cursor: Option<usize>,
    /// The step picked in the graph.
    pub step_sel: Option<StepId>,
    /// The held notification picked on the Messages tab.
    pub held_sel: usize,
    /// Scroll of the inspector's content.
    pub inspector_scroll: u16,
    /// Scroll of the History tab's event detail.
    pub detail_scroll: u16,
    /// The History tab shows the selected event's detail alone.
    pub detail_zoom: bool,
    /// Scroll of the graph (x, y), adjusted when drawing.
    pub graph_scroll: (u16, u16),
    /// The wheel scrolled the graph: it stays where it was put instead of
    /// following the picked (or active) step, until a step is picked.
    pub graph_free: bool,
    pub status: Option<StatusLine>,
    /// The last input each flow started with (by flow name).
    pub inputs: HashMap<String, String>,
    /// Text to put on the clipboard (OSC 52), written after the next frame.
    pub clipboard: Option<String>,
    /// Where the panes were drawn last (for the mouse).
    pub regions: Regions,
    /// Tokens reported and not answered yet: a second `Y` before the
    /// runtime answers the first reports on the next waiting task.
    reporting: HashSet<String>,
    reports_inflight: usize,
    /// The runtime's last published state, with the settings this App
    /// asked for and the runtime has not confirmed yet laid over it.
    pub run: RunState,
    /// Settings asked for and not confirmed yet (see [`Pending`]).
    pending: Pending,
    pub quit: bool,
    graphs: HashMap<String, (String, Rc<Graph>)>,
    messages: HashMap<ExecId, Vec<u64>>,
    messages_seen: u64,
    /// Sub-flow children by parent execution: (the parent's task step,
    /// the child), in start order.
    children: HashMap<ExecId, Vec<(StepId, ExecId)>>,
    /// Executions from this id on have not been looked at yet.
    execs_seen: u32,
}

impl App {
    /// A fresh TUI over the flows loaded in `sim`.
    pub fn new(sim: &Sim, run: RunState, theme: Theme) -> App {
        let mut app = App {
            theme,
            flows: sim.engine.flows().map(|f| f.name.clone()).collect(),
            flow_idx: 0,
            focus: Focus::List,
            tab: Tab::Step,
            help: false,
            help_scroll: 0,
            editor: None,
            confirm: None,
            picker: None,
            filtering: false,
            list: ExecList::default(),
            selected: None,
            follow: true,
            list_offset: 0,
            list_height: 10,
            api: None,
            cursor: None,
            step_sel: None,
            held_sel: 0,
            inspector_scroll: 0,
            detail_scroll: 0,
            detail_zoom: false,
            graph_scroll: (0, 0),
            graph_free: false,
            status: None,
            inputs: HashMap::new(),
            clipboard: None,
            regions: Regions::default(),
            reporting: HashSet::new(),
            reports_inflight: 0,
            run,
            pending: Pending::default(),
            quit: false,
            graphs: HashMap::new(),
            messages: HashMap::new(),
            messages_seen: 0,
            children: HashMap::new(),
            execs_seen: 0,
        };
        app.sync(sim, run);
        app
    }

    /// Selects an execution, picks a step and travels to an event, as a
    /// flow test case replayed asks (`flowsim tui --test`): the graph has
    /// the focus, the Step tab shows the step.
    pub fn open_at(&mut self, sim: &Sim, at: OpenAt) {
        if sim.engine.execution(at.exec).is_none() {
            return;
        }
        self.select(Some(at.exec));
        self.follow = false;
        self.step_sel = at.step;
        self.cursor = at.event.map(|e| e + 1);
        self.tab = Tab::Step;
        self.focus = Focus::Graph;
        self.status = Some(StatusLine {
            text: at.status,
            error: at.error,
            passing: false,
        });
    }

    /// Where keys go now.
    pub fn key_context(&self) -> KeyContext {
        if self.editor.is_some() {
            KeyContext::Editor
        } else if self.confirm.is_some() {
            KeyContext::Confirm
        } else if self.picker.is_some() {
            KeyContext::Picker
        } else if self.help {
            KeyContext::Help
        } else if self.filtering {
            KeyContext::Filter
        } else {
            KeyContext::Normal(self.focus)
        }
    }

    /// Catches up with the simulation: only what is new since last time.
    pub fn sync(&mut self, sim: &Sim, run: RunState) {
        self.run = run;
        // Until the runtime answers, a fast second key must build on what
        // the first asked for, not on the state published before it.
        if let Some(mode) = self.pending.mode {
            self.run.mode = mode;
        }
        if let Some(speed) = self.pending.speed {
            self.run.speed = speed;
        }
        self.list.sync(&sim.engine);
        for x in sim.engine.executions_from(ExecId(self.execs_seen)) {
            self.execs_seen = x.id.0.saturating_add(1);
            if let Some(p) = x.parent() {
                self.children
                    .entry(p.task.exec)
                    .or_default()
                    .push((p.step, x.id));
            }
        }
        for m in sim.mns.messages() {
            if m.seq < self.messages_seen {
                continue;
            }
            if let Some(origin) = m.origin {
                self.messages.entry(origin.exec).or_default().push(m.seq);
            }
            self.messages_seen = m.seq + 1;
        }
        if self.follow || self.selected.is_none() {
            let newest = self.newest_root(sim);
            if newest != self.selected {
                self.select(newest);
            }
        }
    }

    /// The execution following selects: the newest listed that was started
    /// from outside (a sub-flow's child is reached from its parent, `c`),
    /// else the newest.
    fn newest_root(&self, sim: &Sim) -> Option<ExecId> {
        (0..self.list.len().min(FOLLOW_SCAN))
            .filter_map(|row| self.list.at(row))
            .find(|id| {
                sim.engine
                    .execution(*id)
                    .is_some_and(|x| x.parent().is_none())
            })
            .or_else(|| self.list.at(0))
    }

    /// The input `n` prefills for `flow`: the last one it started with,
    /// else its sample input line, else `{}` (never another flow's).
    pub fn input_for(&self, flow: &str, sim: &Sim) -> String {
        if let Some(last) = self.inputs.get(flow) {
            return last.clone();
        }
        sim.engine
            .flow(flow)
            .and_then(|f| f.sample_input())
            .unwrap_or_else(|| EMPTY_INPUT.to_owned())
    }

    fn select(&mut self, id: Option<ExecId>) {
        if self.selected != id {
            self.selected = id;
            self.cursor = None;
            self.step_sel = None;
            self.held_sel = 0;
            self.inspector_scroll = 0;
            self.detail_scroll = 0;
            self.graph_free = false;
            // Another execution (maybe another flow): the graph scrolls
            // from its top to the step that matters.
            self.graph_scroll = (0, 0);
        }
    }

    /// What the simulated function does, counting a change asked for and
    /// not confirmed yet.
    pub fn handler(&self, sim: &Sim) -> Behaviour {
        self.pending.handler.unwrap_or(sim.fc.config.behaviour)
    }

    /// Remembers a setting asked of the runtime until its reply.
    fn ask(&mut self, command: Command) -> Option<Command> {
        match &command {
            Command::SetMode(m) => {
                self.pending.mode = Some(*m);
                self.run.mode = *m;
            }
            Command::SetSpeed(s) => {
                self.pending.speed = Some(*s);
                self.run.speed = *s;
            }
            Command::SetHandler(b) => self.pending.handler = Some(*b),
            _ => return Some(command),
        }
        self.pending.inflight += 1;
        Some(command)
    }

    /// The notifications the function holds for the selected execution
    /// (manual behaviour): an invocation of one of its tasks, or a push
    /// whose task token is one of its tasks'.
    pub fn held_of<'a>(&self, sim: &'a Sim) -> Vec<&'a Held> {
        let inbox = sim.fc.inbox();
        let Some(x) = self.selected.and_then(|id| sim.engine.execution(id)) else {
            return Vec::new();
        };
        if inbox.is_empty() {
            return Vec::new();
        }
        let tokens: HashSet<String> = x
            .history
            .iter()
            .filter(|e| e.kind == EventType::TaskScheduled)
            .filter_map(|e| {
                sim.engine.token_for(TaskRef {
                    exec: x.id,
                    task: e.id,
                })
            })
            .collect();
        inbox
            .iter()
            .filter(|h| match &h.received {
                Received::Invoke(r) => r.exec == x.id,
                Received::Push(_) => h.token.as_ref().is_some_and(|t| tokens.contains(t)),
            })
            .collect()
    }

    /// The flow new executions start.
    pub fn current_flow(&self) -> Option<&str> {
        self.flows.get(self.flow_idx).map(String::as_str)
    }

    /// The laid-out graph of a flow (computed once per flow definition).
    pub fn graph(&mut self, flow: &Flow) -> Rc<Graph> {
        // Keyed by name, checked against the definition: `UpdateFlow` (or
        // DeleteFlow and CreateFlow) gives a name another definition, and
        // executions of both may be on screen.
        match self.graphs.get(&flow.name) {
            Some((definition, graph)) if *definition == flow.definition => graph.clone(),
            _ => {
                let graph = Rc::new(layout(flow));
                self.graphs
                    .insert(flow.name.clone(), (flow.definition.clone(), graph.clone()));
                graph
            }
        }
    }

    /// The message sequence numbers published by an execution's tasks.
    pub fn messages_of(&self, id: ExecId) -> &[u64] {
        self.messages.get(&id).map_or(&[], Vec::as_slice)
    }

    /// The child execution a sub-flow task step of `parent` started last,
    /// if any.
    pub fn child_of(&self, parent: ExecId, step: StepId) -> Option<ExecId> {
        self.children
            .get(&parent)?
            .iter()
            .rev()
            .find(|(s, _)| *s == step)
            .map(|(_, c)| *c)
    }

    /// Selects execution `id` (a sub-flow's parent or child), with `step`
    /// picked; clears a filter that would hide it.
    fn jump_to(&mut self, sim: &Sim, id: ExecId, step: Option<StepId>, what: &str) {
        if self.list.row_of(id).is_none() {
            self.list.set_text(String::new(), &sim.engine);
            self.list_offset = 0;
        }
        self.select(Some(id));
        self.follow = false;
        self.step_sel = step;
        self.tab = Tab::Step;
        let name = sim
            .engine
            .execution(id)
            .map(|x| x.name.to_string())
            .unwrap_or_default();
        self.set_status(format!("{what} execution {name}"));
    }

    /// `c` (and Enter on the Step tab): to the child execution of the
    /// inspected sub-flow task.
    fn go_child(&mut self, sim: &Sim) {
        let Some(x) = self.selected.and_then(|id| sim.engine.execution(id)) else {
            self.set_error("no execution selected");
            return;
        };
        let Some(step) = self.inspected_step(x) else {
            self.set_error("no step to follow");
            return;
        };
        let s = x.flow.step(step);
        let is_subflow = is_subflow_task(&s.kind);
        match self.child_of(x.id, step) {
            Some(child) => self.jump_to(sim, child, None, "child"),
            None if is_subflow => self.set_error(format!(
                "{} {} has not started a child execution yet",
                step_word(&x.flow),
                s.name
            )),
            None => self.set_error(format!(
                "{} {} is not a sub-flow task: pick one in the graph (Tab, j/k)",
                step_word(&x.flow),
                s.name
            )),
        }
    }

    /// Whether the Step tab shows a sub-flow task.
    fn inspects_subflow(&self, sim: &Sim) -> bool {
        self.selected
            .and_then(|id| sim.engine.execution(id))
            .and_then(|x| Some(is_subflow_task(&x.flow.step(self.inspected_step(x)?).kind)))
            .unwrap_or(false)
    }

    /// `p`: to the parent execution, its sub-flow task picked.
    fn go_parent(&mut self, sim: &Sim) {
        let Some(x) = self.selected.and_then(|id| sim.engine.execution(id)) else {
            self.set_error("no execution selected");
            return;
        };
        match x.parent() {
            Some(p) => self.jump_to(sim, p.task.exec, Some(p.step), "parent"),
            None => self.set_error(format!(
                "execution {} has no parent: it was not started by a sub-flow task",
                x.name
            )),
        }
    }

    /// How many history events the views replay for `x`.
    pub fn shown_events(&self, x: &Execution) -> usize {
        self.cursor
            .map_or(x.history.len(), |c| c.min(x.history.len()))
    }

    /// The step the Step tab shows: the one picked in the graph, else the
    /// step the execution is at (as of the cursor), else the first.
    pub fn inspected_step(&self, x: &Execution) -> Option<StepId> {
        if let Some(s) = self.step_sel {
            return Some(s);
        }
        let events = &x.history[..self.shown_events(x)];
        events
            .iter()
            .rev()
            .find_map(|e| e.step)
            .or_else(|| x.flow.body.first().copied())
    }

    fn set_status(&mut self, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            error: false,
            passing: false,
        });
    }

    fn set_error(&mut self, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            error: true,
            passing: false,
        });
    }

    /// Applies an action; answers the command for the runtime, if any.
    pub fn update(&mut self, action: Action, sim: &Sim) -> Option<Command> {
        let command = self.apply(action, sim);
        if let Some(Command::ReportSucceeded { token, .. } | Command::ReportFailed { token, .. }) =
            &command
        {
            self.reporting.insert(token.clone());
            self.reports_inflight += 1;
        }
        command
    }

    fn apply(&mut self, action: Action, sim: &Sim) -> Option<Command> {
        if action == Action::Quit {
            self.quit = true;
            return None;
        }
        if self.editor.is_some() {
            return self.update_editor(action);
        }
        if self.confirm.is_some() {
            return self.update_confirm(action);
        }
        if self.picker.is_some() {
            self.update_picker(action);
            return None;
        }
        if self.help {
            match action {
                Action::CloseOverlay | Action::ToggleHelp => self.help = false,
                Action::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
                Action::Down => self.help_scroll = self.help_scroll.saturating_add(1),
                _ => {}
            }
            return None;
        }
        if self.filtering {
            self.update_filter(action, sim);
            return None;
        }
        match action {
            Action::ToggleHelp => {
                self.help = true;
                self.help_scroll = 0;
            }
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => self.move_in_focus(action, sim),
            Action::ScrollDown | Action::ScrollUp => {
                let down = action == Action::ScrollDown;
                self.scroll_text(down, 1);
            }
            Action::Left | Action::Right => match self.focus {
                Focus::Inspector => {
                    self.tab = if action == Action::Left {
                        self.tab.prev()
                    } else {
                        self.tab.next()
                    };
                    self.inspector_scroll = 0;
                }
                Focus::Graph => {
                    let a = if action == Action::Left {
                        Action::Up
                    } else {
                        Action::Down
                    };
                    self.move_in_focus(a, sim);
                }
                Focus::List => {}
            },
            Action::Select => match self.focus {
                Focus::List => self.focus = Focus::Graph,
                Focus::Graph => {
                    if self.step_sel.is_none() {
                        self.move_step(sim, 0);
                    }
                    self.tab = Tab::Step;
                    self.focus = Focus::Inspector;
                    self.inspector_scroll = 0;
                }
                // Enter follows a sub-flow task to its child; elsewhere in
                // the inspector it means nothing (`c` explains why not).
                Focus::Inspector if self.tab == Tab::Step && self.inspects_subflow(sim) => {
                    self.go_child(sim)
                }
                // The History tab: the selected event's detail alone, or
                // back to the events.
                Focus::Inspector if self.tab == Tab::History => {
                    self.detail_zoom = !self.detail_zoom;
                    self.detail_scroll = 0;
                }
                Focus::Inspector => {}
            },
            Action::GoChild => self.go_child(sim),
            Action::GoParent => self.go_parent(sim),
            // Esc: one thing at a time: back to live, else the filter off;
            // the status line goes either way.
            Action::Live => {
                if self.cursor.is_some() || self.detail_zoom {
                    self.cursor = None;
                    self.detail_zoom = false;
                } else if !self.list.text.is_empty() {
                    self.set_filter(String::new(), sim);
                }
                self.status = None;
            }
            Action::ShowTab(t) => {
                self.tab = t;
                self.inspector_scroll = 0;
            }
            Action::StartFilter => {
                self.filtering = true;
            }
            Action::PickFlow if self.flows.len() > 1 => {
                // The current flow picked, with no filter.
                self.picker = Some(Picker {
                    filter: Field::new("Flow", "", false),
                    sel: self.flow_idx,
                });
            }
            Action::PickFlow => self.set_error(match self.flows.first() {
                Some(f) => format!(
                    "only one flow is loaded ({f}): name more (flowsim tui FLOW... or a folder) to pick"
                ),
                None => "no flow is loaded".to_owned(),
            }),
            Action::NewExecution => match self.current_flow() {
                Some(flow) => {
                    let input = self.input_for(flow, sim);
                    self.editor = Some(Editor::new_execution(flow, &input));
                }
                None => self.set_error("no flow is loaded"),
            },
            Action::ToggleMode => {
                let mode = match self.run.mode {
                    Mode::Run => Mode::Step,
                    Mode::Step => Mode::Run,
                };
                self.set_status(match mode {
                    Mode::Step => "STEP mode: s delivers one envelope, t jumps to the next timer",
                    Mode::Run => "RUN mode: envelopes are delivered as they fall due",
                });
                return self.ask(Command::SetMode(mode));
            }
            Action::Step => {
                if self.run.mode == Mode::Run {
                    self.set_status("s steps in STEP mode: press space first");
                    return None;
                }
                return Some(Command::Step);
            }
            Action::SpeedUp | Action::SpeedDown => {
                let cur = self.run.speed;
                let next = if action == Action::SpeedUp {
                    SPEEDS.iter().copied().find(|s| *s > cur * 1.0001)
                } else {
                    SPEEDS.iter().rev().copied().find(|s| *s < cur * 0.9999)
                };
                match next {
                    Some(s) => {
                        self.set_status(format!("speed {}", format_speed(s)));
                        return self.ask(Command::SetSpeed(s));
                    }
                    None => self.set_status(format!("speed stays {}", format_speed(cur))),
                }
            }
            Action::JumpClock => return Some(Command::JumpClock),
            Action::CycleHandler if !sim.simulated_function() => {
                self.set_error("no simulated function to cycle (--handler none)");
            }
            Action::CycleHandler => {
                let next = self.handler(sim).next();
                self.set_status(format!("function {}", next.as_str()));
                return self.ask(Command::SetHandler(next));
            }
            Action::StopExecution => {
                let Some(x) = self.selected.and_then(|id| sim.engine.execution(id)) else {
                    self.set_error("no execution selected");
                    return None;
                };
                if x.status.is_final() {
                    self.set_error(format!(
                        "ExecutionAlreadyCompleted: execution {} has already ended ({})",
                        x.name, x.status
                    ));
                    return None;
                }
                self.confirm = Some(Confirm {
                    flow: x.flow.name.clone(),
                    name: x.name.to_string(),
                });
            }
            Action::ReportSuccess | Action::ReportSuccessDefault | Action::ReportFailure => {
                let (target, what) = match self.report_target(sim) {
                    Ok(t) => t,
                    Err(e) => {
                        self.set_error(e);
                        return None;
                    }
                };
                match action {
                    Action::ReportSuccess => {
                        self.editor = Some(Editor::report_success(target, &what));
                    }
                    Action::ReportFailure => {
                        self.editor = Some(Editor::report_failure(target, &what));
                    }
                    _ => return Some(success_command(target, DEFAULT_OUTPUT)),
                }
            }
            Action::AnswerHeld | Action::AnswerHeldFailure => {
                let (target, what) = match self.held_target(sim) {
                    Ok(t) => t,
                    Err(e) => {
                        self.set_error(e);
                        return None;
                    }
                };
                self.editor = Some(if action == Action::AnswerHeld {
                    Editor::report_success(target, &what)
                } else {
                    Editor::report_failure(target, &what)
                });
            }
            Action::Copy => self.copy(sim),
            Action::HistoryBack | Action::HistoryForward => {
                let x = self.selected.and_then(|id| sim.engine.execution(id))?;
                let len = x.history.len();
                let cur = self.cursor.unwrap_or(len);
                self.cursor = if action == Action::HistoryBack {
                    Some(cur.saturating_sub(1).max(1).min(len))
                } else if cur + 1 >= len {
                    None
                } else {
                    Some(cur + 1)
                };
                self.detail_scroll = 0;
            }
            _ => {}
        }
        None
    }

    /// `J`/`K` (and the wheel over text): scroll the inspector's text, or
    /// on the History tab the event's detail.
    fn scroll_text(&mut self, down: bool, by: u16) {
        let scroll = if self.tab == Tab::History {
            &mut self.detail_scroll
        } else {
            &mut self.inspector_scroll
        };
        *scroll = if down {
            scroll.saturating_add(by)
        } else {
            scroll.saturating_sub(by)
        };
    }

    fn move_in_focus(&mut self, action: Action, sim: &Sim) {
        match self.focus {
            Focus::List => {
                let n = self.list.len();
                if n == 0 {
                    return;
                }
                let page = self.list_height.max(1);
                let row = self
                    .selected
                    .and_then(|id| self.list.row_of(id))
                    .unwrap_or(0);
                let row = match action {
                    Action::Up => row.saturating_sub(1),
                    Action::Down => (row + 1).min(n - 1),
                    Action::PageUp => row.saturating_sub(page),
                    Action::PageDown => (row + page).min(n - 1),
                    Action::Top => 0,
                    _ => n - 1,
                };
                self.select(self.list.at(row));
                self.follow = self.selected == self.newest_root(sim);
            }
            Focus::Graph => {
                let delta = match action {
                    Action::Up | Action::PageUp => -1,
                    Action::Down | Action::PageDown => 1,
                    Action::Top => i32::MIN,
                    _ => i32::MAX,
                };
                self.move_step(sim, delta);
            }
            Focus::Inspector => match self.tab {
                Tab::History => {
                    let Some(x) = self.selected.and_then(|id| sim.engine.execution(id)) else {
                        return;
                    };
                    let len = x.history.len();
                    if len == 0 {
                        return;
                    }
                    let cur = self.cursor.unwrap_or(len);
                    let page = 10;
                    let next = match action {
                        Action::Up => cur.saturating_sub(1),
                        Action::Down => cur + 1,
                        Action::PageUp => cur.saturating_sub(page),
                        Action::PageDown => cur + page,
                        Action::Top => 1,
                        _ => len,
                    };
                    self.cursor = if next >= len { None } else { Some(next.max(1)) };
                    self.detail_scroll = 0;
                }
                Tab::Messages
                    if matches!(action, Action::Up | Action::Down)
                        && !self.held_of(sim).is_empty() =>
                {
                    let n = self.held_of(sim).len();
                    self.held_sel = if action == Action::Up {
                        self.held_sel.saturating_sub(1)
                    } else {
                        (self.held_sel + 1).min(n - 1)
                    };
                }
                _ => {
                    self.inspector_scroll = match action {
                        Action::Up => self.inspector_scroll.saturating_sub(1),
                        Action::Down => self.inspector_scroll.saturating_add(1),
                        Action::PageUp => self.inspector_scroll.saturating_sub(10),
                        Action::PageDown => self.inspector_scroll.saturating_add(10),
                        Action::Top => 0,
                        _ => u16::MAX / 2,
                    };
                }
            },
        }
    }

    /// Moves the picked step through the graph's step nodes.
    fn move_step(&mut self, sim: &Sim, delta: i32) {
        let Some(x) = self.selected.and_then(|id| sim.engine.execution(id)) else {
            // No execution yet: the flow's preview scrolls (the drawing
            // clamps it to the graph).
            let y = self.graph_scroll.1;
            self.graph_scroll.1 = match delta {
                i32::MIN => 0,
                i32::MAX => u16::MAX,
                d if d < 0 => y.saturating_sub(2),
                _ => y.saturating_add(2),
            };
            self.graph_free = true;
            return;
        };
        let flow = x.flow.clone();
        let graph = self.graph(&flow);
        let steps: Vec<StepId> = graph
            .nodes
            .iter()
            .filter_map(|n| match n.kind {
                NodeKind::Step(s) => Some(s),
                _ => None,
            })
            .collect();
        if steps.is_empty() {
            return;
        }
        let cur = self
            .step_sel
            .and_then(|s| steps.iter().position(|t| *t == s));
        let last = steps.len() as i64 - 1;
        let next = match (cur, delta) {
            (_, i32::MIN) => 0,
            (_, i32::MAX) => last,
            (None, _) => 0,
            (Some(i), d) => (i as i64 + d as i64).clamp(0, last),
        };
        self.step_sel = Some(steps[next as usize]);
        self.inspector_scroll = 0;
        self.graph_free = false;
    }

    /// Takes in a command's reply.
    pub fn on_reply(&mut self, reply: Reply, sim: &Sim) {
        // A report answered (an error may be one): once none is left in
        // flight, the tokens reported are the engine's business again.
        if self.reports_inflight > 0 && matches!(reply, Ok(Outcome::Reported(_)) | Err(_)) {
            self.reports_inflight -= 1;
            if self.reports_inflight == 0 {
                self.reporting.clear();
            }
        }
        match reply {
            Ok(Outcome::Started(id)) => {
                self.follow = true;
                if self.list.row_of(id).is_some() {
                    self.select(Some(id));
                }
                let name = sim
                    .engine
                    .execution(id)
                    .map(|x| x.name.to_string())
                    .unwrap_or_default();
                self.set_status(format!("started execution {name}"));
                // Until the execution waits for something to say.
                if let Some(s) = self.status.as_mut() {
                    s.passing = true;
                }
            }
            Ok(Outcome::Reported(ev)) => {
                self.set_status(format!("report accepted (event {ev})"));
            }
            Ok(Outcome::Answered) => self.set_status("answered the held notification"),
            Ok(Outcome::Stopped(_)) => self.set_status("execution stopped"),
            Ok(Outcome::Delivered(Some(d))) => self.set_status(format!(
                "delivered {} → {}: {}",
                d.from.as_str(),
                d.to.as_str(),
                d.summary
            )),
            Ok(Outcome::Delivered(None)) => self.set_status("nothing in flight to deliver"),
            Ok(Outcome::Jumped(Some(t))) => {
                self.set_status(format!("clock jumped to {}", format_clock(t)))
            }
            Ok(Outcome::Jumped(None)) => self.set_status("no timer pending"),
            // Only settings answer Done: once all asked for are answered,
            // the runtime's published state (sent before each reply) and
            // the sim hold them.
            Ok(Outcome::Done) => {
                self.pending.inflight = self.pending.inflight.saturating_sub(1);
                if self.pending.inflight == 0 {
                    self.pending = Pending::default();
                }
            }
            // `t` with envelopes due now: the runtime's message says how
            // many and what to do, and fits 80 columns; its code would
            // push its end off the line.
            Err(CommandError { code, message }) if code == "EnvelopesDue" => {
                self.set_error(message)
            }
            Err(CommandError { code, message }) => self.set_error(format!("{code}: {message}")),
        }
    }
}

/// What a flow calls its boxes: `step` (FDL v1) or `state` (a CloudFlow
/// state machine), for messages.
pub fn step_word(flow: &crate::fdl::Flow) -> &'static str {
    if flow.lang.pipes() { "state" } else { "step" }
}

/// Whether a step is a sub-flow task (`acs:fnf:::flow/...`).
pub fn is_subflow_task(kind: &StepKind) -> bool {
    matches!(kind, StepKind::Task(t) if matches!(t.resource, Resource::Flow { .. }))
}

/// Each step's box (state and progress) as of the shown history prefix.
pub fn boxes_at(x: &Execution, shown: usize) -> Vec<BoxState> {
    box_states(&x.flow, &x.history[..shown.min(x.history.len())])
}
