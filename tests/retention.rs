//! Bounded memory: finished executions beyond the retention limit leave
//! the engine (their histories and names too), whatever the number run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use flowsim::engine::{ExecId, Status};
use flowsim::fdl::bundled::{SEED_FLOW, SEED_FLOW_NAME, SEED_INPUT};
use flowsim::kernel::FnfError;
use flowsim::sim::{Sim, SimConfig};

fn seed_sim(retain: usize) -> Sim {
    let mut sim = Sim::new(SimConfig::default());
    sim.add_flow(flowsim::fdl::load(SEED_FLOW_NAME, SEED_FLOW).unwrap())
        .unwrap();
    sim.engine.set_retention(Some(retain));
    sim
}

#[test]
fn two_hundred_thousand_executions_stay_under_the_retention_bound() {
    const RETAIN: usize = 10_000;
    const BATCH: usize = 1_000;
    // The limit, the batch evictions wait for (an eighth), and one batch
    // of executions started before the next eviction.
    let bound = RETAIN + RETAIN / 8 + 16 + BATCH;
    let mut sim = seed_sim(RETAIN);
    let mut last = ExecId(0);
    for b in 0..200 {
        for i in 0..BATCH {
            last = sim
                .start_execution(SEED_FLOW_NAME, Some(&format!("e{b}_{i}")), Some(SEED_INPUT))
                .unwrap();
        }
        sim.run_until_idle(u64::MAX);
        let kept = sim.engine.executions().len();
        assert!(kept <= bound, "{kept} executions kept after batch {b}");
    }
    let kept = sim.engine.executions().len();
    assert_eq!(sim.engine.evicted() as usize + kept, 200_000);
    assert!(kept >= RETAIN, "at least the limit is kept: {kept}");
    // The model's counts are of what is kept, every one of them finished.
    assert_eq!(sim.engine.count(Status::Succeeded), kept);
    assert_eq!(sim.engine.count(Status::Running), 0);
    // The newest are kept and found; the oldest are gone, by id and name.
    let x = sim.engine.execution(last).unwrap();
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(x.history.len(), 8);
    assert!(
        sim.engine
            .find_execution(SEED_FLOW_NAME, "e199_999")
            .is_ok()
    );
    assert!(sim.engine.execution(ExecId(0)).is_none());
    assert!(matches!(
        sim.engine.find_execution(SEED_FLOW_NAME, "e0_0"),
        Err(FnfError::ExecutionNotExists { .. })
    ));
    // The evicted name is free again: a new execution takes it.
    let again = sim
        .start_execution(SEED_FLOW_NAME, Some("e0_0"), Some(SEED_INPUT))
        .unwrap();
    assert!(again.0 >= 200_000);
    sim.run_until_idle(u64::MAX);
    assert_eq!(
        sim.engine
            .find_execution(SEED_FLOW_NAME, "e0_0")
            .unwrap()
            .id,
        again
    );
}

#[test]
fn running_executions_are_never_evicted() {
    // With the function off, every token waits: nothing ends, nothing goes.
    let mut sim = Sim::new(SimConfig {
        subscribe_handler: false,
        ..SimConfig::default()
    });
    sim.add_flow(flowsim::fdl::load(SEED_FLOW_NAME, SEED_FLOW).unwrap())
        .unwrap();
    sim.engine.set_retention(Some(10));
    for _ in 0..500 {
        sim.start_execution(SEED_FLOW_NAME, None, Some(SEED_INPUT))
            .unwrap();
    }
    sim.run_until_idle(u64::MAX);
    assert_eq!(sim.engine.executions().len(), 500);
    assert_eq!(sim.engine.evicted(), 0);
    // Report them all: they end, and later starts evict the oldest.
    let ids: Vec<ExecId> = sim.engine.executions().iter().map(|x| x.id).collect();
    for id in ids {
        let (_, _, token) = sim.engine.waiting_tasks(id).remove(0);
        sim.report_succeeded(&token, "{}").unwrap();
    }
    sim.run_until_idle(u64::MAX);
    sim.start_execution(SEED_FLOW_NAME, None, Some(SEED_INPUT))
        .unwrap();
    assert!(sim.engine.executions().len() <= 10 + 1);
    assert_eq!(sim.engine.evicted(), 490);
}
