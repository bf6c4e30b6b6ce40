//! The History tab: the execution's events around the shown one (the
//! time-travel cursor, else the last), and that event's detail below,
//! pretty-printed and scrolled with J/K (Enter: the detail alone).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};
use serde_json::Value;

use crate::engine::{Execution, history};
use crate::sim::Sim;
use crate::tui::app::{App, format_clock};
use crate::tui::ui::{clip, more_hint};

/// Rows the event list keeps at least (when there are that many events);
/// one less in a short pane, where the detail needs them more.
const MIN_LIST_ROWS: u16 = 3;

pub(super) fn render_history(
    app: &mut App,
    sim: &Sim,
    x: &Execution,
    area: Rect,
    buf: &mut Buffer,
) {
    let t = app.theme;
    let n = x.history.len();
    if n == 0 {
        return;
    }
    let sel = app.shown_events(x).clamp(1, n) - 1;
    let e = &x.history[sel];
    // The detail: the event's header, then its JSON: as one line when it
    // fits the room left by the list, else pretty-printed (and scrolled).
    let when = history::format_time(sim.epoch_ms() + e.time as i64);
    let header = Line::from(vec![
        Span::styled(format!("Event {} ", e.id), t.strong()),
        Span::styled(
            format!("{} · {when} · scheduled by {}", e.kind, e.schedule_id),
            t.dim(),
        ),
    ]);
    let list_min = if app.detail_zoom {
        0
    } else if area.height < 8 {
        (MIN_LIST_ROWS - 1).min(u16::try_from(n).unwrap_or(u16::MAX))
    } else {
        MIN_LIST_ROWS.min(u16::try_from(n).unwrap_or(u16::MAX))
    };
    let room = area.height.saturating_sub(list_min);
    let rows_of = |p: &Paragraph<'_>| {
        u16::try_from(p.line_count(area.width))
            .unwrap_or(u16::MAX)
            .saturating_add(1) // the border above
    };
    let compact = Paragraph::new(vec![header.clone(), Line::raw(e.detail.to_string())])
        .wrap(Wrap { trim: false });
    let detail_text = if rows_of(&compact) <= room {
        compact
    } else {
        let pretty = serde_json::from_str::<Value>(&e.detail)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| e.detail.to_string());
        let mut lines = vec![header];
        lines.extend(pretty.lines().map(|l| Line::raw(l.to_owned())));
        Paragraph::new(lines).wrap(Wrap { trim: false })
    };
    let need = rows_of(&detail_text);
    // The list keeps a few rows (unless zoomed); the detail takes what it
    // needs of the rest.
    let detail_h = need.min(room).max(2);
    let [list, detail] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(detail_h)]).areas(area);
    let rows = list.height as usize;
    // A window around the selected event.
    let start = sel
        .saturating_sub(rows.saturating_sub(1))
        .min(n.saturating_sub(rows));
    let start = if sel < start { sel } else { start };
    app.regions.history_rows = list;
    app.regions.history_first = start;
    app.regions.history_detail = detail;
    // id, clock, kind take 39 columns; the step name gets the rest.
    let step_w = (list.width as usize).saturating_sub(39);
    for (i, e) in x.history[start..].iter().take(rows).enumerate() {
        let step = e.step.map(|s| x.flow.step(s).name.as_str()).unwrap_or("");
        let line = Line::from(vec![
            Span::styled(format!("{:>3} ", e.id), t.dim()),
            Span::styled(format!("{} ", format_clock(e.time)), t.dim()),
            Span::raw(format!("{:<20} ", e.kind.as_str())),
            Span::styled(clip(step, step_w), t.dim()),
        ]);
        let r = Rect::new(list.x, list.y + i as u16, list.width, 1);
        line.render(r, buf);
        if start + i == sel {
            buf.set_style(
                r,
                if app.cursor.is_some() {
                    t.past()
                } else {
                    t.selected()
                },
            );
        }
    }
    // Scrolling stops with the detail's last line on the pane's last row.
    let hidden = need.saturating_sub(detail.height);
    app.detail_scroll = app.detail_scroll.min(hidden);
    detail_text
        .scroll((app.detail_scroll, 0))
        .block(
            Block::default()
                .borders(Borders::TOP)
                .border_style(t.border()),
        )
        .render(detail, buf);
    if hidden > 0 {
        // On the detail's top border: that is where the cut text is.
        let hint_area = Rect::new(detail.x, detail.y, detail.width.saturating_add(1), 1);
        more_hint(hint_area, "J/K", buf, t);
    }
}
