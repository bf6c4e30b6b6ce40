//! ui: lays the screen out and renders every pane from the state.
//!
//! Reads the [`App`] and the `Sim` (under the caller's short lock) and
//! writes a frame; the only state it changes is the view's (scroll offsets
//! that keep the selection visible). Costs what is visible: the list renders
//! its visible rows, the Bus tab its visible envelopes, and nothing iterates
//! every execution.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};
use serde_json::Value;

use super::action::{Focus, HELP, Tab};
use super::app::{App, format_age, format_clock, format_speed, is_subflow_task, states_at};
use super::graph::{Ends, GraphView};
use super::theme::Theme;
use crate::engine::{EventType, Execution, HistoryEvent, Status, StepState, history};
use crate::fc::{Behaviour, Received};
use crate::fdl::{StepId, StepKind};
use crate::kernel::{Millis, short_token};
use crate::mns::{Dest, Endpoint};
use crate::runtime::Mode;
use crate::sim::Sim;

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
    // The graph takes what it needs up to about half of the right column.
    // The selected execution's flow, else the flow `n` would start.
    let shown_flow = match app.selected.and_then(|id| sim.engine.execution(id)) {
        Some(x) => Some(x.flow.clone()),
        None => new_execution_flow(app, sim),
    };
    let graph_h = match &shown_flow {
        Some(flow) => app.graph(flow).height + 2,
        None => 5,
    };
    let graph_h = graph_h.min(right.height * 3 / 5).max(5);
    let [graph_area, inspector] =
        Layout::vertical([Constraint::Length(graph_h), Constraint::Fill(1)]).areas(right);
    render_graph(app, sim, graph_area, buf);
    render_inspector(app, sim, inspector, buf);
    render_status(app, sim, status, buf);
    render_footer(app, sim, footer, buf);
    if app.help {
        render_help(app, area, buf);
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

fn render_header(app: &App, sim: &Sim, clock: Millis, area: Rect, buf: &mut Buffer) {
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

fn render_list(app: &mut App, sim: &Sim, area: Rect, buf: &mut Buffer) {
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
    let rows = inner.height as usize;
    app.list_height = rows;
    let n = app.list.len();
    if n == 0 {
        let msg = if total == 0 {
            "No executions yet.\nPress n to start one."
        } else {
            "No execution matches the filter.\nPress / then Esc to clear it."
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
            // A sub-flow's child: `↳` before its name (the Step tab
            // names the parent).
            Span::raw(if x.parent().is_some() {
                format!(
                    "↳{:<w$} ",
                    clip(&x.name, name_w.saturating_sub(1)),
                    w = name_w.saturating_sub(1)
                )
            } else {
                format!("{:<name_w$} ", clip(&x.name, name_w))
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

/// The execution's end state as of the shown events.
fn ends_at(events: &[HistoryEvent]) -> Ends {
    let mut ends = Ends::default();
    if !events.is_empty() {
        ends.started = StepState::Succeeded;
    }
    ends.ended = match events.last().map(|e| e.kind) {
        Some(EventType::ExecutionSucceeded) => StepState::Succeeded,
        Some(EventType::ExecutionFailed) | Some(EventType::ExecutionStopped) => StepState::Failed,
        Some(EventType::ExecutionTimedOut) => StepState::TimedOut,
        _ => StepState::NotReached,
    };
    ends
}

/// The flow a new execution (`n`) would start, if any is loaded.
fn new_execution_flow(app: &App, sim: &Sim) -> Option<std::sync::Arc<crate::fdl::Flow>> {
    app.flows
        .get(app.flow_idx)
        .and_then(|name| sim.engine.flow(name))
        .cloned()
}

fn render_graph(app: &mut App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let focused = app.focus == Focus::Graph;
    let Some(x) = app.selected.and_then(|id| sim.engine.execution(id)) else {
        // No execution yet: the flow `n` would start, every step not reached.
        let Some(flow) = new_execution_flow(app, sim) else {
            let block = pane(Line::styled(" Flow ", t.strong()), focused, t);
            let inner = block.inner(area);
            block.render(area, buf);
            Paragraph::new("The graph of the selected execution shows here.")
                .style(t.dim())
                .wrap(Wrap { trim: true })
                .render(inner, buf);
            return;
        };
        // Executions may exist and be filtered out: then none is selected.
        let why = if sim.engine.executions().is_empty() {
            "· no execution yet: n starts one "
        } else {
            "· no execution selected "
        };
        let title = vec![
            Span::styled(format!(" {} ", flow.name), t.strong()),
            Span::styled(why, t.dim()),
        ];
        let block = pane(Line::from(title), focused, t);
        let inner = block.inner(area);
        block.render(area, buf);
        let graph = app.graph(&flow);
        let states = vec![StepState::NotReached; flow.steps.len()];
        draw_graph(
            app,
            &graph,
            &states,
            &[],
            Ends::default(),
            None,
            area,
            inner,
            buf,
        );
        return;
    };
    let shown = app.shown_events(x);
    let mut title = vec![
        Span::styled(format!(" {} ", x.flow.name), t.strong()),
        Span::styled(format!("· {} ", clip(&x.name, 20)), t.dim()),
    ];
    if app.cursor.is_some() {
        title.push(Span::styled(
            format!("⟲ event {shown} of {} ", x.history.len()),
            t.past(),
        ));
    }
    let block = pane(Line::from(title), focused, t);
    let inner = block.inner(area);
    block.render(area, buf);
    let graph = app.graph(&x.flow);
    let states = states_at(x, shown);
    // Tokens of waiting steps as of the shown events (from TaskStarted).
    let mut tokens: Vec<(StepId, String)> = Vec::new();
    for e in &x.history[..shown] {
        if e.kind == EventType::TaskStarted
            && let Some(s) = e.step
            && let Some(tok) = detail_field(&e.detail, "taskToken")
        {
            tokens.retain(|(id, _)| *id != s);
            tokens.push((s, tok));
        }
    }
    // Keep the picked (else the active) step in view.
    let focus_step = app.step_sel.or_else(|| {
        states
            .iter()
            .position(|s| matches!(s, StepState::Running | StepState::Waiting))
            .map(|i| StepId(i as u32))
    });
    let ends = ends_at(&x.history[..shown]);
    draw_graph(
        app, &graph, &states, &tokens, ends, focus_step, area, inner, buf,
    );
}

/// Draws a laid-out graph in `inner` (the pane is `area`), scrolled to keep
/// `focus_step` in view, with a hint when it does not fit.
#[allow(clippy::too_many_arguments)]
fn draw_graph(
    app: &mut App,
    graph: &crate::fdl::layout::Graph,
    states: &[StepState],
    tokens: &[(StepId, String)],
    ends: Ends,
    focus_step: Option<StepId>,
    area: Rect,
    inner: Rect,
    buf: &mut Buffer,
) {
    let t = app.theme;
    let (mut sx, mut sy) = app.graph_scroll;
    if let Some(n) = focus_step
        .and_then(|s| graph.node_for_step(s))
        .and_then(|i| graph.nodes.get(i))
    {
        if n.y < sy {
            sy = n.y;
        } else if n.y + n.h > sy + inner.height {
            sy = (n.y + n.h).saturating_sub(inner.height);
        }
        if n.x < sx {
            sx = n.x;
        } else if n.x + n.w > sx + inner.width {
            sx = (n.x + n.w).saturating_sub(inner.width);
        }
    }
    sx = sx.min(graph.width.saturating_sub(inner.width));
    sy = sy.min(graph.height.saturating_sub(inner.height));
    app.graph_scroll = (sx, sy);
    // Centre a graph narrower than the pane.
    let pad = inner.width.saturating_sub(graph.width) / 2;
    let garea = Rect::new(inner.x + pad, inner.y, inner.width - pad, inner.height);
    GraphView {
        graph,
        states,
        tokens,
        ends,
        selected: app.step_sel,
        scroll: (sx, sy),
        theme: t,
    }
    .render(garea, buf);
    if graph.height > inner.height || graph.width > inner.width {
        more_hint(area, buf, t);
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

fn render_inspector(app: &mut App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let mut title = vec![Span::raw(" ")];
    for (i, tab) in Tab::ALL.into_iter().enumerate() {
        if i > 0 {
            title.push(Span::styled(" │ ", t.dim()));
        }
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
            scrolled(lines, &mut app.inspector_scroll, area, inner, buf, t);
        }
        Tab::Messages => {
            let lines = message_lines(app, sim, x, t);
            scrolled(lines, &mut app.inspector_scroll, area, inner, buf, t);
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
/// pane); a `more: j/k` hint on the pane's (`outer`) border when the
/// content is taller than the pane.
fn scrolled(
    lines: Vec<Line<'_>>,
    scroll: &mut u16,
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
        more_hint(outer, buf, t);
    }
}

/// `more: j/k` on the bottom border of a pane whose content is cut.
fn more_hint(area: Rect, buf: &mut Buffer, t: Theme) {
    let hint = Span::styled(" more: j/k ", t.dim());
    let w = hint.width() as u16;
    if area.width > w + 2 && area.height > 0 {
        hint.render(
            Rect::new(area.right() - w - 1, area.bottom() - 1, w, 1),
            buf,
        );
    }
}

fn kv<'a>(key: &'a str, value: String, t: Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{key:<8}"), t.dim()),
        Span::raw(value),
    ])
}

fn step_lines<'a>(app: &App, sim: &Sim, x: &'a Execution, t: Theme) -> Vec<Line<'a>> {
    let shown = app.shown_events(x);
    let events = &x.history[..shown];
    let mut lines = Vec::new();
    // The execution first: its status and output (as of the shown event).
    let ended = events.iter().rev().find(|e| {
        matches!(
            e.kind,
            EventType::ExecutionSucceeded
                | EventType::ExecutionFailed
                | EventType::ExecutionStopped
                | EventType::ExecutionTimedOut
        )
    });
    let status = match ended.map(|e| e.kind) {
        Some(EventType::ExecutionSucceeded) => Status::Succeeded,
        Some(EventType::ExecutionFailed) => Status::Failed,
        Some(EventType::ExecutionStopped) => Status::Stopped,
        Some(EventType::ExecutionTimedOut) => Status::TimedOut,
        _ => Status::Running,
    };
    let head = vec![
        Span::styled("Execution ", t.dim()),
        Span::styled(x.name.to_string(), t.strong()),
        Span::raw(" "),
        Span::styled(
            format!("{} {}", Theme::status_glyph(status), status.as_str()),
            t.status(status),
        ),
    ];
    lines.push(Line::from(head));
    // A sub-flow's child names its parent execution and task.
    if let Some(p) = x.parent()
        && let Some(px) = sim.engine.execution(p.task.exec)
    {
        lines.push(Line::from(vec![
            Span::styled("Parent  ", t.dim()),
            Span::styled(format!("↰ {}", px.name), t.strong()),
            Span::styled(
                format!(" / {} ({})", px.flow.step(p.step).name, px.flow.name),
                t.dim(),
            ),
            Span::styled("  p: go there", t.key()),
        ]));
    }
    if let Some(e) = ended {
        if let Some(out) = detail_field(&e.detail, "output") {
            lines.push(Line::from(vec![
                Span::styled("  output ", t.dim()),
                Span::styled(out, t.strong()),
            ]));
        } else if let Some(err) = detail_field(&e.detail, "error") {
            let cause = detail_field(&e.detail, "cause").unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled("  error  ", t.dim()),
                Span::styled(format!("{err}: {cause}"), t.error()),
            ]));
        }
    }
    let Some(step) = app.inspected_step(x) else {
        return lines;
    };
    let s = x.flow.step(step);
    let states = states_at(x, shown);
    let st = states.get(step.index()).copied().unwrap_or_default();
    let mut kind = s.kind.type_name().to_owned();
    if let StepKind::Task(task) = &s.kind {
        kind = format!("task · {} · {}", task.pattern.as_str(), task.resource_arn);
    }
    lines.push(Line::from(vec![
        Span::styled("Step    ", t.dim()),
        Span::styled(s.name.clone(), t.strong()),
        Span::styled(format!("  {kind}"), t.dim()),
    ]));
    lines.push(Line::from(vec![
        Span::styled("State   ", t.dim()),
        Span::styled(
            format!("{} {}", Theme::step_glyph(st), st.as_str()),
            t.step(st),
        ),
    ]));
    // A sub-flow task names the child execution it started (the last one,
    // after retries).
    if is_subflow_task(&s.kind) {
        let child = app
            .child_of(x.id, step)
            .and_then(|c| sim.engine.execution(c));
        lines.push(match child {
            Some(c) => Line::from(vec![
                Span::styled("Child   ", t.dim()),
                Span::styled(format!("↳ {}", c.name), t.strong()),
                Span::styled(
                    format!(" {} {}", Theme::status_glyph(c.status), c.status.as_str()),
                    t.status(c.status),
                ),
                Span::styled("  Enter/c: go there", t.key()),
            ]),
            None => kv("Child", "— (not started)".to_owned(), t),
        });
    }
    let mut input = None;
    let mut local = None;
    let mut output = None;
    let mut token = None;
    let mut error = None;
    for e in events.iter().filter(|e| e.step == Some(step)) {
        match e.kind {
            EventType::StepEntered => {
                input = detail_field(&e.detail, "input");
                (local, output, token, error) = (None, None, None, None);
            }
            EventType::TaskStarted => token = detail_field(&e.detail, "taskToken"),
            EventType::TaskSubmitted => local = Some(e.detail.to_string()),
            EventType::TaskSucceeded => local = detail_field(&e.detail, "output"),
            EventType::StepExited | EventType::StepSucceeded => {
                output = detail_field(&e.detail, "output")
            }
            EventType::TaskFailed
            | EventType::TaskTimedOut
            | EventType::TaskSubmitFailed
            | EventType::StepFailed => {
                let err = detail_field(&e.detail, "error").unwrap_or_default();
                let cause = detail_field(&e.detail, "cause").unwrap_or_default();
                error = Some(format!("{err}: {cause}"));
            }
            _ => {}
        }
    }
    let none = || "—".to_owned();
    lines.push(kv("Input", input.unwrap_or_else(none), t));
    lines.push(kv("Local", local.unwrap_or_else(none), t));
    lines.push(kv("Output", output.unwrap_or_else(none), t));
    lines.push(kv("Token", token.unwrap_or_else(none), t));
    match error {
        Some(e) => lines.push(Line::from(vec![
            Span::styled("Error   ", t.dim()),
            Span::styled(e, t.error()),
        ])),
        None => lines.push(kv("Error", none(), t)),
    }
    lines
}

fn message_lines<'a>(app: &App, sim: &'a Sim, x: Option<&Execution>, t: Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let inbox = sim.fc.inbox();
    let manual = app.handler(sim) == Behaviour::Manual;
    if !inbox.is_empty() || manual {
        // Only the selected execution's: `y`/`f` answer one of these.
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
                    "Held by function {} for this execution ({}): y answers success, f failure{others}",
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

fn render_history(app: &App, sim: &Sim, x: &Execution, area: Rect, buf: &mut Buffer) {
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

fn render_bus(app: &mut App, sim: &Sim, area: Rect, buf: &mut Buffer) {
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

fn render_status(app: &App, sim: &Sim, area: Rect, buf: &mut Buffer) {
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

fn render_footer(app: &App, sim: &Sim, area: Rect, buf: &mut Buffer) {
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

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn render_help(app: &mut App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    // Descriptions wrap under themselves, past the key column (16 wide).
    let inner_w = 90.min(area.width.saturating_sub(2)).saturating_sub(2) as usize;
    let desc_w = inner_w.saturating_sub(16).max(10);
    let mut lines = Vec::new();
    for (group, keys) in HELP {
        lines.push(Line::styled(*group, t.strong()));
        for k in *keys {
            for (i, part) in wrap_words(k.what, desc_w).into_iter().enumerate() {
                let key = if i == 0 { k.keys } else { "" };
                lines.push(Line::from(vec![
                    Span::styled(format!("  {key:<14}"), t.key()),
                    Span::raw(part),
                ]));
            }
        }
    }
    for part in wrap_words(
        "Step states: ○ not reached  ▶ running  ◷ waiting for callback  ✓ succeeded  ✗ failed  ⊘ timed out",
        inner_w.max(10),
    ) {
        lines.push(Line::styled(part, t.dim()));
    }
    let h = lines.len() as u16 + 2;
    let r = centered(area, 90, h);
    // Scrolling stops at the last line.
    let hidden = h.saturating_sub(r.height);
    app.help_scroll = app.help_scroll.min(hidden);
    let more = app.help_scroll < hidden;
    Clear.render(r, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((app.help_scroll, 0))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Rounded)
                .border_style(t.border_focused())
                .title(Line::styled(" Help: keys ", t.strong()))
                .title_bottom(Line::styled(
                    if more {
                        " Esc or ? closes · ↓ more "
                    } else {
                        " Esc or ? closes "
                    },
                    t.dim(),
                )),
        )
        .render(r, buf);
}

/// Splits text into lines of at most `width` characters at spaces (a word
/// longer than that gets a line of its own).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let n = cur.chars().count();
        if n > 0 && n + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// What a one-line field shows in `width` cells with the cursor at char
/// `cursor`: the visible text (scrolled horizontally so the cursor, even
/// at the end, stays in view), the cursor's cell offset in it and how many
/// cells the glyph under it takes (1 at the end). Counted in display
/// width, so wide glyphs (CJK, emoji) take two cells.
pub(crate) fn field_window(text: &str, cursor: usize, width: usize) -> (String, usize, usize) {
    use unicode_width::UnicodeWidthChar;
    let cw = |c: char| c.width().unwrap_or(0);
    let chars: Vec<char> = text.chars().collect();
    let cursor = cursor.min(chars.len());
    let cursor_w = chars.get(cursor).map_or(1, |c| cw(*c).max(1));
    // The first char shown, from `to` leftwards while `used` cells fit.
    let leftmost = |to: usize, mut used: usize| {
        let mut s = to;
        while s > 0 && used + cw(chars[s - 1]) <= width {
            used += cw(chars[s - 1]);
            s -= 1;
        }
        s
    };
    // As much of the text's end as fits (with the end's cursor cell),
    // unless the cursor is off that view: then the cursor at an edge.
    let end_view = leftmost(chars.len(), 1);
    let cursor_right = leftmost(cursor, cursor_w);
    let start = end_view.clamp(cursor_right, cursor);
    let cursor_x: usize = chars[start..cursor].iter().map(|c| cw(*c)).sum();
    let mut visible = String::new();
    let mut shown = 0;
    for c in &chars[start..] {
        let w = cw(*c);
        if shown + w > width {
            break;
        }
        shown += w;
        visible.push(*c);
    }
    (visible, cursor_x, cursor_w)
}

fn render_editor(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(ed) = &app.editor else { return };
    let h = ed.fields.len() as u16 * 2 + 4;
    let r = centered(area, 84, h);
    Clear.render(r, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focused())
        .title(Line::styled(format!(" {} ", ed.title), t.strong()))
        .title_bottom(Line::styled(
            " Enter submits · Esc cancels · Tab next field ",
            t.dim(),
        ));
    let inner = block.inner(r);
    block.render(r, buf);
    let mut y = inner.y;
    for (i, f) in ed.fields.iter().enumerate() {
        let active = i == ed.active;
        let label_style = if active { t.key() } else { t.dim() };
        Line::styled(f.label, label_style).render(Rect::new(inner.x, y, inner.width, 1), buf);
        y += 1;
        let row = Rect::new(inner.x, y, inner.width, 1);
        let (visible, cursor_x, cursor_w) = field_window(&f.text, f.cursor, inner.width as usize);
        Span::styled(visible, t.strong()).render(row, buf);
        if active {
            // The whole glyph under the cursor (two cells when wide).
            for dx in 0..cursor_w {
                let cx = inner.x.saturating_add((cursor_x + dx) as u16);
                if cx >= inner.right() {
                    break;
                }
                if let Some(cell) = buf.cell_mut((cx, y)) {
                    cell.set_style(Style::new().add_modifier(ratatui::style::Modifier::REVERSED));
                }
            }
        }
        y += 1;
    }
    let check = match ed.check() {
        Ok(()) if ed.fields.iter().any(|f| f.json) => Line::styled("✓ valid JSON object", t.ok()),
        Ok(()) => Line::styled("✓ ready", t.ok()),
        Err(e) => Line::styled(format!("✗ {e}"), t.error()),
    };
    check.render(Rect::new(inner.x, y + 1, inner.width, 1), buf);
}
