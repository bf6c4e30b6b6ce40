//! End-to-end tests of the kernel on a hand-built seed flow (no parser).

use serde_json::json;

use super::*;
use crate::engine::{EventType, Status};
use crate::fdl::*;

fn key(k: &str) -> Segment {
    Segment::Key(k.into())
}

fn mapping(target: &str, root: Root, segs: &[&str]) -> Mapping {
    Mapping {
        target: target.into(),
        source: Source::Path(Path {
            root,
            segments: segs.iter().map(|s| key(s)).collect(),
        }),
        pos: Pos::default(),
    }
}

/// The seed flow, as the parser would produce it.
pub(crate) fn seed_flow(timeout: Option<u64>) -> Flow {
    Flow {
        name: "seed".into(),
        version: "v1".into(),
        definition: String::new(),
        timeout_seconds: None,
        input_mappings: vec![],
        output_mappings: vec![],
        body: vec![StepId(0)],
        steps: vec![Step {
            id: StepId(0),
            name: "mns-topic-task".into(),
            pos: Pos::default(),
            parent: None,
            end: false,
            input_mappings: Some(vec![
                mapping("messageBody", Root::Input, &["messageBody"]),
                mapping("taskToken", Root::Context, &["task", "token"]),
            ]),
            output_mappings: Some(vec![mapping("status", Root::Local, &["status"])]),
            kind: StepKind::Task(Task {
                resource_arn: "acs:mns:::/topics/t/messages".into(),
                resource: Resource::MnsTopic { topic: "t".into() },
                pattern: Pattern::WaitForCallback,
                timeout_seconds: timeout,
                service_params: vec![(
                    "MessageBody".into(),
                    ParamValue::Path(Path {
                        root: Root::Dollar,
                        segments: vec![],
                    }),
                )],
                retry: vec![],
                catch: vec![],
                error_mappings: None,
                api: None,
            }),
            next: None,
            constructors: None,
        }],
        lang: crate::fdl::Lang::Fdl,
    }
}

fn sim(behaviour: crate::fc::Behaviour, timeout: Option<u64>) -> Sim {
    let mut config = SimConfig::default();
    config.handler.behaviour = behaviour;
    let mut sim = Sim::new(config);
    sim.add_flow(seed_flow(timeout)).unwrap();
    sim
}

fn kinds(sim: &Sim, id: ExecId) -> Vec<EventType> {
    sim.engine
        .execution(id)
        .unwrap()
        .history
        .iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn seed_succeeds_through_the_whole_chain() {
    let mut sim = sim(crate::fc::Behaviour::Succeed, None);
    let id = sim
        .start_execution("seed", Some("e1"), Some(r#"{"messageBody":"hello world"}"#))
        .unwrap();
    sim.run_until_idle(100);
    let x = sim.engine.execution(id).unwrap();
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(x.output.as_deref(), Some(r#"{"status":"success"}"#));
    use EventType::*;
    assert_eq!(
        kinds(&sim, id),
        vec![
            ExecutionStarted,
            StepEntered,
            TaskScheduled,
            TaskStarted,
            TaskSubmitted,
            TaskSucceeded,
            StepExited,
            ExecutionSucceeded
        ]
    );
    // The published message carried the token, and was pushed once, 200.
    let m = &sim.mns.messages()[0];
    assert!(m.body.contains("\"taskToken\":\""));
    assert_eq!(m.attempts.len(), 1);
    assert_eq!(m.attempts[0].outcome, Some(PushOutcome::Status(200)));
    assert!(sim.bus().is_empty(), "push timeout timer was cancelled");
}

#[test]
fn same_seed_same_history() {
    let run = || {
        let mut sim = sim(crate::fc::Behaviour::Succeed, None);
        let id = sim.start_execution("seed", None, None).unwrap();
        sim.run_until_idle(100);
        format!("{:?}", sim.engine.execution(id).unwrap().history)
    };
    assert_eq!(run(), run());
}

#[test]
fn fail_handler_fails_the_execution_with_the_reported_error() {
    let mut sim = sim(crate::fc::Behaviour::Fail, None);
    let id = sim.start_execution("seed", None, None).unwrap();
    sim.run_until_idle(100);
    let x = sim.engine.execution(id).unwrap();
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.as_ref().unwrap().error, "HandlerError");
}

#[test]
fn drop_handler_with_timeout_fails_with_task_timeout() {
    let mut sim = sim(crate::fc::Behaviour::Drop, Some(30));
    let id = sim.start_execution("seed", None, None).unwrap();
    sim.run_until_idle(1000);
    let x = sim.engine.execution(id).unwrap();
    assert_eq!(x.status, Status::Failed);
    assert_eq!(x.error.as_ref().unwrap().error, "FnF.TaskTimeout");
    assert_eq!(x.stopped, Some(30_000));
    // MNS kept retrying the push (5 s timeout, 3 retries) and then gave up.
    assert_eq!(sim.mns.messages()[0].attempts.len(), 4);
    assert!(sim.mns.messages()[0].dropped);
}

#[test]
fn error_handler_shows_retries() {
    let mut sim = sim(crate::fc::Behaviour::Error, Some(600));
    sim.start_execution("seed", None, None).unwrap();
    sim.run_until_idle(1000);
    let attempts = &sim.mns.messages()[0].attempts;
    assert_eq!(attempts.len(), 4);
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome == Some(PushOutcome::Status(500)))
    );
    for w in attempts.windows(2) {
        let gap = w[1].at - w[0].at;
        assert!((10_000..=20_000).contains(&gap), "{gap}");
    }
}

#[test]
fn a_second_report_on_a_token_is_rejected() {
    let mut sim = sim(crate::fc::Behaviour::Manual, None);
    let id = sim.start_execution("seed", None, None).unwrap();
    sim.run_until_idle(100);
    let waiting = sim.engine.waiting_tasks(id);
    assert_eq!(waiting.len(), 1);
    let token = waiting[0].2.clone();
    sim.report_succeeded(&token, r#"{"status":"ok"}"#).unwrap();
    let again = sim.report_succeeded(&token, "{}").unwrap_err();
    assert_eq!(again.code(), "TaskAlreadyCompleted");
    let failed = sim.report_failed(&token, "E", "c").unwrap_err();
    assert_eq!(failed.code(), "TaskAlreadyCompleted");
    assert_eq!(sim.engine.execution(id).unwrap().status, Status::Succeeded);
}

#[test]
fn a_token_cannot_complete_another_execution() {
    let mut sim = sim(crate::fc::Behaviour::Manual, None);
    let a = sim.start_execution("seed", Some("a"), None).unwrap();
    let b = sim.start_execution("seed", Some("b"), None).unwrap();
    sim.run_until_idle(100);
    let token_a = sim.engine.waiting_tasks(a)[0].2.clone();
    // Decode, point it at execution b, re-encode: the signature no longer
    // matches.
    use base64::Engine as _;
    let raw = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&token_a)
            .unwrap(),
    )
    .unwrap();
    let forged = base64::engine::general_purpose::STANDARD.encode(raw.replace("#a#", "#b#"));
    let err = sim.report_succeeded(&forged, "{}").unwrap_err();
    assert_eq!(err.code(), "InvalidArgument");
    assert_eq!(sim.engine.execution(b).unwrap().status, Status::Running);
    let err = sim.report_succeeded("bm9wZQ==", "{}").unwrap_err();
    assert_eq!(err.code(), "InvalidArgument");
    sim.report_succeeded(&token_a, "{}").unwrap();
    assert_eq!(sim.engine.execution(a).unwrap().status, Status::Succeeded);
    assert_eq!(sim.engine.execution(b).unwrap().status, Status::Running);
}

#[test]
fn stop_and_already_completed() {
    let mut sim = sim(crate::fc::Behaviour::Manual, None);
    let id = sim.start_execution("seed", Some("x"), None).unwrap();
    sim.run_until_idle(100);
    let token = sim.engine.waiting_tasks(id)[0].2.clone();
    sim.stop_execution("seed", "x", "Stopped.ByUser", "test")
        .unwrap();
    assert_eq!(sim.engine.execution(id).unwrap().status, Status::Stopped);
    assert_eq!(
        sim.stop_execution("seed", "x", "", "").unwrap_err().code(),
        "ExecutionAlreadyCompleted"
    );
    assert_eq!(
        sim.report_succeeded(&token, "{}").unwrap_err().code(),
        "TaskAlreadyCompleted"
    );
    assert_eq!(
        sim.start_execution("seed", Some("x"), None)
            .unwrap_err()
            .code(),
        "ExecutionAlreadyExists"
    );
    assert_eq!(
        sim.stop_execution("seed", "nope", "", "")
            .unwrap_err()
            .code(),
        "ExecutionNotExists"
    );
    assert_eq!(
        sim.start_execution("nope", None, None).unwrap_err().code(),
        "FlowNotExists"
    );
}

#[test]
fn bad_inputs_get_upstream_codes() {
    let mut sim = sim(crate::fc::Behaviour::Succeed, None);
    for (input, code) in [("[1]", "InvalidArgument"), ("{", "InvalidArgument")] {
        assert_eq!(
            sim.start_execution("seed", None, Some(input))
                .unwrap_err()
                .code(),
            code
        );
    }
    assert_eq!(
        sim.start_execution("seed", Some("9bad"), None)
            .unwrap_err()
            .code(),
        "InvalidArgument"
    );
    let id = sim.start_execution("seed", Some("same"), None).unwrap();
    // Starting a running name again returns it.
    assert_eq!(sim.start_execution("seed", Some("same"), None).unwrap(), id);
    let _ = json!({});
}

#[test]
#[ignore = "a benchmark: run with --release -- --ignored"]
fn bench_seed_hand_built() {
    let mut sim = sim(crate::fc::Behaviour::Succeed, None);
    let n: u64 = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let r = crate::headless::bench(
        &mut sim,
        "seed",
        r#"{"messageBody":"hello world"}"#,
        n,
        |_| {},
    )
    .unwrap();
    eprintln!(
        "{} exec/s, {} events/s, {:?} bytes/exec, peak {:?}",
        r.executions_per_second() as u64,
        r.events_per_second() as u64,
        r.bytes_per_execution().map(|b| b as u64),
        r.peak_rss_bytes
    );
    assert_eq!(r.succeeded, n);
}

/// `t` jumps to the next *timer*, never past an envelope that is due: with
/// one due now the clock stays and says how many are due; once they are
/// delivered, it moves to the first one due later.
#[test]
fn jump_never_passes_an_envelope_that_is_due() {
    let mut sim = Sim::new(SimConfig::default());
    sim.bus
        .send(0, 0, Component::Engine, Component::Engine, Msg::Noop);
    sim.bus
        .send(0, 5_000, Component::Engine, Component::Engine, Msg::Noop);
    assert_eq!(sim.jump_to_next_due(), Jump::DueNow(1));
    assert_eq!(sim.now(), 0);
    assert_eq!(sim.bus().len(), 2, "nothing was delivered");
    assert!(sim.step().is_some());
    assert_eq!(sim.jump_to_next_due(), Jump::To(5_000));
    assert_eq!(sim.now(), 5_000);
    assert_eq!(sim.bus().len(), 1, "the jump delivers nothing");
    // It is due now: jumping again does not move the clock.
    assert_eq!(sim.jump_to_next_due(), Jump::DueNow(1));
    assert!(sim.step().is_some());
    assert_eq!(sim.jump_to_next_due(), Jump::Idle);
    assert_eq!(sim.now(), 5_000);
}

/// Manual: a push MNS retries (the held attempt timed out) is held once,
/// not once per attempt, so answering it leaves nothing stale behind.
#[test]
fn a_retried_push_is_held_once() {
    let mut sim = Sim::new(SimConfig {
        handler: crate::fc::HandlerConfig {
            behaviour: crate::fc::Behaviour::Manual,
            ..crate::fc::HandlerConfig::default()
        },
        ..SimConfig::default()
    });
    sim.add_flow(crate::sim::testing::seed_flow()).unwrap();
    let flow = sim.engine.flows().next().unwrap().name.clone();
    sim.start_execution(&flow, None, Some(r#"{"messageBody":"x"}"#))
        .unwrap();
    // The push times out after 5 s; MNS retries within 10-20 s.
    sim.advance_to(60_000);
    assert!(sim.mns.messages()[0].attempts.len() >= 2);
    assert_eq!(sim.fc.inbox().len(), 1);
}

fn manual_seed(timeout: Option<u64>) -> (Sim, ExecId) {
    let mut sim = Sim::new(SimConfig {
        handler: crate::fc::HandlerConfig {
            behaviour: crate::fc::Behaviour::Manual,
            ..crate::fc::HandlerConfig::default()
        },
        ..SimConfig::default()
    });
    sim.add_flow(crate::sim::testing::seed_flow_with_timeout(timeout))
        .unwrap();
    let flow = sim.engine.flows().next().unwrap().name.clone();
    let id = sim
        .start_execution(&flow, None, Some(r#"{"messageBody":"x"}"#))
        .unwrap();
    // Deliver what is due now: the push reaches the function, which holds it.
    while sim.next_due().is_some_and(|d| d <= sim.now()) {
        sim.step();
    }
    assert_eq!(sim.fc.inbox().len(), 1);
    (sim, id)
}

/// Manual: a report made with the token directly (not by answering the held
/// push) ends the task; the function then lets its held push go, answered
/// HTTP 200, so MNS never pushes it again after the execution ended.
#[test]
fn a_held_push_is_released_when_its_task_is_reported_directly() {
    let (mut sim, id) = manual_seed(None);
    let token = sim.engine.waiting_tasks(id)[0].2.clone();
    sim.report_succeeded(&token, r#"{"status":"success"}"#)
        .unwrap();
    assert!(sim.fc.inbox().is_empty(), "released at once");
    sim.advance_to(3_600_000);
    let m = &sim.mns.messages()[0];
    assert_eq!(m.attempts.len(), 1, "pushed once: {:?}", m.attempts);
    assert_eq!(m.attempts[0].outcome, Some(PushOutcome::Status(200)));
    assert!(sim.fc.inbox().is_empty());
    assert_eq!(sim.engine.execution(id).unwrap().status, Status::Succeeded);
    assert_eq!(sim.fc.received(), 1);
}

/// The same when the task ends otherwise: stopped, or timed out (after its
/// push timed out and was retried: the late 200 does not count for the
/// timed-out attempt, the retry is released as soon as it is held).
#[test]
fn a_held_push_is_released_when_its_task_is_stopped_or_times_out() {
    let (mut sim, id) = manual_seed(None);
    let (flow, name) = {
        let x = sim.engine.execution(id).unwrap();
        (x.flow.name.clone(), x.name.to_string())
    };
    sim.stop_execution(&flow, &name, "Stopped", "test").unwrap();
    assert!(sim.fc.inbox().is_empty());
    sim.advance_to(3_600_000);
    assert_eq!(sim.mns.messages()[0].attempts.len(), 1);

    let (mut sim, id) = manual_seed(Some(30));
    sim.advance_to(3_600_000);
    assert_eq!(sim.engine.execution(id).unwrap().status, Status::Failed);
    assert!(sim.fc.inbox().is_empty());
    let attempts = &sim.mns.messages()[0].attempts;
    assert_eq!(attempts[0].outcome, Some(PushOutcome::Timeout));
    assert_eq!(
        attempts.last().unwrap().outcome,
        Some(PushOutcome::Status(200)),
        "{attempts:?}"
    );
    let n = attempts.len();
    sim.advance_to(7_200_000);
    assert_eq!(sim.mns.messages()[0].attempts.len(), n, "no more pushes");
}
