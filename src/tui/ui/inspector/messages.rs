//! The Messages tab: the notifications the function holds (manual), the
//! real endpoints subscribed, then each message the selected execution
//! published with every push attempt and its answer.

use ratatui::text::{Line, Span};

use super::kv;
use crate::engine::Execution;
use crate::fc::{Behaviour, Received};
use crate::mns::{Dest, Endpoint};
use crate::sim::{Sim, short_token};
use crate::tui::app::{App, format_clock};
use crate::tui::theme::Theme;

pub(super) fn message_lines<'a>(
    app: &App,
    sim: &'a Sim,
    x: Option<&Execution>,
    t: Theme,
) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let inbox = sim.fc.inbox();
    let manual = app.handler(sim) == Behaviour::Manual;
    if !inbox.is_empty() || manual {
        // Only the selected execution's: `a`/`A` answer one of these.
        let held = app.held_of(sim);
        let others = inbox.len() - held.len();
        let others = if others > 0 {
            format!(" ({others} held for other executions)")
        } else {
            String::new()
        };
        lines.push(Line::styled(
            if held.is_empty() {
                format!(
                    "Held by function {}: nothing for this execution{others}",
                    sim.fc.name()
                )
            } else {
                format!(
                    "Held by function {} for this execution ({}): a answers success, A failure{others}",
                    sim.fc.name(),
                    held.len()
                )
            },
            t.warn(),
        ));
        let sel = app.held_sel.min(held.len().saturating_sub(1));
        for (i, h) in held.iter().enumerate() {
            let what = match &h.received {
                Received::Push(n) => format!("push #{n}"),
                Received::Invoke(r) => format!("invoke (execution #{})", r.exec.0),
            };
            let marker = if i == sel { "▸ " } else { "  " };
            // A message without `messageBody` is shown as its text.
            let body = match h.message.as_deref() {
                Some(m) => format!("body {m}"),
                None => format!("message {}", h.body),
            };
            let mut l = Line::from(vec![
                Span::raw(marker),
                Span::styled(format!("{what} at {} ", format_clock(h.at)), t.text()),
                Span::styled(
                    format!(
                        "token {} {body}",
                        h.token
                            .as_deref()
                            .map(short_token)
                            .unwrap_or_else(|| "—".into()),
                    ),
                    t.dim(),
                ),
            ]);
            if i == sel {
                l = l.style(t.selected());
            }
            lines.push(l);
        }
        lines.push(Line::raw(""));
    }
    // Who answers pushes besides (or instead of) the simulated function.
    let mut any_endpoint = false;
    for topic in sim.mns.topics() {
        for sub in &topic.subscriptions {
            let Endpoint::Http(url) = &sub.endpoint else {
                continue;
            };
            if !any_endpoint {
                lines.push(Line::styled(
                    if sim.simulated_function() {
                        "Real endpoints:"
                    } else {
                        "Real endpoints (function none: only they answer):"
                    },
                    t.strong(),
                ));
                any_endpoint = true;
            }
            lines.push(Line::from(vec![
                Span::styled("  → ", t.dim()),
                Span::styled(url.clone(), t.strong()),
                Span::styled(
                    format!(" topic {} · {}", topic.name, sub.format.as_str()),
                    t.dim(),
                ),
            ]));
        }
    }
    if !sim.simulated_function() && !any_endpoint {
        lines.push(Line::styled(
            "Function none and no real endpoint: messages wait for a client (--subscribe).",
            t.warn(),
        ));
    }
    if any_endpoint || !sim.simulated_function() {
        lines.push(Line::raw(""));
    }
    let Some(x) = x else {
        lines.push(Line::styled("No execution selected.", t.dim()));
        return lines;
    };
    let seqs = app.messages_of(x.id);
    if seqs.is_empty() {
        lines.push(Line::styled(
            "No messages published by this execution yet.",
            t.dim(),
        ));
    }
    for &seq in seqs {
        let Some(m) = sim.mns.message(seq) else {
            lines.push(Line::styled(
                format!("message #{seq} (no longer retained)"),
                t.dim(),
            ));
            continue;
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", m.dest), t.strong()),
            Span::styled("MessageId ", t.dim()),
            Span::raw(m.id.clone()),
            Span::styled(" at ", t.dim()),
            Span::raw(format_clock(m.published)),
            Span::styled(if m.dropped { "  ✗ dropped" } else { "" }, t.error()),
        ]));
        lines.push(kv("  MD5", m.md5.clone(), t));
        lines.push(kv("  Body", m.body.to_string(), t));
        for a in &m.attempts {
            let (answer, style) = match &a.outcome {
                Some(o) if o.delivered() => (format!("✓ {o}"), t.ok()),
                Some(o) => (format!("✗ {o}"), t.error()),
                None => ("… in flight".to_owned(), t.warn()),
            };
            let mut l = Line::from(vec![
                Span::styled(format!("  push {} → ", a.attempt), t.dim()),
                Span::styled(push_endpoint(sim, &m.dest, &a.subscription), t.text()),
                Span::styled(format!(" at {}: ", format_clock(a.at)), t.dim()),
                Span::styled(answer, style),
            ]);
            // Real endpoints: how long the answer took, on the wall clock.
            if let (Some(ms), Some(_)) = (a.latency_ms, &a.outcome) {
                l.push_span(Span::styled(format!(" in {ms} ms"), t.dim()));
            }
            lines.push(l);
        }
    }
    lines
}

/// Where a push went: the subscription's endpoint (`fc:FUNCTION` or the
/// URL), else its name if it was deleted since.
fn push_endpoint(sim: &Sim, dest: &Dest, subscription: &str) -> String {
    let Dest::Topic(topic) = dest else {
        return subscription.to_owned();
    };
    sim.mns
        .topic(topic)
        .and_then(|t| t.subscriptions.iter().find(|s| s.name == subscription))
        .map_or_else(
            || format!("subscription {subscription} (deleted)"),
            |s| s.endpoint.to_string(),
        )
}
