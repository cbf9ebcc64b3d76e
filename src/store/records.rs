//! Source records, rejects, cursors and connectors' saved state.

use super::{StoreError, StoredRecord};
use crate::model::PersonId;
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Cursor, RecordReject, SourceRecord};
use std::collections::HashMap;

/// CRM records by person: each record's id and the stage it holds as far as leadsync knows.
pub type CrmRecordsByPerson = HashMap<PersonId, Vec<(String, Option<String>)>>;

/// Reading records and cursors outside a transaction (read-only, each call a snapshot of the
/// last committed state), and a connector's saved state.
pub trait RecordStore {
    /// The committed cursor of a stream. A connector resumes from it; pages up to it were
    /// committed together with it.
    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError>;
    /// Every reject of a stream, in row order.
    fn rejects(&mut self, connector: &str, stream: &str) -> Result<Vec<RecordReject>, StoreError>;
    /// A person's source records, oldest observation first.
    fn records_of(&mut self, person: PersonId) -> Result<Vec<StoredRecord>, StoreError>;
    /// When each of these records (by locator key) was last observed and whether it is archived,
    /// for those stored.
    fn observed_at(
        &mut self,
        connector: &str,
        locator_keys: &[String],
    ) -> Result<HashMap<String, (DateTime<Utc>, bool)>, StoreError>;
    /// Whether any record of `connector` is stored.
    fn holds_records(&mut self, connector: &str) -> Result<bool, StoreError>;

    /// A connector's saved state value (`None` when never saved).
    fn connector_state(&mut self, connector: &str, key: &str)
    -> Result<Option<String>, StoreError>;
    /// Saves (or, with `None`, removes) a connector state value; committed at once, on its own
    /// (not part of any page's transaction).
    fn set_connector_state(
        &mut self,
        connector: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError>;
}

/// Writing a page, inside a [`StoreTx`](super::StoreTx): the records, their rejects and the
/// cursor that covers them are committed together or not at all.
pub trait RecordTx {
    /// The cursor as this transaction sees it (its own `put_cursor` included).
    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError>;
    /// Stores a cursor, refusing one that moves backwards ([`Cursor::allows`]) with
    /// [`StoreError::CursorRegression`]: the caller must then drop the transaction, so the page
    /// it carries is not written either. Called last, after the page's data.
    fn put_cursor(&mut self, connector: &str, cursor: &Cursor) -> Result<(), StoreError>;
    /// Inserts or replaces source records (keyed by connector and locator), each linked to its
    /// person. A replaced record forgets the stage a push applied to it (it was pulled again).
    /// A row of a dropped file is stored once, by the transaction that moves its stream's
    /// cursor past it: a backend may insert such rows without looking for a stored one, and
    /// refuse one stored already with a constraint error (PostgreSQL does).
    fn upsert_records(
        &mut self,
        connector: &str,
        records: &[(&SourceRecord, PersonId)],
    ) -> Result<(), StoreError>;
    /// The CRM records of `connector` linked to a person, with the stage each holds as far as
    /// leadsync knows: the tier a push applied since the record was last pulled, else the stage
    /// the record last reported.
    fn crm_records_of(
        &mut self,
        person: PersonId,
        connector: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError>;
    /// [`Self::crm_records_of`] for many persons at once (a backend with round trips answers
    /// in one), by person; a person without records has no entry.
    fn crm_records_of_many(
        &mut self,
        persons: &[PersonId],
        connector: &str,
    ) -> Result<CrmRecordsByPerson, StoreError> {
        let mut out = std::collections::HashMap::new();
        for &p in persons {
            let records = self.crm_records_of(p, connector)?;
            if !records.is_empty() {
                out.insert(p, records);
            }
        }
        Ok(out)
    }
    /// Stores a reject; the same row rejected twice is kept once.
    fn add_reject(
        &mut self,
        connector: &str,
        stream: &str,
        reject: &RecordReject,
    ) -> Result<(), StoreError>;
}
