//! TEMPORARY stand-in for `fdl::layout` until the fdl branch is merged:
//! the same types, and a plain top-to-bottom chain of the top-level steps.
//! Deleted once `crate::fdl::layout` exists.

use crate::fdl::{Flow, StepId};

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Start,
    End,
    Step(StepId),
    Join(StepId),
}

/// A box of the graph, in terminal cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    pub label: String,
    pub detail: String,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

/// An arrow between two nodes: an orthogonal polyline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub label: Option<String>,
    pub points: Vec<(u16, u16)>,
}

/// A laid-out flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub width: u16,
    pub height: u16,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The node drawn for a step.
    pub fn node_for_step(&self, step: StepId) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.kind == NodeKind::Step(step))
    }
}

/// Lays the top-level steps out as one column.
pub fn layout(flow: &Flow) -> Graph {
    let mut items: Vec<(NodeKind, String, String)> =
        vec![(NodeKind::Start, "Start".into(), String::new())];
    for &id in &flow.body {
        let s = flow.step(id);
        items.push((
            NodeKind::Step(id),
            s.name.clone(),
            s.kind.type_name().into(),
        ));
    }
    items.push((NodeKind::End, "End".into(), String::new()));
    let w = items
        .iter()
        .map(|(_, l, _)| l.chars().count() as u16 + 6)
        .max()
        .unwrap_or(10)
        .max(24);
    let mut nodes = Vec::new();
    let mut y = 0;
    for (kind, label, detail) in items {
        let nw = if matches!(kind, NodeKind::Step(_)) {
            w
        } else {
            9
        };
        nodes.push(Node {
            kind,
            label,
            detail,
            x: (w - nw) / 2,
            y,
            w: nw,
            h: 3,
        });
        y += 5;
    }
    let edges = (1..nodes.len())
        .map(|i| {
            let a = &nodes[i - 1];
            let b = &nodes[i];
            let x = a.x + a.w / 2;
            Edge {
                from: i - 1,
                to: i,
                label: None,
                points: vec![(x, a.y + a.h), (x, b.y - 1)],
            }
        })
        .collect();
    Graph {
        width: w,
        height: y.saturating_sub(2),
        nodes,
        edges,
    }
}
