//! api: the HTTP front end. The FnF OpenAPI (RPC style, at `/`) and the MNS
//! REST API (`/topics/...`, `/queues/...`) on one address, so the user's
//! real handler code and the official SDKs talk to the simulation.
//!
//! Owns HTTP only: decoding requests, checking signatures and sizes, and
//! answering in the upstream shapes. Everything it does to the simulation
//! goes through the runtime [`Handle`] (commands, or short closures run by
//! the runtime); it never touches the TUI or the headless front end.
//! [`server`] binds, serves and stops it, for `flowsim serve` and
//! `flowsim tui --listen` alike.

pub mod acs3;
pub mod conns;
pub mod fnf;
pub mod mns;
pub mod replay;
pub mod server;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::kernel::Millis;
use crate::runtime::{Handle, Mode};

/// An AccessKey pair requests must be signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret (logs, panics).
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// How the API behaves.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// When set, every request's signature is verified against this pair;
    /// when `None`, signatures are not checked (loopback development).
    pub credentials: Option<Credentials>,
    /// Largest request body accepted (`EntityTooLarge` above).
    pub max_body_bytes: usize,
    /// Keep virtual time in step with the wall clock (`flowsim serve`): see
    /// [`sync_clock`]. Off for the TUI, whose user pauses and paces time.
    pub wall_clock: bool,
    /// Signed requests whose time is further than this from the wall clock,
    /// or whose nonce was seen within it, are refused (see [`replay`]).
    /// `None`: no replay check (known-answer signature tests, which carry
    /// fixed times).
    pub replay_window_secs: Option<u64>,
    /// Most connections open at once (see [`conns`]).
    pub max_connections: usize,
    /// Each request head must arrive within this of the connection being
    /// ready for it (the first, and every keep-alive request after).
    pub header_timeout: std::time::Duration,
    /// A request body must arrive within this.
    pub body_timeout: std::time::Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            credentials: None,
            // FnF's Input is at most 32 KiB; MNS messages at most 64 KiB.
            // Leave room for encodings and the other parameters.
            max_body_bytes: 256 * 1024,
            wall_clock: false,
            replay_window_secs: Some(replay::DEFAULT_WINDOW_SECS),
            max_connections: conns::DEFAULT_MAX_CONNECTIONS,
            header_timeout: conns::DEFAULT_HEADER_TIMEOUT,
            body_timeout: conns::DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct ApiState {
    pub handle: Handle,
    pub config: Arc<ApiConfig>,
    /// With [`ApiConfig::wall_clock`]: the Unix milliseconds and the
    /// virtual time at which the API started, the origin [`sync_clock`]
    /// measures from.
    pub origin: Option<(i64, Millis)>,
    /// Signed requests' times and nonces (with [`ApiConfig::replay_window_secs`]).
    pub replay: Option<Arc<replay::Guard>>,
    /// Set once the server begins to shut down, so long polls answer at
    /// once instead of being cut off.
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
}

impl ApiState {
    /// The state for an API on `handle`.
    pub fn new(handle: Handle, config: ApiConfig) -> ApiState {
        let origin = config.wall_clock.then(|| (unix_ms(), handle.sim().now()));
        let replay = config
            .replay_window_secs
            .map(|w| Arc::new(replay::Guard::new(w)));
        ApiState {
            replay,
            handle,
            config: Arc::new(config),
            origin,
            shutdown: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Tells long polls that the server is shutting down.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Completes once the server begins to shut down (at once if it has).
    pub async fn closing(&self) {
        let mut rx = self.shutdown.subscribe();
        // An error means the sender is gone: nothing will ever say "stop",
        // so wait forever like an open server.
        if rx.wait_for(|closing| *closing).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// With [`ApiConfig::wall_clock`], in RUN mode: brings virtual time up to
/// where the wall clock says it should be (the origin plus the wall time
/// elapsed since, times the speed), delivering what fell due meanwhile.
///
/// Why: the runtime holds its clock still while nothing is in flight, so
/// after an idle stretch virtual time lags the wall clock, and
/// `StartedTime`s or publish times would read in the past. Actions that
/// change the simulation call this first, and every MNS request. Cheap
/// when in step: one read lock, no round trip.
pub async fn sync_clock(state: &ApiState) {
    let Some(target) = wall_target(state) else {
        return;
    };
    let run = *state.handle.state().borrow();
    let lag = {
        let sim = state.handle.sim();
        target.saturating_sub(run.clock_at(sim.now(), tokio::time::Instant::now()))
    };
    // A few milliseconds are noise; an idle stretch is not.
    if lag > 20 {
        let _ = state
            .handle
            .with_sim(move |sim| {
                if target > sim.now() {
                    sim.advance_to(target);
                }
            })
            .await;
    }
}

/// With [`ApiConfig::wall_clock`], in RUN mode: the virtual time the wall
/// clock says it is (see [`sync_clock`]), for an action that brings the
/// clock up to it itself, under the same lock as its command
/// ([`Handle::call_now_at`](crate::runtime::Handle::call_now_at)).
pub fn wall_target(state: &ApiState) -> Option<Millis> {
    let (wall0, virt0) = state.origin?;
    let run = *state.handle.state().borrow();
    if run.mode != Mode::Run {
        return None;
    }
    let elapsed = unix_ms().saturating_sub(wall0).max(0) as f64;
    Some(virt0.saturating_add((elapsed * run.speed) as Millis))
}

/// The whole API: FnF RPC at `/`, MNS REST under `/topics` and `/queues`,
/// with the request log and the body limit on every route.
pub fn router(state: ApiState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(fnf::router())
        .merge(mns::router())
        .with_state(state)
        // Extractors (`Bytes`, `String`...) stop reading past the limit.
        // The FnF handler reads its body itself to answer `EntityTooLarge`
        // in the upstream shape; MNS handlers may use
        // [`read_body`] likewise.
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(log_request))
}

/// Why [`read_body`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More than the limit (declared or sent).
    #[error("the request body is larger than {0} bytes (the simulator's limit)")]
    TooLarge(usize),
    /// The client went away or sent a broken body.
    #[error("cannot read the request body: {0}")]
    Read(String),
    /// The body did not arrive within the body timeout.
    #[error("the request body did not arrive within {0:?}")]
    Timeout(std::time::Duration),
}

/// Reads a request body of at most `limit` bytes, without trusting the
/// declared length alone.
pub async fn read_body(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<axum::body::Bytes, BodyError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| BodyError::Timeout(timeout))?
        .map_err(|e| {
            // The only typed signal axum gives is the message of
            // http-body-util's LengthLimitError.
            if e.to_string().contains("length limit") {
                BodyError::TooLarge(limit)
            } else {
                BodyError::Read(e.to_string())
            }
        })
}

/// The request log: one line per request (method, path, FnF action,
/// status, latency) at INFO under the `flowsim::api` target.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // The action is in the query for every SDK request (POST bodies carry
    // only the action's parameters).
    let action = request
        .uri()
        .query()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.into_owned())
        })
        .or_else(|| {
            request
                .headers()
                .get("x-acs-action")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    let response = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    let action = action.map(|a| format!(" {a}")).unwrap_or_default();
    let code = response
        .extensions()
        .get::<ErrorCode>()
        .map(|c| format!(" {}", c.0))
        .unwrap_or_default();
    tracing::info!(target: "flowsim::api", "{method} {path}{action} {status}{code} {ms:.1}ms");
    response
}

/// The upstream error code of an error answer, put in the response's
/// extensions so the request log can show it (`... 404 FlowNotExists`).
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

/// Serves the API on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (a long poll can hold that up to 60 s: callers
/// that cannot wait put a bound on the returned future).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let notify = state.clone();
    let limits = conns::Limits {
        max_connections: state.config.max_connections,
        header_timeout: state.config.header_timeout,
    };
    conns::serve(listener, router(state), limits, async move {
        shutdown.await;
        // Long polls answer now, so in-flight requests finish at once.
        notify.shut_down();
    })
    .await
}
