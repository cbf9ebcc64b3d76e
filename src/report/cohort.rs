//! Cohort conversion: of the persons who reached a tier on or after a date, the share that went
//! on to the next tier, and the median time it took.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use leadsync_connector_core::{Ladder, Tier};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::BTreeMap;

const SECONDS_PER_DAY: f64 = 86_400.0;

/// When a person first reached each tier, indexed like the ladder's tiers.
pub type ReachedAt = Vec<Option<DateTime<Utc>>>;

/// When a person first reached each tier, from the first move to each tier in their history
/// (`FunnelFact::moved_to`).
///
/// `reached_at(X)` is the earliest move to `X` *or any tier above it*: tiers only rise and a move
/// that skips tiers (subscriber → mql) reached the skipped ones (lead) at that same moment. `None`
/// when the history never reached `X`.
pub fn reached_at(moved_to: &[(Tier, DateTime<Utc>)]) -> ReachedAt {
    let ladder = Ladder::current();
    let mut reached: ReachedAt = vec![None; ladder.tiers().len()];
    let mut earliest: Option<DateTime<Utc>> = None;
    for (i, tier) in ladder.tiers().enumerate().rev() {
        for (_, at) in moved_to.iter().filter(|(t, _)| *t == tier) {
            earliest = Some(earliest.map_or(*at, |e| e.min(*at)));
        }
        reached[i] = earliest;
    }
    reached
}

/// One step of the funnel (`from` → the next tier) for the cohort that reached `from` on or after
/// the cohort's date.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CohortStep {
    #[serde(skip)]
    pub from: Tier,
    #[serde(skip)]
    pub to: Tier,
    /// Persons who first reached `from` on or after the date (the cohort).
    pub entered: u64,
    /// Of those, persons who have reached `to` (at any time since; a skip counts, with time 0).
    pub advanced: u64,
    /// `advanced / entered`, rounded to 4 places; `None` (`null`) when nobody entered.
    pub share: Option<f64>,
    /// Median of the days from reaching `from` to reaching `to` over those who advanced
    /// (fractional, rounded to 0.1; an even count takes the mean of the two middle ones); `None`
    /// when nobody advanced.
    pub median_days: Option<f64>,
}

/// Cohort conversion for every step of the ladder (on the standard one, five: subscriber →
/// lead … opportunity → customer), in ladder order.
///
/// JSON: `{"since": "2026-01-01", "subscriber_to_lead": {"entered": …, "advanced": …, "share": …,
/// "median_days": …}, …}`, steps in funnel order.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohorts {
    /// The cohort date: reaching a tier at or after its UTC midnight puts a person in that
    /// tier's cohort.
    pub since: NaiveDate,
    pub steps: Vec<CohortStep>,
}

impl Cohorts {
    /// The step that starts at `from` (`None` for customer, the top).
    pub fn step(&self, from: Tier) -> Option<&CohortStep> {
        self.steps.iter().find(|s| s.from == from)
    }
}

impl Serialize for Cohorts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.steps.len() + 1))?;
        map.serialize_entry("since", &self.since.format("%Y-%m-%d").to_string())?;
        for step in &self.steps {
            map.serialize_entry(&format!("{}_to_{}", step.from, step.to), step)?;
        }
        map.end()
    }
}

/// Accumulates cohorts while the persons stream past. Memory: per step, two counters and the
/// durations of those who advanced as a count per whole second (see [`Durations`]).
#[derive(Debug, Clone)]
pub(crate) struct CohortAcc {
    date: NaiveDate,
    since: DateTime<Utc>,
    steps: Vec<StepAcc>,
}

#[derive(Debug, Clone, Default)]
struct StepAcc {
    entered: u64,
    advanced: u64,
    durations: Durations,
}

impl CohortAcc {
    pub(crate) fn new(date: NaiveDate) -> Self {
        CohortAcc {
            date,
            since: date.and_time(NaiveTime::MIN).and_utc(),
            steps: vec![StepAcc::default(); Ladder::current().tiers().len() - 1],
        }
    }

    /// Adds one person, given when they reached each tier.
    pub(crate) fn add(&mut self, reached: &ReachedAt) {
        for (i, step) in self.steps.iter_mut().enumerate() {
            let Some(entered_at) = reached[i].filter(|at| *at >= self.since) else {
                continue;
            };
            step.entered += 1;
            if let Some(next_at) = reached[i + 1] {
                step.advanced += 1;
                // Never negative (the next tier's time is a minimum over fewer moves); clamped
                // all the same.
                step.durations
                    .push((next_at - entered_at).num_seconds().max(0));
            }
        }
    }

    pub(crate) fn finish(self) -> Cohorts {
        let ladder: Vec<Tier> = Ladder::current().tiers().collect();
        let steps = self
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| CohortStep {
                from: ladder[i],
                to: ladder[i + 1],
                entered: s.entered,
                advanced: s.advanced,
                share: (s.entered > 0)
                    .then(|| super::ratio::round4(s.advanced as f64 / s.entered as f64)),
                median_days: s
                    .durations
                    .median()
                    .map(|secs| round1(secs / SECONDS_PER_DAY)),
            })
            .collect();
        Cohorts {
            since: self.date,
            steps,
        }
    }
}

/// Durations for an exact median (to the second) without one entry per person: a count per
/// distinct whole second. Tier changes are stamped with the time of the sync page that made
/// them, so durations repeat a lot and the map stays small; at worst it has one entry per
/// person who advanced, like a plain list would.
#[derive(Debug, Clone, Default)]
pub(crate) struct Durations {
    seconds: BTreeMap<i64, u64>,
    n: u64,
}

impl Durations {
    pub(crate) fn push(&mut self, seconds: i64) {
        *self.seconds.entry(seconds).or_default() += 1;
        self.n += 1;
    }

    /// The median in seconds: the middle value, or the mean of the two middle values for an
    /// even count. `None` when empty.
    pub(crate) fn median(&self) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        // 0-based ranks of the middle value(s).
        let (lo, hi) = ((self.n - 1) / 2, self.n / 2);
        let (mut lo_v, mut seen) = (None, 0u64);
        for (value, count) in &self.seconds {
            seen += count;
            if lo_v.is_none() && seen > lo {
                lo_v = Some(*value);
            }
            if seen > hi {
                let lo_v = lo_v.unwrap_or(*value);
                return Some((lo_v as f64 + *value as f64) / 2.0);
            }
        }
        None
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).unwrap()
    }

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    #[test]
    fn a_skip_reaches_the_skipped_tiers_at_the_same_time() {
        // subscriber on the 1st, then straight to mql on the 5th, sql on the 9th.
        let r = reached_at(&[
            (Tier::SUBSCRIBER, day(1)),
            (Tier::MQL, day(5)),
            (Tier::SQL, day(9)),
        ]);
        assert_eq!(
            r,
            [
                Some(day(1)),
                Some(day(5)),
                Some(day(5)),
                Some(day(9)),
                None,
                None
            ]
        );
        // A CRM stage of customer straight away: every tier at once.
        assert_eq!(reached_at(&[(Tier::CUSTOMER, day(3))]), [Some(day(3)); 6]);
        // A later move to a lower tier (not possible today, but harmless): the earlier higher
        // one still counts for the tiers below it.
        let r = reached_at(&[(Tier::LEAD, day(7)), (Tier::SQL, day(2))]);
        assert_eq!(r[0], Some(day(2)));
        assert_eq!(r[1], Some(day(2)));
        assert_eq!(reached_at(&[]), [None; 6]);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let mut d = Durations::default();
        assert_eq!(d.median(), None);
        for s in [30, 10, 20] {
            d.push(s);
        }
        assert_eq!(d.median(), Some(20.0));
        d.push(40);
        assert_eq!(d.median(), Some(25.0));
        // Repeats: 5, 5, 5, 100 → the two middle ones are 5 and 5.
        let mut d = Durations::default();
        for s in [5, 100, 5, 5] {
            d.push(s);
        }
        assert_eq!(d.median(), Some(5.0));
        // Two middle values in different buckets: 1, 1, 9, 9 → 5.
        let mut d = Durations::default();
        for s in [9, 1, 9, 1] {
            d.push(s);
        }
        assert_eq!(d.median(), Some(5.0));
        let mut d = Durations::default();
        d.push(7);
        assert_eq!(d.median(), Some(7.0));
    }

    #[test]
    fn cohort_share_and_median_days() {
        let mut acc = CohortAcc::new(date(10));
        // Before the cohort date: not counted as entering subscriber, but its lead move on the
        // 12th enters the lead cohort.
        acc.add(&reached_at(&[
            (Tier::SUBSCRIBER, day(1)),
            (Tier::LEAD, day(12)),
        ]));
        // Subscriber on the 10th (exactly midnight: included), lead 2 days later.
        acc.add(&reached_at(&[
            (Tier::SUBSCRIBER, day(10)),
            (Tier::LEAD, day(12)),
        ]));
        // Subscriber on the 11th, lead 5 days later, mql 1.5 days after that.
        acc.add(&reached_at(&[
            (Tier::SUBSCRIBER, day(11)),
            (Tier::LEAD, day(16)),
            (Tier::MQL, day(17) + chrono::Duration::hours(12)),
        ]));
        // Subscriber on the 20th, never further.
        acc.add(&reached_at(&[(Tier::SUBSCRIBER, day(20))]));
        // Straight to mql on the 15th: subscriber → lead and lead → mql in no time.
        acc.add(&reached_at(&[(Tier::MQL, day(15))]));
        // No history at all: in no cohort.
        acc.add(&reached_at(&[]));
        let c = acc.finish();

        let s = c.step(Tier::SUBSCRIBER).unwrap();
        assert_eq!((s.entered, s.advanced), (4, 3));
        assert_eq!(s.share, Some(0.75));
        // durations 2, 5, 0 days → median 2.
        assert_eq!(s.median_days, Some(2.0));

        let l = c.step(Tier::LEAD).unwrap();
        // leads on the 12th, 12th, 16th, 15th; mql from the 16th one (1.5 d) and the skip (0).
        assert_eq!((l.entered, l.advanced), (4, 2));
        assert_eq!(l.share, Some(0.5));
        assert_eq!(l.median_days, Some(0.8)); // (0 + 1.5) / 2 = 0.75 → 0.8

        let m = c.step(Tier::MQL).unwrap();
        assert_eq!((m.entered, m.advanced), (2, 0));
        assert_eq!((m.share, m.median_days), (Some(0.0), None));

        let o = c.step(Tier::OPPORTUNITY).unwrap();
        assert_eq!((o.entered, o.share, o.median_days), (0, None, None));
        assert!(c.step(Tier::CUSTOMER).is_none());

        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["since"], "2026-01-10");
        assert_eq!(json["subscriber_to_lead"]["share"], 0.75);
        assert_eq!(json["subscriber_to_lead"]["entered"], 4);
        assert!(json["opportunity_to_customer"]["share"].is_null());
        assert!(json["mql_to_sql"]["median_days"].is_null());
        assert_eq!(json.as_object().unwrap().len(), 6);
        // Funnel order in the text of the JSON.
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.find("subscriber_to_lead") < text.find("lead_to_mql"));
        assert!(text.find("sql_to_opportunity") < text.find("opportunity_to_customer"));
    }

    #[test]
    fn a_future_date_leaves_every_cohort_empty() {
        let mut acc = CohortAcc::new(date(31));
        acc.add(&reached_at(&[(Tier::CUSTOMER, day(3))]));
        let c = acc.finish();
        assert_eq!(c.steps.len(), 5);
        for s in &c.steps {
            assert_eq!(
                (s.entered, s.advanced, s.share, s.median_days),
                (0, 0, None, None)
            );
        }
    }
}
