//! headless::convert::fanout: parallel and foreach steps as Parallel and
//! Map states, and the loop of states that stands in for a `map` over an
//! array (CloudFlow has no `[*]` and no built-in that maps): a Choice
//! tests `$Input.i < length($Input.items)`, a Pass adds one element's
//! value under its index to an object (`jsonMerge` of
//! `stringToJson(format('{"{}":{}}', i, jsonToString(value)))`) and counts
//! on; `mapValues` of that object is the array, in order.

use serde_json::Value;

use super::expr::{Fields, Val, access};
use super::yaml::{Y, scalar};
use super::{
    BlockIn, Conv, Out, R, Shape, StepIn, Target, fields_y, merge_out, reads_block_input, s_ref,
    state, with_next,
};
use crate::fdl::{Foreach, Items, Segment, Step, StepId};

/// The loop's per-element accumulation of `value` into `acc`.
fn add_to(acc: &str, value: &str) -> String {
    format!(
        "jsonMerge($Input.{acc}, stringToJson(format('{{\"{{}}\":{{}}}}', $Input.i, jsonToString({value}))))"
    )
}

impl Conv<'_> {
    /// A loop over `$Input.items` (see the module): its first state's
    /// name and its states. `keep` are the wrapper's other keys; value
    /// `j` is accumulated under `acc<j>`; then it goes to `after`.
    fn loop_states(
        &mut self,
        prefix: &str,
        keep: &[&str],
        values: &[String],
        after: &str,
    ) -> (String, Vec<Y>) {
        let lp = self.unique(&format!("{prefix}-loop"));
        let add = self.unique(&format!("{prefix}-add"));
        let mut choice = state("Choice", &lp);
        let mut br = Y::M(Vec::new());
        br.push("Condition", scalar("$Input.i < length($Input.items)"));
        br.push("Next", scalar(&add));
        choice.push("Branches", Y::L(vec![br]));
        choice.push("Default", scalar(after));
        let mut fields = Fields::new();
        for k in keep {
            fields.push(((*k).to_owned(), Val::Expr(format!("$Input.{k}"))));
        }
        fields.push(("items".into(), Val::Expr("$Input.items".into())));
        fields.push(("i".into(), Val::Expr("intAdd($Input.i, 1)".into())));
        for (j, v) in values.iter().enumerate() {
            let acc = format!("acc{j}");
            fields.push((acc.clone(), Val::Expr(add_to(&acc, v))));
        }
        let mut pass = state("Pass", &add);
        pass.push("OutputConstructor", fields_y(&fields));
        pass.push("Next", scalar(&lp));
        (lp, vec![choice, pass])
    }

    /// The local's value at `$local[*]` + `rest` of a fan-out whose
    /// children end with `ends` shapes: whether each child's value is
    /// there (FDL leaves out the children that lack it).
    fn wildcard_present(ends: &[Shape], rest: &[Segment]) -> R<bool> {
        let Some(first) = rest.first() else {
            return Ok(true);
        };
        let Segment::Key(k) = first else {
            return Err("`[*]` followed by an index".into());
        };
        let has = |s: &Shape| matches!(s, Shape::Keys(ks) if ks.contains(k));
        let lacks = |s: &Shape| matches!(s, Shape::Keys(ks) if !ks.contains(k));
        if ends.iter().all(has) && (rest.len() == 1 || ends.is_empty()) {
            Ok(true)
        } else if ends.iter().all(lacks) {
            Ok(false)
        } else {
            Err(format!(
                "`[*]` then `.{k}…`: whether each result has it is known only at run time (FDL leaves out those that do not)"
            ))
        }
    }

    pub(super) fn parallel_states(
        &mut self,
        b: usize,
        step: &Step,
        branches: &[Vec<StepId>],
        shape: Shape,
        name: &str,
        after: Target,
    ) -> R<Vec<Y>> {
        let s_in = self.step_in(b, &shape, step, false)?;
        let need = branches.iter().any(|br| {
            let steps: Vec<Step> = br.iter().map(|id| self.flow.step(*id).clone()).collect();
            reads_block_input(&steps, None)
        });
        let has_local = !matches!(&shape, Shape::Fresh) && shape != Shape::Keys(Vec::new());
        let mut s = state("Parallel", name);
        let (branch_in, carry, s_out) = if !need {
            (None, "$Input", s_in)
        } else if shape == Shape::Fresh && matches!(&s_in, StepIn::Whole(e) if e == "$Input") {
            (Some("$Input".to_owned()), "$Input", s_in)
        } else {
            let mut ctor = Y::M(Vec::new());
            if has_local {
                ctor.push("carry.$", scalar("$Input"));
            }
            super::push_step_in(&mut ctor, "input", &s_in)?;
            s.push("InputConstructor", ctor);
            (
                Some("$Input.input".to_owned()),
                "$Input.carry",
                StepIn::Whole("$Input.input".into()),
            )
        };
        let mut list = Vec::new();
        let mut ends = Vec::new();
        for br in branches {
            let nb = self.new_block(br.clone(), BlockIn::Branch(branch_in.clone()));
            let (start, states) = self.run_block(nb);
            ends.push(self.blocks[nb].end_shapes.clone());
            let mut m = Y::M(Vec::new());
            m.push("StartAt", scalar(&start));
            m.push("States", Y::L(states));
            list.push(m);
        }
        s.push("Branches", Y::L(list));
        let n = branches.len();
        let local = |segs: &[Segment]| -> R<String> {
            match segs.split_first() {
                None => Ok(format!(
                    "[{}]",
                    (0..n)
                        .map(|i| format!("$Output.Branch{i}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Some((Segment::Index(i), rest)) if *i < n => {
                    access(&format!("$Output.Branch{i}"), rest)
                }
                Some((Segment::Wildcard, rest)) => {
                    let mut items = Vec::new();
                    for (i, e) in ends.iter().enumerate() {
                        if Self::wildcard_present(e, rest)? {
                            items.push(access(&format!("$Output.Branch{i}"), rest)?);
                        }
                    }
                    Ok(format!("[{}]", items.join(", ")))
                }
                Some(_) => Ok("null".into()),
            }
        };
        let fields = match &step.output_mappings {
            None => Fields::new(),
            Some(ms) => self.out_fields(ms, &s_out, &local, &step.name)?,
        };
        let (ctor, shape) = merge_out(&shape, carry, Out::Keys(fields))?;
        if let Some(c) = ctor {
            s.push("OutputConstructor", c);
        }
        let next = self.next(b, after, shape, false);
        Ok(vec![with_next(s, next)])
    }

    pub(super) fn foreach_states(
        &mut self,
        b: usize,
        step: &Step,
        f: &Foreach,
        shape: Shape,
        name: &str,
        after: Target,
    ) -> R<Vec<Y>> {
        let s_in = self.step_in(b, &shape, step, false)?;
        let Items::Path(coll) = &f.collection else {
            return Err("a CloudFlow ItemsPath in an FDL flow".into());
        };
        let coll = s_ref(&s_in, &coll.segments)?;
        let body: Vec<Step> = f
            .steps
            .iter()
            .map(|id| self.flow.step(*id).clone())
            .collect();
        let zip = reads_block_input(&body, Some(&f.item));
        let has_local = !matches!(&shape, Shape::Fresh) && shape != Shape::Keys(Vec::new());
        let whole = super::whole;
        let mut out = Vec::new();
        let (map_name, items_path, carry, s_out) = if zip {
            // The FDL iteration input: the step input with the item (and
            // index) laid over it, built before the Map.
            let map_name = self.unique(&format!("{}-each", step.name));
            let mut index = String::new();
            if let Some(ix) = &f.index {
                index = format!(", {}: $Input.i", Value::String(ix.clone()));
            }
            let elem = format!(
                "jsonMerge($Input.base, {{{}: get($Input.items, $Input.i){index}}})",
                Value::String(f.item.clone())
            );
            let mut keep = vec!["base"];
            let mut init = Fields::new();
            if has_local {
                keep.insert(0, "carry");
                init.push(("carry".into(), Val::Expr("$Input".into())));
            }
            init.push(("base".into(), Val::Expr(whole(&s_in)?)));
            init.push(("items".into(), Val::Expr(coll)));
            init.push(("i".into(), Val::Const(Value::from(0))));
            init.push(("acc0".into(), Val::Const(Value::Object(Default::default()))));
            let (lp, mut states) =
                self.loop_states(&format!("{}-items", step.name), &keep, &[elem], &map_name);
            let mut p = state("Pass", name);
            p.comment("flowsim: each iteration's FDL input (the step input with the item and index), built one element at a time");
            p.push("OutputConstructor", fields_y(&init));
            p.push("Next", scalar(&lp));
            out.push(p);
            out.append(&mut states);
            (
                map_name,
                "mapValues($Input.acc0)".to_owned(),
                "$Input.carry",
                StepIn::Whole("$Input.base".into()),
            )
        } else {
            (name.to_owned(), coll, "$Input", s_in)
        };
        let mut m = state("Map", &map_name);
        m.push("ItemsPath", scalar(&items_path));
        if f.max_concurrency > super::MAP_CONCURRENCY {
            let msg = format!(
                "FDL runs up to {} iterations at once, an inline Map at most {}",
                f.max_concurrency,
                super::MAP_CONCURRENCY
            );
            m.comment(&format!("flowsim: {msg}"));
            self.warnings.push(crate::syntax::Diagnostic::new(
                step.pos,
                format!("step `{}`: {msg}", step.name),
            ));
        }
        m.push(
            "MaxConcurrency",
            Y::S(f.max_concurrency.min(super::MAP_CONCURRENCY).to_string()),
        );
        let nb = self.new_block(
            f.steps.clone(),
            BlockIn::Iter {
                zip,
                item: f.item.clone(),
            },
        );
        let (start, states) = self.run_block(nb);
        let ends = self.blocks[nb].end_shapes.clone();
        let mut proc = Y::M(Vec::new());
        proc.push("StartAt", scalar(&start));
        proc.push("States", Y::L(states));
        m.push("Processor", proc);
        // `$local[*]…` paths, each collected by the loop after the Map.
        let mut wild: Vec<Vec<Segment>> = Vec::new();
        for mp in step.output_mappings.iter().flatten() {
            if let crate::fdl::Source::Path(p) = &mp.source
                && p.root == crate::fdl::Root::Local
                && let Some((Segment::Wildcard, rest)) = p.segments.split_first()
                && !wild.contains(&rest.to_vec())
            {
                wild.push(rest.to_vec());
            }
        }
        if wild.is_empty() {
            let local = |segs: &[Segment]| match segs.split_first() {
                Some((Segment::Key(_), _)) => Ok("null".to_owned()),
                _ => access("$Output.Items", segs),
            };
            let fields = match &step.output_mappings {
                None => Fields::new(),
                Some(ms) => self.out_fields(ms, &s_out, &local, &step.name)?,
            };
            let (ctor, shape) = merge_out(&shape, carry, Out::Keys(fields))?;
            if let Some(c) = ctor {
                m.push("OutputConstructor", c);
            }
            let next = self.next(b, after, shape, false);
            out.push(with_next(m, next));
            return Ok(out);
        }
        // The Map hands its results to the loop; a Pass maps them.
        let output_name = self.unique(&format!("{}-output", step.name));
        let mut values = Vec::new();
        for rest in &wild {
            let present = Self::wildcard_present(&ends, rest)?;
            values.push(if present {
                access("get($Input.items, $Input.i)", rest)?
            } else {
                "null".into()
            });
            if !present {
                return Err("`[*]` over a key no iteration has".into());
            }
        }
        let mut wrap = Fields::new();
        let mut keep = Vec::new();
        if has_local {
            wrap.push(("carry".into(), Val::Expr(carry.to_owned())));
            keep.push("carry");
        }
        wrap.push(("base".into(), Val::Expr(whole(&s_out)?)));
        keep.push("base");
        wrap.push(("items".into(), Val::Expr("$Output.Items".into())));
        wrap.push(("i".into(), Val::Const(Value::from(0))));
        for j in 0..wild.len() {
            wrap.push((
                format!("acc{j}"),
                Val::Const(Value::Object(Default::default())),
            ));
        }
        let (lp, mut states) = self.loop_states(
            &format!("{}-results", step.name),
            &keep,
            &values,
            &output_name,
        );
        m.push("OutputConstructor", fields_y(&wrap));
        m.push("Next", scalar(&lp));
        out.push(m);
        out.append(&mut states);
        let local = |segs: &[Segment]| match segs.split_first() {
            Some((Segment::Wildcard, rest)) => {
                let j = wild.iter().position(|w| w.as_slice() == rest).unwrap_or(0);
                Ok(format!("mapValues($Input.acc{j})"))
            }
            Some((Segment::Key(_), _)) => Ok("null".to_owned()),
            _ => access("$Input.items", segs),
        };
        let s_base = StepIn::Whole("$Input.base".into());
        let fields = match &step.output_mappings {
            None => Fields::new(),
            Some(ms) => self.out_fields(ms, &s_base, &local, &step.name)?,
        };
        let (ctor, shape) = merge_out(&shape, "$Input.carry", Out::Keys(fields))?;
        let mut p = state("Pass", &output_name);
        p.comment("flowsim: the foreach's outputMappings, `[*]` collected by the loop above");
        if let Some(c) = ctor {
            p.push("OutputConstructor", c);
        }
        let next = self.next(b, after, shape, false);
        out.push(with_next(p, next));
        Ok(out)
    }
}
