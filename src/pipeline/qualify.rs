//! Qualify: decide each person's tier, apply it (never lowered, a lower answer kept as a
//! finding), record the change with its evidence, and plan the outbox entries that follow.
//!
//! The one place this happens, for each way a person comes to be qualified: the persons a pulled
//! page linked and merged ([`merged_persons`], in the page's transaction), the persons the
//! current rules have not qualified yet after a rules change ([`requalify`], each cycle), and
//! everyone on the daemon's daily pass (facts that move with time alone).

use super::connectors::PushTarget;
use super::outbox;
use super::plan::Plan;
use crate::model::{Person, PersonId, TierChange};
use crate::rules::{self, Decision, Rules};
use crate::store::{Store, StoreError, StoreTx};
use chrono::{DateTime, Utc};

/// Persons read and written per transaction when re-qualifying.
const BATCH: usize = 5_000;

/// Qualifies the persons a page linked and merged, inside the page's transaction, and writes
/// each of them: their inputs changed. Every linked CRM record of a pushing connector whose
/// stage is below the person's tier gets a push planned (new or changed records may report a
/// stage below it). Answers how many tiers changed.
pub fn merged_persons(
    tx: &mut dyn StoreTx,
    rules: &Rules,
    push_targets: &[PushTarget],
    persons: &mut [Person],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let decisions = rules::decide_all(persons, rules, now);
    let mut changes = Vec::new();
    for (person, decision) in persons.iter_mut().zip(decisions) {
        apply(person, &decision, rules);
        changes.extend(decision.change);
        changes.extend(decision.side_change);
    }
    if !push_targets.is_empty() {
        let wants: Vec<_> = persons
            .iter()
            .filter_map(|p| Some((p.id, Some(p), p.tier?)))
            .collect();
        outbox::plan_all(tx, push_targets, &wants)?;
    }
    record(tx, &changes, &persons.iter().collect::<Vec<_>>())?;
    Ok(changes.len() as u64)
}

/// Applies a decision to its person: the tier (never lowered), the would-demote finding, the
/// rules version. Answers whether the person needs writing (more than the version changed).
fn apply(person: &mut Person, decision: &Decision, rules: &Rules) -> bool {
    let finding_changed = person.demotion != decision.demotion;
    rules::apply(person, decision, &rules.version);
    decision.change.is_some() || decision.side_change.is_some() || finding_changed
}

/// Records the tier changes in the history and writes the persons they and other decisions
/// changed.
fn record(
    tx: &mut dyn StoreTx,
    changes: &[TierChange],
    persons: &[&Person],
) -> Result<(), StoreError> {
    tx.add_tier_changes(changes)?;
    tx.save_persons(persons)
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
    push_targets: &[PushTarget],
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
        // Moves into and out of side tiers: recorded, never pushed.
        let mut side_changes = Vec::new();
        let mut rewrite = Vec::new();
        let mut stamp = Vec::new();
        for (person, decision) in batch.iter_mut().zip(&decisions) {
            plan.evaluated += 1;
            if person.rules_version.as_deref() != Some(rules.version.as_str()) {
                plan.stale += 1;
            }
            for change in decision.change.iter().chain(&decision.side_change) {
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
            if apply(person, decision, rules) {
                changes.extend(decision.change.clone());
                side_changes.extend(decision.side_change.clone());
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
        let wants: Vec<_> = changes.iter().map(|c| (c.person, None, c.to)).collect();
        plan.pushes += outbox::plan_all(tx.as_mut(), push_targets, &wants)?;
        if dry_run {
            drop(tx); // rolled back: the pushes were counted, nothing is written
        } else {
            changes.append(&mut side_changes);
            record(tx.as_mut(), &changes, &rewrite)?;
            tx.mark_qualified(&stamp, &rules.version)?;
            tx.commit()?;
        }
        batch = next?;
    }
    Ok(plan)
}
