//! What to do after a failed attempt: Salesforce's answers mapped onto the shared classification
//! of `leadsync-pacing`, plus the one decision only Salesforce needs (a new access token).

use crate::wire::ApiError;
use leadsync_pacing::{Retry, Waits};
use std::time::Duration;

/// How long to hold off after the org's cap on concurrent long requests: those are requests
/// running 20 s or more, so one of them ends within about that time.
const CONCURRENCY_WAIT: Duration = Duration::from_secs(20);

/// Salesforce sends no `Retry-After` and has no 423; these only fill the shared table.
const WAITS: Waits = Waits {
    rate_limited: CONCURRENCY_WAIT,
    locked: Duration::from_secs(2),
};

/// The decision after a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The access token expired or was revoked (401 `INVALID_SESSION_ID`): get a new one from
    /// the token endpoint, then send the same request again.
    RefreshToken,
    /// What the shared pacing rules say.
    Pace(Retry),
}

/// 401 `INVALID_SESSION_ID` refreshes the token. 403 `REQUEST_LIMIT_EXCEEDED` is a rate limit,
/// never an authentication failure: the daily allocation (`TotalRequests Limit exceeded.`) stops
/// until it frees up, the concurrent-request cap waits. 408 and 5xx back off; other 4xx never
/// retry.
pub fn classify(status: u16, error: Option<&ApiError>) -> Next {
    let code = error.map(|e| e.error_code.as_str());
    match (status, code) {
        (401, Some("INVALID_SESSION_ID")) => Next::RefreshToken,
        (403, Some("REQUEST_LIMIT_EXCEEDED")) => {
            let daily = error.is_some_and(|e| e.message.contains("TotalRequests"));
            Next::Pace(if daily {
                Retry::StopForToday
            } else {
                Retry::After(CONCURRENCY_WAIT)
            })
        }
        _ => Next::Pace(leadsync_pacing::classify(status, None, WAITS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, message: &str) -> ApiError {
        ApiError {
            error_code: code.into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn salesforce_answers_are_classified_by_error_code() {
        let expired = error("INVALID_SESSION_ID", "Session expired or invalid");
        assert_eq!(classify(401, Some(&expired)), Next::RefreshToken);
        let daily = error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
        assert_eq!(classify(403, Some(&daily)), Next::Pace(Retry::StopForToday));
        let busy = error(
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded.",
        );
        assert_eq!(
            classify(403, Some(&busy)),
            Next::Pace(Retry::After(CONCURRENCY_WAIT))
        );
        // A 403 for anything else is a permission problem: sending it again fails the same way.
        let denied = error("INSUFFICIENT_ACCESS", "insufficient access rights");
        assert_eq!(classify(403, Some(&denied)), Next::Pace(Retry::Never));
        assert_eq!(classify(401, None), Next::Pace(Retry::Never));
        for s in [408, 500, 502, 503] {
            assert_eq!(classify(s, None), Next::Pace(Retry::Backoff), "{s}");
        }
        let malformed = error("MALFORMED_QUERY", "unexpected token");
        assert_eq!(classify(400, Some(&malformed)), Next::Pace(Retry::Never));
        assert_eq!(classify(404, None), Next::Pace(Retry::Never));
    }
}
