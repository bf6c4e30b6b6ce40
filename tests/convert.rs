#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `flowsim convert` end to end: every FDL example converts to a valid
//! CloudFlow flow, `convert --check flows/` finds no difference, and a
//! construct that cannot convert is reported with its position.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn flowsim() -> Command {
    Command::cargo_bin("flowsim").unwrap()
}

/// The FDL examples in `flows/` (the CloudFlow ones live in a subfolder).
fn fdl_examples() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir("flows")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fdl_example_converts_to_a_valid_cloudflow_flow() {
    let files = fdl_examples();
    assert!(files.len() >= 9, "{files:?}");
    for f in files {
        let (_, name, text) = flowsim::fdl::read_flow_file(&f).unwrap();
        let flow = flowsim::fdl::load(&name, &text).unwrap();
        let converted = flowsim::headless::convert::convert(&flow, &f.display().to_string())
            .unwrap_or_else(|d| panic!("{}: {d:?}", f.display()));
        assert!(
            converted
                .text
                .starts_with(&format!("# Converted from {}", f.display())),
            "{}",
            converted.text
        );
        let loaded = flowsim::cloudflow::load(&name, &converted.text)
            .unwrap_or_else(|d| panic!("{}: {d:?}\n{}", f.display(), converted.text));
        assert_eq!(loaded.machine.name, name);
        // The binary writes the same text.
        let out = flowsim().arg("convert").arg(&f).assert().success();
        assert_eq!(
            String::from_utf8(out.get_output().stdout.clone()).unwrap(),
            converted.text
        );
    }
}

#[test]
fn convert_check_finds_no_difference_in_the_examples() {
    let out = flowsim()
        .args(["convert", "--check", "flows/"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(!text.contains("DIFF"), "{text}");
    for f in fdl_examples() {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        for b in ["succeed", "fail", "error", "drop"] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with("same") && l.contains(&stem) && l.contains(b)),
                "no {b} case for {stem}:\n{text}"
            );
        }
    }
    let n = fdl_examples().len();
    let summary = text
        .lines()
        .find(|l| l.starts_with("convert --check: "))
        .unwrap_or_else(|| panic!("no summary:\n{text}"));
    assert!(
        summary.starts_with(&format!("convert --check: {n} FDL flows, "))
            && summary.ends_with(" the same, 0 different"),
        "{summary}"
    );
}

#[test]
fn convert_writes_to_a_file_and_the_conversion_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.yaml");
    flowsim()
        .args(["convert", "flows/mns-topic-callback.yaml", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout("");
    flowsim()
        .arg("run")
        .arg(&out)
        .args(["--seed", "1", "--input", r#"{"messageBody": "hi"}"#])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            r#"Succeeded with output {"status":"success"}"#,
        ));
}

#[test]
fn an_unconvertible_construct_is_positioned_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("until.yaml");
    std::fs::write(
        &f,
        "version: v1\ntype: flow\nsteps:\n  - type: wait\n    name: until\n    timestamp: 2026-01-01T00:00:00Z\n",
    )
    .unwrap();
    let shown = f.display().to_string();
    flowsim()
        .arg("convert")
        .arg(&f)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "{shown}:4:5: cannot convert: step `until`: a wait `timestamp`"
        )));
    // --check says so too, and fails.
    flowsim()
        .args(["convert", "--check"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("4:5: cannot convert"));
    assert!(Path::new(&shown).exists());
}

#[test]
fn a_cloudflow_file_given_to_the_check_is_skipped() {
    // A CloudFlow file given to --check is skipped, not compared.
    flowsim()
        .args([
            "convert",
            "--check",
            "flows/cloudflow/mns-topic-callback.yaml",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("already CloudFlow, skipped"));
}
