#![allow(clippy::unwrap_used, clippy::expect_used)]
//! CloudFlow state machines through the FnF API over real HTTP on
//! 127.0.0.1:0: CreateFlow with a state machine, the seed chain over an MNS
//! topic and a queue answered with ReportTaskSucceeded, UpdateFlow of both
//! specs (running executions keep their definition), Express flows with
//! StartSyncExecution, and the modes in DescribeFlow / ListFlows.
//!
//! Virtual time: the runtime runs in STEP mode, so nothing moves except
//! what a test steps; a StartSyncExecution waits in a task of its own while
//! the test steps the simulation to the execution's end.

use std::net::SocketAddr;
use std::time::Duration;

use flowsim::api::fnf::sign;
use flowsim::api::{self, ApiConfig, ApiState};
use flowsim::engine::{ExecId, Status};
use flowsim::fc::{Behaviour, HandlerConfig};
use flowsim::kernel::TaskRef;
use flowsim::runtime::{self, Command, Handle, Mode, Outcome};
use flowsim::sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SEED: &str = include_str!("../flows/cloudflow/mns-topic-callback.yaml");
const SEED_NAME: &str = "mns-topic-callback";
const INPUT: &str = r#"{"messageBody": "hello world"}"#;

struct Server {
    addr: SocketAddr,
    handle: Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A server with no flows, in STEP mode. `function`: whether the simulated
/// function subscribes to what flows name (`serve --handler none` when
/// false: the test answers the callbacks itself).
async fn server(function: bool) -> Server {
    let sim = Sim::new(SimConfig {
        seed: 11,
        handler: HandlerConfig {
            behaviour: Behaviour::Succeed,
            ..HandlerConfig::default()
        },
        subscribe_handler: function,
        ..SimConfig::default()
    });
    let handle = runtime::spawn(sim, Mode::Step, 1.0);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = ApiState::new(handle.clone(), ApiConfig::default());
    tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        handle,
        _stop: stop,
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{:#}", self.body);
        assert!(self.body["RequestId"].is_string(), "{:#}", self.body);
        &self.body
    }

    /// Asserts an upstream error; answers its message.
    fn error(&self, status: u16, code: &str) -> &str {
        assert_eq!(
            (self.status, self.body["Code"].as_str().unwrap_or("")),
            (status, code),
            "{:#}",
            self.body
        );
        self.body["Message"].as_str().unwrap()
    }
}

/// One RPC action as the Tea SDK sends it: `Action` and `Version` in the
/// query, the parameters in a form body (POST).
async fn call_at(addr: SocketAddr, action: &str, params: Vec<(String, String)>) -> Reply {
    let body = params
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let raw = format!(
        "POST /?Action={action}&Version=2019-03-15&Format=JSON HTTP/1.1\r\nHost: fnf.test\r\n\
         Connection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    Reply { status, body }
}

async fn call(s: &Server, action: &str, params: &[(&str, &str)]) -> Reply {
    let params = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    call_at(s.addr, action, params).await
}

async fn create(s: &Server, name: &str, definition: &str, mode: Option<&str>) -> Reply {
    let mut params = vec![
        ("Name", name),
        ("Definition", definition),
        ("Description", "made by the test"),
        ("Type", "FDL"),
    ];
    if let Some(m) = mode {
        params.push(("ExecutionMode", m));
    }
    call(s, "CreateFlow", &params).await
}

async fn start(s: &Server, flow: &str, name: &str, input: &str) -> Reply {
    call(
        s,
        "StartExecution",
        &[
            ("FlowName", flow),
            ("ExecutionName", name),
            ("Input", input),
        ],
    )
    .await
}

async fn describe(s: &Server, flow: &str, name: &str) -> Value {
    call(
        s,
        "DescribeExecution",
        &[("FlowName", flow), ("ExecutionName", name)],
    )
    .await
    .ok()
    .clone()
}

async fn report(s: &Server, token: &str, output: &str) -> Reply {
    call(
        s,
        "ReportTaskSucceeded",
        &[("TaskToken", token), ("Output", output)],
    )
    .await
}

fn exec_id(s: &Server, flow: &str, name: &str) -> ExecId {
    s.handle.sim().engine.find_execution(flow, name).unwrap().id
}

/// Steps until the execution's task waits for its callback; its token.
async fn token_of(s: &Server, flow: &str, name: &str) -> String {
    let id = exec_id(s, flow, name);
    for _ in 0..100 {
        if let Some((_, _, token)) = s.handle.sim().engine.waiting_tasks(id).first() {
            return token.clone();
        }
        match s.handle.call(Command::Step).await.unwrap() {
            Outcome::Delivered(Some(_)) => {}
            other => panic!("never waited: {other:?}"),
        }
    }
    panic!("never waited")
}

/// Steps until nothing is in flight.
async fn settle(s: &Server) {
    for _ in 0..1000 {
        if let Outcome::Delivered(None) = s.handle.call(Command::Step).await.unwrap() {
            return;
        }
    }
    panic!("never settled")
}

/// Runs `StartSyncExecution` in a task of its own and steps the
/// simulation until it answers (STEP mode: virtual time moves only when
/// stepped; a step delivers the next envelope, a Wait's timer included).
async fn sync_execution(s: &Server, flow: &str, name: Option<&str>, input: &str) -> Reply {
    let mut params = vec![
        ("FlowName".to_owned(), flow.to_owned()),
        ("Input".to_owned(), input.to_owned()),
    ];
    if let Some(n) = name {
        params.push(("ExecutionName".to_owned(), n.to_owned()));
    }
    let task = tokio::spawn(call_at(s.addr, "StartSyncExecution", params));
    for _ in 0..4000 {
        if task.is_finished() {
            return task.await.unwrap();
        }
        s.handle.call(Command::Step).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("StartSyncExecution never answered")
}

// ---------------------------------------------------------------------------

/// The seed chain in the new spec, created with CreateFlow: the message
/// carries the token from `$Context.Current.TaskToken`, to a topic and to
/// a queue; ReportTaskSucceeded ends the task, the OutputConstructor keeps
/// `status`; a second report is `TaskAlreadyCompleted`.
#[tokio::test]
async fn cloudflow_seed_chain_over_a_topic_and_a_queue_ends_with_the_reported_output() {
    let s = server(false).await;
    let queue_flow = SEED
        .replace(
            "/topics/flowsim-callback-topic/",
            "/queues/flowsim-callback-queue/",
        )
        .replace("Name: mns-topic-callback", "Name: mns-queue-callback");
    for (flow, definition) in [
        (SEED_NAME, SEED.to_owned()),
        ("mns-queue-callback", queue_flow),
    ] {
        let f = create(&s, flow, &definition, None).await;
        let f = f.ok();
        assert_eq!(f["Name"], flow);
        assert_eq!(f["Type"], "FDL");
        assert_eq!(f["ExecutionMode"], "Standard");
        assert_eq!(f["Definition"], definition.as_str());

        start(&s, flow, "cf1", INPUT).await.ok();
        let token = token_of(&s, flow, "cf1").await;
        settle(&s).await;
        // The message the task sent carries the input and the token.
        let body = {
            let sim = s.handle.sim();
            if flow == SEED_NAME {
                assert!(sim.mns.topic("flowsim-callback-topic").is_some());
                sim.mns.messages().back().unwrap().body.to_string()
            } else {
                let q = sim.mns.queue("flowsim-callback-queue").unwrap();
                q.messages.last().unwrap().body.to_string()
            }
        };
        let message: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            message,
            json!({"messageBody": "hello world", "taskToken": token})
        );
        assert_eq!(describe(&s, flow, "cf1").await["Status"], "Running");

        report(&s, &token, r#"{"status": "success", "by": "the test"}"#)
            .await
            .ok();
        settle(&s).await;
        let x = describe(&s, flow, "cf1").await;
        assert_eq!(x["Status"], "Succeeded", "{x:#}");
        let output: Value = serde_json::from_str(x["Output"].as_str().unwrap()).unwrap();
        assert_eq!(output, json!({"status": "success"}));
        let m = report(&s, &token, "{}")
            .await
            .error(400, "TaskAlreadyCompleted")
            .to_owned();
        assert!(m.contains("cf1"), "{m}");
    }
}

/// UpdateFlow replaces an FDL flow with a state machine and back; an
/// execution running meanwhile keeps the definition it started with, and
/// ends as that one says; the flow lists every execution.
#[tokio::test]
async fn update_flow_changes_the_spec_and_running_executions_keep_theirs() {
    let s = server(false).await;
    let fdl = flowsim::fdl::bundled::SEED_FLOW;
    let created = create(&s, SEED_NAME, fdl, None).await;
    let created = created.ok();
    assert_eq!(created["CreatedTime"], created["LastModifiedTime"]);
    start(&s, SEED_NAME, "old", INPUT).await.ok();
    let token = token_of(&s, SEED_NAME, "old").await;

    // To CloudFlow: a Pass that answers a constant.
    let machine = "Type: StateMachine\nName: mns-topic-callback\nSpecVersion: v1\nStartAt: p\n\
                   States:\n  - Type: Pass\n    Name: p\n    OutputConstructor:\n      \
                   spec: cloudflow\n    End: true\n";
    let u = call(
        &s,
        "UpdateFlow",
        &[
            ("Name", SEED_NAME),
            ("Definition", machine),
            ("Description", "now a state machine"),
            ("RoleArn", "acs:ram::1:role/flow"),
        ],
    )
    .await;
    let u = u.ok();
    assert_eq!(u["Definition"], machine);
    assert_eq!(u["Description"], "now a state machine");
    assert_eq!(u["RoleArn"], "acs:ram::1:role/flow");
    assert_eq!(u["ExecutionMode"], "Standard");
    assert_eq!(u["Id"], created["Id"]);
    assert_eq!(u["CreatedTime"], created["CreatedTime"]);
    assert!(u["LastModifiedTime"].as_str().unwrap().ends_with('Z'));
    let d = call(&s, "DescribeFlow", &[("Name", SEED_NAME)]).await;
    assert_eq!(d.ok()["Definition"], machine);
    assert_eq!(d.body["Description"], "now a state machine");

    // The running execution still runs the FDL seed.
    let x = describe(&s, SEED_NAME, "old").await;
    assert_eq!(x["FlowDefinition"], fdl);
    report(&s, &token, r#"{"status": "success"}"#).await.ok();
    settle(&s).await;
    let x = describe(&s, SEED_NAME, "old").await;
    assert_eq!(x["Status"], "Succeeded");
    assert_eq!(x["Output"], r#"{"status":"success"}"#);

    // A new one runs the state machine.
    start(&s, SEED_NAME, "new", "{}").await.ok();
    settle(&s).await;
    let x = describe(&s, SEED_NAME, "new").await;
    assert_eq!(x["Status"], "Succeeded");
    assert_eq!(x["Output"], r#"{"spec":"cloudflow"}"#);
    assert_eq!(x["FlowDefinition"], machine);

    // Back to FDL without touching the description.
    let u = call(
        &s,
        "UpdateFlow",
        &[("Name", SEED_NAME), ("Definition", fdl)],
    )
    .await;
    assert_eq!(u.ok()["Definition"], fdl);
    assert_eq!(u.body["Description"], "now a state machine");
    let l = call(&s, "ListExecutions", &[("FlowName", SEED_NAME)]).await;
    let names: Vec<&str> = l.ok()["Executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["old", "new"]);

    // Errors: CreateFlow's, positioned; a missing flow; nothing changed.
    let broken =
        "Type: StateMachine\nStartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    Next: nowhere\n";
    let m = call(
        &s,
        "UpdateFlow",
        &[("Name", SEED_NAME), ("Definition", broken)],
    )
    .await
    .error(400, "InvalidArgument")
    .to_owned();
    assert!(m.contains("Definition:6:"), "{m}");
    let m = call(
        &s,
        "UpdateFlow",
        &[
            ("Name", SEED_NAME),
            (
                "Definition",
                "version: v1\ntype: flow\nsteps:\n  - type: teleport\n    name: x\n",
            ),
        ],
    )
    .await
    .error(400, "InvalidArgument")
    .to_owned();
    assert!(m.contains("Definition:4:"), "{m}");
    call(&s, "UpdateFlow", &[("Name", "nope"), ("Definition", fdl)])
        .await
        .error(404, "FlowNotExists");
    call(&s, "UpdateFlow", &[("Definition", fdl)])
        .await
        .error(400, "MissingRequiredParams");
    let d = call(&s, "DescribeFlow", &[("Name", SEED_NAME)]).await;
    assert_eq!(d.ok()["Definition"], fdl);
}

const EXPRESS: &str = "Type: StateMachine
Name: quick
SpecVersion: v1
StartAt: prepare
States:
  - Type: Pass
    Name: prepare
    OutputConstructor:
      amount.$: $Input.amount
      prepared: true
    Next: pause
  - Type: Wait
    Name: pause
    Seconds: 5
    Next: charge
  - Type: Task
    Name: charge
    Action: FC:InvokeFunction
    TaskMode: RequestComplete
    Parameters:
      resourceArn: acs:fc:cn-hangzhou:123456789:services/billing/functions/charge
      invocationType: Sync
      body:
        amount.$: $Input.amount
    OutputConstructor:
      amount.$: $Input.amount
      charged: true
    End: true
";

const EXPRESS_FAILING: &str = "Type: StateMachine
Name: refuse
StartAt: no
States:
  - Type: Fail
    Name: no
    Code: NotToday
    Detail: the test says no
";

/// An Express flow: created with ExecutionMode, shown as such,
/// StartSyncExecution answers the ended execution (Pass, Wait, an FC task
/// RequestComplete) in the SDK's shape; StartExecution refuses it, and
/// StartSyncExecution refuses a Standard flow.
#[tokio::test]
async fn express_flows_run_with_start_sync_execution() {
    let s = server(true).await;
    let f = create(&s, "quick", EXPRESS, Some("Express")).await;
    assert_eq!(f.ok()["ExecutionMode"], "Express");
    create(&s, "refuse", EXPRESS_FAILING, Some("Express"))
        .await
        .ok();
    create(&s, SEED_NAME, SEED, Some("Standard")).await.ok();

    let d = call(&s, "DescribeFlow", &[("Name", "quick")]).await;
    assert_eq!(d.ok()["ExecutionMode"], "Express");
    assert_eq!(d.body["Type"], "FDL");
    let l = call(&s, "ListFlows", &[]).await;
    let modes: Vec<(String, String)> = l.ok()["Flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["Name"].as_str().unwrap().to_owned(),
                f["ExecutionMode"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        modes,
        [
            (SEED_NAME.to_owned(), "Standard".to_owned()),
            ("quick".to_owned(), "Express".to_owned()),
            ("refuse".to_owned(), "Express".to_owned()),
        ]
    );

    let r = sync_execution(&s, "quick", Some("sync1"), r#"{"amount": 30}"#).await;
    let x = r.ok();
    assert_eq!(x["FlowName"], "quick");
    assert_eq!(x["Status"], "Succeeded", "{x:#}");
    let name = x["Name"].as_str().unwrap();
    let uuid = name.strip_prefix("sync1:").unwrap();
    assert_eq!(uuid.len(), 36, "{name}");
    let output: Value = serde_json::from_str(x["Output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"amount": 30, "charged": true}));
    for k in ["StartedTime", "StoppedTime"] {
        assert!(x[k].as_str().unwrap().ends_with('Z'), "{k}: {x:#}");
    }
    assert!(x.get("ErrorCode").is_none(), "{x:#}");
    // The execution is kept like any other: described by its full name.
    let d = describe(&s, "quick", name).await;
    assert_eq!(d["Status"], "Succeeded");
    assert_eq!(d["StoppedTime"], x["StoppedTime"]);

    // Without a name: a generated one; the same name twice is fine.
    let r = sync_execution(&s, "quick", None, r#"{"amount": 1}"#).await;
    assert_eq!(r.ok()["Status"], "Succeeded");
    assert_eq!(r.body["Name"].as_str().unwrap().len(), 36);
    let again = sync_execution(&s, "quick", Some("sync1"), r#"{"amount": 2}"#).await;
    assert_eq!(again.ok()["Status"], "Succeeded");
    assert_ne!(again.body["Name"], x["Name"]);

    // A failure is an answer, not an error.
    let r = sync_execution(&s, "refuse", Some("f1"), "{}").await;
    let x = r.ok();
    assert_eq!(x["Status"], "Failed", "{x:#}");
    assert_eq!(x["ErrorCode"], "NotToday");
    assert_eq!(x["ErrorMessage"], "the test says no");
    assert!(x.get("Output").is_none(), "{x:#}");

    // Each start API refuses the other mode.
    let m = sync_execution(&s, SEED_NAME, Some("s1"), INPUT)
        .await
        .error(400, "ActionNotSupported")
        .to_owned();
    assert!(m.contains("Standard execution is not supported"), "{m}");
    let m = start(&s, "quick", "async1", r#"{"amount": 30}"#)
        .await
        .error(400, "ActionNotSupported")
        .to_owned();
    assert!(m.contains("StartSyncExecution"), "{m}");
    sync_execution(&s, "nope", None, "{}")
        .await
        .error(404, "FlowNotExists");
    sync_execution(&s, "quick", Some("9bad"), "{}")
        .await
        .error(400, "InvalidArgument");
    let m = sync_execution(&s, "quick", None, "[]")
        .await
        .error(400, "InvalidArgument")
        .to_owned();
    assert!(m.contains("Input"), "{m}");
    // An Express flow cannot wait for a callback.
    let callback = SEED.replace("Name: mns-topic-callback", "Name: cb");
    let m = create(&s, "cb", &callback, Some("Express"))
        .await
        .error(400, "InvalidArgument")
        .to_owned();
    assert!(m.contains("WaitForCustomCallback"), "{m}");
}

/// Express executions have no callbacks: a token naming one of their
/// tasks (minted here by hand: the engine never issues one) is refused
/// with a message that says why; a flow's mode survives UpdateFlow.
#[tokio::test]
async fn reports_on_an_express_execution_are_refused_and_update_keeps_the_mode() {
    let s = server(true).await;
    create(&s, "quick", EXPRESS, Some("Express")).await.ok();
    // Start it and leave it in its Wait (nothing steps it).
    let params = vec![
        ("FlowName".to_owned(), "quick".to_owned()),
        ("ExecutionName".to_owned(), "held".to_owned()),
        ("Input".to_owned(), r#"{"amount": 3}"#.to_owned()),
    ];
    let waiting = tokio::spawn(call_at(s.addr, "StartSyncExecution", params));
    let id = loop {
        let found = s
            .handle
            .sim()
            .engine
            .executions()
            .iter()
            .find(|x| x.name.starts_with("held:"))
            .map(|x| x.id);
        if let Some(id) = found {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let token = s
        .handle
        .sim()
        .engine
        .token_for(TaskRef { exec: id, task: 3 })
        .unwrap();
    let m = report(&s, &token, "{}")
        .await
        .error(400, "InvalidArgument")
        .to_owned();
    assert!(m.contains("Express"), "{m}");
    assert_eq!(
        s.handle.sim().engine.execution(id).unwrap().status,
        Status::Running
    );

    // UpdateFlow keeps the mode (the document does not say it).
    let changed = EXPRESS.replace("Seconds: 5", "Seconds: 1");
    let u = call(
        &s,
        "UpdateFlow",
        &[("Name", "quick"), ("Definition", changed.as_str())],
    )
    .await;
    assert_eq!(u.ok()["ExecutionMode"], "Express");
    assert_eq!(u.body["Definition"], changed.as_str());

    // The held execution ends as its own definition says.
    for _ in 0..4000 {
        if waiting.is_finished() {
            break;
        }
        s.handle.call(Command::Step).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = waiting.await.unwrap();
    assert_eq!(r.ok()["Status"], "Succeeded", "{:#}", r.body);
    let x = describe(&s, "quick", r.body["Name"].as_str().unwrap()).await;
    assert!(
        x["FlowDefinition"].as_str().unwrap().contains("Seconds: 5"),
        "{x:#}"
    );
}
