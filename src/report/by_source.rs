//! Building the funnel from the persons as they stream past: overall, per source, with cohorts.

use super::cohort::{CohortAcc, ReachedAt, reached_at};
use super::funnel::Funnel;
use crate::store::{FunnelFact, TierCounts};
use chrono::NaiveDate;
use leadsync_connector_core::Tier;
use std::collections::BTreeMap;

/// The `by_source` key of persons whose golden record has no source.
pub const NO_SOURCE: &str = "(none)";

/// What to compute besides the overall funnel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunnelOptions {
    /// The funnel (and cohorts) per source too.
    pub by_source: bool,
    /// Cohort conversion for persons who reached a tier on or after this date (UTC midnight).
    pub since: Option<NaiveDate>,
}

/// Aggregates [`FunnelFact`]s one at a time (`Store::funnel_facts` streams them), so memory
/// grows with the number of sources, not of persons: per group (overall, and each source) the
/// tier counts and, with a cohort date, per funnel step two counters and the durations of those
/// who advanced, counted per distinct whole second.
#[derive(Debug, Clone)]
pub struct FunnelBuilder {
    options: FunnelOptions,
    overall: Group,
    sources: BTreeMap<String, Group>,
}

#[derive(Debug, Clone)]
struct Group {
    counts: TierCounts,
    cohorts: Option<CohortAcc>,
}

impl Group {
    fn new(since: Option<NaiveDate>) -> Self {
        Group {
            counts: TierCounts::default(),
            cohorts: since.map(CohortAcc::new),
        }
    }

    fn add(&mut self, tier: Option<Tier>, side: Option<Tier>, reached: Option<&ReachedAt>) {
        self.counts.add(tier, side, 1);
        if let (Some(acc), Some(reached)) = (&mut self.cohorts, reached) {
            acc.add(reached);
        }
    }

    fn finish(self) -> Funnel {
        let mut funnel = Funnel::from_counts(&self.counts);
        funnel.cohorts = self.cohorts.map(CohortAcc::finish);
        funnel
    }
}

impl FunnelBuilder {
    pub fn new(options: FunnelOptions) -> Self {
        FunnelBuilder {
            options,
            overall: Group::new(options.since),
            sources: BTreeMap::new(),
        }
    }

    /// Counts one person: in their current tier (`tiers`, `reached`, `conversions`) and, with a
    /// cohort date, by when their tier history first reached each tier.
    pub fn add(&mut self, fact: &FunnelFact) {
        let reached = self.options.since.map(|_| reached_at(&fact.moved_to));
        self.add_reached(
            fact.source.as_deref(),
            fact.tier,
            fact.side,
            reached.as_ref(),
        );
    }

    /// Whether cohorts are asked for: [`Self::add_reached`] then needs when each tier was
    /// reached.
    pub fn wants_reached(&self) -> bool {
        self.options.since.is_some()
    }

    /// [`Self::add`] from parts: for a caller that keeps when each person reached each tier
    /// ([`reached_at`]) rather than their history.
    pub fn add_reached(
        &mut self,
        source: Option<&str>,
        tier: Option<Tier>,
        side: Option<Tier>,
        reached: Option<&ReachedAt>,
    ) {
        self.overall.add(tier, side, reached);
        if self.options.by_source {
            let key = source.unwrap_or(NO_SOURCE);
            let group = match self.sources.get_mut(key) {
                Some(g) => g,
                None => self
                    .sources
                    .entry(key.to_string())
                    .or_insert_with(|| Group::new(self.options.since)),
            };
            group.add(tier, side, reached);
        }
    }

    /// The overall funnel, with `cohorts` when a date was given and `by_source` when asked for
    /// (an empty map when there are no persons).
    pub fn finish(self) -> Funnel {
        let mut funnel = self.overall.finish();
        if self.options.by_source {
            funnel.by_source = Some(
                self.sources
                    .into_iter()
                    .map(|(source, g)| (source, g.finish()))
                    .collect(),
            );
        }
        funnel
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).unwrap()
    }

    fn fact(person: i64, source: Option<&str>, moved_to: &[(Tier, DateTime<Utc>)]) -> FunnelFact {
        FunnelFact {
            person,
            tier: moved_to.iter().map(|(t, _)| *t).max(),
            side: None,
            source: source.map(str::to_string),
            created_at: day(1),
            moved_to: moved_to.to_vec(),
        }
    }

    fn build(options: FunnelOptions, facts: &[FunnelFact]) -> Funnel {
        let mut b = FunnelBuilder::new(options);
        for f in facts {
            b.add(f);
        }
        b.finish()
    }

    fn sample() -> Vec<FunnelFact> {
        vec![
            fact(1, Some("google"), &[(Tier::SUBSCRIBER, day(1))]),
            fact(
                2,
                Some("google"),
                &[(Tier::SUBSCRIBER, day(1)), (Tier::LEAD, day(3))],
            ),
            fact(3, Some("google"), &[(Tier::MQL, day(2))]),
            fact(
                4,
                Some("linkedin"),
                &[(Tier::LEAD, day(2)), (Tier::CUSTOMER, day(9))],
            ),
            fact(5, None, &[(Tier::SUBSCRIBER, day(4))]),
            fact(6, None, &[]), // unqualified
        ]
    }

    #[test]
    fn groups_by_source_with_none_for_the_missing_ones() {
        let all = FunnelOptions {
            by_source: true,
            since: None,
        };
        let f = build(all, &sample());
        assert_eq!(f.total, 6);
        assert_eq!(f.unqualified, 1);
        assert_eq!(f.tiers["subscriber"], 2);
        assert_eq!(f.reached["lead"], 3);
        assert!(f.cohorts.is_none());

        let sources = f.by_source.as_ref().unwrap();
        assert_eq!(
            sources.keys().collect::<Vec<_>>(),
            ["(none)", "google", "linkedin"]
        );
        let g = &sources["google"];
        assert_eq!((g.total, g.unqualified), (3, 0));
        assert_eq!(g.reached["subscriber"], 3);
        assert_eq!(g.reached["lead"], 2);
        assert_eq!(g.conversions["subscriber_to_lead"], Some(0.6667));
        assert_eq!(g.conversions["lead_to_mql"], Some(0.5));
        assert_eq!(g.conversions["mql_to_sql"], Some(0.0));
        assert_eq!(g.conversions["sql_to_opportunity"], None);
        let none = &sources[NO_SOURCE];
        assert_eq!((none.total, none.unqualified), (2, 1));
        assert_eq!(none.tiers["subscriber"], 1);
        let li = &sources["linkedin"];
        assert_eq!(li.tiers["customer"], 1);
        assert_eq!(li.conversions["opportunity_to_customer"], Some(1.0));
        // The per-source totals add up to the overall one.
        assert_eq!(sources.values().map(|s| s.total).sum::<u64>(), f.total);

        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["by_source"]["google"]["tiers"]["mql"], 1);
        assert_eq!(json["by_source"]["(none)"]["unqualified"], 1);
        assert!(json["by_source"]["google"].get("by_source").is_none());
        assert!(json.get("cohorts").is_none());

        let text = f.render();
        assert!(text.contains("by source"), "{text}");
        // Most persons first.
        assert!(text.find("google") < text.find("(none)"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn the_same_as_from_counts_without_options() {
        let f = build(FunnelOptions::default(), &sample());
        let mut counts = TierCounts::default();
        for fact in sample() {
            match fact.tier {
                Some(t) => *counts.tiers.entry(t).or_default() += 1,
                None => counts.unqualified += 1,
            }
        }
        assert_eq!(f, Funnel::from_counts(&counts));
        let json = serde_json::to_value(&f).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["conversions", "reached", "tiers", "total", "unqualified"]
        );
    }

    #[test]
    fn cohorts_overall_and_per_source() {
        let options = FunnelOptions {
            by_source: true,
            since: Some(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()),
        };
        let f = build(options, &sample());
        let c = f.cohorts.as_ref().unwrap();
        // Subscriber reached on or after the 2nd: 3 (mql on the 2nd), 4 (lead on the 2nd),
        // 5 (the 4th). Advanced to lead: 3 and 4, both in no time.
        let s = c.step(Tier::SUBSCRIBER).unwrap();
        assert_eq!((s.entered, s.advanced, s.share), (3, 2, Some(0.6667)));
        assert_eq!(s.median_days, Some(0.0));
        // Lead since the 2nd: 2 (the 3rd), 3 (the 2nd), 4 (the 2nd). To mql: 3 (0 d), 4 (7 d).
        let l = c.step(Tier::LEAD).unwrap();
        assert_eq!((l.entered, l.advanced), (3, 2));
        assert_eq!(l.median_days, Some(3.5));

        let sources = f.by_source.as_ref().unwrap();
        let g = sources["google"].cohorts.as_ref().unwrap();
        assert_eq!(g.step(Tier::SUBSCRIBER).unwrap().entered, 1);
        assert_eq!(g.step(Tier::LEAD).unwrap().entered, 2);
        assert_eq!(g.step(Tier::LEAD).unwrap().advanced, 1);
        let li = sources["linkedin"].cohorts.as_ref().unwrap();
        let o = li.step(Tier::OPPORTUNITY).unwrap();
        assert_eq!((o.entered, o.advanced, o.median_days), (1, 1, Some(0.0)));
        assert_eq!(li.step(Tier::LEAD).unwrap().median_days, Some(7.0));

        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["cohorts"]["since"], "2026-03-02");
        assert_eq!(json["cohorts"]["lead_to_mql"]["median_days"], 3.5);
        assert_eq!(
            json["by_source"]["google"]["cohorts"]["subscriber_to_lead"]["entered"],
            1
        );
        let text = f.render();
        assert!(text.contains("cohorts since 2026-03-02"), "{text}");
        assert!(text.contains("linkedin"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn an_empty_store_gives_zeros_and_nulls() {
        let options = FunnelOptions {
            by_source: true,
            since: Some(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()),
        };
        let f = build(options, &[]);
        assert_eq!(f.total, 0);
        assert!(f.conversions.values().all(Option::is_none));
        assert_eq!(f.by_source.as_ref().map(BTreeMap::len), Some(0));
        let c = f.cohorts.as_ref().unwrap();
        assert!(
            c.steps
                .iter()
                .all(|s| s.entered == 0 && s.share.is_none() && s.median_days.is_none())
        );
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["tiers"]["customer"], 0);
        assert!(json["conversions"]["subscriber_to_lead"].is_null());
        assert_eq!(json["by_source"], serde_json::json!({}));
        let _ = f.render();
    }
}
