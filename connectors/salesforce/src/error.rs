//! What can go wrong talking to the org, and what each failure means to the host.

use leadsync_connector_core::{ConnectorError, ConnectorErrorKind};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The token endpoint refused the connected app's credentials. The message is the
    /// endpoint's own (`invalid_client`), never the secret.
    #[error("the token endpoint refused the client credentials (HTTP {status}: {error}{}); check `client_id` and `client_secret`, and that the connected app allows the client credentials flow with a Run As user", describe(.description))]
    Credentials {
        status: u16,
        error: String,
        description: Option<String>,
    },
    #[error("{what}: HTTP {status} {}{message}", .code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Status {
        what: String,
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("{what}: {source}")]
    Transport {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what}: unexpected answer: {message}")]
    Decode { what: String, message: String },
    /// The org's API allocation is down to the configured reserve (or spent).
    #[error(
        "stopped at the reserve of the org's API allocation until {until}; other integrations keep the rest"
    )]
    Allocation {
        until: chrono::DateTime<chrono::Utc>,
    },
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(", {d}"))
        .unwrap_or_default()
}

impl ApiError {
    /// Will fail the same way again: a refused request (4xx other than the rate limit), an
    /// answer that cannot be read, refused credentials.
    pub(crate) fn is_permanent(&self) -> bool {
        match self {
            ApiError::Status { status, code, .. } => {
                (400..500).contains(status)
                    && code.as_deref() != Some("REQUEST_LIMIT_EXCEEDED")
                    && *status != 408
            }
            ApiError::Credentials { .. } | ApiError::Decode { .. } => true,
            ApiError::Transport { .. } | ApiError::Allocation { .. } => false,
        }
    }

    /// As the host sees it: refused credentials (or a session that cannot be renewed) are the
    /// operator's to fix, other refusals permanent, the rest worth another cycle.
    pub(crate) fn into_connector(self, connector: &str) -> ConnectorError {
        let kind = match &self {
            ApiError::Credentials { .. } => ConnectorErrorKind::Config,
            ApiError::Status { status: 401, .. } => ConnectorErrorKind::Config,
            e if e.is_permanent() => ConnectorErrorKind::Permanent,
            _ => ConnectorErrorKind::Transient,
        };
        ConnectorError::with_source(
            kind,
            format!("connector {connector}: salesforce: {self}"),
            self,
        )
    }
}
