//! Sub-flow tasks (`resourceArn: acs:fnf:::flow/{name}`) in the three
//! patterns, on real FDL text: how the child starts (name, input), what the
//! parent records, child failures through retry/catch, cancellation (stop,
//! task timeout, failing sibling branch), the nesting limit, unknown child
//! flows, and `CallbackFnFTaskToken`. Deterministic: fixed seed and epoch,
//! virtual time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use flowsim::engine::{
    EventType, ExecId, Execution, SUBFLOW_CANCELLED, SUBFLOW_DEPTH_ERROR, SUBFLOW_DEPTH_LIMIT,
    SUBFLOW_TREE_ERROR, SUBFLOW_TREE_LIMIT, Status, TASK_TIMEOUT,
};
use flowsim::fc::Behaviour;
use flowsim::fdl;
use flowsim::sim::{Sim, SimConfig};
use serde_json::{Value, json};

fn sim_with(behaviour: Behaviour, flows: &[(&str, &str)]) -> Sim {
    let mut config = SimConfig::default();
    config.handler.behaviour = behaviour;
    let mut sim = Sim::new(config);
    for (name, text) in flows {
        let flow = fdl::load(name, text).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        sim.add_flow(flow).unwrap();
    }
    sim
}

fn start(sim: &mut Sim, flow: &str, name: &str, input: Value) -> ExecId {
    sim.start_execution(flow, Some(name), Some(&input.to_string()))
        .unwrap()
}

fn exec(sim: &Sim, id: ExecId) -> Execution {
    sim.engine.execution(id).unwrap().clone()
}

fn by_name(sim: &Sim, flow: &str, name: &str) -> Execution {
    sim.engine.find_execution(flow, name).unwrap().clone()
}

/// Executions of `flow`, oldest first.
fn of_flow(sim: &Sim, flow: &str) -> Vec<Execution> {
    sim.engine
        .executions()
        .iter()
        .filter(|x| x.flow.name == flow)
        .cloned()
        .collect()
}

fn output(x: &Execution) -> Value {
    serde_json::from_str(x.output.as_deref().unwrap_or("null")).unwrap()
}

fn kinds(x: &Execution) -> Vec<EventType> {
    x.history.iter().map(|e| e.kind).collect()
}

fn detail(x: &Execution, kind: EventType) -> Value {
    let ev = x
        .history
        .iter()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", kinds(x)));
    serde_json::from_str(&ev.detail).unwrap()
}

/// A child that waits `$.seconds` on the virtual clock, then answers.
const SLOW_CHILD: &str = r#"
version: v1
type: flow
steps:
  - type: wait
    name: think
    duration: $.seconds
  - type: pass
    name: answer
    outputMappings:
      - target: verdict
        source: approved
      - target: seconds
        source: $input.seconds
"#;

/// A child that fails with `Rejected`.
const FAILING_CHILD: &str = r#"
version: v1
type: flow
steps:
  - type: fail
    name: reject
    error: Rejected
    cause: the reviewer said no
"#;

/// A child that waits for a callback over an MNS topic (the seed's step).
const CALLBACK_CHILD: &str = r#"
version: v1
type: flow
steps:
  - type: task
    name: ask-reviewer
    resourceArn: acs:mns:::/topics/reviews/messages
    pattern: waitForCallback
    inputMappings:
      - target: messageBody
        source: $input.doc
      - target: taskToken
        source: $context.task.token
    serviceParams:
      MessageBody: $
    outputMappings:
      - target: review
        source: $local.status
"#;

fn parent(pattern: &str, extra: &str) -> String {
    format!(
        r#"
version: v1
type: flow
steps:
  - type: task
    name: review
    resourceArn: acs:fnf:::flow/child
    pattern: {pattern}
{extra}
"#
    )
}

#[test]
fn request_response_starts_the_child_and_moves_on() {
    let p = parent("requestResponse", "");
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", &p), ("child", SLOW_CHILD)]);
    let id = start(&mut sim, "parent", "p1", json!({"seconds": 60}));
    sim.advance_to(0);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    // The task's local is the StartExecution-style result.
    let out = output(&x);
    assert_eq!(out["Name"], "p1-review-3");
    assert_eq!(out["FlowName"], "child");
    assert_eq!(out["Status"], "Running");
    assert_eq!(out["StartedTime"], "2026-01-01T00:00:00.000Z");
    assert!(!kinds(&x).contains(&EventType::TaskSubmitted));
    // The child runs on by itself, with the mapped input.
    let child = by_name(&sim, "child", "p1-review-3");
    assert_eq!(child.status, Status::Running);
    assert_eq!(child.input.as_ref(), r#"{"seconds":60}"#);
    assert_eq!(child.parent().map(|p| p.task.exec), Some(id));
    sim.run_until_idle(1_000);
    let child = by_name(&sim, "child", "p1-review-3");
    assert_eq!(child.status, Status::Succeeded);
    assert_eq!(child.stopped, Some(60_000));
}

#[test]
fn sync_waits_for_the_child_and_takes_its_output() {
    let p = parent(
        "sync",
        "    outputMappings:\n      - target: verdict\n        source: $local.verdict",
    );
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", &p), ("child", SLOW_CHILD)]);
    let id = start(&mut sim, "parent", "p1", json!({"seconds": 30}));
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"verdict": "approved"}));
    assert_eq!(x.stopped, Some(30_000));
    assert_eq!(
        kinds(&x),
        vec![
            EventType::ExecutionStarted,
            EventType::StepEntered,
            EventType::TaskScheduled,
            EventType::TaskStarted,
            EventType::TaskSubmitted,
            EventType::TaskSucceeded,
            EventType::StepExited,
            EventType::ExecutionSucceeded,
        ]
    );
    let submitted = detail(&x, EventType::TaskSubmitted);
    assert_eq!(submitted["Name"], "p1-review-3");
    assert_eq!(submitted["FlowName"], "child");
    assert_eq!(
        detail(&x, EventType::TaskSucceeded)["output"],
        json!({"verdict": "approved", "seconds": 30})
    );
    let child = by_name(&sim, "child", "p1-review-3");
    assert_eq!(child.depth(), 1);
    assert_eq!(kinds(&child)[0], EventType::ExecutionStarted);
}

#[test]
fn a_failed_child_fails_the_sync_task_and_retry_and_catch_see_its_error() {
    let p = r#"
version: v1
type: flow
steps:
  - type: task
    name: review
    resourceArn: acs:fnf:::flow/child
    pattern: sync
    retry:
      - errors: [Rejected]
        intervalSeconds: 5
        maxAttempts: 1
    catch:
      - errors: [Rejected]
        goto: escalate
    errorMappings:
      - target: error
        source: $local.error
      - target: cause
        source: $local.cause
  - type: succeed
    name: approved
  - type: pass
    name: escalate
    outputMappings:
      - target: escalated
        source: true
"#;
    let mut sim = sim_with(
        Behaviour::Succeed,
        &[("parent", p), ("child", FAILING_CHILD)],
    );
    let id = start(&mut sim, "parent", "p1", json!({}));
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(
        output(&x),
        json!({"error": "Rejected", "cause": "the reviewer said no", "escalated": true})
    );
    // Two attempts (the retry started a second child 5 s later), each
    // failing with the child's error.
    let failed: Vec<(u64, Value)> = x
        .history
        .iter()
        .filter(|e| e.kind == EventType::TaskFailed)
        .map(|e| (e.time, serde_json::from_str(&e.detail).unwrap()))
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[1].0, 5_000);
    assert_eq!(failed[0].1["error"], "Rejected");
    let children = of_flow(&sim, "child");
    assert_eq!(children.len(), 2);
    assert!(children.iter().all(|c| c.status == Status::Failed));
    assert_ne!(children[0].name, children[1].name);
}

#[test]
fn an_uncaught_child_failure_fails_the_parent() {
    let p = parent("sync", "");
    let mut sim = sim_with(
        Behaviour::Succeed,
        &[("parent", &p), ("child", FAILING_CHILD)],
    );
    let id = start(&mut sim, "parent", "p1", json!({}));
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Failed);
    let e = x.error.unwrap();
    assert_eq!(
        (e.error.as_str(), e.cause.as_str()),
        ("Rejected", "the reviewer said no")
    );
}

#[test]
fn wait_for_callback_child_reports_to_the_parent_token() {
    let p = parent(
        "waitForCallback",
        "    inputMappings:\n      - target: doc\n        source: $input.doc\n      - target: parentToken\n        source: $context.task.token",
    );
    let mut sim = sim_with(
        Behaviour::Manual,
        &[("parent", &p), ("child", CALLBACK_CHILD)],
    );
    let id = start(&mut sim, "parent", "p1", json!({"doc": "contract.pdf"}));
    sim.run_until_idle(1_000);
    // The parent waits; the child was started with the parent task's token
    // as its callback token (and got it in its input too).
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Running);
    assert_eq!(
        kinds(&x)[4..],
        [EventType::TaskSubmitted],
        "{:?}",
        kinds(&x)
    );
    let waiting = sim.engine.waiting_tasks(id);
    assert_eq!(waiting.len(), 1);
    let parent_token = waiting[0].2.clone();
    let child = by_name(&sim, "child", "p1-review-3");
    let origin = child.origin.as_deref().unwrap();
    assert_eq!(
        origin.callback_token.as_deref(),
        Some(parent_token.as_str())
    );
    let child_input: Value = serde_json::from_str(&child.input).unwrap();
    assert_eq!(child_input["parentToken"], parent_token.as_str());
    // Someone answers the child's MNS callback; the child ends and reports
    // its output to the parent's token.
    let child_token = sim.engine.waiting_tasks(child.id)[0].2.clone();
    sim.report_succeeded(&child_token, r#"{"status": "signed"}"#)
        .unwrap();
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"review": "signed"}));
    assert!(kinds(&x).contains(&EventType::TaskSucceeded));
}

#[test]
fn wait_for_callback_child_failure_is_reported_as_task_failed() {
    let p = parent(
        "waitForCallback",
        "    catch:\n      - errors: [Rejected]\n        goto: fallback\n  - type: pass\n    name: fallback",
    );
    let mut sim = sim_with(
        Behaviour::Succeed,
        &[("parent", &p), ("child", FAILING_CHILD)],
    );
    let id = start(&mut sim, "parent", "p1", json!({}));
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(
        detail(&x, EventType::TaskFailed),
        json!({"error": "Rejected", "cause": "the reviewer said no"})
    );
}

#[test]
fn wait_for_callback_mns_child_through_the_simulated_function() {
    let p = parent(
        "waitForCallback",
        "    inputMappings:\n      - target: doc\n        source: $input.doc",
    );
    let mut sim = sim_with(
        Behaviour::Succeed,
        &[("parent", &p), ("child", CALLBACK_CHILD)],
    );
    let id = start(&mut sim, "parent", "p1", json!({"doc": "d"}));
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"review": "success"}));
}

#[test]
fn stopping_the_parent_stops_its_waiting_children() {
    for pattern in ["sync", "waitForCallback"] {
        let p = parent(pattern, "");
        let mut sim = sim_with(Behaviour::Succeed, &[("parent", &p), ("child", SLOW_CHILD)]);
        let id = start(&mut sim, "parent", "p1", json!({"seconds": 3600}));
        sim.advance_to(10_000);
        let child = by_name(&sim, "child", "p1-review-3");
        assert_eq!(child.status, Status::Running, "{pattern}");
        sim.stop_execution("parent", "p1", "Abort", "changed my mind")
            .unwrap();
        assert_eq!(exec(&sim, id).status, Status::Stopped);
        let child = by_name(&sim, "child", "p1-review-3");
        assert_eq!(child.status, Status::Stopped, "{pattern}");
        assert_eq!(child.stopped, Some(10_000));
        let e = child.error.unwrap();
        assert_eq!(e.error, SUBFLOW_CANCELLED, "{pattern}");
        assert!(e.cause.contains("`p1` ended Stopped"), "{}", e.cause);
        // Nothing is left behind: the child's wait timer went with it, and
        // its end reports to nobody.
        sim.run_until_idle(1_000);
        assert_eq!(exec(&sim, id).history.len(), 6, "{pattern}");
        assert!(sim.bus().is_empty());
    }
}

#[test]
fn request_response_children_outlive_their_parent() {
    let p = format!(
        "{}  - type: wait\n    name: linger\n    duration: 10\n",
        parent("requestResponse", "")
    );
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", &p), ("child", SLOW_CHILD)]);
    start(&mut sim, "parent", "p1", json!({"seconds": 60}));
    sim.advance_to(1_000);
    sim.stop_execution("parent", "p1", "Abort", "").unwrap();
    sim.run_until_idle(1_000);
    assert_eq!(
        by_name(&sim, "child", "p1-review-3").status,
        Status::Succeeded
    );
}

#[test]
fn task_timeout_stops_the_child_and_can_be_caught() {
    let p = parent(
        "sync",
        "    timeoutSeconds: 60\n    catch:\n      - errors: [FnF.TaskTimeout]\n        goto: late\n  - type: pass\n    name: late\n    outputMappings:\n      - target: late\n        source: true",
    );
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", &p), ("child", SLOW_CHILD)]);
    let id = start(&mut sim, "parent", "p1", json!({"seconds": 3600}));
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"late": true}));
    assert_eq!(x.stopped, Some(60_000));
    assert!(kinds(&x).contains(&EventType::TaskTimedOut));
    let child = by_name(&sim, "child", "p1-review-3");
    assert_eq!(child.status, Status::Stopped);
    assert_eq!(child.stopped, Some(60_000));
    assert_eq!(child.error.unwrap().error, TASK_TIMEOUT);
}

#[test]
fn a_failing_sibling_branch_stops_the_child_of_the_other() {
    let p = r#"
version: v1
type: flow
steps:
  - type: parallel
    name: both
    branches:
      - steps:
          - type: task
            name: review
            resourceArn: acs:fnf:::flow/child
            pattern: sync
      - steps:
          - type: wait
            name: a-bit
            duration: 5
          - type: fail
            name: boom
            error: Boom
            cause: the other branch failed
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", p), ("child", SLOW_CHILD)]);
    let id = start(&mut sim, "parent", "p1", json!({"seconds": 3600}));
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.unwrap().error, "Boom");
    let child = &of_flow(&sim, "child")[0];
    assert_eq!(child.status, Status::Stopped);
    assert_eq!(child.stopped, Some(5_000));
    assert_eq!(child.error.as_ref().unwrap().error, SUBFLOW_CANCELLED);
}

#[test]
fn a_flow_that_starts_itself_stops_at_the_depth_limit() {
    let looping = r#"
version: v1
type: flow
steps:
  - type: task
    name: again
    resourceArn: acs:fnf:::flow/loop
    pattern: sync
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("loop", looping)]);
    let id = start(&mut sim, "loop", "top", json!({}));
    sim.run_until_idle(100_000);
    let all = of_flow(&sim, "loop");
    assert_eq!(all.len() as u32, SUBFLOW_DEPTH_LIMIT + 1);
    assert_eq!(all.last().unwrap().depth(), SUBFLOW_DEPTH_LIMIT);
    assert!(all.iter().all(|x| x.status == Status::Failed));
    let e = exec(&sim, id).error.unwrap();
    assert_eq!(e.error, SUBFLOW_DEPTH_ERROR);
    assert!(e.cause.contains("at most 10 deep"), "{}", e.cause);
    // The deepest attempt is a TaskSubmitFailed: no child was started.
    let deepest = all.last().unwrap();
    assert!(kinds(deepest).contains(&EventType::TaskSubmitFailed));
}

#[test]
fn an_unknown_child_flow_fails_the_task_clearly_and_can_be_caught() {
    let p = r#"
version: v1
type: flow
steps:
  - type: task
    name: review
    resourceArn: acs:fnf:::flow/not-deployed
    pattern: sync
    catch:
      - errors: [FnF.FlowNotExists]
        goto: fallback
    errorMappings:
      - target: why
        source: $local.cause
  - type: succeed
    name: done
  - type: pass
    name: fallback
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", p)]);
    let id = start(&mut sim, "parent", "p1", json!({}));
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    let failed = detail(&x, EventType::TaskSubmitFailed);
    assert_eq!(failed["error"], "FnF.FlowNotExists");
    assert_eq!(
        output(&x)["why"],
        "step `review` cannot start a sub-flow execution: flow `not-deployed` does not exist"
    );
}

#[test]
fn service_params_name_the_child_and_shape_its_input() {
    let p = r#"
version: v1
type: flow
steps:
  - type: task
    name: review
    resourceArn: acs:fnf:::flow/child
    pattern: sync
    inputMappings:
      - target: childName
        source: $input.childName
      - target: wait
        source: $input.wait
    serviceParams:
      ExecutionName: $.childName
      Input:
        seconds: 2
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", p), ("child", SLOW_CHILD)]);
    let id = start(
        &mut sim,
        "parent",
        "p1",
        json!({"childName": "review-of-p1", "wait": 99}),
    );
    sim.run_until_idle(1_000);
    assert_eq!(exec(&sim, id).status, Status::Succeeded);
    let child = by_name(&sim, "child", "review-of-p1");
    assert_eq!(child.input.as_ref(), r#"{"seconds":2}"#);
    // A second parent asking for the same child name fails: the name is
    // taken.
    let id2 = start(
        &mut sim,
        "parent",
        "p2",
        json!({"childName": "review-of-p1"}),
    );
    sim.run_until_idle(1_000);
    let x = exec(&sim, id2);
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.unwrap().error, "FnF.ExecutionAlreadyExists");
    // A bad name is the child's StartExecution error.
    let id3 = start(&mut sim, "parent", "p3", json!({"childName": "9 lives"}));
    sim.run_until_idle(1_000);
    assert_eq!(exec(&sim, id3).error.unwrap().error, "FnF.InvalidArgument");
}

#[test]
fn derived_child_names_are_valid_execution_names() {
    let p = parent("requestResponse", "");
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", &p), ("child", SLOW_CHILD)]);
    // A UUID parent name starts with a digit; a long one is shortened.
    let id = sim
        .start_execution("parent", None, Some(r#"{"seconds": 1}"#))
        .unwrap();
    let long = format!("p{}", "x".repeat(127));
    let id2 = start(&mut sim, "parent", &long, json!({"seconds": 1}));
    sim.run_until_idle(1_000);
    for id in [id, id2] {
        let x = exec(&sim, id);
        let name = output(&x)["Name"].as_str().unwrap().to_owned();
        flowsim::engine::validate_execution_name(&name).unwrap();
        assert!(name.ends_with("-3"), "{name}");
    }
}

#[test]
fn a_callback_token_from_outside_gets_the_execution_outcome() {
    // A parent waits on an MNS callback; its token is handed to a separate
    // execution (StartExecution's CallbackFnFTaskToken), whose end answers.
    let waiting = r#"
version: v1
type: flow
steps:
  - type: task
    name: wait-for-job
    resourceArn: acs:mns:::/topics/jobs/messages
    pattern: waitForCallback
    inputMappings:
      - target: taskToken
        source: $context.task.token
    serviceParams:
      MessageBody: $
"#;
    let mut sim = sim_with(
        Behaviour::Manual,
        &[("waiting", waiting), ("child", SLOW_CHILD)],
    );
    let id = start(&mut sim, "waiting", "w1", json!({}));
    sim.advance_to(0);
    let token = sim.engine.waiting_tasks(id)[0].2.clone();
    let bad = sim
        .start_execution_with_callback("child", Some("j0"), None, Some("bm9wZQ=="))
        .unwrap_err();
    assert_eq!(bad.code(), "InvalidArgument");
    assert!(bad.to_string().starts_with("CallbackFnFTaskToken"), "{bad}");
    let job = sim
        .start_execution_with_callback("child", Some("j1"), Some(r#"{"seconds": 5}"#), Some(&token))
        .unwrap();
    assert_eq!(exec(&sim, job).depth(), 1);
    sim.run_until_idle(1_000);
    let x = exec(&sim, id);
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"verdict": "approved", "seconds": 5}));
    assert_eq!(x.stopped, Some(5_000));
}

#[test]
fn sub_flows_are_deterministic() {
    let run = || {
        let p = parent("sync", "");
        let mut sim = sim_with(
            Behaviour::Succeed,
            &[("parent", &p), ("child", CALLBACK_CHILD)],
        );
        let id = sim.start_execution("parent", None, Some("{}")).unwrap();
        sim.run_until_idle(1_000);
        let all: Vec<(String, Vec<String>)> = sim
            .engine
            .executions()
            .iter()
            .map(|x| {
                (
                    x.name.to_string(),
                    x.history.iter().map(|e| e.detail.to_string()).collect(),
                )
            })
            .collect();
        (exec(&sim, id).status, all)
    };
    assert_eq!(run(), run());
}

#[test]
fn a_parent_stopped_before_its_child_starts_starts_none() {
    let p = parent("sync", "");
    let mut sim = sim_with(Behaviour::Succeed, &[("parent", &p), ("child", SLOW_CHILD)]);
    start(&mut sim, "parent", "p1", json!({"seconds": 1}));
    // The start request is still on the bus.
    sim.stop_execution("parent", "p1", "Abort", "").unwrap();
    sim.run_until_idle(1_000);
    assert!(of_flow(&sim, "child").is_empty());
}

/// A flow whose foreach starts itself once per item of `$.xs` (the
/// iteration input carries `xs`, so every child fans out again); `catch`
/// is extra FDL for the task.
fn fan(catch: &str) -> String {
    format!(
        r#"
version: v1
type: flow
steps:
  - type: foreach
    name: each
    iterationMapping:
      collection: $.xs
      item: x
    steps:
      - type: task
        name: again
        resourceArn: acs:fnf:::flow/fan
        pattern: sync
{catch}
      - type: pass
        name: after
"#
    )
}

#[test]
fn a_flow_that_fans_out_into_itself_stops_at_the_tree_limit() {
    let flow = fan("");
    let mut sim = sim_with(Behaviour::Succeed, &[("fan", &flow)]);
    let id = start(&mut sim, "fan", "top", json!({"xs": [1, 2, 3]}));
    sim.run_until_idle(500_000);
    assert!(sim.engine.executions().iter().all(|x| x.status.is_final()));
    let all = of_flow(&sim, "fan");
    // The root and at most the limit's worth of descendants (3^10 without).
    assert_eq!(all.len() as u32, 1 + SUBFLOW_TREE_LIMIT);
    let e = exec(&sim, id).error.unwrap();
    assert_eq!(e.error, SUBFLOW_TREE_ERROR);
    assert!(e.cause.contains("1000 sub-flow executions"), "{}", e.cause);
    assert!(e.cause.contains("execution `top`"), "{}", e.cause);
    // A second root has a budget of its own.
    let other = start(&mut sim, "fan", "other", json!({"xs": [1]}));
    sim.run_until_idle(500_000);
    let x = exec(&sim, other);
    assert_eq!(x.error.unwrap().error, SUBFLOW_DEPTH_ERROR);
    assert_eq!(
        of_flow(&sim, "fan").len() as u32,
        1 + SUBFLOW_TREE_LIMIT + 1 + 10
    );
}

#[test]
fn the_tree_limit_error_can_be_caught() {
    let flow = fan(
        "        catch:\n          - errors: [FnF.SubflowLimitExceeded, FnF.SubflowDepthExceeded]\n            goto: after",
    );
    let mut sim = sim_with(Behaviour::Succeed, &[("fan", &flow)]);
    let id = start(&mut sim, "fan", "top", json!({"xs": [1, 2, 3]}));
    sim.run_until_idle(500_000);
    let all = of_flow(&sim, "fan");
    assert_eq!(all.len() as u32, 1 + SUBFLOW_TREE_LIMIT);
    assert!(all.iter().all(|x| x.status == Status::Succeeded));
    let refused = all
        .iter()
        .flat_map(|x| &x.history)
        .filter(|e| e.kind == EventType::TaskSubmitFailed && e.detail.contains(SUBFLOW_TREE_ERROR))
        .count();
    assert!(refused > 0);
    assert_eq!(exec(&sim, id).status, Status::Succeeded);
}
