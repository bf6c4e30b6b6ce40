use rand::SeedableRng;
use serde_json::{Value, json};

use super::build::task;
use super::*;

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(1)
}

/// A flow whose top-level `States` is `states` (indented two spaces),
/// starting at the first one.
fn flow(start: &str, states: &str) -> String {
    format!("Type: StateMachine\nName: t\nSpecVersion: v1\nStartAt: {start}\nStates:\n{states}")
}

fn ok(src: &str) -> Loaded {
    match load("t", src) {
        Ok(l) => l,
        Err(d) => panic!(
            "{}",
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn errors(src: &str) -> Vec<String> {
    match load("t", src) {
        Ok(_) => panic!("loaded:\n{src}"),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

/// The single error of `src`, as `line:col: message`.
fn error(src: &str) -> String {
    let e = errors(src);
    assert_eq!(e.len(), 1, "{e:#?}");
    e[0].clone()
}

fn only(l: &Loaded) -> &State {
    &l.machine.body.states[0]
}

// ---- detection and top level ----------------------------------------------------

#[test]
fn is_state_machine_tells_the_specs_apart() {
    assert!(is_state_machine("Type: StateMachine\nStartAt: a\n"));
    assert!(is_state_machine("\u{feff}Type: StateMachine\n"));
    assert!(
        is_state_machine("Type: Flow\n"),
        "a Type key says CloudFlow; its loader explains the value"
    );
    assert!(is_state_machine("StartAt: a\nStates: []\n"));
    assert!(is_state_machine("SpecVersion: v1\n"));
    assert!(!is_state_machine("version: v1\ntype: flow\nsteps: []\n"));
    assert!(!is_state_machine(""));
    assert!(!is_state_machine("- a\n- b\n"));
    assert!(!is_state_machine("name: x\n"));
    // Not YAML: judged by its top-level lines.
    assert!(is_state_machine("Type: StateMachine\nStates: [\n"));
    assert!(!is_state_machine("type: flow\nsteps: [\n"));
}

#[test]
fn top_level_fields_are_read() {
    let l = ok(&format!(
        "Description: demo\n{}",
        flow("a", "  - Type: Pass\n    Name: a\n    End: true\n")
    ));
    let m = &l.machine;
    assert_eq!(m.name, "t");
    assert_eq!(m.declared_name.as_deref(), Some("t"));
    assert_eq!(m.spec_version, "v1");
    assert_eq!(m.description.as_deref(), Some("demo"));
    assert_eq!(m.mode, Mode::Standard);
    assert_eq!(m.start().name, "a");
    assert!(m.definition.contains("Type: StateMachine"));
    // Name and SpecVersion are optional.
    let l = ok("Type: StateMachine\nStartAt: a\nStates:\n  - {Type: Pass, Name: a, End: true}\n");
    assert_eq!(l.machine.declared_name, None);
    assert_eq!(l.machine.spec_version, "v1");
}

#[test]
fn the_mode_comes_from_the_document_or_the_options() {
    let src = |mode: &str| {
        format!(
            "ExecutionMode: {mode}\n{}",
            flow("w", "  - {Type: Wait, Name: w, Seconds: 30, End: true}\n")
        )
    };
    assert_eq!(ok(&src("Standard")).machine.mode, Mode::Standard);
    assert_eq!(
        error(&src("Express")),
        "7:36: `Seconds` must be from 1 to 20 in Express mode, found 30"
    );
    let e = error(&src("Expres"));
    assert!(e.starts_with("1:16: `ExecutionMode` must be Standard or Express, found \"Expres\"; did you mean \"Express\"?"), "{e}");
    let plain = flow("w", "  - {Type: Wait, Name: w, Seconds: 10, End: true}\n");
    let express = LoadOptions {
        mode: Some(Mode::Express),
    };
    assert_eq!(
        load_with("t", &plain, &express).unwrap().machine.mode,
        Mode::Express
    );
    let e = load_with("t", &src("Standard"), &express).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "1:16: the flow says `ExecutionMode: Standard` but is being created in Express mode"
    );
}

// ---- the eight state types ---------------------------------------------------------

#[test]
fn pass_state() {
    let l = ok(&flow(
        "p",
        "  - Type: Pass\n    Name: p\n    Description: d\n    InputConstructor:\n      FieldA: 123\n    End: true\n",
    ));
    let s = only(&l);
    assert_eq!(s.kind, StateKind::Pass);
    assert_eq!(s.type_name(), "Pass");
    assert_eq!(s.next, Next::End);
    assert_eq!(s.description.as_deref(), Some("d"));
    // The docs' example: InputConstructor replaces the input entirely.
    let input = json!({"requestId": "abc-123"});
    let built = s
        .input_constructor
        .as_ref()
        .unwrap()
        .build(&Scope::new(&input), &mut rng())
        .unwrap();
    assert_eq!(built, json!({"FieldA": 123}));
}

#[test]
fn task_state() {
    let l = ok(&flow(
        "t",
        r#"  - Type: Task
    Name: t
    Action: FC:InvokeFunction
    TaskMode: WaitForSystemCallback
    Timeout: "60"
    Parameters:
      resourceArn: acs:fc:cn-hangzhou:123:functions/f/LATEST
      invocationType: Async
      body:
        id.$: $Input.id
    Retry:
      - Errors: [FC.ResourceThrottled, FnF.ALL]
        Description: policy 1
        MaxAttempts: 3
        IntervalSeconds: 10
        BackoffRate: 2
        MaxBackoffSeconds: 30
    Catch:
      - Errors: [FnF.ALL]
        OutputConstructor:
          code.$: $Context.Current.Error.Code
        Next: f
    Next: done
  - {Type: Succeed, Name: done}
  - {Type: Fail, Name: f, Code: E, Detail: failed}
"#,
    ));
    let s = only(&l);
    let StateKind::Task(t) = &s.kind else {
        panic!("{s:?}")
    };
    assert_eq!(t.action.to_string(), "FC:InvokeFunction");
    assert_eq!(t.mode, TaskMode::WaitForSystemCallback);
    assert_eq!(t.timeout, Some(Timeout::Seconds(60)));
    assert_eq!(t.timeout_seconds(&Scope::empty(), &mut rng()), Ok(Some(60)));
    assert_eq!(
        t.integration,
        Integration::FcInvokeFunction {
            function: FcFunction {
                region: "cn-hangzhou".into(),
                account: "123".into(),
                service: None,
                function: "f".into(),
                qualifier: Some("LATEST".into()),
            },
            invocation_type: Some(InvocationType::Async),
        }
    );
    let params = t
        .parameters
        .as_ref()
        .unwrap()
        .build(&Scope::new(&json!({"id": 7})), &mut rng())
        .unwrap();
    assert_eq!(
        params,
        json!({"resourceArn": "acs:fc:cn-hangzhou:123:functions/f/LATEST", "invocationType": "Async", "body": {"id": 7}})
    );
    assert_eq!(s.retry().len(), 1);
    let r = &s.retry()[0];
    assert_eq!(r.errors, ["FC.ResourceThrottled", "FnF.ALL"]);
    assert_eq!(r.description.as_deref(), Some("policy 1"));
    assert_eq!(
        (
            r.max_attempts,
            r.interval_seconds,
            r.backoff_rate,
            r.max_backoff_seconds
        ),
        (3, 10, 2.0, Some(30))
    );
    assert!(r.matches("Anything"), "FnF.ALL matches all");
    let c = &s.catch()[0];
    assert_eq!((c.next.name.as_str(), c.next.index), ("f", 2));
    assert!(c.matches("X"));
    let scope = Scope {
        error: Some(CurrentError {
            code: "FC.Unhandled",
            detail: "boom",
        }),
        ..Scope::empty()
    };
    assert_eq!(
        c.output_constructor
            .as_ref()
            .unwrap()
            .build(&scope, &mut rng())
            .unwrap(),
        json!({"code": "FC.Unhandled"})
    );
    assert_eq!(
        s.next,
        Next::State(Target {
            name: "done".into(),
            index: 1,
            pos: crate::syntax::Pos { line: 28, col: 11 }
        })
    );
}

#[test]
fn task_defaults_and_timeout_expressions() {
    let l = ok(&flow(
        "t",
        "  - Type: Task\n    Name: t\n    Action: ECS:DescribeInstances\n    Timeout.$: $Input.timeout\n    End: true\n",
    ));
    let StateKind::Task(t) = &only(&l).kind else {
        panic!()
    };
    assert_eq!(t.mode, TaskMode::RequestComplete);
    assert_eq!(
        t.integration,
        Integration::Other,
        "normal integration: any OpenAPI action"
    );
    let with = |v: Value| t.timeout_seconds(&Scope::new(&v), &mut rng());
    assert_eq!(with(json!({"timeout": 30})), Ok(Some(30)));
    assert_eq!(with(json!({"timeout": "45"})), Ok(Some(45)));
    assert_eq!(with(json!({"timeout": 0})), Ok(None), "0 never times out");
    let e = with(json!({"timeout": 700_000})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`$Input.timeout`: `Timeout.$` must give a whole number of seconds from 0 to 604800, and gave a number (700000)"
    );
    assert!(
        with(json!({})).is_err(),
        "a missing path is null, not a number"
    );
}

#[test]
fn mns_and_child_flow_integrations() {
    let l = ok(&flow(
        "q",
        r#"  - Type: Task
    Name: q
    Action: MNS:SendMessage
    Parameters:
      resourceArn: acs:mns:cn-shanghai:42:/queues/work-1/messages
      message: {body: ok}
      priority: 1
      delaySeconds: 0
    Next: c
  - Type: Task
    Name: c
    Action: FNF:StartExecution
    TaskMode: RequestComplete
    Parameters:
      resourceArn: acs:fnf:cn-hangzhou::flow/test-workflow
      executionName: theExecutionName
      input:
        key: value1
    End: true
"#,
    ));
    let states = &l.machine.body.states;
    let StateKind::Task(q) = &states[0].kind else {
        panic!()
    };
    assert_eq!(
        q.integration,
        Integration::MnsSendMessage {
            target: MnsTarget::Queue("work-1".into()),
            region: "cn-shanghai".into(),
            account: "42".into()
        }
    );
    let StateKind::Task(c) = &states[1].kind else {
        panic!()
    };
    assert_eq!(
        c.integration,
        Integration::StartExecution {
            flow: "test-workflow".into()
        }
    );
    // FC 2.0 ARNs and qualifiers.
    let f = task::parse_fc_arn("acs:fc:::services/myService1.LATEST/functions/fn").unwrap();
    assert_eq!(
        (
            f.service.as_deref(),
            f.function.as_str(),
            f.qualifier.as_deref()
        ),
        (Some("myService1"), "fn", Some("LATEST"))
    );
    assert_eq!(
        task::parse_mns_arn("acs:mns:cn-hangzhou:1231231****:/queues/fnf-mns-queues/messages")
            .unwrap()
            .0,
        MnsTarget::Queue("fnf-mns-queues".into()),
        "the docs' masked account id"
    );
    assert!(task::parse_mns_arn("acs:mns:::/topics/1bad/messages").is_err());
    assert!(task::parse_flow_arn("acs:fnf:::flow/").is_err());
}

#[test]
fn wait_state() {
    let l = ok(&flow(
        "w",
        "  - Type: Wait\n    Name: w\n    Seconds: 12\n    End: true\n",
    ));
    let StateKind::Wait(w) = &only(&l).kind else {
        panic!()
    };
    assert_eq!(*w, Wait::Seconds(12));
    assert_eq!(
        w.seconds(&Scope::empty(), Mode::Standard, &mut rng()),
        Ok(12)
    );
    let l = ok(&flow(
        "w",
        "  - Type: Wait\n    Name: w\n    Seconds.$: $Input.timeout\n    End: true\n",
    ));
    let StateKind::Wait(w) = &only(&l).kind else {
        panic!()
    };
    let at = |v: Value, mode| w.seconds(&Scope::new(&v), mode, &mut rng());
    assert_eq!(at(json!({"timeout": 300}), Mode::Standard), Ok(300));
    assert!(at(json!({"timeout": 301}), Mode::Standard).is_err());
    assert!(at(json!({"timeout": 21}), Mode::Express).is_err());
    assert!(at(json!({"timeout": 0}), Mode::Standard).is_err());
    let e = at(json!({"timeout": "soon"}), Mode::Standard).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`$Input.timeout`: `Seconds.$` must give a whole number of seconds from 1 to 300, and gave a string (\"soon\")"
    );
}

#[test]
fn succeed_and_fail_states() {
    let l = ok(&flow(
        "c",
        r#"  - Type: Choice
    Name: c
    Branches:
      - Condition: $Input.ok
        Next: s
    Default: f
  - Type: Succeed
    Name: s
  - Type: Fail
    Name: f
    Code: customBizCode
    Detail: my custom error
    End: true
"#,
    ));
    let states = &l.machine.body.states;
    assert_eq!(states[1].kind, StateKind::Succeed);
    assert_eq!(states[1].next, Next::None);
    assert_eq!(
        states[2].kind,
        StateKind::Fail(Fail {
            code: Some("customBizCode".into()),
            detail: "my custom error".into()
        })
    );
    let l = ok(&flow("f", "  - {Type: Fail, Name: f, Detail: no code}\n"));
    assert_eq!(
        only(&l).kind,
        StateKind::Fail(Fail {
            code: None,
            detail: "no code".into()
        })
    );
}

#[test]
fn choice_state() {
    let l = ok(&flow(
        "Choice1",
        r#"  - Type: Choice
    Name: Choice1
    Branches:
      - Condition: $Input.status == "true"
        Next: Pass1
      - Condition: $Context.Current.Input.Size>=1024
        Next: Fail1
    Default: Fail1
  - {Type: Pass, Name: Pass1, End: true}
  - {Type: Fail, Name: Fail1, Code: customBizCode, Detail: my custom error}
"#,
    ));
    let s = only(&l);
    let StateKind::Choice(c) = &s.kind else {
        panic!()
    };
    assert_eq!(s.next, Next::None);
    assert_eq!(c.branches.len(), 2);
    assert_eq!(c.default.index, 2);
    let pick = |input: Value| {
        let scope = Scope::new(&input);
        c.branches
            .iter()
            .find(|b| b.condition.eval(&scope).unwrap())
            .map_or(c.default.name.as_str(), |b| b.next.name.as_str())
            .to_owned()
    };
    assert_eq!(pick(json!({"status": "true"})), "Pass1");
    assert_eq!(pick(json!({"status": "false", "Size": 2048})), "Fail1");
    assert_eq!(
        pick(json!({})),
        "Fail1",
        "missing keys do not match: the default"
    );
    assert_eq!(
        c.branches[1].condition.source(),
        "$Context.Current.Input.Size>=1024"
    );
}

#[test]
fn parallel_state() {
    let l = ok(&flow(
        "par",
        r#"  - Type: Parallel
    Name: par
    Branches:
      - StartAt: a1
        States:
          - {Type: Pass, Name: a1, Next: a2}
          - {Type: Pass, Name: a2, End: true}
      - StartAt: b1
        States:
          - {Type: Pass, Name: b1, End: true}
    OutputConstructor:
      first.$: $Output.Branch0
    Retry:
      - {Errors: [FnF.ALL], MaxAttempts: 1, IntervalSeconds: 1}
    End: true
"#,
    ));
    let s = only(&l);
    let StateKind::Parallel(p) = &s.kind else {
        panic!()
    };
    assert_eq!(p.branches.len(), 2);
    assert_eq!(p.branches[0].start().name, "a1");
    assert!(
        matches!(&p.branches[0].states[0].next, Next::State(t) if t.name == "a2" && t.index == 1),
        "{:?}",
        p.branches[0].states[0].next
    );
    assert_eq!(
        p.branches[1].get("b1").map(|s| s.next.clone()),
        Some(Next::End)
    );
    assert_eq!(s.retry().len(), 1);
    let names: Vec<&str> = l
        .machine
        .all_states()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["par", "a1", "a2", "b1"]);
}

#[test]
fn map_state() {
    let l = ok(&flow(
        "Map1",
        r#"  - Type: Map
    Name: Map1
    ItemsPath: $Input.FieldA
    MaxConcuccency: 28
    Processor:
      StartAt: Pass1
      States:
        - Type: Pass
          Name: Pass1
          End: true
    End: true
"#,
    ));
    let StateKind::Map(m) = &only(&l).kind else {
        panic!()
    };
    assert_eq!(m.max_concurrency, Some(28), "the docs' spelling");
    assert_eq!(m.concurrency(), 28);
    assert_eq!(m.processor.start().name, "Pass1");
    let items = m.items(
        &Scope::new(&json!({"FieldA": [{"a": "b"}, {"c": "d"}]})),
        &mut rng(),
    );
    assert_eq!(items, Ok(vec![json!({"a": "b"}), json!({"c": "d"})]));
    let e = m
        .items(&Scope::new(&json!({"FieldA": {"a": 1}})), &mut rng())
        .unwrap_err();
    assert!(
        e.to_string().contains("`ItemsPath` must give an array"),
        "{e}"
    );
    let l = ok(&flow(
        "m",
        "  - Type: Map\n    Name: m\n    ItemsPath: $Input.xs\n    MaxConcurrency: 3\n    Processor:\n      StartAt: p\n      States: [{Type: Pass, Name: p, End: true}]\n    End: true\n",
    ));
    let StateKind::Map(m) = &only(&l).kind else {
        panic!()
    };
    assert_eq!(m.concurrency(), 3);
}

// ---- validation rules ---------------------------------------------------------------

#[test]
fn unknown_fields_and_wrong_types_are_named() {
    let e = error(&flow(
        "a",
        "  - Type: Pass\n    Name: a\n    End: true\n    OutputConstrutor: {}\n",
    ));
    assert_eq!(
        e,
        "9:5: unknown field \"OutputConstrutor\" in Pass state \"a\"; did you mean \"OutputConstructor\"?"
    );
    let e = error(&flow("a", "  - Type: Pass\n    Name: a\n    End: yes\n"));
    assert_eq!(e, "8:10: `End` must be true or false, found a string");
    let e = errors(&flow("a", "  - Type: Pass\n    Name: [a]\n    End: true\n"));
    assert_eq!(e[1], "7:11: `Name` must be a string, found a list");
    let e = error(&flow(
        "a",
        "  - Type: Pass\n    Name: a\n    Retry: []\n    End: true\n",
    ));
    assert_eq!(
        e,
        "8:5: `Retry` is for Task, Parallel and Map states, not Pass"
    );
}

#[test]
fn references_are_resolved_in_their_scope() {
    let e = error(&flow("b", "  - {Type: Pass, Name: a, End: true}\n"));
    assert_eq!(
        e,
        "4:10: StartAt \"b\": no state of this scope has that name"
    );
    let e = errors(&flow("Sart", "  - {Type: Pass, Name: Start, End: true}\n"));
    assert_eq!(
        e[0],
        "4:10: StartAt \"Sart\": no state of this scope has that name; did you mean \"Start\"?"
    );
    let e = error(&flow(
        "c",
        "  - Type: Choice\n    Name: c\n    Branches: [{Condition: $Input.ok, Next: a}]\n    Default: z\n  - {Type: Pass, Name: a, End: true}\n",
    ));
    assert_eq!(
        e,
        "9:14: Default \"z\": no state of this scope has that name"
    );
}

#[test]
fn unreachable_states_are_errors_and_dead_ends_warnings() {
    let e = error(&flow(
        "a",
        "  - {Type: Pass, Name: a, End: true}\n  - {Type: Pass, Name: b, Next: a}\n",
    ));
    assert!(e.starts_with("7:5: state \"b\" is unreachable"), "{e}");
    // A catch makes its target reachable.
    ok(&flow(
        "a",
        "  - {Type: Task, Name: a, Action: 'HTTP:Request', Catch: [{Errors: [FnF.ALL], Next: b}], End: true}\n  - {Type: Pass, Name: b, End: true}\n",
    ));
    // A polling loop with a way out is fine; without one, a warning.
    let with_exit = ok(&flow(
        "w",
        r#"  - {Type: Wait, Name: w, Seconds: 5, Next: c}
  - Type: Choice
    Name: c
    Branches: [{Condition: $Input.done, Next: end}]
    Default: w
  - {Type: Succeed, Name: end}
"#,
    ));
    assert!(with_exit.warnings.is_empty());
    let stuck = ok(&flow("a", "  - {Type: Pass, Name: a, Next: a}\n"));
    assert_eq!(stuck.warnings.len(), 1);
    assert!(
        stuck.warnings[0]
            .to_string()
            .starts_with("6:5: a loop with no way out: no path from state \"a\" leads to an `End`"),
        "{}",
        stuck.warnings[0]
    );
}

#[test]
fn documented_limits() {
    let branch = "      - StartAt: p\n        States: [{Type: Pass, Name: p, End: true}]\n";
    let par = |n: usize| {
        flow(
            "par",
            &format!(
                "  - Type: Parallel\n    Name: par\n    Branches:\n{}    End: true\n",
                branch.repeat(n)
            ),
        )
    };
    ok(&par(50));
    assert!(error(&par(51)).ends_with("a Parallel state has at most 50 branches, found 51"));
    let map = |n: u32| {
        flow(
            "m",
            &format!(
                "  - Type: Map\n    Name: m\n    ItemsPath: $Input.xs\n    MaxConcurrency: {n}\n    Processor: {{StartAt: p, States: [{{Type: Pass, Name: p, End: true}}]}}\n    End: true\n"
            ),
        )
    };
    ok(&map(40));
    assert!(error(&map(41)).ends_with("`MaxConcurrency` must be from 1 to 40, found 41"));
    assert!(error(&map(0)).ends_with("`MaxConcurrency` must be from 1 to 40, found 0"));
    let retry = |field: &str, v: u64| {
        flow(
            "t",
            &format!(
                "  - {{Type: Task, Name: t, Action: 'HTTP:Request', End: true, Retry: [{{Errors: [X], MaxAttempts: 1, IntervalSeconds: 1, {field}: {v}}}]}}\n"
            ),
        )
    };
    ok(&retry("MaxBackoffSeconds", 86_400));
    assert!(
        error(&retry("MaxBackoffSeconds", 86_401))
            .ends_with("`MaxBackoffSeconds` must be from 1 to 86400, found 86401")
    );
    let timeout = |v: u64| {
        flow(
            "t",
            &format!(
                "  - {{Type: Task, Name: t, Action: 'HTTP:Request', Timeout: {v}, End: true}}\n"
            ),
        )
    };
    ok(&timeout(0));
    ok(&timeout(604_800));
    assert!(error(&timeout(604_801)).contains("from 0 (no timeout) to 604800"));
}

#[test]
fn retry_delays_grow_and_are_capped() {
    let r = Retry {
        errors: vec!["X".into()],
        description: None,
        max_attempts: 5,
        interval_seconds: 2,
        backoff_rate: 2.0,
        max_backoff_seconds: Some(10),
        pos: crate::syntax::Pos::default(),
    };
    let delays: Vec<u64> = (1..=5).map(|n| r.delay_seconds(n)).collect();
    assert_eq!(delays, [2, 4, 8, 10, 10]);
    let constant = Retry {
        backoff_rate: 1.0,
        max_backoff_seconds: None,
        ..r
    };
    assert_eq!(constant.delay_seconds(30), 2);
    let huge = Retry {
        backoff_rate: 1000.0,
        max_backoff_seconds: None,
        ..constant
    };
    assert_eq!(huge.delay_seconds(1000), 86_400);
}

#[test]
fn express_mode_refuses_callbacks() {
    let src = |mode: &str| {
        format!(
            "ExecutionMode: Express\n{}",
            flow(
                "t",
                &format!(
                    "  - {{Type: Task, Name: t, Action: 'FNF:StartExecution', TaskMode: {mode}, Parameters: {{resourceArn: 'acs:fnf:::flow/x'}}, End: true}}\n"
                )
            )
        )
    };
    ok(&src("RequestComplete"));
    for mode in ["WaitForCustomCallback", "WaitForSystemCallback"] {
        let e = error(&src(mode));
        assert!(
            e.contains(&format!("TaskMode {mode} needs a Standard flow")),
            "{e}"
        );
    }
}

// ---- constructors -----------------------------------------------------------------

#[test]
fn constructors_build_objects_dropping_the_dollar_suffix() {
    let l = ok(&flow(
        "a",
        r#"  - Type: Pass
    Name: a
    InputConstructor:
      plain: $Input.x is a string here
      number: 5
      list: [1, {k.$: $Input.x}]
      nested:
        deep.$: length($Input.xs)
        const: {a: [1]}
      x.$: $Input.x
      missing.$: $Input.nope
      id.$: uuid()
      token.$: $Context.Current.TaskToken
    End: true
"#,
    ));
    let c = only(&l).input_constructor.as_ref().unwrap();
    let input = json!({"x": "X", "xs": [1, 2, 3]});
    let scope = Scope {
        task_token: Some("tok"),
        ..Scope::new(&input)
    };
    let built = c.build(&scope, &mut rng()).unwrap();
    assert_eq!(built["plain"], json!("$Input.x is a string here"));
    assert_eq!(built["number"], json!(5));
    assert_eq!(built["list"], json!([1, {"k": "X"}]));
    assert_eq!(built["nested"], json!({"deep": 3, "const": {"a": [1]}}));
    assert_eq!(built["x"], json!("X"));
    assert_eq!(built["missing"], Value::Null, "a missing path gives null");
    assert_eq!(built["token"], json!("tok"));
    let keys: Vec<&String> = built.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "plain", "number", "list", "nested", "x", "missing", "id", "token"
        ],
        "document order"
    );
    // Deterministic per seed.
    assert_eq!(built, c.build(&scope, &mut rng()).unwrap());
    assert_eq!(
        c.get("number").and_then(Template::as_constant),
        Some(&json!(5))
    );
    assert!(matches!(c.get("nested"), Some(Template::Object(_))));
    assert!(matches!(c.get("list"), Some(Template::List(_))));
    assert!(matches!(
        c.field("x").map(|f| &f.value),
        Some(Template::Expr(_))
    ));
    assert_eq!(
        c.field("x").unwrap().pos,
        crate::syntax::Pos { line: 15, col: 7 }
    );
    assert!(
        l.warnings.is_empty(),
        "`plain` does not start with a path: {:?}",
        l.warnings
    );
}

#[test]
fn constructor_errors_evaluate_lazily_and_name_the_expression() {
    let l = ok(&flow(
        "a",
        "  - Type: Pass\n    Name: a\n    OutputConstructor:\n      n.$: intAdd($Input.a, 1)\n    End: true\n",
    ));
    let c = only(&l).output_constructor.as_ref().unwrap();
    let e = c
        .build(&Scope::new(&json!({"a": "x"})), &mut rng())
        .unwrap_err();
    assert_eq!(e.expression, "intAdd($Input.a, 1)");
    assert!(
        matches!(e.reason, EvalReason::Function { name: "intAdd", .. }),
        "{e}"
    );
}

#[test]
fn output_is_allowed_only_in_output_constructors() {
    let place = |field: &str| {
        flow(
            "t",
            &format!(
                "  - Type: Task\n    Name: t\n    Action: HTTP:Request\n    {field}:\n      s.$: $Output.status\n    Catch:\n      - Errors: [FnF.ALL]\n        OutputConstructor:\n          o.$: $Output\n        Next: t\n    End: true\n"
            ),
        )
    };
    let l = ok(&place("OutputConstructor"));
    assert_eq!(l.warnings.len(), 0);
    for field in ["InputConstructor", "Parameters"] {
        let e = error(&place(field));
        assert!(e.contains("`$Output` is the task's result"), "{field}: {e}");
    }
}

#[test]
fn old_syntax_and_distributed_maps_are_refused_clearly() {
    let e = error(&flow(
        "t",
        "  - Type: Task\n    Name: t\n    Action: HTTP:Request\n    OnErrors: []\n    End: true\n",
    ));
    assert!(
        e.contains("`OnErrors` is the 2023 syntax")
            && e.contains("`Retry: [")
            && e.contains("`Catch: ["),
        "{e}"
    );
    let e = error(&flow(
        "m",
        "  - Type: Map\n    Name: m\n    ItemsPath: $Input.xs\n    ResultWriter: {}\n    Processor: {StartAt: p, States: [{Type: Pass, Name: p, End: true}]}\n    End: true\n",
    ));
    assert!(
        e.contains("`ResultWriter` belongs to a distributed Map, which flowsim does not support"),
        "{e}"
    );
}

#[test]
fn expression_errors_map_to_file_positions() {
    // Plain, single-quoted and double-quoted scalars point at the
    // character; a block scalar points at its start.
    let cases = [
        ("      x.$: $Input.a = 1\n", "10:21"),
        ("      x.$: '$Input.a = 1'\n", "10:22"),
        ("      x.$: \"$Input.a = 1\"\n", "10:22"),
        ("      x.$: |\n        $Input.a = 1\n", "11:9"),
    ];
    for (line, pos) in cases {
        let src = flow(
            "a",
            &format!("  - Type: Pass\n    Name: a\n    End: true\n    InputConstructor:\n{line}"),
        );
        let e = error(&src);
        assert!(
            e.starts_with(&format!(
                "{pos}: bad expression `$Input.a = 1` in `x.$` at character 10"
            )),
            "{e}"
        );
    }
}

#[test]
fn a_byte_order_mark_and_flow_style_are_fine() {
    ok(&format!(
        "\u{feff}{}",
        flow("a", "  - {Type: Pass, Name: a, End: true}\n")
    ));
    ok("{Type: StateMachine, StartAt: a, States: [{Type: Pass, Name: a, End: true}]}");
}
