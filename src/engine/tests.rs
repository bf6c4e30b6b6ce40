//! Engine unit tests on small FDL flows: the retry schedule on virtual
//! time, wait steps against the virtual clock, FC task patterns, the data
//! and event limits, sub-flow child names.

use serde_json::{Value, json};

use super::*;
use crate::fc::{Behaviour, Received};
use crate::kernel::Millis;
use crate::sim::{Sim, SimConfig};

fn sim_with(behaviour: Behaviour, flow: &str) -> Sim {
    let mut config = SimConfig::default();
    config.handler.behaviour = behaviour;
    let mut sim = Sim::new(config);
    let flow = crate::fdl::load("f", flow).unwrap_or_else(|d| panic!("{d:?}"));
    sim.add_flow(flow).unwrap();
    sim
}

fn run(sim: &mut Sim, input: Value) -> Execution {
    let id = sim
        .start_execution("f", None, Some(&input.to_string()))
        .unwrap();
    sim.run_until_idle(1_000_000);
    sim.engine.execution(id).unwrap().clone()
}

fn times(x: &Execution, kind: EventType) -> Vec<Millis> {
    x.history
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.time)
        .collect()
}

fn output(x: &Execution) -> Value {
    serde_json::from_str(x.output.as_deref().unwrap_or("null")).unwrap()
}

fn flaky(retry: &str) -> String {
    format!(
        r#"
version: v1
type: flow
steps:
  - type: task
    name: charge
    resourceArn: acs:fc:::services/billing/functions/charge
    retry:
{retry}
"#
    )
}

#[test]
fn retry_delays_double_and_are_capped_by_max_interval() {
    let flow = flaky(
        "      - errors: [HandlerError]\n        intervalSeconds: 1\n        multiplier: 2\n        maxIntervalSeconds: 10\n        maxAttempts: 6",
    );
    let mut sim = sim_with(Behaviour::Fail, &flow);
    let x = run(&mut sim, json!({}));
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.as_ref().unwrap().error, "HandlerError");
    // Delays 1, 2, 4, 8, then 10, 10 (capped): attempts at these instants.
    assert_eq!(
        times(&x, EventType::TaskScheduled),
        vec![0, 1_000, 3_000, 7_000, 15_000, 25_000, 35_000]
    );
    assert_eq!(times(&x, EventType::TaskFailed).len(), 7);
    assert_eq!(x.stopped, Some(35_000));
}

#[test]
fn retry_defaults_are_one_second_doubling_three_attempts() {
    let flow = flaky("      - errors: [FnF.ALL]");
    let mut sim = sim_with(Behaviour::Fail, &flow);
    let x = run(&mut sim, json!({}));
    assert_eq!(
        times(&x, EventType::TaskScheduled),
        vec![0, 1_000, 3_000, 7_000]
    );
}

#[test]
fn the_first_matching_retry_policy_decides() {
    // The function fails with FC.InternalServerError (`error` behaviour):
    // the first policy does not match, the second does, the third (which
    // would also match) is never used.
    let flow = flaky(
        "      - errors: [HandlerError]\n        intervalSeconds: 100\n      - errors: [FC.InternalServerError]\n        intervalSeconds: 3\n        multiplier: 1\n        maxAttempts: 2\n      - errors: [FnF.ALL]\n        intervalSeconds: 50",
    );
    let mut sim = sim_with(Behaviour::Error, &flow);
    let x = run(&mut sim, json!({}));
    assert_eq!(x.status, Status::Failed);
    assert_eq!(times(&x, EventType::TaskScheduled), vec![0, 3_000, 6_000]);
    assert_eq!(x.error.unwrap().error, "FC.InternalServerError");
}

#[test]
fn max_attempts_zero_means_no_retry() {
    let flow = flaky("      - errors: [FnF.ALL]\n        maxAttempts: 0");
    let mut sim = sim_with(Behaviour::Fail, &flow);
    let x = run(&mut sim, json!({}));
    assert_eq!(times(&x, EventType::TaskScheduled), vec![0]);
}

#[test]
fn wait_timestamps_use_the_virtual_wall_clock() {
    // The default epoch is 2026-01-01T00:00:00Z.
    let flow = r#"
version: v1
type: flow
steps:
  - type: wait
    name: in-the-past
    timestamp: "2025-06-01T00:00:00Z"
  - type: wait
    name: one-minute-in
    timestamp: "2026-01-01T00:01:00Z"
  - type: wait
    name: from-input
    timestamp: $.until
  - type: wait
    name: past-from-input
    timestamp: $.past
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    let x = run(
        &mut sim,
        json!({"until": "2026-01-01T00:02:30.500Z", "past": "2000-01-01T00:00:00Z"}),
    );
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    let exited = times(&x, EventType::StepExited);
    assert_eq!(exited, vec![0, 60_000, 150_500, 150_500]);
}

#[test]
fn a_bad_wait_reference_fails_the_step_clearly() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: wait
    name: w
    duration: $.seconds
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    let x = run(&mut sim, json!({"seconds": "soon"}));
    assert_eq!(x.status, Status::Failed);
    let e = x.error.unwrap();
    assert_eq!(e.error, "FnF.InvalidWait");
    assert!(e.cause.contains("$.seconds"), "{}", e.cause);
}

#[test]
fn fc_tasks_request_response_and_wait_for_callback() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: call
    resourceArn: acs:fc:::services/svc/functions/fn
    inputMappings:
      - target: a
        source: $input.a
  - type: task
    name: callback
    resourceArn: acs:fc:::services/svc/functions/fn
    pattern: waitForCallback
    timeoutSeconds: 30
    inputMappings:
      - target: taskToken
        source: $context.task.token
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    let x = run(&mut sim, json!({"a": 1}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    let log: Vec<_> = sim.fc.log().iter().collect();
    assert_eq!(log.len(), 2);
    assert!(matches!(log[0].received, Received::Invoke(_)));
    assert_eq!(&*log[0].body, r#"{"a":1}"#);
    // The waitForCallback invocation event carries the task's token, which
    // the function reported on.
    let token = log[1].token.clone().unwrap();
    let body: Value = serde_json::from_str(&log[1].body).unwrap();
    assert_eq!(body["taskToken"], token.as_str());
    assert_eq!(
        sim.engine.token_for(TaskRef {
            exec: x.id,
            task: 8
        }),
        Some(token)
    );
}

#[test]
fn fc_wait_for_callback_without_an_answer_times_out() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: callback
    resourceArn: acs:fc:::services/svc/functions/fn
    pattern: waitForCallback
    timeoutSeconds: 30
    inputMappings:
      - target: taskToken
        source: $context.task.token
"#;
    let mut sim = sim_with(Behaviour::Drop, flow);
    let x = run(&mut sim, json!({}));
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.unwrap().error, TASK_TIMEOUT);
    assert_eq!(x.stopped, Some(30_000));
}

#[test]
fn step_data_over_32_kib_fails_with_data_too_large_and_can_be_caught() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: big
    resourceArn: acs:fc:::services/svc/functions/fn
    catch:
      - errors: [FnF.DataTooLarge]
        goto: small
  - type: succeed
    name: done
  - type: pass
    name: small
    outputMappings:
      - target: trimmed
        source: true
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    sim.fc.config.output = json!({"blob": "x".repeat(40_000)});
    let x = run(&mut sim, json!({}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"trimmed": true}));
    let failed = x
        .history
        .iter()
        .find(|e| e.kind == EventType::StepFailed)
        .unwrap();
    assert!(
        failed.detail.contains(DATA_LIMIT_ERROR),
        "{}",
        failed.detail
    );
}

#[test]
fn an_execution_stops_at_the_event_limit() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: foreach
    name: many
    iterationMapping:
      collection: $.xs
      item: x
    steps:
      - type: pass
        name: one
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    let xs: Vec<u32> = (0..2_000).collect();
    let x = run(&mut sim, json!({ "xs": xs }));
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.as_ref().unwrap().error, EVENT_LIMIT_ERROR);
    assert!(x.history.len() <= EVENT_LIMIT, "{}", x.history.len());
}

#[test]
fn child_names_are_sanitised_and_bounded() {
    assert_eq!(
        child_execution_name("order-7", "review", 3),
        "order-7-review-3"
    );
    assert_eq!(
        child_execution_name("7c0f2a3e-aa", "ask boss.v2", 12),
        "_7c0f2a3e-aa-ask_boss_v2-12"
    );
    let long = child_execution_name(&"a".repeat(200), "s", 4_000_000);
    assert_eq!(long.len(), 128);
    assert!(long.ends_with("-4000000"));
    validate_execution_name(&long).unwrap();
    // Two long parents that share their first 128 characters still differ.
    let other = child_execution_name(&format!("{}b", "a".repeat(199)), "s", 4_000_000);
    assert_ne!(long, other);
}

#[test]
fn retry_attempts_and_intervals_are_counted_per_policy() {
    // Two policies for two errors; the callback fails with A, B, A, B, A.
    // Each policy counts only its own retries: A retries twice (1 s, then
    // 2 s), B retries with 10 s then 30 s; the third A is past A's
    // maxAttempts and fails the step, although B still has one left.
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: charge
    resourceArn: acs:fc:::services/billing/functions/charge
    pattern: waitForCallback
    retry:
      - errors: [A]
        intervalSeconds: 1
        multiplier: 2
        maxAttempts: 2
      - errors: [B]
        intervalSeconds: 10
        multiplier: 3
        maxAttempts: 3
"#;
    let mut sim = sim_with(Behaviour::Drop, flow);
    let id = sim.start_execution("f", None, Some("{}")).unwrap();
    sim.run_until_idle(1_000);
    for error in ["A", "B", "A", "B", "A"] {
        let waiting = sim.engine.waiting_tasks(id);
        assert_eq!(waiting.len(), 1, "one attempt in flight before {error}");
        sim.report_failed(&waiting[0].2, error, "flaky").unwrap();
        sim.run_until_idle(1_000);
    }
    let x = sim.engine.execution(id).unwrap().clone();
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.as_ref().unwrap().error, "A");
    // Retry waits: A#1 1 s, B#1 10 s, A#2 2 s, B#2 30 s.
    assert_eq!(
        times(&x, EventType::TaskScheduled),
        vec![0, 1_000, 11_000, 13_000, 43_000]
    );
    assert!(sim.engine.waiting_tasks(id).is_empty());
}

#[test]
fn fc_sync_invokes_and_waits_for_the_result() {
    // For FC, `sync` behaves like requestResponse: the invocation is
    // synchronous, its result is the step's local.
    let flow = r#"
version: v1
type: flow
steps:
  - type: task
    name: call
    resourceArn: acs:fc:::services/svc/functions/fn
    pattern: sync
    inputMappings:
      - target: a
        source: $input.a
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    sim.fc.config.latency_ms = 2_000;
    let x = run(&mut sim, json!({"a": 1}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(output(&x), json!({"status": "success"}));
    let log: Vec<_> = sim.fc.log().iter().collect();
    assert_eq!(log.len(), 1);
    assert!(matches!(log[0].received, Received::Invoke(_)));
    assert_eq!(&*log[0].body, r#"{"a":1}"#);
    let kinds: Vec<_> = x.history.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventType::ExecutionStarted,
            EventType::StepEntered,
            EventType::TaskScheduled,
            EventType::TaskStarted,
            EventType::TaskSucceeded,
            EventType::StepExited,
            EventType::ExecutionSucceeded,
        ]
    );
    assert_eq!(times(&x, EventType::TaskSucceeded), vec![2_000]);

    // A failing function fails the step with its error.
    let mut sim = sim_with(Behaviour::Fail, flow);
    let x = run(&mut sim, json!({"a": 1}));
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.unwrap().error, "HandlerError");
}

fn events(x: &Execution) -> Vec<(EventType, String, Value)> {
    x.history
        .iter()
        .map(|e| {
            let step = e
                .step
                .map(|s| x.flow.step(s).name.clone())
                .unwrap_or_default();
            (e.kind, step, serde_json::from_str(&e.detail).unwrap())
        })
        .collect()
}

#[test]
fn a_failing_branch_cancels_its_siblings_visibly() {
    // Branch 1 times out after 5 s; branch 0 still waits (600 s), and
    // branch 2 is inside a nested parallel. All are cancelled with
    // FnF.Cancelled naming the failing branch.
    let flow = r#"
version: v1
type: flow
steps:
  - type: parallel
    name: both
    branches:
      - steps:
          - type: task
            name: slow
            resourceArn: acs:fc:::services/svc/functions/fn
            pattern: waitForCallback
            timeoutSeconds: 600
      - steps:
          - type: task
            name: quick
            resourceArn: acs:fc:::services/svc/functions/fn
            pattern: waitForCallback
            timeoutSeconds: 5
      - steps:
          - type: parallel
            name: inner
            branches:
              - steps:
                  - type: wait
                    name: nap
                    duration: 100
"#;
    let mut sim = sim_with(Behaviour::Drop, flow);
    let x = run(&mut sim, json!({}));
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.as_ref().unwrap().error, TASK_TIMEOUT);
    assert_eq!(x.stopped, Some(5_000));
    let cause = "cancelled: branch 1 of parallel `both` failed with FnF.TaskTimeout";
    let tail: Vec<_> = events(&x)
        .into_iter()
        .skip_while(|(k, _, _)| *k != EventType::TaskTimedOut)
        .collect();
    let cancelled = json!({"error": CANCELLED, "cause": cause});
    let expected = vec![
        (
            EventType::TaskTimedOut,
            "quick".to_owned(),
            json!({"error": TASK_TIMEOUT, "cause": "task timed out after 5 seconds without a callback"}),
        ),
        (
            EventType::StepFailed,
            "quick".to_owned(),
            json!({"error": TASK_TIMEOUT, "cause": "task timed out after 5 seconds without a callback"}),
        ),
        (
            EventType::BranchExited,
            "both".to_owned(),
            json!({"branch": 1, "error": TASK_TIMEOUT, "cause": "task timed out after 5 seconds without a callback"}),
        ),
        (EventType::StepFailed, "slow".to_owned(), cancelled.clone()),
        (
            EventType::BranchExited,
            "both".to_owned(),
            json!({"branch": 0, "error": CANCELLED, "cause": cause}),
        ),
        (EventType::StepFailed, "nap".to_owned(), cancelled.clone()),
        (
            EventType::BranchExited,
            "inner".to_owned(),
            json!({"branch": 0, "error": CANCELLED, "cause": cause}),
        ),
        (EventType::StepFailed, "inner".to_owned(), cancelled.clone()),
        (
            EventType::BranchExited,
            "both".to_owned(),
            json!({"branch": 2, "error": CANCELLED, "cause": cause}),
        ),
        (
            EventType::StepFailed,
            "both".to_owned(),
            json!({"error": TASK_TIMEOUT, "cause": "task timed out after 5 seconds without a callback"}),
        ),
        (
            EventType::ExecutionFailed,
            String::new(),
            json!({"error": TASK_TIMEOUT, "cause": "task timed out after 5 seconds without a callback"}),
        ),
    ];
    assert_eq!(tail, expected);
    // Every entered branch exited.
    let entered = times(&x, EventType::BranchEntered).len();
    assert_eq!(entered, times(&x, EventType::BranchExited).len());
    // The cancelled tasks are gone: nothing waits, no timer fires later.
    assert!(sim.engine.waiting_tasks(x.id).is_empty());
    assert_eq!(sim.next_due(), None);
}

#[test]
fn a_failing_iteration_cancels_the_running_ones_visibly() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: foreach
    name: each
    iterationMapping:
      collection: $.xs
      item: x
    steps:
      - type: choice
        name: which
        choices:
          - condition: $.x == 2
            steps:
              - type: fail
                name: boom
                error: Boom
                cause: two
        default:
          steps:
            - type: wait
              name: nap
              duration: 10
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    let x = run(&mut sim, json!({"xs": [0, 1, 2, 3]}));
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.as_ref().unwrap().error, "Boom");
    let cause = "cancelled: iteration 2 of foreach `each` failed with Boom";
    let exits: Vec<_> = events(&x)
        .into_iter()
        .filter(|(k, _, _)| *k == EventType::IterationExited)
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(
        exits,
        vec![
            json!({"index": 2, "error": "Boom", "cause": "two"}),
            json!({"index": 0, "error": CANCELLED, "cause": cause}),
            json!({"index": 1, "error": CANCELLED, "cause": cause}),
            json!({"index": 3, "error": CANCELLED, "cause": cause}),
        ]
    );
    // Iterations 0 and 1 were waiting: their wait and choice steps fail.
    // Iteration 3 was entered but had not reached a step yet (iterations
    // run in order within one operation): it only exits.
    let cancelled: Vec<_> = events(&x)
        .into_iter()
        .filter(|(k, _, d)| *k == EventType::StepFailed && d["error"] == CANCELLED)
        .map(|(_, s, _)| s)
        .collect();
    assert_eq!(cancelled, vec!["nap", "which", "nap", "which"]);
    assert_eq!(sim.next_due(), None);
}
#[test]
fn executions_are_found_by_name_among_many() {
    let mut sim = sim_with(
        Behaviour::Succeed,
        "version: v1\ntype: flow\nsteps:\n  - type: pass\n    name: p\n",
    );
    let mut ids = Vec::new();
    for i in 0..1_000 {
        let name = format!("run-{i}");
        ids.push(sim.start_execution("f", Some(&name), None).unwrap());
    }
    // A few unnamed ones (UUIDs) in between the lookups.
    for _ in 0..10 {
        sim.start_execution("f", None, None).unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        let x = sim.engine.find_execution("f", &format!("run-{i}")).unwrap();
        assert_eq!(x.id, *id);
    }
    assert!(matches!(
        sim.engine.find_execution("f", "run-1000"),
        Err(FnfError::ExecutionNotExists { .. })
    ));
    // An ended name cannot be reused.
    assert!(matches!(
        sim.start_execution("f", Some("run-7"), None),
        Err(FnfError::ExecutionAlreadyExists(_))
    ));
}

/// A queue task's `DelaySeconds: 0` means no delay; leaving it out takes
/// the queue's default delay.
#[test]
fn a_queue_task_with_delay_zero_is_not_delayed_by_the_queue_default() {
    let flow = |delay: &str| {
        format!(
            r#"
version: v1
type: flow
steps:
  - type: task
    name: send
    resourceArn: acs:mns:::/queues/slow/messages
    serviceParams:
      MessageBody: $
{delay}
"#
        )
    };
    for (delay, active, delayed) in [("      DelaySeconds: 0", 1, 0), ("", 0, 1)] {
        // No simulated consumer: the message stays in the queue.
        let mut sim = Sim::new(SimConfig {
            subscribe_handler: false,
            ..SimConfig::default()
        });
        sim.add_flow(crate::fdl::load("f", &flow(delay)).unwrap())
            .unwrap();
        let attributes = crate::mns::QueueAttributes {
            delay_seconds: 60,
            ..crate::mns::QueueAttributes::default()
        };
        sim.mns.set_queue_attributes("slow", attributes, 0).unwrap();
        sim.start_execution("f", None, Some("{}")).unwrap();
        // Deliver what is due now, not the queue's wake-up a minute later.
        sim.advance_to(0);
        let c = sim.mns.queue_counts("slow", sim.now()).unwrap();
        assert_eq!((c.active, c.delayed), (active, delayed), "{delay:?}");
    }
}

/// A parallel of three FC tasks (or a foreach of `items` over one) that
/// fail and retry every second, 1,000 times each.
fn retrying(kind: &str) -> String {
    let task = r#"
          - type: task
            name: tNAME
            resourceArn: acs:fc:::services/s/functions/f
            retry:
              - errors: [FnF.ALL]
                intervalSeconds: 1
                multiplier: 1
                maxAttempts: 1000"#;
    let body = if kind == "parallel" {
        let t = |i: &str| task.replace("NAME", i);
        format!(
            "  - type: parallel\n    name: p\n    branches:\n      - steps:{}\n      - steps:{}\n      - steps:{}\n",
            t("0"),
            t("1"),
            t("2")
        )
    } else {
        let task = task.replace("\n    ", "\n").replace("NAME", "");
        format!(
            "  - type: foreach\n    name: each\n    iterationMapping:\n      collection: $.xs\n      item: x\n    steps:{task}\n"
        )
    };
    format!("version: v1\ntype: flow\nsteps:\n{body}")
}

#[test]
fn retries_branches_and_iterations_count_toward_the_event_limit() {
    for kind in ["parallel", "foreach"] {
        let mut sim = sim_with(Behaviour::Fail, &retrying(kind));
        let xs: Vec<u32> = (0..100).collect();
        let x = run(&mut sim, json!({ "xs": xs }));
        assert_eq!(x.status, Status::Failed, "{kind}");
        let e = x.error.as_ref().unwrap();
        assert_eq!(e.error, EVENT_LIMIT_ERROR, "{kind}: {}", e.cause);
        assert!(e.cause.contains("5000 history events"), "{}", e.cause);
        assert!(
            x.history.len() <= EVENT_LIMIT,
            "{kind}: {}",
            x.history.len()
        );
        assert_eq!(x.history.last().unwrap().kind, EventType::ExecutionFailed);
    }
}

#[test]
fn huge_waits_are_refused_and_time_stays_ordered() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: wait
    name: w
    duration: $.x
"#;
    for x in [json!(1e20), json!(1e300), json!(31_536_001)] {
        let mut sim = sim_with(Behaviour::Succeed, flow);
        let e = run(&mut sim, json!({ "x": x }));
        assert_eq!(e.status, Status::Failed, "{x}");
        let err = e.error.as_ref().unwrap();
        assert_eq!(err.error, "FnF.InvalidWait");
        assert!(err.cause.contains("31536000 seconds"), "{}", err.cause);
        assert_eq!(e.stopped, Some(0));
    }
    // The longest wait allowed still ends at a representable time.
    let mut sim = sim_with(Behaviour::Succeed, flow);
    let x = run(&mut sim, json!({ "x": MAX_WAIT_SECONDS }));
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(x.stopped, Some(MAX_WAIT_SECONDS * 1000));
    let v = x.to_json(sim.epoch_ms());
    assert!(v["StartedTime"].as_str() < v["StoppedTime"].as_str(), "{v}");
    // A timestamp more than the limit ahead fails the same way.
    let flow = r#"
version: v1
type: flow
steps:
  - type: wait
    name: w
    timestamp: "9999-12-31T23:59:59Z"
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    let x = run(&mut sim, json!({}));
    assert_eq!(x.error.unwrap().error, "FnF.InvalidWait");
}

#[test]
fn the_clock_saturates_instead_of_wrapping() {
    assert_eq!(history::wall_ms(1_000, u64::MAX), i64::MAX);
    assert_eq!(history::wall_ms(1_000, 5), 1_005);
}

#[test]
fn invalid_wait_and_collection_causes_read_as_json_and_english() {
    let wait = r#"
version: v1
type: flow
steps:
  - type: wait
    name: w
    duration: $.seconds
"#;
    let mut sim = sim_with(Behaviour::Succeed, wait);
    let cause = run(&mut sim, json!({"seconds": "abc"}))
        .error
        .unwrap()
        .cause;
    assert!(cause.ends_with(r#"number: found "abc""#), "{cause}");
    let cause = run(&mut sim, json!({})).error.unwrap().cause;
    assert!(cause.ends_with("number: found nothing"), "{cause}");
    let each = r#"
version: v1
type: flow
steps:
  - type: foreach
    name: each
    iterationMapping:
      collection: $.xs
      item: x
    steps:
      - type: pass
        name: p
"#;
    let mut sim = sim_with(Behaviour::Succeed, each);
    let cause = run(&mut sim, json!({"xs": {"a": 1}})).error.unwrap().cause;
    assert!(cause.ends_with("found an object"), "{cause}");
    let cause = run(&mut sim, json!({"xs": "s"})).error.unwrap().cause;
    assert!(cause.ends_with("found a string"), "{cause}");
}

#[test]
fn succeed_in_a_branch_closes_what_encloses_it() {
    let flow = r#"
version: v1
type: flow
steps:
  - type: pass
    name: first
    outputMappings:
      - target: a
        source: 1
  - type: parallel
    name: par
    branches:
      - steps:
          - type: wait
            name: slow
            duration: 100
      - steps:
          - type: foreach
            name: each
            iterationMapping:
              collection: $.xs
              item: x
            steps:
              - type: choice
                name: pick
                choices:
                  - condition: $.x == 2
                    steps:
                      - type: succeed
                        name: done
                default:
                  steps:
                    - type: wait
                      name: later
                      duration: 50
"#;
    let mut sim = sim_with(Behaviour::Succeed, flow);
    let x = run(&mut sim, json!({"xs": [1, 2]}));
    assert_eq!(x.status, Status::Succeeded, "{:?}", x.error);
    assert_eq!(x.stopped, Some(0), "succeed ends the flow at once");
    assert_eq!(output(&x), json!({"a": 1}));
    // Every entry has its exit.
    let count = |k: EventType| x.history.iter().filter(|e| e.kind == k).count();
    assert_eq!(
        count(EventType::StepEntered),
        count(EventType::StepExited) + count(EventType::StepFailed)
    );
    assert_eq!(
        count(EventType::BranchEntered),
        count(EventType::BranchExited)
    );
    assert_eq!(
        count(EventType::IterationEntered),
        count(EventType::IterationExited)
    );
    let ev = events(&x);
    let cause = "cancelled: succeed step `done` ended the flow";
    let from = ev
        .iter()
        .position(|e| e.0 == EventType::StepExited && e.1 == "done")
        .unwrap();
    let cancelled = json!({"error": CANCELLED, "cause": cause});
    let exited = |k: EventType, name: &str, v: Value| (k, name.to_owned(), v);
    assert_eq!(
        ev[from..].to_vec(),
        vec![
            exited(EventType::StepExited, "done", json!({"output": {}})),
            // The choice around it exits with its branch's local.
            exited(EventType::StepExited, "pick", json!({"output": {}})),
            // The other iteration, cancelled.
            exited(EventType::StepFailed, "later", cancelled.clone()),
            exited(EventType::StepFailed, "pick", cancelled.clone()),
            exited(
                EventType::IterationExited,
                "each",
                json!({"index": 0, "error": CANCELLED, "cause": cause})
            ),
            // Its own iteration exits, then the foreach with the results so far.
            exited(
                EventType::IterationExited,
                "each",
                json!({"index": 1, "output": {}})
            ),
            exited(EventType::StepExited, "each", json!({"output": [null, {}]})),
            // The other branch, cancelled; its own branch and `par`, exited.
            exited(EventType::StepFailed, "slow", cancelled.clone()),
            exited(
                EventType::BranchExited,
                "par",
                json!({"branch": 0, "error": CANCELLED, "cause": cause})
            ),
            exited(
                EventType::BranchExited,
                "par",
                json!({"branch": 1, "output": {}})
            ),
            exited(EventType::StepExited, "par", json!({"output": [null, {}]})),
            exited(
                EventType::ExecutionSucceeded,
                "",
                json!({"output": {"a": 1}})
            ),
        ]
    );
}
