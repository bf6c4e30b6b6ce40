//! auth: the MNS request signature (SPEC §3).
//!
//! `Authorization: MNS <AccessKeyId>:<base64 HMAC-SHA1(secret, string)>`
//! where the string is `METHOD\nContent-MD5\nContent-Type\nDate\n`, then
//! every `x-mns-*` header as `name:value\n` sorted by (lower-case) name,
//! then the resource: the path with its query, as sent. Errors as
//! upstream: 400 `MissingAuthorizationHeader` / `InvalidAuthorizationHeader`,
//! 403 `InvalidAccessKeyId` / `SignatureDoesNotMatch`. The signed `Date`
//! must be within the replay window of the wall clock (`check_date`).

use axum::http::{HeaderMap, Method, Uri, header};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::MnsFail;
use crate::api::Credentials;

/// The string an MNS request signature covers.
pub fn string_to_sign(method: &str, headers: &HeaderMap, resource: &str) -> String {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n",
        get("content-md5"),
        get("content-type"),
        get("date")
    );
    // HeaderMap names are lower case already.
    let mut mns: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-mns-"))
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")))
        .collect();
    mns.sort_unstable();
    for (k, v) in mns {
        s.push_str(k);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    }
    s.push_str(resource);
    s
}

/// The resource part of the string to sign: path and query as sent.
fn resource(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |p| p.as_str())
}

/// Checks a request's signature against `creds`.
pub(super) fn verify(
    creds: &Credentials,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), MnsFail> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(MnsFail::new(
            400,
            "MissingAuthorizationHeader",
            "Authorization header is required.",
        ));
    };
    let invalid = || {
        MnsFail::new(
            400,
            "InvalidAuthorizationHeader",
            "The Authorization header format is invalid: expected `MNS AccessKeyId:Signature`.",
        )
    };
    let value = value.to_str().map_err(|_| invalid())?;
    let (id, signature) = value
        .strip_prefix("MNS ")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(invalid)?;
    if id != creds.access_key_id {
        return Err(MnsFail::new(
            403,
            "InvalidAccessKeyId",
            format!("The AccessKey Id you provided is not exist: `{id}`."),
        ));
    }
    let string = string_to_sign(method.as_str(), headers, resource(uri));
    let mismatch = || {
        MnsFail::new(
            403,
            "SignatureDoesNotMatch",
            format!(
                "The request signature we calculated does not match the signature you provided. String to sign: {:?}",
                string
            ),
        )
    };
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| mismatch())?;
    let mut mac =
        Hmac::<Sha1>::new_from_slice(creds.access_key_secret.as_bytes()).map_err(|_| mismatch())?;
    mac.update(string.as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&given).map_err(|_| mismatch())
}

/// Refuses a signed request whose `Date` is missing, unreadable, or further
/// from the wall clock than the replay window: 400 `MissingDateHeader` /
/// `InvalidDateHeader` as documented, and 403 `TimeExpired` for a stale
/// one (the error list does not name that case; flowsim's choice, README).
pub(super) fn check_date(
    guard: &crate::api::replay::Guard,
    headers: &HeaderMap,
) -> Result<(), MnsFail> {
    use crate::api::replay;
    let Some(date) = headers.get(header::DATE) else {
        return Err(MnsFail::new(
            400,
            "MissingDateHeader",
            "Date header is required.",
        ));
    };
    let date = date.to_str().unwrap_or("");
    let time = replay::parse_http_date(date).map_err(|_| {
        MnsFail::new(
            400,
            "InvalidDateHeader",
            format!("The Date header format is invalid: `{date}` (RFC 1123, e.g. Thu, 01 Jan 2026 00:00:00 GMT)."),
        )
    })?;
    guard.check_time(&time, replay::now()).map_err(|e| {
        MnsFail::new(
            403,
            "TimeExpired",
            format!("The http request you sent is expired: {e}."),
        )
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn string_to_sign_matches_the_sdk_layout() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("text/xml;charset=UTF-8"),
        );
        h.insert(
            "date",
            HeaderValue::from_static("Wed, 01 Jan 2026 00:00:00 GMT"),
        );
        h.insert("x-mns-version", HeaderValue::from_static("2015-06-06"));
        h.insert("x-mns-ret-number", HeaderValue::from_static("5"));
        h.insert("host", HeaderValue::from_static("127.0.0.1"));
        let s = string_to_sign("GET", &h, "/queues/q/messages?waitseconds=3");
        assert_eq!(
            s,
            "GET\n\ntext/xml;charset=UTF-8\nWed, 01 Jan 2026 00:00:00 GMT\n\
             x-mns-ret-number:5\nx-mns-version:2015-06-06\n/queues/q/messages?waitseconds=3"
        );
    }
}
