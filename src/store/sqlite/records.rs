//! Source records, rejects, cursors and connector state in SQLite.

use super::SqliteStore;
use super::codec::{insert_rows, json, parse_ts, query_all, to_json, ts};
use super::tx::SqliteTx;
use crate::model::PersonId;
use crate::store::codec::check_cursor;
use crate::store::{RecordStore, RecordTx, StoreError, StoredRecord};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Cursor, CursorPosition, RecordReject, SourceRecord};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

pub(super) fn read_cursor(
    conn: &Connection,
    connector: &str,
    stream: &str,
) -> Result<Option<Cursor>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, pos_a, pos_b, finished, state FROM cursors WHERE connector = ?1 AND stream = ?2",
    )?;
    let cursor = stmt
        .query_row(params![connector, stream], |r| {
            cursor_at(r, stream.to_string(), 0)
        })
        .optional()?;
    Ok(cursor)
}

/// The cursor of `stream` in a row's columns `version, pos_a, pos_b, finished, state` from
/// column `first` on.
pub(super) fn cursor_at(
    r: &rusqlite::Row<'_>,
    stream: String,
    first: usize,
) -> rusqlite::Result<Cursor> {
    Ok(Cursor {
        stream,
        version: r.get(first)?,
        position: CursorPosition(
            r.get::<_, i64>(first + 1)? as u64,
            r.get::<_, i64>(first + 2)? as u64,
        ),
        finished: r.get(first + 3)?,
        state: r.get(first + 4)?,
    })
}

impl RecordStore for SqliteStore {
    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        read_cursor(&self.conn, connector, stream)
    }

    fn rejects(&mut self, connector: &str, stream: &str) -> Result<Vec<RecordReject>, StoreError> {
        let mut out = query_all(
            &self.conn,
            "SELECT locator, reason, cells FROM rejects WHERE connector = ?1 AND stream = ?2 ORDER BY id",
            params![connector, stream],
            |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?)),
            |(locator, reason, cells)| {
                Ok(RecordReject {
                    locator: json(&locator)?,
                    reason,
                    cells: json(&cells)?,
                })
            },
        )?;
        // Row order, whatever order pages arrived in.
        out.sort_by_key(|r| match &r.locator {
            leadsync_connector_core::Locator::File { row, .. } => *row,
            leadsync_connector_core::Locator::Crm { .. } => 0,
        });
        Ok(out)
    }

    fn records_of(&mut self, person: PersonId) -> Result<Vec<StoredRecord>, StoreError> {
        records_of(&self.conn, person)
    }

    fn observed_at(
        &mut self,
        connector: &str,
        locator_keys: &[String],
    ) -> Result<HashMap<String, (DateTime<Utc>, bool)>, StoreError> {
        let mut out = HashMap::with_capacity(locator_keys.len());
        for chunk in locator_keys.chunks(500) {
            let sql = format!(
                "SELECT locator_key, observed_at, archived FROM source_records WHERE connector = ? AND locator_key IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let params = std::iter::once(connector).chain(chunk.iter().map(String::as_str));
            let rows = query_all(
                &self.conn,
                &sql,
                rusqlite::params_from_iter(params),
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                    ))
                },
                |(key, at, archived)| Ok((key, (parse_ts(&at)?, archived))),
            )?;
            out.extend(rows);
        }
        Ok(out)
    }

    fn holds_records(&mut self, connector: &str) -> Result<bool, StoreError> {
        // The unique index (connector, locator_key) answers this with one seek.
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM source_records WHERE connector = ?1)",
            [connector],
            |r| r.get(0),
        )?)
    }

    fn connector_state(
        &mut self,
        connector: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT value FROM connector_state WHERE connector = ?1 AND key = ?2",
        )?;
        Ok(stmt
            .query_row(params![connector, key], |r| r.get(0))
            .optional()?)
    }

    fn set_connector_state(
        &mut self,
        connector: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = ts(&Utc::now());
        self.write(true, |tx| {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO connector_state (connector, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (connector, key) DO UPDATE SET value = ?3, updated_at = ?4",
                    params![connector, key, v, now],
                )?,
                None => tx.execute(
                    "DELETE FROM connector_state WHERE connector = ?1 AND key = ?2",
                    params![connector, key],
                )?,
            };
            Ok(())
        })
    }
}

impl RecordTx for SqliteTx<'_> {
    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError> {
        read_cursor(&self.tx, connector, stream)
    }

    fn put_cursor(&mut self, connector: &str, cursor: &Cursor) -> Result<(), StoreError> {
        let stored = read_cursor(&self.tx, connector, &cursor.stream)?;
        check_cursor(connector, stored.as_ref(), cursor)?;
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
            let values: Vec<(leadsync_connector_core::Field, String)> = json(&fields)?;
            let stage = values
                .into_iter()
                .find(|(f, _)| *f == leadsync_connector_core::Field::CrmStage)
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
}

/// A person's source records, oldest observation first.
pub(super) fn records_of(
    conn: &rusqlite::Connection,
    person: PersonId,
) -> Result<Vec<StoredRecord>, StoreError> {
    query_all(
        conn,
        "SELECT connector, locator, observed_at, archived, fields FROM source_records
         WHERE person_id = ?1 ORDER BY observed_at, id",
        [person],
        |r| {
            Ok((
                r.get(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
                r.get::<_, String>(4)?,
            ))
        },
        |(connector, locator, observed_at, archived, fields)| {
            Ok(StoredRecord {
                connector,
                locator: json(&locator)?,
                observed_at: parse_ts(&observed_at)?,
                archived,
                values: json(&fields)?,
            })
        },
    )
}
