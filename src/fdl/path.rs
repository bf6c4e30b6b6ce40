//! TEMPORARY stand-in until the fdl branch lands: path lookup only.

use serde_json::Value;

use super::model::{Path, Root, Segment};

impl Path {
    /// Looks the path up in `root` (the caller picks the root value).
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

/// TEMPORARY
#[derive(Debug)]
pub struct PathError {
    pub offset: usize,
    pub message: String,
}

impl Path {
    pub fn is_reference(text: &str) -> bool {
        ["$input", "$local", "$context"].iter().any(|r| {
            text.strip_prefix(r)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }

    pub fn parse(text: &str, allowed: &[Root]) -> Result<Path, PathError> {
        let (root, rest) = if let Some(r) = text.strip_prefix("$input") {
            (Root::Input, r)
        } else if let Some(r) = text.strip_prefix("$local") {
            (Root::Local, r)
        } else if let Some(r) = text.strip_prefix("$context") {
            (Root::Context, r)
        } else if let Some(r) = text.strip_prefix('$') {
            (Root::Dollar, r)
        } else {
            return Err(PathError {
                offset: 0,
                message: "expected $".into(),
            });
        };
        if !allowed.contains(&root) {
            return Err(PathError {
                offset: 0,
                message: "root not allowed here".into(),
            });
        }
        let mut segments = Vec::new();
        for part in rest.split('.').skip(1) {
            if let Some((k, idx)) = part.split_once('[') {
                segments.push(Segment::Key(k.into()));
                let idx = idx.trim_end_matches(']');
                if idx == "*" {
                    segments.push(Segment::Wildcard)
                } else {
                    segments.push(Segment::Index(idx.parse().map_err(|_| PathError {
                        offset: 0,
                        message: "bad index".into(),
                    })?))
                }
            } else {
                segments.push(Segment::Key(part.into()));
            }
        }
        Ok(Path { root, segments })
    }
}
