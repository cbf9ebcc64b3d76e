//! The contact records and the write rules HubSpot applies to them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::lifecycle;

/// A snapshot of one contact, for tests and the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The record id (numeric, as a string, as on the wire).
    pub id: String,
    /// Every set property, including `hs_object_id`, `createdate` and `lastmodifieddate`.
    pub properties: BTreeMap<String, String>,
    /// Creation time, epoch milliseconds.
    pub created_at: i64,
    /// Last successful write, epoch milliseconds.
    pub updated_at: i64,
    /// Deleted (in HubSpot's recycling bin).
    pub archived: bool,
}

/// Properties HubSpot computes itself; writing them is a validation error.
pub(crate) const READ_ONLY: [&str; 4] = [
    "hs_object_id",
    "createdate",
    "lastmodifieddate",
    "hs_merged_object_ids",
];

/// Wall-clock now in epoch milliseconds, the unit of every date on the wire.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One contact as stored.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) id: u64,
    pub(crate) props: BTreeMap<String, String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) archived_at: Option<i64>,
    /// Search's index catches up with the last write at this instant.
    visible_from: Instant,
}

impl Record {
    pub(crate) fn archived(&self) -> bool {
        self.archived_at.is_some()
    }

    /// Whether search shows it: not archived, and indexed since its last write.
    pub(crate) fn searchable(&self) -> bool {
        !self.archived() && Instant::now() >= self.visible_from
    }

    pub(crate) fn snapshot(&self) -> Contact {
        Contact {
            id: self.id.to_string(),
            properties: self.props.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived: self.archived(),
        }
    }

    fn touch(&mut self, now: i64, lag: Duration) {
        self.updated_at = now;
        self.props
            .insert("lastmodifieddate".into(), now.to_string());
        self.visible_from = Instant::now() + lag;
    }
}

/// All contacts of the account, plus the ids that merges retired.
#[derive(Debug)]
pub(crate) struct Store {
    records: BTreeMap<u64, Record>,
    /// Retired id → the id it was merged into (follow until it is a record).
    aliases: BTreeMap<u64, u64>,
    next_id: u64,
    search_lag: Duration,
    /// The lifecycle stages, `(value, label)`, in the account's order.
    pub(crate) stages: Vec<(String, String)>,
}

impl Store {
    pub(crate) fn new(search_lag: Duration) -> Self {
        Self {
            records: BTreeMap::new(),
            aliases: BTreeMap::new(),
            next_id: 1,
            search_lag,
            stages: lifecycle::default_stages(),
        }
    }

    /// A new contact written through HubSpot: subject to the search lag.
    pub(crate) fn insert(&mut self, props: BTreeMap<String, String>) -> u64 {
        let now = now_ms();
        self.insert_at(props, now, now, self.search_lag)
    }

    /// A contact that existed before the test began: given dates, already indexed.
    pub(crate) fn insert_seeded(
        &mut self,
        props: BTreeMap<String, String>,
        created: i64,
        modified: i64,
    ) -> u64 {
        self.insert_at(props, created, modified, Duration::ZERO)
    }

    fn insert_at(
        &mut self,
        mut props: BTreeMap<String, String>,
        created: i64,
        modified: i64,
        lag: Duration,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        props.retain(|k, v| !v.is_empty() && !READ_ONLY.contains(&k.as_str()));
        if props
            .get("lifecyclestage")
            .is_some_and(|s| !lifecycle::accepts(&self.stages, None, s))
        {
            props.remove("lifecyclestage");
        }
        props.insert("hs_object_id".into(), id.to_string());
        props.insert("createdate".into(), created.to_string());
        props.insert("lastmodifieddate".into(), modified.to_string());
        let record = Record {
            id,
            props,
            created_at: created,
            updated_at: modified,
            archived_at: None,
            visible_from: Instant::now() + lag,
        };
        self.records.insert(id, record);
        id
    }

    /// Follows merges from `id` to a live record id.
    fn resolve(&self, mut id: u64) -> Option<u64> {
        while let Some(next) = self.aliases.get(&id) {
            id = *next;
        }
        self.records.contains_key(&id).then_some(id)
    }

    /// The record `key` names: a record id (merged ids resolve to the survivor), or the value of
    /// `id_property` (e.g. `email`, case-insensitive). Archived records included.
    pub(crate) fn find(&self, key: &str, id_property: Option<&str>) -> Option<u64> {
        match id_property {
            None | Some("hs_object_id") => self.resolve(key.trim().parse().ok()?),
            Some(prop) => self
                .records
                .values()
                .find(|r| {
                    r.props
                        .get(prop)
                        .is_some_and(|v| v.eq_ignore_ascii_case(key))
                })
                .map(|r| r.id),
        }
    }

    /// Like [`find`](Self::find), but archived records count as missing (as for the API).
    pub(crate) fn find_live(&self, key: &str, id_property: Option<&str>) -> Option<u64> {
        self.find(key, id_property)
            .filter(|id| self.records.get(id).is_some_and(|r| !r.archived()))
    }

    /// For the test helpers: a bad id is a bug in the test.
    pub(crate) fn expect(&self, key: &str) -> u64 {
        self.find(key, None)
            .unwrap_or_else(|| panic!("no contact with id {key}"))
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Record> {
        self.records.get(&id)
    }

    /// Records with id ≥ `from`, in id order.
    pub(crate) fn range(&self, from: u64) -> impl Iterator<Item = &Record> {
        self.records.range(from..).map(|(_, r)| r)
    }

    /// Applies a write with HubSpot's rules: read-only properties skipped, `""` clears, lifecycle
    /// stage forward only. Returns whether anything changed; only then is the record touched.
    pub(crate) fn apply(&mut self, id: u64, props: &BTreeMap<String, String>) -> bool {
        let lag = self.search_lag;
        let Some(record) = self.records.get_mut(&id) else {
            return false;
        };
        let mut changed = false;
        for (name, value) in props {
            if READ_ONLY.contains(&name.as_str()) {
                continue;
            }
            let current = record.props.get(name).map(String::as_str);
            if value.is_empty() {
                changed |= record.props.remove(name).is_some();
            } else if current != Some(value.as_str())
                && (name != "lifecyclestage" || lifecycle::accepts(&self.stages, current, value))
            {
                record.props.insert(name.clone(), value.clone());
                changed = true;
            }
        }
        if changed {
            record.touch(now_ms(), lag);
        }
        changed
    }

    pub(crate) fn set_modified(&mut self, id: u64, at_ms: i64) {
        if let Some(record) = self.records.get_mut(&id) {
            record.updated_at = at_ms;
            record
                .props
                .insert("lastmodifieddate".into(), at_ms.to_string());
        }
    }

    /// Archives (deletes) a record without touching `lastmodifieddate`.
    pub(crate) fn archive(&mut self, id: u64) {
        if let Some(record) = self.records.get_mut(&id) {
            record.archived_at.get_or_insert_with(now_ms);
        }
    }

    /// Brings an archived record back (HubSpot's restore from the recycling bin).
    pub(crate) fn restore(&mut self, id: u64) {
        if let Some(record) = self.records.get_mut(&id) {
            record.archived_at = None;
        }
    }

    /// Merges two records into a survivor with a fresh id: the primary's values win, the
    /// secondary fills gaps. Both old ids become aliases of the new one.
    pub(crate) fn merge(&mut self, primary: u64, secondary: u64) -> Option<u64> {
        let (p, s) = (self.resolve(primary)?, self.resolve(secondary)?);
        if p == s {
            return None;
        }
        let (primary, secondary) = (self.records.remove(&p)?, self.records.remove(&s)?);
        let mut merged: Vec<u64> = [&primary, &secondary]
            .iter()
            .flat_map(|r| r.props.get("hs_merged_object_ids").map(String::as_str))
            .flat_map(|ids| ids.split(';'))
            .filter_map(|id| id.trim().parse().ok())
            .chain([p, s])
            .collect();
        merged.sort_unstable();
        merged.dedup();
        let created = primary.created_at.min(secondary.created_at);
        let mut props = secondary.props;
        props.extend(primary.props);
        let id = self.insert_at(props, created, now_ms(), self.search_lag);
        let record = self.records.get_mut(&id)?;
        let list: Vec<String> = merged.iter().map(u64::to_string).collect();
        record
            .props
            .insert("hs_merged_object_ids".into(), list.join(";"));
        self.aliases.insert(p, id);
        self.aliases.insert(s, id);
        Some(id)
    }
}
