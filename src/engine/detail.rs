//! engine::detail: the small pure helpers the interpreter builds event
//! details and error causes with: the JSON detail writers (one exact
//! allocation per detail through a reused buffer), service-parameter
//! reads, wait-time arithmetic and JSON type names for messages.
//!
//! Pure functions of their arguments: nothing here reads or changes an
//! execution, a run or the engine, logs events or sends envelopes.

use serde_json::Value;

use super::history::Detail;
use super::intern::Interner;
use super::mapping;
use crate::fdl::{MAX_WAIT_SECONDS, ParamValue};

/// An event detail `{"<key>": v}` (`key` a plain identifier), serialised
/// once into `buf` (reused between events), so the detail costs one exact
/// allocation (none when an identical short detail exists, see
/// [`Interner`]): no intermediate `String`, no growth, no shrink.
pub(super) fn detail_of(buf: &mut Vec<u8>, texts: &mut Interner, key: &str, v: &Value) -> Detail {
    buf.clear();
    buf.extend_from_slice(b"{\"");
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
    write_json(buf, v);
    buf.push(b'}');
    texts.detail_bytes(buf)
}

/// The text a string-typed service parameter carries (see
/// [`mapping::as_text`]); `$` is `input_text`, the input already
/// serialised. `None` when the task has no such parameter.
pub(super) fn param_text<'t>(
    params: &[(String, ParamValue)],
    name: &str,
    input: &Value,
    input_text: &'t str,
) -> Option<std::borrow::Cow<'t, str>> {
    use std::borrow::Cow;
    let (_, p) = params.iter().find(|(k, _)| k == name)?;
    Some(match p {
        ParamValue::Path(path) if path.segments.is_empty() && input.is_object() => {
            Cow::Borrowed(input_text)
        }
        ParamValue::Path(path) => {
            Cow::Owned(mapping::as_text(&path.lookup(input).unwrap_or(Value::Null)))
        }
        ParamValue::Const(c) => Cow::Owned(mapping::as_text(c)),
    })
}

/// A service parameter's value, if the task has it.
pub(super) fn param_value(
    params: &[(String, ParamValue)],
    name: &str,
    input: &Value,
) -> Option<Value> {
    let (_, p) = params.iter().find(|(k, _)| k == name)?;
    match p {
        ParamValue::Path(path) => path.lookup(input),
        ParamValue::Const(c) => Some(c.clone()),
    }
}

/// Appends `s` as a JSON string.
pub(super) fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    crate::kernel::json::push_str(buf, s);
}

/// `v` as compact JSON, serialised through `buf` (see [`detail_of`]).
pub(super) fn json_of(buf: &mut Vec<u8>, texts: &mut Interner, v: &Value) -> Detail {
    buf.clear();
    write_json(buf, v);
    texts.detail_bytes(buf)
}

/// Appends `v` as compact JSON.
pub(super) fn write_json(buf: &mut Vec<u8>, v: &Value) {
    crate::kernel::json::push_value(buf, v);
}

/// The value part of a detail made by [`detail_of`] with `key`.
pub(super) fn detail_field<'d>(detail: &'d str, key: &str) -> &'d str {
    detail
        .get(key.len() + 4..detail.len().saturating_sub(1))
        .unwrap_or("{}")
}

/// A JSON type name with its indefinite article ("an object", "a string").
pub(super) fn with_article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// What a path found, for an error cause: the value as JSON, or
/// "nothing" when the path is absent.
pub(super) fn found_json(v: Option<&Value>) -> String {
    match v {
        None => "nothing".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// A wait of `secs` seconds (written `shown`, e.g. `1e300`) in
/// milliseconds, if within [`MAX_WAIT_SECONDS`].
pub(super) fn wait_ms(secs: f64, shown: &str, path: &str) -> Result<u64, String> {
    if secs.is_finite() && (0.0..=MAX_WAIT_SECONDS as f64).contains(&secs) {
        Ok((secs * 1000.0) as u64)
    } else {
        Err(format!(
            "wait duration{path} of {shown} seconds is longer than the limit of \
             {MAX_WAIT_SECONDS} seconds (one year)"
        ))
    }
}

/// Milliseconds from `now_ms` until the Unix time `at_ms` (0 if past), if
/// within [`MAX_WAIT_SECONDS`].
pub(super) fn until_ms(at_ms: i64, now_ms: i64, what: &str, path: &str) -> Result<u64, String> {
    let delay = at_ms.saturating_sub(now_ms).max(0);
    let delay = u64::try_from(delay).unwrap_or(0);
    if delay <= MAX_WAIT_SECONDS * 1000 {
        Ok(delay)
    } else {
        Err(format!(
            "wait {what}{path} is {} seconds away, longer than the limit of \
             {MAX_WAIT_SECONDS} seconds (one year)",
            delay / 1000
        ))
    }
}

/// The JSON type name of `v` ("object", "string"...).
pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
