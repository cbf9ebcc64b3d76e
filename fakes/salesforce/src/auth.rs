//! `POST /services/oauth2/token`: the OAuth 2.0 client-credentials flow.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::errors::oauth_error;
use crate::gate::Shared;
use crate::store;

/// Issues a bearer token for the configured client id and secret. Salesforce's answers for the
/// failures a connector must tell apart: an unknown grant type, an unknown client id, and a wrong
/// secret (`invalid_client`). The token endpoint is not a REST API call: it is not counted.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let config = &shared.config;
    if field("grant_type") != Some("client_credentials") {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    if field("client_id") != Some(config.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    if field("client_secret") != Some(config.client_secret.as_str()) {
        return oauth_error("invalid_client", "invalid client credentials");
    }
    let mut state = shared.lock();
    state.tokens_issued += 1;
    let access_token = format!("00D000000000001!FAKE{:08}", state.tokens_issued);
    state.tokens.insert(access_token.clone());
    drop(state);
    // The org's own host: the one the client reached, as the fake serves both roles.
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let instance_url = format!("http://{host}");
    let issued_at = store::now().timestamp_millis().to_string();
    Json(json!({
        "access_token": access_token,
        "instance_url": instance_url,
        "id": "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA",
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": "ZmFrZS1zaWduYXR1cmU=",
    }))
    .into_response()
}
