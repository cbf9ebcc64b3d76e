//! Re-qualifying persons after a rules change, and `plan`: the same decisions as a dry run.
//!
//! Both walk the persons not yet qualified by the rules at hand, in id order and in pages; a
//! dry run decides exactly what the real run applies, so `plan` predicts the next `sync`.

use crate::model::{Person, PersonId};
use crate::rules::{self, Rules};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use leadsync_connector_core::Tier;
use serde::Serialize;
use std::collections::BTreeMap;

/// Persons read and written per transaction.
const BATCH: usize = 5_000;

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
}

impl Plan {
    fn note(
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

/// `1234` → `1,234`.
pub(crate) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Decides every person not yet qualified by `rules` (every person at all with `everyone`, for
/// facts that change with time alone, such as temperature or days since created); applies the
/// decisions unless `dry_run`.
///
/// Each batch is evaluated on two threads while this one reads the next batch; only persons
/// whose tier or finding changed are rewritten, the others just get the rules version stamped.
pub fn requalify(
    store: &mut dyn Store,
    rules: &Rules,
    push_targets: &[crate::push::PushTarget],
    now: DateTime<Utc>,
    dry_run: bool,
    sample: usize,
    everyone: bool,
) -> Result<Plan, StoreError> {
    let mut plan = Plan {
        rules_version: rules.version.clone(),
        ..Plan::default()
    };
    let stale_for = (!everyone).then_some(rules.version.as_str());
    let mut batch = store.persons_after(0, BATCH, stale_for)?;
    while let Some(last) = batch.last() {
        let after: PersonId = last.id;
        let (decisions, next) = std::thread::scope(|s| {
            let decided = s.spawn(|| rules::decide_all(&batch, rules, now));
            let next = store.persons_after(after, BATCH, stale_for);
            (decided.join().expect("deciding never panics"), next)
        });
        let mut changes = Vec::new();
        let mut rewrite = Vec::new();
        let mut stamp = Vec::new();
        for (person, decision) in batch.iter_mut().zip(&decisions) {
            plan.evaluated += 1;
            if person.rules_version.as_deref() != Some(rules.version.as_str()) {
                plan.stale += 1;
            }
            if let Some(change) = &decision.change {
                Plan::note(
                    &mut plan.moves,
                    change.from,
                    Some(change.to),
                    person,
                    sample,
                );
            }
            if let Some(d) = &decision.demotion {
                Plan::note(&mut plan.would_demote, Some(d.from), d.to, person, sample);
            }
            if dry_run {
                changes.extend(decision.change.clone());
                continue;
            }
            let finding_changed = person.demotion != decision.demotion;
            rules::apply(person, decision, &rules.version);
            if decision.change.is_some() || finding_changed {
                changes.extend(decision.change.clone());
                rewrite.push(&*person);
            } else {
                stamp.push(person.id);
            }
        }
        // A dry run with no pushes to count touches nothing: no transaction, so `plan` never
        // takes the write lock a running daemon needs.
        if dry_run && push_targets.is_empty() {
            batch = next?;
            continue;
        }
        let mut tx = store.begin()?;
        for change in &changes {
            plan.pushes += crate::push::plan(tx.as_mut(), push_targets, change.person, change.to)?;
        }
        if dry_run {
            drop(tx); // rolled back: the pushes were counted, nothing is written
        } else {
            tx.add_tier_changes(&changes)?;
            tx.save_persons(&rewrite)?;
            tx.mark_qualified(&stamp, &rules.version)?;
            tx.commit()?;
        }
        batch = next?;
    }
    Ok(plan)
}

/// The open downgrade findings of the pushing connectors: how many, and a sample
/// (`person 12: hubspot record 901 lowered to subscriber, tier lead`).
pub fn kept_downgrades(
    store: &mut dyn Store,
    push_targets: &[crate::push::PushTarget],
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
