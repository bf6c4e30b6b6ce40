//! The header: the top two rows. The flow new executions start, the
//! clock, the simulated function and the first real endpoint; then the
//! mode and speed, the executions counted by status, what is on the bus
//! and the API's address.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::clip;
use crate::engine::Status;
use crate::fc::Behaviour;
use crate::mns::Endpoint;
use crate::runtime::Mode;
use crate::sim::{Millis, Sim};
use crate::tui::app::{App, format_clock, format_speed};
use crate::tui::theme::Theme;

pub(super) fn render_header(app: &App, sim: &Sim, clock: Millis, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let sep = || Span::styled(" │ ", t.dim());
    let flow = app.current_flow().unwrap_or("(no flow)");
    let behaviour = app.handler(sim);
    let (fn_text, fn_style) = if !sim.simulated_function() {
        ("none", t.warn())
    } else if behaviour == Behaviour::Succeed {
        (behaviour.as_str(), t.strong())
    } else {
        (behaviour.as_str(), t.warn())
    };
    let mut line1 = Line::from(vec![
        Span::styled(" flowsim", t.title()),
        sep(),
        Span::styled("flow ", t.dim()),
        Span::styled(flow.to_owned(), t.strong()),
        sep(),
        Span::styled("clock ", t.dim()),
        Span::styled(format_clock(clock), t.strong()),
        sep(),
        Span::styled("function ", t.dim()),
        Span::styled(fn_text, fn_style),
    ]);
    // Manual (the TUI's default): who answers, when it fits.
    if sim.simulated_function()
        && behaviour == Behaviour::Manual
        && line1.width() + 14 <= area.width as usize
    {
        line1.push_span(Span::styled(" (you answer)", t.dim()));
    }
    // Real endpoints (`--subscribe`, or created over the API): the first,
    // and how many more (the Messages tab lists them all).
    let mut endpoints = http_endpoints(sim);
    if let Some((_, first)) = endpoints.next() {
        let more = endpoints.count();
        let more = if more > 0 {
            format!(" +{more}")
        } else {
            String::new()
        };
        // Shown when at least a short URL fits (else on the Messages tab).
        let room = (area.width as usize).saturating_sub(line1.width() + 3 + more.len());
        if room >= 16 {
            line1.push_span(Span::styled(" → ", t.dim()));
            line1.push_span(Span::styled(clip(first, room), t.strong()));
            line1.push_span(Span::styled(more, t.dim()));
        }
    }
    let mode_style = match app.run.mode {
        Mode::Run => t.ok(),
        Mode::Step => t.warn(),
    };
    let spans = vec![
        Span::styled(
            format!(" {:<4}", app.run.mode.as_str()),
            mode_style.add_modifier(ratatui::style::Modifier::BOLD),
        ),
        Span::styled(format!(" {}", format_speed(app.run.speed)), t.text()),
        sep(),
    ];
    let counts = [
        (Status::Running, "running"),
        (Status::Succeeded, "succeeded"),
        (Status::Failed, "failed"),
        (Status::TimedOut, "timed out"),
        (Status::Stopped, "stopped"),
    ];
    let bus = format!("bus {}", sim.bus().len());
    let api = app.api.as_deref().map(|url| format!("API {url}"));
    let line2 = |words: bool| {
        let mut spans = spans.clone();
        for (i, (st, word)) in counts.into_iter().enumerate() {
            if i > 0 {
                spans.push(Span::raw(" "));
            }
            spans.push(Span::styled(
                format!("{}{}", Theme::status_glyph(st), sim.engine.count(st)),
                t.status(st),
            ));
            if words {
                spans.push(Span::styled(format!(" {word}"), t.dim()));
            }
        }
        spans.push(sep());
        spans.push(Span::styled(bus.clone(), t.dim()));
        if let Some(api) = &api {
            spans.push(sep());
            spans.push(Span::styled(api.clone(), t.strong()));
        }
        Line::from(spans)
    };
    // With the API's address to show on a narrow screen, the counts lose
    // their words (the glyphs and colours stay).
    let mut second = line2(true);
    if api.is_some() && second.width() > area.width as usize {
        second = line2(false);
    }
    Paragraph::new(vec![line1, second]).render(area, buf);
}

/// The real (HTTP) endpoints subscribed to topics: (topic, URL).
fn http_endpoints(sim: &Sim) -> impl Iterator<Item = (&str, &str)> {
    sim.mns.topics().flat_map(|topic| {
        topic
            .subscriptions
            .iter()
            .filter_map(|sub| match &sub.endpoint {
                Endpoint::Http(url) => Some((topic.name.as_str(), url.as_str())),
                Endpoint::Function(_) => None,
            })
    })
}
