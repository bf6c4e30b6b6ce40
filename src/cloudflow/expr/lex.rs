//! The expression lexer: text in, tokens with their character offsets out.
//!
//! Paths (`$Input.a[0]["b c"]`) are read whole here, so the parser sees
//! one token per path. A bad character becomes a [`Tok::Bad`] token and
//! lexing stops there: the parser reports it only when it gets that far,
//! so an earlier grammar error wins over a later bad character.

use serde_json::Value;

use super::{ExprError, Root, Seg};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Path(Root, Vec<Seg>),
    Lit(Value),
    /// A name followed (the parser checks) by `(`: a built-in function.
    Ident(String),
    /// `.key` after a call or a parenthesised expression.
    Field(String),
    Not,
    Minus,
    And,
    Or,
    In,
    Cmp(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Bad(ExprError),
}

pub(crate) use crate::syntax::values::CmpOp;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    /// Character offset of the token's first character.
    pub at: usize,
    /// Character offset just after it.
    pub end: usize,
    /// The token as written.
    pub text: String,
}

impl Token {
    pub fn describe(&self) -> String {
        format!("`{}`", self.text)
    }
}

fn bad(at: usize, message: impl Into<String>) -> Tok {
    Tok::Bad(ExprError {
        offset: at,
        message: message.into(),
    })
}

pub(super) use crate::syntax::shown;

/// Whether `c` may appear in a `.key` segment; other keys are written
/// `["odd key"]`. `-` is allowed (`$Input.order-id`): the language has
/// no subtraction, so it cannot be mistaken for one.
pub(super) fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Splits the text into tokens; stops after the first bad one.
pub(super) fn lex(chars: &[char]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let at = i;
        let next = chars.get(i + 1).copied();
        let (tok, end) = match c {
            '(' => (Tok::LParen, i + 1),
            ')' => (Tok::RParen, i + 1),
            '[' => (Tok::LBracket, i + 1),
            ']' => (Tok::RBracket, i + 1),
            '{' => (Tok::LBrace, i + 1),
            '}' => (Tok::RBrace, i + 1),
            ',' => (Tok::Comma, i + 1),
            ':' => (Tok::Colon, i + 1),
            '=' if next == Some('=') => (Tok::Cmp(CmpOp::Eq), i + 2),
            '=' => (
                bad(at, "`=` is not an operator; use `==` to compare"),
                i + 1,
            ),
            '!' if next == Some('=') => (Tok::Cmp(CmpOp::Ne), i + 2),
            '!' => (Tok::Not, i + 1),
            '<' if next == Some('=') => (Tok::Cmp(CmpOp::Le), i + 2),
            '<' => (Tok::Cmp(CmpOp::Lt), i + 1),
            '>' if next == Some('=') => (Tok::Cmp(CmpOp::Ge), i + 2),
            '>' => (Tok::Cmp(CmpOp::Gt), i + 1),
            '&' if next == Some('&') => (Tok::And, i + 2),
            '&' => (bad(at, "`&` is not an operator; use `&&`"), i + 1),
            '|' if next == Some('|') => (Tok::Or, i + 2),
            '|' => (bad(at, "`|` is not an operator; use `||`"), i + 1),
            '-' => (Tok::Minus, i + 1),
            '"' | '\'' | '`' => match scan_string(chars, i) {
                Ok((s, end)) => (Tok::Lit(Value::String(s)), end),
                Err(e) => (Tok::Bad(e), chars.len()),
            },
            '$' => match scan_path(chars, i) {
                Ok((root, segs, end)) => (Tok::Path(root, segs), end),
                Err(e) => (Tok::Bad(e), chars.len()),
            },
            '.' if next.is_some_and(is_key_char) && !next.is_some_and(|c| c.is_ascii_digit()) => {
                let mut j = i + 1;
                while chars.get(j).is_some_and(|c| is_key_char(*c)) {
                    j += 1;
                }
                (Tok::Field(chars[i + 1..j].iter().collect()), j)
            }
            '0'..='9' => number(chars, i),
            c if c.is_alphabetic() || c == '_' => word(chars, i),
            other => (
                bad(
                    at,
                    format!(
                        "unexpected `{other}`; an expression is made of `$Input`/`$Output`/`$Context` paths, \
                         values, built-in function calls, comparisons, `!`, `&&`, `||` and parentheses"
                    ),
                ),
                i + 1,
            ),
        };
        let stop = matches!(tok, Tok::Bad(_));
        out.push(Token {
            tok,
            at,
            end,
            text: chars[at..end.min(chars.len())].iter().collect(),
        });
        if stop {
            break;
        }
        i = end;
    }
    out
}

/// A string in double quotes (JSON escapes), single quotes (the same
/// escapes plus `\'`) or backticks (raw: no escapes), starting at
/// `chars[start]`. Returns the text and the offset after the closing quote.
pub(super) fn scan_string(chars: &[char], start: usize) -> Result<(String, usize), ExprError> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(ExprError {
                offset: start,
                message: format!("unterminated string: the {quote} opened here is never closed"),
            });
        };
        if c == quote {
            return Ok((out, i + 1));
        }
        if c == '\\' && quote != '`' {
            let Some(&e) = chars.get(i + 1) else {
                return Err(ExprError {
                    offset: i,
                    message: "unterminated string: it ends with `\\`".to_owned(),
                });
            };
            i += 2;
            match e {
                '"' => out.push('"'),
                '\'' => out.push('\''),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let (ch, next) = unicode_escape(chars, i - 2)?;
                    out.push(ch);
                    i = next;
                }
                other => {
                    return Err(ExprError {
                        offset: i - 2,
                        message: format!(
                            "unknown escape `\\{other}` in a string (known: \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"
                        ),
                    });
                }
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
}

/// `\uXXXX` (with a surrogate pair as two escapes) starting at the
/// backslash; returns the character and the offset after the escape.
fn unicode_escape(chars: &[char], at: usize) -> Result<(char, usize), ExprError> {
    let hex = |from: usize| -> Option<u32> {
        let s: String = chars.get(from..from + 4)?.iter().collect();
        if s.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&s, 16).ok()
        } else {
            None
        }
    };
    let err = || ExprError {
        offset: at,
        message: "`\\u` must be followed by four hex digits (a surrogate pair as two escapes)"
            .to_owned(),
    };
    let hi = hex(at + 2).ok_or_else(err)?;
    if (0xD800..0xDC00).contains(&hi) {
        if chars.get(at + 6) == Some(&'\\') && chars.get(at + 7) == Some(&'u') {
            let lo = hex(at + 8).ok_or_else(err)?;
            if (0xDC00..0xE000).contains(&lo) {
                let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return char::from_u32(code).map(|c| (c, at + 12)).ok_or_else(err);
            }
        }
        return Err(err());
    }
    char::from_u32(hi).map(|c| (c, at + 6)).ok_or_else(err)
}

/// A path starting at `chars[start]` (a `$`): its root, its segments and
/// the offset just after it.
fn scan_path(chars: &[char], start: usize) -> Result<(Root, Vec<Seg>, usize), ExprError> {
    let mut i = start + 1;
    while chars
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
    {
        i += 1;
    }
    let word: String = chars[start + 1..i].iter().collect();
    let root = match word.as_str() {
        "Input" => Root::Input,
        "Output" => Root::Output,
        "Context" => Root::Context,
        _ => return Err(unknown_root(&word, start)),
    };
    let mut segs = Vec::new();
    loop {
        match chars.get(i) {
            Some('.') => {
                let from = i + 1;
                let mut j = from;
                while chars.get(j).is_some_and(|c| is_key_char(*c)) {
                    j += 1;
                }
                if j == from {
                    return Err(ExprError {
                        offset: from,
                        message: format!(
                            "expected a key after `.`, found {} (write `[\"key\"]` for other keys)",
                            shown(chars.get(from))
                        ),
                    });
                }
                segs.push(Seg::Key(chars[from..j].iter().collect()));
                i = j;
            }
            Some('[') => {
                let (seg, end) = bracket(chars, i)?;
                segs.push(seg);
                i = end;
            }
            _ => return Ok((root, segs, i)),
        }
    }
}

fn unknown_root(word: &str, at: usize) -> ExprError {
    let message = match word {
        "" => {
            "`$` alone is FDL v1's JSONPath; a CloudFlow expression starts with `$Input`, `$Output` or `$Context` (write `$Input.x` for `$.x`)"
                .to_owned()
        }
        "input" | "output" | "context" => {
            let mut cap = word.to_owned();
            cap[..1].make_ascii_uppercase();
            format!("unknown root `${word}`; CloudFlow writes it `${cap}`")
        }
        "local" => {
            "`$local` is FDL v1's; in CloudFlow a task's result is `$Output` (in an OutputConstructor)"
                .to_owned()
        }
        "Global" => "`$Global` (global variables) is not supported by flowsim".to_owned(),
        "Item" => {
            "`$Item` belongs to a distributed Map's ItemConstructor, which flowsim does not support"
                .to_owned()
        }
        other => {
            let roots = ["Input", "Output", "Context"];
            let lower = other.to_ascii_lowercase();
            let close = roots
                .iter()
                .map(|r| (strsim::damerau_levenshtein(&lower, &r.to_ascii_lowercase()), r))
                .filter(|(d, r)| *d <= (r.len() / 3).max(1))
                .min_by_key(|(d, _)| *d);
            match close {
                Some((_, r)) => format!("unknown root `${other}`; did you mean `${r}`?"),
                None => format!(
                    "unknown root `${other}`; an expression's paths start with `$Input`, `$Output` or `$Context`"
                ),
            }
        }
    };
    ExprError {
        offset: at,
        message,
    }
}

/// `[0]` or `["key"]` / `['key']` starting at the `[`.
pub(super) fn bracket(chars: &[char], open: usize) -> Result<(Seg, usize), ExprError> {
    let i = open + 1;
    match chars.get(i) {
        Some(c) if c.is_ascii_digit() => {
            let mut j = i;
            while chars.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            let digits: String = chars[i..j].iter().collect();
            let Ok(n) = digits.parse::<usize>() else {
                return Err(ExprError {
                    offset: i,
                    message: format!("the index {digits} is too large"),
                });
            };
            if chars.get(j) != Some(&']') {
                return Err(ExprError {
                    offset: j,
                    message: format!(
                        "expected `]` after the index, found {}",
                        shown(chars.get(j))
                    ),
                });
            }
            Ok((Seg::Index(n), j + 1))
        }
        Some('"' | '\'' | '`') => {
            let (key, j) = scan_string(chars, i)?;
            if chars.get(j) != Some(&']') {
                return Err(ExprError {
                    offset: j,
                    message: format!("expected `]` after the key, found {}", shown(chars.get(j))),
                });
            }
            Ok((Seg::Key(key), j + 1))
        }
        Some('*') => Err(ExprError {
            offset: i,
            message:
                "`[*]` wildcards are FDL v1's; CloudFlow expressions take one element at a time"
                    .to_owned(),
        }),
        Some('-') => Err(ExprError {
            offset: i,
            message: "indexes count from 0; negative indexes are not supported".to_owned(),
        }),
        c => Err(ExprError {
            offset: i,
            message: format!(
                "expected an index such as `[0]` or a key such as `[\"a b\"]`, found {}",
                shown(c)
            ),
        }),
    }
}

fn number(chars: &[char], start: usize) -> (Tok, usize) {
    let digits = |mut j: usize| {
        while chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let mut i = digits(start);
    let mut float = false;
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
        i = digits(i + 1);
        float = true;
    } else if chars.get(i) == Some(&'.') && !chars.get(i + 1).is_some_and(|c| is_key_char(*c)) {
        return (
            bad(
                i + 1,
                format!(
                    "expected a digit after `.`, found {}",
                    shown(chars.get(i + 1))
                ),
            ),
            i + 1,
        );
    }
    match crate::syntax::values::finish_number(chars, start, i, float) {
        Ok((n, end)) => (Tok::Lit(Value::Number(n)), end),
        Err((at, end, message)) => (bad(at, message), end),
    }
}

fn word(chars: &[char], start: usize) -> (Tok, usize) {
    let mut i = start;
    while chars
        .get(i)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        i += 1;
    }
    let w: String = chars[start..i].iter().collect();
    let tok = match w.as_str() {
        "true" => Tok::Lit(Value::Bool(true)),
        "false" => Tok::Lit(Value::Bool(false)),
        "null" => Tok::Lit(Value::Null),
        "in" => Tok::In,
        _ => Tok::Ident(w),
    };
    (tok, i)
}
