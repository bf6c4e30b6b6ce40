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

/// The input a block of steps reads (`$input`): a plain value, or a foreach
/// iteration's input, which is the foreach step's input with the item (and
/// index) laid over it. The overlay is not copied into a new object: a
/// collection of n items would otherwise be copied n times.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Plain(&'a Value),
    Iteration {
        /// The foreach step's input.
        base: &'a Value,
        /// `iterationMapping.item` and the item.
        item: (&'a str, &'a Value),
        /// `iterationMapping.index` and the index, when named.
        index: Option<(&'a str, &'a Value)>,
    },
}

impl Input<'_> {
    /// The input as one value (what a plain input would hold): the base
    /// with the item, then the index, inserted.
    pub fn to_value(&self) -> Value {
        match *self {
            Input::Plain(v) => v.clone(),
            Input::Iteration { base, item, index } => {
                let mut v = base.clone();
                if let Value::Object(m) = &mut v {
                    m.insert(item.0.to_owned(), item.1.clone());
                    if let Some((k, i)) = index {
                        m.insert(k.to_owned(), i.clone());
                    }
                }
                v
            }
        }
    }

    /// Looks `segments` up, as [`Path::lookup`] would on [`Input::to_value`].
    fn lookup(&self, path: &Path) -> Option<Value> {
        match *self {
            Input::Plain(v) => path.lookup(v),
            Input::Iteration { base, item, index } => match path.segments.split_first() {
                Some((Segment::Key(k), rest)) if base.is_object() => {
                    // The index was inserted last, so it wins a clash.
                    if let Some((_, i)) = index.filter(|(ik, _)| *ik == k.as_str()) {
                        lookup_segments(rest, i)
                    } else if item.0 == k.as_str() {
                        lookup_segments(rest, item.1)
                    } else {
                        path.lookup(base)
                    }
                }
                _ => path.lookup(&self.to_value()),
            },
        }
    }
}

/// [`Path::lookup`] on segments (the path's root already chosen).
fn lookup_segments(segs: &[Segment], v: &Value) -> Option<Value> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(v.clone());
    };
    match first {
        Segment::Key(k) => lookup_segments(rest, v.get(k.as_str())?),
        Segment::Index(i) => lookup_segments(rest, v.get(*i)?),
        Segment::Wildcard => Some(Value::Array(
            v.as_array()?
                .iter()
                .filter_map(|e| lookup_segments(rest, e))
                .collect(),
        )),
    }
}

/// Resolves a reference against a step's scope. A path that does not exist
/// gives `null` (documented choice: upstream does not say).
pub fn resolve(path: &Path, input: &Value, local: &Value, ctx: &Context<'_>) -> Value {
    resolve_in(path, Input::Plain(input), local, ctx)
}

/// [`resolve`] with a block's [`Input`].
pub fn resolve_in(path: &Path, input: Input<'_>, local: &Value, ctx: &Context<'_>) -> Value {
    let found = match path.root {
        Root::Input | Root::Dollar => input.lookup(path),
        Root::Local => path.lookup(local),
        Root::Context => ctx.lookup(&path.segments),
    };
    found.unwrap_or(Value::Null)
}

/// Applies a mapping list, producing a JSON object.
pub fn apply(mappings: &[Mapping], input: &Value, local: &Value, ctx: &Context<'_>) -> Value {
    apply_in(mappings, Input::Plain(input), local, ctx)
}

/// [`apply`] with a block's [`Input`].
pub fn apply_in(mappings: &[Mapping], input: Input<'_>, local: &Value, ctx: &Context<'_>) -> Value {
    let mut out = Map::with_capacity(mappings.len());
    for m in mappings {
        let v = match &m.source {
            Source::Const(c) => c.clone(),
            Source::Path(p) => resolve_in(p, input, local, ctx),
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
    step_input_in(mappings, Input::Plain(parent_input), parent_local, ctx)
}

/// [`step_input`] with a block's [`Input`].
pub fn step_input_in(
    mappings: Option<&[Mapping]>,
    parent_input: Input<'_>,
    parent_local: &Value,
    ctx: &Context<'_>,
) -> Value {
    match (mappings, parent_input) {
        (Some(m), _) => apply_in(m, parent_input, parent_local, ctx),
        (None, Input::Plain(v)) => default_input(v, parent_local),
        (None, overlay) => {
            let mut v = overlay.to_value();
            if !v.is_object() {
                v = Value::Object(Map::new());
            }
            merge(&mut v, parent_local.clone());
            v
        }
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

    #[test]
    fn an_iteration_input_reads_like_its_copy() {
        let base = json!({"xs": [1, 2], "x": "shadowed", "i": "shadowed too", "k": {"a": 1}});
        let (item, index) = (json!({"name": "ann"}), json!(1));
        let view = Input::Iteration {
            base: &base,
            item: ("x", &item),
            index: Some(("i", &index)),
        };
        let copy = view.to_value();
        assert_eq!(
            copy,
            json!({"xs": [1, 2], "x": {"name": "ann"}, "i": 1, "k": {"a": 1}})
        );
        let ctx = ctx();
        for src in [
            "$input.x.name",
            "$input.i",
            "$input.k.a",
            "$input.xs[1]",
            "$input",
            "$input.nope",
            "$input.x",
        ] {
            let Ok(p) = Path::parse(src, &[Root::Input]) else {
                panic!("{src} does not parse")
            };
            assert_eq!(
                resolve_in(&p, view, &json!({}), &ctx),
                resolve(&p, &copy, &json!({}), &ctx),
                "{src}"
            );
        }
        // Without inputMappings the step input is the copy merged with local.
        assert_eq!(
            step_input_in(None, view, &json!({"l": true}), &ctx),
            default_input(&copy, &json!({"l": true}))
        );
    }

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
        let parallel = StepKind::Parallel(Parallel {
            branches: vec![],
            handlers: Default::default(),
        });
        let foreach = StepKind::Foreach(Foreach {
            collection: crate::fdl::Items::Path(path(Root::Dollar, &["xs"])),
            max_concurrency: crate::fdl::FOREACH_CONCURRENCY,
            handlers: Default::default(),
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
