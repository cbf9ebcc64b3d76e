//! What to do after a failed attempt: the one place that classifies HubSpot's answers.

use std::time::Duration;

/// The decision for one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Wait this long, then try again (a rate limit; not counted against the attempt budget).
    After(Duration),
    /// Try again after an exponential backoff with full jitter.
    Backoff,
    /// The daily budget is spent: stop until it resets.
    StopForToday,
    /// Will fail the same way again.
    Never,
}

/// 429s by `policyName` (HubSpot rarely sends `Retry-After`, but it wins when present);
/// 408, 423, 477 and 5xx back off; other 4xx never retry. `window` is the rolling window.
pub fn classify(
    status: u16,
    policy: Option<&str>,
    retry_after: Option<Duration>,
    window: Duration,
) -> Retry {
    if let Some(wait) = retry_after
        && matches!(status, 429 | 477 | 503)
    {
        return Retry::After(wait);
    }
    match status {
        429 => match policy {
            Some("DAILY") => Retry::StopForToday,
            Some("SECONDLY") => Retry::After(Duration::from_secs(1)),
            _ => Retry::After(window),
        },
        // 423 Locked: HubSpot asks for at least 2 s.
        423 => Retry::After(Duration::from_secs(2)),
        408 | 477 | 500..=599 => Retry::Backoff,
        _ => Retry::Never,
    }
}

/// Exponential backoff with full jitter: uniform in [0, min(cap, base × 2^attempt)].
pub fn backoff(attempt: u32, base: Duration, cap: Duration, seed: u64) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    // SplitMix64 of the seed: enough randomness to spread retries, no dependency.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ceiling.mul_f64((z >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(10);

    #[test]
    fn answers_are_classified_in_one_place() {
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

    #[test]
    fn backoff_is_jittered_under_a_growing_cap() {
        let cap = Duration::from_secs(30);
        let base = Duration::from_millis(200);
        for attempt in 0..10 {
            for seed in 0..50 {
                let d = backoff(attempt, base, cap, seed);
                assert!(d <= (base * 2u32.pow(attempt)).min(cap), "{attempt} {d:?}");
            }
        }
        let spread: std::collections::HashSet<_> =
            (0..50).map(|s| backoff(3, base, cap, s)).collect();
        assert!(spread.len() > 40, "full jitter spreads retries");
    }
}
