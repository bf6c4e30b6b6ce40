//! mns: the MNS REST API (version 2015-06-06): topics, subscriptions,
//! publish, queues; XML bodies in the `http://mns.aliyuncs.com/doc/v1/`
//! namespace, `x-mns-request-id` on every answer (SPEC §3).
//!
//! Owns the HTTP side only: routes, the signature check ([`auth`]), XML in
//! and out ([`xml`]), upstream error bodies, long polls. What it does to the
//! simulation goes through the runtime handle ([`Handle::with_sim`] running
//! the synchronous methods of [`crate::mns::Mns`]), so a message published
//! here reaches a flow's subscribers exactly like a task's publish.
//!
//! Every answer passes through `finish`: it adds the request id header
//! and turns every failure (ours, or an axum rejection) into the upstream
//! `<Error><Code/><Message/><RequestId/><HostId/></Error>` body.

pub mod auth;
mod queues;
mod topics;
pub mod xml;

use std::borrow::Cow;
use std::collections::HashMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Query, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use super::ApiState;
use crate::mns::MnsError;
use crate::runtime::{CommandError, Handle};

/// The MNS routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/topics", get(topics::list))
        .route(
            "/topics/{topic}",
            put(topics::create)
                .get(topics::attributes)
                .delete(topics::delete),
        )
        .route("/topics/{topic}/messages", post(topics::publish))
        .route(
            "/topics/{topic}/subscriptions",
            get(topics::list_subscriptions),
        )
        .route(
            "/topics/{topic}/subscriptions/{subscription}",
            put(topics::subscribe)
                .get(topics::subscription_attributes)
                .delete(topics::unsubscribe),
        )
        .route("/queues", get(queues::list))
        .route(
            "/queues/{queue}",
            put(queues::create)
                .get(queues::attributes)
                .delete(queues::delete),
        )
        .route(
            "/queues/{queue}/messages",
            post(queues::send)
                .get(queues::receive)
                .delete(queues::delete_message)
                .put(queues::change_visibility),
        )
        .layer(middleware::from_fn(finish))
}

/// The header every answer carries.
pub const REQUEST_ID_HEADER: &str = "x-mns-request-id";

/// A refused request: the upstream status, code and message. Rendered as
/// the XML error body by [`finish`], which knows the request id.
#[derive(Debug, Clone)]
pub(crate) struct MnsFail {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
}

impl MnsFail {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> MnsFail {
        MnsFail {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: Cow::Borrowed(code),
            message: message.into(),
        }
    }

    fn malformed(what: impl std::fmt::Display) -> MnsFail {
        MnsFail::new(
            400,
            "MalformedXML",
            format!("The XML you provided was not well-formed: {what}"),
        )
    }

    fn invalid(message: impl Into<String>) -> MnsFail {
        MnsFail::new(400, "InvalidArgument", message)
    }
}

impl From<MnsError> for MnsFail {
    fn from(e: MnsError) -> Self {
        MnsFail::new(e.status(), e.code(), e.to_string())
    }
}

impl From<CommandError> for MnsFail {
    fn from(e: CommandError) -> Self {
        MnsFail::new(500, "InternalError", e.to_string())
    }
}

impl IntoResponse for MnsFail {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// What a handler answers.
type Answer = Result<Response, MnsFail>;

/// Adds `x-mns-request-id` to every answer and renders failures as the
/// upstream XML error.
async fn finish(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    let host = host_of(req.headers());
    // axum answers HEAD with the GET handler, and GET on a queue's messages
    // receives (consumes) one; MNS has no HEAD operation at all.
    let mut resp = if req.method() == Method::HEAD {
        MnsFail::new(
            405,
            "InvalidRequestURL",
            "HEAD is not an MNS operation; use GET.",
        )
        .into_response()
    } else {
        next.run(req).await
    };
    let fail = resp.extensions_mut().remove::<MnsFail>();
    let status = resp.status();
    if let Some(fail) = fail {
        tracing::info!(code = %fail.code, message = %fail.message, "mns request refused");
        resp = error_response(&fail, &id, &host);
    } else if (status.is_client_error() || status.is_server_error()) && !is_xml(&resp) {
        // An axum rejection (bad path, wrong method, body too large...).
        let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let code = match status.as_u16() {
            404 | 405 => "InvalidRequestURL",
            413 => "InvalidArgument",
            s if s >= 500 => "InternalError",
            _ => "InvalidArgument",
        };
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text
        };
        let fail = MnsFail {
            status,
            code: Cow::Borrowed(code),
            message,
        };
        resp = error_response(&fail, &id, &host);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

/// Whether an answer is one of ours already (a batch's error list).
fn is_xml(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/xml"))
}

fn error_response(fail: &MnsFail, request_id: &str, host: &str) -> Response {
    let body = xml::ErrorOut {
        xmlns: crate::mns::XMLNS,
        code: &fail.code,
        message: &fail.message,
        request_id,
        host_id: host,
    };
    xml_response(fail.status, "Error", &body)
}

/// An XML answer.
fn xml_response<T: serde::Serialize>(status: StatusCode, root: &str, value: &T) -> Response {
    xml_text(status, crate::mns::xml_document(root, value))
}

/// An answer of an XML document already rendered.
fn xml_text(status: StatusCode, text: String) -> Response {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=utf-8"),
    );
    r
}

/// An empty answer with this status.
fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// An empty answer with a `Location` header (creations).
fn created(status: StatusCode, location: &str) -> Response {
    let mut r = empty(status);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `http://HOST` as the client reached us (for `Location`, URLs, HostId).
fn host_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Everything a handler needs about an MNS request, once its signature has
/// been checked and its body read.
pub(crate) struct MnsRequest {
    handle: Handle,
    /// The API's state (shutdown notice for long polls).
    api: ApiState,
    /// `http://HOST`.
    base: String,
    headers: HeaderMap,
    /// Query parameters, keys lower-cased (the SDK mixes cases).
    query: HashMap<String, String>,
    body: Bytes,
}

impl MnsRequest {
    fn query(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    /// `?metaoverride=true`: a set-attributes request.
    fn meta_override(&self) -> bool {
        self.query("metaoverride")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl FromRequest<ApiState> for MnsRequest {
    type Rejection = MnsFail;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, MnsFail> {
        let (parts, body) = req.into_parts();
        if let Some(creds) = &state.config.credentials {
            auth::verify(creds, &parts.method, &parts.headers, &parts.uri)?;
            if let Some(guard) = &state.replay {
                auth::check_date(guard, &parts.headers)?;
            }
        }
        let query: HashMap<String, String> = Query::try_from_uri(&parts.uri)
            .map(|Query(q): Query<HashMap<String, String>>| q)
            .map_err(|e| {
                MnsFail::new(
                    400,
                    "InvalidQueryString",
                    format!("The query string is not valid: {e}"),
                )
            })?
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let limit = state.config.max_body_bytes;
        let wait = state.config.body_timeout;
        let body = tokio::time::timeout(wait, axum::body::to_bytes(body, limit))
            .await
            .map_err(|_| {
                MnsFail::new(
                    408,
                    "RequestTimeout",
                    format!(
                        "The request body did not arrive within {} s.",
                        wait.as_secs()
                    ),
                )
            })?
            .map_err(|e| body_error(&e, limit))?;
        check_content_md5(&parts.headers, &body)?;
        // `serve`: bring virtual time up to the wall clock first, so enqueue
        // and visibility times are not in the past after an idle stretch.
        crate::api::sync_clock(state).await;
        Ok(MnsRequest {
            handle: state.handle.clone(),
            api: state.clone(),
            base: host_of(&parts.headers),
            headers: parts.headers,
            query,
            body,
        })
    }
}

/// Why a request body could not be read: over the limit, or cut short
/// (the client hung up, a broken chunked encoding...).
fn body_error(e: &axum::Error, limit: usize) -> MnsFail {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return MnsFail::invalid(format!("The request body is larger than {limit} bytes."));
        }
        source = err.source();
    }
    MnsFail::invalid(format!("The request body could not be read: {e}."))
}

/// Checks `Content-MD5` against the body when the header is present, so a
/// replayed signed request (the signature covers the header, not the body)
/// cannot carry another body. Accepts the RFC 1864 form (base64 of the
/// digest) and the SDKs' form (base64 of the hex digest, either case).
/// Upstream answers 400 `InvalidDegist` (sic).
fn check_content_md5(headers: &HeaderMap, body: &[u8]) -> Result<(), MnsFail> {
    use base64::Engine as _;
    use md5::{Digest, Md5};
    let Some(given) = headers.get("content-md5") else {
        return Ok(());
    };
    let digest = Md5::digest(body);
    let hex = format!("{digest:x}");
    let b64 = base64::engine::general_purpose::STANDARD;
    let matches = given.to_str().ok().map(str::trim).is_some_and(|g| {
        b64.decode(g)
            .is_ok_and(|raw| raw == digest.as_slice() || raw.eq_ignore_ascii_case(hex.as_bytes()))
    });
    if matches {
        Ok(())
    } else {
        Err(MnsFail::new(
            400,
            "InvalidDegist",
            format!(
                "The Content-MD5 you specified is invalid: `{}` is not the MD5 of the {}-byte body (expected `{}`, or `{}` as the SDKs send it).",
                String::from_utf8_lossy(given.as_bytes()),
                body.len(),
                b64.encode(digest),
                b64.encode(&hex)
            ),
        ))
    }
}

/// Parses an optional number field of an XML body.
fn number<T: std::str::FromStr>(field: &str, value: Option<&str>) -> Result<Option<T>, MnsFail> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            // Digits that do not fit are a range problem, not a typo.
            let digits = v.strip_prefix('-').unwrap_or(v);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                MnsFail::invalid(format!("{field} `{v}` is out of range."))
            } else {
                MnsFail::invalid(format!("{field} `{v}` is not a valid number."))
            }
        }),
    }
}

/// Parses an optional whole number that must lie in `low..=high`; the
/// error names the range and repeats the value as given.
fn ranged(field: &str, value: Option<&str>, low: u64, high: u64) -> Result<Option<u64>, MnsFail> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let out_of_range = || {
        MnsFail::invalid(format!(
            "The value of {field} should be between {low} and {high}, got {v}."
        ))
    };
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MnsFail::invalid(format!(
            "{field} `{v}` is not a whole number (it should be between {low} and {high})."
        )));
    }
    match v.parse::<u64>() {
        Ok(n) if (low..=high).contains(&n) => Ok(Some(n)),
        // Negative, or more than u64 holds: out of range all the same.
        _ => Err(out_of_range()),
    }
}

/// Parses an optional boolean field (`True`/`False`, any case).
fn boolean(field: &str, value: Option<&str>) -> Result<Option<bool>, MnsFail> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(MnsFail::invalid(format!(
            "{field} `{v}` is not True or False."
        ))),
    }
}

/// `LoggingEnabled` as upstream writes it.
fn bool_text(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Paging of the list calls: `x-mns-prefix`, `x-mns-ret-number` (1-1000),
/// `x-mns-marker` (the name to start at, from a previous `NextMarker`).
struct Paging {
    prefix: String,
    limit: usize,
    marker: String,
    with_meta: bool,
}

impl Paging {
    fn from(req: &MnsRequest) -> Result<Paging, MnsFail> {
        let limit = match req.header("x-mns-ret-number") {
            None => 1000,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Err(MnsFail::invalid(format!(
                        "x-mns-ret-number `{v}` should be between 1 and 1000."
                    )));
                }
            },
        };
        Ok(Paging {
            prefix: req.header("x-mns-prefix").unwrap_or("").to_owned(),
            limit,
            marker: req.header("x-mns-marker").unwrap_or("").to_owned(),
            with_meta: req
                .header("x-mns-with-meta")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    /// One page of sorted `names`, and the next marker if more remain.
    fn page<'a>(&self, names: impl Iterator<Item = &'a str>) -> (Vec<String>, Option<String>) {
        let mut matching = names
            .filter(|n| n.starts_with(&self.prefix))
            .filter(|n| *n >= self.marker.as_str());
        let page: Vec<String> = matching
            .by_ref()
            .take(self.limit)
            .map(str::to_owned)
            .collect();
        (page, matching.next().map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body whose transfer breaks off.
    struct Broken;

    impl hyper::body::Body for Broken {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            Poll::Ready(Some(Err(std::io::Error::other("connection reset"))))
        }
    }

    #[tokio::test]
    async fn a_body_read_error_is_not_reported_as_too_large() {
        let e = axum::body::to_bytes(Body::new(Broken), 100)
            .await
            .unwrap_err();
        let fail = body_error(&e, 100);
        assert!(
            fail.message.contains("could not be read"),
            "{}",
            fail.message
        );
        assert!(
            fail.message.contains("connection reset"),
            "{}",
            fail.message
        );
        let e = axum::body::to_bytes(Body::from("x".repeat(101)), 100)
            .await
            .unwrap_err();
        let fail = body_error(&e, 100);
        assert!(fail.message.contains("larger than 100"), "{}", fail.message);
    }

    #[test]
    fn content_md5_accepts_both_encodings_and_refuses_others() {
        use base64::Engine as _;
        use md5::{Digest, Md5};
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = b"<Message/>";
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("content-md5", HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(check_content_md5(&HeaderMap::new(), body).is_ok());
        let raw = b64.encode(Md5::digest(body));
        assert!(check_content_md5(&with(&raw), body).is_ok());
        let hex = b64.encode(format!("{:X}", Md5::digest(body)));
        assert!(check_content_md5(&with(&hex), body).is_ok());
        for bad in [raw.as_str(), "not base64!", ""] {
            let e = check_content_md5(&with(bad), b"<Message>other</Message>").unwrap_err();
            assert_eq!((e.status.as_u16(), &*e.code), (400, "InvalidDegist"));
        }
    }
}
