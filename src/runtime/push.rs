//! push: the runtime's HTTP client, for pushes to real endpoints.
//!
//! Plain HTTP/1.1 over a tokio TCP connection per request (hyper's
//! low-level client: no TLS, no pool, a lean dependency tree). `https://`
//! is not supported (README). Owns no state and knows nothing of the
//! simulation beyond the [`HttpPush`] it is handed.

use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::mns::{HttpPush, PUSH_TIMEOUT_MS};
use crate::sim::PushOutcome;

/// Largest answer body read (the rest is dropped with the connection).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// What an endpoint answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Performs a push: POSTs its body with its headers, waiting at most
/// [`PUSH_TIMEOUT_MS`] of wall time for the answer.
pub async fn perform(push: &HttpPush) -> PushOutcome {
    let timeout = Duration::from_millis(PUSH_TIMEOUT_MS);
    let body = Bytes::from(push.body.as_bytes().to_vec());
    let headers: Vec<(&str, &str)> = push.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Only the status matters: the answer's body is not waited for.
    let request = request("POST", &push.url, &headers, body, false);
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(answer)) => PushOutcome::Status(answer.status),
        Ok(Err(e)) => PushOutcome::Error(e),
        Err(_) => PushOutcome::Timeout,
    }
}

/// Sends one HTTP/1.1 request to an `http://` URL and reads the answer.
/// Errors are one readable line (connection refused, bad URL...).
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Answer, String> {
    request(method, url, headers, body, true).await
}

async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    read_body: bool,
) -> Result<Answer, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("`{url}`: only http:// endpoints are supported"));
    }
    let Some(authority) = uri.authority().cloned() else {
        return Err(format!("`{url}` has no host"));
    };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{authority}: {e}"))?;
    // The connection is driven by its own task until the answer is read.
    let conn = tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority.as_str());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let answer = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{authority}: {e}"))?;
    let status = answer.status().as_u16();
    let headers = answer
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = if read_body {
        http_body_util::Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    conn.abort();
    Ok(Answer {
        status,
        headers,
        body,
    })
}
