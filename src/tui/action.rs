//! action: what a key means. The pure mapping from a [`KeyEvent`] in a
//! [`KeyContext`] to an [`Action`] (a UI intent), and the key table the
//! footer and the help overlay show.
//!
//! Owns no state and touches nothing: [`map_key`] is a pure function, tested
//! without a terminal. What an action *does* is `App::update`'s business.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The pane that has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The executions list.
    #[default]
    List,
    /// The flow graph.
    Graph,
    /// The inspector tabs.
    Inspector,
}

impl Focus {
    /// The next pane (`Tab`).
    pub fn next(self) -> Focus {
        match self {
            Focus::List => Focus::Graph,
            Focus::Graph => Focus::Inspector,
            Focus::Inspector => Focus::List,
        }
    }

    /// The previous pane (`Shift-Tab`).
    pub fn prev(self) -> Focus {
        match self {
            Focus::List => Focus::Inspector,
            Focus::Graph => Focus::List,
            Focus::Inspector => Focus::Graph,
        }
    }
}

/// The inspector's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// The selected step: input, local, output, token, error.
    #[default]
    Step,
    /// MNS messages with their push attempts; the function's inbox.
    Messages,
    /// The execution's history events.
    History,
    /// Envelopes in flight.
    Bus,
}

impl Tab {
    /// Every tab, in display order.
    pub const ALL: [Tab; 4] = [Tab::Step, Tab::Messages, Tab::History, Tab::Bus];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Step => "Step",
            Tab::Messages => "Messages",
            Tab::History => "History",
            Tab::Bus => "Bus",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab to the right (wraps).
    pub fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    /// The tab to the left (wraps).
    pub fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// Where keys go right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyContext {
    /// The main screen, with the focused pane.
    Normal(Focus),
    /// The help overlay is open.
    Help,
    /// A text editor (new execution, report) is open.
    Editor,
    /// The executions filter is being typed.
    Filter,
    /// A question waits for yes or no (stopping an execution).
    Confirm,
    /// The flow picker is open (type to filter, arrows move).
    Picker,
}

/// A UI intent decoded from a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    CloseOverlay,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Enter on the main screen.
    Select,
    /// `n`: open the input editor for a new execution.
    NewExecution,
    /// `space`: RUN <-> STEP.
    ToggleMode,
    /// `s`: deliver one envelope.
    Step,
    SpeedUp,
    SpeedDown,
    /// `t`: jump the clock to the next due timer.
    JumpClock,
    /// `y`: ReportTaskSucceeded on the waiting task's token (editor).
    ReportSuccess,
    /// `Y`: ReportTaskSucceeded with the default output at once.
    ReportSuccessDefault,
    /// `f`: ReportTaskFailed on the waiting task's token (editor).
    ReportFailure,
    /// `a`: answer the push the function holds (manual) as the function:
    /// it reports success (editor) and answers HTTP 200.
    AnswerHeld,
    /// `A`: answer the held push as the function: it reports a failure
    /// (editor) and answers HTTP 200.
    AnswerHeldFailure,
    /// `C`: copy the task token (History tab: the selected event's JSON) to
    /// the clipboard (OSC 52).
    Copy,
    /// `J`: scroll the inspector's text (the History tab's detail) down.
    ScrollDown,
    /// `K`: scroll it up.
    ScrollUp,
    /// `h`: cycle the function's behaviour.
    CycleHandler,
    /// `x`: stop the selected execution.
    StopExecution,
    /// `[`: one history event back (time travel).
    HistoryBack,
    /// `]`: one history event forward.
    HistoryForward,
    /// `Esc` on the main screen: back to the live state, clear the status.
    Live,
    /// `/`: type a filter for the executions list.
    StartFilter,
    /// `1`..`4`: show a tab.
    ShowTab(Tab),
    /// `F`: pick the flow new executions start (a list with a filter).
    PickFlow,
    /// `c`: to the child execution of the inspected sub-flow task.
    GoChild,
    /// `p`: to the parent execution of a sub-flow's child.
    GoParent,
    // ---- editors and the filter
    Insert(char),
    Backspace,
    Delete,
    /// Enter in an editor or the filter.
    Submit,
    /// Esc in an editor or the filter.
    Cancel,
    /// Tab in an editor: the next field.
    NextField,
    /// Ctrl-U in an editor: delete to the start of the field.
    KillToStart,
    /// Ctrl-K in an editor: delete to the end of the field.
    KillToEnd,
    /// Ctrl-W in an editor: delete the word before the cursor.
    KillWord,
}

/// Decodes a key in a context; `None` for keys that mean nothing there.
pub fn map_key(ctx: KeyContext, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Action::Quit);
    }
    match ctx {
        KeyContext::Help => match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter => {
                Some(Action::CloseOverlay)
            }
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
            _ => None,
        },
        KeyContext::Confirm => match key.code {
            KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Submit),
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q') => {
                Some(Action::Cancel)
            }
            _ => None,
        },
        KeyContext::Editor | KeyContext::Filter | KeyContext::Picker => {
            // Readline's: start, end, delete to start / end / a word back.
            if ctrl {
                return match key.code {
                    KeyCode::Char('a') => Some(Action::Top),
                    KeyCode::Char('e') => Some(Action::Bottom),
                    KeyCode::Char('u') => Some(Action::KillToStart),
                    KeyCode::Char('k') => Some(Action::KillToEnd),
                    KeyCode::Char('w') => Some(Action::KillWord),
                    _ => None,
                };
            }
            match key.code {
                KeyCode::Esc => Some(Action::Cancel),
                KeyCode::Enter => Some(Action::Submit),
                KeyCode::Tab | KeyCode::BackTab if ctx == KeyContext::Editor => {
                    Some(Action::NextField)
                }
                KeyCode::Up if ctx == KeyContext::Picker => Some(Action::Up),
                KeyCode::Down if ctx == KeyContext::Picker => Some(Action::Down),
                KeyCode::Backspace => Some(Action::Backspace),
                KeyCode::Delete => Some(Action::Delete),
                KeyCode::Left => Some(Action::Left),
                KeyCode::Right => Some(Action::Right),
                KeyCode::Home => Some(Action::Top),
                KeyCode::End => Some(Action::Bottom),
                KeyCode::Char(c) => Some(Action::Insert(c)),
                _ => None,
            }
        }
        KeyContext::Normal(_focus) => {
            if ctrl {
                return match key.code {
                    KeyCode::Char('d') => Some(Action::PageDown),
                    KeyCode::Char('u') => Some(Action::PageUp),
                    _ => None,
                };
            }
            Some(match key.code {
                KeyCode::Char('q') => Action::Quit,
                KeyCode::Char('?') => Action::ToggleHelp,
                KeyCode::Tab => Action::FocusNext,
                KeyCode::BackTab => Action::FocusPrev,
                KeyCode::Up | KeyCode::Char('k') => Action::Up,
                KeyCode::Down | KeyCode::Char('j') => Action::Down,
                KeyCode::Left => Action::Left,
                KeyCode::Right => Action::Right,
                KeyCode::PageUp => Action::PageUp,
                KeyCode::PageDown => Action::PageDown,
                KeyCode::Home | KeyCode::Char('g') => Action::Top,
                KeyCode::End | KeyCode::Char('G') => Action::Bottom,
                KeyCode::Enter => Action::Select,
                KeyCode::Esc => Action::Live,
                KeyCode::Char('n') => Action::NewExecution,
                KeyCode::Char(' ') => Action::ToggleMode,
                KeyCode::Char('s') => Action::Step,
                KeyCode::Char('+') | KeyCode::Char('=') => Action::SpeedUp,
                KeyCode::Char('-') | KeyCode::Char('_') => Action::SpeedDown,
                KeyCode::Char('t') => Action::JumpClock,
                KeyCode::Char('y') => Action::ReportSuccess,
                KeyCode::Char('Y') => Action::ReportSuccessDefault,
                KeyCode::Char('f') => Action::ReportFailure,
                KeyCode::Char('a') => Action::AnswerHeld,
                KeyCode::Char('A') => Action::AnswerHeldFailure,
                KeyCode::Char('C') => Action::Copy,
                KeyCode::Char('J') => Action::ScrollDown,
                KeyCode::Char('K') => Action::ScrollUp,
                KeyCode::Char('h') => Action::CycleHandler,
                KeyCode::Char('x') => Action::StopExecution,
                KeyCode::Char('[') => Action::HistoryBack,
                KeyCode::Char(']') => Action::HistoryForward,
                KeyCode::Char('/') => Action::StartFilter,
                KeyCode::Char('1') => Action::ShowTab(Tab::Step),
                KeyCode::Char('2') => Action::ShowTab(Tab::Messages),
                KeyCode::Char('3') => Action::ShowTab(Tab::History),
                KeyCode::Char('4') => Action::ShowTab(Tab::Bus),
                KeyCode::Char('F') => Action::PickFlow,
                KeyCode::Char('c') => Action::GoChild,
                KeyCode::Char('p') => Action::GoParent,
                _ => return None,
            })
        }
    }
}

/// One documented key: the keys as shown, and what they do.
#[derive(Debug, Clone, Copy)]
pub struct KeyHelp {
    pub keys: &'static str,
    pub what: &'static str,
}

const fn k(keys: &'static str, what: &'static str) -> KeyHelp {
    KeyHelp { keys, what }
}

/// Every key of the main screen, grouped, for the help overlay (and the
/// README and `--help`, which repeat it).
pub const HELP: &[(&str, &[KeyHelp])] = &[
    (
        "Simulation",
        &[
            k(
                "n",
                "new execution: edit the input (the flow's sample input line, else your last one), Enter starts, Esc cancels",
            ),
            k("space", "toggle RUN / STEP mode"),
            k("s", "STEP mode: deliver exactly one envelope"),
            k("+ / -", "RUN mode: faster / slower"),
            k(
                "t",
                "jump the clock to the next due timer (timeouts, waits, retries); refused while envelopes are due now",
            ),
            k(
                "h",
                "cycle the function: manual (the TUI's default: you answer), succeed, fail, error, drop; not with none",
            ),
            k(
                "F",
                "pick the flow new executions start (with 2 or more flows)",
            ),
            k(
                "x",
                "stop the selected execution (asks first: it cannot be undone)",
            ),
        ],
    ),
    (
        "Callbacks",
        &[
            k(
                "Y",
                "report success on the waiting task's token at once: {\"status\": \"success\"}",
            ),
            k("y", "report success, editing the output first"),
            k("f", "report failure on the token: error name and cause"),
            k(
                "a",
                "manual: answer the held push as the function: it reports success (edit the output), then HTTP 200",
            ),
            k(
                "A",
                "manual: answer the held push as the function with a failure",
            ),
            k(
                "",
                "a push still held when its task ends (you reported with Y / f) is answered HTTP 200 and let go",
            ),
            k(
                "C",
                "copy the task token (History tab: the selected event's JSON) to the clipboard (OSC 52)",
            ),
        ],
    ),
    (
        "Moving around",
        &[
            k("Tab / S-Tab", "focus the next / previous pane"),
            k(
                "↑ ↓ / j k",
                "move in the focused pane: executions, graph steps, history events, held pushes",
            ),
            k(
                "J / K",
                "scroll the inspector's text (History: the event's detail)",
            ),
            k(
                "← →",
                "inspector: previous / next tab; graph: previous / next step",
            ),
            k("1 2 3 4", "inspector tab: Step, Messages, History, Bus"),
            k(
                "Enter",
                "select: execution -> graph, step -> Step tab, sub-flow task -> child; History: detail only",
            ),
            k("c / p", "sub-flows: to the child execution / to the parent"),
            k("PgUp PgDn g G", "page up / down, first / last"),
            k("/", "filter executions by name (Enter keeps, Esc clears)"),
            k("[ / ]", "time travel: one history event back / forward"),
            k(
                "Esc",
                "back to live, else clear the filter, and the status line",
            ),
            k(
                "mouse",
                "click: an execution, a tab, a history event, a step; wheel: scroll the pane under it",
            ),
            k("? / q, Ctrl-C", "this help / quit"),
        ],
    ),
    (
        "In an editor",
        &[
            k("Enter / Esc", "submit / cancel"),
            k("Ctrl-A Ctrl-E", "to the start / end (also Home / End)"),
            k("Ctrl-U Ctrl-K", "delete to the start / end"),
            k("Ctrl-W", "delete the word before the cursor"),
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn normal(code: KeyCode) -> Option<Action> {
        map_key(KeyContext::Normal(Focus::List), key(code))
    }

    #[test]
    fn simulation_keys() {
        assert_eq!(normal(KeyCode::Char('n')), Some(Action::NewExecution));
        assert_eq!(normal(KeyCode::Char(' ')), Some(Action::ToggleMode));
        assert_eq!(normal(KeyCode::Char('s')), Some(Action::Step));
        assert_eq!(normal(KeyCode::Char('+')), Some(Action::SpeedUp));
        assert_eq!(normal(KeyCode::Char('-')), Some(Action::SpeedDown));
        assert_eq!(normal(KeyCode::Char('t')), Some(Action::JumpClock));
        assert_eq!(normal(KeyCode::Char('h')), Some(Action::CycleHandler));
        assert_eq!(normal(KeyCode::Char('x')), Some(Action::StopExecution));
    }

    #[test]
    fn callback_keys_distinguish_case() {
        assert_eq!(normal(KeyCode::Char('y')), Some(Action::ReportSuccess));
        let shifted = KeyEvent::new(KeyCode::Char('Y'), KeyModifiers::SHIFT);
        assert_eq!(
            map_key(KeyContext::Normal(Focus::Inspector), shifted),
            Some(Action::ReportSuccessDefault)
        );
        assert_eq!(normal(KeyCode::Char('f')), Some(Action::ReportFailure));
        assert_eq!(normal(KeyCode::Char('a')), Some(Action::AnswerHeld));
        assert_eq!(normal(KeyCode::Char('A')), Some(Action::AnswerHeldFailure));
        assert_eq!(normal(KeyCode::Char('C')), Some(Action::Copy));
    }

    #[test]
    fn readline_keys_edit_fields() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        for ctx in [KeyContext::Editor, KeyContext::Filter, KeyContext::Picker] {
            assert_eq!(map_key(ctx, ctrl('a')), Some(Action::Top));
            assert_eq!(map_key(ctx, ctrl('e')), Some(Action::Bottom));
            assert_eq!(map_key(ctx, ctrl('u')), Some(Action::KillToStart));
            assert_eq!(map_key(ctx, ctrl('k')), Some(Action::KillToEnd));
            assert_eq!(map_key(ctx, ctrl('w')), Some(Action::KillWord));
        }
        // In the picker, j and k are text; the arrows move.
        let p = |c| map_key(KeyContext::Picker, key(c));
        assert_eq!(p(KeyCode::Char('j')), Some(Action::Insert('j')));
        assert_eq!(p(KeyCode::Down), Some(Action::Down));
    }

    #[test]
    fn a_confirmation_takes_yes_or_no() {
        let c = |k| map_key(KeyContext::Confirm, key(k));
        assert_eq!(c(KeyCode::Char('y')), Some(Action::Submit));
        assert_eq!(c(KeyCode::Enter), Some(Action::Submit));
        assert_eq!(c(KeyCode::Char('n')), Some(Action::Cancel));
        assert_eq!(c(KeyCode::Esc), Some(Action::Cancel));
        assert_eq!(c(KeyCode::Char('x')), None);
    }

    #[test]
    fn moving_keys() {
        assert_eq!(normal(KeyCode::Tab), Some(Action::FocusNext));
        assert_eq!(normal(KeyCode::BackTab), Some(Action::FocusPrev));
        assert_eq!(normal(KeyCode::Char('j')), Some(Action::Down));
        assert_eq!(normal(KeyCode::Down), Some(Action::Down));
        assert_eq!(normal(KeyCode::Char('k')), Some(Action::Up));
        assert_eq!(normal(KeyCode::Up), Some(Action::Up));
        assert_eq!(normal(KeyCode::Enter), Some(Action::Select));
        assert_eq!(normal(KeyCode::Char('[')), Some(Action::HistoryBack));
        assert_eq!(normal(KeyCode::Char(']')), Some(Action::HistoryForward));
        assert_eq!(normal(KeyCode::Char('/')), Some(Action::StartFilter));
        assert_eq!(
            normal(KeyCode::Char('3')),
            Some(Action::ShowTab(Tab::History))
        );
        assert_eq!(normal(KeyCode::Char('?')), Some(Action::ToggleHelp));
        assert_eq!(normal(KeyCode::Char('c')), Some(Action::GoChild));
        assert_eq!(normal(KeyCode::Char('p')), Some(Action::GoParent));
        assert_eq!(normal(KeyCode::Char('J')), Some(Action::ScrollDown));
        assert_eq!(normal(KeyCode::Char('K')), Some(Action::ScrollUp));
        assert_eq!(normal(KeyCode::Char('F')), Some(Action::PickFlow));
        assert_eq!(normal(KeyCode::Char('z')), None);
    }

    #[test]
    fn quitting() {
        assert_eq!(normal(KeyCode::Char('q')), Some(Action::Quit));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for ctx in [
            KeyContext::Normal(Focus::Graph),
            KeyContext::Help,
            KeyContext::Editor,
            KeyContext::Filter,
        ] {
            assert_eq!(map_key(ctx, ctrl_c), Some(Action::Quit), "{ctx:?}");
        }
    }

    #[test]
    fn editors_take_text() {
        let e = |c| map_key(KeyContext::Editor, key(c));
        assert_eq!(e(KeyCode::Char('q')), Some(Action::Insert('q')));
        assert_eq!(e(KeyCode::Char(' ')), Some(Action::Insert(' ')));
        assert_eq!(e(KeyCode::Enter), Some(Action::Submit));
        assert_eq!(e(KeyCode::Esc), Some(Action::Cancel));
        assert_eq!(e(KeyCode::Tab), Some(Action::NextField));
        assert_eq!(e(KeyCode::Backspace), Some(Action::Backspace));
        let f = |c| map_key(KeyContext::Filter, key(c));
        assert_eq!(f(KeyCode::Char('n')), Some(Action::Insert('n')));
        assert_eq!(f(KeyCode::Tab), None);
    }

    #[test]
    fn help_closes_with_its_own_key_or_esc() {
        let h = |c| map_key(KeyContext::Help, key(c));
        assert_eq!(h(KeyCode::Char('?')), Some(Action::CloseOverlay));
        assert_eq!(h(KeyCode::Esc), Some(Action::CloseOverlay));
        assert_eq!(h(KeyCode::Char('n')), None);
    }

    #[test]
    fn releases_are_ignored() {
        let mut k = key(KeyCode::Char('q'));
        k.kind = KeyEventKind::Release;
        assert_eq!(map_key(KeyContext::Normal(Focus::List), k), None);
    }
}
