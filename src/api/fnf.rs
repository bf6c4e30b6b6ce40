//! fnf: the Serverless Workflow OpenAPI (version 2019-03-15, RPC style):
//! `Action` dispatch on `/`, parameters from the query and the form body,
//! JSON answers and errors with `RequestId` (SPEC §4).
//!
//! Owns the RPC envelope: reading the request (absolute-form targets
//! included, for clients behind `HTTP_PROXY`), the body limit, signature
//! checks ([`sign`]), and the upstream error shape ([`ApiError`]). What each
//! action does lives in `actions`; it reaches the simulation only through
//! the runtime [`Handle`](crate::runtime::Handle).

mod actions;
pub mod sign;

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value};

use super::ApiState;
use crate::runtime::CommandError;

/// The API version the simulator speaks.
pub const VERSION: &str = "2019-03-15";

/// The FnF routes: every action at `/` (GET or POST; other methods get an
/// upstream-shaped error rather than a bare 405).
pub fn router() -> Router<ApiState> {
    Router::new().route("/", any(rpc))
}

/// An FnF error answer: HTTP status, upstream `Code` and a `Message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// 400 `MissingRequiredParams` naming the parameter.
    pub fn missing(param: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "MissingRequiredParams",
            format!("{param} is mandatory for this action"),
        )
    }

    /// 400 `InvalidArgument`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    /// 400 `EntityTooLarge`.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "EntityTooLarge", message)
    }

    /// Renders the upstream error body `{RequestId, HostId, Code, Message}`.
    pub fn into_response(self, request_id: &str, host: &str) -> Response {
        let body = serde_json::json!({
            "RequestId": request_id,
            "HostId": host,
            "Code": &self.code,
            "Message": self.message,
        });
        let mut response = json_response(self.status, request_id, &body);
        response
            .extensions_mut()
            .insert(super::ErrorCode(self.code));
        response
    }
}

/// The upstream status of an error code (the engine's codes, see
/// [`FnfError::http_status`](crate::kernel::FnfError::http_status)).
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "FlowNotExists" | "ExecutionNotExists" => StatusCode::NOT_FOUND,
        "TaskInvalidState" | "FlowAlreadyExists" => StatusCode::CONFLICT,
        "SignatureNotMatch" | "InvalidAccessKeyID" => StatusCode::FORBIDDEN,
        "ResourceThrottled" => StatusCode::TOO_MANY_REQUESTS,
        "InternalServerError" | "Runtime" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let status = status_of(&e.code);
        // The runtime's own failure (it stopped) is not an upstream code.
        let code = if e.code == "Runtime" {
            "InternalServerError".to_owned()
        } else {
            e.code
        };
        ApiError {
            status,
            code,
            message: e.message,
        }
    }
}

impl From<crate::kernel::FnfError> for ApiError {
    fn from(e: crate::kernel::FnfError) -> Self {
        CommandError::from(e).into()
    }
}

fn json_response(status: StatusCode, request_id: &str, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", v);
    }
    response
}

/// A new upstream-style request id (an upper-case UUID).
pub fn request_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
}

/// What `DescribeFlow` shows beyond the definition.
#[derive(Debug, Clone, Default)]
pub struct FlowInfo {
    pub id: String,
    pub description: String,
    /// RFC 3339, virtual time.
    pub created: String,
    /// What `CreateFlow` or `UpdateFlow` was told last.
    pub role_arn: String,
    /// The last `UpdateFlow` (RFC 3339, virtual time); `None`: never
    /// updated, the creation time stands.
    pub modified: Option<String>,
}

/// One decoded RPC request: the merged parameters and what the actions
/// need to know about the request.
#[derive(Debug)]
pub struct Rpc {
    pub action: String,
    pub method: Method,
    /// Query and body parameters merged (the body wins on a clash, as the
    /// SDKs sign them).
    pub params: BTreeMap<String, String>,
}

impl Rpc {
    /// A parameter that must be present and non-empty.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.optional(name).ok_or_else(|| ApiError::missing(name))
    }

    /// A parameter; an empty value counts as absent (the SDKs send unset
    /// optional parameters as nothing, some clients as empty strings).
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An integer parameter in `min..=max`, `default` when absent.
    pub fn int(&self, name: &str, min: i64, max: i64, default: i64) -> Result<i64, ApiError> {
        let Some(text) = self.optional(name) else {
            return Ok(default);
        };
        let n: i64 = text
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid(format!("{name} `{text}` is not an integer")))?;
        if !(min..=max).contains(&n) {
            return Err(ApiError::invalid(format!(
                "{name} is {n}; it must be between {min} and {max}"
            )));
        }
        Ok(n)
    }
}

/// The handler of `/`.
async fn rpc(State(state): State<ApiState>, request: Request) -> Response {
    let rid = request_id();
    let (parts, body) = request.into_parts();
    let host = host_of(&parts.headers, &parts.uri);
    let result = match decode(&state, &parts.method, &parts.uri, &parts.headers, body).await {
        Ok(rpc) => actions::dispatch(&state, &rpc).await.map(|a| (rpc, a)),
        Err(e) => Err(e),
    };
    match result {
        Ok((rpc, mut answer)) => {
            answer.insert("RequestId".into(), Value::String(rid.clone()));
            tracing::debug!(action = %rpc.action, "answered");
            json_response(StatusCode::OK, &rid, &Value::Object(answer))
        }
        Err(e) => {
            tracing::debug!(code = %e.code, message = %e.message, "refused");
            e.into_response(&rid, &host)
        }
    }
}

/// The host the client addressed (absolute-form target or `Host`).
fn host_of(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    uri.authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "flowsim".to_owned())
}

/// Reads the parameters, checks the signature and finds the action.
async fn decode(
    state: &ApiState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Rpc, ApiError> {
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::invalid(format!(
            "HTTP method {method} is not supported: the FnF API takes GET and POST"
        )));
    }
    let bytes = super::read_body(
        headers,
        body,
        state.config.max_body_bytes,
        state.config.body_timeout,
    )
    .await
    .map_err(|e| match e {
        super::BodyError::TooLarge(_) => ApiError::too_large(e.to_string()),
        super::BodyError::Read(_) => ApiError::invalid(e.to_string()),
        super::BodyError::Timeout(_) => {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeout", e.to_string())
        }
    })?;
    let mut params = BTreeMap::new();
    if let Some(q) = uri.query() {
        params.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    if !bytes.is_empty() {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let form = content_type.is_empty()
            || content_type
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded");
        if !form {
            return Err(ApiError::invalid(format!(
                "the request body must be application/x-www-form-urlencoded, not `{content_type}`"
            )));
        }
        params.extend(form_urlencoded::parse(&bytes).into_owned());
    }
    let acs3 = super::acs3::is_acs3(headers);
    if let Some(credentials) = &state.config.credentials {
        if acs3 {
            check_acs3(method, uri, headers, &bytes, credentials)?;
        } else {
            check_signature(method, &params, headers, credentials)?;
        }
        // Only after the signature holds: an unsigned nonce proves nothing
        // and must not use up the real request's.
        if let Some(guard) = &state.replay {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let (time, nonce) = if acs3 {
                (header("x-acs-date"), header("x-acs-signature-nonce"))
            } else {
                (
                    params.get("Timestamp").map(String::as_str),
                    params.get("SignatureNonce").map(String::as_str),
                )
            };
            check_replay(guard, acs3, time, nonce)?;
        }
    }
    if let Some(v) = params.get("Version").filter(|v| !v.is_empty())
        && v != VERSION
    {
        return Err(ApiError::invalid(format!(
            "Version `{v}` is not supported: this simulator speaks {VERSION}"
        )));
    }
    // The Tea SDK also names the action in a header. A version 1.0
    // signature does not cover headers: then only the signed parameters
    // may name the action.
    let header_ok = acs3 || state.config.credentials.is_none();
    let action = params
        .get("Action")
        .filter(|a| !a.is_empty())
        .cloned()
        .or_else(|| {
            headers
                .get("x-acs-action")
                .filter(|_| header_ok)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .ok_or_else(|| ApiError::missing("Action"))?;
    Ok(Rpc {
        action,
        method: method.clone(),
        params,
    })
}

/// Verifies the request's `Signature` (SPEC §4). Error messages keep a `:`
/// (the core SDK splits signature errors on it).
fn check_signature(
    method: &Method,
    params: &BTreeMap<String, String>,
    headers: &HeaderMap,
    credentials: &super::Credentials,
) -> Result<(), ApiError> {
    let forbidden =
        |code: &str, message: String| ApiError::new(StatusCode::FORBIDDEN, code, message);
    let Some(signature) = params.get("Signature").filter(|s| !s.is_empty()) else {
        let how = if headers.contains_key(header::AUTHORIZATION) {
            "sign with version 1.0 (HMAC-SHA1 in the query) or an ACS3-HMAC-SHA256 Authorization header"
        } else {
            "this simulator was started with credentials, so every request must be signed"
        };
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MissingRequiredParams",
            format!("Signature is mandatory: {how}"),
        ));
    };
    let key_id = params.get("AccessKeyId").map(String::as_str).unwrap_or("");
    if key_id.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MissingRequiredParams",
            "AccessKeyId is mandatory: the request is signed but names no key",
        ));
    }
    if key_id != credentials.access_key_id {
        return Err(forbidden(
            "InvalidAccessKeyID",
            format!("Specified access key is not found: {key_id}"),
        ));
    }
    if let Some(m) = params.get("SignatureMethod")
        && !m.is_empty()
        && m != "HMAC-SHA1"
    {
        return Err(ApiError::invalid(format!(
            "SignatureMethod `{m}` is not supported: use HMAC-SHA1"
        )));
    }
    sign::verify(
        method.as_str(),
        params,
        &credentials.access_key_secret,
        signature,
    )
    .map_err(|sts| {
        forbidden(
            "SignatureNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{sts}"
            ),
        )
    })
}

/// Refuses a signed request whose time is outside the replay window or
/// whose nonce was used within it, with the codes the services answer:
/// `InvalidTimeStamp.Expired`, `InvalidTimeStamp.Format`,
/// `SignatureNonceUsed` (400), and `MissingTimestamp` /
/// `MissingSignatureNonce` when one is absent.
fn check_replay(
    guard: &super::replay::Guard,
    acs3: bool,
    time: Option<&str>,
    nonce: Option<&str>,
) -> Result<(), ApiError> {
    use super::replay::{self, Replay};
    let (time_name, nonce_name) = if acs3 {
        ("x-acs-date", "x-acs-signature-nonce")
    } else {
        ("Timestamp", "SignatureNonce")
    };
    let missing = |code: &str, name: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code,
            format!("{name} is mandatory for a signed request (it guards against replays)"),
        )
    };
    let time = time
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing("MissingTimestamp", time_name))?;
    let nonce = nonce
        .filter(|n| !n.is_empty())
        .ok_or_else(|| missing("MissingSignatureNonce", nonce_name))?;
    let now = replay::now();
    let result = replay::parse_iso8601(time)
        .and_then(|t| guard.check_time(&t, now))
        .and_then(|()| guard.check_nonce(nonce, now));
    result.map_err(|e| {
        let code = match e {
            Replay::BadTime(_) => "InvalidTimeStamp.Format",
            Replay::Expired { .. } => "InvalidTimeStamp.Expired",
            Replay::NonceUsed(_) => "SignatureNonceUsed",
        };
        let message = match e {
            Replay::BadTime(_) => format!(
                "Specified time stamp or date value is not well formatted: {time_name} {e} (ISO 8601 UTC, e.g. 2026-01-01T00:00:00Z)"
            ),
            Replay::Expired { .. } => {
                format!("Specified time stamp or date value is expired: {e}")
            }
            Replay::NonceUsed(_) => format!("Specified signature nonce was used already: {e}"),
        };
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    })
}

/// Verifies a V3 (`ACS3-HMAC-SHA256` Authorization header) signature, as
/// Tea SDK clients configured for it send.
fn check_acs3(
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
    credentials: &super::Credentials,
) -> Result<(), ApiError> {
    use super::acs3;
    let forbidden =
        |code: &str, message: String| ApiError::new(StatusCode::FORBIDDEN, code, message);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let auth = acs3::parse_authorization(value).map_err(|e| ApiError::invalid(e.to_string()))?;
    if auth.access_key_id != credentials.access_key_id {
        return Err(forbidden(
            "InvalidAccessKeyID",
            format!("Specified access key is not found: {}", auth.access_key_id),
        ));
    }
    // What decides where the request goes must be signed.
    for name in ["host", "x-acs-action"] {
        if headers.contains_key(name) && !auth.signed_headers.iter().any(|h| h == name) {
            return Err(ApiError::invalid(format!(
                "the `{name}` header must be among the SignedHeaders of an ACS3 signature"
            )));
        }
    }
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let request = acs3::SignedRequest {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        headers,
        body,
    };
    acs3::verify(&request, &auth, &credentials.access_key_secret).map_err(|e| match e {
        acs3::Acs3Error::Algorithm(_) | acs3::Acs3Error::Malformed(_) => {
            ApiError::invalid(e.to_string())
        }
        other => forbidden(
            "SignatureNotMatch",
            format!("Specified signature is not matched with our calculation: {other}"),
        ),
    })
}

/// Execution JSON as a map, ready for `RequestId`.
fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("Value".into(), other);
            m
        }
    }
}
