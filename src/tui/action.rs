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
    /// `y`: report success (editor).
    ReportSuccess,
    /// `Y`: report success with the default output at once.
    ReportSuccessDefault,
    /// `f`: report failure (editor).
    ReportFailure,
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
    /// `F`: the next loaded flow for new executions.
    CycleFlow,
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
        KeyContext::Editor | KeyContext::Filter => match key.code {
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Enter => Some(Action::Submit),
            KeyCode::Tab | KeyCode::BackTab if ctx == KeyContext::Editor => Some(Action::NextField),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Delete => Some(Action::Delete),
            KeyCode::Left => Some(Action::Left),
            KeyCode::Right => Some(Action::Right),
            KeyCode::Home => Some(Action::Top),
            KeyCode::End => Some(Action::Bottom),
            KeyCode::Char(c) if !ctrl => Some(Action::Insert(c)),
            _ => None,
        },
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
                KeyCode::Char('h') => Action::CycleHandler,
                KeyCode::Char('x') => Action::StopExecution,
                KeyCode::Char('[') => Action::HistoryBack,
                KeyCode::Char(']') => Action::HistoryForward,
                KeyCode::Char('/') => Action::StartFilter,
                KeyCode::Char('1') => Action::ShowTab(Tab::Step),
                KeyCode::Char('2') => Action::ShowTab(Tab::Messages),
                KeyCode::Char('3') => Action::ShowTab(Tab::History),
                KeyCode::Char('4') => Action::ShowTab(Tab::Bus),
                KeyCode::Char('F') => Action::CycleFlow,
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
                "new execution: edit the input (JSON), Enter starts, Esc cancels",
            ),
            k("space", "toggle RUN / STEP mode"),
            k("s", "STEP mode: deliver exactly one envelope"),
            k("+ / -", "RUN mode: faster / slower"),
            k(
                "t",
                "jump the clock to the next due timer (timeouts, waits, retries)",
            ),
            k(
                "h",
                "cycle the function (succeed, fail, error, drop, manual); not with none",
            ),
            k("F", "next loaded flow for new executions"),
        ],
    ),
    (
        "Callbacks",
        &[
            k("y", "report success for the waiting task (edit the output)"),
            k("Y", "report success at once with {\"status\": \"success\"}"),
            k("f", "report failure: error name and cause"),
            k(
                "",
                "in manual, y / f on the Messages tab answer its held notification",
            ),
            k("x", "stop the selected execution"),
        ],
    ),
    (
        "Moving around",
        &[
            k("Tab / S-Tab", "focus the next / previous pane"),
            k("↑ ↓ / j k", "move in the focused pane"),
            k(
                "← →",
                "inspector: previous / next tab; graph: previous / next step",
            ),
            k("1 2 3 4", "inspector tab: Step, Messages, History, Bus"),
            k(
                "Enter",
                "select: execution -> graph, step -> Step tab, sub-flow task -> child",
            ),
            k("c / p", "sub-flows: to the child execution / to the parent"),
            k("PgUp PgDn g G", "page up / down, first / last"),
            k("/", "filter executions by name (Enter keeps, Esc clears)"),
            k(
                "[ / ]",
                "time travel: one history event back / forward (Esc: live)",
            ),
            k("? / q, Ctrl-C", "this help / quit"),
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
