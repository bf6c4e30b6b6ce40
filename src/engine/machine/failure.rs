//! engine::machine::failure: when a step fails. Retry (the first matching
//! policy of a task decides), catch (a matching rule jumps to its `goto`),
//! or failing the block and with it its parent step, up to the execution;
//! cancelling the sibling branches and iterations of a failed one (and
//! what encloses a succeed step), and removing blocks with their timers,
//! tasks and child executions.
//!
//! Every cancellation is visible in the history (StepFailed with
//! [`CANCELLED`], then BranchExited/IterationExited). Child executions of
//! cancelled tasks are only queued ([`Run::cancel`](super::Run::cancel)):
//! the engine stops them once the operation is over.

use serde_json::{Map, Value, json};

use super::pipe::{Extra, Place};
use super::{BlockList, Machine};
use crate::cloudflow::CurrentError;
use crate::engine::history::EventType;
use crate::engine::mapping::{self, Context};
use crate::engine::subflow::SUBFLOW_CANCELLED;
use crate::engine::{CANCELLED, ErrorInfo, Status};
use crate::fdl::{CatchRule, RetryPolicy, StepId, StepKind};
use crate::kernel::{Component, Msg, TaskError};

impl Machine<'_, '_, '_> {
    /// The current step of block `b` failed: retry it, catch it, or fail the
    /// block (and so its parent, up to the execution).
    pub(super) fn fail_step(&mut self, b: usize, err: TaskError) {
        let flow = self.flow;
        let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) else {
            return;
        };
        let step = flow.step(cur.step);
        let (retry, catch) = handlers(&step.kind);
        {
            // Retry: the first policy whose errors match decides, counting
            // only the retries made under that policy.
            if let Some((i, policy)) = retry
                .iter()
                .enumerate()
                .find(|(_, p)| error_matches(&p.errors, &err.error))
                && cur.attempts.get(i).copied().unwrap_or(0) < policy.max_attempts
            {
                if cur.attempts.len() < retry.len() {
                    cur.attempts.resize(retry.len(), 0);
                }
                let made = cur.attempts[i];
                // The n-th retry of a policy waits
                // intervalSeconds * multiplier^(n-1), capped.
                let interval = (policy.interval_seconds as f64)
                    * policy.multiplier.powi(made.min(i32::MAX as u32) as i32);
                let interval = interval.min(policy.max_interval_seconds as f64);
                cur.attempts[i] = made + 1;
                let entered = cur.entered;
                let key = self.ctx.send(
                    (interval * 1000.0) as u64,
                    Component::Engine,
                    Component::Engine,
                    Msg::Timer(self.task_ref(entered)),
                );
                if let Some(cur) = self.block(b).and_then(|bl| bl.current.as_mut()) {
                    cur.timer = Some(key);
                }
                return;
            }
        }
        let Some(cur) = self.block(b).and_then(|bl| bl.current.take()) else {
            return;
        };
        let detail = json!({"error": err.error, "cause": err.cause}).to_string();
        self.log(EventType::StepFailed, Some(cur.step), cur.entered, detail);
        if let Some(rule) = catch.iter().find(|c| error_matches(&c.errors, &err.error)) {
            let local = json!({"error": err.error, "cause": err.cause});
            let error_mappings = match &step.kind {
                StepKind::Task(t) => t.error_mappings.as_ref(),
                _ => None,
            };
            let output = match error_mappings {
                // A state machine: the Catch's OutputConstructor builds the
                // next state's input; without one it is the error,
                // `{"Code", "Detail"}` like `$Context.Current.Error`.
                _ if flow.lang.pipes() => match &rule.output {
                    Some(c) => {
                        let extra = Extra {
                            error: Some(CurrentError {
                                code: &err.error,
                                detail: &err.cause,
                            }),
                            // The retries made before the Catch.
                            retry_count: cur.attempts.iter().sum(),
                            ..Extra::default()
                        };
                        match self.construct(
                            cur.step,
                            c,
                            &cur.input,
                            extra,
                            Place::CatchOutputConstructor,
                        ) {
                            Ok(v) => v,
                            // The Catch itself failed: the block fails with
                            // that error (caught no further).
                            Err(e) => {
                                self.fail_block(b, e);
                                return;
                            }
                        }
                    }
                    None => json!({"Code": err.error, "Detail": err.cause}),
                },
                Some(m) => {
                    let ctx = Context {
                        flow: &flow.name,
                        execution: &self.x.name,
                        step: &step.name,
                        token: None,
                    };
                    mapping::apply(m, &cur.input, &local, &ctx)
                }
                None => Value::Object(Map::new()),
            };
            let list = self.block(b).map(|bl| bl.list);
            let target = list.and_then(|l| self.steps(l).iter().position(|&s| s == rule.goto));
            if let (Some(block), Some(target)) = (self.block(b), target) {
                if flow.lang.pipes() {
                    block.local = output;
                } else {
                    mapping::merge(&mut block.local, output);
                }
                block.pos = target;
                return;
            }
        }
        self.fail_block(b, err);
    }

    /// Block `b` failed with `err` (its current step already logged
    /// StepFailed): its parent step fails, up to the execution.
    fn fail_block(&mut self, b: usize, err: TaskError) {
        // Uncaught: the block fails, and with it its parent step (up to the
        // execution).
        let (parent, list) = match self.run.blocks[b].as_ref() {
            Some(bl) => (bl.parent, bl.list),
            None => (None, BlockList::Body),
        };
        self.drop_block(b);
        if let Some((pb, slot)) = parent {
            // The failed branch or iteration exits with the error, like
            // any other that ends.
            self.log_child_exit(pb, list, slot, &err.error, &err.cause);
        }
        match parent {
            None => {
                let detail = json!({"error": err.error, "cause": err.cause}).to_string();
                self.log(EventType::ExecutionFailed, None, 1, detail);
                self.end(
                    Status::Failed,
                    None,
                    Some(ErrorInfo {
                        error: err.error,
                        cause: err.cause,
                    }),
                );
            }
            Some((pb, slot)) => {
                // Siblings (other branches, iterations) are cancelled, and
                // say so in the history.
                let what = match list {
                    BlockList::Foreach(step) => {
                        format!(
                            "iteration {slot} of foreach `{}`",
                            self.flow.step(step).name
                        )
                    }
                    BlockList::Parallel(step, _) => {
                        format!("branch {slot} of parallel `{}`", self.flow.step(step).name)
                    }
                    BlockList::Choice(step, _) => {
                        format!("the branch of choice `{}`", self.flow.step(step).name)
                    }
                    BlockList::Body => "the flow body".to_owned(),
                };
                let cause = format!("cancelled: {what} failed with {}", err.error);
                self.cancel_children(pb, None, &cause);
                self.fail_step(pb, err);
                self.run_block(pb);
            }
        }
    }

    /// Fails the whole execution at once (limits).
    pub(super) fn fail_execution(&mut self, error: &str, cause: String) {
        let detail = json!({"error": error, "cause": cause}).to_string();
        self.log(EventType::ExecutionFailed, None, 1, detail);
        self.end(
            Status::Failed,
            None,
            Some(ErrorInfo {
                error: error.to_owned(),
                cause,
            }),
        );
    }

    /// Removes a block, its descendants, their timers and tasks in flight.
    fn drop_block(&mut self, b: usize) {
        self.drop_children(b);
        let Some(block) = self.run.blocks.get_mut(b).and_then(Option::take) else {
            return;
        };
        if let Some(mut cur) = block.current {
            if let Some(k) = cur.timer.take() {
                self.ctx.cancel(k);
            }
            if let Some(t) = cur.task {
                self.run.tasks.retain(|&(x, _)| x != t);
                self.run.task_ends += 1;
                let cause = format!(
                    "its parent task `{}` of execution `{}` was cancelled",
                    self.flow.step(cur.step).name,
                    self.x.name
                );
                self.cancel_child(t, SUBFLOW_CANCELLED, cause);
            }
        }
    }

    /// Cancels every child block of block `b` (a sibling of theirs failed),
    /// logging it: the running step of each cancelled block, innermost
    /// first, gets `StepFailed` with [`CANCELLED`] and `cause`, and each
    /// cancelled branch or iteration gets `BranchExited`/`IterationExited`
    /// with the same error. Then the blocks are dropped.
    ///
    /// `except` (a child block) is left alone.
    fn cancel_children(&mut self, b: usize, except: Option<usize>, cause: &str) {
        let mut children: Vec<(usize, usize)> = self
            .run
            .blocks
            .iter()
            .enumerate()
            .filter_map(|(i, bl)| match bl.as_ref().and_then(|bl| bl.parent) {
                Some((p, slot)) if p == b && Some(i) != except => Some((slot, i)),
                _ => None,
            })
            .collect();
        // Branch/iteration order reads best, whatever slots blocks reuse.
        children.sort_unstable();
        for (slot, c) in children {
            self.cancel_children(c, None, cause);
            let Some(block) = self.run.blocks.get(c).and_then(Option::as_ref) else {
                continue;
            };
            let list = block.list;
            if let Some((step, entered)) = block.current.as_ref().map(|cur| (cur.step, cur.entered))
            {
                let detail = json!({"error": CANCELLED, "cause": cause}).to_string();
                self.log(EventType::StepFailed, Some(step), entered, detail);
            }
            self.drop_block(c);
            self.log_child_exit(b, list, slot, CANCELLED, cause);
        }
    }

    /// A succeed step in block `b` ends the flow: closes, in the history,
    /// everything still open around it, innermost first, so every
    /// `StepEntered`/`BranchEntered`/`IterationEntered` has its exit. The
    /// blocks enclosing the succeed step exit normally (`BranchExited` or
    /// `IterationExited` with their local, then the enclosing step's
    /// `StepExited` with the results so far, unmapped); every other open
    /// branch or iteration is cancelled as when a sibling fails
    /// (`StepFailed` [`CANCELLED`], then its exit with that error).
    pub(super) fn close_around_succeed(&mut self, b: usize, succeed: StepId) {
        let cause = format!(
            "cancelled: succeed step `{}` ended the flow",
            self.flow.step(succeed).name
        );
        let mut child = b;
        while let Some((pb, slot)) = self
            .run
            .blocks
            .get(child)
            .and_then(Option::as_ref)
            .and_then(|bl| bl.parent)
        {
            self.cancel_children(pb, Some(child), &cause);
            self.drop_children(child);
            let Some(block) = self.run.blocks.get_mut(child).and_then(Option::take) else {
                break;
            };
            let Some(mut cur) = self.block(pb).and_then(|bl| bl.current.take()) else {
                break;
            };
            if let Some(k) = cur.timer.take() {
                self.ctx.cancel(k);
            }
            let exit = match block.list {
                BlockList::Foreach(_) => Some((EventType::IterationExited, "index")),
                BlockList::Parallel(..) => Some((EventType::BranchExited, "branch")),
                BlockList::Choice(..) | BlockList::Body => None,
            };
            if let Some((kind, key)) = exit {
                let detail = json!({key: slot, "output": &block.local}).to_string();
                self.log(kind, Some(cur.step), cur.entered, detail);
            }
            let mut results = cur.children.take().map(|c| c.results).unwrap_or_default();
            let output = match block.list {
                BlockList::Choice(..) => block.local,
                _ => {
                    if let Some(r) = results.get_mut(slot) {
                        *r = block.local;
                    }
                    Value::Array(results)
                }
            };
            self.log_value(
                EventType::StepExited,
                Some(cur.step),
                cur.entered,
                "output",
                &output,
            );
            child = pb;
        }
    }

    /// Logs that child `slot` (of `list`) of the current step of block `pb`
    /// ended with an error: `BranchExited` or `IterationExited` with
    /// `{branch|index, error, cause}`. A choice branch logs nothing (it has
    /// no `BranchEntered` either).
    fn log_child_exit(
        &mut self,
        pb: usize,
        list: BlockList,
        slot: usize,
        error: &str,
        cause: &str,
    ) {
        let (kind, key) = match list {
            BlockList::Foreach(_) => (EventType::IterationExited, "index"),
            BlockList::Parallel(..) => (EventType::BranchExited, "branch"),
            BlockList::Choice(..) | BlockList::Body => return,
        };
        let Some((step, entered)) = self.current_step(pb) else {
            return;
        };
        let detail = json!({key: slot, "error": error, "cause": cause}).to_string();
        self.log(kind, Some(step), entered, detail);
    }

    /// Removes every child block of block `b`.
    fn drop_children(&mut self, b: usize) {
        let children: Vec<usize> = self
            .run
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, bl)| {
                bl.as_ref()
                    .is_some_and(|bl| bl.parent.map(|p| p.0) == Some(b))
            })
            .map(|(i, _)| i)
            .collect();
        for c in children {
            self.drop_block(c);
        }
    }
}

/// Whether an error name matches a retry/catch `errors` list (`FnF.ALL`
/// matches everything).
pub fn error_matches(errors: &[String], error: &str) -> bool {
    errors.iter().any(|e| e == "FnF.ALL" || e == error)
}

/// The retry policies and catch rules of a step: a task's, or a CloudFlow
/// Parallel's or Map's.
fn handlers(kind: &StepKind) -> (&[RetryPolicy], &[CatchRule]) {
    match kind {
        StepKind::Task(t) => (&t.retry, &t.catch),
        StepKind::Parallel(p) => (&p.handlers.retry, &p.handlers.catch),
        StepKind::Foreach(f) => (&f.handlers.retry, &f.handlers.catch),
        _ => (&[], &[]),
    }
}
