//! fnf: the Serverless Workflow OpenAPI (version 2019-03-15, RPC style):
//! `Action` dispatch on `/`, parameters from the query and the form body,
//! JSON answers and errors with `RequestId` (SPEC §4).

use axum::Router;

use super::ApiState;

/// The FnF routes (no state attached yet).
pub fn router() -> Router<ApiState> {
    Router::new()
}
