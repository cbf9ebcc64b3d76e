use super::keyfilter::KeyFilter;
use super::{KeyState, person_from, read_cursor, to_json, ts};
use crate::model::{Key, KeyMap, Person, PersonId};
use crate::store::{Conflict, StoreError, StoreEvent, StoreTx, TierChange};
use leadsync_connector_core::Tier;
use leadsync_connector_core::{Cursor, RecordReject, SourceRecord};
use rusqlite::{Connection, ToSql, Transaction, params, params_from_iter};
use std::collections::BTreeMap;

/// Rows per multi-row statement: one statement per 100 rows costs a fraction of 100 statements,
/// and stays far below SQLite's limit on bound parameters.
const ROWS_PER_STATEMENT: usize = 100;

/// `?, ?, ?`
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// `(?, ?), (?, ?)`: `n` rows of `width` parameters.
fn rows_of(width: usize, n: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; n].join(", ")
}

/// Writes `rows` as multi-row statements, [`ROWS_PER_STATEMENT`] rows each: `head VALUES (…), …
/// tail`, where `head` names the table and columns and `tail` is an `ON CONFLICT` clause or
/// empty. `own` makes the values a row's parameters need computed (JSON, timestamps); `bind`
/// lists a row's `W` parameters from the row and those values.
///
/// Heads say `INSERT OR FAIL`: a failed statement fails its whole transaction anyway (it is
/// never committed), and unlike the default `ABORT` it spares SQLite a statement journal, a copy
/// of every page the statement touches.
fn insert_rows<T, O, const W: usize>(
    tx: &Transaction<'_>,
    head: &str,
    tail: &str,
    rows: &[T],
    own: impl Fn(&T) -> O,
    bind: impl for<'r> Fn(&'r T, &'r O) -> [&'r dyn ToSql; W],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!("{head} VALUES {} {tail}", rows_of(W, chunk.len()));
        let owned: Vec<O> = chunk.iter().map(&own).collect();
        let params: Vec<&dyn ToSql> = chunk
            .iter()
            .zip(&owned)
            .flat_map(|(row, values)| bind(row, values))
            .collect();
        tx.prepare_cached(&sql)?.execute(&params[..])?;
    }
    Ok(())
}

/// A person's ids of one CRM. The range repeats the condition of the partial index
/// `identity_keys_crm_person`: that is how SQLite knows it may use the index.
pub(super) const CRM_IDS_OF: &str = "SELECT value FROM identity_keys WHERE person_id = ?1 \
     AND kind = ?2 AND kind >= 'crm:' AND kind < 'crm;'";

pub(super) struct SqliteTx<'c> {
    tx: Transaction<'c>,
    /// The next person id to hand out; read once per transaction (SQLite has one writer).
    next_id: Option<PersonId>,
    keys: &'c mut KeyState,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn begin(
        conn: &'c mut Connection,
        keys: &'c mut KeyState,
    ) -> Result<Self, StoreError> {
        // IMMEDIATE: take the write lock now, so a concurrent writer waits here (busy_timeout)
        // rather than failing half-way through a page.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another connection committed since this one last looked: the key filter may lack
        // its keys. (No one else can commit while this transaction holds the write lock.)
        let version: i64 = tx.pragma_query_value(None, "data_version", |r| r.get(0))?;
        if version != keys.data_version {
            keys.filter = None;
            keys.data_version = version;
        }
        Ok(SqliteTx {
            tx,
            next_id: None,
            keys,
        })
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

    fn find_keys(&mut self, keys: &[Key]) -> Result<KeyMap<PersonId>, StoreError> {
        if self.keys.filter.as_ref().is_none_or(KeyFilter::is_full) {
            self.keys.filter = Some(KeyFilter::build(&self.tx)?);
        }
        let filter = self.keys.filter.as_ref().expect("built above");
        let mut by_kind: BTreeMap<&'static str, Vec<&str>> = BTreeMap::new();
        // Only keys the store may hold are looked up.
        for k in keys.iter().filter(|k| filter.may_contain(k.kind, &k.value)) {
            by_kind.entry(k.kind).or_default().push(&k.value);
        }
        let mut found = KeyMap::with_capacity_and_hasher(keys.len(), Default::default());
        for (kind, values) in by_kind {
            for chunk in values.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "SELECT value, person_id FROM identity_keys WHERE kind = ? AND value IN ({})",
                    placeholders(chunk.len())
                );
                let mut stmt = self.tx.prepare_cached(&sql)?;
                let params = std::iter::once(&kind).chain(chunk.iter());
                let mut rows = stmt.query(params_from_iter(params))?;
                while let Some(row) = rows.next()? {
                    let key = Key {
                        kind,
                        value: row.get(0)?,
                    };
                    found.insert(key, row.get(1)?);
                }
            }
        }
        Ok(found)
    }

    fn insert_keys(&mut self, keys: &[(Key, PersonId)]) -> Result<(), StoreError> {
        if let Some(filter) = &mut self.keys.filter {
            for (key, _) in keys {
                filter.insert(key.kind, &key.value);
            }
        }
        insert_rows(
            &self.tx,
            "INSERT OR FAIL INTO identity_keys (kind, value, person_id)",
            "",
            keys,
            |_| (),
            |(key, person), ()| [&key.kind, &key.value, person],
        )
    }

    fn crm_ids_of(&mut self, person: PersonId, kind: &str) -> Result<Vec<String>, StoreError> {
        debug_assert!(kind.starts_with("crm:"), "{kind} is not a CRM key kind");
        let mut stmt = self.tx.prepare_cached(CRM_IDS_OF)?;
        let rows = stmt.query_map(params![person, kind], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn upsert_records(
        &mut self,
        connector: &str,
        records: &[(&SourceRecord, PersonId)],
    ) -> Result<(), StoreError> {
        insert_rows(
            &self.tx,
            "INSERT OR FAIL INTO source_records (connector, locator_key, locator, person_id, observed_at, archived, fields)",
            "ON CONFLICT (connector, locator_key) DO UPDATE SET locator = excluded.locator,
               person_id = excluded.person_id, observed_at = excluded.observed_at,
               archived = excluded.archived, fields = excluded.fields, pushed_tier = NULL",
            records,
            |(r, _)| {
                (
                    connector,
                    r.locator.key(),
                    to_json(&r.locator),
                    ts(&r.observed_at),
                    crate::model::json::values(&r.values),
                )
            },
            |(record, person), (connector, key, locator, observed, fields)| {
                [
                    connector,
                    key,
                    locator,
                    person,
                    observed,
                    &record.archived,
                    fields,
                ]
            },
        )
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

    fn load_persons(&mut self, ids: &[PersonId]) -> Result<Vec<Person>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT golden, rules_version FROM persons WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let mut stmt = self.tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(chunk.iter()))?;
            while let Some(row) = rows.next()? {
                out.push(person_from(&row.get::<_, String>(0)?, row.get(1)?)?);
            }
        }
        Ok(out)
    }

    fn save_persons(&mut self, persons: &[&Person]) -> Result<(), StoreError> {
        insert_rows(
            &self.tx,
            "INSERT OR FAIL INTO persons (id, golden, tier, created_at, updated_at, rules_version)",
            "ON CONFLICT (id) DO UPDATE SET golden = excluded.golden, tier = excluded.tier,
               updated_at = excluded.updated_at, rules_version = excluded.rules_version",
            persons,
            |p| {
                (
                    crate::model::json::person(p),
                    p.tier.map(|t| t.as_str()),
                    ts(&p.created_at),
                    ts(&p.updated_at),
                )
            },
            |p, (golden, tier, created, updated)| {
                [&p.id, golden, tier, created, updated, &p.rules_version]
            },
        )
    }

    fn mark_qualified(&mut self, ids: &[PersonId], version: &str) -> Result<(), StoreError> {
        for chunk in ids.chunks(ROWS_PER_STATEMENT * 5) {
            let sql = format!(
                "UPDATE persons SET rules_version = ? WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let params = std::iter::once(&version as &dyn ToSql)
                .chain(chunk.iter().map(|id| id as &dyn ToSql));
            self.tx
                .prepare_cached(&sql)?
                .execute(params_from_iter(params))?;
        }
        Ok(())
    }

    fn crm_records_of(
        &mut self,
        person: PersonId,
        connector: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT locator_key, fields, pushed_tier FROM source_records
             WHERE person_id = ?1 AND connector = ?2 AND archived = 0 AND locator LIKE '{\"kind\":\"crm\"%'",
        )?;
        let rows = stmt.query_map(params![person, connector], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, fields, pushed) = row?;
            // What leadsync set since the last pull is what the record holds now.
            if pushed.is_some() {
                out.push((id, pushed));
                continue;
            }
            let values: Vec<(leadsync_connector_core::Field, String)> = super::json(&fields)?;
            let stage = values
                .into_iter()
                .find(|(f, _)| *f == leadsync_connector_core::Field::CrmStage)
                .map(|(_, v)| v);
            out.push((id, stage));
        }
        Ok(out)
    }

    fn push_entry(
        &mut self,
        connector: &str,
        record_id: &str,
    ) -> Result<Option<(Tier, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT tier, status FROM outbox WHERE connector = ?1 AND record_id = ?2",
        )?;
        let mut rows = stmt.query(params![connector, record_id])?;
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        let tier = super::parse_tier(Some(row.get(0)?))?.expect("some in, some out");
        Ok(Some((tier, row.get(1)?)))
    }

    fn keep_downgrade(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = ts(&chrono::Utc::now());
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO outbox (connector, record_id, person_id, tier, status, attempts, reason, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'kept', 0, ?5, ?6, ?6)
             ON CONFLICT (connector, record_id) DO UPDATE SET person_id = ?3, tier = ?4,
               status = 'kept', attempts = 0, reason = ?5, updated_at = ?6
             WHERE outbox.status != 'kept' OR outbox.tier != excluded.tier OR outbox.reason IS NOT excluded.reason",
        )?;
        stmt.execute(params![
            connector,
            record_id,
            person,
            tier.as_str(),
            reason,
            now
        ])?;
        Ok(())
    }

    fn plan_push(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
    ) -> Result<(), StoreError> {
        let now = ts(&chrono::Utc::now());
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO outbox (connector, record_id, person_id, tier, status, attempts, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5)
             ON CONFLICT (connector, record_id) DO UPDATE SET person_id = ?3, tier = ?4,
               status = 'pending', attempts = 0, reason = NULL, updated_at = ?5
             WHERE outbox.tier != excluded.tier OR outbox.status IN ('done', 'kept')",
        )?;
        stmt.execute(params![connector, record_id, person, tier.as_str(), now])?;
        Ok(())
    }

    fn close_kept(&mut self, connector: &str, record_id: &str) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE outbox SET status = 'done', reason = NULL, updated_at = ?3
             WHERE connector = ?1 AND record_id = ?2 AND status = 'kept'",
        )?;
        stmt.execute(params![connector, record_id, ts(&chrono::Utc::now())])?;
        Ok(())
    }

    fn add_tier_changes(&mut self, changes: &[TierChange]) -> Result<(), StoreError> {
        insert_rows(
            &self.tx,
            "INSERT OR FAIL INTO tier_history (person_id, from_tier, to_tier, rule, rules_version, evidence, at)",
            "",
            changes,
            |c| {
                (
                    c.from.map(|t| t.as_str()),
                    c.to.as_str(),
                    to_json(&c.evidence),
                    ts(&c.at),
                )
            },
            |c, (from, to, evidence, at)| {
                [&c.person, from, to, &c.rule, &c.rules_version, evidence, at]
            },
        )
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
