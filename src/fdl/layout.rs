//! Graph layout: a [`Flow`] in, boxes and orthogonal arrows in terminal
//! cells out ([`Graph`]), for the TUI's flow graph.
//!
//! Pure and deterministic; knows nothing of executions or of drawing. Every
//! construct is laid out, nested to any depth:
//!
//! - a list of steps is a column, each step below the previous one;
//! - a choice is a branch point: one column per condition (its edge
//!   labelled with the condition text, shortened) plus `default` (drawn even
//!   when absent: nothing matching falls through). A branch without `goto`
//!   joins the step after the choice; a `goto` is drawn to its target;
//! - parallel and foreach fork under their box and join in a [`NodeKind::Join`]
//!   node; parallel branches sit side by side, a foreach body is drawn once,
//!   its edge labelled with the collection;
//! - a task's `catch` rules are edges from its right side to their targets,
//!   labelled with the error names;
//! - `succeed` and `fail` edge to End (a fail edge is labelled `✗ Error`);
//!   `end: true` edges to the end of its list (End at the top level).
//!
//! A CloudFlow state machine ([`Flow::lang`]) is the same model with
//! explicit edges: a state's `Next` ([`crate::fdl::Step::next`]) goes
//! straight down when it names the state drawn below, else it is a jump
//! like a `goto` (forward, or back up to an earlier state: a polling loop);
//! a Choice branch (every one is a `goto`) whose target is the state below
//! joins it like an FDL branch without `goto`; a jump back up names its
//! target in its label (`default ↺ pause`); Parallel and Map catch rules
//! leave their box on the right like a task's; a `Succeed` ends its block.
//! Each box carries the state's type for its top border ([`Node::tag`]).
//!
//! How it stays readable: layout is by fragments (a step, a list, a
//! compound), each a rectangle whose top two rows are its lead-in (the line
//! and the arrowhead into its first box). An edge that does not simply go
//! down (a goto, a catch, an early end) leaves its fragment on the right, at
//! a row no other fragment uses, and the list that holds its target routes
//! it in a lane of its own to the right of everything in that list, then
//! left along the target's lead-in row into the line above the target. So
//! boxes never overlap and no line crosses a box; lines may cross lines.

use super::model::{CatchRule, Flow, StepId, StepKind};

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Start,
    End,
    Step(StepId),
    /// Where the branches of a parallel or foreach step join.
    Join(StepId),
}

/// A box of the graph, in terminal cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// The step name (empty for joins; `Start`/`End` for the ends).
    pub label: String,
    /// The step type, for nodes tall enough to show it.
    pub detail: String,
    /// Text for the box's top border: a state machine's type name (`Task`,
    /// `Map`…, [`Flow::type_name`]); empty for FDL v1 boxes.
    pub tag: String,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

/// Text drawn beside an edge, at a cell the layout kept free of boxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub text: String,
    pub x: u16,
    pub y: u16,
}

/// An arrow between two nodes: an orthogonal polyline from just outside
/// `from` to just outside `to` (the last point is the arrowhead's cell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub label: Option<Label>,
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

    /// The join node of a parallel or foreach step.
    pub fn join_for_step(&self, step: StepId) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.kind == NodeKind::Join(step))
    }
}

/// Lays a flow out: Start, the top-level steps, End.
pub fn layout(flow: &Flow) -> Graph {
    let l = Layouter { flow };
    let mut g = Frag::default();
    let list = l.list(&flow.body, 0, true);
    let cx = list.as_ref().map_or(END_W / 2, |f| f.cx.max(END_W / 2));
    let start = g.push_node(INode::new(
        NodeKind::Start,
        "Start",
        "",
        cx - END_W / 2,
        0,
        END_W,
        3,
    ));
    let mut start_exit = Pending::new(start, (cx, 2));
    let (exits, end_y) = match list {
        Some(list) => {
            let dx = cx - list.cx;
            let (lw, lh) = (list.w, list.h);
            let placed = g.absorb(list, dx, 3);
            if let Some(entry) = placed.entry {
                start_exit.points.push((cx, 4));
                g.edges.push(start_exit.into_edge(entry));
            }
            // Jumps left over at the top (to steps no list holds: only in
            // hand-built flows) go to End rather than nowhere.
            let mut exits = placed.exits;
            for j in placed.jumps {
                let mut p = j.pending;
                if let Some(&(_, y)) = p.points.last() {
                    let x = (dx + lw).max(cx + 2);
                    p.points.extend([(x, y), (x, 3 + lh), (cx, 3 + lh)]);
                }
                exits.push(p);
            }
            (exits, 3 + lh)
        }
        None => {
            start_exit.points.push((cx, 3));
            (vec![start_exit], 3)
        }
    };
    let end = g.push_node(INode::new(
        NodeKind::End,
        "End",
        "",
        cx - END_W / 2,
        end_y + 2,
        END_W,
        3,
    ));
    for mut p in exits {
        p.points.extend([(cx, end_y), (cx, end_y + 1)]);
        g.edges.push(p.into_edge(end));
    }
    g.into_graph()
}

/// Width of the Start and End boxes.
const END_W: i32 = 9;
/// Width of a join box.
const JOIN_W: i32 = 5;
/// Longest edge label, in characters.
const LABEL_MAX: usize = 24;

type P = (i32, i32);

#[derive(Debug, Clone)]
struct ILabel {
    text: String,
    x: i32,
    y: i32,
}

#[derive(Debug, Clone)]
struct INode {
    kind: NodeKind,
    label: String,
    detail: String,
    tag: String,
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

impl INode {
    fn new(kind: NodeKind, label: &str, detail: &str, x: i32, y: i32, w: i32, h: i32) -> Self {
        INode {
            kind,
            label: label.to_owned(),
            detail: detail.to_owned(),
            tag: String::new(),
            x,
            y,
            w,
            h,
        }
    }
}

#[derive(Debug, Clone)]
struct IEdge {
    from: usize,
    to: usize,
    label: Option<ILabel>,
    points: Vec<P>,
}

/// An edge whose end is not known yet: its source and the path so far.
#[derive(Debug, Clone)]
struct Pending {
    from: usize,
    label: Option<ILabel>,
    points: Vec<P>,
}

impl Pending {
    fn new(from: usize, at: P) -> Self {
        Pending {
            from,
            label: None,
            points: vec![at],
        }
    }

    fn into_edge(self, to: usize) -> IEdge {
        IEdge {
            from: self.from,
            to,
            label: self.label,
            points: self.points,
        }
    }

    fn shift(&mut self, dx: i32, dy: i32, dn: usize) {
        self.from += dn;
        for p in &mut self.points {
            *p = (p.0 + dx, p.1 + dy);
        }
        if let Some(l) = &mut self.label {
            l.x += dx;
            l.y += dy;
        }
    }

    fn last_y(&self) -> i32 {
        self.points.last().map_or(0, |p| p.1)
    }
}

/// Where a jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A step of some enclosing list (a `goto`, a catch).
    Step(StepId),
    /// The end of the list the jump comes from (`end: true`).
    ListEnd,
    /// The end of the flow (`succeed`, `fail`).
    End,
}

#[derive(Debug, Clone)]
struct Jump {
    pending: Pending,
    target: Target,
}

/// A laid-out piece: a rectangle `w` x `h` whose rows 0 and 1 are the
/// lead-in above its first box, at column `cx`.
///
/// - `entry`: the node an edge into the fragment points at; such an edge
///   ends at (`cx`, 1).
/// - `exits`: edges that continue below the fragment; each ends at
///   (`cx`, `h`), the first row under it.
/// - `jumps`: edges to somewhere else; each ends at (`w`, y), the first
///   column right of the fragment, on a row where nothing else in the
///   fragment's parent list runs.
#[derive(Debug, Default)]
struct Frag {
    w: i32,
    h: i32,
    cx: i32,
    nodes: Vec<INode>,
    edges: Vec<IEdge>,
    entry: Option<usize>,
    exits: Vec<Pending>,
    jumps: Vec<Jump>,
}

/// What placing a child fragment gave back, in the parent's coordinates.
struct Placed {
    entry: Option<usize>,
    exits: Vec<Pending>,
    jumps: Vec<Jump>,
}

impl Frag {
    fn push_node(&mut self, n: INode) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    /// Moves a child's nodes and edges in at (dx, dy) and hands back its
    /// loose ends, shifted the same way.
    fn absorb(&mut self, child: Frag, dx: i32, dy: i32) -> Placed {
        let dn = self.nodes.len();
        for mut n in child.nodes {
            n.x += dx;
            n.y += dy;
            self.nodes.push(n);
        }
        for mut e in child.edges {
            e.from += dn;
            e.to += dn;
            for p in &mut e.points {
                *p = (p.0 + dx, p.1 + dy);
            }
            if let Some(l) = &mut e.label {
                l.x += dx;
                l.y += dy;
            }
            self.edges.push(e);
        }
        let exits = child
            .exits
            .into_iter()
            .map(|mut p| {
                p.shift(dx, dy, dn);
                p
            })
            .collect();
        let jumps = child
            .jumps
            .into_iter()
            .map(|mut j| {
                j.pending.shift(dx, dy, dn);
                j
            })
            .collect();
        Placed {
            entry: child.entry.map(|e| e + dn),
            exits,
            jumps,
        }
    }

    fn into_graph(self) -> Graph {
        let cell = |v: i32| u16::try_from(v.max(0)).unwrap_or(u16::MAX);
        let label = |l: ILabel| Label {
            text: l.text,
            x: cell(l.x),
            y: cell(l.y),
        };
        let mut width = 0;
        let mut height = 0;
        let nodes: Vec<Node> = self
            .nodes
            .into_iter()
            .map(|n| {
                width = width.max(n.x + n.w);
                height = height.max(n.y + n.h);
                Node {
                    kind: n.kind,
                    label: n.label,
                    detail: n.detail,
                    tag: n.tag,
                    x: cell(n.x),
                    y: cell(n.y),
                    w: cell(n.w),
                    h: cell(n.h),
                }
            })
            .collect();
        let edges = self
            .edges
            .into_iter()
            .map(|e| {
                let points = tidy(e.points);
                for &(x, y) in &points {
                    width = width.max(x + 1);
                    height = height.max(y + 1);
                }
                if let Some(l) = &e.label {
                    width = width.max(l.x + l.text.chars().count() as i32);
                    height = height.max(l.y + 1);
                }
                Edge {
                    from: e.from,
                    to: e.to,
                    label: e.label.map(label),
                    points: points
                        .into_iter()
                        .map(|(x, y)| (cell(x), cell(y)))
                        .collect(),
                }
            })
            .collect();
        Graph {
            width: cell(width),
            height: cell(height),
            nodes,
            edges,
        }
    }
}

/// Drops repeated points and the middle of straight runs, keeping at least
/// two points so every edge has a direction for its arrowhead.
fn tidy(points: Vec<P>) -> Vec<P> {
    let mut out: Vec<P> = Vec::with_capacity(points.len());
    for p in points {
        if out.last() == Some(&p) {
            continue;
        }
        if let [.., a, b] = out[..]
            && ((a.0 == b.0 && b.0 == p.0) || (a.1 == b.1 && b.1 == p.1))
        {
            out.pop();
        }
        out.push(p);
    }
    if out.len() == 1 {
        let p = out[0];
        out.push(p);
    }
    out
}

fn chars(s: &str) -> i32 {
    i32::try_from(s.chars().count()).unwrap_or(i32::MAX / 4)
}

/// Cuts `s` to `max` characters, marking the cut with `…`.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// One branch of a compound step, as the layout needs it.
struct BranchSpec<'a> {
    steps: &'a [StepId],
    label: Option<String>,
    goto: Option<StepId>,
}

struct Layouter<'f> {
    flow: &'f Flow,
}

impl Layouter<'_> {
    /// Box width for a step name: wide enough for the name, its state
    /// glyph and a margin; top-level boxes a little wider so a waiting
    /// task's short token fits in the border.
    fn box_w(name: &str, depth: usize) -> i32 {
        let min = if depth == 0 { 24 } else { 18 };
        (chars(name) + 6).clamp(min, 32)
    }

    /// Whether the flow's states name what follows them (`Next`): a state
    /// machine.
    fn explicit(&self) -> bool {
        self.flow.lang.pipes()
    }

    /// `↺ NAME` when a jump from `from` to `to` goes back up its list (a
    /// state machine's loop), so the line says where it goes before it
    /// leaves the screen. FDL v1 graphs carry no such tag.
    fn back_tag(&self, siblings: &[StepId], from: StepId, to: StepId) -> Option<String> {
        if !self.explicit() {
            return None;
        }
        let at = |s: StepId| siblings.iter().position(|&x| x == s);
        let (f, t) = (at(from)?, at(to)?);
        let name = &self.flow.steps.get(to.index())?.name;
        (t <= f).then(|| format!("↺ {}", shorten(name, LABEL_MAX)))
    }

    /// A state machine's goto to the state drawn right below its Choice
    /// joins it like a branch without goto.
    fn goto_or_fall(&self, goto: Option<StepId>, following: Option<StepId>) -> Option<StepId> {
        match goto {
            Some(t) if self.explicit() && Some(t) == following => None,
            other => other,
        }
    }

    /// A branch label, with its target's name when it jumps back up.
    fn branch_label(
        &self,
        text: String,
        siblings: &[StepId],
        id: StepId,
        goto: Option<StepId>,
    ) -> String {
        match goto.and_then(|t| self.back_tag(siblings, id, t)) {
            Some(tag) => format!("{text} {tag}"),
            None => text,
        }
    }

    /// A step's fragment; `siblings` is the list that holds it.
    fn step(&self, id: StepId, depth: usize, siblings: &[StepId]) -> Option<Frag> {
        let step = self.flow.steps.get(id.index())?;
        let following = siblings
            .iter()
            .position(|&s| s == id)
            .and_then(|k| siblings.get(k + 1))
            .copied();
        Some(match &step.kind {
            StepKind::Choice(c) => {
                let mut specs: Vec<BranchSpec<'_>> = c
                    .choices
                    .iter()
                    .map(|b| BranchSpec {
                        steps: &b.branch.steps,
                        label: Some(self.branch_label(
                            shorten(b.condition.source(), LABEL_MAX),
                            siblings,
                            id,
                            b.branch.goto,
                        )),
                        goto: self.goto_or_fall(b.branch.goto, following),
                    })
                    .collect();
                specs.push(match &c.default {
                    Some(d) => BranchSpec {
                        steps: &d.steps,
                        label: Some(self.branch_label("default".to_owned(), siblings, id, d.goto)),
                        goto: self.goto_or_fall(d.goto, following),
                    },
                    None => BranchSpec {
                        steps: &[],
                        label: Some("default".to_owned()),
                        goto: None,
                    },
                });
                if self.explicit() && specs.iter().all(|s| s.steps.is_empty()) {
                    self.switch(id, &specs, depth)
                } else {
                    self.compound(id, specs, false, depth, siblings)
                }
            }
            StepKind::Parallel(p) => {
                let specs = p
                    .branches
                    .iter()
                    .map(|b| BranchSpec {
                        steps: b,
                        label: None,
                        goto: None,
                    })
                    .collect();
                self.compound(id, specs, true, depth, siblings)
            }
            StepKind::Foreach(f) => {
                let specs = vec![BranchSpec {
                    steps: &f.steps,
                    label: Some(shorten(&format!("each {}", f.collection), LABEL_MAX)),
                    goto: None,
                }];
                self.compound(id, specs, true, depth, siblings)
            }
            _ => self.simple(id, depth, siblings),
        })
    }

    /// A catch rule's label: its errors, and its target when it jumps back.
    fn catch_label(&self, c: &CatchRule, siblings: &[StepId], id: StepId) -> String {
        let errors = shorten(&c.errors.join(", "), LABEL_MAX);
        match self.back_tag(siblings, id, c.goto) {
            Some(tag) => format!(" {errors} {tag} "),
            None => format!(" {errors} "),
        }
    }

    /// The type a box shows in its top border (state machines only).
    fn tag(&self, id: StepId) -> String {
        match self.flow.steps.get(id.index()) {
            Some(step) if self.explicit() => self.flow.type_name(step).to_owned(),
            _ => String::new(),
        }
    }

    /// A box, its exit below, and one jump to the right per catch rule.
    fn simple(&self, id: StepId, depth: usize, siblings: &[StepId]) -> Frag {
        let step = self.flow.step(id);
        let catches: &[_] = match &step.kind {
            StepKind::Task(t) => &t.catch,
            _ => &[],
        };
        let detail = self.flow.type_name(step);
        let nw = Self::box_w(&step.name, depth);
        let nh = 3.max(2 + i32::try_from(catches.len()).unwrap_or(0));
        let mut f = Frag {
            cx: nw / 2,
            ..Frag::default()
        };
        let mut n = INode::new(NodeKind::Step(id), &step.name, detail, 0, 2, nw, nh);
        n.tag = self.tag(id);
        let node = f.push_node(n);
        f.entry = Some(node);
        // Edges start on the box's border (drawn over them), so a line
        // that branches right under the box still shows where it comes from.
        f.exits.push(Pending::new(node, (nw / 2, 1 + nh)));
        let texts: Vec<String> = catches
            .iter()
            .map(|c| self.catch_label(c, siblings, id))
            .collect();
        let w = nw + 2 + texts.iter().map(|t| chars(t)).max().unwrap_or(0);
        for (i, (c, text)) in catches.iter().zip(texts).enumerate() {
            let y = 3 + i32::try_from(i).unwrap_or(0);
            let mut p = Pending::new(node, (nw - 1, y));
            p.points.push((w, y));
            p.label = Some(ILabel { text, x: nw + 1, y });
            f.jumps.push(Jump {
                pending: p,
                target: Target::Step(c.goto),
            });
        }
        f.w = w;
        f.h = 2 + nh;
        f
    }

    /// A state machine's Choice (every branch a goto, none with steps),
    /// drawn narrow: a trunk down from the box, one row per branch that
    /// jumps, leaving right with its label on the line (`├─ default ↺
    /// pause ──`), then the branches to the state below, each label beside
    /// the trunk, which goes on down into that state.
    fn switch(&self, id: StepId, specs: &[BranchSpec<'_>], depth: usize) -> Frag {
        let step = self.flow.step(id);
        let nw = Self::box_w(&step.name, depth);
        let cx = nw / 2;
        let mut f = Frag {
            cx,
            ..Frag::default()
        };
        let detail = self.flow.type_name(step);
        let mut n = INode::new(NodeKind::Step(id), &step.name, detail, 0, 2, nw, 3);
        n.tag = self.tag(id);
        let head = f.push_node(n);
        f.entry = Some(head);
        let text = |s: &BranchSpec<'_>| format!(" {} ", s.label.as_deref().unwrap_or(""));
        let jumps: Vec<&BranchSpec<'_>> = specs.iter().filter(|s| s.goto.is_some()).collect();
        let falls: Vec<&BranchSpec<'_>> = specs.iter().filter(|s| s.goto.is_none()).collect();
        let widest = specs.iter().map(|s| chars(&text(s))).max().unwrap_or(0);
        let w = nw.max(cx + 2 + widest + 1);
        let mut row = 5;
        for s in &jumps {
            let mut p = Pending::new(head, (cx, 4));
            p.points.extend([(cx, row), (w, row)]);
            p.label = Some(ILabel {
                text: text(s),
                x: cx + 2,
                y: row,
            });
            if let Some(t) = s.goto {
                f.jumps.push(Jump {
                    pending: p,
                    target: Target::Step(t),
                });
            }
            row += 1;
        }
        let h = row + i32::try_from(falls.len()).unwrap_or(0);
        for s in &falls {
            let mut p = Pending::new(head, (cx, 4));
            p.points.push((cx, h));
            p.label = Some(ILabel {
                text: s.label.clone().unwrap_or_default(),
                x: cx + 2,
                y: row,
            });
            f.exits.push(p);
            row += 1;
        }
        f.w = w;
        f.h = h;
        f
    }

    /// Where the exits of a step in a list go instead of the next step,
    /// and the label their edge carries. `None`: the next step.
    fn early_target(
        &self,
        id: StepId,
        last: bool,
        top: bool,
        siblings: &[StepId],
    ) -> Option<(Target, Option<String>)> {
        let step = self.flow.steps.get(id.index())?;
        if self.explicit() {
            return self.next_target(id, last, top, siblings);
        }
        match &step.kind {
            StepKind::Succeed if !(last && top) => Some((Target::End, None)),
            StepKind::Fail(_) if !(last && top) => self.fail_label(id),
            StepKind::Succeed | StepKind::Fail(_) => None,
            _ if step.end && !last => Some((Target::ListEnd, None)),
            _ => None,
        }
    }

    /// [`Layouter::early_target`] for a state machine: a state's `Next`
    /// goes down when it names the state drawn below, else it jumps (a
    /// jump back up is tagged with its target); `End: true` and `Succeed`
    /// end the block; `Fail` ends the flow; a Choice's exits are its
    /// branches to the state below.
    fn next_target(
        &self,
        id: StepId,
        last: bool,
        top: bool,
        siblings: &[StepId],
    ) -> Option<(Target, Option<String>)> {
        let step = self.flow.steps.get(id.index())?;
        let following = siblings
            .iter()
            .position(|&s| s == id)
            .and_then(|k| siblings.get(k + 1))
            .copied();
        match (&step.kind, step.next) {
            (StepKind::Choice(_), _) => None,
            (StepKind::Fail(_), _) if !(last && top) => self.fail_label(id),
            (StepKind::Fail(_), _) => None,
            (_, Some(t)) if Some(t) == following => None,
            (_, Some(t)) => Some((
                Target::Step(t),
                self.back_tag(siblings, id, t).map(|tag| format!(" {tag} ")),
            )),
            (_, None) if !last => Some((Target::ListEnd, None)),
            (_, None) => None,
        }
    }

    /// A fail step's edge to End and its `✗ Error` label.
    fn fail_label(&self, id: StepId) -> Option<(Target, Option<String>)> {
        match &self.flow.steps.get(id.index())?.kind {
            StepKind::Fail(f) => Some((
                Target::End,
                Some(format!(" ✗ {} ", shorten(&f.error, LABEL_MAX))),
            )),
            _ => None,
        }
    }

    /// A list of steps as a column. `top`: the flow's own list, whose end
    /// is End.
    fn list(&self, ids: &[StepId], depth: usize, top: bool) -> Option<Frag> {
        let kids: Vec<(StepId, Frag)> = ids
            .iter()
            .filter_map(|&id| self.step(id, depth, ids).map(|f| (id, f)))
            .collect();
        if kids.is_empty() {
            return None;
        }
        let n = kids.len();
        let cx = kids.iter().map(|(_, f)| f.cx).max().unwrap_or(0);
        let mut out = Frag {
            cx,
            ..Frag::default()
        };
        let mut y = 0;
        let mut content_w = cx + 1;
        let mut tops: Vec<(StepId, i32, Option<usize>)> = Vec::with_capacity(n);
        let mut pending_exits: Vec<Pending> = Vec::new();
        let mut jumps: Vec<Jump> = Vec::new();
        let mut last_fail: Option<(usize, String)> = None;
        for (k, (id, frag)) in kids.into_iter().enumerate() {
            let dx = cx - frag.cx;
            let h = frag.h;
            content_w = content_w.max(dx + frag.w);
            let placed = out.absorb(frag, dx, y);
            // The previous step's exits come down into this one.
            if let Some(entry) = placed.entry {
                for mut p in pending_exits.drain(..) {
                    p.points.push((cx, y + 1));
                    out.edges.push(p.into_edge(entry));
                }
            }
            tops.push((id, y, placed.entry));
            jumps.extend(placed.jumps);
            y += h;
            match self.early_target(id, k + 1 == n, top, ids) {
                Some((target, text)) => {
                    // Down one row, turn, then right like any jump.
                    let turn = y + 1;
                    y += 2;
                    if let Some(t) = &text {
                        content_w = content_w.max(cx + 2 + chars(t) + 1);
                    }
                    for (i, mut p) in placed.exits.into_iter().enumerate() {
                        p.points.push((cx, turn));
                        if i == 0 {
                            p.label = text.as_ref().map(|t| ILabel {
                                text: t.clone(),
                                x: cx + 2,
                                y: turn,
                            });
                        }
                        jumps.push(Jump { pending: p, target });
                    }
                }
                None => {
                    // The flow's last step failing: mark its edge to End,
                    // on the free row under the list.
                    if let Some((_, Some(text))) = self.fail_label(id).filter(|_| top && k + 1 == n)
                    {
                        content_w = content_w.max(cx + 2 + chars(&text) + 1);
                        if let Some(p) = placed.exits.first() {
                            last_fail = Some((p.from, text));
                        }
                    }
                    pending_exits.extend(placed.exits)
                }
            }
        }
        // Sort the jumps: resolved here (in a lane) or passed on.
        let here = |t: Target| match t {
            Target::Step(s) => tops.iter().position(|(id, ..)| *id == s).map(Some),
            Target::ListEnd => Some(None),
            Target::End if top => Some(None),
            Target::End => None,
        };
        let mut resolved: Vec<(Jump, Option<usize>)> = Vec::new();
        let mut outgoing: Vec<Jump> = Vec::new();
        for j in jumps {
            match here(j.target) {
                Some(dest) => resolved.push((j, dest)),
                None => outgoing.push(j),
            }
        }
        let bottom = y;
        let ends_here = resolved.iter().any(|(_, d)| d.is_none());
        let h = if ends_here { bottom + 1 } else { bottom };
        let dest_y = |d: Option<usize>| match d {
            Some(k) => tops.get(k).map_or(bottom, |t| t.1),
            None => bottom,
        };
        // Shorter jumps get the inner lanes, so fewer lines cross.
        resolved.sort_by_key(|(j, d)| (j.pending.last_y() - dest_y(*d)).abs());
        let lanes = i32::try_from(resolved.len()).unwrap_or(0);
        let mut exits = Vec::new();
        for (lane_no, (j, dest)) in resolved.into_iter().enumerate() {
            let lane = content_w + 1 + 2 * i32::try_from(lane_no).unwrap_or(0);
            let mut p = j.pending;
            let ty = dest_y(dest);
            p.points.extend([(lane, p.last_y()), (lane, ty), (cx, ty)]);
            match dest.and_then(|k| tops.get(k)) {
                Some(&(_, _, Some(entry))) => {
                    p.points.push((cx, ty + 1));
                    out.edges.push(p.into_edge(entry));
                }
                _ => exits.push(p),
            }
        }
        let w = content_w + 2 * lanes;
        for mut p in pending_exits {
            if let Some((from, text)) = &last_fail
                && p.from == *from
            {
                p.label = Some(ILabel {
                    text: text.clone(),
                    x: cx + 2,
                    y: h,
                });
            }
            if ends_here {
                p.points.push((cx, h));
            }
            exits.push(p);
        }
        for mut j in outgoing {
            let y = j.pending.last_y();
            j.pending.points.push((w, y));
            out.jumps.push(j);
        }
        for p in &mut exits {
            if p.points.last() != Some(&(cx, h)) {
                p.points.push((cx, h));
            }
        }
        out.entry = tops.first().and_then(|t| t.2);
        out.exits = exits;
        out.w = w;
        out.h = h;
        Some(out)
    }

    /// A choice (branch point, branches joining below or jumping away) or
    /// a parallel/foreach (fork under the box, branches, a join node).
    /// A state machine's Parallel and Map may catch errors: those edges
    /// leave the head box on the right, one row each, like a task's.
    fn compound(
        &self,
        id: StepId,
        specs: Vec<BranchSpec<'_>>,
        join: bool,
        depth: usize,
        siblings: &[StepId],
    ) -> Frag {
        let step = self.flow.step(id);
        let nw = Self::box_w(&step.name, depth);
        let catches: &[CatchRule] = match &step.kind {
            StepKind::Parallel(p) => &p.handlers.catch,
            StepKind::Foreach(f) => &f.handlers.catch,
            _ => &[],
        };
        let texts: Vec<String> = catches
            .iter()
            .map(|c| self.catch_label(c, siblings, id))
            .collect();
        let nh = 3.max(2 + i32::try_from(catches.len()).unwrap_or(0));
        let labelled = specs.iter().any(|s| s.label.is_some());
        // Row nh + 2: the line out of the head box; the next: the bar it
        // splits on (rows 5 and 6 for a head box of three rows).
        let split = 3 + nh;
        let y0 = split + 1 + i32::from(labelled);
        let lists: Vec<Option<Frag>> = specs
            .iter()
            .map(|s| self.list(s.steps, depth + 1, false))
            .collect();
        // Columns: [x, width, line column], then the gap for bubbled jumps.
        let mut cols: Vec<(i32, i32, i32)> = Vec::with_capacity(specs.len());
        let mut x = 0;
        for (spec, list) in specs.iter().zip(&lists) {
            let label_w = spec.label.as_deref().map_or(0, |l| chars(l) + 3);
            let (lw, lcx, gaps) = match list {
                Some(f) => (f.w, f.cx, i32::try_from(f.jumps.len()).unwrap_or(0)),
                None => (1, 0, 0),
            };
            let cw = lw.max(lcx + label_w);
            cols.push((x, cw, x + lcx));
            x += cw + gaps + 2;
        }
        let span_end = (x - 2).max(1);
        let first = cols.first().map_or(0, |c| c.2);
        let last = cols.last().map_or(0, |c| c.2);
        let mut cx = (first + last) / 2;
        // Keep the head box (and a join box) inside the fragment.
        let shift = (nw / 2 - cx).max(0);
        cx += shift;
        for c in &mut cols {
            c.0 += shift;
            c.2 += shift;
        }
        let mut f = Frag {
            cx,
            ..Frag::default()
        };
        let detail = self.flow.type_name(step);
        let mut n = INode::new(
            NodeKind::Step(id),
            &step.name,
            detail,
            cx - nw / 2,
            2,
            nw,
            nh,
        );
        n.tag = self.tag(id);
        let head = f.push_node(n);
        f.entry = Some(head);
        let mut bottom = y0;
        let mut fall: Vec<Pending> = Vec::new();
        // (branch index, path so far, target) of every jump leaving a branch.
        let mut leaving: Vec<(usize, Pending, Target)> = Vec::new();
        for (j, (spec, list)) in specs.iter().zip(lists).enumerate() {
            let (cx0, _, bx) = cols[j];
            let mut into = Pending::new(head, (cx, 1 + nh));
            into.points.extend([(cx, split), (bx, split)]);
            into.label = spec.label.as_ref().map(|t| ILabel {
                text: t.clone(),
                x: bx + 2,
                y: split + 1,
            });
            let ends: Vec<Pending> = match list {
                Some(frag) => {
                    let dx = bx - frag.cx;
                    let lh = frag.h;
                    let placed = f.absorb(frag, dx, y0);
                    bottom = bottom.max(y0 + lh);
                    if let Some(entry) = placed.entry {
                        into.points.push((bx, y0 + 1));
                        f.edges.push(into.into_edge(entry));
                    }
                    // Jumps out of the branch: right into the gap, down.
                    for (i, mut jp) in placed.jumps.into_iter().enumerate() {
                        let gx = cx0 + cols[j].1 + i32::try_from(i).unwrap_or(0);
                        let y = jp.pending.last_y();
                        jp.pending.points.push((gx, y));
                        leaving.push((j, jp.pending, jp.target));
                    }
                    placed.exits
                }
                None => vec![into],
            };
            match spec.goto {
                Some(t) => leaving.extend(ends.into_iter().map(|p| (j, p, Target::Step(t)))),
                None => fall.extend(ends),
            }
        }
        // One row per jump under the branches, rightmost branch highest,
        // then out on the right.
        leaving.sort_by_key(|(j, ..)| std::cmp::Reverse(*j));
        let rows = i32::try_from(leaving.len()).unwrap_or(0);
        let mut w = (span_end + shift).max(cx - nw / 2 + nw).max(cx + JOIN_W);
        for (_, _, c) in &cols {
            w = w.max(c + 1);
        }
        let head_right = cx - nw / 2 + nw;
        if let Some(longest) = texts.iter().map(|t| chars(t)).max() {
            w = w.max(head_right + 1 + longest);
        }
        w += 1;
        for (i, (c, text)) in catches.iter().zip(texts).enumerate() {
            let y = 3 + i32::try_from(i).unwrap_or(0);
            let mut p = Pending::new(head, (head_right - 1, y));
            p.points.push((w, y));
            p.label = Some(ILabel {
                text,
                x: head_right + 1,
                y,
            });
            f.jumps.push(Jump {
                pending: p,
                target: Target::Step(c.goto),
            });
        }
        for (r, (_, mut p, target)) in leaving.into_iter().enumerate() {
            let row = bottom + 1 + i32::try_from(r).unwrap_or(0);
            let x = p.points.last().map_or(cx, |q| q.0);
            p.points.extend([(x, row), (w, row)]);
            f.jumps.push(Jump { pending: p, target });
        }
        let jrow = bottom + 1 + rows;
        if join {
            let node = f.push_node(INode::new(
                NodeKind::Join(id),
                "",
                "join",
                cx - JOIN_W / 2,
                jrow + 2,
                JOIN_W,
                3,
            ));
            for mut p in fall {
                let x = p.points.last().map_or(cx, |q| q.0);
                p.points.extend([(x, jrow), (cx, jrow), (cx, jrow + 1)]);
                f.edges.push(p.into_edge(node));
            }
            f.exits.push(Pending::new(node, (cx, jrow + 4)));
            f.h = jrow + 5;
        } else if fall.is_empty() {
            f.h = jrow;
        } else {
            for mut p in fall {
                let x = p.points.last().map_or(cx, |q| q.0);
                p.points.extend([(x, jrow), (cx, jrow), (cx, jrow + 1)]);
                f.exits.push(p);
            }
            f.h = jrow + 1;
        }
        f.w = w;
        f
    }
}

#[cfg(test)]
mod tests;
