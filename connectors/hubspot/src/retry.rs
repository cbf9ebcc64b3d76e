//! What to do after a failed attempt: HubSpot's answers mapped onto the shared classification.

use leadsync_pacing::{Retry, Waits};
use std::time::Duration;

/// HubSpot asks for at least 2 s after a 423 Locked.
const LOCKED_WAIT: Duration = Duration::from_secs(2);

/// 429s by `policyName` (HubSpot rarely sends `Retry-After`, but it wins when present);
/// 408, 423, 477 and 5xx back off; other 4xx never retry. `window` is the rolling window.
pub(crate) fn classify(
    status: u16,
    policy: Option<&str>,
    retry_after: Option<Duration>,
    window: Duration,
) -> Retry {
    // 477 Migration In Progress: HubSpot's own "unavailable for now", retried like a 503.
    let status = if status == 477 { 503 } else { status };
    if status == 429 && retry_after.is_none() {
        match policy {
            Some("DAILY") => return Retry::StopForToday,
            Some("SECONDLY") => return Retry::After(Duration::from_secs(1)),
            _ => {}
        }
    }
    let waits = Waits {
        rate_limited: window,
        locked: LOCKED_WAIT,
    };
    leadsync_pacing::classify(status, retry_after, waits)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(10);

    #[test]
    fn hubspot_answers_are_classified_by_policy_name() {
        assert_eq!(
            classify(429, Some("TEN_SECONDLY_ROLLING"), None, W),
            Retry::After(W)
        );
        assert_eq!(
            classify(429, Some("SECONDLY"), None, W),
            Retry::After(Duration::from_secs(1))
        );
        assert_eq!(classify(429, Some("DAILY"), None, W), Retry::StopForToday);
        assert_eq!(
            classify(429, None, Some(Duration::from_secs(3)), W),
            Retry::After(Duration::from_secs(3))
        );
        assert_eq!(
            classify(477, None, Some(Duration::from_secs(5)), W),
            Retry::After(Duration::from_secs(5))
        );
        assert_eq!(
            classify(423, None, None, W),
            Retry::After(Duration::from_secs(2))
        );
        for s in [408, 477, 500, 502, 503, 504, 521, 524] {
            assert_eq!(classify(s, None, None, W), Retry::Backoff, "{s}");
        }
        for s in [400, 401, 403, 404, 409, 414] {
            assert_eq!(classify(s, None, None, W), Retry::Never, "{s}");
        }
    }
}
