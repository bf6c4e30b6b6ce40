//! The two bottom rows: the status line (the last outcome, time travel,
//! or a task waiting for its callback) and the keys that apply now, the
//! less important dropped first when they do not fit (`? help` and
//! `q quit` always stay).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::clip;
use crate::kernel::short_token;
use crate::runtime::Mode;
use crate::sim::Sim;
use crate::tui::action::Tab;
use crate::tui::app::App;

pub(super) fn render_status(app: &App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    // One row: a longer status ends in `…` rather than mid-word.
    let room = (area.width as usize).saturating_sub(3);
    let selected = app.selected.and_then(|id| sim.engine.execution(id));
    let waiting = selected
        .filter(|_| app.cursor.is_none())
        .map(|x| (x, sim.engine.waiting_tasks(x.id)))
        .filter(|(_, w)| !w.is_empty());
    let line = match (&app.status, app.cursor, waiting) {
        (Some(s), _, _) if s.error => {
            Line::styled(format!(" ✗ {}", clip(&s.text, room)), t.error())
        }
        // A passing note gives way to what the execution waits for.
        (Some(s), _, w) if !s.passing || w.is_none() => {
            Line::styled(format!(" • {}", clip(&s.text, room)), t.ok())
        }
        (_, Some(c), _) => Line::styled(
            format!(
                " ⟲ time travel: event {c} of {} — [ ] move, Esc back to live",
                selected.map_or(0, |x| x.history.len())
            ),
            t.past(),
        ),
        (_, None, Some((x, w))) => {
            let (step, _, token) = &w[0];
            let more = if w.len() > 1 {
                format!(" (+{} more)", w.len() - 1)
            } else {
                String::new()
            };
            let text = format!(
                "◷ {} waits, token {}{more}: Y reports success, f failure",
                x.flow.step(*step).name,
                short_token(token),
            );
            Line::styled(format!(" {}", clip(&text, room + 2)), t.warn())
        }
        _ => Line::raw(""),
    };
    line.render(area, buf);
}

/// A key hint: the key, what it does, and how much it matters (0: always
/// shown; higher numbers are dropped first when the row is full).
type Hint = (&'static str, &'static str, u8);

fn footer_keys(app: &App, sim: &Sim) -> Vec<Hint> {
    if let Some(ed) = &app.editor {
        let mut keys = vec![("Enter", "submit", 0), ("Esc", "cancel", 0)];
        if ed.fields.len() > 1 {
            keys.push(("Tab", "next field", 1));
        }
        keys.extend([
            ("← →", "move", 2),
            ("^A ^E", "start/end", 3),
            ("^U ^K ^W", "delete", 3),
        ]);
        return keys;
    }
    if app.confirm.is_some() {
        return vec![("y/Enter", "stop it", 0), ("n/Esc", "keep it running", 0)];
    }
    if app.picker.is_some() {
        return vec![
            ("type", "filter", 0),
            ("↑↓", "move", 0),
            ("Enter", "pick", 0),
            ("Esc", "close", 0),
        ];
    }
    if app.help {
        return vec![("Esc/?", "close help", 0), ("↑↓", "scroll", 0)];
    }
    if app.filtering {
        return vec![
            ("type", "filter by name", 0),
            ("Enter", "keep", 0),
            ("Esc", "clear", 0),
        ];
    }
    let mut keys = vec![("?", "help", 0), ("n", "new", 1)];
    let selected = app.selected.and_then(|id| sim.engine.execution(id));
    let waiting = selected.is_some_and(|x| !sim.engine.waiting_tasks(x.id).is_empty());
    if waiting {
        keys.extend([("Y", "success", 1), ("f", "fail", 1)]);
    }
    if !app.held_of(sim).is_empty() {
        keys.push(("a", "answer held", 2));
    }
    if !app.list.text.is_empty() {
        keys.push(("Esc", "clear filter", 2));
    }
    if app.tab == Tab::History && app.focus == crate::tui::action::Focus::Inspector {
        keys.push(("Enter", "detail", 3));
        keys.push(("J/K", "scroll detail", 4));
    }
    // Sub-flows: the way to the child of the inspected task, or the parent.
    if let Some(x) = selected {
        if app
            .inspected_step(x)
            .is_some_and(|s| app.child_of(x.id, s).is_some())
        {
            keys.push(("c", "child", 3));
        }
        if x.parent().is_some() {
            keys.push(("p", "parent", 3));
        }
    }
    match app.run.mode {
        Mode::Step => keys.extend([("s", "step", 2), ("space", "run", 3)]),
        Mode::Run => keys.extend([("space", "step mode", 3), ("+/-", "speed", 5)]),
    }
    keys.push(("t", "next timer", 3));
    if app.flows.len() > 1 {
        keys.push(("F", "flow", 3));
    }
    if waiting {
        keys.push(("y", "edit", 4));
    }
    if selected.is_some() {
        keys.push(("C", "copy", 5));
    }
    if sim.simulated_function() {
        keys.push(("h", "function", 5));
    }
    if selected.is_some_and(|x| !x.status.is_final()) {
        keys.push(("x", "stop", 5));
    }
    keys.extend([
        ("[ ]", "history", 6),
        ("Tab", "focus", 6),
        ("/", "filter", 6),
        ("q", "quit", 0),
    ]);
    keys
}

/// The hints that fit `width` cells: the least important dropped first
/// (the latest of equal importance first), the rest in their order.
fn fitting(mut keys: Vec<Hint>, width: usize) -> Vec<Hint> {
    let cost = |k: &Hint| k.0.chars().count() + k.1.chars().count() + 3;
    while 1 + keys.iter().map(cost).sum::<usize>() > width {
        let Some((i, _)) = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.2 > 0)
            .max_by_key(|(i, k)| (k.2, *i))
        else {
            break;
        };
        keys.remove(i);
    }
    keys
}

pub(super) fn render_footer(app: &App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let mut spans = vec![Span::raw(" ")];
    for (k, what, _) in fitting(footer_keys(app, sim), area.width as usize) {
        spans.push(Span::styled(k, t.key()));
        spans.push(Span::styled(format!(" {what}  "), t.dim()));
    }
    Line::from(spans).render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_important_hints_go_first_and_help_and_quit_stay() {
        let keys = vec![
            ("?", "help", 0),
            ("n", "new", 1),
            ("x", "stop", 5),
            ("t", "next timer", 3),
            ("q", "quit", 0),
        ];
        let all = fitting(keys.clone(), 200);
        assert_eq!(all.len(), 5);
        // " ? help  n new  t next timer  q quit  " needs 1+8+7+14+8 = 38.
        let some: Vec<&str> = fitting(keys.clone(), 38).iter().map(|k| k.0).collect();
        assert_eq!(some, ["?", "n", "t", "q"]);
        let few: Vec<&str> = fitting(keys, 10).iter().map(|k| k.0).collect();
        assert_eq!(few, ["?", "q"]);
    }
}
