//! The inspector: the tabbed pane under the graph. This file draws its
//! frame and tab titles and scrolls the text tabs; each tab's content is
//! a submodule: [`step`], [`messages`], [`history`], [`bus`].

mod bus;
mod history;
mod messages;
mod step;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{more_hint, pane};
use crate::sim::Sim;
use crate::tui::action::{Focus, Tab};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use bus::render_bus;
use history::render_history;
use messages::message_lines;
use step::step_lines;

pub(super) fn render_inspector(app: &mut App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    app.regions.inspector = area;
    app.regions.history_rows = Rect::default();
    app.regions.history_detail = Rect::default();
    let mut title = vec![Span::raw(" ")];
    // The title starts after the corner and a space; each tab's cells are
    // where a click shows it.
    let mut x = area.x.saturating_add(2);
    for (i, tab) in Tab::ALL.into_iter().enumerate() {
        if i > 0 {
            title.push(Span::styled(" │ ", t.dim()));
            x = x.saturating_add(3);
        }
        let w = u16::try_from(format!("{} {}", i + 1, tab.title()).chars().count()).unwrap_or(0);
        let w = w.min(area.right().saturating_sub(x));
        app.regions.tabs[i] = Rect::new(x, area.y, w, 1.min(area.height));
        x = x.saturating_add(w);
        let style = if tab == app.tab {
            t.tab_active()
        } else {
            t.dim()
        };
        title.push(Span::styled(format!("{} {}", i + 1, tab.title()), style));
    }
    title.push(Span::raw(" "));
    let block = pane(Line::from(title), app.focus == Focus::Inspector, t);
    let inner = block.inner(area);
    block.render(area, buf);
    let x = app.selected.and_then(|id| sim.engine.execution(id));
    match app.tab {
        Tab::Step => {
            let lines = match x {
                Some(x) => step_lines(app, sim, x, t),
                None => vec![Line::styled(
                    "No execution selected: press n to start one.",
                    t.dim(),
                )],
            };
            scrolled(lines, &mut app.inspector_scroll, "j/k", area, inner, buf, t);
        }
        Tab::Messages => {
            let lines = message_lines(app, sim, x, t);
            // j/k pick a held push when there are some: J/K scroll.
            let keys = if app.held_of(sim).is_empty() {
                "j/k"
            } else {
                "J/K"
            };
            scrolled(lines, &mut app.inspector_scroll, keys, area, inner, buf, t);
        }
        Tab::History => match x {
            Some(x) => render_history(app, sim, x, inner, buf),
            None => Paragraph::new("No execution selected.")
                .style(t.dim())
                .render(inner, buf),
        },
        Tab::Bus => render_bus(app, sim, inner, buf),
    }
}

/// Wrapped lines in `inner`, scrolled by `scroll`, which is clamped to the
/// content (`G` or `j` past the end show its last rows, never a blank
/// pane); a `more: KEYS` hint on the pane's (`outer`) border when the
/// content is taller than the pane.
fn scrolled(
    lines: Vec<Line<'_>>,
    scroll: &mut u16,
    keys: &str,
    outer: Rect,
    inner: Rect,
    buf: &mut Buffer,
    t: Theme,
) {
    let p = Paragraph::new(lines).wrap(Wrap { trim: false });
    let rows = p.line_count(inner.width);
    let hidden = rows.saturating_sub(inner.height as usize);
    *scroll = (*scroll).min(u16::try_from(hidden).unwrap_or(u16::MAX));
    p.scroll((*scroll, 0)).render(inner, buf);
    if hidden > 0 {
        more_hint(outer, keys, buf, t);
    }
}

fn kv<'a>(key: &'a str, value: String, t: Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{key:<8}"), t.dim()),
        Span::raw(value),
    ])
}
