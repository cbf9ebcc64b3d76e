//! The router: the OAuth token endpoint and the REST query endpoints.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};

use crate::errors::ApiError;
use crate::gate::{self, Shared};
use crate::{auth, query};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/services/oauth2/token", post(auth::token))
        .route("/services/data/{version}/query", get(query::first))
        .route("/services/data/{version}/query/{locator}", get(query::more))
        .fallback(not_found)
        .with_state(shared)
}

/// Unknown endpoints answer like Salesforce's, after the same token and limit checks.
async fn not_found(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> axum::response::Response {
    gate::run(&shared, &headers, |_, _| Err(ApiError::not_found())).await
}
