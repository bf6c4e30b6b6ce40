//! push: the runtime's HTTP client, for pushes to real endpoints.
//!
//! Plain HTTP/1.1 over a tokio TCP connection per request (hyper's
//! low-level client: no TLS, no pool, a lean dependency tree). `https://`
//! is not supported (README). Owns no state and knows nothing of the
//! simulation beyond the [`HttpPush`] it is handed.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};

use crate::kernel::PushOutcome;
use crate::mns::{HttpPush, PUSH_TIMEOUT_MS};

/// Most pushes in flight at once (each holds a TCP connection and waits up
/// to [`PUSH_TIMEOUT_MS`]); the rest wait their turn, first come first
/// served.
pub const MAX_PUSHES_IN_FLIGHT: usize = 64;

/// Starts the task that performs pushes, at most `limit` at a time in the
/// order they are queued, and answers each (the push, its outcome, the
/// wall-clock milliseconds it took) through `done`. Pushes wait in the
/// returned channel; the task ends when every sender is dropped, after
/// starting what was queued.
pub fn dispatcher<F>(limit: usize, done: F) -> mpsc::UnboundedSender<HttpPush>
where
    F: Fn(HttpPush, PushOutcome, u64) + Send + Sync + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<HttpPush>();
    let slots = Arc::new(Semaphore::new(limit.max(1)));
    let done = Arc::new(done);
    tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            // Taking the permit here, one push at a time, is what keeps the
            // queue in order. The semaphore is never closed.
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let done = done.clone();
            tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                let outcome = perform(&p).await;
                drop(permit);
                let latency = started.elapsed().as_millis() as u64;
                done(p, outcome, latency);
            });
        }
    });
    tx
}

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
    // The status decides, but the answer must arrive whole: a 200 whose
    // body is cut off (the connection closed before Content-Length bytes)
    // is a failed push, and MNS retries it.
    let request = request("POST", &push.url, &headers, body, true);
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
        // A header that cannot be sent is left out (and logged) rather than
        // making the whole request unbuildable. Bytes past ASCII go as they
        // are (obs-text): a UTF-8 tag stays readable.
        match (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_bytes(v.as_bytes()),
        ) {
            (Ok(name), Ok(value)) => req = req.header(name, value),
            _ => {
                tracing::warn!(url, header = %k, value = ?v, "header left out: not a valid HTTP header")
            }
        }
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
        match http_body_util::Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes().to_vec(),
            // Past the limit the rest is not wanted: the answer stands.
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Vec::new(),
            Err(e) => {
                conn.abort();
                return Err(format!(
                    "{authority}: the answer (HTTP {status}) was cut off: {e}"
                ));
            }
        }
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

#[cfg(test)]
mod tests {

    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::TcpListener;

    /// Reads what has arrived (the request head and body of a small push).
    async fn read_some(sock: &TcpStream, buf: &mut [u8]) -> usize {
        loop {
            if sock.readable().await.is_err() {
                return 0;
            }
            match sock.try_read(buf) {
                Ok(n) => return n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return 0,
            }
        }
    }

    async fn write_all(sock: &TcpStream, mut data: &[u8]) {
        while !data.is_empty() {
            if sock.writable().await.is_err() {
                return;
            }
            match sock.try_write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }

    fn push(url: &str, id: u64, headers: Vec<(&'static str, String)>) -> HttpPush {
        HttpPush {
            notification: id,
            attempt: 1,
            url: url.into(),
            subscription: "s".into(),
            message_id: "M".into(),
            body: "hello".into(),
            headers,
        }
    }

    /// Answers every request 204 and returns the request heads it saw.
    async fn answering_endpoint() -> (String, mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/push", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = read_some(&sock, &mut buf).await;
                    let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                    write_all(
                        &sock,
                        b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
                    )
                    .await;
                });
            }
        });
        (url, rx)
    }

    #[tokio::test]
    async fn a_header_that_cannot_be_sent_is_left_out_not_the_push() {
        let (url, mut seen) = answering_endpoint().await;
        let p = push(
            &url,
            1,
            vec![
                ("x-mns-message-tag", "a\nb".into()),
                ("x-mns-message-id", "M1".into()),
                ("x-mns-note", "标签".into()),
            ],
        );
        let outcome = perform(&p).await;
        assert_eq!(outcome, PushOutcome::Status(204));
        let head = seen.recv().await.unwrap();
        assert!(head.contains("x-mns-message-id: M1"), "{head}");
        assert!(!head.contains("x-mns-message-tag"), "{head}");
        // Non-ASCII text goes as its UTF-8 bytes.
        assert!(head.contains("x-mns-note: 标签"), "{head}");
    }

    #[tokio::test]
    async fn the_dispatcher_keeps_at_most_limit_pushes_in_flight_in_order() {
        // An endpoint that accepts connections and holds them unanswered
        // until told to let go.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let (head_tx, mut heads) = mpsc::unbounded_channel::<String>();
        {
            let accepted = accepted.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let mut release = release_rx.clone();
                    let head_tx = head_tx.clone();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 4096];
                        let n = read_some(&sock, &mut buf).await;
                        let _ = head_tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                        let _ = release.wait_for(|r| *r).await;
                        write_all(&sock, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                    });
                }
            });
        }
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let queue = dispatcher(3, move |p, outcome, _| {
            let _ = done_tx.send((p.notification, outcome));
        });
        for id in 0..8 {
            queue
                .send(push(&url, id, vec![("x-id", id.to_string())]))
                .unwrap();
        }
        // First come, first served: the three in flight are the first three.
        let mut first = Vec::new();
        for _ in 0..3 {
            let head = heads.recv().await.unwrap();
            let id = head.lines().find_map(|l| l.strip_prefix("x-id: ")).unwrap();
            first.push(id.trim().parse::<u64>().unwrap());
        }
        first.sort_unstable();
        assert_eq!(first, vec![0, 1, 2]);
        // Give the others every chance to (wrongly) connect.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        assert!(done_rx.try_recv().is_err());
        release_tx.send(true).unwrap();
        let mut done = Vec::new();
        while done.len() < 8 {
            done.push(done_rx.recv().await.unwrap());
        }
        assert!(done.iter().all(|(_, o)| *o == PushOutcome::Status(200)));
        assert_eq!(accepted.load(Ordering::SeqCst), 8);
    }

    /// An endpoint that answers 200 but closes the connection before the
    /// body it announced is whole: the push failed (MNS retries it).
    #[tokio::test]
    async fn a_200_whose_body_is_cut_off_is_a_failed_push() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/push", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                read_some(&sock, &mut buf).await;
                write_all(
                    &sock,
                    b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part",
                )
                .await;
                drop(sock);
            }
        });
        let outcome = perform(&push(&url, 1, vec![])).await;
        match &outcome {
            PushOutcome::Error(e) => assert!(e.contains("cut off"), "{e}"),
            other => panic!("expected a failed push, got {other:?}"),
        }
        assert!(!outcome.delivered());
    }
}
