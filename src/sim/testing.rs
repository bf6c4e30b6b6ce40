//! Test support: the bundled seed flow built by hand (no parser), for tests
//! of front ends and the runtime. Touches nothing; only builds values.

use crate::fdl::{
    Flow, Mapping, ParamValue, Path, Pattern, Pos, Resource, Root, Segment, Source, Step, StepId,
    StepKind, Task,
};

fn mapping(target: &str, root: Root, segs: &[&str]) -> Mapping {
    Mapping {
        target: target.into(),
        source: Source::Path(Path {
            root,
            segments: segs.iter().map(|s| Segment::Key((*s).into())).collect(),
        }),
        pos: Pos::default(),
    }
}

/// The bundled seed flow (`mns-topic-callback`), as the parser produces it.
pub fn seed_flow() -> Flow {
    seed_flow_with_timeout(None)
}

/// The seed flow with a task `timeoutSeconds`.
pub fn seed_flow_with_timeout(timeout: Option<u64>) -> Flow {
    let topic = "flowsim-callback-topic";
    Flow {
        name: crate::fdl::bundled::SEED_FLOW_NAME.into(),
        version: "v1".into(),
        definition: crate::fdl::bundled::SEED_FLOW.into(),
        timeout_seconds: None,
        input_mappings: vec![],
        output_mappings: vec![],
        body: vec![StepId(0)],
        steps: vec![Step {
            id: StepId(0),
            name: "mns-topic-task".into(),
            pos: Pos { line: 16, col: 5 },
            parent: None,
            end: false,
            input_mappings: Some(vec![
                mapping("messageBody", Root::Input, &["messageBody"]),
                mapping("taskToken", Root::Context, &["task", "token"]),
            ]),
            output_mappings: Some(vec![mapping("status", Root::Local, &["status"])]),
            kind: StepKind::Task(Task {
                resource_arn: format!("acs:mns:::/topics/{topic}/messages"),
                resource: Resource::MnsTopic {
                    topic: topic.into(),
                },
                pattern: Pattern::WaitForCallback,
                timeout_seconds: timeout,
                service_params: vec![(
                    "MessageBody".into(),
                    ParamValue::Path(Path {
                        root: Root::Dollar,
                        segments: vec![],
                    }),
                )],
                retry: vec![],
                catch: vec![],
                error_mappings: None,
                api: None,
            }),
            next: None,
            constructors: None,
        }],
        lang: crate::fdl::Lang::Fdl,
    }
}
