//! `report sla`: for each follow-up commitment, the persons who reached its tier and where
//! their clocks stand — followed up in time, late, still waiting, overdue now — with the median
//! business hours to the follow-up; overall, or per owner or source.

use super::NO_SOURCE;
use super::cohort::reached_at;
use crate::model::{Person, PersonId};
use crate::rules::{Clock, ClockState, FollowUp};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use leadsync_connector_core::Field;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// How `report sla` groups the persons besides the overall figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaBy {
    Owner,
    Source,
}

/// One commitment's figures over a group of persons.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlaFigures {
    /// Persons who reached the tier: the clocks started.
    pub reached: u64,
    pub in_time: u64,
    pub late: u64,
    pub waiting: u64,
    pub overdue: u64,
    /// Median business hours from reaching the tier to the follow-up, over those followed up;
    /// `null` when nobody was.
    pub median_business_hours: Option<f64>,
    #[serde(skip)]
    hours: Vec<f64>,
}

impl SlaFigures {
    fn add(&mut self, clock: &Clock) {
        self.reached += 1;
        match clock.state {
            ClockState::InTime => self.in_time += 1,
            ClockState::Late => self.late += 1,
            ClockState::Waiting => self.waiting += 1,
            ClockState::Overdue => self.overdue += 1,
        }
        self.hours.extend(clock.business_hours);
    }

    fn finish(&mut self) {
        let mut h = std::mem::take(&mut self.hours);
        h.sort_by(f64::total_cmp);
        self.median_business_hours = match h.len() {
            0 => None,
            n if n % 2 == 1 => Some(h[n / 2]),
            n => Some(((h[n / 2 - 1] + h[n / 2]) / 2.0 * 10.0).round() / 10.0),
        };
    }
}

/// One commitment: what it is, its figures, and per group with `--by`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaSummary {
    pub tier: String,
    pub within: String,
    #[serde(flatten)]
    pub overall: SlaFigures,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_owner: Option<BTreeMap<String, SlaFigures>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_source: Option<BTreeMap<String, SlaFigures>>,
}

/// The JSON of `report sla --json`: `{"at": …, "slas": {"mql_follow_up": {…}}}`, commitments
/// in the rules file's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaReport {
    pub at: DateTime<Utc>,
    #[serde(serialize_with = "in_file_order")]
    pub slas: Vec<(String, SlaSummary)>,
}

fn in_file_order<S: serde::Serializer>(
    slas: &[(String, SlaSummary)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(slas.len()))?;
    for (name, s) in slas {
        map.serialize_entry(name, s)?;
    }
    map.end()
}

/// Visits every person who reached a commitment's tier with their clocks: first when each
/// person reached each tier (the funnel's stream of histories, kept only for those persons),
/// then their golden records, a batch at a time.
pub fn visit_clocks(
    store: &mut dyn Store,
    follow_up: &FollowUp,
    now: DateTime<Utc>,
    visit: &mut dyn FnMut(&Person, Vec<Clock>),
) -> Result<(), StoreError> {
    let Some(lowest) = follow_up.slas.iter().map(|s| s.tier).min() else {
        return Ok(());
    };
    let mut reached: HashMap<PersonId, Vec<Option<DateTime<Utc>>>> = HashMap::new();
    store.funnel_facts(&mut |fact| {
        if fact
            .moved_to
            .iter()
            .any(|(t, _)| *t >= lowest && !t.is_side())
        {
            reached.insert(fact.person, reached_at(&fact.moved_to));
        }
    })?;
    let mut after = 0;
    loop {
        let batch = store.persons_after(after, 5_000, None)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for person in &batch {
            if let Some(r) = reached.get(&person.id) {
                visit(person, follow_up.clocks(person, r, now));
            }
        }
    }
    Ok(())
}

/// Where every commitment's clocks stand at `now`, overall and per group.
pub fn sla_report(
    store: &mut dyn Store,
    follow_up: &FollowUp,
    by: Option<SlaBy>,
    now: DateTime<Utc>,
) -> Result<SlaReport, StoreError> {
    let mut summaries: Vec<(String, SlaSummary)> = follow_up
        .slas
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                SlaSummary {
                    tier: s.tier.to_string(),
                    within: s.within_text.clone(),
                    overall: SlaFigures::default(),
                    by_owner: (by == Some(SlaBy::Owner)).then(BTreeMap::new),
                    by_source: (by == Some(SlaBy::Source)).then(BTreeMap::new),
                },
            )
        })
        .collect();
    visit_clocks(store, follow_up, now, &mut |person, clocks| {
        let group = match by {
            Some(SlaBy::Owner) => follow_up.owner(person).map(str::to_string),
            Some(SlaBy::Source) => person.get(&Field::Source).map(str::to_lowercase),
            None => None,
        }
        .unwrap_or_else(|| NO_SOURCE.to_string());
        for clock in clocks {
            let Some((_, summary)) = summaries.iter_mut().find(|(n, _)| *n == clock.sla) else {
                continue;
            };
            summary.overall.add(&clock);
            if let Some(groups) = summary.by_owner.as_mut().or(summary.by_source.as_mut()) {
                groups.entry(group.clone()).or_default().add(&clock);
            }
        }
    })?;
    for (_, s) in &mut summaries {
        s.overall.finish();
        for groups in [&mut s.by_owner, &mut s.by_source].into_iter().flatten() {
            groups.values_mut().for_each(SlaFigures::finish);
        }
    }
    Ok(SlaReport {
        at: now,
        slas: summaries,
    })
}

impl SlaReport {
    /// Text for terminals: a row per commitment, then one per group under it.
    pub fn render(&self) -> String {
        let mut out = format!(
            "follow-up commitments as of {}\n",
            self.at.format("%Y-%m-%d %H:%M UTC")
        );
        let _ = writeln!(
            out,
            "{:<20} {:<12} {:<18} {:>7} {:>7} {:>5} {:>7} {:>7} {:>9}",
            "commitment",
            "tier",
            "within",
            "reached",
            "in time",
            "late",
            "waiting",
            "overdue",
            "median h"
        );
        let row = |out: &mut String, name: &str, tier: &str, within: &str, f: &SlaFigures| {
            let median = f
                .median_business_hours
                .map_or_else(|| "-".to_string(), |h| format!("{h:.1}"));
            let _ = writeln!(
                out,
                "{:<20} {:<12} {:<18} {:>7} {:>7} {:>5} {:>7} {:>7} {:>9}",
                name, tier, within, f.reached, f.in_time, f.late, f.waiting, f.overdue, median
            );
        };
        for (name, s) in &self.slas {
            row(&mut out, name, &s.tier, &s.within, &s.overall);
            for groups in [&s.by_owner, &s.by_source].into_iter().flatten() {
                for (group, f) in groups {
                    row(&mut out, &format!("  {group}"), "", "", f);
                }
            }
        }
        out
    }
}
