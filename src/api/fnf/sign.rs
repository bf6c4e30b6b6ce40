//! RPC request signatures (HMAC-SHA1, `SignatureVersion=1.0`), as the
//! official SDKs compute them (SPEC §4):
//!
//! `Signature = base64(HMAC-SHA1(secret + "&", METHOD + "&%2F&" +
//! enc(k1=v1&k2=v2...)))`, where the pairs are every query and body
//! parameter except `Signature`, sorted by name, each name and value
//! percent-encoded per RFC 3986 (unreserved `A-Za-z0-9-_.~` kept, space as
//! `%20`), and `enc` encodes the joined string once more.
//!
//! Pure functions: the API uses [`verify`]; tests and clients use [`sign`].

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// Everything but the RFC 3986 unreserved characters is encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// RFC 3986 percent-encoding of UTF-8 text (`~` kept, space as `%20`).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// The string the signature is computed over.
pub fn string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    let mut canonical = String::new();
    // BTreeMap<String> orders by bytes, which for UTF-8 is code point order:
    // the order Python's `sorted` gives the SDKs.
    for (k, v) in params.iter().filter(|(k, _)| k.as_str() != "Signature") {
        if !canonical.is_empty() {
            canonical.push('&');
        }
        canonical.push_str(&percent_encode(k));
        canonical.push('=');
        canonical.push_str(&percent_encode(v));
    }
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&canonical)
    )
}

fn mac(secret: &str, string_to_sign: &str) -> HmacSha1 {
    let key = format!("{secret}&");
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = match HmacSha1::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any size"),
    };
    mac.update(string_to_sign.as_bytes());
    mac
}

/// The `Signature` of a request with these parameters.
pub fn sign(method: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    let sts = string_to_sign(method, params);
    STANDARD.encode(mac(secret, &sts).finalize().into_bytes())
}

/// Checks `signature` (the request's `Signature`) in constant time. On a
/// mismatch answers the string the server signed, for the error message.
pub fn verify(
    method: &str,
    params: &BTreeMap<String, String>,
    secret: &str,
    signature: &str,
) -> Result<(), String> {
    let sts = string_to_sign(method, params);
    let ok = STANDARD
        .decode(signature.trim())
        .is_ok_and(|given| mac(secret, &sts).verify_slice(&given).is_ok());
    if ok { Ok(()) } else { Err(sts) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn encodes_like_rfc3986() {
        assert_eq!(percent_encode("a b~c*d+e/f"), "a%20b~c%2Ad%2Be%2Ff");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn matches_an_independent_computation() {
        // Computed independently with Python: sorted pairs, each side
        // urllib.parse.quote(x, safe="~"), joined, quoted again, then
        // base64(hmac.new(b"testsecret&", sts, hashlib.sha1).digest()).
        let p = params(&[
            ("AccessKeyId", "testid"),
            ("Action", "DescribeExecution"),
            ("ExecutionName", "e1"),
            ("FlowName", "my flow"),
            ("Format", "JSON"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "nonce-1"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2019-01-01T00:00:00Z"),
            ("Version", "2019-03-15"),
            ("Signature", "ignored"),
        ]);
        let sts = string_to_sign("GET", &p);
        assert!(sts.starts_with("GET&%2F&AccessKeyId%3Dtestid%26Action%3D"));
        assert!(sts.contains("FlowName%3Dmy%2520flow"));
        assert!(!sts.contains("Signature%3Dignored"));
        assert_eq!(
            sts,
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeExecution%26ExecutionName%3De1%26FlowName%3Dmy%2520flow%26Format%3DJSON%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Dnonce-1%26SignatureVersion%3D1.0%26Timestamp%3D2019-01-01T00%253A00%253A00Z%26Version%3D2019-03-15"
        );
        let sig = sign("GET", &p, "testsecret");
        assert_eq!(sig, "O7Pc7EBnHlYYLaSxGxdB7c4pUAE=");
        assert!(verify("GET", &p, "testsecret", &sig).is_ok());
        assert!(verify("GET", &p, "other", &sig).is_err());
        assert!(verify("POST", &p, "testsecret", &sig).is_err());
        assert!(verify("GET", &p, "testsecret", "%%%").is_err());
    }
}
