//! A small regular-expression matcher for `regexMatchString`: RE2 syntax
//! (what Go's `regexp`, and so the cloud service, most likely reads),
//! searched with a Pike VM, so matching is linear in the text whatever the
//! pattern (no catastrophic backtracking on a pattern taken from a flow's
//! input).
//!
//! Supported: literals, `.`, `^` `$` `\A` `\z` (whole text; no multi-line
//! mode), classes `[a-z]` `[^…]` with `\d \w \s` and `[:alpha:]`-style
//! names, `\d \D \w \W \s \S`, escapes `\n \t \r \f \v \xHH \x{H…}` and
//! escaped punctuation, groups `(…)` `(?:…)` `(?P<n>…)`, alternation `|`,
//! `* + ? {n} {n,} {n,m}` (a trailing `?` for laziness is accepted: it
//! cannot change whether a text matches), and a leading `(?i)`.
//! Not supported (refused with a message): back-references and
//! look-around (RE2 has neither), `\b`, `\p{…}`, other flags.

use std::fmt;

/// Longest pattern accepted, in characters.
const MAX_PATTERN: usize = 4_096;
/// Most instructions a compiled pattern may have (counted repetitions
/// copy their operand).
const MAX_PROGRAM: usize = 10_000;
/// Largest `{n,m}` count (RE2's limit).
const MAX_REPEAT: u32 = 1_000;

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegexError {
    /// 0-based character offset in the pattern.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at character {} of the pattern)",
            self.message,
            self.offset + 1
        )
    }
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Regex {
    prog: Vec<Inst>,
    fold: bool,
}

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    Any,
    Class(Vec<(char, char)>),
    Split(usize, usize),
    Jmp(usize),
    Start,
    End,
    Match,
}

#[derive(Debug, Clone)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Vec<(char, char)>),
    Start,
    End,
    Cat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

impl Regex {
    pub(crate) fn new(pattern: &str) -> Result<Regex, RegexError> {
        let chars: Vec<char> = pattern.chars().collect();
        if chars.len() > MAX_PATTERN {
            return Err(RegexError {
                offset: MAX_PATTERN,
                message: format!("the pattern is longer than {MAX_PATTERN} characters"),
            });
        }
        let mut p = Parser {
            chars: &chars,
            i: 0,
            depth: 0,
        };
        let fold = if chars.starts_with(&['(', '?', 'i', ')']) {
            p.i = 4;
            true
        } else {
            false
        };
        let node = p.alt()?;
        if p.i < chars.len() {
            return Err(RegexError {
                offset: p.i,
                message: "unmatched `)`".to_owned(),
            });
        }
        let mut prog = Vec::new();
        compile(&node, &mut prog)?;
        prog.push(Inst::Match);
        Ok(Regex { prog, fold })
    }

    /// Whether the pattern matches anywhere in `text` (Go's
    /// `regexp.MatchString`).
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let n = self.prog.len();
        let mut seen = vec![usize::MAX; n];
        let mut clist: Vec<usize> = Vec::new();
        let mut nlist: Vec<usize> = Vec::new();
        for i in 0..=chars.len() {
            // Unanchored search: a new thread starts at every position.
            if self.add(&mut clist, &mut seen, 0, i, chars.len()) {
                return true;
            }
            let Some(&c) = chars.get(i) else {
                break;
            };
            nlist.clear();
            for &pc in &clist {
                let ok = match &self.prog[pc] {
                    Inst::Char(x) => self.same(*x, c),
                    Inst::Any => c != '\n',
                    Inst::Class(ranges) => self.in_class(ranges, c),
                    _ => false,
                };
                if ok && self.add(&mut nlist, &mut seen, pc + 1, i + 1, chars.len()) {
                    return true;
                }
            }
            std::mem::swap(&mut clist, &mut nlist);
        }
        false
    }

    /// Adds the thread at `pc` (following jumps and assertions) for
    /// position `at`; true when it reaches `Match`.
    fn add(
        &self,
        list: &mut Vec<usize>,
        seen: &mut [usize],
        pc: usize,
        at: usize,
        len: usize,
    ) -> bool {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if seen.get(pc).is_none_or(|s| *s == at) {
                continue;
            }
            seen[pc] = at;
            match &self.prog[pc] {
                Inst::Match => return true,
                Inst::Jmp(t) => stack.push(*t),
                Inst::Split(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Inst::Start => {
                    if at == 0 {
                        stack.push(pc + 1);
                    }
                }
                Inst::End => {
                    if at == len {
                        stack.push(pc + 1);
                    }
                }
                _ => list.push(pc),
            }
        }
        false
    }

    fn same(&self, x: char, c: char) -> bool {
        x == c || (self.fold && fold(x) == fold(c))
    }

    fn in_class(&self, ranges: &[(char, char)], c: char) -> bool {
        let hit = |c: char| ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
        hit(c) || (self.fold && (c.to_lowercase().any(hit) || c.to_uppercase().any(hit)))
    }
}

fn fold(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

fn too_big() -> RegexError {
    RegexError {
        offset: 0,
        message: format!(
            "the pattern compiles to more than {MAX_PROGRAM} steps; simplify its repetitions"
        ),
    }
}

fn compile(node: &Node, prog: &mut Vec<Inst>) -> Result<(), RegexError> {
    if prog.len() > MAX_PROGRAM {
        return Err(too_big());
    }
    match node {
        Node::Empty => {}
        Node::Char(c) => prog.push(Inst::Char(*c)),
        Node::Any => prog.push(Inst::Any),
        Node::Class(r) => prog.push(Inst::Class(r.clone())),
        Node::Start => prog.push(Inst::Start),
        Node::End => prog.push(Inst::End),
        Node::Cat(items) => {
            for n in items {
                compile(n, prog)?;
            }
        }
        Node::Alt(items) => {
            let mut jumps = Vec::new();
            for (k, n) in items.iter().enumerate() {
                if k + 1 < items.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(n, prog)?;
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let next = prog.len();
                    prog[split] = Inst::Split(split + 1, next);
                } else {
                    compile(n, prog)?;
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat { node, min, max } => {
            for _ in 0..*min {
                compile(node, prog)?;
            }
            match max {
                None => {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(node, prog)?;
                    prog.push(Inst::Jmp(split));
                    let out = prog.len();
                    prog[split] = Inst::Split(split + 1, out);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Split(0, 0));
                        compile(node, prog)?;
                    }
                    let out = prog.len();
                    for s in splits {
                        prog[s] = Inst::Split(s + 1, out);
                    }
                }
            }
        }
    }
    if prog.len() > MAX_PROGRAM {
        return Err(too_big());
    }
    Ok(())
}

struct Parser<'c> {
    chars: &'c [char],
    i: usize,
    depth: usize,
}

fn rerr<T>(offset: usize, message: impl Into<String>) -> Result<T, RegexError> {
    Err(RegexError {
        offset,
        message: message.into(),
    })
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\n'), ('\u{c}', '\r'), (' ', ' ')];

/// The characters not in `ranges`.
fn complement(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0u32;
    for (lo, hi) in sorted {
        let (lo, hi) = (lo as u32, hi as u32);
        if lo > next {
            push_range(&mut out, next, lo - 1);
        }
        next = next.max(hi.saturating_add(1));
    }
    if next <= 0x10FFFF {
        push_range(&mut out, next, 0x10FFFF);
    }
    out
}

/// Pushes the valid characters of `lo..=hi` (skipping the surrogate gap).
fn push_range(out: &mut Vec<(char, char)>, lo: u32, hi: u32) {
    let parts = [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)];
    for (a, b) in parts {
        if a <= b
            && let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b))
        {
            out.push((a, b));
        }
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn alt(&mut self) -> Result<Node, RegexError> {
        self.depth += 1;
        if self.depth > 100 {
            return rerr(self.i, "the pattern nests groups more than 100 deep");
        }
        let mut items = vec![self.cat()?];
        while self.peek() == Some('|') {
            self.i += 1;
            items.push(self.cat()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(items)
        })
    }

    fn cat(&mut self) -> Result<Node, RegexError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let atom = self.quantifiers(atom)?;
            items.push(atom);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Cat(items),
        })
    }

    fn quantifiers(&mut self, atom: Node) -> Result<Node, RegexError> {
        let simple = match self.peek() {
            Some('*') => Some((0, None)),
            Some('+') => Some((1, None)),
            Some('?') => Some((0, Some(1))),
            _ => None,
        };
        let (min, max) = match simple {
            Some(mm) => {
                self.i += 1;
                mm
            }
            None if self.peek() == Some('{') => match self.counts()? {
                Some(mm) => mm,
                None => return Ok(atom),
            },
            None => return Ok(atom),
        };
        // A lazy `?` suffix cannot change whether the text matches.
        if self.peek() == Some('?') {
            self.i += 1;
        }
        let at = self.i;
        let nested = match self.peek() {
            Some('*' | '+' | '?') => true,
            Some('{') => {
                let nested = self.counts()?.is_some();
                self.i = at;
                nested
            }
            _ => false,
        };
        if nested {
            return rerr(
                at,
                "invalid nested repetition operator; group the repeated part first",
            );
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
        })
    }

    /// `{n}`, `{n,}` or `{n,m}` at a `{`; `None` (nothing consumed) when
    /// the brace does not start one, so it is a literal `{` (as in RE2).
    fn counts(&mut self) -> Result<Option<(u32, Option<u32>)>, RegexError> {
        let start = self.i;
        let mut j = start + 1;
        let num = |j: &mut usize| -> Option<u32> {
            let from = *j;
            while self.chars.get(*j).is_some_and(char::is_ascii_digit) {
                *j += 1;
            }
            if *j == from {
                return None;
            }
            self.chars[from..*j]
                .iter()
                .collect::<String>()
                .parse()
                .ok()
                .or(Some(u32::MAX))
        };
        let Some(min) = num(&mut j) else {
            return Ok(None);
        };
        let max = match self.chars.get(j) {
            Some('}') => Some(min),
            Some(',') => {
                j += 1;
                if self.chars.get(j) == Some(&'}') {
                    None
                } else {
                    match num(&mut j) {
                        Some(m) if self.chars.get(j) == Some(&'}') => Some(m),
                        _ => return Ok(None),
                    }
                }
            }
            _ => return Ok(None),
        };
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
            return rerr(start, format!("repetition counts go up to {MAX_REPEAT}"));
        }
        if max.is_some_and(|m| m < min) {
            return rerr(
                start,
                "invalid repetition range: the maximum is below the minimum",
            );
        }
        self.i = j + 1;
        Ok(Some((min, max)))
    }

    fn atom(&mut self) -> Result<Node, RegexError> {
        let at = self.i;
        let Some(c) = self.peek() else {
            return Ok(Node::Empty);
        };
        self.i += 1;
        match c {
            '.' => Ok(Node::Any),
            '^' => Ok(Node::Start),
            '$' => Ok(Node::End),
            '*' | '+' | '?' => rerr(at, format!("missing argument to repetition operator `{c}`")),
            '(' => {
                if self.peek() == Some('?') {
                    self.group_prefix(at)?;
                }
                let inner = self.alt()?;
                if self.peek() != Some(')') {
                    return rerr(at, "missing `)` to close this group");
                }
                self.i += 1;
                Ok(inner)
            }
            '[' => self.class(at),
            '\\' => self.escape(at),
            c => Ok(Node::Char(c)),
        }
    }

    /// After `(?`: accepts `:` and named groups; refuses the rest.
    fn group_prefix(&mut self, at: usize) -> Result<(), RegexError> {
        let rest: String = self.chars[self.i..].iter().take(3).collect();
        if rest.starts_with("?:") {
            self.i += 2;
            return Ok(());
        }
        if rest.starts_with("?P<")
            || rest.starts_with("?<") && !rest.starts_with("?<=") && !rest.starts_with("?<!")
        {
            let skip = if rest.starts_with("?P<") { 3 } else { 2 };
            let mut j = self.i + skip;
            while self
                .chars
                .get(j)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                j += 1;
            }
            if self.chars.get(j) != Some(&'>') || j == self.i + skip {
                return rerr(at, "invalid group name");
            }
            self.i = j + 1;
            return Ok(());
        }
        if rest.starts_with("?=") || rest.starts_with("?!") || rest.starts_with("?<") {
            return rerr(
                at,
                "look-around assertions are not supported (RE2 has none)",
            );
        }
        rerr(at, "flags other than a leading `(?i)` are not supported")
    }

    fn class(&mut self, open: usize) -> Result<Node, RegexError> {
        let negated = self.peek() == Some('^');
        if negated {
            self.i += 1;
        }
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut first = true;
        loop {
            let at = self.i;
            let Some(c) = self.peek() else {
                return rerr(open, "missing `]` to close this character class");
            };
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            if c == '[' && self.chars.get(self.i + 1) == Some(&':') {
                ranges.extend(self.posix(at)?);
                continue;
            }
            let lo = match self.class_char()? {
                ClassItem::Char(ch) => ch,
                ClassItem::Set(set) => {
                    ranges.extend(set);
                    continue;
                }
            };
            if self.peek() == Some('-') && self.chars.get(self.i + 1).is_some_and(|c| *c != ']') {
                self.i += 1;
                let hi_at = self.i;
                let hi = match self.class_char()? {
                    ClassItem::Char(ch) => ch,
                    ClassItem::Set(_) => {
                        return rerr(hi_at, "a range cannot end with a class such as `\\d`");
                    }
                };
                if hi < lo {
                    return rerr(at, format!("invalid range `{lo}-{hi}`: it runs backwards"));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Node::Class(if negated {
            complement(&ranges)
        } else {
            ranges
        }))
    }

    fn posix(&mut self, at: usize) -> Result<Vec<(char, char)>, RegexError> {
        let rest: String = self.chars[self.i..].iter().take(12).collect();
        let Some(end) = rest.get(2..).and_then(|r| r.find(":]")).map(|e| e + 2) else {
            return rerr(at, "unterminated `[:name:]` class");
        };
        let name = &rest[2..end];
        let (neg, name) = match name.strip_prefix('^') {
            Some(n) => (true, n),
            None => (false, name),
        };
        let set: Vec<(char, char)> = match name {
            "alpha" => vec![('A', 'Z'), ('a', 'z')],
            "digit" => DIGIT.to_vec(),
            "alnum" => vec![('0', '9'), ('A', 'Z'), ('a', 'z')],
            "space" => vec![('\t', '\r'), (' ', ' ')],
            "upper" => vec![('A', 'Z')],
            "lower" => vec![('a', 'z')],
            "word" => WORD.to_vec(),
            "xdigit" => vec![('0', '9'), ('A', 'F'), ('a', 'f')],
            "punct" => vec![('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
            other => return rerr(at, format!("unknown class `[:{other}:]`")),
        };
        self.i += rest[..end + 2].chars().count();
        Ok(if neg { complement(&set) } else { set })
    }

    fn class_char(&mut self) -> Result<ClassItem, RegexError> {
        let at = self.i;
        let Some(c) = self.peek() else {
            return rerr(at, "missing `]` to close this character class");
        };
        self.i += 1;
        if c != '\\' {
            return Ok(ClassItem::Char(c));
        }
        match self.escape(at)? {
            Node::Char(ch) => Ok(ClassItem::Char(ch)),
            Node::Class(set) => Ok(ClassItem::Set(set)),
            _ => rerr(at, "this escape cannot be used in a character class"),
        }
    }

    /// After a `\` at `at`.
    fn escape(&mut self, at: usize) -> Result<Node, RegexError> {
        let Some(c) = self.peek() else {
            return rerr(at, "trailing `\\` at the end of the pattern");
        };
        self.i += 1;
        Ok(match c {
            'd' => Node::Class(DIGIT.to_vec()),
            'D' => Node::Class(complement(DIGIT)),
            'w' => Node::Class(WORD.to_vec()),
            'W' => Node::Class(complement(WORD)),
            's' => Node::Class(SPACE.to_vec()),
            'S' => Node::Class(complement(SPACE)),
            'n' => Node::Char('\n'),
            't' => Node::Char('\t'),
            'r' => Node::Char('\r'),
            'f' => Node::Char('\u{c}'),
            'v' => Node::Char('\u{b}'),
            'a' => Node::Char('\u{7}'),
            'A' => Node::Start,
            'z' => Node::End,
            'x' => Node::Char(self.hex(at)?),
            'b' | 'B' => {
                return rerr(
                    at,
                    "word-boundary assertions (`\\b`, `\\B`) are not supported by flowsim",
                );
            }
            'p' | 'P' => {
                return rerr(
                    at,
                    "Unicode classes (`\\p{…}`) are not supported by flowsim",
                );
            }
            '1'..='9' => return rerr(at, "back-references are not supported (RE2 has none)"),
            c if c.is_ascii_alphanumeric() => {
                return rerr(at, format!("unknown escape `\\{c}`"));
            }
            c => Node::Char(c),
        })
    }

    fn hex(&mut self, at: usize) -> Result<char, RegexError> {
        let (from, to, next) = if self.peek() == Some('{') {
            let mut j = self.i + 1;
            while self.chars.get(j).is_some_and(char::is_ascii_hexdigit) {
                j += 1;
            }
            if self.chars.get(j) != Some(&'}') || j == self.i + 1 || j - self.i > 9 {
                return rerr(at, "`\\x{…}` needs hex digits and a closing `}`");
            }
            (self.i + 1, j, j + 1)
        } else {
            if !self
                .chars
                .get(self.i..self.i + 2)
                .is_some_and(|s| s.iter().all(char::is_ascii_hexdigit))
            {
                return rerr(at, "`\\x` needs two hex digits, as in `\\x41`");
            }
            (self.i, self.i + 2, self.i + 2)
        };
        let digits: String = self.chars[from..to].iter().collect();
        let ch = u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32);
        let Some(ch) = ch else {
            return rerr(at, "the escape is not a valid character");
        };
        self.i = next;
        Ok(ch)
    }
}

enum ClassItem {
    Char(char),
    Set(Vec<(char, char)>),
}

#[cfg(test)]
mod tests {

    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Regex::new(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(t)
    }

    #[test]
    fn matches_like_go_regexp_match_string() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "xxabcxx", true),
            ("^abc$", "abc", true),
            ("^abc$", "abcd", false),
            ("a.c", "abc", true),
            ("a.c", "a\nc", false),
            ("^[a-z]+@[a-z]+\\.com$", "tom@example.com", true),
            ("^[a-z]+@[a-z]+\\.com$", "tom@example.org", false),
            ("^\\d{3}-\\d{4}$", "555-1234", true),
            ("^\\d{3}-\\d{4}$", "555-12345", false),
            ("colou?r", "color", true),
            ("colou?r", "colour", true),
            ("(ab)+$", "xababab", true),
            ("^(ab)+$", "ababa", false),
            ("cat|dog", "hotdog", true),
            ("^(cat|dog)$", "cats", false),
            ("[^0-9]", "123", false),
            ("[^0-9]", "12a", true),
            ("\\W", "abc_1", false),
            ("\\s", "a b", true),
            ("^$", "", true),
            ("", "anything", true),
            ("a{2,3}", "caab", true),
            ("^a{2,3}$", "aaaa", false),
            ("^a{2,}$", "aaaaa", true),
            ("x*", "", true),
            (
                "(a*)*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac",
                false,
            ),
            ("(?i)hello", "HeLLo world", true),
            ("[[:digit:]]+", "abc42", true),
            ("[]a]", "]", true),
            ("[a-]", "-", true),
            ("a{", "a{", true),
            ("\\x41\\x{42}", "AB", true),
            ("名前", "私の名前", true),
            ("^.{2}$", "名前", true),
            ("a+?b", "aab", true),
            ("(?:a|b)c", "bc", true),
            ("(?P<x>a)b", "ab", true),
            ("\\Aab\\z", "ab", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(m(p, t), *want, "{p} on {t:?}");
        }
    }

    #[test]
    fn unsupported_or_broken_patterns_are_refused_with_a_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("(abc", 0, "missing `)`"),
            ("abc)", 3, "unmatched `)`"),
            ("[abc", 0, "missing `]`"),
            ("*a", 0, "missing argument"),
            ("a**", 2, "invalid nested repetition"),
            ("a{5,2}", 1, "invalid repetition range"),
            ("a{1001}", 1, "repetition counts go up to 1000"),
            ("\\b", 0, "word-boundary"),
            ("(?=a)", 0, "look-around"),
            ("(?s)a", 0, "flags"),
            ("\\1", 0, "back-references"),
            ("[z-a]", 1, "invalid range"),
            ("\\q", 0, "unknown escape"),
            ("a\\", 1, "trailing"),
        ];
        for (p, at, msg) in cases {
            let e = Regex::new(p).unwrap_err();
            assert_eq!(e.offset, *at, "{p}: {e}");
            assert!(e.message.contains(msg), "{p}: {e}");
        }
        let huge = "(a{1000}){1000}";
        assert!(Regex::new(huge).unwrap_err().message.contains("more than"));
    }

    #[test]
    fn never_panics_on_prefixes() {
        for odd in [
            "[[:]",
            "[[:",
            "[[:x",
            "[[:alpha:",
            "\\x{",
            "\\x{110000}",
            "(?P<",
            "a{2,",
            "a{,2}",
            "[\\d-z]",
        ] {
            let _ = Regex::new(odd).map(|r| r.is_match("abc"));
        }
        let p = "^(?i)[a-z\\d_]{2,8}(?:x|y)*\\x{263A}[^[:space:]]\\.$";
        let chars: Vec<char> = p.chars().collect();
        for n in 0..=chars.len() {
            let s: String = chars[..n].iter().collect();
            if let Ok(r) = Regex::new(&s) {
                let _ = r.is_match("ab12xy☺!.");
            }
        }
    }
}
