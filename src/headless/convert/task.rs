//! headless::convert::task: task steps as Task states: the action and
//! task mode of the resource and pattern, `Parameters` (the message, the
//! function's body, the child flow's input, from the step input),
//! `Timeout`, `Retry` (always with `BackoffRate`: FDL's multiplier
//! defaults to 2, CloudFlow's to 1) and `Catch` (errorMappings merged
//! into the local by its OutputConstructor).

use super::expr::{Fields, Val, access};
use super::yaml::{Y, constant, flow_list, scalar};
use super::{
    Conv, Next, Out, R, Shape, Target, error_local, merge_out, num, push_step_in, s_ref, state,
    with_next,
};
use crate::fdl::{ParamValue, Pattern, Resource, Step, StepId};

impl Conv<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn task_states(
        &mut self,
        b: usize,
        step: &Step,
        t: &crate::fdl::Task,
        shape: Shape,
        name: &str,
        after: Target,
        index_of: &dyn Fn(&Self, StepId) -> Target,
    ) -> R<Vec<Y>> {
        let token = t.pattern == Pattern::WaitForCallback;
        let s_in = self.step_in(b, &shape, step, token)?;
        let mut s = state("Task", name);
        let (action, mode) = match (&t.resource, t.pattern) {
            (Resource::Function { .. }, Pattern::WaitForCallback) => {
                ("FC:InvokeFunction", "WaitForCustomCallback")
            }
            (Resource::Function { .. }, _) => ("FC:InvokeFunction", "RequestComplete"),
            (Resource::MnsTopic { .. } | Resource::MnsQueue { .. }, Pattern::WaitForCallback) => {
                ("MNS:SendMessage", "WaitForCustomCallback")
            }
            (Resource::MnsTopic { .. } | Resource::MnsQueue { .. }, _) => {
                ("MNS:SendMessage", "RequestComplete")
            }
            (Resource::Flow { .. }, Pattern::WaitForCallback) => {
                ("FNF:StartExecution", "WaitForCustomCallback")
            }
            (Resource::Flow { .. }, Pattern::Sync) => {
                ("FNF:StartExecution", "WaitForSystemCallback")
            }
            (Resource::Flow { .. }, Pattern::RequestResponse) => {
                ("FNF:StartExecution", "RequestComplete")
            }
            (Resource::Api { .. }, _) => return Err("a CloudFlow action in an FDL flow".into()),
        };
        s.push("Action", scalar(action));
        s.push("TaskMode", scalar(mode));
        if let Some(secs) = t.timeout_seconds {
            s.push("Timeout", Y::S(secs.to_string()));
        }
        let mut params = Y::M(Vec::new());
        params.push("resourceArn", scalar(&t.resource_arn));
        let param = |c: &Self, p: &ParamValue| -> R<Val> {
            let _ = c;
            match p {
                ParamValue::Const(v) => Ok(Val::Const(v.clone())),
                ParamValue::Path(path) => Ok(Val::Expr(s_ref(&s_in, &path.segments)?)),
            }
        };
        let push_val = |params: &mut Y, key: &str, v: Val| match v {
            Val::Const(c) => params.push(key, constant(&c)),
            Val::Expr(e) => params.push(format!("{key}.$"), scalar(&e)),
        };
        match &t.resource {
            Resource::Function { .. } => {
                let inv = if mode == "RequestComplete" {
                    "Sync"
                } else {
                    "Async"
                };
                params.push("invocationType", scalar(inv));
                push_step_in(&mut params, "body", &s_in)?;
            }
            Resource::MnsTopic { .. } | Resource::MnsQueue { .. } => {
                for (k, p) in &t.service_params {
                    let key = match k.as_str() {
                        "MessageBody" => "message",
                        "MessageTag" => "messageTag",
                        "DelaySeconds" => "delaySeconds",
                        _ => continue,
                    };
                    match p {
                        ParamValue::Path(path) if path.segments.is_empty() => {
                            push_step_in(&mut params, key, &s_in)?
                        }
                        p => push_val(&mut params, key, param(self, p)?),
                    }
                }
            }
            Resource::Flow { .. } => {
                let mut input_given = false;
                for (k, p) in &t.service_params {
                    let key = match k.as_str() {
                        "Input" => {
                            input_given = true;
                            "input"
                        }
                        "ExecutionName" => "executionName",
                        _ => continue,
                    };
                    push_val(&mut params, key, param(self, p)?);
                }
                if !input_given {
                    push_step_in(&mut params, "input", &s_in)?;
                }
            }
            Resource::Api { .. } => {}
        }
        s.push("Parameters", params);
        if !t.retry.is_empty() {
            let list = t
                .retry
                .iter()
                .map(|r| {
                    let mut m = Y::M(Vec::new());
                    m.push("Errors", flow_list(&r.errors));
                    m.push("IntervalSeconds", Y::S(r.interval_seconds.to_string()));
                    m.push("MaxAttempts", Y::S(r.max_attempts.to_string()));
                    // FDL's multiplier defaults to 2, CloudFlow's BackoffRate to 1.
                    m.push("BackoffRate", Y::S(num(r.multiplier)));
                    if r.max_interval_seconds
                        != crate::fdl::RetryPolicy::DEFAULT_MAX_INTERVAL_SECONDS
                    {
                        m.push(
                            "MaxBackoffSeconds",
                            Y::S(r.max_interval_seconds.to_string()),
                        );
                    }
                    m
                })
                .collect();
            s.push("Retry", Y::L(list));
        }
        if !t.catch.is_empty() {
            let mut list = Vec::new();
            for rule in &t.catch {
                let fields = match &t.error_mappings {
                    None => Fields::new(),
                    Some(ms) => self.out_fields(ms, &s_in, &error_local, &step.name)?,
                };
                let (ctor, caught) = merge_out(&shape, "$Input", Out::Keys(fields))?;
                let target = index_of(self, rule.goto);
                let Next::State(n) = self.next(b, target, caught, true) else {
                    return Err("internal: a catch needs a state".into());
                };
                let mut m = Y::M(Vec::new());
                m.push("Errors", flow_list(&rule.errors));
                if let Some(c) = ctor {
                    m.push("OutputConstructor", c);
                }
                m.push("Next", scalar(&n));
                list.push(m);
            }
            s.push("Catch", Y::L(list));
        }
        let out = match &step.output_mappings {
            None => Out::Dynamic,
            Some(ms) => Out::Keys(self.out_fields(
                ms,
                &s_in,
                &|segs| access("$Output", segs),
                &step.name,
            )?),
        };
        let (ctor, shape) = merge_out(&shape, "$Input", out)?;
        if let Some(c) = ctor {
            s.push("OutputConstructor", c);
        }
        let n = self.next(b, after, shape, false);
        Ok(vec![with_next(s, n)])
    }
}
