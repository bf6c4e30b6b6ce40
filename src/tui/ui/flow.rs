//! The flow pane: the graph of the selected execution's flow with each
//! step's state as of the shown events (time travel included), else the
//! flow a new execution would start; scrolled to keep the picked or
//! active step in view.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{clip, detail_field, more_hint, new_execution_flow, pane};
use crate::engine::{EventType, HistoryEvent, StepState};
use crate::fdl::StepId;
use crate::sim::Sim;
use crate::tui::action::Focus;
use crate::tui::app::{App, boxes_at};
use crate::tui::graph::{Ends, GraphView};

pub(super) fn render_graph(app: &mut App, sim: &Sim, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    app.regions.graph = area;
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
    let boxes = boxes_at(x, shown);
    let states: Vec<StepState> = boxes.iter().map(|b| b.state).collect();
    let progress: Vec<Option<(usize, usize)>> = boxes.iter().map(|b| b.progress).collect();
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
            .map(|i| StepId(i as u16))
    });
    let ends = ends_at(&x.history[..shown]);
    draw_graph(
        app, &graph, &states, &progress, &tokens, ends, focus_step, area, inner, buf,
    );
}

/// Draws a laid-out graph in `inner` (the pane is `area`), scrolled to keep
/// `focus_step` in view, with a hint when it does not fit.
#[allow(clippy::too_many_arguments)]
fn draw_graph(
    app: &mut App,
    graph: &crate::fdl::layout::Graph,
    states: &[StepState],
    progress: &[Option<(usize, usize)>],
    tokens: &[(StepId, String)],
    ends: Ends,
    focus_step: Option<StepId>,
    area: Rect,
    inner: Rect,
    buf: &mut Buffer,
) {
    let t = app.theme;
    let (mut sx, mut sy) = app.graph_scroll;
    // Scrolled by the wheel: left where it was put.
    let focus_step = focus_step.filter(|_| !app.graph_free);
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
    app.regions.graph_origin = (
        i32::from(garea.x) - i32::from(sx),
        i32::from(garea.y) - i32::from(sy),
    );
    GraphView {
        graph,
        states,
        progress,
        tokens,
        ends,
        selected: app.step_sel,
        scroll: (sx, sy),
        theme: t,
    }
    .render(garea, buf);
    if graph.height > inner.height || graph.width > inner.width {
        more_hint(area, "j/k", buf, t);
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
        Some(EventType::ExecutionFailed) => StepState::Failed,
        Some(EventType::ExecutionStopped) => StepState::Cancelled,
        Some(EventType::ExecutionTimedOut) => StepState::TimedOut,
        _ => StepState::NotReached,
    };
    ends
}
