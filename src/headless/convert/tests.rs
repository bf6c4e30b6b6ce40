//! The converter, construct by construct: each FDL flow is converted, the
//! conversion must load as CloudFlow, and both must end the same (status,
//! output, error name) with every automatic handler behaviour.

use super::check::check_text;
use super::convert;
use crate::fdl;

/// Converts `text`, checks it both ways on `input`, and answers the
/// CloudFlow text.
fn same(text: &str, input: &str) -> String {
    let cases = match check_text("t", text, input) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(cases.len(), super::check::BEHAVIOURS.len());
    for c in &cases {
        assert!(c.same(), "{}", c.line());
    }
    let flow = fdl::load("t", text).expect("valid FDL");
    let converted = convert(&flow, "t.yaml").expect("converts");
    crate::cloudflow::load("t", &converted.text).expect("valid CloudFlow");
    converted.text
}

/// The positioned problems of a flow that cannot convert.
fn cannot(text: &str) -> Vec<String> {
    let flow = fdl::load("t", text).expect("valid FDL");
    match convert(&flow, "t.yaml") {
        Ok(c) => panic!("converted:\n{}", c.text),
        Err(d) => d
            .iter()
            .map(|d| format!("{}: {}", d.pos, d.message))
            .collect(),
    }
}

const HEAD: &str = "version: v1\ntype: flow\nsteps:\n";

#[test]
fn a_callback_task_maps_its_input_into_the_message_and_keeps_the_token() {
    let text = same(
        &format!(
            "{HEAD}  - type: task
    name: t
    resourceArn: acs:mns:::/topics/x/messages
    pattern: waitForCallback
    inputMappings:
      - target: body
        source: $input.body
      - target: taskToken
        source: $context.task.token
    serviceParams:
      MessageBody: $
    outputMappings:
      - target: status
        source: $local.status
"
        ),
        r#"{"body": "hi"}"#,
    );
    assert!(text.contains("TaskMode: WaitForCustomCallback"), "{text}");
    assert!(text.contains("      message:\n        body.$: $Input.body\n        taskToken.$: $Context.Current.TaskToken"), "{text}");
    assert!(text.contains("status.$: $Output.status"), "{text}");
}

#[test]
fn later_steps_carry_the_local_and_read_the_default_input() {
    let text = same(
        &format!(
            "{HEAD}  - type: pass
    name: first
    outputMappings:
      - target: a
        source: 1
  - type: task
    name: publish
    resourceArn: acs:mns:::/queues/q/messages
    serviceParams:
      MessageBody: $
    outputMappings:
      - target: id
        source: $local.MessageId
      - target: echo
        source: $input.x
"
        ),
        r#"{"x": "from input", "a": 0}"#,
    );
    assert!(
        text.contains("message.$: jsonMerge($Context.Execution.Input, $Input)"),
        "{text}"
    );
    assert!(text.contains("a.$: $Input.a"), "{text}");
    assert!(
        text.contains("echo.$: jsonMerge($Context.Execution.Input, $Input).x"),
        "{text}"
    );
}

#[test]
fn retry_keeps_fdl_s_default_multiplier_and_catch_its_error_mappings() {
    let text = same(
        &format!(
            "{HEAD}  - type: task
    name: charge
    resourceArn: acs:fc:::services/s/functions/f
    retry:
      - errors: [HandlerError]
        maxAttempts: 2
    catch:
      - errors: [FnF.ALL]
        goto: later
    errorMappings:
      - target: why
        source: $local.error
      - target: all
        source: $local
    outputMappings:
      - target: ok
        source: true
  - type: succeed
    name: done
  - type: pass
    name: later
"
        ),
        "{}",
    );
    assert!(text.contains("BackoffRate: 2"), "{text}");
    assert!(text.contains("IntervalSeconds: 1"), "{text}");
    assert!(
        text.contains("why.$: $Context.Current.Error.Code"),
        "{text}"
    );
    assert!(text.contains("Type: Succeed"), "{text}");
}

#[test]
fn choices_route_with_expressions_and_flatten_branch_steps() {
    let text = same(
        &format!(
            "{HEAD}  - type: pass
    name: start
    outputMappings:
      - target: seen
        source: true
  - type: choice
    name: route
    choices:
      - condition: $.kind == \"big\" && $.amount > 3
        steps:
          - type: pass
            name: big
            inputMappings:
              - target: n
                source: $input.amount
            outputMappings:
              - target: big
                source: $input.n
        goto: finish
    default:
      steps:
        - type: pass
          name: small
          outputMappings:
            - target: small
              source: true
  - type: pass
    name: middle
    outputMappings:
      - target: middle
        source: 1
  - type: pass
    name: finish
    end: true
  - type: fail
    name: never
    error: E
    cause: c
"
        ),
        r#"{"kind": "big", "amount": 5}"#,
    );
    assert!(
        text.contains("Condition: jsonMerge($Context.Execution.Input, $Input).kind == \"big\""),
        "{text}"
    );
    // `finish` is reached with two different sets of keys.
    assert!(text.contains("Name: finish-2"), "{text}");
    same(
        &text_of_default_route(),
        r#"{"kind": "small", "amount": 1}"#,
    );
}

fn text_of_default_route() -> String {
    format!(
        "{HEAD}  - type: choice
    name: route
    choices:
      - condition: $.kind == \"big\"
        goto: big
    default:
      goto: small
  - type: pass
    name: big
    outputMappings:
      - target: big
        source: true
    end: true
  - type: pass
    name: small
"
    )
}

#[test]
fn parallel_outputs_pick_branches_and_collect_with_a_wildcard() {
    let text = same(
        &format!(
            "{HEAD}  - type: parallel
    name: both
    branches:
      - steps:
          - type: task
            name: a
            resourceArn: acs:mns:::/topics/a/messages
            pattern: waitForCallback
            inputMappings:
              - target: id
                source: $input.id
              - target: taskToken
                source: $context.task.token
            serviceParams:
              MessageBody: $
            outputMappings:
              - target: s
                source: $local.status
      - steps:
          - type: pass
            name: b
            outputMappings:
              - target: s
                source: b
    outputMappings:
      - target: first
        source: $local[0].s
      - target: all
        source: $local[*].s
  - type: pass
    name: after
    outputMappings:
      - target: done
        source: true
"
        ),
        r#"{"id": 7}"#,
    );
    assert!(text.contains("first.$: $Output.Branch0.s"), "{text}");
    assert!(
        text.contains("all.$: '[$Output.Branch0.s, $Output.Branch1.s]'"),
        "{text}"
    );
}

#[test]
fn foreach_builds_iteration_inputs_with_the_index_and_collects_wildcards() {
    let text = same(
        &format!(
            "{HEAD}  - type: pass
    name: before
    outputMappings:
      - target: kept
        source: yes
  - type: foreach
    name: each
    iterationMapping:
      collection: $.xs
      item: x
      index: i
    steps:
      - type: task
        name: call
        resourceArn: acs:fc:::services/s/functions/f
        inputMappings:
          - target: x
            source: $input.x
          - target: i
            source: $input.i
          - target: tag
            source: $input.tag
        outputMappings:
          - target: status
            source: $local.status
    outputMappings:
      - target: statuses
        source: $local[*].status
      - target: second
        source: $local[1]
"
        ),
        r#"{"xs": ["a", "b", "c"], "tag": "t"}"#,
    );
    assert!(text.contains("Type: Map"), "{text}");
    assert!(text.contains("mapValues($Input.acc0)"), "{text}");
    // Only the item: the element itself, no loop before the Map.
    let simple = same(
        &format!(
            "{HEAD}  - type: foreach
    name: each
    iterationMapping:
      collection: $.xs
      item: x
    steps:
      - type: pass
        name: p
        inputMappings:
          - target: v
            source: $input.x
        outputMappings:
          - target: v
            source: $input.v
    outputMappings:
      - target: first
        source: $local[0].v
"
        ),
        r#"{"xs": [1, 2]}"#,
    );
    assert!(simple.contains("ItemsPath: $Input.xs"), "{simple}");
    assert!(simple.contains("v.$: $Input"), "{simple}");
    assert!(!simple.contains("-loop"), "{simple}");
}

#[test]
fn waits_fails_and_flow_mappings() {
    let text = same(
        "version: v1
type: flow
inputMappings:
  - target: d
    source: $input.delay
outputMappings:
  - target: out
    source: $local.w
  - target: d
    source: $input.d
steps:
  - type: wait
    name: fixed
    duration: 5
  - type: wait
    name: computed
    duration: $.d
    outputMappings:
      - target: w
        source: waited
",
        r#"{"delay": 7}"#,
    );
    assert!(text.contains("Seconds: 5"), "{text}");
    assert!(
        text.contains("Seconds.$: 'jsonMerge({\"d\": $Context.Execution.Input.delay}, $Input).d'"),
        "{text}"
    );
    assert!(
        text.contains("d.$: $Context.Execution.Input.delay"),
        "{text}"
    );
    assert!(text.contains("Name: flow-output"), "{text}");
    let failing = same(
        &format!("{HEAD}  - type: fail\n    name: no\n    error: Nope\n    cause: because\n"),
        "{}",
    );
    assert!(
        failing.contains("Code: Nope\n    Detail: because"),
        "{failing}"
    );
}

#[test]
fn an_empty_local_at_the_end_is_rebuilt() {
    // A pass with no outputs: FDL's output is {}, not the input.
    let text = same(
        &format!("{HEAD}  - type: pass\n    name: p\n"),
        r#"{"a": 1}"#,
    );
    assert!(text.contains("OutputConstructor: {}"), "{text}");
}

#[test]
fn unconvertible_constructs_are_positioned() {
    let problems = cannot(&format!(
        "{HEAD}  - type: wait
    name: until
    timestamp: 2026-01-01T00:00:00Z
  - type: pass
    name: p
    outputMappings:
      - target: x
        source: $context.flow.id
"
    ));
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("4:5: cannot convert: step `until`: a wait `timestamp`"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("7:5: cannot convert: step `p`: `$context.flow.id`"),
        "{problems:?}"
    );
    let dynamic = cannot(&format!(
        "{HEAD}  - type: task
    name: t
    resourceArn: acs:fc:::services/s/functions/f
  - type: pass
    name: p
    outputMappings:
      - target: x
        source: 1
"
    ));
    assert!(
        dynamic[0].contains("step `p`: adds keys to data whose keys are known only at run time"),
        "{dynamic:?}"
    );
    let succeed = cannot(&format!(
        "{HEAD}  - type: parallel
    name: par
    branches:
      - steps:
          - type: succeed
            name: s
"
    ));
    assert!(
        succeed[0].contains("a succeed inside a parallel branch"),
        "{succeed:?}"
    );
}

#[test]
fn a_loop_back_to_the_first_step_and_catches_inside_a_foreach() {
    // `first` is reached fresh (the input) and again with data: two
    // states; the foreach's catch target takes the default input, so the
    // iteration inputs are built before the Map.
    let flow = r#"version: v1
type: flow
steps:
  - type: choice
    name: first
    choices:
      - condition: $.mode == "b"
        goto: end-here
  - type: foreach
    name: each
    iterationMapping:
      collection: $.items
      item: it
    steps:
      - type: task
        name: t
        resourceArn: acs:fc:::services/s/functions/f
        inputMappings:
          - target: v
            source: $input.it
        catch:
          - errors: [FnF.ALL]
            goto: recover
        errorMappings:
          - target: err
            source: $local.error
        outputMappings:
          - target: s
            source: $local.status
        end: true
      - type: pass
        name: recover
        outputMappings:
          - target: s
            source: failed
    outputMappings:
      - target: ss
        source: $local[*].s
  - type: pass
    name: again
    outputMappings:
      - target: mode
        source: b
  - type: choice
    name: loop
    choices:
      - condition: $.mode == "b" && $.done == null
        goto: first
    default:
      goto: end-here
  - type: pass
    name: end-here
    outputMappings:
      - target: done
        source: true
"#;
    for input in [
        r#"{"items": [1, 2], "mode": "a"}"#,
        r#"{"items": [], "mode": "b"}"#,
    ] {
        let text = same(flow, input);
        assert!(text.contains("Name: first-2"), "{text}");
        assert!(text.contains("Name: each-items-loop"), "{text}");
    }
}

#[test]
fn an_unread_step_input_is_not_an_error() {
    // `p2` cannot see its branch's input, but reads none of it.
    same(
        &format!(
            "{HEAD}  - type: parallel
    name: par
    branches:
      - steps:
          - type: wait
            name: w
            duration: 2
          - type: pass
            name: p2
            outputMappings:
              - target: b
                source: 2
    outputMappings:
      - target: all
        source: $local
"
        ),
        "{}",
    );
}
