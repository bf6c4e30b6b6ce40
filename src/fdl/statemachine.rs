//! Compiles a validated CloudFlow state machine into the flow model the
//! engine runs (see [`super::model`]).
//!
//! Every state becomes a step, in document order, nested states under
//! their Parallel or Map. Each scope's list starts with its `StartAt`
//! state (the others follow in document order), and each state's `Next`
//! becomes [`Step::next`], so the engine walks a state machine with the
//! machinery it walks FDL blocks with. What the two languages mean
//! differently is carried as data: [`Lang::StateMachine`] (data is piped
//! from state to state), the constructors, the expressions. A Choice's
//! branches are FDL branches with no steps and a `goto`; a Map is a
//! foreach whose iteration input is the element; Retry and Catch keep
//! their policies (BackoffRate is FDL's multiplier, MaxBackoffSeconds its
//! maximum interval).

use std::collections::HashMap;

use super::model::*;
use crate::cloudflow::{self, Integration, MnsTarget, StateKind, StateMachine, TaskMode};

/// The error of a `Fail` state without `Code` (flowsim's choice; the docs
/// make `Code` optional and do not say).
pub const FAIL_WITHOUT_CODE: &str = "FnF.Fail";

/// The flow model of a state machine.
pub fn compile(sm: &StateMachine) -> Flow {
    let mut c = Compiler { steps: Vec::new() };
    let body = c.block(&sm.body, None);
    Flow {
        name: sm.name.clone(),
        version: sm.spec_version.clone(),
        definition: sm.definition.clone(),
        // Express executions run at most five minutes (MODES).
        timeout_seconds: (sm.mode == cloudflow::Mode::Express).then_some(300),
        input_mappings: Vec::new(),
        output_mappings: Vec::new(),
        body,
        steps: c.steps,
        lang: Lang::StateMachine(sm.mode),
    }
}

struct Compiler {
    steps: Vec<Step>,
}

impl Compiler {
    /// Adds a scope's states (and what they nest) and answers its list,
    /// `StartAt` first.
    fn block(&mut self, block: &cloudflow::Block, parent: Option<StepId>) -> Vec<StepId> {
        // Ids first, so `Next` can point forward.
        let ids: Vec<StepId> = block
            .states
            .iter()
            .map(|state| {
                let id = StepId(u16::try_from(self.steps.len()).unwrap_or(u16::MAX));
                self.steps.push(Step {
                    id,
                    name: state.name.clone(),
                    pos: state.pos,
                    parent,
                    end: false,
                    input_mappings: None,
                    output_mappings: None,
                    kind: StepKind::Pass,
                    next: None,
                    constructors: None,
                });
                id
            })
            .collect();
        let by_index = |t: &cloudflow::Target| ids[t.index];
        let names: HashMap<&str, StepId> = block
            .states
            .iter()
            .zip(&ids)
            .map(|(s, &id)| (s.name.as_str(), id))
            .collect();
        for (state, &id) in block.states.iter().zip(&ids) {
            let kind = self.kind(state, id, &by_index, &names);
            let step = &mut self.steps[id.index()];
            step.kind = kind;
            match &state.next {
                cloudflow::Next::State(t) => step.next = Some(by_index(t)),
                // Succeed and Fail stop by themselves; a Choice follows
                // its branches.
                cloudflow::Next::End | cloudflow::Next::None => step.end = true,
            }
            if state.input_constructor.is_some() || state.output_constructor.is_some() {
                step.constructors = Some(Box::new(Constructors {
                    input: state.input_constructor.clone(),
                    output: state.output_constructor.clone(),
                }));
            }
        }
        let start = ids[block.start_at.index];
        let mut list = vec![start];
        list.extend(ids.iter().copied().filter(|&i| i != start));
        list
    }

    fn kind(
        &mut self,
        state: &cloudflow::State,
        id: StepId,
        target: &dyn Fn(&cloudflow::Target) -> StepId,
        names: &HashMap<&str, StepId>,
    ) -> StepKind {
        let handlers = |retry: &[cloudflow::Retry], catch: &[cloudflow::Catch]| Handlers {
            retry: retry.iter().map(retry_policy).collect(),
            catch: catch
                .iter()
                .map(|c| CatchRule {
                    errors: c.errors.clone(),
                    goto: names.get(c.next.name.as_str()).copied().unwrap_or(id),
                    pos: c.pos,
                    output: c.output_constructor.clone(),
                })
                .collect(),
        };
        match &state.kind {
            StateKind::Pass => StepKind::Pass,
            StateKind::Succeed => StepKind::Succeed,
            StateKind::Fail(f) => StepKind::Fail(Fail {
                error: f
                    .code
                    .clone()
                    .unwrap_or_else(|| FAIL_WITHOUT_CODE.to_owned()),
                cause: f.detail.clone(),
            }),
            StateKind::Wait(w) => StepKind::Wait(match w {
                cloudflow::Wait::Seconds(s) => Wait::DurationSeconds(*s as f64),
                w @ cloudflow::Wait::Expr(_) => Wait::Expr(w.clone()),
            }),
            StateKind::Choice(ch) => StepKind::Choice(Choice {
                choices: ch
                    .branches
                    .iter()
                    .map(|b| ChoiceBranch {
                        condition: ChoiceCondition::Expr(b.condition.clone()),
                        branch: Branch {
                            steps: Vec::new(),
                            goto: Some(target(&b.next)),
                            pos: b.pos,
                        },
                    })
                    .collect(),
                default: Some(Branch {
                    steps: Vec::new(),
                    goto: Some(target(&ch.default)),
                    pos: ch.default.pos,
                }),
            }),
            StateKind::Parallel(p) => {
                let handlers = handlers(&p.retry, &p.catch);
                let branches = p.branches.iter().map(|b| self.block(b, Some(id))).collect();
                StepKind::Parallel(Parallel { branches, handlers })
            }
            StateKind::Map(m) => {
                let handlers = handlers(&m.retry, &m.catch);
                let steps = self.block(&m.processor, Some(id));
                StepKind::Foreach(Foreach {
                    collection: Items::Expr(m.items_path.clone()),
                    max_concurrency: m.concurrency() as usize,
                    handlers,
                    item: String::new(),
                    index: None,
                    steps,
                })
            }
            StateKind::Task(t) => {
                let h = handlers(&t.retry, &t.catch);
                let (timeout_seconds, timeout) = match &t.timeout {
                    None => (None, None),
                    Some(cloudflow::Timeout::Seconds(0)) => (None, None),
                    Some(cloudflow::Timeout::Seconds(s)) => (Some(*s), None),
                    Some(cloudflow::Timeout::Expr(e)) => (None, Some(e.clone())),
                };
                let action = t.action.to_string();
                let (resource, resource_arn) = resource(&t.integration, &action, t);
                let pattern = match (t.mode, &resource) {
                    (TaskMode::WaitForCustomCallback, _) => Pattern::WaitForCallback,
                    // A child flow: wait for it to end.
                    (TaskMode::WaitForSystemCallback, Resource::Flow { .. }) => Pattern::Sync,
                    _ => Pattern::RequestResponse,
                };
                StepKind::Task(Task {
                    resource_arn,
                    resource,
                    pattern,
                    timeout_seconds,
                    service_params: Vec::new(),
                    retry: h.retry,
                    catch: h.catch,
                    error_mappings: None,
                    api: Some(Box::new(ApiTask {
                        action: t.action.clone(),
                        mode: t.mode,
                        parameters: t.parameters.clone(),
                        timeout,
                    })),
                })
            }
        }
    }
}

/// The model's resource of a task's integration, and the ARN shown for it
/// (the constant `resourceArn`, or the action).
fn resource(integration: &Integration, action: &str, t: &cloudflow::Task) -> (Resource, String) {
    let arn = t
        .parameters
        .as_ref()
        .and_then(|p| p.get("resourceArn"))
        .and_then(|v| match v {
            cloudflow::Template::Constant(serde_json::Value::String(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| action.to_owned());
    let resource = match integration {
        Integration::MnsSendMessage {
            target: MnsTarget::Topic(topic),
            ..
        } => Resource::MnsTopic {
            topic: topic.clone(),
        },
        Integration::MnsSendMessage {
            target: MnsTarget::Queue(queue),
            ..
        } => Resource::MnsQueue {
            queue: queue.clone(),
        },
        Integration::FcInvokeFunction { function, .. } => Resource::Function {
            region: function.region.clone(),
            account: function.account.clone(),
            service: function.service.clone().unwrap_or_default(),
            function: function.function.clone(),
        },
        Integration::StartExecution { flow } => Resource::Flow { flow: flow.clone() },
        Integration::Other => Resource::Api {
            action: action.to_owned(),
        },
    };
    (resource, arn)
}

/// A Retry policy as the model's: BackoffRate is the multiplier,
/// MaxBackoffSeconds (default and at most 86400) the longest interval.
fn retry_policy(r: &cloudflow::Retry) -> RetryPolicy {
    RetryPolicy {
        errors: r.errors.clone(),
        interval_seconds: r.interval_seconds,
        max_interval_seconds: r
            .max_backoff_seconds
            .unwrap_or(cloudflow::MAX_RETRY_INTERVAL_SECONDS)
            .min(cloudflow::MAX_RETRY_INTERVAL_SECONDS),
        max_attempts: r.max_attempts,
        multiplier: r.backoff_rate,
        pos: r.pos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(body: &str) -> Flow {
        let text = format!("Type: StateMachine\nName: t\nSpecVersion: v1\n{body}");
        let loaded = crate::cloudflow::load("t", &text).unwrap_or_else(|d| panic!("{d:?}"));
        compile(&loaded.machine)
    }

    fn id(flow: &Flow, name: &str) -> StepId {
        flow.step_by_name(name).unwrap().id
    }

    #[test]
    fn a_scope_starts_with_its_start_at_state_and_next_is_resolved() {
        let f = compiled(
            "StartAt: b\nStates:\n  - Type: Pass\n    Name: a\n    End: true\n  - Type: Pass\n    Name: b\n    Next: a\n",
        );
        assert!(f.lang.pipes());
        assert_eq!(f.body, vec![id(&f, "b"), id(&f, "a")]);
        assert_eq!(f.step(id(&f, "b")).next, Some(id(&f, "a")));
        assert!(f.step(id(&f, "a")).end);
        // Document order in the arena.
        assert_eq!(f.steps[0].name, "a");
        assert_eq!(f.type_name(f.step(id(&f, "a"))), "Pass");
    }

    #[test]
    fn choice_branches_are_gotos_and_the_default_is_one() {
        let f = compiled(
            "StartAt: c\nStates:\n  - Type: Choice\n    Name: c\n    Branches:\n      - Condition: $Input.x == 1\n        Next: one\n    Default: other\n  - Type: Succeed\n    Name: one\n  - Type: Fail\n    Name: other\n    Detail: no\n",
        );
        let StepKind::Choice(c) = &f.step(id(&f, "c")).kind else {
            panic!()
        };
        assert_eq!(c.choices[0].condition.source(), "$Input.x == 1");
        assert_eq!(c.choices[0].branch.goto, Some(id(&f, "one")));
        assert!(c.choices[0].branch.steps.is_empty());
        assert_eq!(c.default.as_ref().unwrap().goto, Some(id(&f, "other")));
        let StepKind::Fail(fail) = &f.step(id(&f, "other")).kind else {
            panic!()
        };
        assert_eq!(
            (fail.error.as_str(), fail.cause.as_str()),
            (FAIL_WITHOUT_CODE, "no")
        );
    }

    #[test]
    fn tasks_keep_their_action_mode_resource_and_policies() {
        let f = compiled(
            "StartAt: t\nStates:\n  - Type: Task\n    Name: t\n    Action: MNS:SendMessage\n    TaskMode: WaitForCustomCallback\n    Timeout: 0\n    Parameters:\n      resourceArn: acs:mns:cn-hangzhou:1:/queues/q/messages\n      message: hi\n    Retry:\n      - Errors: [FnF.ALL]\n        MaxAttempts: 2\n        IntervalSeconds: 3\n    Catch:\n      - Errors: [FnF.ALL]\n        Next: caught\n    End: true\n  - Type: Pass\n    Name: caught\n    End: true\n",
        );
        let StepKind::Task(t) = &f.step(id(&f, "t")).kind else {
            panic!()
        };
        assert_eq!(t.resource, Resource::MnsQueue { queue: "q".into() });
        assert_eq!(t.pattern, Pattern::WaitForCallback);
        assert_eq!(t.timeout_seconds, None, "Timeout 0 never times out");
        assert_eq!(t.resource_arn, "acs:mns:cn-hangzhou:1:/queues/q/messages");
        let r = &t.retry[0];
        // BackoffRate defaults to a constant interval; the cap to a day.
        assert_eq!((r.max_attempts, r.interval_seconds), (2, 3));
        assert_eq!((r.multiplier, r.max_interval_seconds), (1.0, 86_400));
        assert_eq!(t.catch[0].goto, id(&f, "caught"));
        assert_eq!(
            t.api.as_ref().unwrap().action.to_string(),
            "MNS:SendMessage"
        );
    }

    #[test]
    fn parallel_and_map_nest_their_scopes_and_express_times_out() {
        let f = compiled(
            "ExecutionMode: Express\nStartAt: m\nStates:\n  - Type: Map\n    Name: m\n    ItemsPath: $Input.xs\n    MaxConcurrency: 3\n    Processor:\n      StartAt: p\n      States:\n        - Type: Pass\n          Name: p\n          End: true\n    End: true\n",
        );
        assert!(f.is_express());
        assert_eq!(f.timeout_seconds, Some(300));
        let StepKind::Foreach(m) = &f.step(id(&f, "m")).kind else {
            panic!()
        };
        assert_eq!(m.max_concurrency, 3);
        assert_eq!(m.steps, vec![id(&f, "p")]);
        assert_eq!(f.step(id(&f, "p")).parent, Some(id(&f, "m")));
        assert_eq!(m.collection.to_string(), "$Input.xs");
        assert_eq!(f.type_name(f.step(id(&f, "m"))), "Map");
    }
}
