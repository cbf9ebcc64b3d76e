//! Business hours: the clock follow-up commitments run on. Working days, opening hours in a
//! time zone (daylight saving followed), holidays off.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::Deserialize;
use std::collections::BTreeSet;

/// `[follow_up.business_hours]` as the rules file states it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursConfig {
    /// An IANA time zone (`Europe/London`, `America/New_York`); UTC when absent.
    #[serde(default = "default_zone")]
    pub time_zone: String,
    /// Working days: `mon` … `sun`.
    #[serde(default = "default_days")]
    pub days: Vec<String>,
    /// Opening and closing time, `HH:MM`, local.
    #[serde(default = "default_start")]
    pub start: String,
    #[serde(default = "default_end")]
    pub end: String,
    /// Days off, `YYYY-MM-DD`, local.
    #[serde(default)]
    pub holidays: Vec<String>,
}

fn default_zone() -> String {
    "UTC".into()
}

fn default_days() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"]
        .map(String::from)
        .to_vec()
}

fn default_start() -> String {
    "09:00".into()
}

fn default_end() -> String {
    "17:00".into()
}

impl Default for BusinessHoursConfig {
    fn default() -> Self {
        BusinessHoursConfig {
            time_zone: default_zone(),
            days: default_days(),
            start: default_start(),
            end: default_end(),
            holidays: Vec::new(),
        }
    }
}

/// Business hours, ready to count with.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    zone: chrono_tz::Tz,
    /// Monday first.
    open_days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
    holidays: BTreeSet<NaiveDate>,
}

/// Days searched for business time at most (ten years): a deadline further off is no deadline.
const HORIZON_DAYS: i64 = 3_660;

impl Calendar {
    pub fn new(c: &BusinessHoursConfig) -> Result<Calendar, String> {
        let zone: chrono_tz::Tz = c.time_zone.parse().map_err(|_| {
            format!(
                "time_zone `{}` is not an IANA time zone (e.g. Europe/London)",
                c.time_zone
            )
        })?;
        let mut open_days = [false; 7];
        for d in &c.days {
            let day: Weekday = d.parse().map_err(|_| {
                format!("days: `{d}` is not a day; use mon, tue, wed, thu, fri, sat, sun")
            })?;
            open_days[day.num_days_from_monday() as usize] = true;
        }
        if !open_days.contains(&true) {
            return Err("days: at least one working day is needed".into());
        }
        let time = |key: &str, v: &str| {
            NaiveTime::parse_from_str(v, "%H:%M")
                .map_err(|_| format!("{key}: `{v}` is not a time; write HH:MM, e.g. 09:00"))
        };
        let (start, end) = (time("start", &c.start)?, time("end", &c.end)?);
        if start >= end {
            return Err(format!("start {} must be before end {}", c.start, c.end));
        }
        let holidays = c
            .holidays
            .iter()
            .map(|h| {
                NaiveDate::parse_from_str(h, "%Y-%m-%d")
                    .map_err(|_| format!("holidays: `{h}` is not a date; write YYYY-MM-DD"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Calendar {
            zone,
            open_days,
            start,
            end,
            holidays,
        })
    }

    /// The length of one business day.
    pub fn day_length(&self) -> Duration {
        self.end - self.start
    }

    fn open(&self, day: NaiveDate) -> bool {
        self.open_days[day.weekday().num_days_from_monday() as usize]
            && !self.holidays.contains(&day)
    }

    /// A local date and time as an instant (the earlier one in a repeated hour; a time in a
    /// skipped hour as the same time an hour later).
    fn instant(&self, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = day.and_time(time);
        self.zone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.zone
                    .from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
    }

    /// The open window of a day, as instants; `None` on a day off.
    fn window(&self, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.open(day)
            .then(|| (self.instant(day, self.start), self.instant(day, self.end)))
    }

    /// The instant `business` of business time after `from`; `None` beyond ten years.
    pub fn add(&self, from: DateTime<Utc>, business: Duration) -> Option<DateTime<Utc>> {
        let mut left = business;
        let mut day = from.with_timezone(&self.zone).date_naive();
        for _ in 0..HORIZON_DAYS {
            if let Some((open, close)) = self.window(day) {
                let begin = open.max(from);
                if begin < close {
                    if left <= close - begin {
                        return Some(begin + left);
                    }
                    left -= close - begin;
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// Business time from `a` to `b` (zero when `b` is not after `a`).
    pub fn between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if b <= a {
            return total;
        }
        let last = b.with_timezone(&self.zone).date_naive();
        let mut day = a.with_timezone(&self.zone).date_naive();
        while day <= last {
            if let Some((open, close)) = self.window(day) {
                let (from, to) = (open.max(a), close.min(b));
                if from < to {
                    total += to - from;
                }
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }
}

/// How long a commitment gives: `2 business days`, `4 business hours`, `24 hours`, `3 days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// Business time.
    Business(Duration),
    /// Business days, each one business day long.
    BusinessDays(i64),
    /// Plain time, nights and weekends included.
    Elapsed(Duration),
}

impl std::str::FromStr for Within {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not a time to follow up within; write e.g. \"2 business days\", \"4 business hours\", \"24 hours\" or \"3 days\""
            )
        };
        let words: Vec<&str> = s.split_whitespace().collect();
        let (n, rest) = words.split_first().ok_or_else(bad)?;
        let n: i64 = n.parse().map_err(|_| bad())?;
        if n <= 0 {
            return Err(bad());
        }
        let unit = |w: &str| w.trim_end_matches('s').to_ascii_lowercase();
        Ok(match rest {
            [b, u] if b.eq_ignore_ascii_case("business") && unit(u) == "day" => {
                Within::BusinessDays(n)
            }
            [b, u] if b.eq_ignore_ascii_case("business") && unit(u) == "hour" => {
                Within::Business(Duration::hours(n))
            }
            [u] if unit(u) == "hour" => Within::Elapsed(Duration::hours(n)),
            [u] if unit(u) == "day" => Within::Elapsed(Duration::days(n)),
            _ => return Err(bad()),
        })
    }
}

impl Within {
    /// The deadline of a commitment that starts at `from`.
    pub fn deadline(self, calendar: &Calendar, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Within::Elapsed(d) => Some(from + d),
            Within::Business(d) => calendar.add(from, d),
            Within::BusinessDays(n) => calendar.add(from, calendar.day_length() * n as i32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn london() -> Calendar {
        Calendar::new(&BusinessHoursConfig {
            time_zone: "Europe/London".into(),
            holidays: vec!["2026-12-07".into()],
            ..BusinessHoursConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn business_time_skips_nights_weekends_and_holidays() {
        let c = london();
        // Friday 15:00 + two business days (16 h): Friday 2 h, Monday a holiday, Tuesday 8 h,
        // Wednesday 6 h.
        let friday = at("2026-12-04T15:00:00Z");
        let deadline = Within::BusinessDays(2).deadline(&c, friday).unwrap();
        assert_eq!(deadline, at("2026-12-09T15:00:00Z"));
        assert_eq!(c.between(friday, deadline), Duration::hours(16));
        // Saturday night counts from Tuesday's opening
        let saturday = at("2026-12-05T22:00:00Z");
        assert_eq!(
            Within::Business(Duration::hours(1)).deadline(&c, saturday),
            Some(at("2026-12-08T10:00:00Z"))
        );
        assert_eq!(
            c.between(saturday, at("2026-12-08T09:30:00Z")),
            Duration::minutes(30)
        );
        // Plain hours ignore the calendar
        assert_eq!(
            Within::Elapsed(Duration::hours(24)).deadline(&c, saturday),
            Some(at("2026-12-06T22:00:00Z"))
        );
    }

    #[test]
    fn opening_hours_follow_daylight_saving() {
        // In July London is UTC+1: 09:00 local is 08:00 UTC
        let c = london();
        assert_eq!(
            Within::Business(Duration::hours(1)).deadline(&c, at("2026-07-06T00:00:00Z")),
            Some(at("2026-07-06T09:00:00Z"))
        );
    }

    #[test]
    fn durations_and_settings_that_cannot_be_read_are_named() {
        assert_eq!("2 business days".parse(), Ok(Within::BusinessDays(2)));
        assert_eq!(
            "4 business hours".parse(),
            Ok(Within::Business(Duration::hours(4)))
        );
        assert_eq!("1 day".parse(), Ok(Within::Elapsed(Duration::days(1))));
        assert!(
            "soon"
                .parse::<Within>()
                .unwrap_err()
                .contains("2 business days")
        );
        assert!("0 hours".parse::<Within>().is_err());
        let bad = |c: BusinessHoursConfig| Calendar::new(&c).unwrap_err();
        assert!(
            bad(BusinessHoursConfig {
                time_zone: "Mars/Olympus".into(),
                ..Default::default()
            })
            .contains("IANA")
        );
        assert!(
            bad(BusinessHoursConfig {
                days: vec!["funday".into()],
                ..Default::default()
            })
            .contains("funday")
        );
        assert!(
            bad(BusinessHoursConfig {
                start: "18:00".into(),
                ..Default::default()
            })
            .contains("before end")
        );
        assert!(
            bad(BusinessHoursConfig {
                holidays: vec!["25/12/2026".into()],
                ..Default::default()
            })
            .contains("YYYY-MM-DD")
        );
    }
}
