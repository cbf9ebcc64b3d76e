//! Error answers in Salesforce's REST shape: an array of `{message, errorCode, fields}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One REST API error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `MALFORMED_QUERY`: SOQL the fake (or Salesforce) cannot parse.
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", message)
    }

    /// 400 `INVALID_FIELD`: a field the object does not have.
    pub(crate) fn invalid_field(object: &str, field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            format!("No such column '{field}' on entity '{object}'."),
        )
    }

    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    pub(crate) fn invalid_session() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    }

    /// A scripted [`Fault::ServerError`](crate::Fault::ServerError).
    pub(crate) fn injected(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(
            status,
            "UNKNOWN_EXCEPTION",
            "Scripted fault: the request was not run.",
        )
    }

    pub(crate) fn limit_exceeded() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!([{ "message": self.message, "errorCode": self.code, "fields": [] }]);
        (self.status, Json(body)).into_response()
    }
}

/// The OAuth endpoint's own error shape: `{error, error_description}`, always 400 here.
pub(crate) fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}
