//! theme: every style and status glyph the TUI uses, in one place.
//!
//! Owns colours, modifiers and glyphs; widgets ask it and never build a
//! `Style` of their own. Colour is never the only signal: each status and
//! step state also has a glyph and a word. With `NO_COLOR` set (any
//! non-empty value) the theme uses modifiers only.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::{Status, StepState};

/// The styles of one run of the TUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Theme {
    /// The colour theme.
    pub const COLOR: Theme = Theme { color: true };
    /// The theme for `NO_COLOR`: bold, dim, reversed and underline only.
    pub const MONO: Theme = Theme { color: false };

    /// `MONO` when `NO_COLOR` is set to a non-empty value, else `COLOR`.
    pub fn from_env() -> Theme {
        match std::env::var_os("NO_COLOR") {
            Some(v) if !v.is_empty() => Theme::MONO,
            _ => Theme::COLOR,
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// Ordinary text.
    pub fn text(self) -> Style {
        Style::new()
    }

    /// Secondary text (labels, hints).
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// Emphasis (titles, values that matter).
    pub fn strong(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// A key name in the footer and the help.
    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The app title in the header.
    pub fn title(self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    /// The selected row of a list.
    pub fn selected(self) -> Style {
        if self.color {
            Style::new()
                .bg(Color::Indexed(237))
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    /// The border of the pane that has the focus.
    pub fn border_focused(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The border of other panes.
    pub fn border(self) -> Style {
        self.dim()
    }

    /// The active tab.
    pub fn tab_active(self) -> Style {
        self.fg(Color::Cyan)
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// An error message.
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// A confirmation.
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    /// A warning or something that needs attention (STEP mode, held items).
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Time travel: the graph shows the past.
    pub fn past(self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    /// Edges of the flow graph.
    pub fn edge(self) -> Style {
        self.dim()
    }

    /// The glyph of an execution status.
    pub fn status_glyph(status: Status) -> &'static str {
        match status {
            Status::Starting => "…",
            Status::Running => "▶",
            Status::Succeeded => "✓",
            Status::Failed => "✗",
            Status::TimedOut => "⊘",
            Status::Stopped => "■",
        }
    }

    /// The style of an execution status.
    pub fn status(self, status: Status) -> Style {
        match status {
            Status::Starting | Status::Running => self.fg(Color::Yellow),
            Status::Succeeded => self.fg(Color::Green),
            Status::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Status::TimedOut => self.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            Status::Stopped => self.fg(Color::Gray).add_modifier(Modifier::DIM),
        }
    }

    /// The glyph of a step state.
    pub fn step_glyph(state: StepState) -> &'static str {
        match state {
            StepState::NotReached => "○",
            StepState::Running => "▶",
            StepState::Waiting => "◷",
            StepState::Succeeded => "✓",
            StepState::Failed => "✗",
            StepState::TimedOut => "⊘",
            StepState::Cancelled => "■",
        }
    }

    /// The style of a step in a state (its box and its label).
    pub fn step(self, state: StepState) -> Style {
        match state {
            StepState::NotReached => self.dim(),
            StepState::Running => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            StepState::Waiting => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            StepState::Succeeded => self.fg(Color::Green).add_modifier(Modifier::BOLD),
            StepState::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            StepState::TimedOut => self.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            StepState::Cancelled => self.fg(Color::Gray).add_modifier(Modifier::DIM),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_has_no_colour() {
        for s in [
            StepState::NotReached,
            StepState::Running,
            StepState::Waiting,
            StepState::Succeeded,
            StepState::Failed,
            StepState::TimedOut,
            StepState::Cancelled,
        ] {
            let st = Theme::MONO.step(s);
            assert_eq!(st.fg, None);
            assert_eq!(st.bg, None);
        }
        assert_eq!(Theme::MONO.selected().bg, None);
    }

    #[test]
    fn every_state_has_its_own_glyph() {
        let glyphs: std::collections::HashSet<_> = [
            StepState::NotReached,
            StepState::Running,
            StepState::Waiting,
            StepState::Succeeded,
            StepState::Failed,
            StepState::TimedOut,
            StepState::Cancelled,
        ]
        .into_iter()
        .map(Theme::step_glyph)
        .collect();
        assert_eq!(glyphs.len(), 7);
    }
}
