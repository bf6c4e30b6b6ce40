//! engine::machine::pipe: how data moves from step to step, in both
//! languages.
//!
//! FDL v1 *merges*: a step's input is mapped from its block's input and
//! `$local`, and its output is merged into `$local`. A CloudFlow state
//! machine *pipes*: a state's raw input is the previous state's output
//! (the block's input for the first state), its InputConstructor (if any)
//! builds `$Input` from it, and its output (its OutputConstructor's, or
//! the default of its type) becomes the next state's input. A block keeps
//! that current value in its `local`, so the rest of the engine walks both
//! the same way. The CloudFlow expressions (`$Input`, `$Output`,
//! `$Context`) are evaluated here, on a [`Scope`] made from the execution.
//!
//! Default outputs of a state without an OutputConstructor (the docs give
//! none; flowsim's choices, in the README): a Task's is its result
//! (`$Output`), a Parallel's `{"Branch0": …, …}`, a Map's `{"Items": […]}`,
//! and every other state's its input.

use serde_json::{Map, Value};

use super::{Machine, mapping};
use crate::cloudflow::{Constructor, CurrentError, EvalError, Scope};
use crate::engine::EXPRESSION_ERROR;
use crate::engine::mapping::Context;
use crate::fdl::{Step, StepId, StepKind};
use crate::kernel::TaskError;

/// What a constructor or expression is evaluated for (named in errors).
#[derive(Debug, Clone, Copy)]
pub(super) enum Place {
    InputConstructor,
    OutputConstructor,
    Parameters,
    Condition,
    ItemsPath,
    Seconds,
    Timeout,
    CatchOutputConstructor,
}

impl Place {
    fn as_str(self) -> &'static str {
        match self {
            Place::InputConstructor => "InputConstructor",
            Place::OutputConstructor => "OutputConstructor",
            Place::Parameters => "Parameters",
            Place::Condition => "Condition",
            Place::ItemsPath => "ItemsPath",
            Place::Seconds => "Seconds.$",
            Place::Timeout => "Timeout.$",
            Place::CatchOutputConstructor => "Catch OutputConstructor",
        }
    }
}

/// The task error of an expression that failed at run time.
pub(super) fn eval_failed(state: &str, place: Place, e: &EvalError) -> TaskError {
    TaskError {
        error: EXPRESSION_ERROR.into(),
        cause: format!("state `{state}`, {}: {e}", place.as_str()),
    }
}

/// Inputs of a scope beyond `$Input`.
#[derive(Default, Clone, Copy)]
pub(super) struct Extra<'s> {
    pub(super) output: Option<&'s Value>,
    pub(super) token: Option<&'s str>,
    pub(super) error: Option<CurrentError<'s>>,
    pub(super) retry_count: u32,
}

impl Machine<'_, '_, '_> {
    /// Evaluates `f` on the scope of state `step` with `$Input` = `input`.
    pub(super) fn with_scope<T>(
        &mut self,
        step: StepId,
        input: &Value,
        extra: Extra<'_>,
        f: impl FnOnce(&Scope<'_>, &mut crate::kernel::SimRng) -> T,
    ) -> T {
        let null = Value::Null;
        let scope = Scope {
            input,
            output: extra.output,
            execution_name: &self.x.name,
            execution_input: self.run.exec_input.as_deref().unwrap_or(&null),
            role_arn: None,
            state_name: &self.flow.step(step).name,
            error: extra.error,
            retry_count: extra.retry_count,
            task_token: extra.token,
        };
        f(&scope, self.ctx.rng)
    }

    /// Builds a constructor on a state's scope.
    pub(super) fn construct(
        &mut self,
        step: StepId,
        c: &Constructor,
        input: &Value,
        extra: Extra<'_>,
        place: Place,
    ) -> Result<Value, TaskError> {
        let flow = self.flow;
        self.with_scope(step, input, extra, |scope, rng| c.build(scope, rng))
            .map_err(|e| eval_failed(&flow.step(step).name, place, &e))
    }

    /// The input of the step block `b` enters now: FDL maps it from the
    /// block's input and `$local`; a state machine builds it from the
    /// previous state's output.
    pub(super) fn step_input(
        &mut self,
        b: usize,
        step_id: StepId,
        token: Option<&str>,
        retry_count: u32,
    ) -> Result<Value, (Value, TaskError)> {
        let flow = self.flow;
        let step = flow.step(step_id);
        let Some(block) = self.run.blocks.get(b).and_then(Option::as_ref) else {
            return Ok(Value::Null);
        };
        if !flow.lang.pipes() {
            let ctx = Context {
                flow: &flow.name,
                execution: &self.x.name,
                step: &step.name,
                token,
            };
            return Ok(mapping::step_input_in(
                step.input_mappings.as_deref(),
                block.input_view(flow),
                &block.local,
                &ctx,
            ));
        }
        // The block's current value is this state's raw input, and the
        // state's output will replace it: move it, do not copy it.
        let raw = match self.run.blocks.get_mut(b).and_then(Option::as_mut) {
            Some(bl) => std::mem::take(&mut bl.local),
            None => Value::Null,
        };
        let Some(c) = step.constructors.as_ref().and_then(|c| c.input.as_ref()) else {
            return Ok(raw);
        };
        let extra = Extra {
            token,
            retry_count,
            ..Extra::default()
        };
        match self.construct(step_id, c, &raw, extra, Place::InputConstructor) {
            Ok(v) => Ok(v),
            Err(e) => Err((raw, e)),
        }
    }

    /// A state's output from its input and its result (`local`: a task's
    /// `$Output`, the branch results of a Parallel, the iteration results
    /// of a Map).
    pub(super) fn state_output(
        &mut self,
        step: &Step,
        input: &Value,
        local: Value,
    ) -> Result<Value, TaskError> {
        let result = match (&step.kind, local) {
            (StepKind::Parallel(_), Value::Array(results)) => Value::Object(
                results
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| (format!("Branch{i}"), r))
                    .collect::<Map<String, Value>>(),
            ),
            (StepKind::Foreach(_), Value::Array(results)) => {
                let mut m = Map::new();
                m.insert("Items".into(), Value::Array(results));
                Value::Object(m)
            }
            (StepKind::Task(_), local) => local,
            _ => Value::Null,
        };
        let has_result = matches!(
            step.kind,
            StepKind::Task(_) | StepKind::Parallel(_) | StepKind::Foreach(_)
        );
        match step.constructors.as_ref().and_then(|c| c.output.as_ref()) {
            Some(c) => {
                let extra = Extra {
                    output: has_result.then_some(&result),
                    ..Extra::default()
                };
                self.construct(step.id, c, input, extra, Place::OutputConstructor)
            }
            None if has_result => Ok(result),
            None => Ok(input.clone()),
        }
    }
}
