//! The router: the OAuth token endpoint, the query endpoints, the replication feeds and the
//! collections update.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, patch, post};

use crate::errors::ApiError;
use crate::gate::{self, Shared};
use crate::{auth, collections, feeds, query};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let data = "/services/data/{version}";
    Router::new()
        .route("/services/oauth2/token", post(auth::token))
        .route(&format!("{data}/query"), get(query::first))
        .route(&format!("{data}/query/{{locator}}"), get(query::more))
        .route(&format!("{data}/queryAll"), get(query::first_all))
        .route(&format!("{data}/queryAll/{{locator}}"), get(query::more))
        .route(
            &format!("{data}/sobjects/{{object}}/updated/"),
            get(feeds::updated),
        )
        .route(
            &format!("{data}/sobjects/{{object}}/updated"),
            get(feeds::updated),
        )
        .route(
            &format!("{data}/sobjects/{{object}}/deleted/"),
            get(feeds::deleted),
        )
        .route(
            &format!("{data}/sobjects/{{object}}/deleted"),
            get(feeds::deleted),
        )
        .route(
            &format!("{data}/composite/sobjects"),
            patch(collections::update),
        )
        .route(
            &format!("{data}/composite/sobjects/"),
            patch(collections::update),
        )
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
