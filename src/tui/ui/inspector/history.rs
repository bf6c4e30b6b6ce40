//! The History tab: the execution's events around the shown one (the
//! time-travel cursor, else the last), and that event's detail below.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use crate::engine::{Execution, history};
use crate::sim::Sim;
use crate::tui::app::{App, format_clock};
use crate::tui::ui::clip;

pub(super) fn render_history(app: &App, sim: &Sim, x: &Execution, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let n = x.history.len();
    if n == 0 {
        return;
    }
    let sel = app.shown_events(x).clamp(1, n) - 1;
    let detail_h = (area.height / 3).clamp(2, 6);
    let [list, detail] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(detail_h)]).areas(area);
    let rows = list.height as usize;
    // A window around the selected event.
    let start = sel
        .saturating_sub(rows.saturating_sub(1))
        .min(n.saturating_sub(rows));
    let start = if sel < start { sel } else { start };
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
    let e = &x.history[sel];
    let when = history::format_time(sim.epoch_ms() + e.time as i64);
    let lines = vec![
        Line::from(vec![
            Span::styled(format!("Event {} ", e.id), t.strong()),
            Span::styled(
                format!("{} · {when} · scheduled by {}", e.kind, e.schedule_id),
                t.dim(),
            ),
        ]),
        Line::raw(e.detail.to_string()),
    ];
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::default()
                .borders(Borders::TOP)
                .border_style(t.border()),
        )
        .render(detail, buf);
}
