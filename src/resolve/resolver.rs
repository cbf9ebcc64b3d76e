//! Linking each source record to exactly one person, on exact keys.
//!
//! Order of evidence: the record's keys in strength order — the CRM's own id, emails, phones.
//! A key already held by another person is never moved: the record stays with the strongest
//! match and the disagreement is kept as a conflict for review. Two records with different ids
//! from the same CRM are never merged automatically.

use super::keys::{CRM_PREFIX, Key};
use super::merge::Merger;
use super::normalize::{Normalized, Normalizer};
use crate::config::{IdentityConfig, MergeConfig};
use crate::model::{KeyMap, Person, PersonId, Provenance};
use crate::store::{Conflict, StoreError, StoreTx};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, SourceRecord};
use std::collections::{BTreeMap, HashMap};

/// Records normalised per hand-over between the normalising thread and the linker.
const NORMALIZE_CHUNK: usize = 256;

pub struct Resolver {
    normalizer: Normalizer,
    merger: Merger,
    /// Connectors whose reported stage is kept on their records but not merged into persons.
    unmerged_stages: Vec<String>,
}

/// What resolving a page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResolveStats {
    pub records: u64,
    pub persons_created: u64,
    pub conflicts: u64,
}

/// A page linked and merged: its persons, each once, not yet qualified nor written.
#[derive(Debug)]
pub struct ResolvedPage {
    pub persons: Vec<Person>,
    pub stats: ResolveStats,
}

impl Resolver {
    pub fn new(identity: &IdentityConfig, merge: &MergeConfig) -> Self {
        Resolver {
            normalizer: Normalizer::new(identity),
            merger: Merger::new(merge),
            unmerged_stages: Vec::new(),
        }
    }

    /// Links file rows of these connectors by the CRM record ids in one of their fields:
    /// connector → (CRM connector, field).
    pub fn with_crm_ids(mut self, columns: HashMap<String, (String, Field)>) -> Self {
        self.normalizer = self.normalizer.with_crm_ids(columns);
        self
    }

    /// The stage these connectors report (those with `allow_downgrade`) is kept on its record
    /// but not merged into the person, so it neither floors the tier nor feeds the rules.
    pub fn with_unmerged_stages(mut self, connectors: Vec<String>) -> Self {
        self.unmerged_stages = connectors;
        self
    }

    /// The identity keys a record carries, as linking derives them.
    pub fn keys_of(&self, connector: &str, record: &SourceRecord) -> Vec<Key> {
        self.normalizer.normalize(connector, record).keys
    }

    /// Builds a person's golden record again from its source records (oldest observation
    /// first), as linking them one by one would have: after a split, each side keeps only the
    /// values of its own records. The tier and history stay as they are.
    pub fn rebuild(&self, person: &mut Person, records: &[crate::store::StoredRecord]) {
        person.fields.clear();
        person.sources.clear();
        for r in records {
            let record = SourceRecord {
                locator: r.locator.clone(),
                observed_at: r.observed_at,
                values: r.values.clone(),
                archived: r.archived,
            };
            let norm = self.normalizer.normalize(&r.connector, &record);
            let from = Provenance {
                connector: r.connector.clone(),
                locator: r.locator.to_string(),
                observed_at: r.observed_at,
            };
            if self.unmerged_stages.contains(&r.connector) {
                let values = norm
                    .values
                    .into_iter()
                    .filter(|(f, _)| *f != Field::CrmStage);
                self.merger.merge(person, values, from);
            } else {
                self.merger.merge(person, norm.values, from);
            }
        }
    }

    /// Folds `other`'s golden record into `into` by the merge policies, as if `other`'s source
    /// records had been merged into `into` one by one (each value with its own provenance).
    pub fn fold(&self, into: &mut Person, other: &Person) {
        for source in &other.sources {
            into.source_index(source.clone());
        }
        for (field, values) in &other.fields {
            for v in values {
                let from = other.source_of(v).clone();
                self.merger
                    .merge(into, [(field.clone(), v.value.clone())], from);
            }
        }
        into.created_at = into.created_at.min(other.created_at);
        into.updated_at = into.updated_at.max(other.updated_at);
    }

    /// Links, stores and merges every record of a page inside `tx`, and answers each touched
    /// person once, merged; qualifying and writing them is the caller's (the pipeline's).
    ///
    /// Set-based, for speed: the keys of each chunk of records are looked up in one query,
    /// records are linked in page order exactly as if one by one (keys a record claims are seen
    /// by the records after it), and the writes go out as multi-row statements.
    pub fn apply_page(
        &self,
        tx: &mut dyn StoreTx,
        connector: &str,
        records: &[SourceRecord],
        now: DateTime<Utc>,
    ) -> Result<ResolvedPage, StoreError> {
        let mut page = PageLinks {
            owner: KeyMap::default(),
            new_keys: Vec::new(),
            crm_holders: HashMap::new(),
            touched: BTreeMap::new(),
            stats: ResolveStats::default(),
        };
        let mut norms: Vec<Normalized> = Vec::with_capacity(records.len());
        let mut links = Vec::with_capacity(records.len());
        // Normalising (phone parsing above all) costs about as much as linking and writing: a
        // helper thread normalises chunks ahead while this thread looks up and links each chunk.
        std::thread::scope(|scope| -> Result<(), StoreError> {
            let (ready, normalized) = std::sync::mpsc::sync_channel::<Vec<Normalized>>(4);
            scope.spawn(move || {
                for chunk in records.chunks(NORMALIZE_CHUNK) {
                    let done = chunk
                        .iter()
                        .map(|r| self.normalizer.normalize(connector, r))
                        .collect();
                    if ready.send(done).is_err() {
                        return; // the linker stopped on an error
                    }
                }
            });
            for (chunk, chunk_norms) in records.chunks(NORMALIZE_CHUNK).zip(normalized) {
                let mut unseen: Vec<Key> = chunk_norms
                    .iter()
                    .flat_map(|n| n.keys.iter())
                    .filter(|k| !page.owner.contains_key(*k))
                    .cloned()
                    .collect();
                unseen.sort_unstable();
                unseen.dedup();
                let found = tx.find_keys(&unseen)?;
                page.owner.extend(found);
                for (record, norm) in chunk.iter().zip(&chunk_norms) {
                    links.push(page.link(tx, connector, record, norm, now)?);
                }
                norms.extend(chunk_norms);
            }
            Ok(())
        })?;

        let missing: Vec<PersonId> = page
            .touched
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(id, _)| *id)
            .collect();
        for person in tx.load_persons(&missing)? {
            page.touched.insert(person.id, Some(person));
        }
        let mut persons: BTreeMap<PersonId, Person> = BTreeMap::new();
        for (id, person) in page.touched {
            let person = person
                .ok_or_else(|| StoreError::Corrupt(format!("person {id} is linked but missing")))?;
            persons.insert(id, person);
        }
        let stage_is_floor = !self.unmerged_stages.iter().any(|c| c == connector);
        for ((record, norm), id) in records.iter().zip(norms).zip(&links) {
            let person = persons.get_mut(id).expect("every link was loaded above");
            let from = Provenance {
                connector: connector.to_string(),
                locator: record.locator.to_string(),
                observed_at: record.observed_at,
            };
            let values = norm.values.into_iter();
            if stage_is_floor {
                self.merger.merge(person, values, from);
            } else {
                let values = values.filter(|(f, _)| *f != Field::CrmStage);
                self.merger.merge(person, values, from);
            }
            person.updated_at = now;
        }

        let mut stats = page.stats;
        stats.records = records.len() as u64;
        // In the order linked: sorting them first cost more than it saved SQLite (measured with
        // 16 KiB pages and a 64 MiB cache, where the key index stays in memory).
        tx.insert_keys(&page.new_keys)?;
        let linked: Vec<(&SourceRecord, PersonId)> = records.iter().zip(links).collect();
        tx.upsert_records(connector, &linked)?;
        Ok(ResolvedPage {
            persons: persons.into_values().collect(),
            stats,
        })
    }
}

/// The identity state of one page while its records are linked in order.
struct PageLinks {
    /// Key → person, from the store and from the records linked so far.
    owner: KeyMap<PersonId>,
    new_keys: Vec<(Key, PersonId)>,
    /// Whether a person holds an id of a CRM (looked up once per person and CRM).
    crm_holders: HashMap<(PersonId, &'static str), bool>,
    /// Persons linked in this page; `None` until loaded from the store.
    touched: BTreeMap<PersonId, Option<Person>>,
    stats: ResolveStats,
}

impl PageLinks {
    fn link(
        &mut self,
        tx: &mut dyn StoreTx,
        connector: &str,
        record: &SourceRecord,
        norm: &Normalized,
        now: DateTime<Utc>,
    ) -> Result<PersonId, StoreError> {
        let hits: Vec<(&Key, Option<PersonId>)> = norm
            .keys
            .iter()
            .map(|k| (k, self.owner.get(k).copied()))
            .collect();
        // No lookup of the record itself is needed: a CRM record is found by its id key, and a
        // file row past its committed cursor cannot have been stored (page and cursor commit
        // together).
        let mut chosen = None;
        if let Some((key, Some(p))) = hits.iter().find(|(_, p)| p.is_some()) {
            chosen = Some(*p);
            // A new id of a CRM arriving on a person who already holds another id of the same
            // CRM is a different CRM record: keep them apart and ask for review. (A CRM record
            // carries its own id; a dropped export may carry one in its id column.)
            for (new, _) in hits.iter().filter(|(k, p)| p.is_none() && is_crm(k.kind)) {
                if new.kind != key.kind && self.holds_crm_id(tx, *p, new.kind)? {
                    chosen = None;
                    break;
                }
            }
        }
        let person_id = match chosen {
            Some(p) => p,
            None => {
                let id = tx.next_person_id()?;
                self.touched.insert(id, Some(Person::new(id, now)));
                self.stats.persons_created += 1;
                id
            }
        };
        for (key, holder) in hits {
            match holder {
                None => {
                    self.owner.insert(key.clone(), person_id);
                    self.new_keys.push((key.clone(), person_id));
                    if is_crm(key.kind) {
                        self.crm_holders.insert((person_id, key.kind), true);
                    }
                }
                Some(p) if p == person_id => {}
                Some(other) => {
                    tx.add_conflict(&Conflict {
                        connector: connector.to_string(),
                        locator: record.locator.key(),
                        key_kind: key.kind.to_string(),
                        key_value: key.value.clone(),
                        person: person_id,
                        other_person: other,
                        reason: conflict_reason(key, other),
                        at: now,
                    })?;
                    self.stats.conflicts += 1;
                }
            }
        }
        self.touched.entry(person_id).or_insert(None);
        Ok(person_id)
    }

    fn holds_crm_id(
        &mut self,
        tx: &mut dyn StoreTx,
        person: PersonId,
        kind: &'static str,
    ) -> Result<bool, StoreError> {
        let entry = (person, kind);
        if let Some(known) = self.crm_holders.get(&entry) {
            return Ok(*known);
        }
        let holds = !tx.crm_ids_of(person, kind)?.is_empty();
        self.crm_holders.insert(entry, holds);
        Ok(holds)
    }
}

/// Whether a key kind is the record ids of a CRM connector (`crm:hubspot`).
fn is_crm(kind: &str) -> bool {
    kind.starts_with(CRM_PREFIX)
}

fn conflict_reason(key: &Key, other: PersonId) -> String {
    if is_crm(key.kind) {
        format!("{} id {} belongs to person {other}", key.kind, key.value)
    } else {
        format!(
            "{} {} already belongs to person {other}; not merged automatically",
            key.kind, key.value
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SqliteStore, prelude::*};
    use leadsync_connector_core::{Field, Locator};

    fn file_row(row: u64, values: &[(Field, &str)]) -> SourceRecord {
        SourceRecord {
            locator: Locator::File {
                hash: "h".into(),
                name: "f.csv".into(),
                row,
            },
            observed_at: Utc::now(),
            values: values
                .iter()
                .map(|(f, v)| (f.clone(), v.to_string()))
                .collect(),
            archived: false,
        }
    }

    fn crm_record(id: &str, email: &str) -> SourceRecord {
        SourceRecord {
            locator: Locator::Crm { id: id.into() },
            observed_at: Utc::now(),
            values: vec![(Field::Email, email.into())],
            archived: false,
        }
    }

    fn apply(store: &mut SqliteStore, connector: &str, records: &[SourceRecord]) -> ResolveStats {
        // The `sheets` connector's files carry HubSpot record ids in `Record ID`.
        let ids = HashMap::from([(
            "sheets".to_string(),
            ("hubspot".to_string(), Field::Custom("record_id".into())),
        )]);
        let resolver =
            Resolver::new(&IdentityConfig::default(), &MergeConfig::default()).with_crm_ids(ids);
        let mut tx = store.begin().unwrap();
        let page = resolver
            .apply_page(tx.as_mut(), connector, records, Utc::now())
            .unwrap();
        // Unqualified: these tests are about linking.
        tx.save_persons(&page.persons.iter().collect::<Vec<_>>())
            .unwrap();
        tx.commit().unwrap();
        page.stats
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn keys_claimed_earlier_in_a_page_link_later_records() {
        let (_d, mut store) = store();
        let stats = apply(
            &mut store,
            "sheets",
            &[
                file_row(
                    2,
                    &[(Field::Email, "a@x.io"), (Field::Phone, "+1 415 555 0100")],
                ),
                file_row(
                    3,
                    &[(Field::Phone, "(415) 555-0100"), (Field::Email, "a2@x.io")],
                ),
                file_row(4, &[(Field::Email, "A2@X.IO")]),
            ],
        );
        assert_eq!((stats.persons_created, stats.conflicts), (1, 0));
        let person = store.person(1).unwrap().unwrap();
        assert_eq!(person.fields[&Field::Email].len(), 2);
        assert_eq!(store.records_of(1).unwrap().len(), 3);
    }

    #[test]
    fn a_record_joining_two_persons_is_a_conflict_not_a_merge() {
        let (_d, mut store) = store();
        apply(
            &mut store,
            "sheets",
            &[
                file_row(2, &[(Field::Email, "a@x.io")]),
                file_row(
                    3,
                    &[(Field::Phone, "+1 415 555 0100"), (Field::FirstName, "B")],
                ),
            ],
        );
        // GIVEN two persons; WHEN a record carries the email of one and the phone of the other
        let stats = apply(
            &mut store,
            "sheets",
            &[file_row(
                4,
                &[(Field::Email, "a@x.io"), (Field::Phone, "415-555-0100")],
            )],
        );
        // THEN it joins the stronger match (email), the phone stays with its owner, and the
        // disagreement waits for review on both persons
        assert_eq!((stats.persons_created, stats.conflicts), (0, 1));
        assert_eq!(store.person_count().unwrap(), 2);
        assert_eq!(
            store.person_by_key("phone", "+14155550100").unwrap(),
            Some(2)
        );
        let conflicts = store.conflicts_of(2).unwrap();
        assert_eq!(conflicts.len(), 1);
        assert_eq!((conflicts[0].person, conflicts[0].other_person), (1, 2));
        assert!(
            conflicts[0].reason.contains("already belongs to person 2"),
            "{}",
            conflicts[0].reason
        );
        // The same record again records nothing new.
        apply(
            &mut store,
            "sheets",
            &[file_row(
                4,
                &[(Field::Email, "a@x.io"), (Field::Phone, "415-555-0100")],
            )],
        );
        assert_eq!(store.conflicts_of(1).unwrap().len(), 1);
    }

    #[test]
    fn two_ids_of_one_crm_are_never_merged_and_ids_stay_stable() {
        let (_d, mut store) = store();
        apply(&mut store, "hubspot", &[crm_record("101", "x@acme.io")]);
        // A different HubSpot record with the same email is another person, flagged for review.
        let stats = apply(&mut store, "hubspot", &[crm_record("202", "x@acme.io")]);
        assert_eq!((stats.persons_created, stats.conflicts), (1, 1));
        assert_eq!(store.person_by_key("crm:hubspot", "202").unwrap(), Some(2));
        // The first record changing its email stays the same person: its id decides.
        apply(&mut store, "hubspot", &[crm_record("101", "new@acme.io")]);
        assert_eq!(
            store.person_by_key("email", "new@acme.io").unwrap(),
            Some(1)
        );
        assert_eq!(store.person_count().unwrap(), 2);
        // Another connector's record with that email joins person 1 (no HubSpot id involved).
        apply(
            &mut store,
            "sheets",
            &[file_row(9, &[(Field::Email, "new@acme.io")])],
        );
        assert_eq!(store.person_count().unwrap(), 2);
        assert_eq!(store.records_of(1).unwrap().len(), 2);
    }

    #[test]
    fn a_dropped_export_links_by_record_id_before_email() {
        let (_d, mut store) = store();
        apply(&mut store, "hubspot", &[crm_record("101", "x@acme.io")]);
        apply(&mut store, "hubspot", &[crm_record("202", "y@acme.io")]);
        let record_id = |id: &str| (Field::Custom("record_id".into()), id.to_string());
        let mut row = file_row(2, &[(Field::Email, "x.new@acme.io")]);
        row.values.push(record_id("101"));
        // A row of an inbox without `crm_ids` links by email only: its id column is a custom field.
        let other = SourceRecord {
            locator: Locator::File {
                hash: "other".into(),
                name: "g.csv".into(),
                row: 2,
            },
            ..row.clone()
        };
        let stats = apply(&mut store, "sheets", &[row]);
        assert_eq!((stats.persons_created, stats.conflicts), (0, 0));
        assert_eq!(
            store.records_of(1).unwrap().len(),
            2,
            "linked to record 101's person"
        );
        assert_eq!(
            store.person_by_key("email", "x.new@acme.io").unwrap(),
            Some(1)
        );
        apply(&mut store, "drops", &[other]);
        assert_eq!(
            store.records_of(1).unwrap().len(),
            3,
            "by the email it now has"
        );
        assert_eq!(store.person_by_key("crm:drops", "101").unwrap(), None);

        // A row naming a record not pulled yet creates its person; the pull then joins it.
        let mut row = file_row(3, &[(Field::Email, "z@acme.io")]);
        row.values.push(record_id("303"));
        assert_eq!(apply(&mut store, "sheets", &[row]).persons_created, 1);
        let stats = apply(
            &mut store,
            "hubspot",
            &[crm_record("303", "z.other@acme.io")],
        );
        assert_eq!((stats.persons_created, stats.conflicts), (0, 0));
        assert_eq!(store.person_by_key("crm:hubspot", "303").unwrap(), Some(3));
        assert_eq!(store.records_of(3).unwrap().len(), 2);

        // A row whose id is new but whose email belongs to record 202's person is another
        // HubSpot record: never merged into 202's person, flagged for review.
        let mut row = file_row(4, &[(Field::Email, "y@acme.io")]);
        row.values.push(record_id("404"));
        let stats = apply(&mut store, "sheets", &[row]);
        assert_eq!((stats.persons_created, stats.conflicts), (1, 1));
        assert_eq!(store.person_by_key("crm:hubspot", "404").unwrap(), Some(4));
        assert_eq!(store.person_by_key("email", "y@acme.io").unwrap(), Some(2));
    }

    #[test]
    fn a_crm_merge_moves_the_link_to_the_survivors_new_id() {
        let (_d, mut store) = store();
        apply(&mut store, "hubspot", &[crm_record("101", "x@acme.io")]);
        // HubSpot merged 101 into a survivor with a new id (and another email).
        let mut survivor = crm_record("303", "x.other@acme.io");
        survivor.values.push((
            Field::Custom("hs_merged_object_ids".into()),
            "101;202".into(),
        ));
        let stats = apply(&mut store, "hubspot", &[survivor]);
        assert_eq!((stats.persons_created, stats.conflicts), (0, 0));
        assert_eq!(store.person_by_key("crm:hubspot", "303").unwrap(), Some(1));
        assert_eq!(
            store.person_by_key("crm:hubspot", "202").unwrap(),
            Some(1),
            "every merged id points here"
        );
        assert_eq!(store.person_count().unwrap(), 1);
    }
}
