//! The TUI end to end in a real terminal: the `flowsim` binary in a detached
//! tmux session (80x24 to 120x40), driven with send-keys and read with
//! capture-pane.
//! Skipped (with a message) when tmux is not installed, except under CI
//! (`CI` set), where .ci/run installs it and its absence fails the test.
//!
//! Every wait polls the screen up to a deadline; no fixed sleep is ever an
//! assertion.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Every session runs on a tmux server of its own (`-L` its name), so the
/// tests never touch the user's tmux or each other's.
fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `cmd` in a detached session `name` (on its own server) at the
/// given size.
fn start(name: &str, width: u16, height: u16, cmd: &str) -> Session {
    let status = Command::new("tmux")
        .args([
            "-L",
            name,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            name,
        ])
        .args(["-x", &width.to_string(), "-y", &height.to_string()])
        .arg(cmd)
        .env("TERM", "xterm-256color")
        .status()
        .expect("tmux starts");
    assert!(status.success());
    Session(name.to_owned())
}

struct Session(String);

impl Session {
    fn screen(&self) -> String {
        tmux(&self.0, &["capture-pane", "-p", "-t", &self.0])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.0.as_str()];
        args.extend_from_slice(keys);
        tmux(&self.0, &args);
    }

    /// Polls the screen until `pred` holds; panics with the screen after
    /// the deadline.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The server is this session's own: it ends with it.
        tmux(&self.0, &["kill-server"]);
    }
}

#[test]
fn seed_flow_waits_then_succeeds_in_a_real_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        // In CI the test must run: .ci/run installs tmux, so its absence is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing in CI; .ci/run should have installed it"
        );
        eprintln!(
            "SKIPPED: tmux is not installed (CI installs it); the TUI end-to-end test did not run"
        );
        return;
    }
    let bin = env!("CARGO_BIN_EXE_flowsim");
    let name = format!("flowsim-e2e-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("{name}.log"));
    // A shell runs the TUI, then prints a marker, so a restored terminal is
    // visible as the marker on the normal screen.
    let cmd = format!(
        "{bin} tui --handler manual --seed 7 --epoch 2026-01-01T00:00:00Z --log {}; echo FLOWSIM-EXITED-$?; sleep 60",
        log.display()
    );
    let s = start(&name, 100, 30, &cmd);
    s.wait_for("the TUI", |t| t.contains("No executions yet"));
    s.keys(&["Space"]);
    s.wait_for("STEP mode", |t| t.contains(" STEP "));
    s.keys(&["n"]);
    s.wait_for("the input editor", |t| {
        t.contains("New execution") && t.contains(r#"{"messageBody": "hello world"}"#)
    });
    s.keys(&["Enter"]);
    s.wait_for("the execution", |t| t.contains("Running"));
    // Step until the graph shows the task waiting with its token. (The
    // function is manual, so an extra step never answers the callback.)
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let screen = s.screen();
        if screen.contains("◷ mns-topic-task") && screen.contains("waiting djE") {
            break;
        }
        assert!(Instant::now() < deadline, "never waited:\n{screen}");
        s.keys(&["s"]);
        std::thread::sleep(Duration::from_millis(150));
    }
    s.keys(&["Y"]);
    let screen = s.wait_for("success", |t| {
        t.contains("✓ Succeeded") && t.contains(r#"{"status":"success"}"#)
    });
    assert!(screen.contains("✓ mns-topic-task"), "{screen}");
    s.keys(&["q"]);
    let screen = s.wait_for("the shell again", |t| t.contains("FLOWSIM-EXITED-0"));
    // The alternate screen is gone: none of the TUI is left on the pane.
    assert!(!screen.contains("Executions"), "{screen}");
    let _ = std::fs::remove_file(log);
}

#[test]
fn top_level_options_open_the_tui_with_the_function_off() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing in CI; .ci/run should have installed it"
        );
        eprintln!("SKIPPED: tmux is not installed (CI installs it)");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_flowsim");
    let name = format!("flowsim-e2e-top-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("{name}.log"));
    // No `tui` word: the TUI's options work at the top level.
    let cmd = format!(
        "{bin} --handler none --seed 7 --step --log {}; echo FLOWSIM-EXITED-$?; sleep 60",
        log.display()
    );
    let s = start(&name, 80, 24, &cmd);
    let screen = s.wait_for("the TUI", |t| t.contains("No executions yet"));
    assert!(screen.contains("function none"), "{screen}");
    assert!(screen.contains(" STEP "), "{screen}");
    s.keys(&["h"]);
    s.wait_for("the explanation", |t| {
        t.contains("no simulated function to cycle")
    });
    s.keys(&["q"]);
    s.wait_for("the shell again", |t| t.contains("FLOWSIM-EXITED-0"));
    let _ = std::fs::remove_file(log);
}

/// Whether tmux is here; when not, outside CI the test is skipped.
fn have_tmux() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tmux is missing in CI; .ci/run should have installed it"
    );
    eprintln!("SKIPPED: tmux is not installed (CI installs it)");
    false
}

/// 3000 characters typed in one burst all reach the editor at once (not
/// 1 KiB per later key), keys after the burst are not held behind it, and
/// a bracketed paste goes in as text, its line breaks never submitting.
#[test]
fn a_burst_of_input_and_a_paste_reach_the_editor_whole() {
    if !have_tmux() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_flowsim");
    let name = format!("flowsim-e2e-burst-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("{name}.log"));
    let cmd = format!(
        "{bin} --step --seed 7 --log {}; echo FLOWSIM-EXITED-$?; sleep 60",
        log.display()
    );
    let s = start(&name, 100, 30, &cmd);
    s.wait_for("the TUI", |t| t.contains("No executions yet"));
    s.keys(&["n"]);
    s.wait_for("the input editor", |t| t.contains("New execution"));
    s.keys(&["-N", "40", "BSpace"]);
    s.wait_for("an empty input", |t| t.contains("✗ invalid JSON"));
    let burst = format!(r#"{{"messageBody": "{}"}}"#, "a".repeat(3000));
    s.keys(&["-l", &burst]);
    s.wait_for("the whole burst", |t| {
        t.contains(r#"aaaa"}"#) && t.contains("✓ valid JSON object")
    });
    // A key typed after the burst acts at once.
    s.keys(&["Enter"]);
    s.wait_for("the execution", |t| t.contains("Running"));
    // A bracketed paste with line breaks: text in the editor, no submit.
    s.keys(&["n"]);
    s.wait_for("the input editor", |t| t.contains("New execution"));
    s.keys(&["-N", "3100", "BSpace"]);
    s.wait_for("an empty input", |t| t.contains("✗ invalid JSON"));
    tmux(&s.0, &["set-buffer", "{\"a\":\n\"pasted\"}\n"]);
    tmux(&s.0, &["paste-buffer", "-p", "-t", &s.0]);
    let screen = s.wait_for("the pasted text", |t| t.contains(r#"{"a": "pasted"}"#));
    assert!(screen.contains("New execution"), "{screen}");
    assert!(screen.contains("✓ valid JSON object"), "{screen}");
    // Apart: Escape and q in one burst read as Alt-q.
    s.keys(&["Escape"]);
    s.wait_for("the editor closed", |t| t.contains("cancelled"));
    s.keys(&["q"]);
    s.wait_for("the shell again", |t| t.contains("FLOWSIM-EXITED-0"));
    let _ = std::fs::remove_file(log);
}

#[test]
fn a_pipe_is_told_to_use_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_flowsim"))
        .arg("tui")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("flowsim run"), "{err}");
}

/// The first five minutes: `flowsim` with no arguments but determinism
/// (seed, epoch, log), at 80x24. The function is manual by default: the
/// first `n` Enter leaves the task waiting for its callback, its token on
/// screen and the footer naming the key that reports success; that key
/// ends the execution Succeeded.
#[test]
fn the_first_run_waits_for_you_and_one_key_succeeds() {
    if !have_tmux() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_flowsim");
    let name = format!("flowsim-e2e-first-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("{name}.log"));
    let cmd = format!(
        "{bin} --seed 7 --epoch 2026-01-01T00:00:00Z --log {}; echo FLOWSIM-EXITED-$?; sleep 60",
        log.display()
    );
    let s = start(&name, 80, 24, &cmd);
    let screen = s.wait_for("the TUI", |t| t.contains("No executions yet"));
    assert!(screen.contains("function manual"), "{screen}");
    s.keys(&["n"]);
    s.wait_for("the input editor", |t| {
        t.contains("New execution") && t.contains(r#"{"messageBody": "hello world"}"#)
    });
    s.keys(&["Enter"]);
    let screen = s.wait_for("the task waiting with its token", |t| {
        t.contains("◷ mns-topic-task") && t.contains("waiting djE")
    });
    let footer = screen.lines().last().unwrap_or("");
    assert!(footer.contains("Y success"), "{screen}");
    assert!(footer.contains("f fail"), "{screen}");
    assert!(
        footer.contains("? help") && footer.contains("q quit"),
        "{screen}"
    );
    // C copies the token with OSC 52: tmux keeps it (set-clipboard on).
    tmux(&s.0, &["set-option", "-g", "set-clipboard", "on"]);
    s.keys(&["C"]);
    s.wait_for("the copy", |t| t.contains("copied the task token"));
    let copied = tmux(&s.0, &["show-buffer"]);
    assert!(copied.starts_with("djEjbW5z"), "{copied}");
    s.keys(&["Y"]);
    let screen = s.wait_for("success", |t| {
        t.contains("Succeeded") && t.contains("✓ mns-topic-task")
    });
    assert!(screen.contains("✓1 succeeded"), "{screen}");
    // Resized while running, then quit: nothing of the TUI stays behind.
    tmux(
        &s.0,
        &["resize-window", "-t", &s.0, "-x", "120", "-y", "40"],
    );
    s.wait_for("the wider screen", |t| t.contains("✓ Succeeded 88db"));
    tmux(&s.0, &["resize-window", "-t", &s.0, "-x", "80", "-y", "24"]);
    s.wait_for("the narrower screen", |t| !t.contains("✓ Succeeded 88db"));
    s.keys(&["q"]);
    let screen = s.wait_for("the shell again", |t| t.contains("FLOWSIM-EXITED-0"));
    for tui in ["Executions", "flowsim │", "? help", "mns-topic-task", "━━━"] {
        assert!(!screen.contains(tui), "{tui} left on the screen:\n{screen}");
    }
    let _ = std::fs::remove_file(log);
}

/// Time: two executions of approval-with-timeout waiting on a manual
/// function, `t` jumps from timer to timer (refused while envelopes are
/// due now, saying how many: `s` delivers them) until the first one's
/// `request-approval` times out. Its History tab shows TaskTimedOut exactly
/// one hour after TaskScheduled (the task's `timeoutSeconds: 3600`), not at
/// the flow's day.
#[test]
fn t_and_s_reach_a_task_timeout_one_hour_after_it_was_scheduled() {
    if !have_tmux() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_flowsim");
    let name = format!("flowsim-e2e-time-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("{name}.log"));
    let cmd = format!(
        "{bin} tui flows/approval-with-timeout.yaml --step --seed 7 \
         --epoch 2026-01-01T00:00:00Z --log {}; echo FLOWSIM-EXITED-$?; sleep 60",
        log.display()
    );
    let s = start(&name, 120, 40, &cmd);
    s.wait_for("the TUI", |t| t.contains("No executions yet"));
    for n in 1..=2 {
        s.keys(&["n"]);
        s.wait_for("the input editor", |t| {
            t.contains("New execution") && t.contains(r#""requestId": "r-42""#)
        });
        s.keys(&["Enter"]);
        s.wait_for("the execution", |t| {
            t.contains(&format!("Executions ({n})"))
        });
    }
    // The status line (second to last): what the last key did.
    let status = |t: &str| t.lines().rev().nth(1).unwrap_or("").to_owned();
    let mut refusals = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let screen = s.screen();
        // The first execution escalates (and succeeds) once its task timed out.
        if screen.contains("✓1 succeeded") {
            break;
        }
        assert!(Instant::now() < deadline, "never timed out:\n{screen}");
        let before = status(&screen);
        let due = before.contains("due now");
        if due {
            refusals += 1;
            assert!(
                before.contains("envelopes are due now: deliver them first")
                    || before.contains("envelope is due now: deliver it first"),
                "{screen}"
            );
        }
        s.keys(&[if due { "s" } else { "t" }]);
        // Until the key is handled (the status line changes), briefly.
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until && status(&s.screen()) == before {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(refusals > 0, "t was never refused with envelopes due");
    // The first execution (the oldest: the last row), its History tab, the
    // events walked from the last up.
    s.keys(&["G", "3", "Tab", "Tab"]);
    s.wait_for("the history", |t| t.contains("ExecutionSucceeded"));
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..30 {
        let screen = s.screen();
        seen.extend(
            screen
                .lines()
                .filter(|l| l.contains("TaskTimedOut") || l.contains("TaskScheduled"))
                .map(str::to_owned),
        );
        if seen.iter().any(|l| l.contains("TaskScheduled")) {
            break;
        }
        s.keys(&["k"]);
        std::thread::sleep(Duration::from_millis(60));
    }
    let all = seen.join("\n");
    assert!(
        seen.iter()
            .any(|l| l.contains("+00:00:00.000 TaskScheduled") && l.contains("request-approval")),
        "{all}"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("+01:00:00.000 TaskTimedOut") && l.contains("request-approval")),
        "{all}"
    );
    assert!(!all.contains("+1d"), "a day later:\n{all}");
    s.keys(&["q"]);
    s.wait_for("the shell again", |t| t.contains("FLOWSIM-EXITED-0"));
    let _ = std::fs::remove_file(log);
}

/// `flowsim tui --test FILE --case NAME` on a failing case: the case is
/// replayed, its execution selected, the step where it diverged picked and
/// shown as of that moment, the failure on the status line; time travel
/// works from there.
#[test]
fn a_failing_test_case_opens_at_the_step_where_it_diverged() {
    if !have_tmux() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_flowsim");
    let name = format!("flowsim-e2e-case-{}", std::process::id());
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/approval-with-timeout.yaml"),
        dir.join("approval-with-timeout.yaml"),
    )
    .unwrap();
    // The approver declines, the case expects an approval: the run goes
    // to `rejected` where the case expected `approved`.
    std::fs::write(
        dir.join("approval.test.yaml"),
        "flow: approval-with-timeout.yaml\ncases:\n  - name: expects an approval\n    input: {requestId: r-42, amount: 1200}\n    tasks:\n      request-approval:\n        - succeed: {status: declined}\n    expect:\n      status: Succeeded\n      path: [request-approval, decide, approved]\n",
    )
    .unwrap();
    let cmd = format!(
        "{bin} tui --test {} --case 'expects an approval' --log {}; echo FLOWSIM-EXITED-$?; sleep 60",
        dir.join("approval.test.yaml").display(),
        dir.join("tui.log").display()
    );
    let s = start(&name, 110, 32, &cmd);
    let screen = s.wait_for("the case", |t| {
        t.contains(
            "test case \"expects an approval\" diverged at step rejected: status: expected Succeeded, got Failed",
        )
    });
    // The case's execution, the diverging step on the Step tab, as of the
    // event that entered it.
    assert!(
        screen.contains("approval-with-timeout · expects-an-approval"),
        "{screen}"
    );
    assert!(screen.contains("Step    rejected  fail"), "{screen}");
    assert!(screen.contains("▶ rejected"), "{screen}");
    assert!(screen.contains("⟲ event 10 of 12"), "{screen}");
    // Time travel goes on from there.
    s.keys(&["]"]);
    s.wait_for("the next event", |t| t.contains("⟲ event 11 of 12"));
    s.keys(&["q"]);
    s.wait_for("the shell again", |t| t.contains("FLOWSIM-EXITED-0"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Both flow languages in one TUI: `flowsim tui flows/cloudflow/
/// tests/fixtures/layout/choice.yaml` loads the CloudFlow examples and an
/// FDL flow side by side; the picker lists both kinds; the CloudFlow seed's
/// graph shows its typed box; `n` Enter starts it with the file's sample
/// input, its task waits with its token, and `Y` ends it Succeeded. Two
/// files defining one flow name (`flows/` and `flows/cloudflow/` hold an
/// FDL example and its CloudFlow version of the same name) are refused
/// before the terminal is taken, naming both files.
#[test]
fn cloudflow_and_fdl_flows_side_by_side_in_a_real_terminal() {
    let bin = env!("CARGO_BIN_EXE_flowsim");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(bin)
        .args(["tui", "flows/", "flows/cloudflow/"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "flows/cloudflow/approval-review.yaml: the flow `approval-review` is already defined by flows/approval-review.yaml"
        ),
        "{err}"
    );
    if !have_tmux() {
        return;
    }
    let name = format!("flowsim-e2e-cloudflow-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("{name}.log"));
    let cmd = format!(
        "cd {root} && {bin} tui flows/cloudflow/ tests/fixtures/layout/choice.yaml --handler manual --seed 7 --epoch 2026-01-01T00:00:00Z --log {}; echo FLOWSIM-EXITED-$?; sleep 60",
        log.display()
    );
    let s = start(&name, 80, 24, &cmd);
    s.wait_for("the TUI", |t| t.contains("No executions yet"));
    s.keys(&["F"]);
    s.wait_for("the picker with both kinds", |t| {
        t.contains("choice") && t.contains("poll-until-ready")
    });
    for c in "mns-topic".chars() {
        s.keys(&["-l", &c.to_string()]);
    }
    s.keys(&["Enter"]);
    let screen = s.wait_for("the CloudFlow seed's graph", |t| {
        t.contains("flow mns-topic-callback") && t.contains("○ mns-topic-task")
    });
    assert!(screen.contains("┌ Task "), "{screen}");
    s.keys(&["n"]);
    s.wait_for("the input editor", |t| {
        t.contains("New execution") && t.contains(r#"{"messageBody": "hello world"}"#)
    });
    s.keys(&["Enter"]);
    s.wait_for("the task waiting with its token", |t| {
        t.contains("◷ mns-topic-task") && t.contains("waiting ")
    });
    s.keys(&["Y"]);
    let screen = s.wait_for("success", |t| {
        t.contains("Succeeded") && t.contains("✓ mns-topic-task")
    });
    assert!(screen.contains("✓1 succeeded"), "{screen}");
    s.keys(&["q"]);
    s.wait_for("the shell again", |t| t.contains("FLOWSIM-EXITED-0"));
    let _ = std::fs::remove_file(log);
}

/// `tui --data`: a CloudFlow execution answered in the TUI is there again
/// after quitting and starting over on the same file.
#[test]
fn the_tui_keeps_its_executions_in_a_data_file() {
    if !have_tmux() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_flowsim");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tui.db");
    let flow = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/flows/cloudflow/mns-topic-callback.yaml"
    );
    let name = format!("flowsim-e2e-data-{}", std::process::id());
    let log = dir.path().join("tui.log");
    let cmd = format!(
        "{bin} tui {flow} --data {} --log {}; echo FLOWSIM-EXITED-$?; sleep 60",
        data.display(),
        log.display()
    );
    let s = start(&name, 100, 30, &cmd);
    s.wait_for("the TUI", |t| t.contains("No executions yet"));
    s.keys(&["n"]);
    s.wait_for("the input editor", |t| t.contains("New execution"));
    s.keys(&["Enter"]);
    s.wait_for("the task waiting", |t| t.contains("◷ mns-topic-task"));
    s.keys(&["Y"]);
    s.wait_for("success", |t| t.contains("✓1 succeeded"));
    s.keys(&["q"]);
    s.wait_for("the shell again", |t| t.contains("FLOWSIM-EXITED-0"));
    drop(s);
    let name = format!("{name}-again");
    let s = start(&name, 100, 30, &cmd);
    let screen = s.wait_for("the execution kept", |t| t.contains("✓1 succeeded"));
    assert!(screen.contains("Executions (1)"), "{screen}");
}
