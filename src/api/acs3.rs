//! acs3: the V3 request signature, `ACS3-HMAC-SHA256`, that the Tea SDKs
//! (`alibabacloud_fnf20190315` and the other `alibabacloud_*` packages)
//! send instead of the RPC `Signature` parameter.
//!
//! Such a request names its action in the `x-acs-action` header and signs a
//! canonical request: method, path, sorted query, the headers it lists in
//! `SignedHeaders`, and the SHA-256 of the body (also sent as
//! `x-acs-content-sha256`). This module only checks that signature; which
//! key pair is valid is the caller's business. Pure: no I/O.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The only V3 algorithm flowsim checks (the SDKs' default).
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// What Python's `quote(v, safe='~')` leaves alone: letters, digits, `-._~`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The parts of a request the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The request path (`/` for the RPC API).
    pub path: &'a str,
    /// The query parameters, decoded.
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The `Authorization` header of a V3 request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub algorithm: String,
    pub access_key_id: String,
    /// Lower-case header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Hex signature as sent.
    pub signature: String,
}

/// Why a V3 signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Acs3Error {
    #[error("the Authorization header is not a valid ACS3 signature: {0}")]
    Malformed(String),
    #[error("the signature algorithm `{0}` is not supported: use ACS3-HMAC-SHA256")]
    Algorithm(String),
    #[error("the request body does not match its x-acs-content-sha256 header")]
    PayloadHash,
    #[error("the signed header `{0}` is missing from the request")]
    MissingHeader(String),
    /// Carries the canonical request flowsim computed, so a user can diff
    /// it against what their client signed.
    #[error("the request signature does not match: flowsim signed this canonical request: {0:?}")]
    Mismatch(String),
}

/// Whether a request carries a V3 (`ACS3-...`) signature.
pub fn is_acs3(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("ACS3-"))
}

/// Parses `ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex`.
pub fn parse_authorization(value: &str) -> Result<Authorization, Acs3Error> {
    let value = value.trim();
    let (algorithm, rest) = value
        .split_once(' ')
        .ok_or_else(|| Acs3Error::Malformed("expected `ALGORITHM Credential=...`".into()))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| Acs3Error::Malformed(format!("`{}` is not key=value", part.trim())))?;
        match k {
            "Credential" => credential = Some(v.to_owned()),
            "SignedHeaders" => signed = Some(v.to_owned()),
            "Signature" => signature = Some(v.to_owned()),
            _ => {}
        }
    }
    let missing = |what: &str| Acs3Error::Malformed(format!("no {what}"));
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    Ok(Authorization {
        algorithm: algorithm.to_owned(),
        access_key_id: credential,
        signed_headers: signed
            .split(';')
            .filter(|h| !h.is_empty())
            .map(str::to_ascii_lowercase)
            .collect(),
        signature,
    })
}

/// Sorted `k=v&...` with values percent-encoded like the SDK does.
fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request the client must have signed.
pub fn canonical_request(
    req: &SignedRequest<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, Acs3Error> {
    let mut names: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let mut headers = String::new();
    for name in &names {
        let mut values: Vec<String> = req
            .headers
            .get_all(*name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .collect();
        if values.is_empty() {
            return Err(Acs3Error::MissingHeader((*name).to_owned()));
        }
        values.sort();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    let path = if req.path.is_empty() { "/" } else { req.path };
    Ok(format!(
        "{}\n{path}\n{}\n{headers}\n{}\n{payload_hash}",
        req.method,
        canonical_query(req.query),
        names.join(";"),
    ))
}

/// Checks a V3 signature made with `secret`. The caller has already looked
/// the access key id up (see [`parse_authorization`]).
pub fn verify(
    req: &SignedRequest<'_>,
    auth: &Authorization,
    secret: &str,
) -> Result<(), Acs3Error> {
    if auth.algorithm != ALGORITHM {
        return Err(Acs3Error::Algorithm(auth.algorithm.clone()));
    }
    let payload_hash = format!("{:x}", Sha256::digest(req.body));
    if let Some(sent) = req.headers.get("x-acs-content-sha256")
        && !sent
            .as_bytes()
            .eq_ignore_ascii_case(payload_hash.as_bytes())
    {
        return Err(Acs3Error::PayloadHash);
    }
    let canonical = canonical_request(req, &auth.signed_headers, &payload_hash)?;
    let to_sign = format!("{ALGORITHM}\n{:x}", Sha256::digest(canonical.as_bytes()));
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return Err(Acs3Error::Mismatch(canonical));
    };
    mac.update(to_sign.as_bytes());
    let expected = format!("{:x}", mac.finalize().into_bytes());
    let sent = auth.signature.to_ascii_lowercase();
    if bool::from(expected.as_bytes().ct_eq(sent.as_bytes())) {
        Ok(())
    } else {
        Err(Acs3Error::Mismatch(canonical))
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    const BODY: &[u8] =
        b"FlowName=mns-topic-callback&Input=%7B%22messageBody%22%3A%20%22hello%20world%22%7D";
    const BODY_HASH: &str = "31fa2851da1d59f6421f111e3cecbddcb083a91e5b04283a8fbf86d27334fefb";
    /// Computed by `alibabacloud_tea_openapi.utils.Utils.get_authorization`
    /// (tea-openapi 0.4.6) for the request below, key `testid`/`testsecret`.
    const SDK_AUTHORIZATION: &str = "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=f1eebd0f73b6da2251a52510f66e8e94b72b81cfff4b365c23e0bc239aea66d1";

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("host", "127.0.0.1:8080"),
            ("x-acs-version", "2019-03-15"),
            ("x-acs-action", "StartExecution"),
            ("user-agent", "AlibabaCloud (Linux) Python/3.11 TeaDSL/2"),
            ("x-acs-date", "2026-11-25T08:00:00Z"),
            ("x-acs-signature-nonce", "abc123"),
            ("accept", "application/json"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-acs-content-sha256", BODY_HASH),
            ("authorization", SDK_AUTHORIZATION),
        ] {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn query() -> Vec<(String, String)> {
        vec![
            ("Zeta".into(), "a b~/c".into()),
            ("Alpha".into(), "1".into()),
        ]
    }

    fn check(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<(), Acs3Error> {
        let q = query();
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: &q,
            headers,
            body,
        };
        let auth = parse_authorization(headers["authorization"].to_str().unwrap())?;
        verify(&req, &auth, secret)
    }

    #[test]
    fn accepts_the_python_sdk_signature() {
        let h = headers();
        assert!(is_acs3(&h));
        assert_eq!(check(&h, BODY, "testsecret"), Ok(()));
    }

    #[test]
    fn refuses_a_wrong_secret_a_changed_body_or_header() {
        let h = headers();
        assert!(matches!(
            check(&h, BODY, "other"),
            Err(Acs3Error::Mismatch(_))
        ));
        assert_eq!(
            check(&h, b"FlowName=x", "testsecret"),
            Err(Acs3Error::PayloadHash)
        );
        let mut changed = headers();
        changed.insert("x-acs-action", HeaderValue::from_static("StopExecution"));
        assert!(matches!(
            check(&changed, BODY, "testsecret"),
            Err(Acs3Error::Mismatch(_))
        ));
        let mut missing = headers();
        missing.remove("x-acs-date");
        assert_eq!(
            check(&missing, BODY, "testsecret"),
            Err(Acs3Error::MissingHeader("x-acs-date".into()))
        );
    }

    #[test]
    fn parses_and_rejects_authorization_headers() {
        let a = parse_authorization(SDK_AUTHORIZATION).unwrap();
        assert_eq!(a.access_key_id, "testid");
        assert_eq!(a.signed_headers.len(), 9);
        assert!(parse_authorization("ACS3-HMAC-SHA256").is_err());
        assert!(parse_authorization("ACS3-HMAC-SHA256 Credential=a,Signature=b").is_err());
        assert!(parse_authorization("ACS3-HMAC-SHA256 garbage").is_err());
        let sm3 = parse_authorization("ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=00")
            .unwrap();
        let h = headers();
        let q = query();
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: &q,
            headers: &h,
            body: BODY,
        };
        assert_eq!(
            verify(&req, &sm3, "x"),
            Err(Acs3Error::Algorithm("ACS3-HMAC-SM3".into()))
        );
    }

    #[test]
    fn canonical_query_encodes_like_the_sdk() {
        assert_eq!(canonical_query(&query()), "Alpha=1&Zeta=a%20b~%2Fc");
        assert_eq!(canonical_query(&[]), "");
    }
}
