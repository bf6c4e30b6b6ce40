#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `flowsim serve --data`: the simulated cloud survives a SIGKILL. A
//! thousand executions wait for callbacks whose tokens sit in queue
//! messages; timers (a task timeout, a wait) are pending; the process is
//! killed and started again on the same file; every token is then
//! reported and every execution ends Succeeded exactly once, the timers
//! fire at their virtual times, the other messages are still there, and
//! executions `--retain` evicts are answered from the file.
//!
//! Every wait polls up to a deadline; no sleep is an assertion.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const CALLBACK_FLOW: &str = "version: v1
type: flow
steps:
  - type: task
    name: ask
    resourceArn: acs:mns:::/queues/callbacks/messages
    pattern: waitForCallback
    timeoutSeconds: 86400
    inputMappings:
      - target: n
        source: $input.n
      - target: tok
        source: $context.task.token
    serviceParams:
      MessageBody: $
";

/// A task nobody answers: it times out 200 virtual seconds after it starts.
const TIMEOUT_FLOW: &str = "version: v1
type: flow
steps:
  - type: task
    name: unanswered
    resourceArn: acs:mns:::/queues/nobody/messages
    pattern: waitForCallback
    timeoutSeconds: 200
    serviceParams:
      MessageBody: $
    catch:
      - errors: [FnF.TaskTimeout]
        goto: late
  - type: pass
    name: late
    end: true
";

/// A wait of 300 virtual seconds.
const WAIT_FLOW: &str = "version: v1
type: flow
steps:
  - type: wait
    name: hold
    duration: 300
";

/// Virtual seconds per wall second: the timers above fire 2 and 3 wall
/// seconds after they start.
const SPEED: &str = "100";

const N: usize = 1000;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_flowsim")
}

/// A one-shot HTTP request; answers (status, body).
fn http(addr: &str, method: &str, target: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let content_type = if body.is_empty() || body.starts_with('<') {
        ""
    } else {
        "Content-Type: application/x-www-form-urlencoded\r\n"
    };
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

fn fnf(addr: &str, params: &str) -> Value {
    let (status, body) = http(addr, "POST", "/?Version=2019-03-15", params);
    assert_eq!(status, 200, "{params}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A running `flowsim serve`: its address, its stdout lines so far.
struct Served {
    child: Child,
    addr: String,
    stdout: Arc<Mutex<Vec<String>>>,
}

fn serve(data: &Path, flows: &Path) -> Served {
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--handler", "none"])
        .args(["--speed", SPEED, "--retain", "10", "--seed", "5"])
        .arg("--data")
        .arg(data)
        .arg(flows)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The request log goes to stderr: drain it, or the server blocks on
    // a full pipe.
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("flowsim: serving on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let stdout = Arc::new(Mutex::new(vec![first]));
    let seen = stdout.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            seen.lock().unwrap().push(line);
        }
    });
    Served {
        child,
        addr,
        stdout,
    }
}

impl Served {
    /// Waits for a start-up line containing `text`.
    fn line(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(l) = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(text))
            {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with `{text}`: {:?}",
                self.stdout.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let at = xml.find(&open)? + open.len();
    let end = xml[at..].find(&format!("</{tag}>"))?;
    Some(&xml[at..at + end])
}

fn describe(addr: &str, flow: &str, name: &str) -> Value {
    fnf(
        addr,
        &format!("Action=DescribeExecution&FlowName={flow}&ExecutionName={name}"),
    )
}

fn history(addr: &str, flow: &str, name: &str) -> Vec<Value> {
    let v = fnf(
        addr,
        &format!("Action=GetExecutionHistory&FlowName={flow}&ExecutionName={name}"),
    );
    v["Events"].as_array().unwrap().clone()
}

fn unix_ms(rfc3339: &str) -> i128 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    t.unix_timestamp_nanos() / 1_000_000
}

/// Milliseconds from the execution's start to its event of type `ty`.
fn offset_of(events: &[Value], ty: &str) -> i128 {
    let time_of = |t: &str| {
        let e = events
            .iter()
            .find(|e| e["Type"] == t)
            .unwrap_or_else(|| panic!("no {t} in {events:?}"));
        unix_ms(e["Time"].as_str().unwrap())
    };
    time_of(ty) - time_of("ExecutionStarted")
}

#[test]
fn the_simulated_cloud_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    std::fs::write(flows.join("cb.yaml"), CALLBACK_FLOW).unwrap();
    std::fs::write(flows.join("late.yaml"), TIMEOUT_FLOW).unwrap();
    std::fs::write(flows.join("hold.yaml"), WAIT_FLOW).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();

    let mut first = serve(&data, &flows);
    let addr = first.addr.clone();
    first.line("(new)");
    // Tokens stay invisible once received, whatever the speed.
    let (status, body) = http(
        &addr,
        "PUT",
        "/queues/callbacks?metaoverride=true",
        "<Queue><VisibilityTimeout>43200</VisibilityTimeout></Queue>",
    );
    assert_eq!(status, 204, "{body}");
    for i in 0..N {
        fnf(
            &addr,
            &format!(
                "Action=StartExecution&FlowName=cb&ExecutionName=x{i}&Input=%7B%22n%22%3A{i}%7D"
            ),
        );
    }
    let (status, body) = http(&addr, "PUT", "/queues/extra", "");
    assert_eq!(status, 201, "{body}");
    let mut extra_ids = BTreeSet::new();
    for i in 0..3 {
        let (status, body) = http(
            &addr,
            "POST",
            "/queues/extra/messages",
            &format!("<Message><MessageBody>extra {i}</MessageBody></Message>"),
        );
        assert_eq!(status, 201, "{body}");
        extra_ids.insert(xml_field(&body, "MessageId").unwrap().to_owned());
    }
    // The timers last: pending when the process dies.
    fnf(
        &addr,
        "Action=StartExecution&FlowName=late&ExecutionName=t1&Input=%7B%7D",
    );
    fnf(
        &addr,
        "Action=StartExecution&FlowName=hold&ExecutionName=w1&Input=%7B%7D",
    );
    poll("the 1000 token messages", || {
        let (_, body) = http(&addr, "GET", "/queues/callbacks", "");
        (xml_field(&body, "ActiveMessages") == Some("1000")).then_some(())
    });
    assert_eq!(describe(&addr, "hold", "w1")["Status"], "Running");
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();

    let mut second = serve(&data, &flows);
    let addr = second.addr.clone();
    let restored = second.line("restored");
    assert!(
        restored.contains("restored 1,002 executions, 3 queues, 1,004 messages"),
        "{restored}"
    );
    // Every token, from the queue messages that survived.
    let mut tokens = HashSet::new();
    poll("every token", || {
        let (status, body) = http(
            &addr,
            "GET",
            "/queues/callbacks/messages?numOfMessages=16&waitseconds=1",
            "",
        );
        if status == 200 {
            let text = body.replace("&quot;", "\"");
            for part in text.split("\"tok\":\"").skip(1) {
                tokens.insert(part.split('"').next().unwrap().to_owned());
            }
        }
        (tokens.len() == N).then_some(())
    });
    for token in &tokens {
        let v = fnf(
            &addr,
            &format!(
                "Action=ReportTaskSucceeded&TaskToken={}&Output=%7B%7D",
                encode(token)
            ),
        );
        assert!(v["EventId"].as_u64().is_some(), "{v}");
    }
    for i in 0..N {
        let name = format!("x{i}");
        poll("the execution to succeed", || {
            (describe(&addr, "cb", &name)["Status"] == "Succeeded").then_some(())
        });
    }
    // The timers fired at their virtual times.
    poll("the timers", || {
        let done = |f, n| describe(&addr, f, n)["Status"] == "Succeeded";
        (done("late", "t1") && done("hold", "w1")).then_some(())
    });
    let late = history(&addr, "late", "t1");
    assert_eq!(offset_of(&late, "TaskTimedOut"), 200_000);
    let hold = history(&addr, "hold", "w1");
    assert_eq!(offset_of(&hold, "ExecutionSucceeded"), 300_000);
    // The other messages are still there, as they were.
    let (status, body) = http(
        &addr,
        "GET",
        "/queues/extra/messages?peekonly=true&numOfMessages=16",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let ids: BTreeSet<String> = body
        .split("<MessageId>")
        .skip(1)
        .map(|p| p.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(ids, extra_ids);
    assert!(
        body.contains("extra 0") && body.contains("extra 2"),
        "{body}"
    );

    // One more start evicts the finished ones beyond --retain 10: they are
    // answered from the data file.
    fnf(
        &addr,
        "Action=StartExecution&FlowName=cb&ExecutionName=trigger&Input=%7B%7D",
    );
    let x0 = describe(&addr, "cb", "x0");
    assert_eq!(x0["Status"], "Succeeded", "{x0}");
    let mut succeeded = 0;
    let mut next = String::new();
    loop {
        let page = fnf(
            &addr,
            &format!(
                "Action=ListExecutions&FlowName=cb&Status=Succeeded&Limit=100&NextToken={next}"
            ),
        );
        succeeded += page["Executions"].as_array().unwrap().len();
        next = page["NextToken"].as_str().unwrap().to_owned();
        if next.is_empty() {
            break;
        }
    }
    assert_eq!(succeeded, N);
    // Exactly once: one TaskSucceeded and one ExecutionSucceeded each.
    for i in (0..N).step_by(7) {
        let events = history(&addr, "cb", &format!("x{i}"));
        let count = |t: &str| events.iter().filter(|e| e["Type"] == t).count();
        assert_eq!(
            (count("TaskSucceeded"), count("ExecutionSucceeded")),
            (1, 1),
            "x{i}: {events:?}"
        );
    }
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}

#[test]
fn a_bad_or_busy_data_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database ".repeat(100)).unwrap();
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("junk.db") && err.contains("not a flowsim data file"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // A second flowsim on a file in use.
    let data = dir.path().join("d.db");
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    std::fs::write(flows.join("hold.yaml"), WAIT_FLOW).unwrap();
    let mut first = serve(&data, &flows);
    first.line("(new)");
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("d.db") && err.contains("in use"), "{err}");
    first.child.kill().unwrap();
    first.child.wait().unwrap();
}

/// A flow file edited between two starts updates the kept flow (as an
/// UpdateFlow would), the start-up line says so and shows the stored
/// seed; a state machine is kept like an FDL flow.
#[test]
fn an_edited_flow_file_updates_the_kept_flow_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.db");
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    let machine = "Type: StateMachine\nName: sm\nStartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    End: true\n";
    std::fs::write(flows.join("sm.yaml"), machine).unwrap();
    let mut first = serve(&data, &flows);
    first.line("(new)");
    first.line("seed 5");
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let edited = machine.replace("Name: a\n", "Name: a\n    OutputConstructor:\n      v: 2\n");
    std::fs::write(flows.join("sm.yaml"), &edited).unwrap();
    let mut second = serve(&data, &flows);
    let restored = second.line("restored");
    assert!(
        restored.contains("updated from their files") && restored.contains("sm"),
        "{restored}"
    );
    second.line("seed 5");
    let flow = fnf(&second.addr, "Action=DescribeFlow&Name=sm");
    assert_eq!(flow["Definition"], edited, "{flow}");
    assert!(flow["LastModifiedTime"].is_string(), "{flow}");
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}
