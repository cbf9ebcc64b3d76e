//! Error answers in HubSpot's JSON shape, so the client's error parsing is exercised for real.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

static NEXT_CORRELATION: AtomicU64 = AtomicU64::new(1);

/// A fresh correlation id shaped like HubSpot's UUIDs; sequential so test logs are easy to follow.
pub(crate) fn correlation_id() -> String {
    let n = NEXT_CORRELATION.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// An error answer: `{status:"error", message, category, correlationId, errors}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    category: &'static str,
    message: String,
    errors: Vec<Value>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        category: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            category,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// 400 VALIDATION_ERROR, HubSpot's answer to malformed or out-of-bounds requests.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found or invalid. This API supports OAuth 2.0 \
             authentication and private app access tokens.",
        )
    }

    /// A scripted [`Fault::ServerError`](crate::faults::Fault::ServerError).
    pub(crate) fn injected(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(
            status,
            "INTERNAL_ERROR",
            "Scripted fault: the request was not applied.",
        )
    }

    /// A scripted [`Fault::Locked`](crate::faults::Fault::Locked).
    pub(crate) fn locked() -> Self {
        Self::new(
            StatusCode::LOCKED,
            "LOCKED",
            "The record is locked by another operation; retry in a few seconds.",
        )
    }

    /// Adds one `errors[]` entry.
    pub(crate) fn with_error(mut self, entry: Value) -> Self {
        self.errors.push(entry);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": "error",
            "message": self.message,
            "category": self.category,
            "correlationId": correlation_id(),
            "errors": self.errors,
        });
        (self.status, Json(body)).into_response()
    }
}

/// HubSpot's 429 body; `policyName` tells the client how long to back off.
pub(crate) fn rate_limited(policy: &str) -> Response {
    let message = match policy {
        "SECONDLY" => "You have reached your secondly limit.",
        "DAILY" => "You have reached your daily limit.",
        _ => "You have reached your ten secondly limit.",
    };
    let body = json!({
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
    });
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}
