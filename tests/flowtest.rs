//! `flowsim test` end to end: the binary on the example flows' test files
//! and on files written here, its exit codes (0 pass, 1 a case failed, 2 an
//! invalid file), the reports it writes, `--init`, and folders of flows
//! that hold test files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn flowsim() -> Command {
    Command::cargo_bin("flowsim").unwrap()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A folder with the example flow `approval-with-timeout.yaml` and a test
/// file of it with these cases.
fn approval_with(cases: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("flows/approval-with-timeout.yaml"),
        dir.path().join("approval-with-timeout.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("approval.test.yaml"),
        format!("flow: approval-with-timeout.yaml\ncases:\n{cases}"),
    )
    .unwrap();
    dir
}

#[test]
fn the_example_flows_pass_with_full_coverage() {
    let out = flowsim()
        .current_dir(root())
        .args(["test", "flows/", "--min-coverage", "100", "--coverage"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("flows/approval-with-timeout.test.yaml (flow approval-with-timeout)"));
    assert!(text.contains("  ✓ an answer at the very second of the timeout is too late"));
    assert!(
        text.contains("  approval-with-timeout     100.0%    8/8"),
        "{text}"
    );
    assert!(!text.contains("never:"), "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
    // Not a terminal: no colours.
    assert!(!text.contains('\x1b'));
}

#[test]
fn a_wrong_expected_output_exits_1_and_names_the_difference() {
    let dir = approval_with(
        "  - name: approved\n    tasks:\n      request-approval:\n        - succeed: {status: success}\n    expect:\n      output: {decision: approved}\n  - name: expects the wrong decision\n    tasks:\n      request-approval:\n        - succeed: {status: success}\n    expect:\n      output: {decision: escalated}\n",
    );
    flowsim()
        .arg("test")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("  ✓ approved\n"))
        .stdout(predicate::str::contains("  ✗ expects the wrong decision\n"))
        .stdout(predicate::str::contains(
            r#"at $.decision: expected "escalated", got "approved""#,
        ))
        .stdout(predicate::str::contains(
            "path taken: request-approval → decide → approved",
        ))
        .stdout(predicate::str::contains(
            "2 cases in 1 file: 1 passed, 1 failed",
        ));
}

#[test]
fn an_invalid_test_file_exits_2_with_positions() {
    let dir = approval_with(
        "  - name: a\n    tasks:\n      request-aproval: [drop]\n    expect:\n      stauts: Failed\n",
    );
    flowsim()
        .arg("test")
        .arg(dir.path())
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "approval.test.yaml:5:7: unknown step \"request-aproval\" in the flow; did you mean \"request-approval\"?",
        ))
        .stderr(predicate::str::contains(
            "approval.test.yaml:7:7: unknown field \"stauts\" in `expect`; did you mean \"status\"?",
        ))
        .stderr(predicate::str::contains("no case ran"));
}

#[test]
fn filter_junit_and_coverage_json() {
    let dir = approval_with(
        "  - name: approved\n    tasks:\n      request-approval: [{succeed: {status: success}}]\n  - name: escalated\n    tasks:\n      request-approval: [drop]\n",
    );
    let junit = dir.path().join("reports/junit.xml");
    let cov = dir.path().join("reports/coverage.json");
    flowsim()
        .arg("test")
        .arg(dir.path())
        .args(["--filter", "escal", "--junit"])
        .arg(&junit)
        .arg("--coverage-json")
        .arg(&cov)
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ escalated"))
        .stdout(predicate::str::contains("approved").not());
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(xml.contains(r#"<testcase name="escalated""#), "{xml}");
    assert!(xml.contains(r#"tests="1" failures="0""#), "{xml}");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cov).unwrap()).unwrap();
    assert_eq!(j["flows"][0]["flow"], "approval-with-timeout");
    assert_eq!(j["flows"][0]["total"], 8);
    // escalate: request-approval, its catch, escalate.
    assert_eq!(j["flows"][0]["covered"], 3);
}

#[test]
fn min_coverage_fails_the_run_below_it() {
    let dir = approval_with("  - name: approved\n");
    flowsim()
        .arg("test")
        .arg(dir.path())
        .args(["--min-coverage", "80"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "coverage below --min-coverage 80%: approval-with-timeout 50.0%",
        ));
    flowsim()
        .arg("test")
        .arg(dir.path())
        .args(["--min-coverage", "101"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("it is a percentage, 0 to 100"));
}

#[test]
fn the_handler_option_answers_what_cases_do_not_script() {
    let dir = approval_with(
        "  - name: nobody answers\n    expect:\n      output: {decision: escalated}\n",
    );
    flowsim()
        .arg("test")
        .arg(dir.path())
        .args(["--handler", "drop"])
        .assert()
        .success();
    flowsim()
        .arg("test")
        .arg(dir.path())
        .args(["--handler", "manual"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("succeed, fail, error or drop"));
}

#[test]
fn init_writes_a_skeleton_that_passes_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("retry-then-catch.yaml");
    std::fs::copy(root().join("flows/retry-then-catch.yaml"), &flow).unwrap();
    flowsim()
        .arg("test")
        .arg("--init")
        .arg(&flow)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "retry-then-catch.test.yaml (2 cases)",
        ));
    let text = std::fs::read_to_string(dir.path().join("retry-then-catch.test.yaml")).unwrap();
    assert!(text.contains("flow: retry-then-catch.yaml\n"), "{text}");
    assert!(
        text.contains("  - name: \"charge: catch FnF.ALL -> refund-later\""),
        "{text}"
    );
    flowsim()
        .arg("test")
        .arg(dir.path())
        .args(["--min-coverage", "100"])
        .assert()
        .success();
    flowsim()
        .arg("test")
        .arg("--init")
        .arg(&flow)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
}

#[test]
fn folders_of_flows_leave_test_files_out() {
    // `validate` and the TUI's folder loading take flows only.
    flowsim()
        .current_dir(root())
        .args(["validate", "flows/"])
        .assert()
        .success()
        .stdout(predicate::str::contains(".test.yaml").not());
}

#[test]
fn no_test_files_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    flowsim()
        .arg("test")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no test files (*.test.yaml, *.test.yml) under",
        ));
}

#[test]
fn the_bench_runs_generated_cases() {
    flowsim()
        .args(["test", "--bench", "200", "-j", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "200 cases of the seed flow on 2 threads: 200 passed",
        ))
        .stdout(predicate::str::contains("cases/s"));
}

#[test]
fn a_case_opens_in_the_tui_only_on_a_terminal() {
    let dir = approval_with("  - name: approved\n");
    flowsim()
        .arg("tui")
        .arg("--test")
        .arg(dir.path().join("approval.test.yaml"))
        .args(["--case", "approved"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the TUI needs a terminal"));
    flowsim()
        .arg("tui")
        .arg("--test")
        .arg(dir.path().join("approval.test.yaml"))
        .args(["--case", "aproved"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "has no case named \"aproved\"; did you mean \"approved\"?",
        ));
}

/// A 10,000-case figure for the closing note: `cargo test --release --test
/// flowtest -- --ignored --nocapture`.
#[test]
#[ignore]
fn cases_per_second_on_10000_generated_cases() {
    let out = flowsim()
        .args(["test", "--bench", "10000"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    println!("{}", String::from_utf8_lossy(&out));
}
