//! The mouse: where the panes were drawn ([`Regions`], recorded while
//! drawing) and what a click or the wheel does there.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::App;
use crate::fdl::layout::NodeKind;
use crate::sim::Sim;
use crate::tui::action::{Action, Focus, Tab};

/// Where the panes were drawn last, for the mouse (set while drawing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regions {
    /// The executions pane, and the rows inside it.
    pub list: Rect,
    pub list_rows: Rect,
    /// The graph pane; where the graph's cell (0, 0) would be drawn
    /// (scroll included, may be off the pane).
    pub graph: Rect,
    pub graph_origin: (i32, i32),
    /// The inspector pane and its tab titles.
    pub inspector: Rect,
    pub tabs: [Rect; 4],
    /// History tab: the event rows and the first event shown on them; the
    /// detail below.
    pub history_rows: Rect,
    pub history_first: usize,
    pub history_detail: Rect,
}

impl App {
    /// A mouse event: a left click selects what is under it (an execution,
    /// a tab, a history event, a step) and focuses its pane; the wheel
    /// scrolls the pane under it. Overlays take no clicks (the help
    /// scrolls). Answers whether anything changed.
    pub fn mouse(&mut self, ev: MouseEvent, sim: &Sim) -> bool {
        let at = Position::new(ev.column, ev.row);
        let down = match ev.kind {
            MouseEventKind::ScrollDown => Some(true),
            MouseEventKind::ScrollUp => Some(false),
            _ => None,
        };
        if self.help {
            return match down {
                Some(true) => {
                    self.help_scroll = self.help_scroll.saturating_add(3);
                    true
                }
                Some(false) => {
                    self.help_scroll = self.help_scroll.saturating_sub(3);
                    true
                }
                None => false,
            };
        }
        if self.editor.is_some() || self.confirm.is_some() || self.picker.is_some() {
            return false;
        }
        match (ev.kind, down) {
            (MouseEventKind::Down(MouseButton::Left), _) => self.click(at, sim),
            (_, Some(down)) => self.wheel(at, down, sim),
            _ => false,
        }
    }

    pub(super) fn click(&mut self, at: Position, sim: &Sim) -> bool {
        let r = self.regions;
        if r.list_rows.contains(at) {
            let row = self.list_offset + usize::from(at.y - r.list_rows.y);
            if let Some(id) = self.list.at(row) {
                self.select(Some(id));
                self.follow = self.selected == self.newest_root(sim);
            }
            self.focus = Focus::List;
            return true;
        }
        if let Some(i) = r.tabs.iter().position(|t| t.contains(at)) {
            self.tab = Tab::ALL[i];
            self.inspector_scroll = 0;
            self.focus = Focus::Inspector;
            return true;
        }
        if self.tab == Tab::History && r.history_rows.contains(at) {
            let idx = r.history_first + usize::from(at.y - r.history_rows.y);
            if let Some(x) = self.selected.and_then(|id| sim.engine.execution(id))
                && idx < x.history.len()
            {
                self.cursor = (idx + 1 < x.history.len()).then_some(idx + 1);
                self.detail_scroll = 0;
            }
            self.focus = Focus::Inspector;
            return true;
        }
        if r.graph.contains(at) {
            self.focus = Focus::Graph;
            let gx = i32::from(at.x) - r.graph_origin.0;
            let gy = i32::from(at.y) - r.graph_origin.1;
            if let Some(x) = self.selected.and_then(|id| sim.engine.execution(id)) {
                let flow = x.flow.clone();
                let graph = self.graph(&flow);
                let hit = graph.nodes.iter().find_map(|n| match n.kind {
                    NodeKind::Step(s)
                        if (i32::from(n.x)..i32::from(n.x) + i32::from(n.w)).contains(&gx)
                            && (i32::from(n.y)..i32::from(n.y) + i32::from(n.h)).contains(&gy) =>
                    {
                        Some(s)
                    }
                    _ => None,
                });
                if let Some(s) = hit {
                    self.step_sel = Some(s);
                    self.inspector_scroll = 0;
                }
            }
            return true;
        }
        if r.inspector.contains(at) {
            self.focus = Focus::Inspector;
            return true;
        }
        if r.list.contains(at) {
            self.focus = Focus::List;
            return true;
        }
        false
    }

    pub(super) fn wheel(&mut self, at: Position, down: bool, sim: &Sim) -> bool {
        let r = self.regions;
        let step = if down { Action::Down } else { Action::Up };
        if r.list.contains(at) {
            let focus = std::mem::replace(&mut self.focus, Focus::List);
            self.move_in_focus(step, sim);
            self.focus = focus;
        } else if r.graph.contains(at) {
            // Scrolled by hand: the graph stays put (clamped when drawn).
            self.graph_free = true;
            self.graph_scroll.1 = if down {
                self.graph_scroll.1.saturating_add(2)
            } else {
                self.graph_scroll.1.saturating_sub(2)
            };
        } else if r.inspector.contains(at) {
            if self.tab == Tab::History && !r.history_detail.contains(at) {
                let focus = std::mem::replace(&mut self.focus, Focus::Inspector);
                self.move_in_focus(step, sim);
                self.focus = focus;
            } else {
                self.scroll_text(down, 3);
            }
        } else {
            return false;
        }
        true
    }
}
