//! Every CloudFlow example in `flows/cloudflow/` runs headless, with every
//! handler behaviour, and ends exactly as its FDL v1 twin in `flows/` does
//! (status, output, error name, virtual time taken); the cases of
//! `flows/expected.json` are checked on the CloudFlow versions too, and
//! their histories snapshotted (`cloudflow-FLOW-HANDLER`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{redact, run_to_end};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flowsim::engine::Execution;
use flowsim::engine::history::event_json;
use flowsim::fc::Behaviour;
use flowsim::fdl;
use flowsim::sim::{Sim, SimConfig};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.sort();
    files
}

fn load(dir: &str) -> Vec<fdl::Flow> {
    files(dir)
        .iter()
        .map(|p| {
            let (flow, warnings) = fdl::load_any_file(p).unwrap_or_else(|e| panic!("{e}"));
            assert!(warnings.is_empty(), "{}: {warnings:?}", p.display());
            flow
        })
        .collect()
}

/// Runs one execution of `name` to its end (a dropped callback ends on a
/// timeout), seed 1.
fn run(flows: &[fdl::Flow], name: &str, handler: Behaviour, input: &str) -> (Sim, Execution) {
    let mut config = SimConfig {
        seed: 1,
        ..SimConfig::default()
    };
    config.handler.behaviour = handler;
    let mut sim = Sim::new(config);
    for f in flows {
        sim.add_flow(f.clone()).unwrap();
    }
    let id = sim.start_execution(name, None, Some(input)).unwrap();
    let x = run_to_end(&mut sim, id);
    (sim, x)
}

/// What an execution ended with, for comparing the twins.
fn outcome(x: &Execution) -> (String, Value, Option<String>, Option<u64>) {
    (
        x.status.as_str().to_owned(),
        serde_json::from_str(x.output.as_deref().unwrap_or("null")).unwrap(),
        x.error.as_ref().map(|e| e.error.clone()),
        x.stopped,
    )
}

/// A CloudFlow output as its FDL twin writes it, where the two differ by
/// design: a Map's items are objects (state outputs are JSON objects, and
/// there is no `[*]` path to pick a field of each), so foreach-fanout's
/// `statuses` hold `{"status": …}` where FDL's hold the status.
fn as_fdl(flow: &str, mut output: Value) -> Value {
    if flow == "foreach-fanout"
        && let Some(Value::Array(items)) = output.get_mut("statuses")
    {
        for item in items {
            if let Some(s) = item.get("status").cloned() {
                *item = s;
            }
        }
    }
    output
}

/// Every FDL example has a CloudFlow twin of the same name, and the other
/// way round (a CloudFlow-only example is listed here).
#[test]
fn every_example_has_its_twin() {
    let stems = |dir: &str| -> BTreeSet<String> {
        files(dir)
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let fdl = stems("flows");
    let cf = stems("flows/cloudflow");
    let missing: Vec<_> = fdl.difference(&cf).collect();
    assert!(missing.is_empty(), "no CloudFlow version of {missing:?}");
}

/// The twins end the same way for every handler behaviour that answers
/// by itself (the manual one waits for a person).
#[test]
fn cloudflow_examples_end_like_their_fdl_twins_for_every_handler() {
    let fdl_flows = load("flows");
    let cf_flows = load("flows/cloudflow");
    let mut compared = 0;
    for cf in &cf_flows {
        assert!(cf.lang.pipes(), "{} is not a state machine", cf.name);
        let Some(twin) = fdl_flows.iter().find(|f| f.name == cf.name) else {
            continue;
        };
        let input = twin
            .sample_input()
            .unwrap_or_else(|| panic!("flows/{}.yaml has no `# input:` line", twin.name));
        assert_eq!(
            cf.sample_input().as_deref(),
            Some(input.as_str()),
            "{}: the twins' sample inputs differ",
            cf.name
        );
        for handler in [
            Behaviour::Succeed,
            Behaviour::Fail,
            Behaviour::Error,
            Behaviour::Drop,
        ] {
            let (_, a) = run(&fdl_flows, &twin.name, handler, &input);
            let (_, b) = run(&cf_flows, &cf.name, handler, &input);
            let (a, b) = (outcome(&a), outcome(&b));
            // The same error name; a wait-then-publish message id differs
            // run to run only in its value, so outputs compare by keys
            // where the FDL one carries a message id.
            assert_eq!(
                (&a.0, &a.2, a.3),
                (&b.0, &b.2, b.3),
                "{} with handler {}: FDL {a:?}, CloudFlow {b:?}",
                cf.name,
                handler.as_str()
            );
            match (&a.1, &as_fdl(&cf.name, b.1.clone())) {
                (Value::Object(x), Value::Object(y)) if x.contains_key("messageId") => {
                    let kx: Vec<_> = x.keys().collect();
                    let ky: Vec<_> = y.keys().collect();
                    assert_eq!(kx, ky, "{} with handler {}", cf.name, handler.as_str());
                }
                (x, y) => assert_eq!(x, y, "{} with handler {}", cf.name, handler.as_str()),
            }
            compared += 1;
        }
    }
    assert!(compared >= 32, "compared only {compared} cases");
}

/// The cases of `flows/expected.json`, on the CloudFlow versions, with
/// their histories snapshotted.
#[test]
fn cloudflow_examples_do_what_the_expectations_say() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("flows/expected.json")).unwrap())
            .unwrap();
    let flows = load("flows/cloudflow");
    for case in expected["cases"].as_array().unwrap() {
        let name = case["flow"].as_str().unwrap();
        let handler = case["handler"].as_str().unwrap();
        let snapshot = match case.get("label").and_then(Value::as_str) {
            Some(label) => format!("cloudflow-{name}-{handler}-{label}"),
            None => format!("cloudflow-{name}-{handler}"),
        };
        let (sim, x) = run(
            &flows,
            name,
            handler.parse().unwrap(),
            &case["input"].to_string(),
        );
        assert_eq!(
            x.status.as_str(),
            case["status"].as_str().unwrap(),
            "{snapshot}: {:?}",
            x.error
        );
        let output: Value = serde_json::from_str(x.output.as_deref().unwrap_or("null")).unwrap();
        if let Some(want) = case.get("output") {
            assert_eq!(&as_fdl(name, output), want, "{snapshot}");
        }
        if let Some(err) = case.get("error") {
            assert_eq!(
                x.error.as_ref().unwrap().error,
                err.as_str().unwrap(),
                "{snapshot}"
            );
        }
        if let Some(ms) = case.get("elapsed_ms") {
            assert_eq!(x.stopped, ms.as_u64(), "{snapshot}: virtual time taken");
        }
        let flow = sim.engine.flow(name).unwrap().clone();
        let history: Vec<Value> = x
            .history
            .iter()
            .map(|e| {
                let mut j = event_json(&flow, e, 0);
                redact(&mut j);
                j
            })
            .collect();
        insta::assert_json_snapshot!(snapshot, history);
    }
}
