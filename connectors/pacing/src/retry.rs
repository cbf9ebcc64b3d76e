//! What to do after a failed attempt: the classification every connector starts from.

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

/// How long the waits of a rate limit and a lock last when the answer does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// After a 429 without `Retry-After` (usually the CRM's rolling window).
    pub rate_limited: Duration,
    /// After a 423 Locked.
    pub locked: Duration,
}

/// `Retry-After` wins on 429 and 503; a 429 otherwise waits `waits.rate_limited` and a 423
/// `waits.locked`; 408 and 5xx back off; other 4xx never retry.
pub fn classify(status: u16, retry_after: Option<Duration>, waits: Waits) -> Retry {
    if let Some(wait) = retry_after
        && matches!(status, 429 | 503)
    {
        return Retry::After(wait);
    }
    match status {
        429 => Retry::After(waits.rate_limited),
        423 => Retry::After(waits.locked),
        408 | 500..=599 => Retry::Backoff,
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

    const WAITS: Waits = Waits {
        rate_limited: Duration::from_secs(10),
        locked: Duration::from_secs(2),
    };

    #[test]
    fn answers_are_classified_in_one_place() {
        assert_eq!(classify(429, None, WAITS), Retry::After(WAITS.rate_limited));
        assert_eq!(
            classify(429, Some(Duration::from_secs(3)), WAITS),
            Retry::After(Duration::from_secs(3))
        );
        assert_eq!(
            classify(503, Some(Duration::from_secs(4)), WAITS),
            Retry::After(Duration::from_secs(4))
        );
        assert_eq!(classify(423, None, WAITS), Retry::After(WAITS.locked));
        for s in [408, 500, 502, 503, 504, 521, 524] {
            assert_eq!(classify(s, None, WAITS), Retry::Backoff, "{s}");
        }
        for s in [400, 401, 403, 404, 409, 414] {
            assert_eq!(classify(s, None, WAITS), Retry::Never, "{s}");
            assert_eq!(
                classify(s, Some(Duration::from_secs(1)), WAITS),
                Retry::Never,
                "{s}"
            );
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
