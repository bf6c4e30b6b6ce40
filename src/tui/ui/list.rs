//! The executions pane: one row per execution (status, name, current
//! step, age), filtered by name, scrolled to keep the selection visible;
//! only the visible rows are rendered.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{clip, pane};
use crate::engine::Execution;
use crate::sim::Sim;
use crate::tui::action::Focus;
use crate::tui::app::{App, format_age};
use crate::tui::theme::Theme;

pub(super) fn render_list(app: &mut App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let total = sim.engine.executions().len();
    let mut title = vec![Span::styled(" Executions ", t.strong())];
    if app.list.text.is_empty() && !app.filtering {
        title.push(Span::styled(format!("({total}) "), t.dim()));
    } else {
        title.push(Span::styled(
            format!(
                "/{}{} ",
                app.list.text,
                if app.filtering { "▏" } else { "" }
            ),
            t.warn(),
        ));
        title.push(Span::styled(
            format!("({} of {total}) ", app.list.len()),
            t.dim(),
        ));
    }
    let block = pane(Line::from(title), app.focus == Focus::List, t);
    let inner = block.inner(area);
    block.render(area, buf);
    app.regions.list = area;
    app.regions.list_rows = inner;
    let rows = inner.height as usize;
    app.list_height = rows;
    let n = app.list.len();
    if n == 0 {
        let msg = if total == 0 {
            "No executions yet.\nPress n to start one.".to_owned()
        } else {
            format!(
                "No execution matches `{}`.\nEsc clears the filter.",
                app.list.text
            )
        };
        Paragraph::new(msg)
            .style(t.dim())
            .wrap(Wrap { trim: true })
            .render(inner, buf);
        return;
    }
    let sel = app.selected.and_then(|id| app.list.row_of(id));
    if let Some(r) = sel {
        if r < app.list_offset {
            app.list_offset = r;
        } else if r >= app.list_offset + rows {
            app.list_offset = r + 1 - rows;
        }
    }
    app.list_offset = app.list_offset.min(n.saturating_sub(rows));
    let now = sim.now();
    let w = inner.width as usize;
    // glyph, status, name, step, age; a narrow list (80 columns) leaves
    // the status word out (the glyph and its colour say it) for the names.
    let status_w = if w >= 44 { 9 } else { 0 };
    let age_w = 4;
    let rest = w.saturating_sub(2 + status_w + usize::from(status_w > 0) + age_w + 2);
    let name_w = rest * 11 / 20;
    let step_w = rest.saturating_sub(name_w + 1);
    for i in 0..rows {
        let row = app.list_offset + i;
        let Some(id) = app.list.at(row) else { break };
        let Some(x) = sim.engine.execution(id) else {
            continue;
        };
        let step = x
            .current_step()
            .map(|s| x.flow.step(s).name.as_str())
            .unwrap_or("—");
        let age = format_age(x.stopped.unwrap_or(now).saturating_sub(x.started));
        let line = Line::from(vec![
            Span::styled(
                format!("{} ", Theme::status_glyph(x.status)),
                t.status(x.status),
            ),
            Span::styled(
                if status_w > 0 {
                    format!("{:<status_w$} ", x.status.as_str())
                } else {
                    String::new()
                },
                t.status(x.status),
            ),
            // A sub-flow's child: `↳` and what tells it from its siblings,
            // its name past the parent's (`↳team-lead-review-3`); the
            // Step tab names the parent.
            Span::raw(match child_label(sim, x) {
                Some(label) => format!(
                    "↳{:<w$} ",
                    clip_start(&label, name_w.saturating_sub(1)),
                    w = name_w.saturating_sub(1)
                ),
                None => format!("{:<name_w$} ", clip(&x.name, name_w)),
            }),
            Span::styled(format!("{:<step_w$} ", clip(step, step_w)), t.dim()),
            Span::styled(format!("{age:>age_w$}"), t.dim()),
        ]);
        let r = Rect::new(inner.x, inner.y + i as u16, inner.width, 1);
        line.render(r, buf);
        if Some(row) == sel {
            buf.set_style(r, t.selected());
        }
    }
}

/// A sub-flow child's name as listed: past its parent's name (the default
/// child name is `{parent}-{step}-{eventId}`, `_`-prefixed when the parent's
/// starts with a digit), else whole. `None` for an execution that is not a
/// child.
fn child_label(sim: &Sim, x: &Execution) -> Option<String> {
    let parent = sim.engine.execution(x.parent()?.task.exec)?;
    let name: &str = &x.name;
    let rest = name
        .strip_prefix(&*parent.name)
        .or_else(|| name.strip_prefix('_')?.strip_prefix(&*parent.name))
        .and_then(|r| r.strip_prefix('-'))
        .filter(|r| !r.is_empty());
    Some(match rest {
        Some(r) => r.to_owned(),
        None => name.to_owned(),
    })
}

/// At most `n` characters of `s`, keeping its end (`…` first when cut): a
/// child's name differs from its siblings' at the end.
fn clip_start(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        s.to_owned()
    } else if n == 0 {
        String::new()
    } else {
        let mut out = String::from("…");
        out.extend(s.chars().skip(len - (n - 1)));
        out
    }
}
