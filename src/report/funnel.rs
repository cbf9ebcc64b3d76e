use super::cohort::Cohorts;
use super::ratio::round4;
use crate::store::TierCounts;
use leadsync_connector_core::{Ladder, Tier};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Persons per tier now, and the conversion between adjacent tiers.
///
/// A person counts in exactly one tier (their current one). A conversion `X → Y` is the share
/// of persons who reached at least `X` that also reached at least `Y`: tiers never go down, so
/// reaching a higher tier means having passed through the lower ones.
///
/// `cohorts` (with `--since`) and `by_source` (with `--by source`) are only present when asked
/// for; the other fields are the JSON contract of `report funnel --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    /// The contract: every tier of the ladder, always present.
    #[serde(serialize_with = "in_ladder_order")]
    pub tiers: BTreeMap<&'static str, u64>,
    /// Persons in each side tier now (only when the ladder has side tiers): they count here and
    /// not in `tiers`, and in `reached` by the main tier they hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<BTreeMap<&'static str, u64>>,
    /// Persons with no tier (not even a subscriber, e.g. no email).
    pub unqualified: u64,
    pub total: u64,
    /// Persons at or above each tier.
    #[serde(serialize_with = "in_ladder_order")]
    pub reached: BTreeMap<&'static str, u64>,
    /// `subscriber_to_lead` …; `null` when nobody reached the lower tier.
    #[serde(serialize_with = "in_ladder_order")]
    pub conversions: BTreeMap<String, Option<f64>>,
    /// Cohort conversion since a date (see [`Cohorts`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohorts: Option<Cohorts>,
    /// The same funnel (and cohorts) per source/channel, keyed by the lower-cased source;
    /// persons without one under [`NO_SOURCE`](super::NO_SOURCE). Entries have no `by_source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_source: Option<BTreeMap<String, Funnel>>,
}

impl Funnel {
    pub fn from_counts(counts: &TierCounts) -> Self {
        let ladder: Vec<Tier> = Ladder::current().tiers().collect();
        // Everyone by the main tier they hold (`at`: those in no side tier).
        let count = |t: Tier| counts.tiers.get(&t).copied().unwrap_or(0);
        let tiers = ladder.iter().map(|t| (t.as_str(), counts.at(*t))).collect();
        let sides: Vec<Tier> = Ladder::current().sides().collect();
        let side = (!sides.is_empty()).then(|| {
            sides
                .iter()
                .map(|s| (s.as_str(), counts.side.get(s).copied().unwrap_or(0)))
                .collect::<BTreeMap<_, _>>()
        });

        let reached_n = |t: Tier| {
            ladder
                .iter()
                .filter(|u| **u >= t)
                .map(|u| count(*u))
                .sum::<u64>()
        };
        let reached = ladder.iter().map(|t| (t.as_str(), reached_n(*t))).collect();
        let conversions = ladder
            .iter()
            .filter_map(|t| t.next().map(|n| (*t, n)))
            .map(|(t, n)| {
                let base = reached_n(t);
                let ratio = (base > 0).then(|| round4(reached_n(n) as f64 / base as f64));
                (format!("{t}_to_{n}"), ratio)
            })
            .collect();
        let total = counts.tiers.values().sum::<u64>() + counts.unqualified;
        Funnel {
            tiers,
            side,
            unqualified: counts.unqualified_apart_from_sides(),
            total,
            reached,
            conversions,
            cohorts: None,
            by_source: None,
        }
    }

    /// Text for terminals: the funnel table; then, when present, the funnel by source (one wide
    /// table, a row per source, most persons first) and the cohorts (overall, then per source).
    pub fn render(&self) -> String {
        let mut out = self.render_tiers();
        if let Some(sources) = &self.by_source {
            out.push('\n');
            render_by_source(&mut out, sources);
        }
        if let Some(cohorts) = &self.cohorts {
            out.push('\n');
            render_cohorts(&mut out, cohorts, self.by_source.as_ref());
        }
        out
    }

    /// The funnel table: persons per tier, reached, conversion to the next tier.
    fn render_tiers(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<13} {:>9} {:>9}  conversion to next",
            "tier", "persons", "reached"
        );
        for t in Ladder::current().tiers() {
            let conv = t
                .next()
                .and_then(|n| {
                    self.conversions
                        .get(&format!("{t}_to_{n}"))
                        .copied()
                        .flatten()
                })
                .map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0));
            let conv = if t.next().is_none() {
                String::new()
            } else {
                conv
            };
            let _ = writeln!(
                out,
                "{:<13} {:>9} {:>9}  {conv}",
                t.as_str(),
                self.tiers[t.as_str()],
                self.reached[t.as_str()]
            );
        }
        for (name, n) in self.side.iter().flatten() {
            let _ = writeln!(out, "{name:<13} {n:>9}            side tier");
        }
        let _ = writeln!(out, "{:<13} {:>9}", "unqualified", self.unqualified);
        let _ = writeln!(out, "{:<13} {:>9}", "total", self.total);
        out
    }
}

/// Where a tier key (`lead`) or a step key (`lead_to_mql`) stands on the ladder.
fn ladder_rank(key: &str) -> usize {
    Ladder::current()
        .tiers()
        .position(|t| {
            key.strip_prefix(t.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("_to_"))
        })
        .unwrap_or(usize::MAX)
}

/// Serialises a map keyed by tier or step in ladder order (subscriber first), as the README
/// shows it; a `BTreeMap` alone would come out alphabetically.
fn in_ladder_order<K, V, S>(map: &BTreeMap<K, V>, serializer: S) -> Result<S::Ok, S::Error>
where
    K: AsRef<str> + Serialize,
    V: Serialize,
    S: serde::Serializer,
{
    use serde::ser::SerializeMap;
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_by_key(|(k, _)| ladder_rank(k.as_ref()));
    let mut out = serializer.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        out.serialize_entry(k, v)?;
    }
    out.end()
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// `name` in at most `width` characters (cut with `…`).
fn fit(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        name.to_string()
    } else {
        let mut cut: String = name.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

/// Sources with the most persons first, then by name.
fn by_size(sources: &BTreeMap<String, Funnel>) -> Vec<(&String, &Funnel)> {
    let mut rows: Vec<_> = sources.iter().collect();
    rows.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(b.0)));
    rows
}

/// One row per source, 100 columns: the persons, then per tier those who reached it and the
/// share of them that reached the next one.
fn render_by_source(out: &mut String, sources: &BTreeMap<String, Funnel>) {
    let _ = writeln!(
        out,
        "by source: per tier, persons who reached it and the share of them that reached the next"
    );
    let ladder: Vec<Tier> = Ladder::current().tiers().collect();
    let (top, below) = ladder.split_last().expect("a ladder has tiers");
    let _ = write!(out, "{:<13} {:>7}", "", "");
    for t in below {
        let _ = write!(out, " {:^13}", fit(t.as_str(), 13));
    }
    let _ = writeln!(out, " {:>8}", fit(top.as_str(), 8));
    let _ = write!(out, "{:<13} {:>7}", "source", "persons");
    for _ in below {
        let _ = write!(out, " {:>6} {:>6}", "reach", "→next");
    }
    let _ = writeln!(out, " {:>8}", "reach");
    for (name, f) in by_size(sources) {
        let _ = write!(out, "{:<13} {:>7}", fit(name, 13), f.total);
        for t in below {
            let conv = t
                .next()
                .and_then(|n| f.conversions.get(&format!("{t}_to_{n}")).copied().flatten());
            let _ = write!(out, " {:>6} {:>6}", f.reached[t.as_str()], percent(conv));
        }
        let _ = writeln!(out, " {:>8}", f.reached[top.as_str()]);
    }
}

/// The cohort steps; with sources, a source column and a block per source after the overall one.
fn render_cohorts(out: &mut String, all: &Cohorts, sources: Option<&BTreeMap<String, Funnel>>) {
    let _ = writeln!(
        out,
        "cohorts since {} (UTC): of those who reached a tier since then, those who reached the next",
        all.since.format("%Y-%m-%d")
    );
    let source_col = sources.is_some();
    if source_col {
        let _ = write!(out, "{:<14} ", "source");
    }
    let _ = writeln!(
        out,
        "{:<26} {:>8} {:>9} {:>7} {:>12}",
        "step", "entered", "advanced", "share", "median days"
    );
    let mut block = |label: &str, cohorts: &Cohorts| {
        for (i, s) in cohorts.steps.iter().enumerate() {
            if source_col {
                let _ = write!(out, "{:<14} ", if i == 0 { label } else { "" });
            }
            let median = s
                .median_days
                .map_or_else(|| "-".to_string(), |d| format!("{d:.1}"));
            let _ = writeln!(
                out,
                "{:<26} {:>8} {:>9} {:>7} {:>12}",
                format!("{} → {}", s.from, s.to),
                s.entered,
                s.advanced,
                percent(s.share),
                median
            );
        }
    };
    block("(all)", all);
    for (name, f) in sources.map(by_size).unwrap_or_default() {
        if let Some(c) = &f.cohorts {
            block(&fit(name, 14), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_shares_of_those_who_reached_the_lower_tier() {
        let counts = TierCounts {
            tiers: [
                (Tier::SUBSCRIBER, 50),
                (Tier::LEAD, 30),
                (Tier::MQL, 15),
                (Tier::CUSTOMER, 5),
            ]
            .into(),
            unqualified: 3,
            ..TierCounts::default()
        };
        let f = Funnel::from_counts(&counts);
        assert_eq!(f.total, 103);
        assert_eq!(f.reached["subscriber"], 100);
        assert_eq!(f.conversions["subscriber_to_lead"], Some(0.5));
        assert_eq!(f.conversions["lead_to_mql"], Some(0.4));
        assert_eq!(f.conversions["sql_to_opportunity"], Some(1.0));
        assert_eq!(f.tiers["opportunity"], 0);
        let empty = Funnel::from_counts(&TierCounts::default());
        assert_eq!(empty.conversions["lead_to_mql"], None);
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["tiers"]["sql"], 0);
    }
}
