//! CloudFlow state machines on the engine, one rule at a time: each state
//! type's default input and output, constructors, Choice, loops, Parallel's
//! `Branch<i>`, Map's `Items`, Succeed and Fail, Retry and Catch (on tasks,
//! Parallel and Map), timeouts, expressions that fail at run time, the
//! context, integrations and Express mode. Virtual time, seed 1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use flowsim::engine::{EventType, Execution};
use flowsim::fc::Behaviour;
use flowsim::fdl;
use flowsim::sim::{Sim, SimConfig};
use serde_json::{Value, json};

const HEAD: &str = "Type: StateMachine\nName: t\nSpecVersion: v1\n";

/// Loads `body` (after the common head) as flow `t`.
fn flow(body: &str) -> fdl::Flow {
    let text = format!("{HEAD}{body}");
    let (flow, _) = fdl::load_any("t", &text, None).unwrap_or_else(|d| panic!("{text}\n{d:?}"));
    flow
}

fn run_with(body: &str, input: Value, handler: Behaviour) -> Execution {
    let mut config = SimConfig {
        seed: 1,
        ..SimConfig::default()
    };
    config.handler.behaviour = handler;
    let mut sim = Sim::new(config);
    sim.add_flow(flow(body)).unwrap();
    let id = sim
        .start_execution("t", Some("x1"), Some(&input.to_string()))
        .unwrap();
    for _ in 0..10_000 {
        sim.run_until_idle(1_000_000);
        if sim.engine.execution(id).unwrap().stopped.is_some()
            || sim.jump_to_next_due().moved_to().is_none()
        {
            break;
        }
    }
    sim.engine.execution(id).unwrap().clone()
}

fn run(body: &str, input: Value) -> Execution {
    run_with(body, input, Behaviour::Succeed)
}

fn output(x: &Execution) -> Value {
    assert_eq!(x.status.as_str(), "Succeeded", "{:?}", x.error);
    serde_json::from_str(x.output.as_deref().unwrap()).unwrap()
}

fn failed(x: &Execution) -> (String, String) {
    assert_eq!(x.status.as_str(), "Failed", "{:?}", x.output);
    let e = x.error.as_ref().unwrap();
    (e.error.clone(), e.cause.clone())
}

fn count(x: &Execution, kind: EventType) -> usize {
    x.history.iter().filter(|e| e.kind == kind).count()
}

const FC: &str = "acs:fc:cn-hangzhou:1:functions/f";

#[test]
fn pass_forwards_its_input_and_constructors_replace_it() {
    // The PASS page's example: the InputConstructor replaces the input.
    let x = run(
        "StartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    InputConstructor:\n      FieldA: 123\n    End: true\n",
        json!({"requestId": "abc-123"}),
    );
    assert_eq!(output(&x), json!({"FieldA": 123}));
    // No constructor: the input passes through, state to state.
    let x = run(
        "StartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    Next: b\n  - Type: Pass\n    Name: b\n    End: true\n",
        json!({"k": [1, 2]}),
    );
    assert_eq!(output(&x), json!({"k": [1, 2]}));
    // The OutputConstructor reads `$Input` (the constructed input) and the
    // context; a key without `.$` is a literal.
    let x = run(
        "StartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    InputConstructor:\n      n.$: $Input.v\n    OutputConstructor:\n      got.$: $Input.n\n      raw: $Input.n\n      state.$: $Context.Current.Name\n      exec.$: $Context.Execution.Name\n      first.$: $Context.Execution.Input.v\n    End: true\n",
        json!({"v": 7}),
    );
    assert_eq!(
        output(&x),
        json!({"got": 7, "raw": "$Input.n", "state": "a", "exec": "x1", "first": 7})
    );
}

#[test]
fn choice_takes_the_first_true_branch_else_the_default() {
    let body = "StartAt: c\nStates:\n  - Type: Choice\n    Name: c\n    Branches:\n      - Condition: $Input.n > 10\n        Next: big\n      - Condition: $Input.n > 5\n        Next: mid\n    Default: small\n  - Type: Pass\n    Name: big\n    OutputConstructor:\n      size: big\n    End: true\n  - Type: Pass\n    Name: mid\n    OutputConstructor:\n      size: mid\n    End: true\n  - Type: Pass\n    Name: small\n    End: true\n";
    assert_eq!(output(&run(body, json!({"n": 20}))), json!({"size": "big"}));
    assert_eq!(output(&run(body, json!({"n": 7}))), json!({"size": "mid"}));
    // The default, and a Choice's output is its input.
    assert_eq!(output(&run(body, json!({"n": 1}))), json!({"n": 1}));
    // A missing path does not match: the default is taken.
    assert_eq!(output(&run(body, json!({}))), json!({}));
}

#[test]
fn a_polling_loop_goes_back_until_its_condition_holds() {
    // Wait -> count -> Choice -> back to Wait, three times.
    let body = "StartAt: wait\nStates:\n  - Type: Wait\n    Name: wait\n    Seconds: 10\n    Next: count\n  - Type: Pass\n    Name: count\n    OutputConstructor:\n      n.$: intAdd($Input.n, 1)\n    Next: done?\n  - Type: Choice\n    Name: done?\n    Branches:\n      - Condition: $Input.n >= 3\n        Next: done\n    Default: wait\n  - Type: Succeed\n    Name: done\n";
    let x = run(body, json!({"n": 0}));
    assert_eq!(output(&x), json!({"n": 3}));
    assert_eq!(x.stopped, Some(30_000), "three waits of 10 s");
    assert_eq!(count(&x, EventType::StepEntered), 10);
}

#[test]
fn wait_seconds_from_an_expression_and_its_bounds() {
    let body = "StartAt: w\nStates:\n  - Type: Wait\n    Name: w\n    Seconds.$: $Input.s\n    End: true\n";
    let x = run(body, json!({"s": 42}));
    assert_eq!(output(&x), json!({"s": 42}));
    assert_eq!(x.stopped, Some(42_000));
    // Beyond Standard's 300 s: a bad wait, as in FDL.
    let (error, cause) = failed(&run(body, json!({"s": 301})));
    assert_eq!(error, "FnF.InvalidWait");
    assert!(cause.contains("Seconds.$"), "{cause}");
}

#[test]
fn parallel_output_is_keyed_branch_i() {
    let body = "StartAt: p\nStates:\n  - Type: Parallel\n    Name: p\n    Branches:\n      - StartAt: a\n        States:\n          - Type: Pass\n            Name: a\n            OutputConstructor:\n              a.$: $Input.x\n            End: true\n      - StartAt: b\n        States:\n          - Type: Pass\n            Name: b\n            End: true\n    End: true\n";
    let x = run(body, json!({"x": 1}));
    assert_eq!(
        output(&x),
        json!({"Branch0": {"a": 1}, "Branch1": {"x": 1}})
    );
    assert_eq!(count(&x, EventType::BranchEntered), 2);
}

#[test]
fn map_runs_its_processor_per_item_into_items_in_order() {
    // One at a time, each iteration calls the function (RequestComplete).
    let body = format!(
        "StartAt: m\nStates:\n  - Type: Map\n    Name: m\n    ItemsPath: $Input.xs\n    MaxConcurrency: 1\n    Processor:\n      StartAt: call\n      States:\n        - Type: Task\n          Name: call\n          Action: FC:InvokeFunction\n          Parameters:\n            resourceArn: {FC}\n            invocationType: Sync\n            body:\n              item.$: $Input\n          OutputConstructor:\n            item.$: $Input.v\n            status.$: $Output.status\n          End: true\n    End: true\n"
    );
    let x = run(&body, json!({"xs": [{"v": "a"}, {"v": "b"}, {"v": "c"}]}));
    assert_eq!(
        output(&x),
        json!({"Items": [
            {"item": "a", "status": "success"},
            {"item": "b", "status": "success"},
            {"item": "c", "status": "success"}
        ]})
    );
    assert_eq!(count(&x, EventType::IterationEntered), 3);
    // An empty array: no iteration, `Items` empty.
    assert_eq!(output(&run(&body, json!({"xs": []}))), json!({"Items": []}));
    // Not an array: the state fails, naming ItemsPath.
    let (error, cause) = failed(&run(&body, json!({"xs": 5})));
    assert_eq!(error, "FnF.InvalidCollection");
    assert!(cause.contains("ItemsPath"), "{cause}");
}

#[test]
fn succeed_ends_its_scope_and_fail_ends_the_flow() {
    // A Succeed in a branch ends that branch only.
    let body = "StartAt: p\nStates:\n  - Type: Parallel\n    Name: p\n    Branches:\n      - StartAt: s\n        States:\n          - Type: Succeed\n            Name: s\n      - StartAt: b\n        States:\n          - Type: Pass\n            Name: b\n            End: true\n    Next: after\n  - Type: Pass\n    Name: after\n    End: true\n";
    let x = run(body, json!({"x": 1}));
    assert_eq!(
        output(&x),
        json!({"Branch0": {"x": 1}, "Branch1": {"x": 1}})
    );
    // Fail: Code is the error, Detail the cause.
    let body = "StartAt: f\nStates:\n  - Type: Fail\n    Name: f\n    Code: customBizCode\n    Detail: my custom error\n";
    assert_eq!(
        failed(&run(body, json!({}))),
        ("customBizCode".into(), "my custom error".into())
    );
    // Without Code: flowsim's FnF.Fail.
    let body = "StartAt: f\nStates:\n  - Type: Fail\n    Name: f\n    Detail: no code\n";
    assert_eq!(failed(&run(body, json!({}))).0, "FnF.Fail");
}

#[test]
fn retry_backs_off_then_catch_builds_the_next_input() {
    // The function fails every time: 1 + 2 attempts, delays 2 s and then
    // min(2 x 3, 5) = 5 s, then the Catch's OutputConstructor.
    let body = format!(
        "StartAt: call\nStates:\n  - Type: Task\n    Name: call\n    Action: FC:InvokeFunction\n    Parameters:\n      resourceArn: {FC}\n      invocationType: Sync\n      body:\n        tries.$: $Context.Current.RetryCount\n    Retry:\n      - Errors: [FnF.ALL]\n        MaxAttempts: 2\n        IntervalSeconds: 2\n        BackoffRate: 3\n        MaxBackoffSeconds: 5\n    Catch:\n      - Errors: [HandlerError]\n        OutputConstructor:\n          code.$: $Context.Current.Error.Code\n          input.$: $Input.k\n          retries.$: $Context.Current.RetryCount\n        Next: handled\n    End: true\n  - Type: Pass\n    Name: handled\n    End: true\n"
    );
    let x = run_with(&body, json!({"k": "v"}), Behaviour::Fail);
    assert_eq!(
        output(&x),
        json!({"code": "HandlerError", "input": "v", "retries": 2})
    );
    assert_eq!(x.stopped, Some(7_000));
    assert_eq!(count(&x, EventType::TaskScheduled), 3);
    // Without an OutputConstructor the next state gets the error.
    let body = body.replace(
        "        OutputConstructor:\n          code.$: $Context.Current.Error.Code\n          input.$: $Input.k\n          retries.$: $Context.Current.RetryCount\n",
        "",
    );
    let x = run_with(&body, json!({"k": "v"}), Behaviour::Fail);
    let out = output(&x);
    assert_eq!(out["Code"], "HandlerError");
    assert!(out["Detail"].is_string(), "{out}");
}

#[test]
fn parallel_and_map_retry_and_catch_like_tasks() {
    let task = format!(
        "Type: Task\n            Name: call\n            Action: FC:InvokeFunction\n            Parameters:\n              resourceArn: {FC}\n              invocationType: Sync\n            End: true"
    );
    let body = format!(
        "StartAt: p\nStates:\n  - Type: Parallel\n    Name: p\n    Branches:\n      - StartAt: call\n        States:\n          - {task}\n    Retry:\n      - Errors: [FnF.ALL]\n        MaxAttempts: 1\n        IntervalSeconds: 4\n    Catch:\n      - Errors: [FnF.ALL]\n        Next: caught\n    End: true\n  - Type: Pass\n    Name: caught\n    End: true\n"
    );
    let x = run_with(&body, json!({}), Behaviour::Fail);
    assert_eq!(output(&x)["Code"], "HandlerError");
    assert_eq!(x.stopped, Some(4_000), "one retry of the whole Parallel");
    assert_eq!(count(&x, EventType::BranchEntered), 2);
    let body = format!(
        "StartAt: p\nStates:\n  - Type: Map\n    Name: p\n    ItemsPath: $Input.xs\n    Processor:\n      StartAt: call\n      States:\n        - {}\n    Retry:\n      - Errors: [FnF.ALL]\n        MaxAttempts: 1\n        IntervalSeconds: 4\n    Catch:\n      - Errors: [FnF.ALL]\n        Next: caught\n    End: true\n  - Type: Pass\n    Name: caught\n    End: true\n",
        task.replace("\n            ", "\n          ")
    );
    let x = run_with(&body, json!({"xs": [1, 2]}), Behaviour::Fail);
    assert_eq!(output(&x)["Code"], "HandlerError");
    assert_eq!(x.stopped, Some(4_000), "one retry of the whole Map");
}

#[test]
fn a_failing_expression_is_a_catchable_state_error() {
    let body = "StartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    InputConstructor:\n      n.$: length($Input.n)\n    End: true\n";
    let (error, cause) = failed(&run(body, json!({"n": 5})));
    assert_eq!(error, "FnF.ExpressionError");
    assert!(
        cause.contains("InputConstructor") && cause.contains("length"),
        "{cause}"
    );
    let body = format!(
        "StartAt: call\nStates:\n  - Type: Task\n    Name: call\n    Action: FC:InvokeFunction\n    Parameters:\n      resourceArn: {FC}\n      invocationType: Sync\n      body:\n        n.$: length($Input.n)\n    Catch:\n      - Errors: [FnF.ExpressionError]\n        Next: caught\n    End: true\n  - Type: Pass\n    Name: caught\n    End: true\n"
    );
    assert_eq!(
        output(&run(&body, json!({"n": 5})))["Code"],
        "FnF.ExpressionError"
    );
}

#[test]
fn task_timeouts_constant_and_from_an_expression() {
    let body = "StartAt: t\nStates:\n  - Type: Task\n    Name: t\n    Action: MNS:SendMessage\n    TaskMode: WaitForCustomCallback\n    Timeout.$: $Input.limit\n    Parameters:\n      resourceArn: acs:mns:cn-hangzhou:1:/queues/q/messages\n      message:\n        token.$: $Context.Current.TaskToken\n    End: true\n";
    let x = run_with(body, json!({"limit": 90}), Behaviour::Drop);
    assert_eq!(failed(&x).0, "FnF.TaskTimeout");
    assert_eq!(x.stopped, Some(90_000));
    assert_eq!(count(&x, EventType::TaskTimedOut), 1);
    let body = body.replace("Timeout.$: $Input.limit", "Timeout: 30");
    let x = run_with(&body, json!({}), Behaviour::Drop);
    assert_eq!(x.stopped, Some(30_000));
}

#[test]
fn callback_tasks_carry_the_token_and_end_with_the_report() {
    // The seed chain over a queue: the message body is the JSON text of
    // `message`, with the token in it; nobody reads the queue (the
    // simulated function is not its consumer), so the execution waits.
    let body = "StartAt: t\nStates:\n  - Type: Task\n    Name: t\n    Action: MNS:SendMessage\n    TaskMode: WaitForCustomCallback\n    Parameters:\n      resourceArn: acs:mns:cn-hangzhou:1:/queues/q/messages\n      message:\n        body.$: $Input.b\n        token.$: $Context.Current.TaskToken\n    OutputConstructor:\n      status.$: $Output.status\n      kept.$: $Input.b\n    End: true\n";
    let mut sim = Sim::new(SimConfig {
        seed: 1,
        subscribe_handler: false,
        ..SimConfig::default()
    });
    sim.add_flow(flow(body)).unwrap();
    let id = sim
        .start_execution("t", None, Some(r#"{"b": "hello"}"#))
        .unwrap();
    sim.run_until_idle(1_000);
    let x = sim.engine.execution(id).unwrap();
    assert_eq!(x.status.as_str(), "Running");
    let started = x
        .history
        .iter()
        .find(|e| e.kind == EventType::TaskStarted)
        .unwrap();
    let token = serde_json::from_str::<Value>(&started.detail).unwrap()["taskToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let x = sim.engine.execution(id).unwrap();
    assert!(
        x.history.iter().any(|e| e.kind == EventType::TaskSubmitted),
        "{:#?}",
        x.history
    );
    let message = sim.mns_op(|mns, ctx| mns.receive(ctx, "q", false));
    let body: Value = serde_json::from_str(&message.unwrap().unwrap().body).unwrap();
    assert_eq!(body, json!({"body": "hello", "token": token}));
    sim.report_succeeded(&token, r#"{"status": "done"}"#)
        .unwrap();
    sim.run_until_idle(1_000);
    let x = sim.engine.execution(id).unwrap();
    assert_eq!(output(x), json!({"status": "done", "kept": "hello"}));
    // A second report: the task has completed.
    assert!(sim.report_succeeded(&token, "{}").is_err());
}

#[test]
fn other_actions_are_answered_by_the_simulated_function() {
    let body = "StartAt: h\nStates:\n  - Type: Task\n    Name: h\n    Action: HTTP:Request\n    Parameters:\n      method: GET\n      url: https://example.com/status\n    End: true\n";
    let x = run(body, json!({}));
    assert_eq!(output(&x), json!({"status": "success"}));
    let (error, _) = failed(&run_with(body, json!({}), Behaviour::Error));
    assert_eq!(error, "FC.InternalServerError");
}

#[test]
fn express_executions_time_out_after_five_minutes() {
    let body = "ExecutionMode: Express\nStartAt: w\nStates:\n  - Type: Wait\n    Name: w\n    Seconds: 20\n    Next: w2\n  - Type: Pass\n    Name: w2\n    Next: w\n";
    let x = run(body, json!({}));
    assert_eq!(x.status.as_str(), "TimedOut");
    assert_eq!(x.stopped, Some(300_000));
}

#[test]
fn state_data_may_reach_64_kib() {
    let big = "x".repeat(40 * 1024);
    let body = "StartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    End: true\n";
    let x = run(body, json!({ "big": big }));
    assert_eq!(output(&x)["big"].as_str().unwrap().len(), 40 * 1024);
    let bigger = "x".repeat(70 * 1024);
    let mut sim = Sim::new(SimConfig::default());
    sim.add_flow(flow(body)).unwrap();
    let err = sim
        .start_execution("t", None, Some(&json!({ "big": bigger }).to_string()))
        .unwrap_err();
    assert!(err.to_string().contains("65536"), "{err}");
}
