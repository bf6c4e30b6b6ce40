//! Input/output/local data rules and `{target, source}` mappings.
//!
//! SPEC "Inputs, outputs and local": a parent's local is the shallow merge
//! of its children's outputs (later keys win); without `inputMappings` a
//! step's input is the parent input merged with the parent local (local
//! wins); without `outputMappings` a step's output is its local.

use serde_json::{Map, Value};

use crate::fdl::{Mapping, ParamValue, Path, Root, Segment, Source, StepKind};

/// What `$context` exposes to a mapping.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub flow: &'a str,
    pub execution: &'a str,
    pub step: &'a str,
    /// The current task's token (`$context.task.token`), if it has one.
    pub token: Option<&'a str>,
}

impl Context<'_> {
    fn lookup(&self, segments: &[Segment]) -> Option<Value> {
        // Fast path for the documented reference.
        if let [Segment::Key(a), Segment::Key(b)] = segments
            && a == "task"
            && b == "token"
        {
            return self.token.map(|t| Value::String(t.to_owned()));
        }
        let obj = serde_json::json!({
            "task": { "token": self.token },
            "execution": { "name": self.execution },
            "flow": { "name": self.flow },
            "step": { "name": self.step },
        });
        Path {
            root: Root::Context,
            segments: segments.to_vec(),
        }
        .lookup(&obj)
    }
}

/// Resolves a reference against a step's scope. A path that does not exist
/// gives `null` (documented choice: upstream does not say).
pub fn resolve(path: &Path, input: &Value, local: &Value, ctx: &Context<'_>) -> Value {
    let found = match path.root {
        Root::Input | Root::Dollar => path.lookup(input),
        Root::Local => path.lookup(local),
        Root::Context => ctx.lookup(&path.segments),
    };
    found.unwrap_or(Value::Null)
}

/// Applies a mapping list, producing a JSON object.
pub fn apply(mappings: &[Mapping], input: &Value, local: &Value, ctx: &Context<'_>) -> Value {
    let mut out = Map::with_capacity(mappings.len());
    for m in mappings {
        let v = match &m.source {
            Source::Const(c) => c.clone(),
            Source::Path(p) => resolve(p, input, local, ctx),
        };
        out.insert(m.target.clone(), v);
    }
    Value::Object(out)
}

/// Shallow-merges the object `from` into the object `into` (later keys win).
/// Non-objects contribute nothing.
pub fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        for (k, v) in from {
            into.insert(k, v);
        }
    }
}

/// A step's input without `inputMappings`: the parent input merged with the
/// parent local (local wins).
pub fn default_input(parent_input: &Value, parent_local: &Value) -> Value {
    let mut v = if parent_input.is_object() {
        parent_input.clone()
    } else {
        Value::Object(Map::new())
    };
    merge(&mut v, parent_local.clone());
    v
}

/// A step's input: mapped when `inputMappings` is present, else the default.
pub fn step_input(
    mappings: Option<&[Mapping]>,
    parent_input: &Value,
    parent_local: &Value,
    ctx: &Context<'_>,
) -> Value {
    match mappings {
        Some(m) => apply(m, parent_input, parent_local, ctx),
        None => default_input(parent_input, parent_local),
    }
}

/// A step's output from its local: mapped when `outputMappings` is present;
/// else the local itself, except for parallel and foreach, whose output is
/// `{}` (their local is the array of branch/iteration outputs).
pub fn step_output(
    mappings: Option<&[Mapping]>,
    kind: &StepKind,
    input: &Value,
    local: Value,
    ctx: &Context<'_>,
) -> Value {
    match mappings {
        Some(m) => apply(m, input, &local, ctx),
        None => match kind {
            StepKind::Parallel(_) | StepKind::Foreach(_) => Value::Object(Map::new()),
            _ => local,
        },
    }
}

/// Evaluates `serviceParams` against the mapped step input: `$` is the whole
/// input, `$.x` a field. A string-valued parameter whose value is an object
/// or array is sent as its JSON text (`MessageBody: $`).
pub fn service_params(params: &[(String, ParamValue)], input: &Value) -> Map<String, Value> {
    let mut out = Map::with_capacity(params.len());
    for (k, p) in params {
        let v = match p {
            ParamValue::Const(c) => c.clone(),
            ParamValue::Path(path) => path.lookup(input).unwrap_or(Value::Null),
        };
        out.insert(k.clone(), v);
    }
    out
}

/// Renders a value as the text a string-typed parameter carries: strings as
/// they are, anything else as compact JSON.
pub fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(root: Root, keys: &[&str]) -> Path {
        Path {
            root,
            segments: keys.iter().map(|k| Segment::Key((*k).into())).collect(),
        }
    }

    fn ctx() -> Context<'static> {
        Context {
            flow: "f",
            execution: "e",
            step: "s",
            token: Some("TOKEN"),
        }
    }

    #[test]
    fn seed_input_mappings() {
        let maps = vec![
            Mapping {
                target: "messageBody".into(),
                source: Source::Path(path(Root::Input, &["messageBody"])),
                pos: Default::default(),
            },
            Mapping {
                target: "taskToken".into(),
                source: Source::Path(path(Root::Context, &["task", "token"])),
                pos: Default::default(),
            },
        ];
        let input = json!({"messageBody": "hello world", "other": 1});
        let got = apply(&maps, &input, &json!({}), &ctx());
        assert_eq!(
            got,
            json!({"messageBody": "hello world", "taskToken": "TOKEN"})
        );
        assert_eq!(
            got.to_string(),
            r#"{"messageBody":"hello world","taskToken":"TOKEN"}"#
        );
    }

    #[test]
    fn parent_local_is_the_shallow_merge_of_child_outputs_later_wins() {
        let mut local = json!({});
        merge(&mut local, json!({"a": 1, "nested": {"x": 1, "y": 1}}));
        merge(&mut local, json!({"b": 2}));
        merge(&mut local, json!({"a": 3, "nested": {"x": 2}}));
        // Shallow: `nested` is replaced whole, not merged key by key.
        assert_eq!(local, json!({"a": 3, "nested": {"x": 2}, "b": 2}));
        // Key order is first-insertion order (the merged key keeps its place).
        let keys: Vec<&String> = local
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["a", "nested", "b"]);
    }

    #[test]
    fn merging_a_non_object_contributes_nothing() {
        let mut local = json!({"a": 1});
        merge(&mut local, json!([1, 2]));
        merge(&mut local, json!("text"));
        merge(&mut local, Value::Null);
        assert_eq!(local, json!({"a": 1}));
    }

    #[test]
    fn default_input_of_a_non_object_parent_input_is_the_local() {
        assert_eq!(
            default_input(&json!([1]), &json!({"b": 2})),
            json!({"b": 2})
        );
        assert_eq!(default_input(&Value::Null, &json!({})), json!({}));
    }

    #[test]
    fn step_input_with_mappings_ignores_the_default_merge() {
        let maps = vec![Mapping {
            target: "x".into(),
            source: Source::Path(path(Root::Input, &["a"])),
            pos: Default::default(),
        }];
        let got = step_input(
            Some(&maps),
            &json!({"a": 1, "b": 2}),
            &json!({"c": 3}),
            &ctx(),
        );
        assert_eq!(got, json!({"x": 1}));
        let got = step_input(Some(&[]), &json!({"a": 1}), &json!({"c": 3}), &ctx());
        assert_eq!(got, json!({}), "an empty inputMappings list maps nothing");
        let got = step_input(None, &json!({"a": 1}), &json!({"a": 2, "c": 3}), &ctx());
        assert_eq!(got, json!({"a": 2, "c": 3}));
    }

    #[test]
    fn output_without_mappings_is_the_local_but_empty_for_parallel_and_foreach() {
        use crate::fdl::{Foreach, Parallel};
        let local = json!({"status": "success"});
        let input = json!({"in": 1});
        assert_eq!(
            step_output(None, &StepKind::Pass, &input, local.clone(), &ctx()),
            local
        );
        let parallel = StepKind::Parallel(Parallel { branches: vec![] });
        let foreach = StepKind::Foreach(Foreach {
            collection: path(Root::Dollar, &["xs"]),
            item: "x".into(),
            index: None,
            steps: vec![],
        });
        for kind in [&parallel, &foreach] {
            assert_eq!(
                step_output(None, kind, &input, json!([{"a": 1}]), &ctx()),
                json!({})
            );
        }
        let maps = vec![
            Mapping {
                target: "first".into(),
                source: Source::Path(Path {
                    root: Root::Local,
                    segments: vec![Segment::Index(0), Segment::Key("a".into())],
                }),
                pos: Default::default(),
            },
            Mapping {
                target: "all".into(),
                source: Source::Path(Path {
                    root: Root::Local,
                    segments: vec![Segment::Wildcard, Segment::Key("a".into())],
                }),
                pos: Default::default(),
            },
            Mapping {
                target: "in".into(),
                source: Source::Path(path(Root::Input, &["in"])),
                pos: Default::default(),
            },
        ];
        assert_eq!(
            step_output(
                Some(&maps),
                &parallel,
                &input,
                json!([{"a": 1}, {"b": 2}, {"a": 3}]),
                &ctx()
            ),
            json!({"first": 1, "all": [1, 3], "in": 1})
        );
    }

    #[test]
    fn default_input_merges_local_over_input() {
        let v = default_input(&json!({"a": 1, "b": 1}), &json!({"b": 2, "c": 3}));
        assert_eq!(v, json!({"a": 1, "b": 2, "c": 3}));
    }

    #[test]
    fn missing_paths_are_null_and_constants_copy() {
        let maps = vec![
            Mapping {
                target: "x".into(),
                source: Source::Path(path(Root::Local, &["nope"])),
                pos: Default::default(),
            },
            Mapping {
                target: "k".into(),
                source: Source::Const(json!([1, 2])),
                pos: Default::default(),
            },
        ];
        assert_eq!(
            apply(&maps, &json!({}), &json!({}), &ctx()),
            json!({"x": null, "k": [1, 2]})
        );
    }

    #[test]
    fn context_exposes_names() {
        let p = path(Root::Context, &["execution", "name"]);
        assert_eq!(resolve(&p, &json!({}), &json!({}), &ctx()), json!("e"));
    }

    #[test]
    fn service_params_dollar_is_whole_input() {
        let params = vec![(
            "MessageBody".to_string(),
            ParamValue::Path(Path {
                root: Root::Dollar,
                segments: vec![],
            }),
        )];
        let input = json!({"a": 1});
        let p = service_params(&params, &input);
        assert_eq!(as_text(&p["MessageBody"]), r#"{"a":1}"#);
    }
}
