//! The kernel's time invariant, checked property-style: **the clock never
//! passes an envelope that is due and undelivered**, so every history event
//! carries the virtual time at which its cause was due.
//!
//! Random (seeded, so reproducible) sequences of the commands every front
//! end can give — step, jump (`t`), advance (RUN mode's pacing), run until
//! idle, start, report success or failure, answer a held push, stop — are
//! played over several example flows with the function in manual mode, so
//! tokens pile up and timeouts race with callbacks. After every command the
//! next envelope must not be due before the clock; at the end every
//! timeout in every history must have fired exactly its `timeoutSeconds`
//! after what armed it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use flowsim::engine::{EventType, HistoryEvent};
use flowsim::fc::{Answer, Behaviour, HandlerConfig};
use flowsim::fdl;
use flowsim::sim::{Jump, Sim, SimConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// Flows with task and flow timeouts, waits, retries and fan-out.
const FLOWS: &[(&str, &str)] = &[
    (
        "approval-with-timeout",
        r#"{"requestId": "r-42", "amount": 1200}"#,
    ),
    ("mns-topic-callback", r#"{"messageBody": "hello world"}"#),
    (
        "wait-then-publish",
        r#"{"delaySeconds": 90, "text": "stand-up"}"#,
    ),
    ("retry-then-catch", "{}"),
    (
        "order-parallel-callbacks",
        r#"{"orderId": "o-7", "total": 99.5}"#,
    ),
    ("foreach-fanout", r#"{"recipients": ["ann", "bo", "cy"]}"#),
];

fn world(seed: u64) -> Sim {
    let mut sim = Sim::new(SimConfig {
        seed,
        handler: HandlerConfig {
            behaviour: Behaviour::Manual,
            ..HandlerConfig::default()
        },
        ..SimConfig::default()
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    for (name, _) in FLOWS {
        let flow = fdl::load_file(&dir.join(format!("{name}.yaml"))).unwrap();
        sim.add_flow(flow).unwrap();
    }
    sim
}

/// The invariant itself, after any command.
fn check_clock(sim: &Sim, what: &str) {
    if let Some(due) = sim.next_due() {
        assert!(
            due >= sim.now(),
            "after {what}: the clock ({}) passed an envelope due at {due}",
            sim.now()
        );
    }
}

fn detail(e: &HistoryEvent) -> Value {
    serde_json::from_str(&e.detail).unwrap_or(Value::Null)
}

/// Every timeout in the history fired exactly when it was due.
fn check_history(sim: &Sim, flow_timeouts: &dyn Fn(&str) -> Option<u64>, seed: u64) {
    for x in sim.engine.executions() {
        let h = &x.history;
        for pair in h.windows(2) {
            assert!(
                pair[0].time <= pair[1].time,
                "seed {seed}: execution {} history goes back in time: {:?} then {:?}",
                x.name,
                pair[0],
                pair[1]
            );
        }
        for e in h {
            match e.kind {
                EventType::TaskTimedOut => {
                    // The task attempt it ends: the TaskScheduled it names,
                    // else the last one of its step before it.
                    let scheduled = h
                        .iter()
                        .find(|s| s.id == e.schedule_id && s.kind == EventType::TaskScheduled)
                        .or_else(|| {
                            h.iter().rev().find(|s| {
                                s.id < e.id
                                    && s.kind == EventType::TaskScheduled
                                    && s.step == e.step
                            })
                        })
                        .unwrap_or_else(|| panic!("seed {seed}: no TaskScheduled for {e:?}"));
                    let secs = detail(scheduled)["timeoutSeconds"]
                        .as_u64()
                        .unwrap_or_else(|| {
                            panic!("seed {seed}: {scheduled:?} has no timeoutSeconds")
                        });
                    assert_eq!(
                        e.time - scheduled.time,
                        secs * 1000,
                        "seed {seed}: execution {}: TaskTimedOut at {} for a task scheduled at {} with timeoutSeconds {secs}",
                        x.name,
                        e.time,
                        scheduled.time
                    );
                }
                EventType::ExecutionTimedOut => {
                    let secs = flow_timeouts(&x.flow.name).expect("a flow timeout");
                    assert_eq!(
                        e.time - x.started,
                        secs * 1000,
                        "seed {seed}: execution {} timed out at {} (started {})",
                        x.name,
                        e.time,
                        x.started
                    );
                }
                _ => {}
            }
        }
    }
}

fn play(seed: u64, commands: usize) -> Sim {
    let mut sim = world(seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..commands {
        let what = match rng.random_range(0..100) {
            0..=14 => {
                let (flow, input) = FLOWS[rng.random_range(0..FLOWS.len())];
                let _ = sim.start_execution(flow, None, Some(input));
                "start"
            }
            15..=44 => {
                sim.step();
                "step"
            }
            45..=59 => {
                match sim.jump_to_next_due() {
                    Jump::To(t) => assert_eq!(sim.now(), t),
                    Jump::DueNow(n) => assert!(n > 0),
                    Jump::Idle => assert!(sim.bus().is_empty()),
                }
                "jump"
            }
            60..=69 => {
                let until = sim.now() + rng.random_range(0..120_000);
                sim.advance_to(until);
                "advance"
            }
            70..=74 => {
                sim.run_until_idle(rng.random_range(1..40));
                "run"
            }
            75..=89 => {
                let held: Vec<u64> = sim.fc.inbox().iter().map(|h| h.id()).collect();
                if !held.is_empty() {
                    let id = held[rng.random_range(0..held.len())];
                    let answer = match rng.random_range(0..3) {
                        0 => Answer::Fail {
                            error: "Rejected".into(),
                            cause: "no".into(),
                        },
                        1 => Answer::Error,
                        _ => Answer::Succeed(json!({"status": "success"})),
                    };
                    let _ = sim.answer_held(id, answer);
                }
                "answer"
            }
            90..=97 => {
                // Report directly on a waiting token, as an API client does.
                let running: Vec<_> = sim
                    .engine
                    .executions()
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| x.stopped.is_none())
                    .map(|(i, _)| flowsim::kernel::ExecId(i as u32))
                    .collect();
                if !running.is_empty() {
                    let id = running[rng.random_range(0..running.len())];
                    if let Some((_, _, token)) = sim.engine.waiting_tasks(id).into_iter().next() {
                        if rng.random_bool(0.7) {
                            let _ = sim.report_succeeded(&token, r#"{"status":"success"}"#);
                        } else {
                            let _ = sim.report_failed(&token, "Rejected", "no");
                        }
                    }
                }
                "report"
            }
            _ => {
                let running: Vec<(String, String)> = sim
                    .engine
                    .executions()
                    .iter()
                    .filter(|x| x.stopped.is_none())
                    .map(|x| (x.flow.name.clone(), x.name.to_string()))
                    .collect();
                if let Some((flow, name)) = running.first() {
                    let _ = sim.stop_execution(flow, name, "Stopped", "by the test");
                }
                "stop"
            }
        };
        check_clock(&sim, &format!("command {i} ({what}), seed {seed}"));
    }
    // Finish: whatever is left runs out, jumping over timers.
    for _ in 0..10_000 {
        sim.run_until_idle(100_000);
        check_clock(&sim, "the final run");
        if sim.bus().is_empty() {
            break;
        }
    }
    sim
}

#[test]
fn the_clock_never_passes_a_due_envelope_and_timeouts_fire_when_due() {
    let probe = world(0);
    let timeouts: Vec<(String, Option<u64>)> = probe
        .engine
        .flows()
        .map(|f| (f.name.clone(), f.timeout_seconds))
        .collect();
    let flow_timeout = |name: &str| {
        timeouts
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, t)| *t)
    };
    let mut timed_out = 0;
    for seed in 0..150 {
        let sim = play(seed, 300);
        check_history(&sim, &flow_timeout, seed);
        timed_out += sim
            .engine
            .executions()
            .iter()
            .flat_map(|x| &x.history)
            .filter(|e| e.kind == EventType::TaskTimedOut)
            .count();
    }
    // The property is only tested if timeouts actually raced the commands.
    assert!(timed_out > 20, "only {timed_out} task timeouts happened");
}

/// The issue's scenario, in the kernel: several executions of
/// `approval-with-timeout` hold their pushes (manual function) and `t` is
/// pressed repeatedly, stepping only when told to. The task timeout must
/// land one hour after the task was scheduled, not a day later.
#[test]
fn jumping_repeatedly_with_held_pushes_times_out_after_one_hour() {
    let mut sim = world(7);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            sim.start_execution("approval-with-timeout", None, Some(FLOWS[0].1))
                .unwrap(),
        );
    }
    for _ in 0..200 {
        match sim.jump_to_next_due() {
            Jump::To(_) => {}
            Jump::DueNow(_) => {
                sim.step();
            }
            Jump::Idle => break,
        }
        check_clock(&sim, "t");
    }
    for id in ids {
        let x = sim.engine.execution(id).unwrap();
        let scheduled = x
            .history
            .iter()
            .find(|e| e.kind == EventType::TaskScheduled)
            .unwrap();
        let timed_out = x
            .history
            .iter()
            .find(|e| e.kind == EventType::TaskTimedOut)
            .unwrap_or_else(|| panic!("{:?}", x.history));
        assert_eq!(timed_out.time - scheduled.time, 3_600_000);
    }
}
