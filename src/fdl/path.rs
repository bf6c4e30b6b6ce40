//! TEMPORARY stand-in until the fdl branch lands: path lookup only.

use serde_json::Value;

use super::model::{Path, Segment};

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
