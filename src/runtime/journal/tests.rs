//! The journal: ops through JSON, replay determinism, evicted executions,
//! pushes in flight, refused files.

use super::*;
use crate::engine::Status;
use crate::fc::Behaviour;
use crate::sim::op::{Outgoing, QueuePatch, TopicPatch};

const QUEUE_FLOW: &str = "version: v1
type: flow
steps:
  - type: task
    name: ask
    resourceArn: acs:mns:::/queues/asks/messages
    pattern: waitForCallback
    timeoutSeconds: 600
    serviceParams:
      MessageBody: $
  - type: wait
    name: hold
    duration: 30
";

fn config(subscribe_handler: bool) -> SimConfig {
    SimConfig {
        seed: 7,
        subscribe_handler,
        ..SimConfig::default()
    }
}

fn add_flow(name: &str, definition: &str) -> Op {
    Op::AddFlow {
        name: name.into(),
        definition: definition.into(),
        id: format!("id-{name}"),
        description: String::new(),
        mode: None,
        role_arn: String::new(),
    }
}

/// What the API can see: every execution and its history, the queues
/// with their messages and counts, the clock.
fn observe(sim: &Sim) -> Value {
    let epoch = sim.epoch_ms();
    let executions: Vec<Value> = sim
        .engine
        .executions()
        .iter()
        .map(|x| {
            let history: Vec<Value> = x
                .history
                .iter()
                .map(|e| event_json(&x.flow, e, epoch))
                .collect();
            serde_json::json!({"x": x.to_json(epoch), "history": history})
        })
        .collect();
    let queues: Vec<Value> = sim
        .mns
        .queues()
        .map(|q| {
            let c = sim.mns.queue_counts(&q.name, sim.now()).unwrap();
            let peek: Vec<String> = sim
                .mns
                .peek(&q.name, u64::MAX / 2, 1000)
                .unwrap()
                .into_iter()
                .map(|m| format!("{} {} {} {}", m.id, m.body, m.dequeue_count, m.next_visible))
                .collect();
            serde_json::json!({"name": q.name, "counts": format!("{c:?}"), "messages": peek})
        })
        .collect();
    let flows: Vec<Value> = sim
        .engine
        .flows()
        .map(|f| serde_json::json!([f.name, sim.flow_meta(&f.name).map(|m| m.id.clone())]))
        .collect();
    serde_json::json!({
        "now": sim.now(),
        "delivered": sim.delivered(),
        "bus": sim.bus().len(),
        "flows": flows,
        "executions": executions,
        "queues": queues,
    })
}

#[test]
fn ops_survive_a_trip_through_json() {
    let ops = vec![
        add_flow("f", QUEUE_FLOW),
        Op::DeleteFlow { name: "f".into() },
        Op::StartExecution {
            flow: "f".into(),
            name: None,
            input: "{}".into(),
            callback: Some("dG9rZW4=".into()),
        },
        Op::StopExecution {
            flow: "f".into(),
            name: "e".into(),
            error: "E".into(),
            cause: "c".into(),
        },
        Op::ReportSucceeded {
            token: "t".into(),
            output: r#"{"a":1}"#.into(),
        },
        Op::ReportFailed {
            token: "t".into(),
            error: "E".into(),
            cause: "c".into(),
        },
        Op::AnswerHeld {
            id: 3,
            answer: crate::fc::Answer::Fail {
                error: "E".into(),
                cause: "c".into(),
            },
        },
        Op::SetHandler {
            behaviour: Behaviour::Drop,
        },
        Op::CreateTopic {
            topic: "t".into(),
            patch: TopicPatch {
                maximum_message_size: Some(2048),
                logging_enabled: None,
            },
        },
        Op::Publish {
            topic: "t".into(),
            body: "b".into(),
            tag: Some("x".into()),
        },
        Op::Subscribe {
            topic: "t".into(),
            name: "s".into(),
            endpoint: "http://127.0.0.1:1/x".into(),
            strategy: None,
            format: "JSON".into(),
            filter_tag: None,
        },
        Op::CreateQueue {
            queue: "q".into(),
            patch: QueuePatch {
                visibility_timeout: Some(60),
                ..QueuePatch::default()
            },
        },
        Op::SendMessages {
            queue: "q".into(),
            messages: vec![Outgoing {
                body: "m".into(),
                delay_seconds: Some(5),
                priority: Some(3),
            }],
        },
        Op::Receive {
            queue: "q".into(),
            n: 16,
        },
        Op::DeleteMessages {
            queue: "q".into(),
            handles: vec!["h".into()],
        },
        Op::ChangeVisibility {
            queue: "q".into(),
            handle: "h".into(),
            seconds: 10,
        },
        Op::PushAnswered {
            notification: 9,
            outcome: crate::kernel::PushOutcome::Error("refused".into()),
            latency_ms: Some(4),
        },
    ];
    for op in ops {
        let text = serde_json::to_string(&op).unwrap();
        let back: Op = serde_json::from_str(&text).unwrap();
        assert_eq!(back, op, "{text}");
    }
    // The format is the journal's: a known line still reads.
    let old: Op =
        serde_json::from_str(r#"{"op":"ReportSucceeded","token":"t","output":"{}"}"#).unwrap();
    assert_eq!(
        old,
        Op::ReportSucceeded {
            token: "t".into(),
            output: "{}".into()
        }
    );
}

#[test]
fn a_replayed_journal_gives_the_same_simulation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let opened = open(&path, &config(false), None).unwrap();
    assert!(opened.restored.fresh);
    let (mut sim, journal) = (opened.sim, opened.journal);
    let j = Some(&*journal);
    let run = |sim: &mut Sim, op: Op| record(j, sim, op).0;
    run(&mut sim, add_flow("f", QUEUE_FLOW));
    run(
        &mut sim,
        add_flow(
            crate::fdl::bundled::SEED_FLOW_NAME,
            crate::fdl::bundled::SEED_FLOW,
        ),
    );
    for i in 0..20 {
        run(
            &mut sim,
            Op::StartExecution {
                flow: "f".into(),
                name: Some(format!("e{i}")),
                input: format!(r#"{{"n":{i}}}"#),
                callback: None,
            },
        );
        // Deliveries between ops, as the runtime makes them.
        sim.advance_to(sim.now() + 250);
    }
    run(
        &mut sim,
        Op::CreateQueue {
            queue: "extra".into(),
            patch: QueuePatch::default(),
        },
    );
    run(
        &mut sim,
        Op::SendMessages {
            queue: "extra".into(),
            messages: (0..3)
                .map(|i| Outgoing {
                    body: format!("m{i}"),
                    delay_seconds: (i == 2).then_some(100),
                    priority: None,
                })
                .collect(),
        },
    );
    let Applied::Received(Ok(got)) = run(
        &mut sim,
        Op::Receive {
            queue: "asks".into(),
            n: 16,
        },
    ) else {
        panic!("no receive")
    };
    assert_eq!(got.len(), 16);
    // Ten tokens reported, one message's visibility changed.
    let tokens: Vec<String> = sim
        .engine
        .executions()
        .iter()
        .filter_map(|x| sim.engine.waiting_tasks(x.id).first().map(|t| t.2.clone()))
        .collect();
    assert!(tokens.len() >= 10, "{}", tokens.len());
    for t in tokens.iter().take(10) {
        let r = run(
            &mut sim,
            Op::ReportSucceeded {
                token: t.clone(),
                output: r#"{"ok":true}"#.into(),
            },
        );
        assert!(matches!(r, Applied::Reported(Ok(_))), "{r:?}");
        sim.advance_to(sim.now() + 1_000);
    }
    run(
        &mut sim,
        Op::ChangeVisibility {
            queue: "asks".into(),
            handle: got[9].receipt_handle.clone(),
            seconds: 500,
        },
    );
    run(
        &mut sim,
        Op::DeleteMessages {
            queue: "asks".into(),
            handles: vec![got[10].receipt_handle.clone()],
        },
    );
    run(
        &mut sim,
        Op::StopExecution {
            flow: "f".into(),
            name: "e19".into(),
            error: "E".into(),
            cause: "stopped".into(),
        },
    );
    // Timers after the last op: the timeouts and waits fire.
    let later = sim.now() + 700_000;
    sim.advance_to(later);
    let live = observe(&sim);
    assert!(
        sim.engine.count(Status::Succeeded) >= 10,
        "{}",
        sim.engine.count(Status::Succeeded)
    );
    journal.close();
    drop(journal);

    let again = open(&path, &config(false), None).unwrap();
    assert!(!again.restored.fresh);
    assert!(again.restored.ops > 30);
    let mut replayed = again.sim;
    replayed.advance_to(later);
    assert_eq!(observe(&replayed), live);
    again.journal.close();
}

#[test]
fn an_evicted_execution_is_read_back_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let opened = open(dir.path(), &config(true), Some(2)).unwrap();
    let (mut sim, journal) = (opened.sim, opened.journal);
    assert_eq!(journal.path(), dir.path().join(FILE_NAME));
    record(
        Some(&journal),
        &mut sim,
        add_flow(
            crate::fdl::bundled::SEED_FLOW_NAME,
            crate::fdl::bundled::SEED_FLOW,
        ),
    );
    for i in 0..40 {
        record(
            Some(&journal),
            &mut sim,
            Op::StartExecution {
                flow: crate::fdl::bundled::SEED_FLOW_NAME.into(),
                name: Some(format!("x{i}")),
                input: "{}".into(),
                callback: None,
            },
        );
        sim.run_until_idle(u64::MAX);
    }
    assert!(sim.engine.evicted() > 0);
    let flow = crate::fdl::bundled::SEED_FLOW_NAME;
    assert!(sim.engine.find_execution(flow, "x0").is_err());
    // Its name stays taken: the file still answers for it.
    let again = |sim: &mut Sim| {
        record(
            None,
            sim,
            Op::StartExecution {
                flow: flow.into(),
                name: Some("x0".into()),
                input: "{}".into(),
                callback: None,
            },
        )
        .0
    };
    assert!(
        matches!(
            again(&mut sim),
            Applied::Started(Err(crate::kernel::FnfError::ExecutionAlreadyExists(_)))
        ),
        "a new x0"
    );
    let stop = sim.stop_execution(flow, "x0", "E", "c");
    assert!(
        matches!(
            stop,
            Err(crate::kernel::FnfError::ExecutionAlreadyCompleted { .. })
        ),
        "{stop:?}"
    );
    journal.close();
    let (x, history) = journal.evicted(flow, "x0").expect("x0 on disk");
    assert_eq!(x["Status"], "Succeeded");
    assert_eq!(x["Name"], "x0");
    assert_eq!(history.first().unwrap()["Type"], "ExecutionStarted");
    assert_eq!(history.last().unwrap()["Type"], "ExecutionSucceeded");
    let page = journal.list_evicted(flow, 0, Some("Succeeded"), "x", 5);
    assert_eq!(page.executions.len(), 5);
    assert_eq!(page.executions[0].0, 0);
    assert!(
        journal
            .list_evicted(flow, 0, Some("Failed"), "", 5)
            .executions
            .is_empty()
    );
    assert!(journal.evicted(flow, "x39").is_none(), "kept in memory");
    // After a restart too.
    drop(journal);
    drop(sim);
    let reopened = open(dir.path(), &config(true), Some(2)).unwrap();
    let mut sim = reopened.sim;
    assert!(
        matches!(
            again(&mut sim),
            Applied::Started(Err(crate::kernel::FnfError::ExecutionAlreadyExists(_)))
        ),
        "a new x0 after a restart"
    );
    reopened.journal.close();
}

#[test]
fn a_push_in_flight_at_a_crash_is_made_again_and_an_answered_one_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let opened = open(&path, &config(false), None).unwrap();
    let (mut sim, journal) = (opened.sim, opened.journal);
    let run = |sim: &mut Sim, op: Op| record(Some(&journal), sim, op).0;
    let subscribe = Op::SubscribeEndpoint {
        topic: "t".into(),
        url: "http://127.0.0.1:9/x".into(),
        format: "JSON".into(),
        strategy: "BACKOFF_RETRY".into(),
        name: "s".into(),
    };
    assert!(matches!(run(&mut sim, subscribe), Applied::Done(Ok(()))));
    for body in ["answered", "in flight"] {
        let publish = Op::Publish {
            topic: "t".into(),
            body: body.into(),
            tag: None,
        };
        assert!(matches!(run(&mut sim, publish), Applied::Published(Ok(_))));
    }
    sim.advance_to(sim.now());
    // What the runtime takes and performs; the first one is answered.
    let pushes = sim.take_http_pushes();
    assert_eq!(pushes.len(), 2);
    run(
        &mut sim,
        Op::PushAnswered {
            notification: pushes[0].notification,
            outcome: crate::kernel::PushOutcome::Status(200),
            latency_ms: Some(3),
        },
    );
    journal.close();
    drop(journal);

    let again = open(&path, &config(false), None).unwrap();
    let mut replayed = again.sim;
    let redo = replayed.take_http_pushes();
    assert_eq!(redo.len(), 1, "{redo:?}");
    assert_eq!(redo[0].notification, pushes[1].notification);
    assert_eq!(redo[0].attempt, pushes[1].attempt);
    assert!(redo[0].body.contains("in flight"), "{}", redo[0].body);
    again.journal.close();
}

#[test]
fn a_locked_damaged_or_newer_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let first = open(&path, &config(true), None).unwrap();
    let e = open(&path, &config(true), None).err().unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    assert!(e.to_string().contains("d.db"), "{e}");
    first.journal.close();
    drop(first);

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database, not at all, no".repeat(200)).unwrap();
    let e = open(&junk, &config(true), None).err().unwrap();
    assert!(e.to_string().contains("junk.db"), "{e}");
    assert!(e.to_string().contains("not a flowsim data file"), "{e}");

    let newer = dir.path().join("newer.db");
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let e = open(&newer, &config(true), None).err().unwrap();
    assert!(matches!(e, StoreError::Newer { .. }), "{e}");
}

/// State machines replay like FDL flows: CreateFlow of both modes,
/// executions waiting on callbacks, UpdateFlow (running executions keep
/// their definition), StartSyncExecution (its name's uuid comes from the
/// seeded generator, so the replay names it the same).
#[test]
fn state_machines_updates_and_sync_executions_replay() {
    const MACHINE: &str = "Type: StateMachine\nName: sm\nStartAt: t\nStates:\n  - Type: Task\n    Name: t\n    Action: MNS:SendMessage\n    TaskMode: WaitForCustomCallback\n    Parameters:\n      resourceArn: acs:mns:cn-hangzhou:1:/queues/sm-q/messages\n      message:\n        token.$: $Context.Current.TaskToken\n    OutputConstructor:\n      got.$: $Output.v\n    End: true\n";
    const EXPRESS: &str = "Type: StateMachine\nName: ex\nStartAt: w\nStates:\n  - Type: Wait\n    Name: w\n    Seconds: 2\n    End: true\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let opened = open(&path, &config(false), None).unwrap();
    let (mut sim, journal) = (opened.sim, opened.journal);
    let j = Some(&*journal);
    let run = |sim: &mut Sim, op: Op| record(j, sim, op).0;
    assert!(matches!(
        run(&mut sim, add_flow("sm", MACHINE)),
        Applied::FlowAdded(Ok(_))
    ));
    let express = Op::AddFlow {
        name: "ex".into(),
        definition: EXPRESS.into(),
        id: "id-ex".into(),
        description: String::new(),
        mode: Some("Express".into()),
        role_arn: "acs:ram::1:role/r".into(),
    };
    assert!(matches!(run(&mut sim, express), Applied::FlowAdded(Ok(_))));
    for i in 0..3 {
        run(
            &mut sim,
            Op::StartExecution {
                flow: "sm".into(),
                name: Some(format!("s{i}")),
                input: "{}".into(),
                callback: None,
            },
        );
        sim.advance_to(sim.now() + 100);
    }
    // A new definition: the running three keep theirs.
    let updated = MACHINE.replace("got.$: $Output.v", "v2.$: $Output.v");
    let r = run(
        &mut sim,
        Op::UpdateFlow {
            name: "sm".into(),
            definition: updated,
            mode: None,
            description: Some("second".into()),
            role_arn: None,
        },
    );
    assert!(matches!(r, Applied::FlowUpdated(Ok(_))), "{r:?}");
    let r = run(
        &mut sim,
        Op::StartSyncExecution {
            flow: "ex".into(),
            name: Some("q".into()),
            input: "{}".into(),
        },
    );
    assert!(matches!(r, Applied::Started(Ok(_))), "{r:?}");
    let tokens: Vec<String> = sim
        .engine
        .executions()
        .iter()
        .filter_map(|x| sim.engine.waiting_tasks(x.id).first().map(|t| t.2.clone()))
        .collect();
    assert_eq!(tokens.len(), 3);
    run(
        &mut sim,
        Op::ReportSucceeded {
            token: tokens[0].clone(),
            output: r#"{"v": 1}"#.into(),
        },
    );
    let later = sim.now() + 10_000;
    sim.advance_to(later);
    let live = observe(&sim);
    let first = sim
        .engine
        .executions()
        .iter()
        .find(|x| x.name.as_ref() == "s0")
        .and_then(|x| x.output.as_deref().map(str::to_owned));
    assert_eq!(first.as_deref(), Some(r#"{"got":1}"#), "the old definition");
    assert_eq!(sim.flow_meta("sm").unwrap().description, "second");
    assert!(sim.flow_meta("sm").unwrap().modified_ms.is_some());
    assert_eq!(sim.flow_meta("ex").unwrap().role_arn, "acs:ram::1:role/r");
    journal.close();
    drop(journal);

    let again = open(&path, &config(false), None).unwrap();
    let mut replayed = again.sim;
    replayed.advance_to(later);
    assert_eq!(observe(&replayed), live);
    assert!(replayed.engine.flow("ex").unwrap().is_express());
    assert_eq!(replayed.flow_meta("sm").unwrap().description, "second");
    again.journal.close();
}

/// `--data ~/.flowsim/dev.db` on a new machine: the missing folders are
/// made.
#[test]
fn a_data_file_in_a_missing_folder_gets_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").join("deeper").join("dev.db");
    let opened = open(&path, &config(false), None).unwrap();
    assert!(opened.restored.fresh);
    assert!(path.exists());
    opened.journal.close();
}
