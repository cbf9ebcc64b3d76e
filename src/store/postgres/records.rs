//! Source records, rejects, cursors and connector state in PostgreSQL.

use super::PgStore;
use super::conn::Db;
use super::tx::PgTx;
use crate::model::PersonId;
use crate::store::codec::{check_cursor, json, parse_ts, to_json, ts};
use crate::store::{RecordStore, RecordTx, StoreError, StoredRecord};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Cursor, CursorPosition, Field, RecordReject, SourceRecord};
use std::collections::HashMap;

fn read_cursor(db: &Db, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
    Ok(db
        .query_opt(
            "SELECT version, pos_a, pos_b, finished, state FROM cursors WHERE connector = $1 AND stream = $2",
            &[&connector, &stream],
        )?
        .map(|r| cursor_at(&r, stream.to_string(), 0)))
}

/// The cursor of `stream` in a row's columns `version, pos_a, pos_b, finished, state` from
/// column `first` on.
pub(super) fn cursor_at(r: &tokio_postgres::Row, stream: String, first: usize) -> Cursor {
    Cursor {
        stream,
        version: r.get::<_, i64>(first) as u32,
        position: CursorPosition(
            r.get::<_, i64>(first + 1) as u64,
            r.get::<_, i64>(first + 2) as u64,
        ),
        finished: r.get(first + 3),
        state: r.get(first + 4),
    }
}

impl RecordStore for PgStore {
    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        read_cursor(&self.db, connector, stream)
    }

    fn rejects(&mut self, connector: &str, stream: &str) -> Result<Vec<RecordReject>, StoreError> {
        let mut out = self
            .db
            .query(
                "SELECT locator, reason, cells FROM rejects WHERE connector = $1 AND stream = $2 ORDER BY id",
                &[&connector, &stream],
            )?
            .into_iter()
            .map(|r| {
                Ok(RecordReject {
                    locator: json(r.get(0))?,
                    reason: r.get(1),
                    cells: json(r.get(2))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Row order, whatever order pages arrived in.
        out.sort_by_key(|r| match &r.locator {
            leadsync_connector_core::Locator::File { row, .. } => *row,
            leadsync_connector_core::Locator::Crm { .. } => 0,
        });
        Ok(out)
    }

    fn records_of(&mut self, person: PersonId) -> Result<Vec<StoredRecord>, StoreError> {
        self.db
            .query(
                "SELECT connector, locator, observed_at, archived, fields FROM source_records
                 WHERE person_id = $1 ORDER BY observed_at, id",
                &[&person],
            )?
            .into_iter()
            .map(|r| {
                Ok(StoredRecord {
                    connector: r.get(0),
                    locator: json(r.get(1))?,
                    observed_at: parse_ts(r.get(2))?,
                    archived: r.get(3),
                    values: json(r.get(4))?,
                })
            })
            .collect()
    }

    fn observed_at(
        &mut self,
        connector: &str,
        locator_keys: &[String],
    ) -> Result<HashMap<String, (DateTime<Utc>, bool)>, StoreError> {
        let mut out = HashMap::with_capacity(locator_keys.len());
        if locator_keys.is_empty() {
            return Ok(out);
        }
        for r in self.db.query(
            "SELECT locator_key, observed_at, archived FROM source_records
             WHERE connector = $1 AND locator_key = ANY($2)",
            &[&connector, &locator_keys],
        )? {
            out.insert(r.get::<_, String>(0), (parse_ts(r.get(1))?, r.get(2)));
        }
        Ok(out)
    }

    fn holds_records(&mut self, connector: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM source_records WHERE connector = $1)",
                &[&connector],
            )?
            .get(0))
    }

    fn connector_state(
        &mut self,
        connector: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_opt(
                "SELECT value FROM connector_state WHERE connector = $1 AND key = $2",
                &[&connector, &key],
            )?
            .map(|r| r.get(0)))
    }

    fn set_connector_state(
        &mut self,
        connector: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = ts(&Utc::now());
        self.fenced(|db| {
            match value {
                Some(v) => db.execute(
                    "INSERT INTO connector_state (connector, key, value, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (connector, key) DO UPDATE SET value = $3, updated_at = $4",
                    &[&connector, &key, &v, &now],
                )?,
                None => db.execute(
                    "DELETE FROM connector_state WHERE connector = $1 AND key = $2",
                    &[&connector, &key],
                )?,
            };
            Ok(())
        })
    }
}

impl RecordTx for PgTx<'_> {
    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        read_cursor(self.db, connector, stream)
    }

    fn put_cursor(&mut self, connector: &str, cursor: &Cursor) -> Result<(), StoreError> {
        let stored = read_cursor(self.db, connector, &cursor.stream)?;
        check_cursor(connector, stored.as_ref(), cursor)?;
        self.db.execute(
            "INSERT INTO cursors (connector, stream, version, pos_a, pos_b, finished, state, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (connector, stream) DO UPDATE SET version = $3, pos_a = $4, pos_b = $5,
               finished = $6, state = $7, updated_at = $8",
            &[
                &connector,
                &cursor.stream,
                &i64::from(cursor.version),
                &(cursor.position.0 as i64),
                &(cursor.position.1 as i64),
                &cursor.finished,
                &cursor.state,
                &ts(&chrono::Utc::now()),
            ],
        )?;
        Ok(())
    }

    /// Statements over arrays, [sent](Db::send): a failure comes back from a later call or the
    /// commit. A record offered twice in one call is written once, as it was offered last
    /// (PostgreSQL refuses to upsert one row twice in a statement). Rows of dropped files go in
    /// by a plain `INSERT`, a third cheaper for the server than the upsert CRM records need: a
    /// file row is stored once, in the transaction that moves its stream's cursor past it, so
    /// one stored already is a constraint error.
    fn upsert_records(
        &mut self,
        connector: &str,
        records: &[(&SourceRecord, PersonId)],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut last: HashMap<String, usize> = HashMap::with_capacity(records.len());
        for (i, (r, _)) in records.iter().enumerate() {
            last.insert(r.locator.key(), i);
        }
        let mut order: Vec<(String, usize)> = last.into_iter().collect();
        order.sort_by_key(|(_, i)| *i);
        let (rows, crm): (Vec<_>, Vec<_>) = order.into_iter().partition(|(_, i)| {
            matches!(
                records[*i].0.locator,
                leadsync_connector_core::Locator::File { .. }
            )
        });
        for (sql, chosen) in [(INSERT_RECORDS, rows), (UPSERT_RECORDS, crm)] {
            if chosen.is_empty() {
                continue;
            }
            let n = chosen.len();
            let (mut keys, mut locators, mut persons, mut observed, mut archived, mut fields) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for (key, i) in chosen {
                let (r, person) = records[i];
                keys.push(key);
                locators.push(to_json(&r.locator));
                persons.push(person);
                observed.push(ts(&r.observed_at));
                archived.push(r.archived);
                fields.push(crate::model::json::values(&r.values));
            }
            // Sent: the server writes the records while the page is qualified.
            self.db.send(
                sql,
                vec![
                    Box::new(connector.to_string()),
                    Box::new(keys),
                    Box::new(locators),
                    Box::new(persons),
                    Box::new(observed),
                    Box::new(archived),
                    Box::new(fields),
                ],
            )?;
        }
        Ok(())
    }

    fn crm_records_of_many(
        &mut self,
        persons: &[PersonId],
        connector: &str,
    ) -> Result<crate::store::CrmRecordsByPerson, StoreError> {
        let rows = self.db.query(
            "SELECT person_id, locator_key, fields, pushed_tier FROM source_records
             WHERE person_id = ANY($1) AND connector = $2 AND NOT archived
               AND locator LIKE '{\"kind\":\"crm\"%'
             ORDER BY person_id, locator_key",
            &[&persons, &connector],
        )?;
        let mut out = crate::store::CrmRecordsByPerson::new();
        for r in rows {
            let stage = match r.get::<_, Option<String>>(3) {
                Some(pushed) => Some(pushed),
                None => json::<Vec<(Field, String)>>(r.get(2))?
                    .into_iter()
                    .find(|(f, _)| *f == Field::CrmStage)
                    .map(|(_, v)| v),
            };
            out.entry(r.get(0)).or_default().push((r.get(1), stage));
        }
        Ok(out)
    }

    fn crm_records_of(
        &mut self,
        person: PersonId,
        connector: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows = self.db.query(
            "SELECT locator_key, fields, pushed_tier FROM source_records
             WHERE person_id = $1 AND connector = $2 AND NOT archived AND locator LIKE '{\"kind\":\"crm\"%'",
            &[&person, &connector],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.get(0);
            // What leadsync set since the last pull is what the record holds now.
            if let Some(pushed) = r.get::<_, Option<String>>(2) {
                out.push((id, Some(pushed)));
                continue;
            }
            let values: Vec<(Field, String)> = json(r.get(1))?;
            let stage = values
                .into_iter()
                .find(|(f, _)| *f == Field::CrmStage)
                .map(|(_, v)| v);
            out.push((id, stage));
        }
        Ok(out)
    }

    fn add_reject(
        &mut self,
        connector: &str,
        stream: &str,
        r: &RecordReject,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO rejects (connector, stream, locator_key, locator, reason, cells, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (connector, locator_key) DO UPDATE SET reason = $5, cells = $6",
            &[
                &connector,
                &stream,
                &r.locator.key(),
                &to_json(&r.locator),
                &r.reason,
                &to_json(&r.cells),
                &ts(&chrono::Utc::now()),
            ],
        )?;
        Ok(())
    }
}

/// Rows of dropped files, new by construction (see `upsert_records`).
const INSERT_RECORDS: &str = "INSERT INTO source_records (connector, locator_key, locator, person_id, observed_at, archived, fields)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bool[], $7::text[])";

/// CRM records, which a pull brings again whenever they change.
const UPSERT_RECORDS: &str = "INSERT INTO source_records (connector, locator_key, locator, person_id, observed_at, archived, fields)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bool[], $7::text[])
     ON CONFLICT (connector, locator_key) DO UPDATE SET locator = excluded.locator,
       person_id = excluded.person_id, observed_at = excluded.observed_at,
       archived = excluded.archived, fields = excluded.fields, pushed_tier = NULL";
