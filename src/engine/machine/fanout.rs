//! engine::machine::fanout: steps that run child blocks. A choice runs the
//! one branch its conditions pick; a parallel runs every branch at once; a
//! foreach runs its body once per item, at most
//! [`FOREACH_CONCURRENCY`] at a time. Spawning the child blocks (with their
//! BranchEntered/IterationEntered events), collecting what each finishes
//! with, and completing the step when the last one is done.
//!
//! Only the normal path: a child block that fails, and the siblings it
//! cancels, are [`super::failure`]'s.

use serde_json::{Map, Value};

use super::pipe::{Extra, Place, eval_failed};
use super::{Block, BlockList, Children, Machine};
use crate::engine::CONDITION_ERROR;
use crate::engine::detail::write_json;
use crate::engine::history::EventType;
use crate::fdl::{Choice, ChoiceCondition, StepId, StepKind};
use crate::kernel::TaskError;

impl Machine<'_, '_, '_> {
    /// Evaluates a choice's conditions on its input, in order, and runs the
    /// first true one's steps (or the default's). With no match and no
    /// default the step completes at once and the flow moves on.
    pub(super) fn start_choice(&mut self, b: usize, step_id: StepId, c: &Choice) {
        let flow = self.flow;
        let Some(input) = self
            .block(b)
            .and_then(|bl| bl.current.as_ref())
            .map(|c| c.input.clone())
        else {
            return;
        };
        let mut taken = None;
        for (i, branch) in c.choices.iter().enumerate() {
            let result = match &branch.condition {
                ChoiceCondition::Fdl(cond) => cond.eval(&input).map_err(|e| TaskError {
                    error: CONDITION_ERROR.into(),
                    cause: format!(
                        "choice `{}`, condition `{}`: {e}",
                        flow.step(step_id).name,
                        cond.source
                    ),
                }),
                ChoiceCondition::Expr(cond) => self
                    .with_scope(step_id, &input, Extra::default(), |scope, _| {
                        cond.eval(scope)
                    })
                    .map_err(|e| eval_failed(&flow.step(step_id).name, Place::Condition, &e)),
            };
            match result {
                Ok(true) => {
                    taken = Some(i);
                    break;
                }
                Ok(false) => {}
                Err(err) => {
                    self.fail_step(b, err);
                    return;
                }
            }
        }
        let slot = match (taken, &c.default) {
            (Some(i), _) => i,
            (None, Some(_)) => usize::MAX,
            (None, None) => {
                self.complete_step(b, Value::Object(Map::new()));
                return;
            }
        };
        if self.steps(BlockList::Choice(step_id, slot)).is_empty() {
            self.finish_choice(b, step_id, slot, Value::Object(Map::new()));
            return;
        }
        if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
            cur.children = Some(Box::new(Children {
                results: vec![Value::Null],
                ..Children::default()
            }));
        }
        let child = self.spawn_child(b, step_id, slot);
        self.run_block(child);
    }

    /// A choice's taken branch (`slot`, `usize::MAX` for the default) ended
    /// with `local`: complete the step, then follow the branch's `goto`.
    fn finish_choice(&mut self, b: usize, step_id: StepId, slot: usize, local: Value) {
        let goto = match &self.flow.step(step_id).kind {
            StepKind::Choice(c) if slot == usize::MAX => c.default.as_ref().and_then(|d| d.goto),
            StepKind::Choice(c) => c.choices.get(slot).and_then(|x| x.branch.goto),
            _ => None,
        };
        self.complete_step(b, local);
        let Some(target) = goto else { return };
        let Some(list) = self
            .block(b)
            .filter(|bl| bl.current.is_none())
            .map(|bl| bl.list)
        else {
            return;
        };
        // Validation resolved `goto` to a sibling, so it is in this list.
        let pos = self.steps(list).iter().position(|&s| s == target);
        if let (Some(block), Some(pos)) = (self.block(b), pos) {
            block.pos = pos;
        }
    }

    /// Starts the child blocks of a parallel (`items` empty) or foreach
    /// step. Foreach runs at most [`FOREACH_CONCURRENCY`] iterations at once.
    pub(super) fn spawn_children(&mut self, b: usize, step: StepId, n: usize, items: Vec<Value>) {
        if n == 0 {
            self.complete_step(b, Value::Array(Vec::new()));
            return;
        }
        let first = match &self.flow.step(step).kind {
            StepKind::Foreach(f) => n.min(f.max_concurrency.max(1)),
            _ => n,
        };
        if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
            cur.children = Some(Box::new(Children {
                results: vec![Value::Null; n],
                running: 0,
                next: first,
                items,
            }));
        }
        let mut ids = Vec::with_capacity(first);
        for slot in 0..first {
            // Past the event limit the execution is about to fail: log no
            // more entries (see `Run::over_limit`).
            if self.run.over_limit.is_some() {
                break;
            }
            ids.push(self.spawn_child(b, step, slot));
        }
        for c in ids {
            self.run_block(c);
        }
    }

    /// Creates one child block (branch or iteration `slot`) of the current
    /// step of block `b`, logging its entry. The caller runs it.
    fn spawn_child(&mut self, b: usize, step: StepId, slot: usize) -> usize {
        let flow = self.flow;
        let Some(cur) = self
            .run
            .blocks
            .get_mut(b)
            .and_then(Option::as_mut)
            .and_then(|bl| bl.current.as_mut())
        else {
            return usize::MAX;
        };
        let entered = cur.entered;
        // Shared, not copied (see `Block::input`).
        let input = cur.input.clone();
        let mut iteration = None;
        let mut input = input;
        let (list, detail) = match &flow.step(step).kind {
            StepKind::Foreach(_) => {
                // Each slot starts once: its item moves into the iteration.
                let item = cur
                    .children
                    .as_mut()
                    .and_then(|ch| ch.items.get_mut(slot))
                    .map(std::mem::take)
                    .unwrap_or(Value::Null);
                // Only the index and the item: logging the whole step input
                // per iteration made a foreach's history grow with the
                // square of its collection. The iteration's full input shows
                // in its first step's StepEntered.
                let buf = &mut *self.scratch;
                buf.clear();
                buf.extend_from_slice(format!("{{\"index\":{slot},\"item\":").as_bytes());
                write_json(buf, &item);
                buf.push(b'}');
                let detail = self.texts.detail_bytes(buf);
                if flow.lang.pipes() {
                    // A Map's iteration input is the element itself.
                    input = std::sync::Arc::new(item);
                } else {
                    iteration = Some(Box::new((item, Value::from(slot))));
                }
                (
                    BlockList::Foreach(step),
                    Some((EventType::IterationEntered, detail)),
                )
            }
            // A choice runs one branch: its StepEntered says enough.
            StepKind::Choice(_) => (BlockList::Choice(step, slot), None),
            _ => {
                let buf = &mut *self.scratch;
                buf.clear();
                buf.extend_from_slice(format!("{{\"branch\":{slot},\"input\":").as_bytes());
                write_json(buf, &input);
                buf.push(b'}');
                let detail = self.texts.detail_bytes(buf);
                (
                    BlockList::Parallel(step, slot),
                    Some((EventType::BranchEntered, detail)),
                )
            }
        };
        if let Some(ch) = cur.children.as_mut() {
            ch.running += 1;
        }
        if let Some((kind, detail)) = detail {
            self.log(kind, Some(step), entered, detail);
        }
        // A state machine's branch or iteration pipes from its input.
        let local = if flow.lang.pipes() {
            (*input).clone()
        } else {
            Value::Object(Map::new())
        };
        let block = Block {
            list,
            parent: Some((b, slot)),
            pos: 0,
            input,
            iteration,
            local,
            current: None,
        };
        match self.run.blocks.iter().position(Option::is_none) {
            Some(i) => {
                self.run.blocks[i] = Some(block);
                i
            }
            None => {
                self.run.blocks.push(Some(block));
                self.run.blocks.len() - 1
            }
        }
    }

    /// Child `slot` of the current step of block `pb` finished with `local`.
    pub(super) fn child_finished(&mut self, pb: usize, list: BlockList, slot: usize, local: Value) {
        let Some(cur) = self.block(pb).and_then(|bl| bl.current.as_mut()) else {
            return;
        };
        let (step, entered) = (cur.step, cur.entered);
        let Some(ch) = cur.children.as_mut() else {
            return;
        };
        ch.running = ch.running.saturating_sub(1);
        let detail = format!(
            "{{\"{}\":{slot},\"output\":{local}}}",
            if matches!(list, BlockList::Foreach(_)) {
                "index"
            } else {
                "branch"
            }
        );
        // A choice runs one branch, kept at 0 whatever its index.
        let at = if matches!(list, BlockList::Choice(..)) {
            0
        } else {
            slot
        };
        if let Some(r) = ch.results.get_mut(at) {
            *r = local;
        }
        let next = (ch.next < ch.items.len()).then_some(ch.next);
        if next.is_some() {
            ch.next += 1;
        }
        let done = ch.running == 0 && next.is_none();
        match list {
            BlockList::Foreach(_) => {
                self.log(EventType::IterationExited, Some(step), entered, detail);
            }
            BlockList::Parallel(..) => {
                self.log(EventType::BranchExited, Some(step), entered, detail);
            }
            _ => {}
        }
        if let Some(slot) = next {
            let c = self.spawn_child(pb, step, slot);
            // Run by the caller's `run_block` loop (see there).
            self.tail = Some(c);
            return;
        }
        if done {
            let results = self
                .block(pb)
                .and_then(|bl| bl.current.as_mut())
                .and_then(|c| c.children.take())
                .map(|c| c.results)
                .unwrap_or_default();
            match list {
                // A choice's local is its branch's local.
                BlockList::Choice(step, slot) => {
                    let local = results
                        .into_iter()
                        .next()
                        .unwrap_or(Value::Object(Map::new()));
                    self.finish_choice(pb, step, slot, local);
                }
                _ => self.complete_step(pb, Value::Array(results)),
            }
            self.tail = Some(pb);
        }
    }
}
