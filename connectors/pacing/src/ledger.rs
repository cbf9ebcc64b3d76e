//! The daily budget: once the requests left today fall to the reserve, stop until the reset, so
//! the account's other integrations keep working.

use crate::permits::lock;
use chrono::{DateTime, Days, Utc};
use std::sync::Mutex;

/// Requests are stopped at the daily reserve until the reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyStop {
    /// When the daily budget resets.
    pub until: DateTime<Utc>,
}

/// What the CRM last said about the day's budget, and whether requests are stopped.
pub struct DailyLedger {
    reserve: u64,
    zone: chrono_tz::Tz,
    remaining: Mutex<Option<u64>>,
    stopped_until: Mutex<Option<DateTime<Utc>>>,
}

impl DailyLedger {
    /// Stops at `reserve` requests left; the budget resets at midnight in `zone`.
    pub fn new(reserve: u64, zone: chrono_tz::Tz) -> DailyLedger {
        DailyLedger {
            reserve,
            zone,
            remaining: Mutex::new(None),
            stopped_until: Mutex::new(None),
        }
    }

    /// Refuses once the reserve is reached, until the reset; every attempt asks first.
    pub fn check(&self) -> Result<(), DailyStop> {
        let mut stopped = lock(&self.stopped_until);
        match *stopped {
            Some(until) if Utc::now() < until => Err(DailyStop { until }),
            Some(_) => {
                *stopped = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records the requests left today; answers the stop when they are down to the reserve.
    pub fn record(&self, left: u64) -> Option<DailyStop> {
        *lock(&self.remaining) = Some(left);
        if left > self.reserve {
            return None;
        }
        let until = next_midnight(Utc::now(), self.zone);
        *lock(&self.stopped_until) = Some(until);
        Some(DailyStop { until })
    }

    /// The reserve this ledger stops at.
    pub fn reserve(&self) -> u64 {
        self.reserve
    }

    /// The requests left today, as last recorded.
    pub fn remaining(&self) -> Option<u64> {
        *lock(&self.remaining)
    }

    /// Until when requests are stopped because the reserve was reached.
    pub fn stopped_until(&self) -> Option<DateTime<Utc>> {
        *lock(&self.stopped_until)
    }

    /// Restores a stop recorded before a restart (ignored once passed).
    pub fn restore_stop(&self, until: DateTime<Utc>) {
        if until > Utc::now() {
            *lock(&self.stopped_until) = Some(until);
        }
    }
}

/// The next midnight in the account's time zone, when the daily budget resets. Where midnight
/// does not exist that day (a daylight-saving jump at 00:00), the first instant after it.
pub fn next_midnight(now: DateTime<Utc>, zone: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local_today = now.with_timezone(&zone).date_naive();
    let tomorrow = local_today
        .checked_add_days(Days::new(1))
        .expect("a date after today");
    let midnight = tomorrow.and_hms_opt(0, 0, 0).expect("midnight exists");
    match zone.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        chrono::LocalResult::None => zone
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or(now + chrono::Duration::days(1), |t| t.with_timezone(&Utc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_stops_requests_until_midnight() {
        let ledger = DailyLedger::new(1_000, chrono_tz::UTC);
        assert_eq!(ledger.record(1_500), None);
        assert_eq!(ledger.check(), Ok(()));
        let stop = ledger.record(1_000).expect("down to the reserve");
        assert_eq!(ledger.check(), Err(stop));
        assert_eq!(stop.until.time(), chrono::NaiveTime::MIN);
        assert_eq!(ledger.remaining(), Some(1_000));
        let passed = Utc::now() - chrono::Duration::hours(1);
        let fresh = DailyLedger::new(1_000, chrono_tz::UTC);
        fresh.restore_stop(passed);
        assert_eq!(
            fresh.check(),
            Ok(()),
            "a stop already passed is not restored"
        );
    }

    #[test]
    fn the_daily_reset_is_midnight_in_the_accounts_zone() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 3, 30, 0).unwrap();
        // 03:30 UTC is 22:30 the day before in New York (UTC-5): midnight there is 05:00 UTC.
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            next_midnight(now, ny),
            Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap()
        );
        assert_eq!(
            next_midnight(now, chrono_tz::UTC),
            Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()
        );
        // Summer time: UTC-4.
        let july = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(
            next_midnight(july, ny),
            Utc.with_ymd_and_hms(2026, 7, 2, 4, 0, 0).unwrap()
        );
    }
}
