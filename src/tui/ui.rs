//! ui: lays the screen out and renders every pane from the state.
//!
//! Reads the [`App`] and the `Sim` (under the caller's short lock) and
//! writes a frame; the only state it changes is the view's (scroll offsets
//! that keep the selection visible). Costs what is visible: the list renders
//! its visible rows, the Bus tab its visible envelopes, and nothing iterates
//! every execution.
//!
//! This file holds [`draw`] (the layout) and the helpers the panes share;
//! each pane is drawn by a submodule: `header` (the two top rows),
//! `list` (executions), `flow` (the graph of the shown flow),
//! `inspector` (the tabbed pane), `footer` (the status line and the
//! key hints) and `overlays` (the help and the editor forms).

mod flow;
mod footer;
mod header;
mod inspector;
mod list;
mod overlays;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap};
use serde_json::Value;

use super::app::App;
use super::theme::Theme;
use crate::kernel::Millis;
use crate::sim::Sim;
use flow::render_graph;
use footer::{render_footer, render_status};
use header::render_header;
use inspector::render_inspector;
use list::render_list;
use overlays::{render_confirm, render_editor, render_help, render_picker};

// The tests check how a field scrolls.
#[cfg(test)]
pub(crate) use overlays::field_window;

/// Below this size a message replaces the layout.
pub const MIN_WIDTH: u16 = 60;
/// Below this size a message replaces the layout.
pub const MIN_HEIGHT: u16 = 18;

/// Draws the whole screen; `clock` is the virtual time to show.
pub fn draw(frame: &mut Frame<'_>, app: &mut App, sim: &Sim, clock: Millis) {
    let area = frame.area();
    let t = app.theme;
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = Text::from(vec![
            Line::styled("flowsim: the terminal is too small", t.warn()),
            Line::from(format!(
                "{}x{} here; at least {MIN_WIDTH}x{MIN_HEIGHT} needed (80x24 recommended).",
                area.width, area.height
            )),
            Line::from("Enlarge the window, or press q to quit."),
        ]);
        let y = area.height.saturating_sub(3) / 2;
        Paragraph::new(msg)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .render(
                Rect::new(area.x, area.y + y, area.width, area.height - y),
                frame.buffer_mut(),
            );
        return;
    }
    let [header, body, status, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let list_w = (area.width * 2 / 5).clamp(34, 56);
    let [left, right] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Fill(1)]).areas(body);
    let buf = frame.buffer_mut();
    render_header(app, sim, clock, header, buf);
    render_list(app, sim, left, buf);
    // The graph takes what it needs up to 3/5 of the right column (2/5
    // when the inspector has the focus).
    // The selected execution's flow, else the flow `n` would start.
    let shown_flow = match app.selected.and_then(|id| sim.engine.execution(id)) {
        Some(x) => Some(x.flow.clone()),
        None => new_execution_flow(app, sim),
    };
    let graph_h = match &shown_flow {
        Some(flow) => app.graph(flow).height + 2,
        None => 5,
    };
    // With the inspector focused (reading history, messages), the graph
    // yields it more room.
    let share = if app.focus == super::action::Focus::Inspector {
        2
    } else {
        3
    };
    let graph_h = graph_h.min(right.height * share / 5).max(5);
    let [graph_area, inspector] =
        Layout::vertical([Constraint::Length(graph_h), Constraint::Fill(1)]).areas(right);
    render_graph(app, sim, graph_area, buf);
    render_inspector(app, sim, inspector, buf);
    render_status(app, sim, status, buf);
    render_footer(app, sim, footer, buf);
    if app.help {
        render_help(app, area, buf);
    }
    if app.picker.is_some() {
        render_picker(app, area, buf);
    }
    if app.confirm.is_some() {
        render_confirm(app, area, buf);
    }
    if app.editor.is_some() {
        render_editor(app, area, buf);
    }
}

fn pane<'a>(title: Line<'a>, focused: bool, t: Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused {
            t.border_focused()
        } else {
            t.border()
        })
        .title(title)
}

/// At most `n` characters, with `…` when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else if n == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

/// `more: KEYS` on the bottom border of a pane whose content is cut, KEYS
/// being what scrolls it (`j/k`, or `J/K` where j/k pick something).
fn more_hint(area: Rect, keys: &str, buf: &mut Buffer, t: Theme) {
    let hint = Span::styled(format!(" more: {keys} "), t.dim());
    let w = hint.width() as u16;
    if area.width > w + 2 && area.height > 0 {
        hint.render(
            Rect::new(area.right() - w - 1, area.bottom() - 1, w, 1),
            buf,
        );
    }
}

/// A top-level string (or JSON) field of an event detail.
fn detail_field(detail: &str, key: &str) -> Option<String> {
    let v: Value = serde_json::from_str(detail).ok()?;
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The flow a new execution (`n`) would start, if any is loaded.
fn new_execution_flow(app: &App, sim: &Sim) -> Option<std::sync::Arc<crate::fdl::Flow>> {
    app.flows
        .get(app.flow_idx)
        .and_then(|name| sim.engine.flow(name))
        .cloned()
}
