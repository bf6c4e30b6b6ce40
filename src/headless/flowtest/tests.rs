//! Tests of the flow test runner: the loader (every error with its
//! position), each answer kind, each assertion (passing and failing), the
//! verdicts, coverage, JUnit, skeletons, determinism and replay.

use std::path::{Path, PathBuf};

use super::*;

/// A flow with a callback task (timeout, retry, catch), a choice with a
/// default, and a fail step.
const APPROVE: &str = r#"version: v1
type: flow
steps:
  - type: task
    name: ask
    resourceArn: acs:mns:::/topics/asks/messages
    pattern: waitForCallback
    timeoutSeconds: 60
    inputMappings:
      - target: who
        source: $input.who
      - target: taskToken
        source: $context.task.token
    serviceParams:
      MessageBody: $
    retry:
      - errors: [Busy]
        intervalSeconds: 1
        maxAttempts: 2
    catch:
      - errors: [FnF.TaskTimeout]
        goto: late
  - type: choice
    name: decide
    choices:
      - condition: $.status == "yes"
        goto: ok
    default:
      goto: refused
  - type: pass
    name: late
    outputMappings:
      - target: result
        source: late
    end: true
  - type: pass
    name: ok
    outputMappings:
      - target: result
        source: ok
    end: true
  - type: fail
    name: refused
    error: Refused
    cause: the answer was no
"#;

/// A function task (requestResponse) and a publish nothing answers.
const CALL: &str = r#"version: v1
type: flow
steps:
  - type: task
    name: call
    resourceArn: acs:fc:::services/s/functions/f
    retry:
      - errors: [FC.InternalServerError]
        intervalSeconds: 5
        maxAttempts: 1
  - type: task
    name: announce
    resourceArn: acs:mns:::/topics/news/messages
    serviceParams:
      MessageBody: done
"#;

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Dir { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn load(&self, name: &str) -> Result<TestFile, Vec<Problem>> {
        spec::load(&self.path(name), &mut spec::FlowCache::new())
    }

    /// Problems of an invalid test file, as `line:col: message`.
    fn problems(&self, name: &str) -> Vec<String> {
        match self.load(name) {
            Ok(_) => panic!("{name} loaded"),
            Err(p) => p
                .iter()
                .map(|p| {
                    let file = Path::new(&p.file)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    format!("{file}:{}: {}", p.pos, p.message)
                })
                .collect(),
        }
    }

    fn run(&self, opts: &Options) -> (Verdict, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let v = test(&[self.dir.path().to_path_buf()], opts, &mut out, &mut err).unwrap();
        (
            v,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }
}

/// A test file of `approve.yaml` with these cases (YAML under `cases:`).
fn approve_with(cases: &str) -> Dir {
    Dir::new(&[
        ("approve.yaml", APPROVE),
        (
            "approve.test.yaml",
            &format!("flow: approve.yaml\ncases:\n{cases}"),
        ),
    ])
}

/// Runs the one case of `approve.test.yaml` and answers its failures.
fn failures_of(cases: &str) -> Vec<String> {
    let d = approve_with(cases);
    let file = d
        .load("approve.test.yaml")
        .unwrap_or_else(|p| panic!("{p:?}"));
    let r = run_cases(std::slice::from_ref(&file), &Options::default(), false);
    assert_eq!(r.len(), 1);
    if let Some(e) = &r[0].start_error {
        panic!("did not start: {e}");
    }
    r[0].failures.iter().map(check::Failure::line).collect()
}

fn passes(cases: &str) {
    let f = failures_of(cases);
    assert!(f.is_empty(), "{f:#?}");
}

// ---- the loader ------------------------------------------------------------

#[test]
fn a_valid_file_loads_resolved() {
    let d = approve_with(
        "  - name: yes\n    input: {who: ann}\n    seed: 9\n    tasks:\n      ask:\n        - after: 1m30s\n          succeed: {status: yes}\n          duplicate: true\n        - fail: {error: Busy}\n        - error\n        - drop\n    expect:\n      status: Succeeded\n      elapsed: \"<= 2m\"\n",
    );
    let f = d.load("approve.test.yaml").unwrap();
    assert_eq!(f.flow().name, "approve");
    assert_eq!(f.seed, spec::DEFAULT_SEED);
    let c = &f.cases[0];
    assert_eq!(c.seed, Some(9));
    assert_eq!(c.input, serde_json::json!({"who": "ann"}));
    let a = c.script("ask").unwrap();
    assert_eq!(a.len(), 4);
    assert_eq!(a[0].after, 90_000);
    assert!(a[0].duplicate);
    assert_eq!(
        a[0].kind,
        Kind::Succeed(Some(serde_json::json!({"status": "yes"})))
    );
    assert_eq!(a[1].kind, Kind::Fail(Some(("Busy".into(), String::new()))));
    assert_eq!(a[2].kind, Kind::Error);
    assert_eq!(a[3].kind, Kind::Drop);
    assert_eq!(c.expect.elapsed, Some((spec::Cmp::Le, 120_000)));
}

#[test]
fn unknown_fields_are_reported_with_their_position_and_a_guess() {
    let d = approve_with("  - name: a\n    expect:\n      statuss: Succeeded\n    taks: {}\n");
    assert_eq!(
        d.problems("approve.test.yaml"),
        [
            "approve.test.yaml:5:7: unknown field \"statuss\" in `expect`; did you mean \"status\"?",
            "approve.test.yaml:6:5: unknown field \"taks\" in a test case; did you mean \"tasks\"?",
        ]
    );
    let d = Dir::new(&[
        ("approve.yaml", APPROVE),
        ("x.test.yaml", "flow: approve.yaml\nsed: 3\ncases: []\n"),
    ]);
    assert_eq!(
        d.problems("x.test.yaml"),
        [
            "x.test.yaml:2:1: unknown field \"sed\" in a test file; did you mean \"seed\"?",
            "x.test.yaml:3:8: `cases` is empty: add at least one case",
        ]
    );
}

#[test]
fn unknown_step_names_are_reported_wherever_they_are() {
    let d = approve_with(
        "  - name: a\n    tasks:\n      aks: [drop]\n    expect:\n      path: [ask, decid]\n      visits: {okk: 1}\n      not_visited: [nope]\n",
    );
    assert_eq!(
        d.problems("approve.test.yaml"),
        [
            "approve.test.yaml:5:7: unknown step \"aks\" in the flow; did you mean \"ask\"?",
            "approve.test.yaml:7:19: unknown step \"decid\" in `path`: flow `approve` has no such step; did you mean \"decide\"?",
            "approve.test.yaml:8:16: unknown step \"okk\" in `visits`: flow `approve` has no such step; did you mean \"ok\"?",
            "approve.test.yaml:9:21: unknown step \"nope\" in `not_visited`: flow `approve` has no such step (expected one of: ask, decide, late, ok, refused)",
        ]
    );
}

#[test]
fn wrong_types_and_impossible_answers_are_refused() {
    let d = approve_with(
        "  - name: 7\n    input: [1]\n    seed: -1\n    tasks:\n      decide: [succeed]\n      ask:\n        - {succeed: yes}\n        - {after: soon}\n        - {drop: true, after: 1s}\n        - {error: true, duplicate: true}\n        - {succeed: {}, fail: {error: E}}\n        - {fail: {cause: c}}\n        - nope\n    expect:\n      status: Done\n      elapsed: about 1m\n      visits: {ask: many}\n",
    );
    let p = d.problems("approve.test.yaml");
    let want = [
        "approve.test.yaml:3:11: `name` must be a string, found an integer",
        "approve.test.yaml:4:12: `input` must be a mapping (the execution input, a JSON object), found a list",
        "approve.test.yaml:5:11: `seed` must be a whole number of 0 or more, found an integer",
        "approve.test.yaml:7:7: step \"decide\" is a choice step: only task steps take answers",
        "approve.test.yaml:9:21: `succeed` takes the output, a mapping (or nothing for the handler's), found a string",
        "approve.test.yaml:10:19: `after` must be a duration such as 45s, 1m30s, 2h, 1d or 500ms (a bare number is seconds), found \"soon\"",
        "approve.test.yaml:11:11: `drop` never answers: `after` has nothing to delay",
        "approve.test.yaml:12:11: `duplicate` reports again with the same token: it needs `succeed` or `fail`",
        "approve.test.yaml:13:25: an answer is one of succeed, fail, error or drop; this one already says `succeed`",
        "approve.test.yaml:14:18: `fail` needs `error:`, the error name (and `cause:`, optional)",
        "approve.test.yaml:15:11: unknown answer \"nope\" (expected one of: succeed, fail, error, drop)",
        "approve.test.yaml:17:15: unknown status \"Done\" (expected one of: Succeeded, Failed, TimedOut, Stopped, Running)",
        "approve.test.yaml:18:16: `elapsed` must be a duration such as 47s or 1h, optionally after <, <=, > or >= (\"<= 2m\"), found \"about 1m\"",
        "approve.test.yaml:19:21: a visit count must be a whole number of 0 or more, found a string",
    ];
    assert_eq!(p, want);
}

#[test]
fn answers_a_step_cannot_take_are_refused() {
    let d = Dir::new(&[
        ("call.yaml", CALL),
        (
            "call.test.yaml",
            "flow: call.yaml\ncases:\n  - name: a\n    tasks:\n      announce: [succeed]\n      call:\n        - succeed: {}\n          duplicate: true\n",
        ),
    ]);
    assert_eq!(
        d.problems("call.test.yaml"),
        [
            "call.test.yaml:5:7: step \"announce\" publishes with the requestResponse pattern: MNS accepting the message completes it, nothing answers it",
            "call.test.yaml:7:11: `duplicate` needs a task token, and step \"call\" uses the requestResponse pattern (no token): only waitForCallback tasks are reported to",
        ]
    );
    // A sub-flow task is answered by its child's tasks.
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let d = Dir::new(&[(
        "s.test.yaml",
        &format!(
            "flow: {}\ncases:\n  - name: a\n    tasks:\n      team-lead-review: [drop]\n",
            flows.join("subflow-approval.yaml").display()
        ),
    )]);
    let p = d.problems("s.test.yaml");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("s.test.yaml:5:7: step \"team-lead-review\" starts sub-flow `approval-review`: its child execution answers it; script the child's task steps instead"),
        "{p:?}"
    );
}

#[test]
fn a_flow_that_does_not_load_is_reported_in_both_files() {
    let d = Dir::new(&[
        (
            "bad.yaml",
            "version: v1\ntype: flow\nsteps:\n  - type: pas\n    name: p\n",
        ),
        ("bad.test.yaml", "flow: bad.yaml\ncases:\n  - name: a\n"),
        (
            "none.test.yaml",
            "flow: missing.yaml\ncases:\n  - name: a\n",
        ),
    ]);
    let p = d.problems("bad.test.yaml");
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].starts_with("bad.test.yaml:1:7: flow `"), "{p:?}");
    assert!(
        p[0].ends_with("bad.yaml` does not load (1 problem below)"),
        "{p:?}"
    );
    assert!(
        p[1].starts_with("bad.yaml:4:11: unknown step type \"pas\""),
        "{p:?}"
    );
    let p = d.problems("none.test.yaml");
    assert!(
        p[0].starts_with("none.test.yaml:1:7: cannot read flow `"),
        "{p:?}"
    );
}

#[test]
fn duplicate_case_names_and_bad_yaml() {
    let d = approve_with("  - name: a\n  - name: a\n");
    assert_eq!(
        d.problems("approve.test.yaml"),
        ["approve.test.yaml:4:5: duplicate case name \"a\" (first at line 3, column 5)"]
    );
    let d = Dir::new(&[("y.test.yaml", "flow: [\n")]);
    assert!(d.problems("y.test.yaml")[0].starts_with("y.test.yaml:2:1: not valid YAML"));
    let d = Dir::new(&[("e.test.yaml", "# nothing\n")]);
    assert_eq!(
        d.problems("e.test.yaml"),
        ["e.test.yaml:1:1: the test file is empty; it needs `flow:` and `cases:`"]
    );
}

#[test]
fn durations_read_and_print_the_same_way() {
    for (text, ms) in [
        ("45s", 45_000),
        ("1m30s", 90_000),
        ("2h", 7_200_000),
        ("1d2h", 93_600_000),
        ("500ms", 500),
        ("1.5s", 1_500),
        ("90", 90_000),
        ("0s", 0),
    ] {
        assert_eq!(spec::parse_duration(text), Some(ms), "{text}");
    }
    for bad in ["", "s", "1x", "-1s", "1h-2m", "1.2.3s"] {
        assert!(spec::parse_duration(bad).is_none(), "{bad}");
    }
    for (ms, text) in [
        (0, "0s"),
        (500, "500ms"),
        (1_500, "1.5s"),
        (47_000, "47s"),
        (90_000, "1m30s"),
        (3_600_000, "1h"),
        (93_600_000, "1d2h"),
    ] {
        assert_eq!(spec::fmt_ms(ms), text);
        assert_eq!(spec::parse_duration(text), Some(ms));
    }
}

#[test]
fn folders_give_their_test_files_and_flows_are_not_test_files() {
    assert!(is_test_file(Path::new("flows/a.test.yaml")));
    assert!(is_test_file(Path::new("a.test.yml")));
    assert!(!is_test_file(Path::new("flows/a.yaml")));
    assert!(!is_test_file(Path::new("test.yaml")));
    let d = approve_with("  - name: a\n");
    std::fs::create_dir(d.path("sub")).unwrap();
    std::fs::create_dir(d.path(".hidden")).unwrap();
    std::fs::write(d.path("sub/b.test.yml"), "").unwrap();
    std::fs::write(d.path(".hidden/c.test.yaml"), "").unwrap();
    let found = discover(&[d.dir.path().to_path_buf()]).unwrap();
    let names: Vec<String> = found
        .iter()
        .map(|p| p.strip_prefix(d.dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["approve.test.yaml", "sub/b.test.yml"]);
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        discover(&[empty.path().to_path_buf()]),
        Err(FlowTestError::NoFiles(_))
    ));
}

// ---- answers ---------------------------------------------------------------

#[test]
fn succeed_is_the_default_and_takes_an_output() {
    passes(
        "  - name: a\n    expect:\n      status: Failed\n      error: Refused\n      path: [ask, decide, refused]\n      elapsed: 0s\n",
    );
    passes(
        "  - name: a\n    tasks:\n      ask:\n        - succeed: {status: yes}\n    expect:\n      status: Succeeded\n      output_exact: {status: yes, result: ok}\n      path: [ask, decide, ok]\n",
    );
}

#[test]
fn fail_reports_a_failure_and_retries_run_on_virtual_time() {
    passes(
        "  - name: a\n    tasks:\n      ask:\n        - fail: {error: Busy, cause: try later}\n        - fail: {error: Busy}\n        - succeed: {status: yes}\n    expect:\n      status: Succeeded\n      visits: {ask: 3}\n      elapsed: 3s\n",
    );
    passes(
        "  - name: a\n    tasks:\n      ask:\n        - fail: {error: Nope, cause: not at all}\n    expect:\n      status: Failed\n      error: Nope\n      cause: not at\n      visits: {ask: 1}\n",
    );
}

#[test]
fn error_makes_mns_push_again_and_the_next_answer_applies() {
    // HTTP 500, then MNS retries 10 to 20 s later (BACKOFF_RETRY).
    passes(
        "  - name: a\n    tasks:\n      ask: [error, {succeed: {status: yes}}]\n    expect:\n      status: Succeeded\n      visits: {ask: 1}\n      elapsed: \">= 10s\"\n",
    );
    let f = failures_of(
        "  - name: a\n    tasks:\n      ask: [error, {succeed: {status: yes}}]\n    expect:\n      elapsed: \"< 10s\"\n",
    );
    assert_eq!(f.len(), 1);
    assert!(f[0].starts_with("elapsed: expected < 10s, got 1"), "{f:?}");
}

#[test]
fn drop_leaves_the_timeout_to_decide() {
    passes(
        "  - name: a\n    tasks:\n      ask: [drop]\n    expect:\n      status: Succeeded\n      output: {result: late}\n      path: [ask, late]\n      not_visited: [decide]\n      elapsed: 1m\n",
    );
}

#[test]
fn after_delays_the_report_and_a_timeout_at_the_same_instant_wins() {
    passes(
        "  - name: a\n    tasks:\n      ask:\n        - after: 59s\n          succeed: {status: yes}\n    expect:\n      output: {result: ok}\n      elapsed: 59s\n",
    );
    passes(
        "  - name: a\n    tasks:\n      ask:\n        - after: 60s\n          succeed: {status: yes}\n    expect:\n      output: {result: late}\n      elapsed: 1m\n",
    );
}

#[test]
fn duplicate_reports_are_checked_to_be_refused() {
    passes(
        "  - name: a\n    tasks:\n      ask:\n        - succeed: {status: yes}\n          duplicate: true\n    expect:\n      status: Succeeded\n",
    );
    passes(
        "  - name: a\n    tasks:\n      ask:\n        - after: 10s\n          fail: {error: No}\n          duplicate: true\n    expect:\n      status: Failed\n      error: No\n",
    );
}

#[test]
fn function_invocations_take_answers_too() {
    let d = Dir::new(&[
        ("call.yaml", CALL),
        (
            "call.test.yaml",
            "flow: call.yaml\ncases:\n  - name: slow call\n    tasks:\n      call:\n        - after: 3s\n          succeed: {n: 1}\n    expect:\n      output: {n: 1}\n      elapsed: 3s\n  - name: a 500 is retried\n    tasks:\n      call: [error, succeed]\n    expect:\n      status: Succeeded\n      visits: {call: 2}\n      elapsed: 5s\n  - name: a failure\n    tasks:\n      call:\n        - fail: {error: Boom}\n    expect:\n      status: Failed\n      error: Boom\n      not_visited: [announce]\n",
        ),
    ]);
    let (v, out, _) = d.run(&Options::default());
    assert_eq!(v, Verdict::Passed, "{out}");
}

#[test]
fn a_case_that_can_never_end_says_so_and_running_can_be_expected() {
    let d = Dir::new(&[
        ("seed.yaml", crate::fdl::bundled::SEED_FLOW),
        (
            "seed.test.yaml",
            "flow: seed.yaml\ncases:\n  - name: hangs\n    tasks:\n      mns-topic-task: [drop]\n    expect:\n      status: Running\n  - name: hangs unexpectedly\n    tasks:\n      mns-topic-task: [drop]\n    expect:\n      status: Succeeded\n  - name: bounded\n    max_time: 30s\n    tasks:\n      mns-topic-task:\n        - after: 1m\n          succeed: {}\n    expect:\n      status: Succeeded\n",
        ),
    ]);
    let (v, out, _) = d.run(&Options::default());
    assert_eq!(v, Verdict::Failed);
    assert!(out.contains("✓ hangs\n"), "{out}");
    assert!(
        out.contains("end: expected the execution to end Succeeded"),
        "{out}"
    );
    assert!(
        out.contains("got it is still Running and nothing more can happen: step `mns-topic-task` waits for a callback that never comes"),
        "{out}"
    );
    assert!(
        out.contains("got it is still Running after 30s of virtual time, the case's max_time"),
        "{out}"
    );
}

// ---- assertions that fail --------------------------------------------------

#[test]
fn every_assertion_names_what_differs() {
    let f = failures_of(
        "  - name: a\n    tasks:\n      ask:\n        - succeed: {status: yes}\n    expect:\n      status: Failed\n      output: {result: nope}\n      error: Refused\n      cause: never\n      path: [ask, decide, refused]\n      visits: {ask: 2, decide: 0}\n      not_visited: [ok]\n      elapsed: 1s\n",
    );
    assert_eq!(
        f,
        [
            "status: expected Failed, got Succeeded",
            "error: expected Refused, got no error",
            "cause: expected a cause containing \"never\", got no error",
            "output: expected {\"result\":\"nope\"} (subset), got {\"status\":\"yes\",\"result\":\"ok\"}; at $.result: expected \"nope\", got \"ok\"",
            "path: expected ask → decide → refused, got ask → decide → ok (step 3: expected refused, entered ok)",
            "visits.ask: expected 2 times, got 1 time",
            "visits.decide: expected 0 times, got 1 time",
            "not_visited: expected ok never entered, got ok entered (event #10)",
            "elapsed: expected 1s, got 0s",
        ]
    );
    let f = failures_of(
        "  - name: a\n    tasks:\n      ask:\n        - succeed: {status: yes}\n    expect:\n      output_exact: {result: ok}\n      path: [ask]\n",
    );
    assert_eq!(
        f,
        [
            "output_exact: expected {\"result\":\"ok\"}, got {\"status\":\"yes\",\"result\":\"ok\"}; $.status is not expected (it is \"yes\")",
            "path: expected ask, got ask → decide → ok (then it went on to decide)",
        ]
    );
}

#[test]
fn a_wrong_expected_output_fails_the_run_and_names_the_difference() {
    let d = approve_with(
        "  - name: right\n    tasks:\n      ask: [{succeed: {status: yes}}]\n    expect:\n      output: {result: ok}\n  - name: wrong\n    tasks:\n      ask: [{succeed: {status: yes}}]\n    expect:\n      output: {result: approved}\n",
    );
    let (v, out, err) = d.run(&Options::default());
    assert_eq!(v, Verdict::Failed);
    assert_eq!(v.code(), 1);
    assert!(err.is_empty(), "{err}");
    assert!(out.contains("  ✓ right\n"), "{out}");
    assert!(out.contains("  ✗ wrong\n"), "{out}");
    assert!(
        out.contains(r#"at $.result: expected "approved", got "ok""#),
        "{out}"
    );
    assert!(out.contains("path taken: ask → decide → ok"), "{out}");
    assert!(out.contains("last events:"), "{out}");
    assert!(out.contains("ExecutionSucceeded"), "{out}");
    assert!(out.contains("approve.test.yaml:8:5"), "{out}");
    assert!(
        out.contains("2 cases in 1 file: 1 passed, 1 failed"),
        "{out}"
    );
    // Plain unless asked: no escape codes.
    assert!(!out.contains('\x1b'), "{out}");
    let (_, coloured, _) = d.run(&Options {
        color: true,
        ..Options::default()
    });
    assert!(coloured.contains("\x1b[1;31m✗\x1b[0m"), "{coloured}");
}

#[test]
fn an_invalid_file_runs_nothing_and_exits_2() {
    let d = approve_with("  - name: a\n    tasks:\n      nope: [drop]\n");
    let (v, out, err) = d.run(&Options::default());
    assert_eq!(v, Verdict::Invalid);
    assert_eq!(v.code(), 2);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("approve.test.yaml:5:7: unknown step \"nope\""),
        "{err}"
    );
    assert!(err.contains("1 invalid file: no case ran"), "{err}");
}

#[test]
fn filter_selects_cases() {
    let d = approve_with("  - name: first yes\n  - name: second\n  - name: third yes\n");
    let (_, out, _) = d.run(&Options {
        filter: Some("yes".into()),
        ..Options::default()
    });
    assert!(
        out.contains("first yes") && out.contains("third yes"),
        "{out}"
    );
    assert!(!out.contains("second"), "{out}");
    assert!(out.contains("2 cases in 1 file"), "{out}");
    let (v, out, _) = d.run(&Options {
        filter: Some("zzz".into()),
        ..Options::default()
    });
    assert_eq!(v, Verdict::Failed);
    assert!(out.contains("no case matches --filter \"zzz\""), "{out}");
}

// ---- determinism and divergence ---------------------------------------------

#[test]
fn the_same_file_gives_the_same_result_on_any_number_of_threads() {
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let files = load_all(&discover(&[flows]).unwrap()).unwrap();
    let text = |threads| {
        let r = run_cases(
            &files,
            &Options {
                threads,
                ..Options::default()
            },
            true,
        );
        r.iter()
            .map(|c| {
                let hits: Vec<String> = c
                    .coverage
                    .iter()
                    .map(|(f, t)| format!("{f}:{:?}", t.hits))
                    .collect();
                format!(
                    "{}/{} {} {:?} {} {:?} {}",
                    c.file,
                    c.case,
                    c.name,
                    c.status,
                    c.elapsed,
                    c.failures,
                    hits.join(",")
                )
            })
            .collect::<Vec<_>>()
    };
    let one = text(1);
    assert!(one.len() >= 20);
    assert_eq!(one, text(4));
    assert_eq!(one, text(4));
}

#[test]
fn replay_finds_where_a_failing_case_diverged() {
    let d = approve_with(
        "  - name: takes the default\n    tasks:\n      ask: [{succeed: {status: no}}]\n    expect:\n      path: [ask, decide, ok]\n",
    );
    let r = replay(
        &d.path("approve.test.yaml"),
        "takes the default",
        &Defaults::default(),
    )
    .unwrap();
    assert!(!r.passed);
    let x = r.sim.engine.execution(r.exec).unwrap();
    let (step, event) = r.diverged.unwrap();
    assert_eq!(x.flow.step(step).name, "refused");
    assert_eq!(x.history[event].step, Some(step));
    let failure = r.failure.unwrap();
    assert!(
        failure.starts_with("path: expected ask → decide → ok"),
        "{failure}"
    );
    let Err(FlowTestError::NoCase { hint, .. }) = replay(
        &d.path("approve.test.yaml"),
        "takes the defaults",
        &Defaults::default(),
    ) else {
        panic!("found");
    };
    assert_eq!(hint, "; did you mean \"takes the default\"?");
}

// ---- coverage, JUnit, skeletons --------------------------------------------

#[test]
fn coverage_lists_what_was_never_exercised() {
    let d = approve_with(
        "  - name: yes\n    tasks:\n      ask: [{succeed: {status: yes}}]\n  - name: busy then yes\n    tasks:\n      ask: [{fail: {error: Busy}}, {succeed: {status: yes}}]\n",
    );
    let json_path = d.path("cov.json");
    let (v, out, _) = d.run(&Options {
        coverage: true,
        coverage_json: Some(json_path.clone()),
        min_coverage: Some(90.0),
        ..Options::default()
    });
    assert_eq!(v, Verdict::Failed, "{out}");
    assert!(out.contains("  approve   55.6%    5/9"), "{out}");
    for never in [
        "never: catch ask: [FnF.TaskTimeout] -> late",
        "never: choice decide: default",
        "never: step late",
        "never: step refused",
    ] {
        assert!(out.contains(never), "{never}\n{out}");
    }
    assert!(!out.contains("never: retry ask"), "{out}");
    assert!(!out.contains("never: choice decide: branch 1"), "{out}");
    assert!(
        out.contains("coverage below --min-coverage 90%: approve 55.6%"),
        "{out}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json_path).unwrap()).unwrap();
    assert_eq!(j["covered"], 5);
    assert_eq!(j["total"], 9);
    let items = j["flows"][0]["items"].as_array().unwrap();
    let retry = items.iter().find(|i| i["kind"] == "retry").unwrap();
    assert_eq!(retry["hits"], 1);
    assert_eq!(retry["step"], "ask");
    let default = items.iter().find(|i| i["kind"] == "default").unwrap();
    assert_eq!(default["hits"], 0);
}

#[test]
fn the_examples_are_fully_covered() {
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let mut out = Vec::new();
    let mut err = Vec::new();
    let v = test(
        &[flows],
        &Options {
            min_coverage: Some(100.0),
            coverage: true,
            ..Options::default()
        },
        &mut out,
        &mut err,
    )
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(v, Verdict::Passed, "{out}{}", String::from_utf8_lossy(&err));
    assert!(!out.contains("never:"), "{out}");
}

#[test]
fn junit_parses_back_with_one_suite_per_file() {
    use quick_xml::Reader;
    use quick_xml::events::Event;
    let d = approve_with(
        "  - name: ok <&>\n    tasks:\n      ask: [{succeed: {status: yes}}]\n  - name: wrong\n    expect:\n      status: Succeeded\n",
    );
    std::fs::write(
        d.path("second.test.yaml"),
        "flow: approve.yaml\ncases:\n  - name: only\n",
    )
    .unwrap();
    let xml_path = d.path("out/junit.xml");
    let (v, _, _) = d.run(&Options {
        junit: Some(xml_path.clone()),
        ..Options::default()
    });
    assert_eq!(v, Verdict::Failed);
    let xml = std::fs::read_to_string(xml_path).unwrap();
    let mut r = Reader::from_str(&xml);
    let mut suites = Vec::new();
    let mut cases = Vec::new();
    let mut failures = Vec::new();
    let mut in_failure = false;
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |k: &str| {
                    e.try_get_attribute(k)
                        .unwrap()
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                match e.name().as_ref() {
                    b"testsuite" => suites.push((attr("name").unwrap(), attr("tests").unwrap())),
                    b"testcase" => cases.push(attr("name").unwrap()),
                    b"failure" => {
                        failures.push(attr("message").unwrap());
                        in_failure = true;
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_failure => {
                let text = t.decode().unwrap();
                assert!(text.contains("expected Succeeded"), "{text}");
                in_failure = false;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites.len(), 2);
    assert!(suites[0].0.ends_with("approve.test.yaml") && suites[0].1 == "2");
    assert!(suites[1].0.ends_with("second.test.yaml") && suites[1].1 == "1");
    assert_eq!(cases, ["ok <&>", "wrong", "only"]);
    assert_eq!(failures, ["status: expected Succeeded, got Failed"]);
}

#[test]
fn init_writes_a_skeleton_that_loads_runs_and_covers() {
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let d = Dir::new(&[]);
    for (flow, cases, full) in [
        ("retry-then-catch.yaml", 2, true),
        ("subflow-approval.yaml", 5, true),
        ("approval-with-timeout.yaml", 4, false),
    ] {
        let src = flows.join(flow);
        let target = d.path(&flow.replace(".yaml", ".test.yaml"));
        std::fs::copy(&src, d.path(flow)).unwrap();
        if flow == "subflow-approval.yaml" {
            std::fs::copy(
                flows.join("approval-review.yaml"),
                d.path("approval-review.yaml"),
            )
            .unwrap();
        }
        let text = init::skeleton(&d.path(flow), &target, &Defaults::default()).unwrap();
        assert_eq!(text.matches("\n  - name: ").count(), cases, "{text}");
        assert_eq!(!text.contains("TODO"), full, "{text}");
        std::fs::write(&target, &text).unwrap();
        let file = d
            .load(target.file_name().unwrap().to_str().unwrap())
            .unwrap_or_else(|p| panic!("{p:?}\n{text}"));
        let r = run_cases(std::slice::from_ref(&file), &Options::default(), true);
        assert!(r.iter().all(CaseReport::passed), "{text}");
        if full {
            let cov = aggregate_coverage(std::slice::from_ref(&file), &r);
            assert_eq!(cov[0].tally.percent(), 100.0, "{text}");
        }
    }
    let text = std::fs::read_to_string(d.path("approval-with-timeout.test.yaml")).unwrap();
    assert!(
        text.contains("  - name: \"request-approval: catch FnF.TaskTimeout -> escalate\"\n    input: {}\n    tasks:\n      request-approval:\n        - drop\n"),
        "{text}"
    );
    assert!(
        text.contains("# TODO: this case does not exercise `choice decide: default` yet"),
        "{text}"
    );
}

#[test]
fn bench_cases_all_pass() {
    let f = bench(40, 2).unwrap();
    assert_eq!((f.cases, f.passed), (40, 40));
}
