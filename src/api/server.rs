//! server: the API server's life, the same for every front end that serves
//! it (`flowsim serve`, `flowsim tui --listen`): bind the address, warn
//! when it is exposed without credentials, serve on the current tokio
//! runtime, and stop gracefully within a bound.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{ApiConfig, ApiState};
use crate::runtime::Handle;

/// Why the server could not start, or ended by itself. A variant with a
/// cause keeps it as the error's source, out of its own message: `flowsim`
/// prints the chain (`{e:#}`), so naming it in both would print it twice.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on `{addr}`")]
    Listen { addr: String, source: io::Error },
    /// The server ended without being asked to (it only does on a failure).
    #[error("the server failed: {0}")]
    Failed(String),
}

/// A server started by [`start`]: its address, and the switch to stop it.
/// Dropped without [`Running::stop`], the server keeps running until the
/// tokio runtime ends.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

/// Binds `listen` and serves the API on `handle` there, on the current
/// tokio runtime. Warns on stderr (and in the log) when the address is not
/// loopback and requests are not signed. Binding happens before this
/// returns, so a bad address is an error here, before anything else starts.
pub async fn start(
    listen: &str,
    config: ApiConfig,
    handle: Handle,
) -> Result<Running, ServerError> {
    let listen_error = |source| ServerError::Listen {
        addr: listen.to_owned(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
    if !addr.ip().is_loopback() && config.credentials.is_none() {
        tracing::warn!(%addr, "api: listening on a non-loopback address without credentials");
        eprintln!(
            "flowsim: WARNING: listening on {addr}, which is not a loopback address, WITHOUT credentials:\n\
             flowsim: WARNING: anyone who can reach it can start, stop and report executions.\n\
             flowsim: WARNING: pass --access-key-id/--access-key-secret, or listen on 127.0.0.1."
        );
    }
    let mut config = config;
    // The connection cap, not the OS, should decide who is served: raise
    // the soft open-file limit, and keep the cap under it (with room for
    // pushes to real endpoints and the log).
    if let Some(soft) = super::conns::raise_open_file_limit() {
        let fit = usize::try_from(soft.saturating_sub(64))
            .unwrap_or(usize::MAX)
            .max(1);
        if config.max_connections > fit {
            tracing::info!(
                max_connections = fit,
                "api: connection cap lowered to fit the open-file limit ({soft})"
            );
            config.max_connections = fit;
        }
    }
    let state = ApiState::new(handle, config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        let served = super::serve(listener, state, shutdown).await;
        if let Err(e) = &served {
            tracing::error!(error = %e, "api: server failed");
        }
        served
    });
    Ok(Running { addr, stop, task })
}

impl Running {
    /// The address served (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and lets the requests in flight finish
    /// (long polls answer at once), for at most `grace`; what is still in
    /// flight then is dropped. Answers whether everything finished in time.
    pub async fn stop(mut self, grace: Duration) -> bool {
        let _ = self.stop.send(());
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            self.task.abort();
            return false;
        }
        true
    }

    /// Serves until `stop` completes, then stops as [`Running::stop`] does
    /// with `grace`. An error if the server ended by itself first.
    pub async fn stop_on(
        mut self,
        stop: impl Future<Output = ()>,
        grace: Duration,
    ) -> Result<(), ServerError> {
        tokio::select! {
            ended = &mut self.task => {
                return match ended {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(ServerError::Failed(e.to_string())),
                    Err(e) => Err(ServerError::Failed(e.to_string())),
                };
            }
            () = stop => {}
        }
        self.stop(grace).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::sim::{Sim, SimConfig};

    #[test]
    fn a_listen_error_names_its_cause_once() {
        let source = "BADADDR".parse::<std::net::SocketAddr>().unwrap_err();
        let err = ServerError::Listen {
            addr: "BADADDR".into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, source),
        };
        // How `flowsim` prints it: the message, then its cause chain.
        let shown = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(
            shown,
            "cannot listen on `BADADDR`: invalid socket address syntax"
        );
    }

    #[tokio::test]
    async fn a_bad_address_is_a_listen_error() {
        let handle = crate::runtime::spawn(
            Sim::new(SimConfig::default()),
            crate::runtime::Mode::Step,
            1.0,
        );
        let err = start("BADADDR", ApiConfig::default(), handle)
            .await
            .unwrap_err();
        let shown = format!("{:#}", anyhow::Error::new(err));
        assert!(shown.starts_with("cannot listen on `BADADDR`: "), "{shown}");
    }

    #[tokio::test]
    async fn serves_on_the_bound_port_and_stops() {
        let handle = crate::runtime::spawn(
            Sim::new(SimConfig::default()),
            crate::runtime::Mode::Step,
            1.0,
        );
        let server = start("127.0.0.1:0", ApiConfig::default(), handle)
            .await
            .unwrap();
        assert_ne!(server.addr().port(), 0);
        let addr = server.addr();
        tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(server.stop(Duration::from_secs(5)).await);
    }
}
