//! Layout tests: geometric invariants on every example and fixture flow
//! (one node per step, no overlapping boxes, orthogonal edges that never
//! cross a box and end on top of their target, labels clear of boxes), and
//! the exact edge set of each construct, by step name.

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::fdl::{self, Flow};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> Flow {
    fdl::load_file(&root().join("tests/fixtures/layout").join(name)).unwrap()
}

fn example(name: &str) -> Flow {
    fdl::load_file(&root().join("flows").join(name)).unwrap()
}

/// A CloudFlow example, compiled into the flow model.
fn state_machine(name: &str) -> Flow {
    fdl::load_any_file(&root().join("flows/cloudflow").join(name))
        .unwrap()
        .0
}

/// Every CloudFlow example, in file order.
fn state_machines() -> Vec<Flow> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("flows/cloudflow"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // Flow tests (`flowsim test`) sit beside the flows.
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.sort();
    let out: Vec<Flow> = files
        .iter()
        .map(|p| fdl::load_any_file(p).unwrap().0)
        .collect();
    assert!(out.len() >= 9, "{} state machines", out.len());
    out
}

fn all_flows() -> Vec<Flow> {
    let mut out = state_machines();
    for dir in ["flows", "tests/fixtures/layout"] {
        let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            // Flow test files (`flowsim test`) live beside the flows.
            .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
            .collect();
        files.sort();
        out.extend(files.iter().map(|p| fdl::load_file(p).unwrap()));
    }
    assert!(out.len() >= 18, "{} flows", out.len());
    out
}

fn name(flow: &Flow, n: &Node) -> String {
    match n.kind {
        NodeKind::Start => "Start".into(),
        NodeKind::End => "End".into(),
        NodeKind::Step(s) => flow.step(s).name.clone(),
        NodeKind::Join(s) => format!("join({})", flow.step(s).name),
    }
}

/// Every edge as `from -> to [label]`, sorted.
fn edges(flow: &Flow, g: &Graph) -> Vec<String> {
    let mut out: Vec<String> = g
        .edges
        .iter()
        .map(|e| {
            let mut s = format!(
                "{} -> {}",
                name(flow, &g.nodes[e.from]),
                name(flow, &g.nodes[e.to])
            );
            if let Some(l) = &e.label {
                s.push_str(&format!(" [{}]", l.text.trim()));
            }
            s
        })
        .collect();
    out.sort();
    out
}

fn inside(n: &Node, (x, y): (u16, u16)) -> bool {
    x >= n.x && x < n.x + n.w && y >= n.y && y < n.y + n.h
}

fn cells(a: (u16, u16), b: (u16, u16)) -> Vec<(u16, u16)> {
    if a.0 == b.0 {
        (a.1.min(b.1)..=a.1.max(b.1)).map(|y| (a.0, y)).collect()
    } else {
        (a.0.min(b.0)..=a.0.max(b.0)).map(|x| (x, a.1)).collect()
    }
}

/// The invariants every layout keeps.
fn check(flow: &Flow, g: &Graph) {
    let what = &flow.name;
    // One node per step; one Start, one End; a join per parallel/foreach.
    for s in &flow.steps {
        let n = g
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Step(s.id))
            .count();
        assert_eq!(n, 1, "{what}: step {} has {n} nodes", s.name);
        let joins = g
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Join(s.id))
            .count();
        let want = usize::from(matches!(
            s.kind,
            StepKind::Parallel(_) | StepKind::Foreach(_)
        ));
        assert_eq!(joins, want, "{what}: joins of {}", s.name);
    }
    for kind in [NodeKind::Start, NodeKind::End] {
        assert_eq!(g.nodes.iter().filter(|n| n.kind == kind).count(), 1);
    }
    // No two boxes overlap, and all fit in the graph.
    for (i, a) in g.nodes.iter().enumerate() {
        assert!(a.w >= 3 && a.h >= 3, "{what}: tiny node {a:?}");
        assert!(
            a.x + a.w <= g.width && a.y + a.h <= g.height,
            "{what}: {a:?}"
        );
        for b in &g.nodes[i + 1..] {
            let apart =
                a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
            assert!(
                apart,
                "{what}: {} overlaps {}",
                name(flow, a),
                name(flow, b)
            );
        }
    }
    for e in &g.edges {
        let from = &g.nodes[e.from];
        let to = &g.nodes[e.to];
        let shown = format!("{what}: {} -> {}", name(flow, from), name(flow, to));
        assert!(e.points.len() >= 2, "{shown}: {:?}", e.points);
        // Orthogonal, in bounds.
        for w in e.points.windows(2) {
            assert!(
                w[0].0 == w[1].0 || w[0].1 == w[1].1,
                "{shown}: diagonal {w:?}"
            );
        }
        for &(x, y) in &e.points {
            assert!(
                x < g.width && y < g.height,
                "{shown}: ({x},{y}) out of bounds"
            );
        }
        // Starts on the source's border, ends just above the target.
        let first = e.points[0];
        assert!(
            inside(from, first),
            "{shown}: starts at {first:?}, not on {from:?}"
        );
        let &(lx, ly) = e.points.last().unwrap();
        assert!(
            ly + 1 == to.y && lx >= to.x && lx < to.x + to.w,
            "{shown}: ends at ({lx},{ly}), not above {to:?}"
        );
        // Never through a box (the first cell is the source's border).
        let mut path: Vec<(u16, u16)> = e
            .points
            .windows(2)
            .flat_map(|w| cells(w[0], w[1]))
            .collect();
        path.retain(|c| *c != first);
        for c in path {
            for n in &g.nodes {
                assert!(!inside(n, c), "{shown}: crosses {} at {c:?}", name(flow, n));
            }
        }
    }
    // Labels clear of boxes and of each other.
    let labels: Vec<&Label> = g.edges.iter().filter_map(|e| e.label.as_ref()).collect();
    let mut taken: HashMap<(u16, u16), &str> = HashMap::new();
    for l in &labels {
        for i in 0..l.text.chars().count() as u16 {
            let c = (l.x + i, l.y);
            assert!(
                c.0 < g.width && c.1 < g.height,
                "{what}: label {l:?} out of bounds"
            );
            for n in &g.nodes {
                assert!(
                    !inside(n, c),
                    "{what}: label {:?} over {}",
                    l.text,
                    name(flow, n)
                );
            }
            if let Some(other) = taken.insert(c, &l.text) {
                // Edges sharing a label (several exits of one fail step)
                // write the same text at the same place.
                assert_eq!(other, l.text, "{what}: labels collide at {c:?}");
            }
        }
    }
}

#[test]
fn every_flow_keeps_the_invariants() {
    for flow in all_flows() {
        let g = layout(&flow);
        check(&flow, &g);
        assert_eq!(layout(&flow), g, "{}: deterministic", flow.name);
    }
}

fn node_of<'g>(flow: &Flow, g: &'g Graph, step: &str) -> &'g Node {
    &g.nodes[g
        .node_for_step(flow.step_by_name(step).unwrap().id)
        .unwrap()]
}

fn edge_between<'g>(flow: &Flow, g: &'g Graph, from: &str, to: &str) -> &'g Edge {
    let (a, b) = (node_of(flow, g, from), node_of(flow, g, to));
    g.edges
        .iter()
        .find(|e| g.nodes[e.from] == *a && g.nodes[e.to] == *b)
        .unwrap_or_else(|| panic!("no edge {from} -> {to}"))
}

/// The polling loop: Wait -> Task -> Choice, `done` straight below the
/// Choice, the Default back up to the Wait in a lane right of every box,
/// tagged with its target; every box carries its CloudFlow type.
#[test]
fn a_polling_loop_goes_back_up_the_side_named() {
    let flow = state_machine("poll-until-ready.yaml");
    let g = layout(&flow);
    check(&flow, &g);
    assert_eq!(
        edges(&flow, &g),
        [
            "Start -> pause",
            "check-status -> is-ready",
            "done -> End",
            "is-ready -> done [$Input.status == \"succe…]",
            "is-ready -> pause [default ↺ pause]",
            "pause -> check-status",
        ]
    );
    // One column: each state below the one before.
    let ys: Vec<u16> = ["pause", "check-status", "is-ready", "done"]
        .iter()
        .map(|s| node_of(&flow, &g, s).y)
        .collect();
    assert!(ys.windows(2).all(|w| w[0] < w[1]), "{ys:?}");
    // The back edge: up, in a lane right of every box, into the top of
    // `pause` from above, its arrowhead pointing down.
    let back = edge_between(&flow, &g, "is-ready", "pause");
    let lane = back.points.iter().map(|p| p.0).max().unwrap();
    assert!(g.nodes.iter().all(|n| n.x + n.w <= lane), "{back:?}");
    let pause = node_of(&flow, &g, "pause");
    let (lx, ly) = *back.points.last().unwrap();
    let (px, py) = back.points[back.points.len() - 2];
    assert_eq!((ly + 1, px), (pause.y, lx), "enters from above");
    assert!(py < ly);
    assert!(node_of(&flow, &g, "is-ready").y > pause.y, "goes up");
    let tags: Vec<&str> = ["pause", "check-status", "is-ready", "done"]
        .iter()
        .map(|s| node_of(&flow, &g, s).tag.as_str())
        .collect();
    assert_eq!(tags, ["Wait", "Task", "Choice", "Succeed"]);
    // FDL boxes carry no tag; the FDL twin of the loop has none either.
    let fdl = example("poll-until-ready.yaml");
    let g = layout(&fdl);
    check(&fdl, &g);
    assert!(g.nodes.iter().all(|n| n.tag.is_empty()));
    assert!(
        g.edges
            .iter()
            .all(|e| e.label.as_ref().is_none_or(|l| !l.text.contains('↺')))
    );
}

/// Every CloudFlow example, edge by edge: `Next` as straight lines or
/// jumps, Choice branches labelled (the Default `default`), Catch edges,
/// Parallel branches and the Map body nested with their joins.
#[test]
fn state_machines_draw_their_explicit_edges() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "approval-with-timeout.yaml",
            &[
                "Start -> request-approval",
                "approved -> End",
                "decide -> approved [$Input.decision == \"suc…]",
                "decide -> rejected [default]",
                "escalate -> End",
                "rejected -> End [✗ Rejected]",
                "request-approval -> decide",
                "request-approval -> escalate [FnF.TaskTimeout]",
            ],
        ),
        (
            "retry-then-catch.yaml",
            &[
                "Start -> charge",
                "charge -> done",
                "charge -> refund-later [FnF.ALL]",
                "done -> End",
                "refund-later -> End",
            ],
        ),
        (
            "order-parallel-callbacks.yaml",
            &[
                "Start -> prepare",
                "charge-payment -> join(prepare)",
                "join(prepare) -> ship",
                "prepare -> charge-payment",
                "prepare -> reserve-stock",
                "reserve-stock -> join(prepare)",
                "ship -> End",
            ],
        ),
        (
            "foreach-fanout.yaml",
            &[
                "Start -> notify-each",
                "join(notify-each) -> End",
                "notify-each -> send-notification [each $Input.recipients]",
                "send-notification -> join(notify-each)",
            ],
        ),
    ];
    for (file, want) in cases {
        let flow = state_machine(file);
        assert_eq!(edges(&flow, &layout(&flow)), want, "{file}");
    }
    let flow = state_machine("subflow-approval.yaml");
    let g = layout(&flow);
    assert!(edges(&flow, &g).contains(&"team-lead-review -> finance-review".to_owned()));
    assert_eq!(node_of(&flow, &g, "team-lead-review").h, 4, "two catches");
    let flow = state_machine("foreach-fanout.yaml");
    let g = layout(&flow);
    assert_eq!(node_of(&flow, &g, "notify-each").tag, "Map");
}

/// States written out of order, a `Next` that skips one, a loop from the
/// last state, Catch on a Parallel and a Map going back: the invariants
/// hold and each jump is where it should be.
#[test]
fn next_may_skip_jump_and_loop_from_anywhere() {
    let text = r#"Type: StateMachine
Name: tangle
SpecVersion: v1
StartAt: first
States:
  - Type: Pass
    Name: later
    Next: fan
  - Type: Pass
    Name: first
    Next: skip-to
  - Type: Pass
    Name: skipped
    End: true
  - Type: Wait
    Name: skip-to
    Seconds: 1
    Next: later
  - Type: Parallel
    Name: fan
    Branches:
      - StartAt: a
        States:
          - Type: Pass
            Name: a
            End: true
    Catch:
      - Errors: [FnF.ALL]
        Next: first
    Next: each
  - Type: Map
    Name: each
    ItemsPath: $Input.items
    Processor:
      StartAt: body
      States:
        - Type: Succeed
          Name: body
    Catch:
      - Errors: [FnF.Timeout]
        Next: skipped
      - Errors: [FnF.ALL]
        Next: fan
    Next: first
"#;
    let (flow, _) = fdl::load_any("tangle", text, None).unwrap();
    let g = layout(&flow);
    check(&flow, &g);
    assert_eq!(
        edges(&flow, &g),
        [
            "Start -> first",
            "a -> join(fan)",
            "body -> join(each)",
            "each -> body [each $Input.items]",
            "each -> fan [FnF.ALL ↺ fan]",
            "each -> skipped [FnF.Timeout ↺ skipped]",
            "fan -> a",
            "fan -> first [FnF.ALL ↺ first]",
            "first -> skip-to",
            "join(each) -> first [↺ first]",
            "join(fan) -> each",
            "later -> fan",
            "skip-to -> later [↺ later]",
            "skipped -> End",
        ]
    );
    assert_eq!(node_of(&flow, &g, "each").h, 4, "two catches");
}

#[test]
fn a_sequence_is_one_centred_column() {
    let flow = crate::sim::testing::seed_flow();
    let g = layout(&flow);
    check(&flow, &g);
    let boxes: Vec<(u16, u16, u16, u16)> = g.nodes.iter().map(|n| (n.x, n.y, n.w, n.h)).collect();
    assert_eq!(boxes, [(8, 0, 9, 3), (0, 5, 24, 3), (8, 10, 9, 3)]);
    assert_eq!((g.width, g.height), (24, 13));
    assert_eq!(
        edges(&flow, &g),
        ["Start -> mns-topic-task", "mns-topic-task -> End"]
    );
    assert_eq!(g.edges[0].points, [(12, 2), (12, 4)]);
    assert_eq!(g.edges[1].points, [(12, 7), (12, 9)]);
    let f = example("wait-then-publish.yaml");
    assert_eq!(
        edges(&f, &layout(&f)),
        ["Start -> hold", "hold -> remind", "remind -> End"]
    );
}

#[test]
fn choice_branches_are_labelled_and_join_or_jump() {
    let flow = fixture("choice.yaml");
    let g = layout(&flow);
    assert_eq!(
        edges(&flow, &g),
        [
            "Start -> route",
            "after-choice -> done",
            "big -> after-choice",
            "big-eu -> done",
            "done -> End",
            "route -> big [$.amount > 1000 || $.vip]",
            "route -> big-eu [$.amount > 1000 && $.re…]",
            "route -> done [$.skip]",
            "route -> small [default]",
            "small -> after-choice",
        ]
    );
    // Branches side by side under the choice, in order.
    let at = |s: &str| &g.nodes[g.node_for_step(flow.step_by_name(s).unwrap().id).unwrap()];
    let (eu, big, small) = (at("big-eu"), at("big"), at("small"));
    assert!(eu.y == big.y && big.y == small.y);
    assert!(eu.x + eu.w < big.x && big.x + big.w < small.x);
    assert!(at("route").y < eu.y && eu.y < at("after-choice").y);
}

#[test]
fn a_choice_without_default_still_draws_the_fall_through() {
    let flow = fdl::load(
        "f",
        "version: v1\ntype: flow\nsteps:\n  - type: choice\n    name: c\n    choices:\n      - condition: $.n == 1\n        goto: one\n  - type: pass\n    name: other\n    end: true\n  - type: pass\n    name: one\n",
    )
    .unwrap();
    let g = layout(&flow);
    check(&flow, &g);
    assert_eq!(
        edges(&flow, &g),
        [
            "Start -> c",
            "c -> one [$.n == 1]",
            "c -> other [default]",
            "one -> End",
            "other -> End",
        ]
    );
}

#[test]
fn gotos_may_jump_backwards() {
    let flow = fixture("goto-back.yaml");
    let g = layout(&flow);
    assert_eq!(
        edges(&flow, &g),
        [
            "Start -> init",
            "back -> check [default]",
            "back -> poll [!$.ready]",
            "check -> finish [$.ready]",
            "check -> pause [default]",
            "finish -> End",
            "init -> check",
            "pause -> poll",
            "poll -> back",
            "unreachable -> poll",
        ]
    );
    // The jump back to `check` runs upwards, in a lane right of everything.
    let back = flow.step_by_name("back").unwrap().id;
    let check_id = flow.step_by_name("check").unwrap().id;
    let e = g
        .edges
        .iter()
        .find(|e| {
            g.nodes[e.from].kind == NodeKind::Step(back)
                && g.nodes[e.to].kind == NodeKind::Step(check_id)
        })
        .unwrap();
    let lane = e.points.iter().map(|p| p.0).max().unwrap();
    assert!(
        g.nodes.iter().all(|n| n.x + n.w <= lane),
        "lane right of every box"
    );
    let to = &g.nodes[e.to];
    assert!(e.points.iter().any(|p| p.1 < to.y), "enters from above");
    assert!(g.nodes[e.from].y > to.y, "goes up");
}

#[test]
fn parallel_forks_side_by_side_and_joins() {
    let flow = example("order-parallel-callbacks.yaml");
    let g = layout(&flow);
    assert_eq!(
        edges(&flow, &g),
        [
            "Start -> prepare",
            "charge-payment -> join(prepare)",
            "join(prepare) -> ship",
            "prepare -> charge-payment",
            "prepare -> reserve-stock",
            "reserve-stock -> join(prepare)",
            "ship -> End",
        ]
    );
    let prepare = flow.step_by_name("prepare").unwrap().id;
    let j = &g.nodes[g.join_for_step(prepare).unwrap()];
    let p = &g.nodes[g.node_for_step(prepare).unwrap()];
    let a = &g.nodes[g
        .node_for_step(flow.step_by_name("charge-payment").unwrap().id)
        .unwrap()];
    let b = &g.nodes[g
        .node_for_step(flow.step_by_name("reserve-stock").unwrap().id)
        .unwrap()];
    assert_eq!(a.y, b.y);
    assert!(a.x + a.w < b.x);
    assert!(p.y < a.y && a.y < j.y);
    assert_eq!(p.x + p.w / 2, j.x + j.w / 2, "fork and join on one axis");
}

#[test]
fn foreach_draws_its_body_once_labelled_with_the_collection() {
    let flow = example("foreach-fanout.yaml");
    let g = layout(&flow);
    assert_eq!(
        edges(&flow, &g),
        [
            "Start -> notify-each",
            "join(notify-each) -> End",
            "notify-each -> send-notification [each $.recipients]",
            "send-notification -> join(notify-each)",
        ]
    );
}

#[test]
fn catch_rules_and_early_ends_are_edges() {
    let flow = example("retry-then-catch.yaml");
    assert_eq!(
        edges(&flow, &layout(&flow)),
        [
            "Start -> charge",
            "charge -> done",
            "charge -> refund-later [FnF.ALL]",
            "done -> End",
            "refund-later -> End",
        ]
    );
    let flow = example("approval-with-timeout.yaml");
    assert_eq!(
        edges(&flow, &layout(&flow)),
        [
            "Start -> request-approval",
            "approved -> End",
            "decide -> approved [$.decision == \"success\"]",
            "decide -> rejected [default]",
            "escalate -> End",
            "rejected -> End [✗ Rejected]",
            "request-approval -> decide",
            "request-approval -> escalate [FnF.TaskTimeout]",
        ]
    );
}

#[test]
fn nested_constructs_route_out_of_their_branches() {
    let flow = fixture("nested.yaml");
    let g = layout(&flow);
    assert_eq!(
        edges(&flow, &g),
        [
            "Start -> fan",
            "after -> last-fail",
            "broken -> End [✗ WorkFailed]",
            "each-item -> work [each $.items]",
            "fan -> each-item",
            "fan -> pick",
            "join(each-item) -> join(fan)",
            "join(fan) -> after",
            "last-fail -> End [✗ Done]",
            // `end: true` ends the branch list: the choice falls through.
            "many -> middle",
            "middle -> tail",
            "negative -> End [✗ BadCount]",
            "never -> middle",
            "pick -> many [$.n >= 10]",
            "pick -> negative [$.n < 0]",
            "pick -> tail [default]",
            "quick -> End",
            "slow -> join(each-item)",
            "tail -> join(fan)",
            "work -> broken [FnF.ALL]",
            "work -> quick",
            "work -> slow [FnF.TaskTimeout]",
        ]
    );
    // A task with two catch rules is tall enough for both to leave it.
    let work = &g.nodes[g
        .node_for_step(flow.step_by_name("work").unwrap().id)
        .unwrap()];
    assert_eq!(work.h, 4);
}

/// A flow built by hand, past what validation allows: dangling gotos and
/// unknown steps must not panic the layout.
#[test]
fn hand_built_flows_never_panic() {
    let mut flow = example("approval-with-timeout.yaml");
    if let StepKind::Task(t) = &mut flow.steps[0].kind {
        t.catch[0].goto = StepId(999);
    }
    flow.body.push(StepId(1000));
    let g = layout(&flow);
    assert!(g.nodes.iter().any(|n| n.kind == NodeKind::End));
    let empty = Flow {
        body: vec![],
        steps: vec![],
        ..flow
    };
    let g = layout(&empty);
    assert_eq!(g.nodes.len(), 2);
    assert_eq!(g.edges.len(), 1);
    check(&empty, &g);
}

/// Deep nesting and long lists stay within the invariants.
#[test]
fn deep_and_long_flows() {
    let mut text = String::from("version: v1\ntype: flow\nsteps:\n");
    let mut indent = String::from("  ");
    for d in 0..8 {
        text.push_str(&format!(
            "{indent}- type: pass\n{indent}  name: before-{d}\n{indent}- type: parallel\n{indent}  name: p{d}\n{indent}  branches:\n{indent}    - steps:\n{indent}        - type: succeed\n{indent}          name: ok-{d}\n{indent}    - steps:\n"
        ));
        indent.push_str("        ");
    }
    for i in 0..60 {
        text.push_str(&format!("{indent}- type: pass\n{indent}  name: s{i}\n"));
    }
    let flow = fdl::load("deep", &text).unwrap();
    let g = layout(&flow);
    check(&flow, &g);
    assert!(g.height > 60 * 5);
}

#[test]
fn labels_are_shortened() {
    assert_eq!(shorten("abc", 3), "abc");
    assert_eq!(shorten("abcd", 3), "ab…");
    assert_eq!(shorten("ééééé", 4), "ééé…");
}
