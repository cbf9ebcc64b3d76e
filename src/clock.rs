//! The time leadsync takes as now for tier history and follow-up clocks: the system clock, or
//! the instant `LEADSYNC_NOW` names (RFC 3339), to replay a backlog as of a date or to test the
//! commitments' clocks without waiting for them.

use chrono::{DateTime, Utc};
use std::sync::LazyLock;

/// The variable naming a fixed now.
pub const NOW_VAR: &str = "LEADSYNC_NOW";

static FIXED: LazyLock<Result<Option<DateTime<Utc>>, String>> =
    LazyLock::new(|| match std::env::var(NOW_VAR) {
        Err(_) => Ok(None),
        Ok(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| {
                format!("{NOW_VAR}=`{s}` is not an RFC 3339 time (2026-12-04T15:00:00Z): {e}")
            }),
    });

/// Now: `LEADSYNC_NOW` when set (and readable), else the system clock.
pub fn now() -> DateTime<Utc> {
    match &*FIXED {
        Ok(Some(t)) => *t,
        _ => Utc::now(),
    }
}

/// Whether `LEADSYNC_NOW`, when set, can be read (checked once at start).
pub fn check() -> Result<(), String> {
    FIXED.as_ref().map(|_| ()).map_err(Clone::clone)
}
