//! A YAML document as a tree that remembers where every node and key came from.
//!
//! Built from saphyr-parser's event stream rather than a ready-made DOM so
//! that nothing the validator needs is lost: every node and every mapping key
//! keeps its line and column, duplicate keys are reported instead of silently
//! overwritten, and quoted scalars stay strings (`"true"` is not a boolean).
//! Scalars are resolved with the YAML 1.2 core schema. Knows nothing of FDL.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use serde_json::Value;

use super::Diagnostic;
use super::model::Pos;

/// A node of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    /// The scalar's position on one line, for pointing inside it (a
    /// condition or a path): the column of its first content character.
    /// `None` for multi-line and block scalars.
    pub inline_col: Option<u32>,
    pub data: Data,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping entry: a plain-string key (checked when parsing) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    /// What the node is, for messages: "a string", "a list"...
    pub fn kind(&self) -> &'static str {
        match &self.data {
            Data::Null => "nothing (null)",
            Data::Bool(_) => "a boolean",
            Data::Int(_) => "an integer",
            Data::Float(_) => "a number",
            Data::Str(_) => "a string",
            Data::Seq(_) => "a list",
            Data::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.data {
            Data::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.data {
            Data::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.data {
            Data::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The position of the `offset`-th character of a single-line scalar,
    /// or the scalar's start when it spans lines.
    pub fn pos_at(&self, offset: usize) -> Pos {
        match self.inline_col {
            Some(col) => Pos {
                line: self.pos.line,
                col: col.saturating_add(u32::try_from(offset).unwrap_or(u32::MAX)),
            },
            None => self.pos,
        }
    }

    /// The node as JSON; `Err` with the position of a value JSON cannot hold.
    pub fn to_json(&self) -> Result<Value, Diagnostic> {
        Ok(match &self.data {
            Data::Null => Value::Null,
            Data::Bool(b) => Value::Bool(*b),
            Data::Int(i) => Value::from(*i),
            Data::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => Value::Number(n),
                None => {
                    return Err(Diagnostic::new(
                        self.pos,
                        "infinity and NaN cannot be represented in JSON",
                    ));
                }
            },
            Data::Str(s) => Value::String(s.clone()),
            Data::Seq(items) => {
                Value::Array(items.iter().map(Node::to_json).collect::<Result<_, _>>()?)
            }
            Data::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| Ok((e.key.clone(), e.value.to_json()?)))
                    .collect::<Result<_, Diagnostic>>()?,
            ),
        })
    }
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        col: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
    }
}

/// Parses one YAML document. `Ok(None)` for a stream with no document or
/// only a null one (an empty file, or nothing but comments). Problems that
/// do not stop parsing (duplicate keys, non-string keys) are appended to
/// `diags`; a syntax error stops it and is returned as `Err`.
pub fn parse(source: &str, diags: &mut Vec<Diagnostic>) -> Result<Option<Node>, Diagnostic> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        aliased: 0,
        docs: Vec::new(),
        diags,
    };
    for item in Parser::new_from_str(source) {
        let (event, span) = item.map_err(|e| scan_error(source, &e))?;
        b.event(event, &span)?;
    }
    let mut docs = b.docs.into_iter();
    let first = docs.next();
    if let Some(second) = docs.next() {
        return Err(Diagnostic::new(
            second.pos,
            "a flow file holds one YAML document; found a second one (`---`)",
        ));
    }
    Ok(first.filter(|n| n.data != Data::Null))
}

fn scan_error(source: &str, e: &ScanError) -> Diagnostic {
    let m = e.marker();
    let mut pos = Pos {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
    };
    // The scanner reports a tab after having skipped it: point at the tab.
    if e.info().contains("tab")
        && let Some(line) = source.lines().nth(m.line().saturating_sub(1))
        && let Some(i) = line.chars().position(|c| c == '\t')
    {
        pos.col = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    Diagnostic::new(pos, format!("not valid YAML: {}", e.info()))
}

enum Open {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(Node, bool)>,
    },
}

/// Deepest nesting of lists and mappings accepted (a flow nested 60
/// constructs deep uses about 240).
const MAX_NESTING: usize = 256;

/// Most nodes that aliases may copy into one document. Real flows use a
/// handful of small anchors (shared mappings, retry policies); this is far
/// above them and far below what exhausts memory.
const ALIAS_BUDGET: usize = 10_000;

/// How many nodes `node` is, counting no further than `limit`.
fn node_count(node: &Node, limit: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        count += 1;
        if count >= limit {
            return limit;
        }
        match &n.data {
            Data::Seq(items) => stack.extend(items.iter()),
            Data::Map(entries) => stack.extend(entries.iter().map(|e| &e.value)),
            _ => {}
        }
    }
    count
}

struct Builder<'d> {
    stack: Vec<Open>,
    /// Anchored nodes and how many nodes each one is (aliases copy them).
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes copied by aliases so far (see [`ALIAS_BUDGET`]).
    aliased: usize,
    docs: Vec<Node>,
    diags: &'d mut Vec<Diagnostic>,
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), Diagnostic> {
        let pos = pos_of(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let force_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let data = if style == ScalarStyle::Plain && !force_str {
                    resolve_plain(&text)
                } else {
                    Data::Str(text.into_owned())
                };
                let inline_col = (span.start.line() == span.end.line()).then_some(match style {
                    ScalarStyle::Plain => Some(pos.col),
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Some(pos.col + 1),
                    _ => None,
                });
                let node = Node {
                    pos,
                    inline_col: inline_col.flatten(),
                    data,
                };
                self.finish(node, anchor, style == ScalarStyle::Plain)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((n, size)) => {
                    // Aliases of aliases grow exponentially (a "billion
                    // laughs" document of a few hundred bytes): stop at a
                    // budget before copying, not after running out of memory.
                    self.aliased = self.aliased.saturating_add(*size);
                    if self.aliased > ALIAS_BUDGET {
                        return Err(Diagnostic::new(
                            pos,
                            format!(
                                "aliases expand to more than {ALIAS_BUDGET} nodes: \
                                 refusing a document that grows this much (nested anchors and aliases?)"
                            ),
                        ));
                    }
                    let mut n = n.clone();
                    n.pos = pos;
                    self.finish(n, 0, true)
                }
                None => Err(Diagnostic::new(pos, "alias to an unknown anchor")),
            },
            Event::SequenceStart(..) | Event::MappingStart(..)
                if self.stack.len() >= MAX_NESTING =>
            {
                // Everything downstream walks the tree recursively: refuse
                // a depth no flow needs before it can exhaust the stack.
                Err(Diagnostic::new(
                    pos,
                    format!(
                        "the document nests lists and mappings more than {MAX_NESTING} levels deep"
                    ),
                ))
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Open::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq { pos, anchor, items }) => self.finish(
                    Node {
                        pos,
                        inline_col: None,
                        data: Data::Seq(items),
                    },
                    anchor,
                    false,
                ),
                Some(Open::Map {
                    pos,
                    anchor,
                    entries,
                    ..
                }) => self.finish(
                    Node {
                        pos,
                        inline_col: None,
                        data: Data::Map(entries),
                    },
                    anchor,
                    false,
                ),
                None => Ok(()),
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd => Ok(()),
            Event::DocumentStart(_) | Event::DocumentEnd => Ok(()),
        }
    }

    /// A complete node: record its anchor and hand it to its parent.
    fn finish(&mut self, node: Node, anchor: usize, plain: bool) -> Result<(), Diagnostic> {
        if anchor != 0 {
            let size = node_count(&node, ALIAS_BUDGET + 1);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                None => *key = Some((node, plain)),
                Some((k, _)) => {
                    let name = match &k.data {
                        Data::Str(s) => Some(s.clone()),
                        Data::Bool(b) => Some(b.to_string()),
                        Data::Int(i) => Some(i.to_string()),
                        Data::Float(f) => Some(f.to_string()),
                        Data::Null => Some(String::new()),
                        Data::Seq(_) | Data::Map(_) => None,
                    };
                    let Some(name) = name else {
                        self.diags.push(Diagnostic::new(
                            k.pos,
                            "a mapping key must be a plain name, not a list or mapping",
                        ));
                        return Ok(());
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == name) {
                        self.diags.push(Diagnostic::new(
                            k.pos,
                            format!(
                                "duplicate key \"{name}\" (first at line {}, column {})",
                                first.key_pos.line, first.key_pos.col
                            ),
                        ));
                        return Ok(());
                    }
                    entries.push(Entry {
                        key: name,
                        key_pos: k.pos,
                        value: node,
                    });
                }
            },
        }
        Ok(())
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(s: &str) -> Data {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Data::Null,
        "true" | "True" | "TRUE" => return Data::Bool(true),
        "false" | "False" | "FALSE" => return Data::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Data::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Data::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Data::Float(f64::NAN),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Data::Int(i);
        }
        if let Ok(f) = s.parse::<f64>() {
            return Data::Float(f);
        }
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Data::Int(i);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Data::Int(i);
    }
    let looks_numeric = digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_numeric && let Ok(f) = s.parse::<f64>() {
        return Data::Float(f);
    }
    Data::Str(s.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn tree(src: &str) -> (Option<Node>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let n = parse(src, &mut d).unwrap();
        (n, d)
    }

    #[test]
    fn positions_are_one_based_line_and_column() {
        let (n, d) = tree("a: 1\nb:\n  - x\n  - 'y'\n");
        assert!(d.is_empty());
        let n = n.unwrap();
        let m = n.as_map().unwrap();
        assert_eq!(m[0].key_pos, Pos { line: 1, col: 1 });
        assert_eq!(m[0].value.pos, Pos { line: 1, col: 4 });
        assert_eq!(m[0].value.data, Data::Int(1));
        let seq = m[1].value.as_seq().unwrap();
        assert_eq!(seq[0].pos, Pos { line: 3, col: 5 });
        assert_eq!(seq[1].data, Data::Str("y".into()));
        assert_eq!(seq[1].inline_col, Some(6));
    }

    #[test]
    fn core_schema_and_quoting() {
        let (n, _) = tree("[1, -2, 1.5, 1e3, true, 'true', null, ~, x, 0x1F, \"1\", .inf]");
        let n = n.unwrap();
        let v: Vec<&Data> = n.as_seq().unwrap().iter().map(|n| &n.data).collect();
        assert_eq!(v[0], &Data::Int(1));
        assert_eq!(v[1], &Data::Int(-2));
        assert_eq!(v[2], &Data::Float(1.5));
        assert_eq!(v[3], &Data::Float(1000.0));
        assert_eq!(v[4], &Data::Bool(true));
        assert_eq!(v[5], &Data::Str("true".into()));
        assert_eq!(v[6], &Data::Null);
        assert_eq!(v[7], &Data::Null);
        assert_eq!(v[8], &Data::Str("x".into()));
        assert_eq!(v[9], &Data::Int(31));
        assert_eq!(v[10], &Data::Str("1".into()));
        assert_eq!(v[11], &Data::Float(f64::INFINITY));
        assert!(n.as_seq().unwrap()[11].to_json().is_err());
    }

    #[test]
    fn duplicate_keys_are_reported_not_overwritten() {
        let (n, d) = tree("a: 1\nb: 2\na: 3\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].pos, Pos { line: 3, col: 1 });
        assert!(
            d[0].message
                .contains("duplicate key \"a\" (first at line 1, column 1)")
        );
        assert_eq!(n.unwrap().as_map().unwrap()[0].value.data, Data::Int(1));
    }

    #[test]
    fn empty_and_comment_only_documents_are_none() {
        assert_eq!(tree("").0, None);
        assert_eq!(tree("# just a comment\n").0, None);
        assert_eq!(tree("---\n...\n").0, None);
    }

    #[test]
    fn syntax_errors_and_second_documents_are_errors() {
        let mut d = Vec::new();
        let e = parse("a: [1, 2\n", &mut d).unwrap_err();
        assert!(e.message.starts_with("not valid YAML"), "{e:?}");
        let e = parse("a: 1\n---\nb: 2\n", &mut d).unwrap_err();
        assert!(e.message.contains("one YAML document"));
        assert_eq!(e.pos.line, 3);
    }

    #[test]
    fn absurd_nesting_is_refused_not_overflowing_the_stack() {
        let mut src = String::from("a:\n");
        for i in 0..20_000 {
            src.push_str(&" ".repeat(i + 1));
            src.push_str("- \n");
        }
        let mut d = Vec::new();
        let err = parse(&src, &mut d).unwrap_err();
        assert!(err.message.contains("levels deep"), "{err}");
        // Deep but sane nesting is fine.
        let mut ok = String::new();
        for i in 0..100 {
            ok.push_str(&"  ".repeat(i));
            ok.push_str(&format!("k{i}:\n"));
        }
        ok.push_str(&"  ".repeat(100));
        ok.push_str("leaf: 1\n");
        let (n, d) = tree(&ok);
        assert!(d.is_empty() && n.is_some(), "{d:?}");
    }

    #[test]
    fn an_alias_bomb_is_refused_not_expanded() {
        // Nine levels of nine aliases each: 9^9 nodes if expanded.
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let items = [prev.as_str(); 9].join(", ");
            src.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let mut d = Vec::new();
        let err = parse(&src, &mut d).unwrap_err();
        assert!(err.message.contains("aliases expand to more than"), "{err}");
        assert_eq!(err.pos.line, 5, "{err}");
        // A normal amount of sharing is fine.
        let (n, d) = tree("base: &b {a: 1, b: [1, 2]}\none: *b\ntwo: *b\n");
        assert!(d.is_empty(), "{d:?}");
        assert!(n.is_some());
    }

    #[test]
    fn anchors_and_aliases_copy_the_node() {
        let (n, d) = tree("a: &x {k: 1}\nb: *x\n");
        assert!(d.is_empty());
        let n = n.unwrap();
        let m = n.as_map().unwrap();
        assert_eq!(m[1].value.to_json().unwrap(), serde_json::json!({"k": 1}));
    }

    #[test]
    fn to_json_keeps_key_order() {
        let (n, _) = tree("z: 1\na: [x, {q: null}]\n");
        assert_eq!(
            n.unwrap().to_json().unwrap().to_string(),
            r#"{"z":1,"a":["x",{"q":null}]}"#
        );
    }
}
