//! mns: the MNS REST API (version 2015-06-06): topics, subscriptions,
//! publish, queues; XML bodies in the `http://mns.aliyuncs.com/doc/v1/`
//! namespace, `x-mns-request-id` on every answer (SPEC §3).

use axum::Router;

use super::ApiState;

/// The MNS routes (no state attached yet).
pub fn router() -> Router<ApiState> {
    Router::new()
}
