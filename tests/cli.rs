//! The `flowsim` binary end to end: run, validate, bench, exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const EPOCH: &str = "2026-01-01T00:00:00Z";

fn flowsim() -> Command {
    Command::cargo_bin("flowsim").unwrap()
}

fn run(args: &[&str]) -> assert_cmd::assert::Assert {
    flowsim()
        .arg("run")
        .args(["--seed", "7", "--epoch", EPOCH])
        .args(args)
        .assert()
}

#[test]
fn seed_flow_succeeds_and_shows_the_whole_chain() {
    let out = run(&[]).success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    // The token is minted, published with the message, pushed to the
    // function, reported back, and the flow resumes.
    let order = [
        "TaskScheduled",
        "TaskStarted",
        "taskToken=",
        "engine -> mns: publish to topic flowsim-callback-topic",
        "TaskSubmitted",
        "mns -> fc: push #0 to function",
        "fc -> engine: ReportTaskSucceeded token=",
        "TaskSucceeded",
        "StepExited",
        "ExecutionSucceeded",
        "fc -> mns",
        "HTTP 200",
        r#"Succeeded with output {"status":"success"}"#,
    ];
    let mut at = 0;
    for needle in order {
        let found = text[at..]
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing after byte {at} in:\n{text}"));
        at += found;
    }
}

#[test]
fn no_arguments_opens_the_tui_and_a_pipe_is_told_to_use_run() {
    // With no command flowsim opens the TUI; stdout here is a pipe, so it
    // says to use `flowsim run` instead and exits 2.
    flowsim()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("flowsim run"));
}

#[test]
fn the_tuis_options_work_without_the_tui_command() {
    // Parsed as the TUI's options (not "unexpected argument"): the pipe
    // gets the same advice as with `flowsim tui`.
    for args in [
        &["--seed", "7", "--step"][..],
        &["--handler", "manual"],
        &[
            "--handler",
            "none",
            "--subscribe",
            "t=http://127.0.0.1:9/cb",
        ],
        &["flows/", "--speed", "2"],
        &["--no-mouse", "--handler", "succeed"],
    ] {
        flowsim()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("the TUI needs a terminal"))
            .stderr(predicate::str::contains("unexpected").not());
    }
    // Bad values are still caught, and commands keep their own options.
    flowsim()
        .args(["--handler", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--handler"));
    flowsim()
        .args(["--bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unexpected argument"));
    flowsim()
        .args(["--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("flowsim --seed 7 --step"))
        .stdout(predicate::str::contains("--listen"));
    run(&["--handler", "fail"]).code(1);
}

#[test]
fn the_tuis_help_says_the_function_is_manual_and_names_the_keys() {
    flowsim()
        .args(["tui", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("[default: manual]"))
        .stdout(predicate::str::contains("--no-mouse"))
        .stdout(predicate::str::contains("sample"))
        .stdout(predicate::str::contains("a / A"))
        .stdout(predicate::str::contains("to the clipboard"));
    // run, bench and serve keep the function that answers by itself.
    for cmd in ["run", "serve"] {
        flowsim()
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("[default: succeed]"));
    }
}

#[test]
fn a_mistyped_command_is_a_missing_flow() {
    flowsim()
        .args(["frobnicate"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("frobnicate"));
}

#[test]
fn fail_handler_ends_failed_with_the_reported_error() {
    run(&["--handler", "fail", "--fail-error", "Payment.Declined"])
        .code(1)
        .stdout(predicate::str::contains("Failed: Payment.Declined"));
}

#[test]
fn drop_handler_with_a_task_timeout_ends_with_task_timeout() {
    run(&[
        "tests/fixtures/callback-with-timeout.yaml",
        "--handler",
        "drop",
    ])
    .code(1)
    .stdout(predicate::str::contains("TaskTimedOut"))
    .stdout(predicate::str::contains("Failed: FnF.TaskTimeout"))
    .stdout(predicate::str::contains("after 30.000s of virtual time"));
}

#[test]
fn a_callback_that_never_comes_stops_the_run_with_an_explanation() {
    run(&["--handler", "drop"])
        .code(1)
        .stderr(predicate::str::contains(
            "waits for a callback that will never come",
        ));
}

#[test]
fn error_handler_shows_push_retries() {
    let out = run(&[
        "tests/fixtures/callback-with-timeout.yaml",
        "--handler",
        "error",
    ])
    .code(1)
    .get_output()
    .stdout
    .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.matches("answered: HTTP 500").count() >= 2, "{text}");
    assert!(text.contains("retry"), "{text}");
}

#[test]
fn json_format_is_one_event_per_line_then_the_execution() {
    let out = run(&["--format", "json"])
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, events) = lines.split_last().unwrap();
    assert_eq!(last["Status"], "Succeeded");
    assert_eq!(last["Output"], r#"{"status":"success"}"#);
    assert_eq!(last["Input"], r#"{"messageBody":"hello world"}"#);
    assert_eq!(last["StartedTime"], "2026-01-01T00:00:00.000Z");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["EventId"], i as u64 + 1);
        let detail: Value = serde_json::from_str(e["EventDetail"].as_str().unwrap()).unwrap();
        assert!(detail.is_object());
    }
    // Snapshot with ids and times redacted.
    let redacted: Vec<Value> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["Time"] = "[time]".into();
            let mut d: Value = serde_json::from_str(e["EventDetail"].as_str().unwrap()).unwrap();
            redact(&mut d);
            e["EventDetail"] = d;
            e
        })
        .collect();
    insta::assert_json_snapshot!("seed_history", redacted);
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "taskToken" | "MessageId" | "RequestId" => *x = "[redacted]".into(),
                    "MessageBody" => {
                        if let Some(s) = x.as_str()
                            && let Ok(inner) = serde_json::from_str::<Value>(s)
                        {
                            *x = inner;
                        }
                        redact(x);
                    }
                    _ => redact(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[test]
fn same_seed_same_output_byte_for_byte() {
    let a = run(&["--format", "json"]).get_output().stdout.clone();
    let b = run(&["--format", "json"]).get_output().stdout.clone();
    assert_eq!(a, b);
}

#[test]
fn input_from_a_file_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.json");
    std::fs::write(&p, r#"{"messageBody": "from a file"}"#).unwrap();
    run(&["--input", &format!("@{}", p.display())])
        .success()
        .stdout(predicate::str::contains("from a file"));
    run(&["--input", "{nope"])
        .code(2)
        .stderr(predicate::str::contains("--input is not valid JSON"));
    run(&["--input", "[1,2]"])
        .code(2)
        .stderr(predicate::str::contains("InvalidArgument"));
    run(&["--input", "@/definitely/not/here.json"])
        .code(2)
        .stderr(predicate::str::contains("cannot read input file"));
}

#[test]
fn bad_flows_exit_2_with_file_line_col() {
    run(&["tests/fixtures/broken.yaml"])
        .code(2)
        .stderr(predicate::str::contains("tests/fixtures/broken.yaml:4:"));
    run(&["tests/fixtures/nope.yaml"])
        .code(2)
        .stderr(predicate::str::contains("nope.yaml"));
}

#[test]
fn validate_reports_every_file() {
    flowsim()
        .args([
            "validate",
            "flows/mns-topic-callback.yaml",
            "tests/fixtures/callback-with-timeout.yaml",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok"));
    flowsim()
        .args([
            "validate",
            "flows/mns-topic-callback.yaml",
            "tests/fixtures/broken.yaml",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.yaml:4:"))
        .stderr(predicate::str::contains("1 of 2 flow files are invalid"));
    flowsim().args(["validate", "flows"]).assert().success();
}

#[test]
fn bench_runs_the_chain_and_reports_figures() {
    flowsim()
        .args(["bench", "-n", "2000"])
        .assert()
        .success()
        .stdout(predicate::str::contains("executions/s"))
        .stdout(predicate::str::contains("2000 succeeded"));
}

#[test]
fn unknown_arguments_exit_2() {
    flowsim()
        .args(["run", "--handler", "nope"])
        .assert()
        .code(2);
    flowsim().args(["frobnicate"]).assert().code(2);
}

#[test]
fn run_loads_sub_flows_beside_the_flow_and_shows_their_events() {
    run(&[
        "flows/subflow-approval.yaml",
        "--name",
        "req42",
        "--input",
        r#"{"requestId": "r-42", "amount": 1200}"#,
    ])
    .success()
    .stdout(predicate::str::contains(
        "start sub-flow execution req42-team-lead-review-3 of flow approval-review (sync)",
    ))
    .stdout(predicate::str::contains(
        "↳ req42-finance-review-9 #8   ExecutionSucceeded",
    ))
    .stdout(predicate::str::contains(
        r#"Succeeded with output {"teamLead":"success","finance":"success","approved":true}"#,
    ));
}

#[test]
fn a_missing_sub_flow_is_warned_about_and_with_adds_it() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().join("subflow-approval.yaml");
    std::fs::copy("flows/subflow-approval.yaml", &parent).unwrap();
    let parent = parent.to_str().unwrap();
    // Without its child the tasks fail with FnF.FlowNotExists (caught by
    // this flow's FnF.ALL catch).
    run(&[parent])
        .success()
        .stderr(predicate::str::contains(
            "starts sub-flow `approval-review`, which is not loaded",
        ))
        .stdout(predicate::str::contains("error=FnF.FlowNotExists"));
    run(&[parent, "--with", "flows/approval-review.yaml"])
        .success()
        .stderr(predicate::str::is_empty())
        .stdout(predicate::str::contains(r#""teamLead":"success""#));
}

#[test]
fn bench_takes_sub_flows_and_an_input_file() {
    flowsim()
        .args([
            "bench",
            "flows/subflow-approval.yaml",
            "-n",
            "50",
            "--input",
            r#"{"requestId": "r-1", "amount": 5}"#,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("50 succeeded"))
        .stdout(predicate::str::contains("100 child executions"));
    flowsim()
        .args([
            "bench",
            "flows/foreach-fanout.yaml",
            "-n",
            "20",
            "--input",
            "@assets/inputs/hundred-recipients.json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("20 succeeded"));
}

/// Files as editors and shells leave them: a byte-order mark, a `#` in the
/// file name (the flow's name, and a token separator), and in a folder a
/// sub-folder and a FIFO named like flows (skipped, never read).
#[test]
fn odd_but_harmless_flow_files_load() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/mns-topic-callback.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("bom.yaml"), format!("\u{feff}{seed}")).unwrap();
    let hashed = dir.path().join("a#b.yaml");
    std::fs::write(&hashed, &seed).unwrap();
    std::fs::create_dir(dir.path().join("folder.yaml")).unwrap();
    let fifo = dir.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    flowsim()
        .arg("validate")
        .arg(dir.path())
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success()
        .stdout(predicate::str::contains("bom.yaml: ok"))
        .stdout(predicate::str::contains("a#b.yaml: ok"))
        .stdout(predicate::str::contains("pipe.yaml").not())
        .stdout(predicate::str::contains("folder.yaml").not());
    assert!(made.is_ok_and(|s| s.success()) || !fifo.exists());
    // The report on a token of flow `a#b` is accepted: the run succeeds.
    run(&[hashed.to_str().unwrap()])
        .success()
        .stdout(predicate::str::contains("Succeeded"));
}

/// CloudFlow state machines validate side by side with FDL v1 flows; a
/// problem in one is positioned like any flow's; they run like FDL flows.
#[test]
fn cloudflow_files_validate_and_run() {
    flowsim()
        .args(["validate", "flows", "flows/cloudflow"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "flows/cloudflow/mns-topic-callback.yaml: ok (CloudFlow, 1 state)",
        ))
        .stdout(predicate::str::contains(
            "flows/mns-topic-callback.yaml: ok (1 step)",
        ));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "Type: StateMachine\nStartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    Next: nowhere\n",
    )
    .unwrap();
    flowsim()
        .args(["validate", bad.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.yaml:6:11:"))
        .stderr(predicate::str::contains("nowhere"));
    run(&["flows/cloudflow/mns-topic-callback.yaml"])
        .success()
        .stdout(predicate::str::contains("action=MNS:SendMessage"))
        .stdout(predicate::str::contains(
            r#"Succeeded with output {"status":"success"}"#,
        ));
}

#[test]
fn bench_api_reports_every_token_over_http_once() {
    flowsim()
        .args(["bench", "--api", "-n", "300", "-c", "4"])
        .assert()
        .success()
        .stdout(predicate::str::contains("StartExecution"))
        .stdout(predicate::str::contains("ReportTaskSucceeded"))
        .stdout(predicate::str::contains("req/s"))
        .stdout(predicate::str::contains("p99"))
        .stdout(predicate::str::contains(
            "300 of 300 executions, each ended exactly once",
        ));
}

#[test]
fn bench_api_signs_every_request_when_asked() {
    flowsim()
        .args(["bench", "--api", "--signed", "-n", "100", "-c", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(signed, in-process server)"))
        .stdout(predicate::str::contains(
            "100 of 100 executions, each ended exactly once",
        ));
}

#[test]
fn bench_api_options_need_api() {
    flowsim()
        .args(["bench", "--signed", "-n", "10"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--api"));
}
