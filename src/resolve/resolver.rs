//! Linking each source record to exactly one person, on exact keys.
//!
//! Order of evidence: the record itself (stored before), then its keys in strength order — the
//! CRM's own id, emails, phones. A key already held by another person is never moved: the record
//! stays with the strongest match and the disagreement is kept as a conflict for review. Two
//! records with different ids from the same CRM are never merged automatically.

use super::keys::{Key, crm_kind};
use super::merge::Merger;
use super::normalize::Normalizer;
use crate::config::{IdentityConfig, MergeConfig};
use crate::model::{Person, PersonId, Provenance};
use crate::rules;
use crate::store::{Conflict, StoreError, StoreTx};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Locator, SourceRecord};
use std::collections::BTreeMap;

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
        for record in records {
            self.apply(tx, connector, record, now, &mut touched, &mut stats)?;
        }
        for person in touched.values_mut() {
            if let Some(change) = rules::raise_baseline(person, now) {
                tx.add_tier_change(&change)?;
                stats.tier_changes += 1;
            }
            tx.save_person(person)?;
        }
        Ok(stats)
    }

    fn apply(
        &self,
        tx: &mut dyn StoreTx,
        connector: &str,
        record: &SourceRecord,
        now: DateTime<Utc>,
        touched: &mut BTreeMap<PersonId, Person>,
        stats: &mut ResolveStats,
    ) -> Result<(), StoreError> {
        let norm = self.normalizer.normalize(connector, record);
        let locator = record.locator.to_string();
        let crm = crm_kind(connector);
        let mut hits = Vec::with_capacity(norm.keys.len());
        for key in &norm.keys {
            hits.push((key, tx.find_key(&key.kind, &key.value)?));
        }

        let mut chosen = tx.find_record(connector, &record.locator.key())?;
        if chosen.is_none()
            && let Some((key, Some(p))) = hits.iter().find(|(_, p)| p.is_some())
        {
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
