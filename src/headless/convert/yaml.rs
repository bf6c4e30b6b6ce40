//! headless::convert::yaml: the small YAML tree the converter builds and
//! its rendering as block-style YAML a person would write (two-space
//! indents, lists of mappings as `- Key: value`, scalars quoted only when
//! YAML needs it).

use serde_json::Value;

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Y {
    /// A scalar, already rendered (see [`scalar`], [`constant`]).
    S(String),
    /// A mapping, in order. A key starting with `#` is a comment line.
    M(Vec<(String, Y)>),
    /// A sequence.
    L(Vec<Y>),
}

impl Y {
    /// A mapping entry `key: value`.
    pub fn push(&mut self, key: impl Into<String>, v: Y) {
        if let Y::M(m) = self {
            m.push((key.into(), v));
        }
    }

    /// A comment line before the next entry.
    pub fn comment(&mut self, text: &str) {
        self.push(format!("# {text}"), Y::S(String::new()));
    }
}

/// A string as a YAML scalar: plain when YAML reads it back as the same
/// string, else single-quoted.
pub fn scalar(s: &str) -> Y {
    Y::S(quote(s))
}

/// A JSON constant as YAML (objects and arrays in flow style, which is
/// JSON).
pub fn constant(v: &Value) -> Y {
    match v {
        Value::String(s) => scalar(s),
        other => Y::S(other.to_string()),
    }
}

fn quote(s: &str) -> String {
    let plain_char = |c: char| c.is_alphanumeric() || " $._-/:\"=!<>&|()[]+*@,".contains(c);
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '$' || c == '_' || c == '/' || c == '(');
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
    ) || s.parse::<f64>().is_ok();
    let plain = first_ok
        && !reserved
        && s.chars().all(plain_char)
        && !s.contains(": ")
        && !s.ends_with(':')
        && !s.ends_with(' ')
        && !s.contains(" #");
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Renders a document (a mapping) as YAML text.
pub fn render(doc: &Y) -> String {
    let mut out = String::new();
    map_entries(doc, 0, &mut out);
    out
}

fn map_entries(y: &Y, indent: usize, out: &mut String) {
    let Y::M(entries) = y else { return };
    let pad = " ".repeat(indent);
    for (i, (k, v)) in entries.iter().enumerate() {
        // The first entry of a list item follows its `- `.
        if i > 0 || indent == 0 || !out.ends_with("- ") {
            out.push_str(&pad);
        }
        if k.starts_with('#') {
            out.push_str(k);
            out.push('\n');
            continue;
        }
        out.push_str(k);
        out.push(':');
        value(v, indent, out);
    }
}

fn value(v: &Y, indent: usize, out: &mut String) {
    match v {
        Y::S(s) => {
            out.push(' ');
            out.push_str(s);
            out.push('\n');
        }
        Y::M(m) if m.is_empty() => out.push_str(" {}\n"),
        Y::M(_) => {
            out.push('\n');
            map_entries(v, indent + 2, out);
        }
        Y::L(items) if items.is_empty() => out.push_str(" []\n"),
        Y::L(items) => {
            out.push('\n');
            let pad = " ".repeat(indent + 2);
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match item {
                    Y::M(m) if !m.is_empty() => map_entries(item, indent + 4, out),
                    Y::S(s) => {
                        out.push_str(s);
                        out.push('\n');
                    }
                    other => {
                        let mut inner = String::new();
                        value(other, indent + 2, &mut inner);
                        out.push_str(inner.trim_start());
                    }
                }
            }
        }
    }
}

/// A list of strings in flow style: `[A, B]`.
pub fn flow_list(items: &[String]) -> Y {
    let parts: Vec<String> = items.iter().map(|s| quote(s)).collect();
    Y::S(format!("[{}]", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(quote("ask-reviewer"), "ask-reviewer");
        assert_eq!(
            quote("$Input.decision == \"success\""),
            "$Input.decision == \"success\""
        );
        assert_eq!(
            quote("acs:mns:::/topics/t/messages"),
            "acs:mns:::/topics/t/messages"
        );
        assert_eq!(quote("true"), "'true'");
        assert_eq!(quote("12"), "'12'");
        assert_eq!(quote("a: b"), "'a: b'");
        assert_eq!(quote("it's {x}"), "'it''s {x}'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn renders_lists_of_mappings_and_empty_mappings() {
        let mut state = Y::M(vec![]);
        state.push("Type", scalar("Pass"));
        state.push("OutputConstructor", Y::M(vec![]));
        let mut doc = Y::M(vec![]);
        doc.push("States", Y::L(vec![state]));
        assert_eq!(
            render(&doc),
            "States:\n  - Type: Pass\n    OutputConstructor: {}\n"
        );
    }
}
