//! conns: the HTTP connections of the API server, bounded.
//!
//! A local cloud left running for days meets clients that connect and say
//! nothing, send half a request, or keep an idle keep-alive connection
//! forever. Each holds a socket and a file descriptor; a thousand of them
//! used to lock everyone out. Here:
//! - every connection must deliver each request head within the **header
//!   timeout** of being ready for it (the first request, and every
//!   keep-alive request after an answer: so it bounds idle keep-alive too);
//! - a request body must arrive within the **body timeout** (enforced where
//!   bodies are read, [`crate::api::read_body`]);
//! - at most **max connections** are open: a new one beyond it closes the
//!   connection idle the longest (no request in progress, possibly half a
//!   head sent) to make room, or, when every connection is busy, gets `503`
//!   and is closed at once. Nothing waits in an accept queue.
//!
//! Connections are served by hyper's HTTP/1 server over the axum router.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service as _;

/// How many connections may be open at once, unless configured otherwise
/// (`--max-connections`); lowered to fit the open-file limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// The header timeout, unless configured otherwise (`--header-timeout`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The body timeout, unless configured otherwise (`--body-timeout`).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a connection refused for lack of room is told.
const FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-type: text/plain\r\ncontent-length: 56\r\n\r\nflowsim: too many open connections; try again in a second";

/// The open connections: which are busy, and since when the others idle.
#[derive(Default)]
struct Registry {
    next: u64,
    open: HashMap<u64, Entry>,
}

struct Entry {
    /// Requests in progress on it.
    busy: usize,
    /// When it last became idle (or opened).
    idle_since: Instant,
    /// Tells its task to close it.
    close: Option<oneshot::Sender<()>>,
}

type Shared = Arc<Mutex<Registry>>;

fn lock(r: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a new connection may be served.
enum Admit {
    Yes(u64, oneshot::Receiver<()>),
    Full,
}

impl Registry {
    fn admit(&mut self, max: usize) -> Admit {
        if self.open.len() >= max.max(1) {
            // Make room: close the connection idle the longest.
            let oldest = self
                .open
                .iter()
                .filter(|(_, e)| e.busy == 0 && e.close.is_some())
                .min_by_key(|(id, e)| (e.idle_since, **id))
                .map(|(id, _)| *id);
            match oldest.and_then(|id| self.open.get_mut(&id)) {
                Some(entry) => {
                    if let Some(close) = entry.close.take() {
                        let _ = close.send(());
                    }
                }
                None => return Admit::Full,
            }
        }
        self.next += 1;
        let (tx, rx) = oneshot::channel();
        self.open.insert(
            self.next,
            Entry {
                busy: 0,
                idle_since: Instant::now(),
                close: Some(tx),
            },
        );
        Admit::Yes(self.next, rx)
    }
}

/// Marks a connection busy while a request is in progress.
struct Busy {
    registry: Shared,
    id: u64,
}

impl Busy {
    fn new(registry: Shared, id: u64) -> Busy {
        if let Some(e) = lock(&registry).open.get_mut(&id) {
            e.busy += 1;
        }
        Busy { registry, id }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(e) = lock(&self.registry).open.get_mut(&self.id) {
            e.busy = e.busy.saturating_sub(1);
            e.idle_since = Instant::now();
        }
    }
}

/// The limits a server applies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Raises the soft open-file limit to the hard one, so the connection cap
/// rather than the OS decides; answers the soft limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "api: cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown`, then
/// stops accepting, lets every connection finish what it is doing (an
/// idle one closes at once), and returns when all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry: Shared = Arc::default();
    let (closing_tx, closing) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set stays the size of what is open.
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, a connection reset before it
                    // was accepted...: the listener stays up.
                    tracing::warn!(error = %e, "api: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admitted = lock(&registry).admit(limits.max_connections);
        let (id, close) = match admitted {
            Admit::Yes(id, close) => (id, close),
            Admit::Full => {
                tracing::warn!(%peer, "api: connection refused: every connection is busy");
                let _ = stream.try_write(FULL);
                continue;
            }
        };
        let registry = registry.clone();
        let router = router.clone();
        let mut closing = closing.clone();
        tasks.spawn(async move {
            let reg = registry.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let busy = Busy::new(reg.clone(), id);
                let mut router = router.clone();
                async move {
                    let response = router.call(req.map(axum::body::Body::new)).await;
                    drop(busy);
                    response
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let closed_early = tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "api: connection ended");
                    }
                    false
                }
                _ = close => true,
                _ = closing.wait_for(|c| *c) => true,
            };
            if closed_early {
                conn.as_mut().graceful_shutdown();
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "api: connection ended");
                }
            }
            lock(&registry).open.remove(&id);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_registry_evicts_the_longest_idle_connection() {
        let mut r = Registry::default();
        let Admit::Yes(a, mut a_close) = r.admit(2) else {
            panic!()
        };
        let Admit::Yes(b, _b_close) = r.admit(2) else {
            panic!()
        };
        // b is busy; a is idle: a third connection closes a.
        r.open.get_mut(&b).unwrap().busy = 1;
        assert!(matches!(r.admit(2), Admit::Yes(..)));
        assert!(a_close.try_recv().is_ok(), "a was told to close");
        let _ = a;
        // Every connection busy: refused.
        for e in r.open.values_mut() {
            e.busy = 1;
        }
        r.open.remove(&a);
        assert!(matches!(r.admit(2), Admit::Full));
    }
}
