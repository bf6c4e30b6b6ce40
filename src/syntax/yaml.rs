//! A YAML document as a tree that remembers where every node and key came from.
//!
//! Built from saphyr-parser's event stream rather than a ready-made DOM so
//! that nothing the validator needs is lost: every node and every mapping key
//! keeps its line and column, duplicate keys are reported instead of silently
//! overwritten, and quoted scalars stay strings (`"true"` is not a boolean).
//! Scalars are resolved with the YAML 1.2 core schema. Knows nothing of FDL.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span};
use serde_json::Value;

use super::Diagnostic;
use super::Pos;

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

fn pos_at(line: usize, col: usize) -> Pos {
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col.saturating_add(1)).unwrap_or(u32::MAX),
    }
}

fn pos_of(m: &Marker) -> Pos {
    pos_at(m.line(), m.col())
}

/// The source text, to find where a node's content starts.
///
/// An event's span starts at the node's properties (its anchor and tag) and
/// ends at the end of its content token. Nodes are placed at their content,
/// as they always have been (`&a [1]` is where `[` is, `!!str x` where `x`
/// is): past properties, blanks, line breaks and comments.
struct Source<'s> {
    text: &'s str,
    /// A character index and its byte offset, to go on from: events come in
    /// source order, so finding the next one costs no rescan.
    seen: (usize, usize),
}

impl<'s> Source<'s> {
    fn new(text: &'s str) -> Self {
        Source { text, seen: (0, 0) }
    }
}

impl<'s> Source<'s> {
    /// Where `m` is, with the text from there on.
    fn place(&mut self, m: &Marker) -> Place<'s> {
        let (mut i, mut b) = self.seen;
        if m.index() < i {
            let mut back = self.text.get(..b).unwrap_or_default().chars().rev();
            while i > m.index() {
                let Some(c) = back.next() else { break };
                i -= 1;
                b -= c.len_utf8();
            }
        } else {
            let mut ahead = self.text.get(b..).unwrap_or_default().chars();
            while i < m.index() {
                let Some(c) = ahead.next() else { break };
                i += 1;
                b += c.len_utf8();
            }
        }
        self.seen = (i, b);
        Place {
            index: i,
            line: m.line(),
            col: m.col(),
            rest: self.text.get(b..).unwrap_or_default(),
        }
    }

    /// The character at `index`.
    fn char_at(&mut self, index: usize) -> Option<char> {
        self.place(&Marker::new(index, 0, 0)).rest.chars().next()
    }

    /// Where the content of a node whose span starts at `start` with
    /// `properties` anchors and tags starts.
    fn content(&mut self, start: &Marker, properties: usize) -> Place<'s> {
        let mut p = self.place(start);
        for _ in 0..properties {
            p.skip_property();
            p.skip_separation();
        }
        p
    }
}

/// A position in the source (0-based column) and the text from there on.
#[derive(Clone)]
struct Place<'s> {
    /// The character index.
    index: usize,
    line: usize,
    col: usize,
    rest: &'s str,
}

impl Place<'_> {
    fn pos(&self) -> Pos {
        pos_at(self.line, self.col)
    }

    /// Moves past the first `len` bytes, which hold no line break and end on
    /// a character boundary.
    fn skip(&mut self, len: usize) {
        if let (Some(skipped), Some(rest)) = (self.rest.get(..len), self.rest.get(len..)) {
            let n = skipped.chars().count();
            self.index += n;
            self.col += n;
            self.rest = rest;
        }
    }

    /// Moves past an anchor (`&a`) or a tag (`!t`, `!!str`, `!<tag:x>`).
    fn skip_property(&mut self) {
        let len = if self.rest.starts_with("!<") {
            self.rest.find('>').map_or(self.rest.len(), |i| i + 1)
        } else {
            self.rest
                .find([' ', '\t', '\n', '\r', ',', '[', ']', '{', '}'])
                .unwrap_or(self.rest.len())
        };
        self.skip(len);
    }

    /// From a block scalar's `|` or `>` to where the scanner starts its
    /// token: the first content line, past its indentation (`block_indent`
    /// is the indentation of the block holding the scalar); the header
    /// itself when no line follows.
    fn skip_block_scalar_header(&mut self, block_indent: isize) {
        let header = self.clone();
        let indicators = self
            .rest
            .find(|c: char| !matches!(c, '|' | '>' | '+' | '-' | '0'..='9'))
            .unwrap_or(self.rest.len());
        let increment = self
            .rest
            .get(..indicators)
            .and_then(|h| h.chars().find_map(|c| c.to_digit(10)))
            .and_then(|d| usize::try_from(d).ok())
            .unwrap_or(0);
        self.skip(indicators);
        self.skip_blanks_to_eol();
        if !self.skip_break() {
            *self = header;
            return;
        }
        // Without an indentation indicator, every leading space.
        let indent = match usize::try_from(block_indent) {
            _ if increment == 0 => usize::MAX,
            Ok(block) => block.saturating_add(increment),
            Err(_) => increment,
        };
        loop {
            let spaces = self
                .rest
                .find(|c| c != ' ')
                .unwrap_or(self.rest.len())
                .min(indent.saturating_sub(self.col));
            self.skip(spaces);
            if !self.skip_break() {
                break;
            }
        }
        if self.rest.is_empty() {
            *self = header;
        }
    }

    /// Moves past a line break, if one is next.
    fn skip_break(&mut self) -> bool {
        match self
            .rest
            .strip_prefix("\r\n")
            .or_else(|| self.rest.strip_prefix(['\n', '\r']))
        {
            Some(rest) => {
                self.index += self.rest.len() - rest.len();
                self.line += 1;
                self.col = 0;
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Moves past blanks and a comment, up to the end of the line.
    fn skip_blanks_to_eol(&mut self) {
        let blanks = self
            .rest
            .find(|c| c != ' ' && c != '\t')
            .unwrap_or(self.rest.len());
        self.skip(blanks);
        if self.rest.starts_with('#') {
            self.skip(self.rest.find(['\n', '\r']).unwrap_or(self.rest.len()));
        }
    }

    /// Moves past blanks, line breaks and comments.
    fn skip_separation(&mut self) {
        loop {
            let blanks = self
                .rest
                .find(|c| c != ' ' && c != '\t')
                .unwrap_or(self.rest.len());
            self.skip(blanks);
            if self.rest.starts_with('#') {
                self.skip(self.rest.find(['\n', '\r']).unwrap_or(self.rest.len()));
            }
            if !self.skip_break() {
                break;
            }
        }
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
        src: Source::new(source),
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
    let mut pos = pos_of(m);
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
        /// The 0-based column of the entries' `-` in a block sequence.
        dash_col: Option<usize>,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(Node, bool)>,
        /// Key -> index in `entries`, so a hostile file with many keys is
        /// checked for duplicates in linear time.
        seen: HashMap<String, usize>,
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
    src: Source<'d>,
}

impl Builder<'_> {
    /// Where a node starts, whether it fits on one line, and the character
    /// index of a collection's start token.
    ///
    /// Nodes are placed where the scanner's token for their content starts,
    /// as they always have been; but an event's span now starts at the
    /// node's properties (anchor and tag), so for a node that has some the
    /// token is found in the source past them.
    fn place(&mut self, event: &Event<'_>, span: &Span) -> (Pos, bool, usize) {
        let one_line = span.start.line() == span.end.line();
        let start = span.start.index();
        let properties = |anchor: &usize, tag: bool| usize::from(*anchor != 0) + usize::from(tag);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let n = properties(anchor, tag.is_some());
                if n == 0 {
                    return (pos_of(&span.start), one_line, start);
                }
                let mut content = self.src.content(&span.start, n);
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    content.skip_block_scalar_header(self.block_indent());
                    return (content.pos(), false, start);
                }
                if text.is_empty() && *style == ScalarStyle::Plain {
                    // A node with nothing but properties: where the next
                    // token starts.
                    return (self.next_token(content), true, start);
                }
                (content.pos(), content.line == span.end.line(), start)
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                if properties(anchor, tag.is_some()) > 0 =>
            {
                // A flow collection starts at its `[` or `{`; a block one at
                // its start token, an empty one that the span ends with (at
                // its first key or `-`, or past that `-` and its blanks for
                // a sequence as indented as the mapping holding it).
                let content = self
                    .src
                    .content(&span.start, properties(anchor, tag.is_some()));
                if content.rest.starts_with(['[', '{']) {
                    (content.pos(), false, content.index)
                } else {
                    (pos_of(&span.end), false, span.end.index())
                }
            }
            _ => (pos_of(&span.start), one_line, start),
        }
    }

    /// Where the token at `p` starts, as the scanner places it: at the end
    /// of the stream, on the line after the last one; for an entry of the
    /// block sequence being built, past its `-` and blanks.
    fn next_token(&self, mut p: Place<'_>) -> Pos {
        if p.rest.is_empty() {
            // Blocks indented further end where the last line does; then
            // the stream ends, on a line of its own.
            if isize::try_from(p.col).is_ok_and(|col| col < self.block_indent()) {
                return p.pos();
            }
            if p.col != 0 {
                p.line += 1;
                p.col = 0;
            }
            return p.pos();
        }
        let entry = p
            .rest
            .strip_prefix('-')
            .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t', '\n', '\r']));
        let dash_col = match self.stack.last() {
            Some(Open::Seq { dash_col, .. }) => *dash_col,
            _ => None,
        };
        if entry && dash_col == Some(p.col) {
            p.skip(1);
            p.skip_blanks_to_eol();
        }
        p.pos()
    }

    /// The indentation of the block being built (-1 at the top).
    fn block_indent(&self) -> isize {
        let col = match self.stack.last() {
            Some(Open::Map { pos, .. }) => {
                usize::try_from(pos.col).ok().and_then(|c| c.checked_sub(1))
            }
            Some(Open::Seq { dash_col, .. }) => *dash_col,
            None => None,
        };
        col.and_then(|c| isize::try_from(c).ok()).unwrap_or(-1)
    }

    /// The 0-based column of the `-` of a sequence starting at `pos`
    /// (character `index`); `None` for a flow sequence.
    fn dash_col(&mut self, pos: Pos, index: usize) -> Option<usize> {
        if self.src.char_at(index) == Some('[') {
            return None;
        }
        let col = usize::try_from(pos.col).ok()?.checked_sub(1)?;
        // A block mapping's value may be a sequence as indented as its keys,
        // which starts past its first `-` and blanks.
        if let Some(Open::Map { pos: map, .. }) = self.stack.last()
            && let Some(key_col) = usize::try_from(map.col).ok().and_then(|c| c.checked_sub(1))
            && key_col < col
            && index
                .checked_sub(col - key_col)
                .is_some_and(|i| self.src.char_at(i) == Some('-'))
        {
            return Some(key_col);
        }
        Some(col)
    }

    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), Diagnostic> {
        let (pos, one_line, index) = self.place(&event, span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let force_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let data = if style == ScalarStyle::Plain && !force_str {
                    resolve_plain(&text)
                } else {
                    Data::Str(text.into_owned())
                };
                let inline_col = one_line.then_some(match style {
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
                let dash_col = self.dash_col(pos, index);
                self.stack.push(Open::Seq {
                    pos,
                    dash_col,
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
                    seen: HashMap::new(),
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq {
                    pos, anchor, items, ..
                }) => self.finish(
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
            Some(Open::Map {
                entries, key, seen, ..
            }) => match key.take() {
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
                    if let Some(first) = seen.get(&name).and_then(|&i| entries.get(i)) {
                        self.diags.push(Diagnostic::new(
                            k.pos,
                            format!(
                                "duplicate key \"{name}\" (first at line {}, column {})",
                                first.key_pos.line, first.key_pos.col
                            ),
                        ));
                        return Ok(());
                    }
                    seen.insert(name.clone(), entries.len());
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
    fn nodes_with_anchors_or_tags_are_placed_at_their_content() {
        // The parser's spans start at a node's properties; positions stay
        // where the content's token starts, as saphyr-parser 0.0.6 gave them.
        let src = "a: &m {k: 1}\nb: !!str $.x > 1\nc: &s\n  - &e\n  - 1\n\
                   d: &l |\n  text\ne: !!str\nf: &q\n- &i 1\n";
        let (n, d) = tree(src);
        assert!(d.is_empty(), "{d:?}");
        let n = n.unwrap();
        let m = n.as_map().unwrap();
        let at = |line, col| Pos { line, col };
        assert_eq!(m[0].value.pos, at(1, 7));
        assert_eq!(m[1].value.pos, at(2, 10));
        assert_eq!(m[1].value.pos_at(4), at(2, 14));
        let seq = m[2].value.as_seq().unwrap();
        assert_eq!(m[2].value.pos, at(4, 3));
        // An empty node is where the next token starts: past the next `-`.
        assert_eq!((seq[0].pos, &seq[0].data), (at(5, 5), &Data::Null));
        assert_eq!(m[3].value.pos, at(7, 3));
        assert_eq!(m[4].value.pos, at(9, 1));
        // A sequence as indented as its key starts past its first `-`.
        assert_eq!(m[5].value.pos, at(10, 3));
        assert_eq!(m[5].value.as_seq().unwrap()[0].pos, at(10, 6));
        // At the end of the stream, an empty node is on the next line.
        let (n, _) = tree("a: &x");
        assert_eq!(n.unwrap().as_map().unwrap()[0].value.pos, at(2, 1));
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
