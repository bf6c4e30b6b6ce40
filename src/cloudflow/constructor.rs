//! Constructors: `InputConstructor`, `OutputConstructor`, a Catch's
//! `OutputConstructor` and a Task's `Parameters` (input-and-output page).
//!
//! A constructor is a mapping. A key ending in `.$` takes an expression and
//! gives the output key without the `.$` (`taskToken.$:
//! $Context.Current.TaskToken` gives `taskToken`); any other value is a
//! constant, taken as written ("if you do not suffix .$ to the key of the
//! constructor, the value is processed as a string"). Nested mappings,
//! and mappings inside lists, follow the same rule (an Alibaba solution
//! writes `body: {videoUrl.$: $Input.videoUrl}` under `Parameters`). An
//! expression reading a path the data does not have gives `null`.

use rand::RngCore;
use serde_json::{Map, Value};

use super::build::Diags;
use super::expr::{EvalError, Expression, Place, Scope};
use crate::syntax::Pos;
use crate::syntax::yaml::{Data, Node};

/// A parsed constructor: an object whose fields are constants or
/// expressions.
#[derive(Debug, Clone, PartialEq)]
pub struct Constructor {
    pub fields: Vec<Field>,
    /// Where the mapping starts.
    pub pos: Pos,
}

/// One output key.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The output key (without `.$`).
    pub key: String,
    pub value: Template,
    /// Where the key is written.
    pub pos: Pos,
}

/// A value to build.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// Taken as written (a mapping or list with no `.$` key inside is one
    /// constant).
    Constant(Value),
    /// A `.$` key's expression.
    Expr(Expression),
    /// A mapping with `.$` keys somewhere inside.
    Object(Constructor),
    /// A list with such a mapping somewhere inside.
    List(Vec<Template>),
}

impl Constructor {
    /// Builds the object: every field in order, expressions evaluated on
    /// `scope` (a missing path gives `null`). `rng` feeds `uuid()` and
    /// `randomInt`.
    pub fn build(&self, scope: &Scope<'_>, rng: &mut impl RngCore) -> Result<Value, EvalError> {
        self.build_dyn(scope, rng)
    }

    fn build_dyn(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, EvalError> {
        let mut out = Map::new();
        for f in &self.fields {
            out.insert(f.key.clone(), f.value.build(scope, rng)?);
        }
        Ok(Value::Object(out))
    }

    /// The template of an output key.
    pub fn get(&self, key: &str) -> Option<&Template> {
        self.fields.iter().find(|f| f.key == key).map(|f| &f.value)
    }

    /// The field of an output key.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}

impl Template {
    fn build(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, EvalError> {
        match self {
            Template::Constant(v) => Ok(v.clone()),
            Template::Expr(e) => e.eval(scope, &mut &mut *rng),
            Template::Object(c) => c.build_dyn(scope, rng),
            Template::List(items) => items
                .iter()
                .map(|t| t.build(scope, rng))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }

    /// The constant, when the template is one.
    pub fn as_constant(&self) -> Option<&Value> {
        match self {
            Template::Constant(v) => Some(v),
            Template::Expr(e) => e.as_constant(),
            _ => None,
        }
    }
}

/// Whether a plain string reads as a whole expression reading data or
/// calling a function (`$Input.x`, `uuid()`), so a key without `.$`
/// holding it is probably a mistake.
fn looks_like_expression(s: &str) -> bool {
    (s.contains('$') || s.contains('(')) && Expression::parse(s).is_ok()
}

/// Parses a constructor mapping; `field` names it in messages. Problems go
/// to `d`; `None` when the node is not a mapping.
pub(crate) fn parse(node: &Node, field: &str, place: Place, d: &mut Diags) -> Option<Constructor> {
    let Some(entries) = node.as_map() else {
        d.err(
            node.pos,
            format!(
                "`{field}` must be a mapping of keys to values, found {}",
                node.kind()
            ),
        );
        return None;
    };
    let mut fields: Vec<Field> = Vec::new();
    for e in entries {
        let (key, value) = match e.key.strip_suffix(".$") {
            Some(out) => {
                if out.is_empty() {
                    d.err(
                        e.key_pos,
                        "a key cannot be only `.$`; write `name.$: expression`",
                    );
                    continue;
                }
                let Some(text) = e.value.as_str() else {
                    d.err(
                        e.value.pos,
                        format!(
                            "the value of `{}` must be an expression such as `$Input.x`, found {}; drop `.$` to use a constant",
                            e.key,
                            e.value.kind()
                        ),
                    );
                    continue;
                };
                let Some(expr) = d.expr(&e.value, text, &e.key, place) else {
                    continue;
                };
                (out.to_owned(), Template::Expr(expr))
            }
            None => {
                if let Some(s) = e.value.as_str()
                    && looks_like_expression(s)
                {
                    d.warn(
                        e.value.pos,
                        format!(
                            "`{}` has no `.$`, so \"{s}\" is used as a plain string; write `{}.$` to evaluate it",
                            e.key, e.key
                        ),
                    );
                }
                let Some(t) = template(&e.value, place, d) else {
                    continue;
                };
                (e.key.clone(), t)
            }
        };
        if let Some(first) = fields.iter().find(|f| f.key == key) {
            d.err(
                e.key_pos,
                format!(
                    "`{}` gives the output key \"{key}\", already given at line {}, column {}",
                    e.key, first.pos.line, first.pos.col
                ),
            );
            continue;
        }
        fields.push(Field {
            key,
            value,
            pos: e.key_pos,
        });
    }
    Some(Constructor {
        fields,
        pos: node.pos,
    })
}

/// A value under a key without `.$`: a constant, or a mapping / list with
/// `.$` keys inside.
fn template(node: &Node, place: Place, d: &mut Diags) -> Option<Template> {
    if !has_dollar_key(node) {
        return match node.to_json() {
            Ok(v) => Some(Template::Constant(v)),
            Err(e) => {
                d.errors.push(e);
                None
            }
        };
    }
    match &node.data {
        Data::Map(_) => parse(node, "the nested mapping", place, d).map(Template::Object),
        Data::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(template(item, place, d)?);
            }
            Some(Template::List(out))
        }
        _ => None,
    }
}

fn has_dollar_key(node: &Node) -> bool {
    match &node.data {
        Data::Map(entries) => entries
            .iter()
            .any(|e| e.key.ends_with(".$") || has_dollar_key(&e.value)),
        Data::Seq(items) => items.iter().any(has_dollar_key),
        _ => false,
    }
}
