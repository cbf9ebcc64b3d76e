//! What re-qualifying did, or `plan` (the same decisions as a dry run, see
//! [`super::qualify::requalify`]) would do: the report.

use super::connectors::PushTarget;
use crate::model::Person;
use crate::model::number::group;
use crate::store::{Store, StoreError};
use leadsync_connector_core::Tier;
use serde::Serialize;
use std::collections::BTreeMap;

/// Moves of one kind (`lead → mql`), with a sample of who.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Moves {
    pub count: u64,
    /// Up to the sample size: `id name-or-email`.
    pub sample: Vec<String>,
}

/// What re-qualifying did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub rules_version: String,
    /// Persons whose qualification was (re)computed.
    pub evaluated: u64,
    /// Of those, persons not yet qualified by these rules (new, or last qualified by other
    /// rules). `plan` evaluates everyone, so this can be 0 while moves from time alone remain.
    pub stale: u64,
    /// Tier rises by `from → to`.
    pub moves: BTreeMap<String, Moves>,
    /// Falls the rules ask for that are not applied (`from → to`).
    pub would_demote: BTreeMap<String, Moves>,
    /// Stage pushes planned (or, in a dry run, that would be) for CRM records of pushing
    /// connectors.
    pub pushes: u64,
    /// CRM records whose stage a person lowered, kept by `respect_downgrades` (see
    /// [`kept_downgrades`]).
    pub downgrades_kept: Moves,
    /// Stored tiers the ladder no longer has, and the tier each now counts as.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ladder: Vec<LadderMove>,
}

/// A stored tier name the ladder renamed or removed: `persons` now at it count as `now`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LadderMove {
    pub name: String,
    pub now: Tier,
    pub persons: u64,
}

/// The tier names the store holds, checked against the current ladder.
#[derive(Debug, Default)]
pub struct LadderCheck {
    /// Names the ladder maps to another tier (`[ladder.renamed]`, `[ladder.removed]`).
    pub moves: Vec<LadderMove>,
    /// Names it cannot read at all, each with the persons at it now.
    pub orphans: Vec<(String, u64)>,
}

pub fn check_ladder(store: &mut dyn Store) -> Result<LadderCheck, StoreError> {
    let ladder = leadsync_connector_core::Ladder::current();
    let mut check = LadderCheck::default();
    for (name, persons) in store.stored_tier_names()? {
        if ladder.get(&name).is_some() {
            continue;
        }
        match name.parse::<Tier>() {
            Ok(now) => check.moves.push(LadderMove { name, now, persons }),
            Err(_) => check.orphans.push((name, persons)),
        }
    }
    Ok(check)
}

impl Plan {
    pub(super) fn note(
        map: &mut BTreeMap<String, Moves>,
        from: Option<Tier>,
        to: Option<Tier>,
        person: &Person,
        sample: usize,
    ) {
        let key = format!("{} → {}", label(from), label(to));
        let entry = map.entry(key).or_default();
        entry.count += 1;
        if entry.sample.len() < sample {
            entry
                .sample
                .push(format!("{} {}", person.id, person.display_name()));
        }
    }

    /// Persons moved, all kinds together.
    pub fn moved(&self) -> u64 {
        self.moves.values().map(|m| m.count).sum()
    }

    /// A readable summary.
    pub fn render(&self) -> String {
        let stale = match self.stale {
            0 => "all already qualified by these rules".to_string(),
            n if n == self.evaluated => "none yet qualified by these rules".to_string(),
            n => format!("{} not yet qualified by these rules", group(n)),
        };
        let mut out = format!(
            "rules {}: {} person(s) evaluated, {stale}\n",
            self.rules_version,
            group(self.evaluated)
        );
        for m in &self.ladder {
            out.push_str(&format!(
                "ladder: `{}` is no longer on the ladder: {} person(s) at it count as `{}`\n",
                m.name,
                group(m.persons),
                m.now
            ));
        }
        if self.moves.is_empty() {
            out.push_str("tier moves: none\n");
        }
        for (kind, m) in &self.moves {
            out.push_str(&format!(
                "  {kind}: {}   e.g. {}\n",
                group(m.count),
                m.sample.join("; ")
            ));
        }
        if !self.would_demote.is_empty() {
            out.push_str("would demote (not applied: tiers never drop automatically):\n");
            for (kind, m) in &self.would_demote {
                out.push_str(&format!(
                    "  {kind}: {}   e.g. {}\n",
                    group(m.count),
                    m.sample.join("; ")
                ));
            }
        }
        out.push_str(&format!(
            "stage pushes that would follow: {}\n",
            self.pushes
        ));
        let kept = &self.downgrades_kept;
        if kept.count > 0 {
            out.push_str(&format!(
                "stages lowered in the CRM, kept (respect_downgrades): {}   e.g. {}\n",
                group(kept.count),
                kept.sample.join("; ")
            ));
        }
        out
    }
}

fn label(t: Option<Tier>) -> &'static str {
    t.map_or("unqualified", Tier::as_str)
}

/// The open downgrade findings of the pushing connectors: how many, and a sample
/// (`person 12: hubspot record 901 lowered to subscriber, tier lead`).
pub fn kept_downgrades(
    store: &mut dyn Store,
    push_targets: &[PushTarget],
    sample: usize,
) -> Result<Moves, StoreError> {
    let mut kept = Moves::default();
    for target in push_targets {
        let counts = store.outbox_counts(&target.connector)?;
        kept.count += counts.get("kept").copied().unwrap_or(0);
        let room = sample.saturating_sub(kept.sample.len()) as u32;
        for entry in store.outbox_with_status(&target.connector, "kept", room)? {
            kept.sample.push(format!(
                "person {} {} record {} ({})",
                entry.person,
                entry.connector,
                entry.record_id,
                entry.reason.as_deref().unwrap_or("lowered")
            ));
        }
    }
    Ok(kept)
}
