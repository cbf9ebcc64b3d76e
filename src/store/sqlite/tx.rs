use super::{read_cursor, read_person, to_json, ts};
use crate::model::{Person, PersonId};
use crate::store::{Conflict, StoreError, StoreEvent, StoreTx, TierChange};
use leadsync_connector_core::{Cursor, RecordReject, SourceRecord};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub(super) struct SqliteTx<'c> {
    tx: Transaction<'c>,
    /// The next person id to hand out; read once per transaction (SQLite has one writer).
    next_id: Option<PersonId>,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn begin(conn: &'c mut Connection) -> Result<Self, StoreError> {
        // IMMEDIATE: take the write lock now, so a concurrent writer waits here (busy_timeout)
        // rather than failing half-way through a page.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Ok(SqliteTx { tx, next_id: None })
    }
}

impl StoreTx for SqliteTx<'_> {
    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        read_cursor(&self.tx, connector, stream)
    }

    fn put_cursor(&mut self, connector: &str, cursor: &Cursor) -> Result<(), StoreError> {
        if let Some(stored) = read_cursor(&self.tx, connector, &cursor.stream)?
            && !stored.allows(cursor)
        {
            return Err(StoreError::CursorRegression {
                connector: connector.to_string(),
                stream: cursor.stream.clone(),
                stored: format!(
                    "v{} {:?} finished={}",
                    stored.version, stored.position, stored.finished
                ),
                offered: format!(
                    "v{} {:?} finished={}",
                    cursor.version, cursor.position, cursor.finished
                ),
            });
        }
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO cursors (connector, stream, version, pos_a, pos_b, finished, state, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (connector, stream) DO UPDATE SET version = ?3, pos_a = ?4, pos_b = ?5,
               finished = ?6, state = ?7, updated_at = ?8",
        )?;
        stmt.execute(params![
            connector,
            cursor.stream,
            cursor.version,
            cursor.position.0 as i64,
            cursor.position.1 as i64,
            cursor.finished,
            cursor.state,
            ts(&chrono::Utc::now()),
        ])?;
        Ok(())
    }

    fn find_key(&mut self, kind: &str, value: &str) -> Result<Option<PersonId>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT person_id FROM identity_keys WHERE kind = ?1 AND value = ?2")?;
        Ok(stmt
            .query_row(params![kind, value], |r| r.get(0))
            .optional()?)
    }

    fn insert_key(&mut self, kind: &str, value: &str, person: PersonId) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO identity_keys (kind, value, person_id) VALUES (?1, ?2, ?3)",
        )?;
        stmt.execute(params![kind, value, person])?;
        Ok(())
    }

    fn keys_of(&mut self, person: PersonId, kind: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT value FROM identity_keys WHERE person_id = ?1 AND kind = ?2")?;
        let rows = stmt.query_map(params![person, kind], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn upsert_record(
        &mut self,
        connector: &str,
        record: &SourceRecord,
        person: PersonId,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO source_records (connector, locator_key, locator, person_id, observed_at, archived, fields)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (connector, locator_key) DO UPDATE SET locator = ?3, person_id = ?4,
               observed_at = ?5, archived = ?6, fields = ?7",
        )?;
        stmt.execute(params![
            connector,
            record.locator.key(),
            to_json(&record.locator),
            person,
            ts(&record.observed_at),
            record.archived,
            to_json(&record.values),
        ])?;
        Ok(())
    }

    fn next_person_id(&mut self) -> Result<PersonId, StoreError> {
        let next = match self.next_id {
            Some(n) => n,
            None => {
                self.tx
                    .query_row("SELECT coalesce(max(id), 0) FROM persons", [], |r| {
                        r.get::<_, i64>(0)
                    })?
                    + 1
            }
        };
        self.next_id = Some(next + 1);
        Ok(next)
    }

    fn load_person(&mut self, id: PersonId) -> Result<Option<Person>, StoreError> {
        read_person(&self.tx, id)
    }

    fn save_person(&mut self, person: &Person) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO persons (id, golden, tier, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET golden = ?2, tier = ?3, updated_at = ?5",
        )?;
        stmt.execute(params![
            person.id,
            to_json(person),
            person.tier.map(|t| t.as_str()),
            ts(&person.created_at),
            ts(&person.updated_at),
        ])?;
        Ok(())
    }

    fn add_tier_change(&mut self, c: &TierChange) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO tier_history (person_id, from_tier, to_tier, rule, rules_version, evidence, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        stmt.execute(params![
            c.person,
            c.from.map(|t| t.as_str()),
            c.to.as_str(),
            c.rule,
            c.rules_version,
            to_json(&c.evidence),
            ts(&c.at),
        ])?;
        Ok(())
    }

    fn add_conflict(&mut self, c: &Conflict) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO conflicts (connector, locator, key_kind, key_value, person_id, other_person_id, reason, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (connector, locator, key_kind, key_value) DO NOTHING",
        )?;
        stmt.execute(params![
            c.connector,
            c.locator,
            c.key_kind,
            c.key_value,
            c.person,
            c.other_person,
            c.reason,
            ts(&c.at)
        ])?;
        Ok(())
    }

    fn add_reject(
        &mut self,
        connector: &str,
        stream: &str,
        r: &RecordReject,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO rejects (connector, stream, locator_key, locator, reason, cells, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (connector, locator_key) DO UPDATE SET reason = ?5, cells = ?6",
        )?;
        stmt.execute(params![
            connector,
            stream,
            r.locator.key(),
            to_json(&r.locator),
            r.reason,
            to_json(&r.cells),
            ts(&chrono::Utc::now()),
        ])?;
        Ok(())
    }

    fn add_event(&mut self, e: &StoreEvent) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO events (connector, stream, kind, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![e.connector, e.stream, e.kind, e.detail, ts(&e.at)])?;
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit()?;
        Ok(())
    }
}
