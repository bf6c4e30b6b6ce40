//! The graph checks of one scope, made once every reference in it is
//! resolved: every state must be reachable from `StartAt` (an error), and
//! a loop that no path leaves for an `End`, a Succeed or a Fail is a
//! warning (the flow is valid, but an execution entering it runs until it
//! is stopped or times out).

use std::collections::VecDeque;

use super::super::model::{Block, Next, StateKind};
use super::Diags;

/// Where each state of the block may go next (Next, a Choice's branches
/// and Default, Catch rules).
fn edges(block: &Block) -> Vec<Vec<usize>> {
    block
        .states
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            if let Next::State(t) = &s.next {
                out.push(t.index);
            }
            if let StateKind::Choice(c) = &s.kind {
                out.extend(c.branches.iter().map(|b| b.next.index));
                out.push(c.default.index);
            }
            out.extend(s.catch().iter().map(|c| c.next.index));
            out.retain(|i| *i < block.states.len());
            out
        })
        .collect()
}

/// Whether the state ends its scope.
fn is_terminal(block: &Block, i: usize) -> bool {
    let s = &block.states[i];
    matches!(s.next, Next::End) || matches!(s.kind, StateKind::Succeed | StateKind::Fail(_))
}

pub(super) fn check(block: &Block, nameless: &[bool], d: &mut Diags) {
    let n = block.states.len();
    let out = edges(block);
    // Forward reachability from StartAt.
    let mut reached = vec![false; n];
    let mut queue = VecDeque::from([block.start_at.index]);
    while let Some(i) = queue.pop_front() {
        if i >= n || reached[i] {
            continue;
        }
        reached[i] = true;
        queue.extend(out[i].iter().copied());
    }
    for (i, s) in block.states.iter().enumerate() {
        if !reached[i] && !nameless.get(i).copied().unwrap_or(false) {
            d.err(
                s.pos,
                format!(
                    "state \"{}\" is unreachable: no `StartAt`, `Next`, `Default` or Catch `Next` of its scope leads to it",
                    s.name
                ),
            );
        }
    }
    // Backward: which states can reach an ending state.
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, targets) in out.iter().enumerate() {
        for &t in targets {
            incoming[t].push(i);
        }
    }
    let mut finishes = vec![false; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&i| is_terminal(block, i)).collect();
    while let Some(i) = queue.pop_front() {
        if finishes[i] {
            continue;
        }
        finishes[i] = true;
        queue.extend(incoming[i].iter().copied());
    }
    // Reachable states that cannot finish, grouped by the edges among them.
    let stuck: Vec<bool> = (0..n).map(|i| reached[i] && !finishes[i]).collect();
    let mut group = vec![usize::MAX; n];
    for start in 0..n {
        if !stuck[start] || group[start] != usize::MAX {
            continue;
        }
        let mut members = Vec::new();
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            if group[i] != usize::MAX {
                continue;
            }
            group[i] = start;
            members.push(i);
            for &j in out[i].iter().chain(&incoming[i]) {
                if stuck[j] && group[j] == usize::MAX {
                    queue.push_back(j);
                }
            }
        }
        members.sort_unstable();
        let names: Vec<String> = members
            .iter()
            .map(|&i| format!("\"{}\"", block.states[i].name))
            .collect();
        let subject = match names.as_slice() {
            [one] => format!("state {one}"),
            [rest @ .., last] => format!("states {} or {last}", rest.join(", ")),
            [] => continue,
        };
        d.warn(
            block.states[start].pos,
            format!(
                "a loop with no way out: no path from {subject} leads to an `End`, a Succeed or a Fail, \
                 so an execution that gets there runs until it is stopped or times out"
            ),
        );
    }
}
