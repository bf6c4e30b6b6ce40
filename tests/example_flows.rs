//! Every example flow in `flows/` runs headless and does what
//! `flows/expected.json` says: final status, output (or error), virtual time
//! taken. Each case's history is snapshotted (tokens, message ids and request
//! ids redacted), so a change in what the engine records shows in review.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{redact, run_to_end};

use std::collections::BTreeSet;
use std::path::Path;

use flowsim::engine::history::event_json;
use flowsim::fc::Behaviour;
use flowsim::fdl;
use flowsim::sim::{Sim, SimConfig};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn flow_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("flows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // Flow test files (`flowsim test`) live beside the flows.
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_flow_does_what_its_expectations_say() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("flows/expected.json")).unwrap())
            .unwrap();
    let cases = expected["cases"].as_array().unwrap();
    let flows: Vec<fdl::Flow> = flow_files()
        .iter()
        .map(|p| fdl::load_file(p).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let covered: BTreeSet<&str> = cases.iter().filter_map(|c| c["flow"].as_str()).collect();
    for f in &flows {
        assert!(
            covered.contains(f.name.as_str()),
            "flows/{}.yaml has no case in flows/expected.json",
            f.name
        );
    }
    let mut snapshots = BTreeSet::new();
    for case in cases {
        let name = case["flow"].as_str().unwrap();
        let handler = case["handler"].as_str().unwrap();
        // Cases of one flow and handler tell their snapshots apart by label.
        let snapshot = match case.get("label").and_then(Value::as_str) {
            Some(label) => format!("{name}-{handler}-{label}"),
            None => format!("{name}-{handler}"),
        };
        assert!(
            snapshots.insert(snapshot.clone()),
            "two cases share the snapshot {snapshot}: give one a \"label\""
        );
        let what = snapshot.clone();
        let mut config = SimConfig {
            seed: 1,
            ..SimConfig::default()
        };
        config.handler.behaviour = handler.parse::<Behaviour>().unwrap();
        let mut sim = Sim::new(config);
        for f in &flows {
            sim.add_flow(f.clone()).unwrap();
        }
        let id = sim
            .start_execution(name, None, Some(&case["input"].to_string()))
            .unwrap();
        // Run until the execution ends; a dropped callback ends on a timeout.
        let x = run_to_end(&mut sim, id);
        assert_eq!(
            x.status.as_str(),
            case["status"].as_str().unwrap(),
            "{what}: {:?}",
            x.error
        );
        let output: Value = serde_json::from_str(x.output.as_deref().unwrap_or("null")).unwrap();
        if let Some(want) = case.get("output") {
            assert_eq!(&output, want, "{what}");
        }
        if let Some(keys) = case.get("output_keys") {
            let got: Vec<&String> = output.as_object().unwrap().keys().collect();
            let want: Vec<&str> = keys
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            assert_eq!(got, want, "{what}");
        }
        if let Some(err) = case.get("error") {
            assert_eq!(
                x.error.as_ref().unwrap().error,
                err.as_str().unwrap(),
                "{what}"
            );
        }
        if let Some(ms) = case.get("elapsed_ms") {
            assert_eq!(x.stopped, ms.as_u64(), "{what}: virtual time taken");
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
