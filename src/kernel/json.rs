//! Compact JSON writing for the hot path: strings and [`Value`]s appended
//! to a byte buffer, byte for byte what `serde_json::to_writer` writes
//! (same escapes, same number formatting, map keys in their order), only
//! faster on the long plain strings the simulation moves around (task
//! tokens, message bodies): eight bytes are checked at a time and copied
//! in runs.
//!
//! Pure functions of their arguments.

use serde_json::Value;

/// `s` as a JSON string (quotes included), appended to `buf`.
pub fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    push_str_contents(buf, s);
    buf.push(b'"');
}

/// The high bit of each byte of `w` (little-endian) that is `"`, `\` or
/// a control character (< 0x20), at least for the lowest such byte: a
/// borrow may also flag bytes above it, never below, so the lowest flag
/// is exact.
fn escapes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero_byte(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(w ^ (ONES * u64::from(b'\\')));
    // A byte below 0x20: subtracting 0x20 borrows into its high bit
    // (bytes of 0x80 and above are excluded by `!w`).
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

/// The index of the first `"`, `\` or control character (< 0x20) of
/// `b` at or after `from`; `b.len()` when there is none.
pub fn next_special(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let m = escapes(u64::from_le_bytes(w));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0x00..=0x1f) {
        i += 1;
    }
    i
}

/// `s` escaped as the inside of a JSON string, appended to `buf`.
pub fn push_str_contents(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if i + 8 <= bytes.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            let m = escapes(u64::from_le_bytes(w));
            if m == 0 {
                i += 8;
                continue;
            }
            // Straight to the first byte to escape.
            i += (m.trailing_zeros() / 8) as usize;
        }
        let b = bytes[i];
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                buf.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 15)]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(esc);
        i += 1;
        start = i;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// `v` as compact JSON, appended to `buf`.
pub fn push_value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Bool(true) => buf.extend_from_slice(b"true"),
        Value::Bool(false) => buf.extend_from_slice(b"false"),
        // serde_json's own formatting (itoa, ryu); writing to memory
        // cannot fail.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *buf, n);
        }
        Value::String(s) => push_str(buf, s),
        Value::Array(a) => {
            buf.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                push_value(buf, x);
            }
            buf.push(b']');
        }
        Value::Object(m) => {
            buf.push(b'{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                push_str(buf, k);
                buf.push(b':');
                push_value(buf, x);
            }
            buf.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use serde_json::json;

    fn random_string(rng: &mut impl Rng) -> String {
        let pool = [
            'a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{0}',
            '\u{1f}', '\u{7f}', 'é', '€', '😀', '\u{2028}',
        ];
        let n = rng.random_range(0..40);
        (0..n)
            .map(|_| pool[rng.random_range(0..pool.len())])
            .collect()
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..5_000 {
            let s = random_string(&mut rng);
            let mut buf = Vec::new();
            push_str(&mut buf, &s);
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                serde_json::to_string(&s).unwrap()
            );
        }
    }

    #[test]
    fn finds_the_first_byte_to_escape() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        for _ in 0..5_000 {
            let s = random_string(&mut rng);
            let b = s.as_bytes();
            let from = rng.random_range(0..=b.len());
            let want = (from..b.len())
                .find(|&i| matches!(b[i], b'"' | b'\\' | 0x00..=0x1f))
                .unwrap_or(b.len());
            assert_eq!(next_special(b, from), want, "{s:?} from {from}");
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let v = json!({
            "b": [1, -2, 3.5, 1e300, 0.1, null, true, false, {"": "x\"y"}],
            "a": {"taskToken": "djEjbW5zLXRvcGljLWNhbGxiYWNrI2U2OGJkOTVl==", "n": u64::MAX},
            "c\n": "hello world",
        });
        let mut buf = Vec::new();
        push_value(&mut buf, &v);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
    }
}
