//! The Bus tab: the envelopes in flight in delivery order, the next one
//! marked; only the visible ones are rendered.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::sim::Sim;
use crate::tui::app::{App, format_clock};
use crate::tui::ui::clip;

pub(super) fn render_bus(app: &mut App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let bus = sim.bus();
    if bus.is_empty() {
        Paragraph::new("Nothing in flight.")
            .style(t.dim())
            .render(area, buf);
        return;
    }
    let header = Line::styled(
        format!("{} in flight, in delivery order:", bus.len()),
        t.dim(),
    );
    header.render(Rect::new(area.x, area.y, area.width, 1), buf);
    let rows = area.height.saturating_sub(1) as usize;
    // Clamped: scrolling stops with the last envelope on the last row.
    let last = bus.len().saturating_sub(rows);
    app.inspector_scroll = app
        .inspector_scroll
        .min(u16::try_from(last).unwrap_or(u16::MAX));
    let skip = app.inspector_scroll as usize;
    for (i, env) in bus.iter().skip(skip).take(rows).enumerate() {
        let next = skip + i == 0;
        let line = Line::from(vec![
            Span::styled(if next { "▶ next " } else { "       " }, t.warn()),
            Span::styled(format!("{} ", format_clock(env.key.due)), t.strong()),
            Span::styled(
                format!("{:>6}→{:<6} ", env.from.as_str(), env.to.as_str()),
                t.dim(),
            ),
            Span::raw(clip(
                &env.msg.summary(),
                (area.width as usize).saturating_sub(35),
            )),
        ]);
        let r = Rect::new(area.x, area.y + 1 + i as u16, area.width, 1);
        line.render(r, buf);
        if next {
            buf.set_style(r, t.selected());
        }
    }
}
