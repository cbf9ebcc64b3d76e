//! Linking each source record to exactly one person, on exact keys.
//!
//! Order of evidence: the record's keys in strength order — the CRM's own id, emails, phones. A key already held by another person is never moved: the record
//! stays with the strongest match and the disagreement is kept as a conflict for review. Two
//! records with different ids from the same CRM are never merged automatically.

use super::keys::{Key, crm_kind};
use super::merge::Merger;
use super::normalize::{Normalized, Normalizer};
use crate::config::{IdentityConfig, MergeConfig};
use crate::model::{Person, PersonId, Provenance};
use crate::rules;
use crate::store::{Conflict, StoreError, StoreTx};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Locator, SourceRecord};
use std::collections::BTreeMap;

/// Records normalised per hand-over between the normalising thread and the writer.
const NORMALIZE_CHUNK: usize = 256;

pub struct Resolver {
    normalizer: Normalizer,
    merger: Merger,
}

/// What resolving a page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResolveStats {
    pub records: u64,
    pub persons_created: u64,
    pub conflicts: u64,
    pub tier_changes: u64,
}

impl Resolver {
    pub fn new(identity: &IdentityConfig, merge: &MergeConfig) -> Self {
        Resolver {
            normalizer: Normalizer::new(identity),
            merger: Merger::new(merge),
        }
    }

    /// Links, stores and merges every record of a page inside `tx`, then writes each touched
    /// person once, with its (never lowered) tier.
    pub fn apply_page(
        &self,
        tx: &mut dyn StoreTx,
        connector: &str,
        records: &[SourceRecord],
        now: DateTime<Utc>,
    ) -> Result<ResolveStats, StoreError> {
        let mut stats = ResolveStats::default();
        // Ordered, so persons are written in the same order on every run.
        let mut touched: BTreeMap<PersonId, Person> = BTreeMap::new();
        // Normalising (phone parsing above all) costs about as much as the store writes: a
        // helper thread normalises chunks ahead while this thread writes, so the two overlap.
        std::thread::scope(|scope| -> Result<(), StoreError> {
            let (ready, normalized) = std::sync::mpsc::sync_channel::<Vec<Normalized>>(4);
            scope.spawn(move || {
                for chunk in records.chunks(NORMALIZE_CHUNK) {
                    let norms = chunk
                        .iter()
                        .map(|r| self.normalizer.normalize(connector, r))
                        .collect();
                    if ready.send(norms).is_err() {
                        return; // the writer stopped on an error
                    }
                }
            });
            for (chunk, norms) in records.chunks(NORMALIZE_CHUNK).zip(normalized) {
                for (record, norm) in chunk.iter().zip(&norms) {
                    self.apply(tx, connector, record, norm, now, &mut touched, &mut stats)?;
                }
            }
            Ok(())
        })?;
        for person in touched.values_mut() {
            if let Some(change) = rules::raise_baseline(person, now) {
                tx.add_tier_change(&change)?;
                stats.tier_changes += 1;
            }
            tx.save_person(person)?;
        }
        Ok(stats)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        tx: &mut dyn StoreTx,
        connector: &str,
        record: &SourceRecord,
        norm: &Normalized,
        now: DateTime<Utc>,
        touched: &mut BTreeMap<PersonId, Person>,
        stats: &mut ResolveStats,
    ) -> Result<(), StoreError> {
        let locator = record.locator.to_string();
        let crm = crm_kind(connector);
        let mut hits = Vec::with_capacity(norm.keys.len());
        for key in &norm.keys {
            hits.push((key, tx.find_key(&key.kind, &key.value)?));
        }

        // No lookup of the record itself is needed: a CRM record is found by its id key, and a
        // file row past its committed cursor cannot have been stored (page and cursor commit
        // together).
        let mut chosen = None;
        if let Some((key, Some(p))) = hits.iter().find(|(_, p)| p.is_some()) {
            chosen = Some(*p);
            // A new CRM id arriving on a person who already holds another id of the same CRM
            // is a different CRM record: keep them apart and ask for review.
            let new_crm_id = matches!(record.locator, Locator::Crm { .. })
                && hits.iter().any(|(k, p)| k.kind == crm && p.is_none());
            if new_crm_id && key.kind != crm && !tx.keys_of(*p, &crm)?.is_empty() {
                chosen = None;
            }
        }
        let person_id = match chosen {
            Some(p) => p,
            None => {
                let id = tx.next_person_id()?;
                touched.insert(id, Person::new(id, now));
                stats.persons_created += 1;
                id
            }
        };

        for (key, holder) in &hits {
            match holder {
                None => tx.insert_key(&key.kind, &key.value, person_id)?,
                Some(p) if *p == person_id => {}
                Some(other) => {
                    let reason = conflict_reason(key, *other, &crm);
                    tx.add_conflict(&Conflict {
                        connector: connector.to_string(),
                        locator: record.locator.key(),
                        key_kind: key.kind.clone(),
                        key_value: key.value.clone(),
                        person: person_id,
                        other_person: *other,
                        reason,
                        at: now,
                    })?;
                    stats.conflicts += 1;
                }
            }
        }
        tx.upsert_record(connector, record, person_id)?;

        let person = match touched.entry(person_id) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(tx.load_person(person_id)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("person {person_id} is linked but missing"))
                })?)
            }
        };
        let from = Provenance {
            connector: connector.to_string(),
            locator,
            observed_at: record.observed_at,
        };
        self.merger.merge(person, &norm.values, &from);
        person.updated_at = now;
        stats.records += 1;
        Ok(())
    }
}

fn conflict_reason(key: &Key, other: PersonId, crm: &str) -> String {
    if key.kind == crm {
        format!("{} id {} belongs to person {other}", key.kind, key.value)
    } else {
        format!(
            "{} {} already belongs to person {other}; not merged automatically",
            key.kind, key.value
        )
    }
}
