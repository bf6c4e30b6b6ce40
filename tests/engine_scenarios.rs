//! Engine behaviour on real FDL text: data flow rules, every step type the
//! engine executes, retry/catch, timeouts, limits. Deterministic: fixed
//! seed and epoch, virtual time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use flowsim::engine::{EventType, Execution, Status};
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

/// Runs one execution to its end; returns it.
fn run(sim: &mut Sim, flow: &str, input: Value) -> Execution {
    let id = sim
        .start_execution(flow, None, Some(&input.to_string()))
        .unwrap();
    sim.run_until_idle(1_000_000);
    sim.engine.execution(id).unwrap().clone()
}

fn output(x: &Execution) -> Value {
    serde_json::from_str(x.output.as_deref().unwrap_or("null")).unwrap()
}

fn kinds(x: &Execution) -> Vec<EventType> {
    x.history.iter().map(|e| e.kind).collect()
}

#[test]
fn pass_steps_merge_outputs_into_the_flow_local() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: pass
    name: a
    outputMappings:
      - target: x
        source: 1
      - target: y
        source: $input.y
  - type: pass
    name: b
    outputMappings:
      - target: x
        source: $input.x
      - target: z
        source: [1, 2]
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({"y": "why"}));
    assert_eq!(x.status, Status::Succeeded);
    // b's default input is the flow input merged with the local (x=1 from a).
    assert_eq!(output(&x), json!({"x": 1, "y": "why", "z": [1, 2]}));
}

#[test]
fn end_true_stops_the_list() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: pass
    name: a
    end: true
  - type: fail
    name: never
    error: E
    cause: unreachable
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    assert_eq!(run(&mut sim, "f", json!({})).status, Status::Succeeded);
}

#[test]
fn succeed_and_fail_steps() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: succeed
    name: done
    outputMappings:
      - target: ok
        source: true
  - type: fail
    name: never
    error: E
    cause: c
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(output(&x), json!({"ok": true}));

    let flow = r#"
version: v1
type: flow
steps:
  - type: fail
    name: boom
    error: Order.Invalid
    cause: no items
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("g", flow)]);
    let x = run(&mut sim, "g", json!({}));
    assert_eq!(x.status, Status::Failed);
    let e = x.error.unwrap();
    assert_eq!(
        (e.error.as_str(), e.cause.as_str()),
        ("Order.Invalid", "no items")
    );
    assert_eq!(x.history.last().unwrap().kind, EventType::ExecutionFailed);
}

#[test]
fn flow_level_mappings() {
    let flow = r#"
version: v1
type: flow
inputMappings:
  - target: n
    source: $input.count
outputMappings:
  - target: result
    source: $local.doubled
steps:
  - type: pass
    name: p
    outputMappings:
      - target: doubled
        source: $input.n
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({"count": 21}));
    assert_eq!(output(&x), json!({"result": 21}));
}

#[test]
fn request_response_topic_publish_local_is_the_receipt() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: publish
    resourceArn: acs:mns:::/topics/t/messages
    serviceParams:
      MessageBody: $.text
      MessageTag: greeting
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({"text": "hi"}));
    assert_eq!(x.status, Status::Succeeded);
    let out = output(&x);
    // MD5("hi") in upper-case hex.
    assert_eq!(out["MessageBodyMD5"], "49F68A5C8493EC2C0BF489821C21FC3B");
    assert_eq!(out["MessageId"].as_str().unwrap().len(), 32);
    let m = sim.mns.messages().back().unwrap();
    assert_eq!(&*m.body, "hi");
    assert_eq!(m.tag.as_deref(), Some("greeting"));
}

#[test]
fn queue_wait_for_callback_is_consumed_by_the_function() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: q
    resourceArn: acs:mns:::/queues/jobs/messages
    pattern: waitForCallback
    inputMappings:
      - target: taskToken
        source: $context.task.token
    serviceParams:
      MessageBody: $
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(output(&x), json!({"status": "success"}));
}

#[test]
fn fc_request_response_and_wait_for_callback() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: call
    resourceArn: acs:fc:::services/svc/functions/fn
    outputMappings:
      - target: called
        source: $local.status
  - type: task
    name: callback
    resourceArn: acs:fc:cn-hangzhou:123:services/svc/functions/fn
    pattern: waitForCallback
    inputMappings:
      - target: taskToken
        source: $context.task.token
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(
        output(&x),
        json!({"called": "success", "status": "success"})
    );
    assert!(kinds(&x).contains(&EventType::TaskSubmitted));
}

#[test]
fn wait_step_on_the_virtual_clock() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: wait
    name: pause
    duration: 90
  - type: wait
    name: pause-more
    duration: $.extra
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({"extra": 30}));
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(x.stopped, Some(120_000));
}

#[test]
fn retry_then_catch() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: charge
    resourceArn: acs:mns:::/topics/t/messages
    pattern: waitForCallback
    inputMappings:
      - target: taskToken
        source: $context.task.token
    serviceParams:
      MessageBody: $
    retry:
      - errors: [HandlerError]
        intervalSeconds: 2
        maxAttempts: 3
        multiplier: 3
    catch:
      - errors: [FnF.ALL]
        goto: recover
    errorMappings:
      - target: why
        source: $local.error
  - type: fail
    name: unreachable
    error: E
    cause: c
  - type: pass
    name: recover
"#;
    let mut sim = sim_with(Behaviour::Fail, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"why": "HandlerError"}));
    let failed: Vec<u64> = x
        .history
        .iter()
        .filter(|e| e.kind == EventType::TaskFailed)
        .map(|e| e.time)
        .collect();
    // First attempt, then retries 2 s, 6 s, 18 s apart.
    assert_eq!(failed, vec![0, 2_000, 8_000, 26_000]);
    // Four attempts, four distinct tokens.
    assert_eq!(
        x.history
            .iter()
            .filter(|e| e.kind == EventType::TaskScheduled)
            .count(),
        4
    );
}

#[test]
fn task_timeout_can_be_caught() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: approval
    resourceArn: acs:mns:::/topics/approvals/messages
    pattern: waitForCallback
    timeoutSeconds: 3600
    inputMappings:
      - target: taskToken
        source: $context.task.token
    serviceParams:
      MessageBody: $
    catch:
      - errors: [FnF.TaskTimeout]
        goto: escalate
  - type: succeed
    name: approved
  - type: pass
    name: escalate
    outputMappings:
      - target: escalated
        source: true
"#;
    let mut sim = sim_with(Behaviour::Manual, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(output(&x), json!({"escalated": true}));
    assert_eq!(x.stopped, Some(3_600_000));
    assert!(kinds(&x).contains(&EventType::TaskTimedOut));
}

#[test]
fn flow_timeout_ends_timed_out() {
    let flow = r#"
version: v1
type: flow
timeoutSeconds: 60
steps:
  - type: wait
    name: long
    duration: 3600
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::TimedOut);
    assert_eq!(x.stopped, Some(60_000));
    assert!(sim.bus().is_empty(), "the wait timer was cancelled");
}

#[test]
fn parallel_branches_collect_outputs() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: parallel
    name: both
    branches:
      - steps:
          - type: pass
            name: left
            outputMappings:
              - target: side
                source: left
      - steps:
          - type: task
            name: right
            resourceArn: acs:mns:::/topics/t/messages
            pattern: waitForCallback
            inputMappings:
              - target: taskToken
                source: $context.task.token
            serviceParams:
              MessageBody: $
    outputMappings:
      - target: all
        source: $local
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(
        output(&x),
        json!({"all": [{"side": "left"}, {"status": "success"}]})
    );
    let k = kinds(&x);
    assert_eq!(
        k.iter().filter(|e| **e == EventType::BranchEntered).count(),
        2
    );
    assert_eq!(
        k.iter().filter(|e| **e == EventType::BranchExited).count(),
        2
    );
}

#[test]
fn a_failing_branch_fails_the_parallel_and_cancels_siblings() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: parallel
    name: both
    branches:
      - steps:
          - type: wait
            name: slow
            duration: 100
      - steps:
          - type: fail
            name: bad
            error: Branch.Failed
            cause: c
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.unwrap().error, "Branch.Failed");
    assert_eq!(x.stopped, Some(0));
    assert!(
        sim.bus().is_empty(),
        "the sibling's wait timer was cancelled"
    );
}

#[test]
fn foreach_fans_out_with_item_and_index() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: foreach
    name: each
    iterationMapping:
      collection: $.items
      item: item
      index: i
    steps:
      - type: pass
        name: body
        outputMappings:
          - target: v
            source: $input.item
          - target: at
            source: $input.i
    outputMappings:
      - target: vs
        source: $local[*].v
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let items: Vec<Value> = (0..150).map(|i| json!(i * 10)).collect();
    let x = run(&mut sim, "f", json!({ "items": items }));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x)["vs"], json!(items));
    assert_eq!(
        kinds(&x)
            .iter()
            .filter(|e| **e == EventType::IterationEntered)
            .count(),
        150
    );
}

#[test]
fn foreach_on_a_missing_collection_fails_clearly() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: foreach
    name: each
    iterationMapping:
      collection: $.items
      item: item
    steps:
      - type: pass
        name: body
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({"items": "nope"}));
    assert_eq!(x.status, Status::Failed);
    let e = x.error.unwrap();
    assert_eq!(e.error, "FnF.InvalidCollection");
    assert!(e.cause.contains("$.items"), "{}", e.cause);
}

#[test]
fn data_limit_is_enforced() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: pass
    name: p
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let big = "x".repeat(40_000);
    let err = sim
        .start_execution("f", None, Some(&json!({"big": big}).to_string()))
        .unwrap_err();
    assert_eq!(err.code(), "EntityTooLarge");
}

const CHOICE_FLOW: &str = r#"
version: v1
type: flow
steps:
  - type: choice
    name: route
    choices:
      - condition: $.amount > 1000 && $.region == "eu"
        steps:
          - type: pass
            name: big-eu
            outputMappings:
              - target: lane
                source: big-eu
        goto: done
      - condition: $.amount > 1000 || $.vip
        steps:
          - type: pass
            name: big
            outputMappings:
              - target: lane
                source: big
      - condition: $.skip
        goto: done
    default:
      steps:
        - type: pass
          name: small
          outputMappings:
            - target: lane
              source: small
  - type: pass
    name: after-choice
    outputMappings:
      - target: after
        source: true
  - type: pass
    name: done
    outputMappings:
      - target: done
        source: true
"#;

#[test]
fn choice_takes_the_first_true_condition_then_its_goto_or_the_next_step() {
    let mut sim = sim_with(Behaviour::Succeed, &[("f", CHOICE_FLOW)]);
    let cases = [
        // First branch: its steps, then goto skips `after-choice`.
        (
            json!({"amount": 5000, "region": "eu", "vip": false, "skip": false}),
            json!({"lane": "big-eu", "done": true}),
        ),
        // Second branch: no goto, falls through to the step after the choice.
        (
            json!({"amount": 5000, "region": "us", "vip": false, "skip": false}),
            json!({"lane": "big", "after": true, "done": true}),
        ),
        (
            json!({"amount": 5, "region": "us", "vip": true, "skip": false}),
            json!({"lane": "big", "after": true, "done": true}),
        ),
        // A branch with only a goto.
        (
            json!({"amount": 5, "region": "us", "vip": false, "skip": true}),
            json!({"done": true}),
        ),
        // Nothing matches: the default.
        (
            json!({"amount": 5, "region": "us", "vip": false, "skip": false}),
            json!({"lane": "small", "after": true, "done": true}),
        ),
    ];
    for (input, want) in cases {
        let x = run(&mut sim, "f", input.clone());
        assert_eq!(x.status, Status::Succeeded, "{input}: {:?}", x.error);
        let mut out = output(&x);
        for k in ["amount", "region", "vip", "skip"] {
            out.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(out, want, "{input}");
    }
}

#[test]
fn choice_without_default_falls_through_when_nothing_matches() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: choice
    name: c
    choices:
      - condition: $.n == 1
        goto: one
  - type: pass
    name: other
    outputMappings:
      - target: got
        source: other
    end: true
  - type: pass
    name: one
    outputMappings:
      - target: got
        source: one
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({"n": 2}));
    assert_eq!(output(&x)["got"], "other");
    let x = run(&mut sim, "f", json!({"n": 1}));
    assert_eq!(output(&x)["got"], "one");
}

/// The vendor's choice examples (help.aliyun.com documents 122500, 122501):
/// when the input does not contain the key, the condition does not match
/// and the default is taken.
#[test]
fn a_condition_on_a_missing_key_does_not_match_and_the_default_is_taken() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: choice
    name: c
    choices:
      - condition: $.order.total > 10
        goto: big
      - condition: $.status == "cancelled"
        goto: big
    default:
      goto: small
  - type: pass
    name: big
    outputMappings:
      - target: got
        source: big
    end: true
  - type: pass
    name: small
    outputMappings:
      - target: got
        source: small
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({"order": {}}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x)["got"], "small");
    let x = run(&mut sim, "f", json!({"order": {"total": 11}}));
    assert_eq!(output(&x)["got"], "big");
    // Without a default, no match moves on to the next step.
    let no_default = r#"
version: v1
type: flow
steps:
  - type: choice
    name: c
    choices:
      - condition: $.missing == 1
        goto: end
  - type: pass
    name: next
    outputMappings:
      - target: got
        source: next
  - type: succeed
    name: end
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("g", no_default)]);
    let x = run(&mut sim, "g", json!({}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x)["got"], "next");
}

/// Document 122493: a step's input mappings "map the input and local
/// variables of a parent step to the input of a child step": `$local` is
/// the enclosing block's local, the flow's at the top and a branch's own
/// inside a parallel.
#[test]
fn local_in_a_step_input_mapping_reads_the_parent_local() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: pass
    name: first
    outputMappings:
      - target: seen
        source: top
  - type: pass
    name: reads-flow-local
    inputMappings:
      - target: fromLocal
        source: $local.seen
    outputMappings:
      - target: copied
        source: $input.fromLocal
  - type: parallel
    name: par
    branches:
      - steps:
          - type: pass
            name: b1
            outputMappings:
              - target: mine
                source: branch-one
          - type: pass
            name: b1-reads
            inputMappings:
              - target: got
                source: $local.mine
              - target: outer
                source: $local.seen
            outputMappings:
              - target: got
                source: $input.got
              - target: outer
                source: $input.outer
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    let out = output(&x);
    assert_eq!(out["copied"], "top", "{out}");
    // Inside the branch, `$local` is the branch's own local: its earlier
    // step's output, and nothing of the flow's.
    let branch = &x
        .history
        .iter()
        .find(|e| e.kind == EventType::StepEntered && e.detail.contains("\"got\""))
        .unwrap()
        .detail;
    let detail: Value = serde_json::from_str(branch).unwrap();
    assert_eq!(detail["input"]["got"], "branch-one", "{detail}");
    assert_eq!(detail["input"]["outer"], Value::Null, "{detail}");
}

#[test]
fn conditions_use_the_whole_grammar_on_the_step_input() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: choice
    name: c
    choices:
      - condition: '!($.order.total <= -1.5 || $.order.note == null) && $.tags[1] >= "b"'
        goto: yes
    default:
      goto: no
  - type: pass
    name: yes
    outputMappings:
      - target: got
        source: yes
    end: true
  - type: pass
    name: no
    outputMappings:
      - target: got
        source: no
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let cases = [
        (
            json!({"order": {"total": 3, "note": "x"}, "tags": ["a", "b"]}),
            "yes",
        ),
        (
            json!({"order": {"total": -2, "note": "x"}, "tags": ["a", "b"]}),
            "no",
        ),
        (
            json!({"order": {"total": 3, "note": null}, "tags": ["a", "b"]}),
            "no",
        ),
        (
            json!({"order": {"total": 3.5, "note": "x"}, "tags": ["a", "a"]}),
            "no",
        ),
    ];
    for (input, want) in cases {
        let x = run(&mut sim, "f", input.clone());
        assert_eq!(x.status, Status::Succeeded, "{input}: {:?}", x.error);
        assert_eq!(output(&x)["got"], want, "{input}");
    }
}

#[test]
fn ordering_values_of_different_types_fails_the_choice_saying_so() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: choice
    name: c
    choices:
      - condition: $.n > 10
        goto: end
  - type: succeed
    name: end
"#;
    let mut sim = sim_with(Behaviour::Succeed, &[("f", flow)]);
    let x = run(&mut sim, "f", json!({"n": "11"}));
    assert_eq!(x.status, Status::Failed);
    let err = x.error.unwrap();
    assert_eq!(err.error, "FnF.ConditionError");
    assert!(
        err.cause
            .contains("cannot compare a string (\"11\") with a number (10) using `>`"),
        "{}",
        err.cause
    );
}

#[test]
fn a_default_goto_can_jump_back_to_an_earlier_step() {
    // init -> check (not ready: wait 10 s, goto poll) -> poll -> back -> check (ready) -> finish
    let flow = r#"
version: v1
type: flow
steps:
  - type: pass
    name: init
    outputMappings:
      - target: ready
        source: false
  - type: choice
    name: check
    choices:
      - condition: $.ready
        goto: finish
    default:
      steps:
        - type: wait
          name: pause
          duration: 10
      goto: poll
  - type: pass
    name: unreachable
    outputMappings:
      - target: oops
        source: true
  - type: task
    name: poll
    resourceArn: acs:fc:::services/orders/functions/status
    outputMappings:
      - target: ready
        source: $local.ready
  - type: choice
    name: back
    choices:
      - condition: '!$.ready'
        goto: poll
    default:
      goto: check
  - type: succeed
    name: finish
"#;
    let mut config = SimConfig::default();
    config.handler.behaviour = Behaviour::Succeed;
    config.handler.output = json!({"ready": true});
    let mut sim = Sim::new(config);
    sim.add_flow(fdl::load("f", flow).unwrap()).unwrap();
    let x = run(&mut sim, "f", json!({}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"ready": true}));
    assert_eq!(
        x.stopped,
        Some(10_000),
        "one 10 s wait on the virtual clock"
    );
    let entered: Vec<&str> = x
        .history
        .iter()
        .filter(|e| e.kind == EventType::StepEntered)
        .filter_map(|e| {
            e.step
                .map(|s| sim.engine.flow("f").unwrap().step(s).name.as_str())
        })
        .collect();
    assert_eq!(
        entered,
        ["init", "check", "pause", "poll", "back", "check", "finish"]
    );
}
