//! api: the HTTP front end. The FnF OpenAPI (RPC style, at `/`) and the MNS
//! REST API (`/topics/...`, `/queues/...`) on one address, so the user's
//! real handler code and the official SDKs talk to the simulation.
//!
//! Owns HTTP only: decoding requests, checking signatures and sizes, and
//! answering in the upstream shapes. Everything it does to the simulation
//! goes through the runtime [`Handle`] (commands, or short closures run by
//! the runtime); it never touches the TUI or the headless front end.

pub mod acs3;
pub mod fnf;
pub mod mns;

use std::sync::Arc;

use axum::Router;

use crate::runtime::Handle;

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
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            credentials: None,
            // FnF's Input is at most 32 KiB; MNS messages at most 64 KiB.
            // Leave room for encodings and the other parameters.
            max_body_bytes: 256 * 1024,
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct ApiState {
    pub handle: Handle,
    pub config: Arc<ApiConfig>,
}

/// The whole API: FnF RPC at `/`, MNS REST under `/topics` and `/queues`.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(fnf::router())
        .merge(mns::router())
        .with_state(state)
}
