//! How a request to HubSpot can fail.

use std::time::Duration;

/// A request that did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("HubSpot answered {status} to {what}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
        policy: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("cannot reach HubSpot for {what}: {source}")]
    Transport {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("unexpected answer from HubSpot to {what}: {message}")]
    Decode { what: String, message: String },
    #[error("HubSpot's daily request budget is spent; requests resume after the reset")]
    DailyBudget,
}

impl ApiError {
    /// Sending the same again would fail the same way (a 4xx other than a rate limit).
    pub(crate) fn is_permanent(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 423 | 429)
            }
            ApiError::Decode { .. } => true,
            ApiError::Transport { .. } | ApiError::DailyBudget => false,
        }
    }

    pub(crate) fn is_auth(&self) -> bool {
        matches!(
            self,
            ApiError::Status {
                status: 401 | 403,
                ..
            }
        )
    }
}
