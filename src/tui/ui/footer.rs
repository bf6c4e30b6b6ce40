//! The two bottom rows: the status line (the last outcome, time travel,
//! or a task waiting for its callback) and the keys that apply now.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::clip;
use crate::runtime::Mode;
use crate::sim::Sim;
use crate::tui::action::Tab;
use crate::tui::app::App;

pub(super) fn render_status(app: &App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    // One row: a longer status ends in `…` rather than mid-word.
    let room = (area.width as usize).saturating_sub(3);
    let line = if let Some(s) = &app.status {
        if s.error {
            Line::styled(format!(" ✗ {}", clip(&s.text, room)), t.error())
        } else {
            Line::styled(format!(" • {}", clip(&s.text, room)), t.ok())
        }
    } else if let (Some(c), Some(x)) = (
        app.cursor,
        app.selected.and_then(|id| sim.engine.execution(id)),
    ) {
        Line::styled(
            format!(
                " ⟲ time travel: event {c} of {} — [ ] move, Esc back to live",
                x.history.len()
            ),
            t.past(),
        )
    } else if let Some(x) = app.selected.and_then(|id| sim.engine.execution(id))
        && !sim.engine.waiting_tasks(x.id).is_empty()
    {
        Line::styled(
            " ◷ a task waits for its callback: Y reports success, y edits the output, f fails it",
            t.warn(),
        )
    } else {
        Line::raw("")
    };
    line.render(area, buf);
}

fn footer_keys(app: &App, sim: &Sim) -> Vec<(&'static str, &'static str)> {
    if app.editor.is_some() {
        return vec![
            ("Enter", "submit"),
            ("Esc", "cancel"),
            ("Tab", "next field"),
            ("← →", "move"),
        ];
    }
    if app.help {
        return vec![("Esc/?", "close help"), ("↑↓", "scroll")];
    }
    if app.filtering {
        return vec![
            ("type", "filter by name"),
            ("Enter", "keep"),
            ("Esc", "clear"),
        ];
    }
    let mut keys = vec![("?", "help"), ("n", "new")];
    let waiting = app
        .selected
        .is_some_and(|id| !sim.engine.waiting_tasks(id).is_empty());
    let held = !sim.fc.inbox().is_empty() && app.tab == Tab::Messages;
    if waiting || held {
        keys.extend([("Y", "success"), ("y", "edit"), ("f", "fail")]);
    }
    // Sub-flows: the way to the child of the inspected task, or the parent.
    if let Some(x) = app.selected.and_then(|id| sim.engine.execution(id)) {
        if app
            .inspected_step(x)
            .is_some_and(|s| app.child_of(x.id, s).is_some())
        {
            keys.push(("c", "child"));
        }
        if x.parent().is_some() {
            keys.push(("p", "parent"));
        }
    }
    match app.run.mode {
        Mode::Step => keys.extend([("s", "step"), ("space", "run")]),
        Mode::Run => keys.extend([("space", "step mode"), ("+/-", "speed")]),
    }
    keys.push(("t", "next timer"));
    if sim.simulated_function() {
        keys.push(("h", "function"));
    }
    keys.extend([
        ("x", "stop"),
        ("[ ]", "history"),
        ("Tab", "focus"),
        ("/", "filter"),
        ("q", "quit"),
    ]);
    keys
}

pub(super) fn render_footer(app: &App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let mut spans = vec![Span::raw(" ")];
    let mut width = 1;
    for (k, what) in footer_keys(app, sim) {
        let w = k.chars().count() + what.chars().count() + 3;
        if width + w > area.width as usize {
            break;
        }
        width += w;
        spans.push(Span::styled(k, t.key()));
        spans.push(Span::styled(format!(" {what}  "), t.dim()));
    }
    Line::from(spans).render(area, buf);
}
