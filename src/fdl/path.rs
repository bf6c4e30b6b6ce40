//! Paths: the references of mappings, `serviceParams`, wait fields,
//! foreach collections and choice conditions (`$input.a.b[0]`,
//! `$local[*].name`, `$.x`, `$["odd key"]`).
//!
//! Owns their grammar, their parsing (every error carries the character
//! offset of the offending character, which the builder turns into a line
//! and column) and their lookup in a JSON value. Which root a place allows
//! is the caller's decision; what a root *means* (which value it reads) is
//! the engine's.
//!
//! ```text
//! path    := root segment*
//! root    := "$input" | "$local" | "$context" | "$"
//! segment := "." key | "[" digits "]" | "[*]" | "[" string "]"
//! key     := one or more characters other than space and . [ ] ( ) ! = < > & | " '
//! string  := a double-quoted JSON string (escapes \" \\ \/ \b \f \n \r \t \uXXXX)
//! ```

use serde_json::Value;

use super::model::{Path, Root, Segment};

/// Why a path (or a string inside one) could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {})", offset + 1)]
pub struct PathError {
    /// The 0-based character offset of the offending character in the text
    /// given to the parser (the text's length for "ended too early").
    pub offset: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl PathError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        PathError {
            offset,
            message: message.into(),
        }
    }
}

/// The named roots, in the order messages list them.
const ROOTS: [(&str, Root); 3] = [
    ("input", Root::Input),
    ("local", Root::Local),
    ("context", Root::Context),
];

fn root_name(root: Root) -> &'static str {
    match root {
        Root::Input => "$input",
        Root::Local => "$local",
        Root::Context => "$context",
        Root::Dollar => "$",
    }
}

/// Whether `c` may appear in a `.key` segment. The excluded characters are
/// the condition operators, brackets and quotes, so a path inside a
/// condition ends where an operator starts (`$.a>1`); keys holding any of
/// them are written `["a.b"]`.
pub(crate) fn is_key_char(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_control()
        && !matches!(
            c,
            '.' | '[' | ']' | '(' | ')' | '!' | '=' | '<' | '>' | '&' | '|' | '"' | '\''
        )
}

pub(crate) use crate::syntax::shown;

impl Path {
    /// Whether a mapping source is a reference rather than a constant: it
    /// starts with `$input`, `$local` or `$context`, followed by nothing,
    /// `.` or `[` (SPEC: anything else is a constant, `$inputs` included).
    pub fn is_reference(text: &str) -> bool {
        ["$input", "$local", "$context"].iter().any(|r| {
            text.strip_prefix(r)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }

    /// Parses the whole of `text` as a path whose root must be one of
    /// `allowed`.
    pub fn parse(text: &str, allowed: &[Root]) -> Result<Path, PathError> {
        let chars: Vec<char> = text.chars().collect();
        let (path, end) = parse_at(&chars, 0, allowed)?;
        match chars.get(end) {
            None => Ok(path),
            Some(c) if c.is_whitespace() => Err(PathError::new(
                end,
                "a path cannot contain spaces (write `[\"a b\"]` for a key with spaces)",
            )),
            c => Err(PathError::new(
                end,
                format!(
                    "unexpected {} after `{}`; a path goes on with `.key`, `[0]`, `[*]` or `[\"key\"]`",
                    shown(c),
                    chars[..end].iter().collect::<String>()
                ),
            )),
        }
    }

    /// Looks the path up in `root` (the caller picks the value the root
    /// stands for). `None` when a key or index is missing; a `[*]` maps the
    /// rest of the path over every element of an array, leaving out the
    /// elements where it is missing.
    pub fn lookup(&self, root: &Value) -> Option<Value> {
        lookup(&self.segments, root)
    }
}

fn lookup(segs: &[Segment], v: &Value) -> Option<Value> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(v.clone());
    };
    match first {
        Segment::Key(k) => lookup(rest, v.get(k.as_str())?),
        Segment::Index(i) => lookup(rest, v.get(*i)?),
        Segment::Wildcard => Some(Value::Array(
            v.as_array()?
                .iter()
                .filter_map(|e| lookup(rest, e))
                .collect(),
        )),
    }
}

/// Parses a path starting at `chars[start]` (which should be `$`) and
/// returns it with the offset just after it: the path stops at the first
/// character that cannot continue it, so a condition can go on from there.
pub(crate) fn parse_at(
    chars: &[char],
    start: usize,
    allowed: &[Root],
) -> Result<(Path, usize), PathError> {
    if chars.get(start) != Some(&'$') {
        return Err(PathError::new(
            start,
            format!(
                "expected a path starting with `$`, found {}",
                shown(chars.get(start))
            ),
        ));
    }
    let mut i = start + 1;
    while chars
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
    {
        i += 1;
    }
    let word: String = chars[start + 1..i].iter().collect();
    let root = if word.is_empty() {
        Root::Dollar
    } else if let Some((_, r)) = ROOTS.iter().find(|(n, _)| *n == word) {
        *r
    } else {
        let names: Vec<&str> = ROOTS.iter().map(|(n, _)| *n).collect();
        let hint = names
            .iter()
            .map(|n| {
                (
                    strsim::damerau_levenshtein(&word.to_ascii_lowercase(), n),
                    n,
                )
            })
            .filter(|(d, n)| *d <= (n.len() / 3).max(1))
            .min_by_key(|(d, _)| *d)
            .map_or_else(String::new, |(_, n)| format!("; did you mean `${n}`?"));
        let expected = if hint.is_empty() {
            format!("; a path starts with {}", list(allowed))
        } else {
            hint
        };
        return Err(PathError::new(
            start,
            format!("unknown root `${word}`{expected}"),
        ));
    };
    if !allowed.contains(&root) {
        return Err(PathError::new(
            start,
            format!(
                "`{}` cannot be used here; use {}",
                root_name(root),
                list(allowed)
            ),
        ));
    }
    let mut segments = Vec::new();
    loop {
        match chars.get(i) {
            Some('.') => {
                let k0 = i + 1;
                let mut j = k0;
                while chars.get(j).copied().is_some_and(is_key_char) {
                    j += 1;
                }
                if j == k0 {
                    return Err(PathError::new(
                        k0,
                        format!("expected a key after `.`, found {}", shown(chars.get(k0))),
                    ));
                }
                segments.push(Segment::Key(chars[k0..j].iter().collect()));
                i = j;
            }
            Some('[') => {
                let (seg, next) = bracket(chars, i)?;
                segments.push(seg);
                i = next;
            }
            _ => break,
        }
    }
    Ok((Path { root, segments }, i))
}

/// `[0]`, `[*]` or `["key"]` at `chars[open]` (the `[`).
fn bracket(chars: &[char], open: usize) -> Result<(Segment, usize), PathError> {
    let i = open + 1;
    let (seg, close) = match chars.get(i) {
        Some('*') => (Segment::Wildcard, i + 1),
        Some('"') => {
            let (key, next) = scan_string(chars, i)?;
            (Segment::Key(key), next)
        }
        Some(c) if c.is_ascii_digit() => {
            let mut j = i;
            while chars.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            let digits: String = chars[i..j].iter().collect();
            let n = digits
                .parse::<usize>()
                .map_err(|_| PathError::new(i, format!("index {digits} is too large")))?;
            (Segment::Index(n), j)
        }
        c => {
            let what = if c == Some(&'-') {
                "negative indexes are not supported".to_owned()
            } else {
                format!(
                    "expected an index such as `[0]`, `[*]` or a quoted key `[\"key\"]`, found {}",
                    shown(c)
                )
            };
            return Err(PathError::new(i, what));
        }
    };
    match chars.get(close) {
        Some(']') => Ok((seg, close + 1)),
        c => Err(PathError::new(
            close,
            format!(
                "missing `]` to close the `[` at character {}, found {}",
                open + 1,
                shown(c)
            ),
        )),
    }
}

/// A double-quoted string at `chars[open]` (the `"`), with JSON escapes.
/// Returns its value and the offset after the closing quote.
pub(crate) fn scan_string(chars: &[char], open: usize) -> Result<(String, usize), PathError> {
    let mut out = String::new();
    let mut i = open + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(PathError::new(
                    open,
                    "unterminated string: this `\"` has no closing `\"`",
                ));
            }
            Some('"') => return Ok((out, i + 1)),
            Some('\\') => {
                let c = match chars.get(i + 1) {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('/') => '/',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('u') => {
                        let (c, next) = unicode_escape(chars, i)?;
                        out.push(c);
                        i = next;
                        continue;
                    }
                    None => {
                        return Err(PathError::new(
                            open,
                            "unterminated string: this `\"` has no closing `\"`",
                        ));
                    }
                    Some(other) => {
                        return Err(PathError::new(
                            i,
                            format!(
                                "unknown escape `\\{other}`; use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX"
                            ),
                        ));
                    }
                };
                out.push(c);
                i += 2;
            }
            Some(c) => {
                out.push(*c);
                i += 1;
            }
        }
    }
}

/// Four hex digits after `\u` at `chars[at]` (the `\`).
fn hex4(chars: &[char], at: usize) -> Result<u32, PathError> {
    let digits: Option<String> = chars.get(at + 2..at + 6).map(|d| d.iter().collect());
    digits
        .filter(|d| d.chars().all(|c| c.is_ascii_hexdigit()))
        .and_then(|d| u32::from_str_radix(&d, 16).ok())
        .ok_or_else(|| PathError::new(at, "`\\u` must be followed by four hex digits"))
}

/// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`, at `chars[at]`.
fn unicode_escape(chars: &[char], at: usize) -> Result<(char, usize), PathError> {
    let hi = hex4(chars, at)?;
    if (0xD800..0xDC00).contains(&hi) {
        let lo_at = at + 6;
        if chars.get(lo_at) == Some(&'\\') && chars.get(lo_at + 1) == Some(&'u') {
            let lo = hex4(chars, lo_at)?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                if let Some(c) = char::from_u32(c) {
                    return Ok((c, lo_at + 6));
                }
            }
        }
        return Err(PathError::new(
            at,
            "a `\\u` high surrogate must be followed by a low surrogate `\\uDC00`..`\\uDFFF`",
        ));
    }
    char::from_u32(hi)
        .map(|c| (c, at + 6))
        .ok_or_else(|| PathError::new(at, "a lone low surrogate is not a character"))
}

/// "`$input` or `$context`", "`$`, `$input` or `$local`".
fn list(allowed: &[Root]) -> String {
    let names: Vec<String> = allowed
        .iter()
        .map(|r| format!("`{}`", root_name(*r)))
        .collect();
    match names.as_slice() {
        [] => "no path here".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use serde_json::json;

    const ALL: &[Root] = &[Root::Input, Root::Local, Root::Context, Root::Dollar];

    fn ok(text: &str) -> Path {
        Path::parse(text, ALL).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str, allowed: &[Root]) -> PathError {
        match Path::parse(text, allowed) {
            Ok(p) => panic!("{text} parsed as {p:?}"),
            Err(e) => e,
        }
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    #[test]
    fn roots() {
        assert_eq!(ok("$input").root, Root::Input);
        assert_eq!(ok("$local").root, Root::Local);
        assert_eq!(ok("$context").root, Root::Context);
        assert_eq!(ok("$").root, Root::Dollar);
        assert!(ok("$").segments.is_empty());
    }

    #[test]
    fn segments_keys_indexes_wildcards_and_quoted_keys() {
        assert_eq!(
            ok("$input.a.b[0][12].c").segments,
            vec![
                key("a"),
                key("b"),
                Segment::Index(0),
                Segment::Index(12),
                key("c")
            ]
        );
        assert_eq!(
            ok("$local[*].name").segments,
            vec![Segment::Wildcard, key("name")]
        );
        assert_eq!(
            ok(r#"$.x["a.b"]["say \"hi\"\n"]"#).segments,
            vec![key("x"), key("a.b"), key("say \"hi\"\n")]
        );
        assert_eq!(ok("$.order-id").segments, vec![key("order-id")]);
        assert_eq!(ok("$.名前").segments, vec![key("名前")]);
        assert_eq!(ok(r#"$["\u00e9\ud83d\ude00"]"#).segments, vec![key("é😀")]);
        assert_eq!(ok("$[0]").segments, vec![Segment::Index(0)]);
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "$input.a.b[0]",
            "$local[*].name",
            "$context.task.token",
            "$",
            "$.xs[3][*]",
            r#"$.x["a.b"]["with space"]["q\"uote"]"#,
        ] {
            let p = ok(text);
            assert_eq!(p.to_string(), text);
            assert_eq!(ok(&p.to_string()), p);
        }
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        let cases: &[(&str, usize, &str)] = &[
            ("$input.items[x]", 13, "expected an index such as `[0]`"),
            ("$input.items[-1]", 13, "negative indexes"),
            (
                "$input.items[1",
                14,
                "missing `]` to close the `[` at character 13",
            ),
            ("$input.items[1x]", 14, "missing `]`"),
            ("$input.", 7, "expected a key after `.`, found the end"),
            ("$input..a", 7, "expected a key after `.`, found `.`"),
            ("$input.a b", 8, "a path cannot contain spaces"),
            ("$input.a=b", 8, "unexpected `=` after `$input.a`"),
            (
                "$inputs.a",
                0,
                "unknown root `$inputs`; did you mean `$input`?",
            ),
            ("$foo", 0, "unknown root `$foo`; a path starts with"),
            ("input.a", 0, "expected a path starting with `$`"),
            ("", 0, "expected a path starting with `$`, found the end"),
            (r#"$["abc"#, 2, "unterminated string"),
            (r#"$["a\qb"]"#, 4, "unknown escape `\\q`"),
            (
                r#"$["\u12"]"#,
                3,
                "`\\u` must be followed by four hex digits",
            ),
            (r#"$["\ud800x"]"#, 3, "a `\\u` high surrogate"),
            (
                "$[99999999999999999999999]",
                2,
                "index 99999999999999999999999 is too large",
            ),
        ];
        for (text, offset, msg) in cases {
            let e = err(text, ALL);
            assert_eq!(e.offset, *offset, "{text}: {e}");
            assert!(e.message.starts_with(msg), "{text}: {}", e.message);
        }
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        let e = err("$.名前[x]", ALL);
        assert_eq!(e.offset, 5);
    }

    #[test]
    fn roots_not_allowed_here() {
        let e = err("$local.a", &[Root::Input, Root::Context]);
        assert_eq!(e.offset, 0);
        assert_eq!(
            e.message,
            "`$local` cannot be used here; use `$input` or `$context`"
        );
        let e = err("$input.a", &[Root::Dollar]);
        assert_eq!(e.message, "`$input` cannot be used here; use `$`");
        let e = err("$x", &[Root::Dollar, Root::Input, Root::Local]);
        assert!(e.message.ends_with("`$`, `$input` or `$local`"), "{e}");
    }

    #[test]
    fn parse_at_stops_where_the_path_ends() {
        let chars: Vec<char> = "($.a.b[1]>=2)".chars().collect();
        let (p, end) = parse_at(&chars, 1, ALL).unwrap();
        assert_eq!(p.to_string(), "$.a.b[1]");
        assert_eq!(end, 9);
    }

    #[test]
    fn is_reference_only_for_the_three_named_roots() {
        for yes in ["$input", "$input.a", "$local[*].x", "$context.task.token"] {
            assert!(Path::is_reference(yes), "{yes}");
        }
        for no in ["$", "$.a", "$inputs", "input.a", "hello", "", "$contexts.a"] {
            assert!(!Path::is_reference(no), "{no}");
        }
    }

    #[test]
    fn lookup_keys_indexes_and_wildcards() {
        let v = json!({"a": {"b": [10, {"c": 3}]}, "xs": [{"n": 1}, {"m": 2}, {"n": 3}]});
        assert_eq!(ok("$.a.b[0]").lookup(&v), Some(json!(10)));
        assert_eq!(ok("$.a.b[1].c").lookup(&v), Some(json!(3)));
        assert_eq!(ok("$").lookup(&v), Some(v.clone()));
        assert_eq!(ok("$.xs[*].n").lookup(&v), Some(json!([1, 3])));
        assert_eq!(ok("$.a.b[5]").lookup(&v), None);
        assert_eq!(ok("$.a.nope").lookup(&v), None);
        assert_eq!(ok("$.a[0]").lookup(&v), None, "index into an object");
        assert_eq!(ok("$.a.b.c").lookup(&v), None, "key into an array");
        assert_eq!(ok("$.a[*]").lookup(&v), None, "wildcard over an object");
        assert_eq!(ok("$.xs[*]").lookup(&v), Some(v["xs"].clone()));
    }

    #[test]
    fn never_panics_on_prefixes_of_tricky_text() {
        let texts = [
            r#"$input.a["b\u00e9\ud83d\ude00"][*][12].c"#,
            "$.名前[0]",
            r#"$["\"]"#,
        ];
        for t in texts {
            let chars: Vec<char> = t.chars().collect();
            for n in 0..=chars.len() {
                let s: String = chars[..n].iter().collect();
                let _ = Path::parse(&s, ALL);
            }
        }
    }
}
