use crate::store::TierCounts;
use leadsync_connector_core::Tier;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Persons per tier now, and the conversion between adjacent tiers.
///
/// A person counts in exactly one tier (their current one). A conversion `X → Y` is the share
/// of persons who reached at least `X` that also reached at least `Y`: tiers never go down, so
/// reaching a higher tier means having passed through the lower ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    /// The contract: all six tiers, always present.
    pub tiers: BTreeMap<&'static str, u64>,
    /// Persons with no tier (no email: not even a subscriber).
    pub unqualified: u64,
    pub total: u64,
    /// Persons at or above each tier.
    pub reached: BTreeMap<&'static str, u64>,
    /// `subscriber_to_lead` …; `null` when nobody reached the lower tier.
    pub conversions: BTreeMap<String, Option<f64>>,
}

impl Funnel {
    pub fn from_counts(counts: &TierCounts) -> Self {
        let count = |t: Tier| counts.tiers.get(&t).copied().unwrap_or(0);
        let tiers = Tier::ALL.iter().map(|t| (t.as_str(), count(*t))).collect();
        let reached_n = |t: Tier| {
            Tier::ALL
                .iter()
                .filter(|u| **u >= t)
                .map(|u| count(*u))
                .sum::<u64>()
        };
        let reached = Tier::ALL
            .iter()
            .map(|t| (t.as_str(), reached_n(*t)))
            .collect();
        let conversions = Tier::ALL
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
            unqualified: counts.unqualified,
            total,
            reached,
            conversions,
        }
    }

    /// A table for terminals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<13} {:>9} {:>9}  conversion to next",
            "tier", "persons", "reached"
        );
        for t in Tier::ALL {
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
        let _ = writeln!(out, "{:<13} {:>9}", "unqualified", self.unqualified);
        let _ = writeln!(out, "{:<13} {:>9}", "total", self.total);
        out
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_shares_of_those_who_reached_the_lower_tier() {
        let counts = TierCounts {
            tiers: [
                (Tier::Subscriber, 50),
                (Tier::Lead, 30),
                (Tier::Mql, 15),
                (Tier::Customer, 5),
            ]
            .into(),
            unqualified: 3,
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
