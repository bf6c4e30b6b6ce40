//! graph: the flow graph widget. Draws a laid-out [`Graph`] (from the flow
//! module; this widget never lays anything out) as boxes and arrows, each
//! step in its state's colour *and* glyph, scrolled to an offset.
//!
//! Owns drawing, and what a box shows ([`box_states`]: each step's state
//! and progress derived from history, per run of the step, so a foreach
//! body step reads `k/n` until every iteration is done). Reads the graph,
//! the states and the tokens it is given, writes cells, and costs what is
//! visible.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Widget;

use super::theme::Theme;
use crate::engine::{EventType, HistoryEvent, StepState};
use crate::fdl::layout::{Graph, NodeKind};
use crate::fdl::{Flow, StepId, StepKind};
use crate::kernel::short_token;

/// What a step's box shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BoxState {
    pub state: StepState,
    /// `(done, total)`: for a foreach or parallel step, its iterations or
    /// branches finished out of all; for a step inside a foreach, its runs
    /// finished out of the iterations to run.
    pub progress: Option<(usize, usize)>,
}

/// How bad a finished state is: a step run several times (a foreach body)
/// shows its worst run.
fn severity(s: StepState) -> u8 {
    match s {
        StepState::Failed => 4,
        StepState::TimedOut => 3,
        StepState::Cancelled => 2,
        _ => 1,
    }
}

/// Each step's box after replaying `events` (indexed by [`StepId`]).
///
/// A step may run more than once (foreach iterations, side by side; a
/// `goto` loop, one after the other): each run is followed on its own, from
/// its `StepEntered` through the events it schedules. A box is under way
/// while any run is (waiting first), and, inside a foreach, while
/// iterations are still to run; then it shows its last run's state (inside
/// a foreach: the worst). Steps under way when the execution ended
/// (stopped, timed out) are cancelled.
pub fn box_states(flow: &Flow, events: &[HistoryEvent]) -> Vec<BoxState> {
    let n = flow.steps.len();
    // Runs: StepEntered id -> (step, state); per step, its runs in order.
    let mut runs: HashMap<u32, (StepId, StepState)> = HashMap::new();
    let mut order: Vec<Vec<u32>> = vec![Vec::new(); n];
    // TaskScheduled id -> the run it belongs to.
    let mut tasks: HashMap<u32, u32> = HashMap::new();
    // Foreach/parallel runs: (iterations or branches to run, finished).
    let mut fans: HashMap<u32, (usize, usize)> = HashMap::new();
    for ev in events {
        let Some(step) = ev.step.filter(|s| s.index() < n) else {
            if matches!(
                ev.kind,
                EventType::ExecutionStopped
                    | EventType::ExecutionTimedOut
                    | EventType::ExecutionFailed
            ) {
                for (_, st) in runs.values_mut() {
                    if st.is_active() {
                        *st = StepState::Cancelled;
                    }
                }
            }
            continue;
        };
        if ev.kind == EventType::StepEntered {
            runs.insert(ev.id, (step, StepState::Running));
            order[step.index()].push(ev.id);
            let total = match &flow.step(step).kind {
                StepKind::Parallel(p) => Some(p.branches.len()),
                StepKind::Foreach(f) => serde_json::from_str::<serde_json::Value>(&ev.detail)
                    .ok()
                    .and_then(|d| f.collection.select(d.get("input")?))
                    .and_then(|c| c.as_array().map(Vec::len)),
                _ => None,
            };
            if let Some(total) = total {
                fans.insert(ev.id, (total, 0));
            }
            continue;
        }
        // The run: scheduled by its StepEntered, or by one of its tasks.
        let run = if runs.get(&ev.schedule_id).is_some_and(|r| r.0 == step) {
            Some(ev.schedule_id)
        } else if let Some(r) = tasks.get(&ev.schedule_id) {
            Some(*r)
        } else {
            order[step.index()].last().copied()
        };
        let Some(run) = run else { continue };
        match ev.kind {
            EventType::TaskScheduled => {
                tasks.insert(ev.id, run);
            }
            EventType::IterationExited | EventType::BranchExited => {
                if let Some(f) = fans.get_mut(&run) {
                    f.1 += 1;
                }
            }
            _ => {}
        }
        let Some((_, state)) = runs.get_mut(&run) else {
            continue;
        };
        *state = match ev.kind {
            EventType::StepEntered | EventType::StepStarted => StepState::Running,
            EventType::TaskSubmitted => match &flow.step(step).kind {
                StepKind::Task(t) if t.pattern == crate::fdl::Pattern::WaitForCallback => {
                    StepState::Waiting
                }
                _ => StepState::Running,
            },
            EventType::TaskTimedOut => StepState::TimedOut,
            EventType::StepExited | EventType::StepSucceeded => StepState::Succeeded,
            EventType::StepFailed if *state == StepState::TimedOut => StepState::TimedOut,
            EventType::StepFailed => StepState::Failed,
            EventType::TaskScheduled | EventType::TaskStarted => StepState::Running,
            _ => *state,
        };
    }
    let state_of = |id: &u32| runs.get(id).map_or(StepState::NotReached, |r| r.1);
    let mut boxes = vec![BoxState::default(); n];
    for (i, ids) in order.iter().enumerate() {
        let Some(last) = ids.last() else { continue };
        let step = &flow.steps[i];
        // The innermost foreach around the step: its runs' iterations are
        // this step's runs to come.
        let mut up = step.parent;
        let mut foreach = None;
        while let Some(p) = up {
            if matches!(flow.step(p).kind, StepKind::Foreach(_)) {
                foreach = Some(p);
                break;
            }
            up = flow.step(p).parent;
        }
        let outer = foreach.map(|f| {
            let f_runs = &order[f.index()];
            let total: usize = f_runs.iter().filter_map(|r| fans.get(r)).map(|f| f.0).sum();
            (total, f_runs.iter().any(|r| state_of(r).is_active()))
        });
        let states: Vec<StepState> = ids.iter().map(state_of).collect();
        let done = states.iter().filter(|s| !s.is_active()).count();
        let state = if states.contains(&StepState::Waiting) {
            StepState::Waiting
        } else if states.contains(&StepState::Running) {
            StepState::Running
        } else if outer.is_some_and(|(total, active)| active && done < total) {
            // Between iterations: more runs are to come.
            StepState::Running
        } else if outer.is_some() {
            states
                .iter()
                .copied()
                .max_by_key(|s| severity(*s))
                .unwrap_or_default()
        } else {
            state_of(last)
        };
        let progress = match (fans.get(last), outer) {
            (Some(&(total, finished)), _) => Some((finished, total)),
            (None, Some((total, _))) if total > 0 => Some((done.min(total), total)),
            _ => None,
        };
        boxes[i] = BoxState { state, progress };
    }
    boxes
}

/// How the execution as a whole stands, for the Start and End boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ends {
    /// The execution has started.
    pub started: StepState,
    /// How it ended (`NotReached` while running).
    pub ended: StepState,
}

/// The flow graph of one execution as of some history event.
pub struct GraphView<'a> {
    pub graph: &'a Graph,
    /// Each step's state, indexed by [`StepId`].
    pub states: &'a [StepState],
    /// Progress per step (see [`BoxState::progress`]), indexed by
    /// [`StepId`]; may be empty.
    pub progress: &'a [Option<(usize, usize)>],
    /// Tokens of waiting tasks, shown in short form.
    pub tokens: &'a [(StepId, String)],
    pub ends: Ends,
    /// The step picked in the graph (drawn bold and reversed).
    pub selected: Option<StepId>,
    /// Top-left cell of the graph shown at the area's top-left.
    pub scroll: (u16, u16),
    pub theme: Theme,
}

const UP: u8 = 1;
const DOWN: u8 = 2;
const LEFT: u8 = 4;
const RIGHT: u8 = 8;

fn line_glyph(mask: u8) -> &'static str {
    match mask {
        m if m == UP | DOWN || m == UP || m == DOWN => "│",
        m if m == LEFT | RIGHT || m == LEFT || m == RIGHT => "─",
        m if m == DOWN | RIGHT => "┌",
        m if m == DOWN | LEFT => "┐",
        m if m == UP | RIGHT => "└",
        m if m == UP | LEFT => "┘",
        m if m == UP | DOWN | RIGHT => "├",
        m if m == UP | DOWN | LEFT => "┤",
        m if m == LEFT | RIGHT | DOWN => "┬",
        m if m == LEFT | RIGHT | UP => "┴",
        _ => "┼",
    }
}

struct Canvas<'b> {
    buf: &'b mut Buffer,
    area: Rect,
    scroll: (u16, u16),
}

impl Canvas<'_> {
    /// Writes `s` at graph cell (x, y), clipped to the area.
    fn put(&mut self, x: u16, y: u16, s: &str, style: Style) {
        if x < self.scroll.0 || y < self.scroll.1 {
            return;
        }
        let (sx, sy) = (x - self.scroll.0, y - self.scroll.1);
        if sx >= self.area.width || sy >= self.area.height {
            return;
        }
        if let Some(cell) = self.buf.cell_mut((self.area.x + sx, self.area.y + sy)) {
            cell.set_symbol(s).set_style(style);
        }
    }

    /// Writes a string from graph cell (x, y), at most `max` cells.
    fn text(&mut self, x: u16, y: u16, s: &str, max: u16, style: Style) {
        for (i, ch) in s.chars().take(max as usize).enumerate() {
            let mut tmp = [0u8; 4];
            let Some(cx) = x.checked_add(i as u16) else {
                return;
            };
            self.put(cx, y, ch.encode_utf8(&mut tmp), style);
        }
    }
}

impl GraphView<'_> {
    fn state(&self, step: StepId) -> StepState {
        self.states.get(step.index()).copied().unwrap_or_default()
    }
}

impl Widget for GraphView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let mut c = Canvas {
            buf,
            area,
            scroll: self.scroll,
        };
        // Edges: merge every segment's cells into one connection mask per
        // cell, so corners and junctions get the right box-drawing glyph.
        let mut cells: HashMap<(u16, u16), u8> = HashMap::new();
        let mut heads = Vec::new();
        for e in &self.graph.edges {
            for w in e.points.windows(2) {
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                if x0 == x1 {
                    let (a, b) = (y0.min(y1), y0.max(y1));
                    for y in a..=b {
                        let m = cells.entry((x0, y)).or_default();
                        if y > a {
                            *m |= UP;
                        }
                        if y < b {
                            *m |= DOWN;
                        }
                        if a == b {
                            *m |= UP | DOWN;
                        }
                    }
                } else {
                    let (a, b) = (x0.min(x1), x0.max(x1));
                    for x in a..=b {
                        let m = cells.entry((x, y0)).or_default();
                        if x > a {
                            *m |= LEFT;
                        }
                        if x < b {
                            *m |= RIGHT;
                        }
                    }
                }
            }
            if let [.., (px, py), (x, y)] = e.points[..] {
                let head = if px == x {
                    if y >= py { "▼" } else { "▲" }
                } else if x >= px {
                    "►"
                } else {
                    "◄"
                };
                heads.push((x, y, head));
            }
        }
        for (&(x, y), &m) in &cells {
            c.put(x, y, line_glyph(m), t.edge());
        }
        for (x, y, head) in heads {
            c.put(x, y, head, t.edge());
        }
        // Labels over the lines: the layout put them where no box is, and
        // a label written into its own line reads as `── FnF.ALL ──`.
        for l in self.graph.edges.iter().filter_map(|e| e.label.as_ref()) {
            c.text(l.x, l.y, &l.text, u16::MAX, t.dim());
        }
        // Nodes over the edges.
        for n in &self.graph.nodes {
            if n.w < 2 || n.h < 2 {
                continue;
            }
            let (state, title, glyph, selected) = match n.kind {
                NodeKind::Step(s) => {
                    let st = self.state(s);
                    let progress = self.progress.get(s.index()).copied().flatten();
                    let word = match (st, progress) {
                        // Several runs: how far, rather than one token.
                        (StepState::Waiting, Some((d, n))) => format!("waiting {d}/{n}"),
                        (StepState::Waiting, None) => {
                            match self.tokens.iter().find(|(id, _)| *id == s) {
                                Some((_, tok)) => format!("waiting {}", short_token(tok)),
                                None => "waiting".into(),
                            }
                        }
                        (other, Some((d, n))) => format!("{} {d}/{n}", other.as_str()),
                        (other, None) => other.as_str().to_owned(),
                    };
                    (
                        st,
                        Some(word),
                        Theme::step_glyph(st),
                        self.selected == Some(s),
                    )
                }
                NodeKind::Start => (self.ends.started, None, "●", false),
                NodeKind::End => (self.ends.ended, None, "◉", false),
                // A join is done when its parallel/foreach step is.
                NodeKind::Join(s) => (self.state(s), None, "+", false),
            };
            let style = t.step(state);
            // A graph beyond u16 cells is clipped, never a panic.
            let (Some(x1), Some(y1)) = (n.x.checked_add(n.w - 1), n.y.checked_add(n.h - 1)) else {
                continue;
            };
            let (x0, y0) = (n.x, n.y);
            let rounded = !matches!(n.kind, NodeKind::Step(_));
            let (tl, tr, bl, br) = if rounded {
                ("╭", "╮", "╰", "╯")
            } else {
                ("┌", "┐", "└", "┘")
            };
            c.put(x0, y0, tl, style);
            c.put(x1, y0, tr, style);
            c.put(x0, y1, bl, style);
            c.put(x1, y1, br, style);
            for x in x0 + 1..x1 {
                c.put(x, y0, "─", style);
                c.put(x, y1, "─", style);
            }
            for y in y0 + 1..y1 {
                c.put(x0, y, "│", style);
                c.put(x1, y, "│", style);
                for x in x0 + 1..x1 {
                    c.put(x, y, " ", Style::new());
                }
            }
            let inner = n.w.saturating_sub(2);
            if n.h >= 3 {
                let label = if n.label.is_empty() {
                    glyph.to_owned()
                } else {
                    format!("{glyph} {}", n.label)
                };
                let len = label.chars().count() as u16;
                let lx = x0 + 1 + inner.saturating_sub(len) / 2;
                let mut ls = style;
                if selected {
                    ls = ls.add_modifier(Modifier::REVERSED);
                }
                c.text(lx, y0 + 1, &label, inner, ls);
                if n.h >= 4 && !n.detail.is_empty() && n.tag.is_empty() {
                    c.text(x0 + 2, y0 + 2, &n.detail, inner.saturating_sub(2), t.dim());
                }
            }
            // A state machine's type sits in the top border: `┌ Task ──┐`.
            if !n.tag.is_empty() && inner >= 3 {
                let tag = format!(" {} ", n.tag);
                c.text(x0 + 1, y0, &tag, inner, t.dim());
            }
            if let Some(word) = title {
                // The state (and short token) sits in the bottom border.
                let word = format!(" {word} ");
                let len = (word.chars().count() as u16).min(inner);
                let wx = x0 + 1 + (inner - len) / 2;
                c.text(wx, y1, &word, inner, style);
            }
        }
    }
}

#[cfg(test)]
mod tests {

    use ratatui::style::{Color, Modifier, Style};

    use super::*;
    use crate::fdl::layout::{Edge, Label, Node};

    fn one_step() -> Graph {
        Graph {
            width: 20,
            height: 5,
            nodes: vec![Node {
                kind: NodeKind::Step(StepId(0)),
                label: "task".into(),
                detail: String::new(),
                tag: String::new(),
                x: 0,
                y: 2,
                w: 20,
                h: 3,
            }],
            edges: vec![Edge {
                from: 0,
                to: 0,
                label: None,
                points: vec![(9, 0), (9, 1)],
            }],
        }
    }

    fn render(state: StepState, theme: Theme) -> Buffer {
        let g = one_step();
        let states = [state];
        let tokens = [(StepId(0), "ABCDEFGHIJKLMNOPQRSTUVWXYZ".to_owned())];
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 5));
        GraphView {
            graph: &g,
            states: &states,
            progress: &[],
            tokens: &tokens,
            ends: Ends::default(),
            selected: None,
            scroll: (0, 0),
            theme,
        }
        .render(buf.area, &mut buf);
        buf
    }

    /// The exact buffer for a state: box in the state's colour, glyph and
    /// word in the box, edge dim with an arrow head.
    fn expected(state: StepState, lines: [&str; 5], fg: Color, bold: bool) -> Buffer {
        let mut want = Buffer::with_lines(lines);
        let mut style = Style::new().fg(fg);
        if bold {
            style = style.add_modifier(Modifier::BOLD);
        }
        let edge = Style::new().fg(Color::DarkGray);
        want.set_style(Rect::new(9, 0, 1, 2), edge);
        // Border.
        want.set_style(Rect::new(0, 2, 20, 1), style);
        want.set_style(Rect::new(0, 4, 20, 1), style);
        want.set_style(Rect::new(0, 3, 1, 1), style);
        want.set_style(Rect::new(19, 3, 1, 1), style);
        // Label: glyph + name, centred.
        let label = format!("{} task", Theme::step_glyph(state));
        let len = label.chars().count() as u16;
        want.set_style(Rect::new(1 + (18 - len) / 2, 3, len, 1), style);
        want
    }

    #[test]
    fn each_state_has_its_colour_and_glyph() {
        let cases = [
            (StepState::NotReached, "not reached", Color::DarkGray, false),
            (StepState::Running, "running", Color::Yellow, true),
            (StepState::Succeeded, "succeeded", Color::Green, true),
            (StepState::Failed, "failed", Color::Red, true),
            (StepState::TimedOut, "timed out", Color::LightRed, true),
        ];
        for (state, word, fg, bold) in cases {
            let got = render(state, Theme::COLOR);
            let label = format!("{} task", Theme::step_glyph(state));
            let pad = (18 - label.chars().count()) / 2;
            let mid = format!(
                "│{}{label}{}│",
                " ".repeat(pad),
                " ".repeat(18 - pad - label.chars().count())
            );
            let w = format!(" {word} ");
            let wpad = (18 - w.chars().count()) / 2;
            let bottom = format!(
                "└{}{w}{}┘",
                "─".repeat(wpad),
                "─".repeat(18 - wpad - w.chars().count())
            );
            let want = expected(
                state,
                [
                    "         │          ",
                    "         ▼          ",
                    "┌──────────────────┐",
                    &mid,
                    &bottom,
                ],
                fg,
                bold,
            );
            assert_eq!(got, want, "{state:?}");
        }
    }

    #[test]
    fn waiting_shows_the_short_token() {
        let got = render(StepState::Waiting, Theme::COLOR);
        let want = expected(
            StepState::Waiting,
            [
                "         │          ",
                "         ▼          ",
                "┌──────────────────┐",
                "│      ◷ task      │",
                "└ waiting ABCDEFGH…┘",
            ],
            Color::Cyan,
            true,
        );
        // The bottom line is the only place the token fits; the word is cut
        // to the box, keep the cells and colours exact anyway.
        assert_eq!(got.content()[20 * 4].symbol(), "└");
        assert_eq!(got.cell((9, 3)).unwrap().fg, Color::Cyan);
        assert_eq!(got.cell((7, 3)).unwrap().symbol(), "◷");
        let text: String = (0..20)
            .map(|x| got.cell((x, 4)).unwrap().symbol().to_owned())
            .collect();
        assert!(text.contains("waiting ABCDEFGH"), "{text}");
        assert_eq!(want.cell((7, 3)).unwrap().symbol(), "◷");
    }

    #[test]
    fn no_color_keeps_glyphs() {
        let got = render(StepState::Failed, Theme::MONO);
        assert_eq!(got.cell((7, 3)).unwrap().symbol(), "✗");
        assert_eq!(got.cell((7, 3)).unwrap().fg, Color::Reset);
    }

    #[test]
    fn scrolled_graphs_clip() {
        let g = one_step();
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 2));
        GraphView {
            graph: &g,
            states: &[StepState::Running],
            progress: &[],
            tokens: &[],
            ends: Ends::default(),
            selected: None,
            scroll: (10, 3),
            theme: Theme::COLOR,
        }
        .render(buf.area, &mut buf);
        assert_eq!(buf.cell((9, 0)).unwrap().symbol(), "│");
        // The bottom border from graph column 10: " running " is cut.
        assert_eq!(buf.cell((0, 1)).unwrap().symbol(), "i");
        assert_eq!(buf.cell((9, 1)).unwrap().symbol(), "┘");
    }

    /// A step box over a labelled edge into a join: every cell and colour.
    #[test]
    fn joins_take_their_steps_state_and_labels_sit_where_laid_out() {
        let g = Graph {
            width: 13,
            height: 8,
            nodes: vec![
                Node {
                    kind: NodeKind::Step(StepId(0)),
                    label: "p".into(),
                    detail: "parallel".into(),
                    tag: String::new(),
                    x: 0,
                    y: 0,
                    w: 13,
                    h: 3,
                },
                Node {
                    kind: NodeKind::Join(StepId(0)),
                    label: String::new(),
                    detail: "join".into(),
                    tag: String::new(),
                    x: 4,
                    y: 5,
                    w: 5,
                    h: 3,
                },
            ],
            edges: vec![Edge {
                from: 0,
                to: 1,
                label: Some(Label {
                    text: "lbl".into(),
                    x: 7,
                    y: 3,
                }),
                points: vec![(6, 2), (6, 4)],
            }],
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 13, 8));
        GraphView {
            graph: &g,
            states: &[StepState::Succeeded],
            progress: &[],
            tokens: &[],
            ends: Ends::default(),
            selected: None,
            scroll: (0, 0),
            theme: Theme::COLOR,
        }
        .render(buf.area, &mut buf);
        let mut want = Buffer::with_lines([
            "┌───────────┐",
            "│    ✓ p    │",
            "└ succeeded ┘",
            "      │lbl   ",
            "      ▼      ",
            "    ╭───╮    ",
            "    │ + │    ",
            "    ╰───╯    ",
        ]);
        let ok = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);
        let dim = Style::new().fg(Color::DarkGray);
        want.set_style(Rect::new(0, 0, 13, 1), ok);
        want.set_style(Rect::new(0, 1, 1, 1), ok);
        want.set_style(Rect::new(12, 1, 1, 1), ok);
        want.set_style(Rect::new(5, 1, 3, 1), ok);
        want.set_style(Rect::new(0, 2, 13, 1), ok);
        want.set_style(Rect::new(6, 3, 1, 2), dim);
        want.set_style(Rect::new(7, 3, 3, 1), dim);
        want.set_style(Rect::new(4, 5, 5, 1), ok);
        want.set_style(Rect::new(4, 6, 1, 1), ok);
        want.set_style(Rect::new(6, 6, 1, 1), ok);
        want.set_style(Rect::new(8, 6, 1, 1), ok);
        want.set_style(Rect::new(4, 7, 5, 1), ok);
        assert_eq!(buf, want);
    }

    /// A laid-out flow drawn in plain glyphs, every step not reached.
    fn draw(flow: &crate::fdl::Flow) -> String {
        let g = crate::fdl::layout::layout(flow);
        let states = vec![StepState::NotReached; flow.steps.len()];
        let mut buf = Buffer::empty(Rect::new(0, 0, g.width, g.height));
        GraphView {
            graph: &g,
            states: &states,
            progress: &[],
            tokens: &[],
            ends: Ends::default(),
            selected: None,
            scroll: (0, 0),
            theme: Theme::MONO,
        }
        .render(buf.area, &mut buf);
        let mut out = String::new();
        for y in 0..g.height {
            let line: String = (0..g.width)
                .map(|x| buf.cell((x, y)).unwrap().symbol().to_owned())
                .collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn load(rel: &str) -> crate::fdl::Flow {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        crate::fdl::load_file(&p).unwrap()
    }

    /// Every construct drawn, for review: choice branches with their
    /// conditions, gotos (backwards too), fork/join, foreach, catch, fail.
    #[test]
    fn drawn_constructs() {
        for (snapshot, rel) in [
            ("graph_choice", "tests/fixtures/layout/choice.yaml"),
            ("graph_goto_back", "tests/fixtures/layout/goto-back.yaml"),
            ("graph_nested", "tests/fixtures/layout/nested.yaml"),
            ("graph_parallel", "flows/order-parallel-callbacks.yaml"),
            ("graph_foreach", "flows/foreach-fanout.yaml"),
            ("graph_approval", "flows/approval-with-timeout.yaml"),
            ("graph_retry_catch", "flows/retry-then-catch.yaml"),
        ] {
            insta::assert_snapshot!(snapshot, draw(&load(rel)));
        }
    }

    /// Every CloudFlow example drawn whole, for review: explicit edges,
    /// Choice branches with their conditions, the polling loop's edge back
    /// up, Catch, Parallel and Map, each box's type in its top border.
    #[test]
    fn drawn_state_machines() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/cloudflow");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            // Flow tests (`flowsim test`) sit beside the flows.
            .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
            .collect();
        files.sort();
        assert!(files.len() >= 9);
        for file in files {
            let flow = crate::fdl::load_any_file(&file).unwrap().0;
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            insta::assert_snapshot!(format!("graph_cloudflow_{stem}"), draw(&flow));
        }
    }

    /// In a nested flow, every step box shows its own state's glyph and
    /// colour, and a join shows its parallel/foreach step's.
    #[test]
    fn nested_steps_each_show_their_state() {
        let flow = load("tests/fixtures/layout/nested.yaml");
        let g = crate::fdl::layout::layout(&flow);
        let all = [
            StepState::NotReached,
            StepState::Running,
            StepState::Waiting,
            StepState::Succeeded,
            StepState::Failed,
            StepState::TimedOut,
        ];
        let states: Vec<StepState> = (0..flow.steps.len()).map(|i| all[i % all.len()]).collect();
        let mut buf = Buffer::empty(Rect::new(0, 0, g.width, g.height));
        GraphView {
            graph: &g,
            states: &states,
            progress: &[],
            tokens: &[],
            ends: Ends::default(),
            selected: None,
            scroll: (0, 0),
            theme: Theme::COLOR,
        }
        .render(buf.area, &mut buf);
        for n in &g.nodes {
            let (NodeKind::Step(s) | NodeKind::Join(s)) = n.kind else {
                continue;
            };
            let st = states[s.index()];
            let glyph = if matches!(n.kind, NodeKind::Join(_)) {
                "+"
            } else {
                Theme::step_glyph(st)
            };
            let row: Vec<&ratatui::buffer::Cell> = (n.x..n.x + n.w)
                .map(|x| buf.cell((x, n.y + 1)).unwrap())
                .collect();
            let cell = row.iter().find(|c| c.symbol() == glyph);
            let cell = cell.unwrap_or_else(|| panic!("{:?}: no {glyph}", n.kind));
            let want = Theme::COLOR.step(st);
            for c in [*cell, buf.cell((n.x, n.y)).unwrap()] {
                assert_eq!(Some(c.fg), want.fg, "{:?}", n.kind);
                assert_eq!(c.modifier, want.add_modifier, "{:?}", n.kind);
            }
        }
    }

    /// A flow longer than 65,535 rows: coordinates saturate, nothing panics.
    #[test]
    fn a_graph_beyond_u16_cells_clips() {
        let mut text = String::from("version: v1\ntype: flow\nsteps:\n");
        for i in 0..14_000 {
            text.push_str(&format!("  - type: pass\n    name: s{i}\n"));
        }
        let flow = crate::fdl::load("huge", &text).unwrap();
        let g = crate::fdl::layout::layout(&flow);
        assert_eq!(g.height, u16::MAX);
        let states = vec![StepState::Running; flow.steps.len()];
        for scroll in [(0, 0), (0, u16::MAX - 10), (u16::MAX, u16::MAX)] {
            let mut buf = Buffer::empty(Rect::new(0, 0, 30, 10));
            GraphView {
                graph: &g,
                states: &states,
                progress: &[],
                tokens: &[],
                ends: Ends::default(),
                selected: None,
                scroll,
                theme: Theme::COLOR,
            }
            .render(buf.area, &mut buf);
        }
    }
}
