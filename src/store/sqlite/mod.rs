//! The embedded store: one SQLite file in WAL mode.

mod keyfilter;
mod schema;
mod tx;

use super::{
    Conflict, FunnelFact, OutboxEntry, RunStats, RunSummary, Store, StoreError, StoreEvent,
    StoreTx, StoredRecord, TierChange, TierCounts,
};
use crate::model::{Person, PersonId};
use chrono::{DateTime, SecondsFormat, Utc};
use leadsync_connector_core::{Cursor, CursorPosition, RecordReject, Tier};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// SQLite's process-wide settings, once, before the first connection initialises SQLite:
/// - no memory statistics (SQLite's own advice for speed: each of its allocations otherwise
///   takes a global mutex to count itself; about 2.5% of a HubSpot pull's instructions);
/// - 2,000 lookaside slots per connection (2.4 MB) instead of a few dozen: a 100-row insert
///   binds hundreds of small values, and SQLite copies each; from its own slots rather than
///   from malloc (another 3%).
///
/// Had a connection been opened another way first, SQLite refuses the settings and keeps its
/// defaults.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int, SQLITE_CONFIG_LOOKASIDE two (slot size,
        // slot count); before SQLite is initialised these only set values, after it SQLite
        // answers SQLITE_MISUSE and changes nothing.
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            );
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_LOOKASIDE,
                1200 as std::ffi::c_int,
                2000 as std::ffi::c_int,
            );
        };
    });
}

/// The page size of a new database file, in bytes.
const PAGE_SIZE: i64 = 16 * 1024;

/// How much write-ahead log accumulates before SQLite copies it back into the database.
const WAL_CHECKPOINT_BYTES: i64 = 40 * 1024 * 1024;

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    keys: KeyState,
}

/// The filter of stored identity keys and the `data_version` it was valid at (see
/// [`keyfilter`]); built at the first lookup of keys.
#[derive(Default)]
pub(super) struct KeyState {
    filter: Option<keyfilter::KeyFilter>,
    data_version: i64,
}

impl SqliteStore {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        }
        configure_sqlite();
        let conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // 16 KiB pages for a new file (an existing file keeps the size it was made with): a golden
        // record is ~0.7 KB, so 4 KiB pages held five persons each; with 16 KiB pages a pull
        // writes about the same bytes in a quarter of the log frames and write calls, and page
        // splits are a quarter as frequent. Must come before WAL mode, which fixes the page size.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(open_err)?;
        // WAL: readers never block the writer; NORMAL sync is crash-safe for process kills (a
        // power cut may lose the last transactions, never corrupt the file).
        wal_mode(&conn, BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(open_err)?;
        // Checkpoint every 40 MiB of WAL instead of SQLite's 1,000 pages: index pages rewritten
        // by consecutive pages of a bulk drop are copied back to the database once, not ten
        // times. The setting counts pages, of whatever size this file has.
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .map_err(open_err)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_BYTES / page_size)
            .map_err(open_err)?;
        // Statement journals of multi-row writes stay in memory instead of temp files.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = SqliteStore {
            conn,
            path,
            keys: KeyState::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Brings the schema up to date. An up-to-date store is only read, so opening it never
    /// waits for a writer (a running daemon). Otherwise the migrations run in one write
    /// transaction that reads the version again: a daemon and a CLI command opening the same
    /// new file at once then migrate it once between them (the second waits for the first, up
    /// to the busy timeout, and finds the schema done).
    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = schema::MIGRATIONS.len() as i64;
        let version = |conn: &Connection| -> Result<i64, StoreError> {
            let found = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            match found > known {
                true => Err(StoreError::TooNew {
                    path: self.path.clone(),
                    found,
                    known,
                }),
                false => Ok(found),
            }
        };
        if version(&self.conn)? == known {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found = version(&tx)?;
        for sql in schema::MIGRATIONS.iter().skip(found as usize) {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", known)?;
        tx.commit()?;
        Ok(())
    }
}

/// How long a connection waits for another's write lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Puts the file in WAL mode. Switching needs the file to itself and SQLite answers `busy`
/// at once, without its busy handler, while another connection is open on it: a new store
/// opened by two processes at once retries here until the other has switched it.
fn wal_mode(conn: &Connection, timeout: Duration) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    loop {
        let mode = conn
            .pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
            .and_then(|mode| match mode.eq_ignore_ascii_case("wal") {
                true => Ok(mode),
                false => conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)),
            });
        match mode {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed() < timeout =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other.map(drop),
        }
    }
}

pub(super) fn ts(t: &DateTime<Utc>) -> String {
    crate::model::time::rfc3339(t, SecondsFormat::Millis)
}

pub(super) fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp `{s}`: {e}")))
}

pub(super) fn parse_tier(s: Option<String>) -> Result<Option<Tier>, StoreError> {
    s.map(|s| Tier::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

pub(super) fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad JSON in store: {e}")))
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("store values serialise to JSON")
}

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
            Ok(Cursor {
                stream: stream.to_string(),
                version: r.get(0)?,
                position: CursorPosition(r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64),
                finished: r.get(3)?,
                state: r.get(4)?,
            })
        })
        .optional()?;
    Ok(cursor)
}

fn read_person(conn: &Connection, id: PersonId) -> Result<Option<Person>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT golden, rules_version FROM persons WHERE id = ?1")?;
    let row: Option<(String, Option<String>)> = stmt
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(golden, version)| person_from(&golden, version))
        .transpose()
}

/// A person from its stored JSON and its `rules_version` column (the column is authoritative:
/// `mark_qualified` updates it alone).
pub(super) fn person_from(golden: &str, version: Option<String>) -> Result<Person, StoreError> {
    let mut person: Person = json(golden)?;
    person.rules_version = version;
    Ok(person)
}

const OUTBOX_SELECT: &str = "SELECT id, connector, record_id, person_id, tier, status, attempts, reason, updated_at FROM outbox";

type OutboxRow = (
    i64,
    String,
    String,
    PersonId,
    String,
    String,
    u32,
    Option<String>,
    String,
);

fn outbox_row(r: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn outbox_entry(row: OutboxRow) -> Result<OutboxEntry, StoreError> {
    let (id, connector, record_id, person, tier, status, attempts, reason, at) = row;
    Ok(OutboxEntry {
        id,
        connector,
        record_id,
        person,
        tier: parse_tier(Some(tier))?.expect("some in, some out"),
        status,
        attempts,
        reason,
        updated_at: parse_ts(&at)?,
    })
}

/// Runs a query and builds one value per row: `read` takes the columns out, `build` parses
/// them (JSON, timestamps), so SQLite errors and corrupt data are both reported.
fn query_all<P: rusqlite::Params, R, T>(
    conn: &Connection,
    sql: &str,
    params: P,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<R>,
    build: impl Fn(R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, read)?;
    rows.map(|r| build(r?)).collect()
}

impl Store for SqliteStore {
    fn begin(&mut self) -> Result<Box<dyn StoreTx + '_>, StoreError> {
        Ok(Box::new(tx::SqliteTx::begin(
            &mut self.conn,
            &mut self.keys,
        )?))
    }

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

    fn person(&mut self, id: PersonId) -> Result<Option<Person>, StoreError> {
        read_person(&self.conn, id)
    }

    fn persons_after(
        &mut self,
        after: PersonId,
        limit: usize,
        stale_for: Option<&str>,
    ) -> Result<Vec<Person>, StoreError> {
        query_all(
            &self.conn,
            "SELECT golden, rules_version FROM persons WHERE id > ?1
               AND (?3 IS NULL OR rules_version IS NULL OR rules_version != ?3)
             ORDER BY id LIMIT ?2",
            params![after, limit as i64, stale_for],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
            |(golden, version)| person_from(&golden, version),
        )
    }

    fn person_by_key(&mut self, kind: &str, value: &str) -> Result<Option<PersonId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT person_id FROM identity_keys WHERE kind = ?1 AND value = ?2")?;
        Ok(stmt
            .query_row(params![kind, value], |r| r.get(0))
            .optional()?)
    }

    fn records_of(&mut self, person: PersonId) -> Result<Vec<StoredRecord>, StoreError> {
        query_all(
            &self.conn,
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

    fn tier_history(&mut self, person: PersonId) -> Result<Vec<TierChange>, StoreError> {
        query_all(
            &self.conn,
            "SELECT person_id, from_tier, to_tier, rule, rules_version, evidence, at
             FROM tier_history WHERE person_id = ?1 ORDER BY id",
            [person],
            |r| {
                let row: (
                    PersonId,
                    Option<String>,
                    String,
                    String,
                    String,
                    String,
                    String,
                ) = (
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                );
                Ok(row)
            },
            |(person, from, to, rule, rules_version, evidence, at)| {
                Ok(TierChange {
                    person,
                    from: parse_tier(from)?,
                    to: parse_tier(Some(to))?.expect("some in, some out"),
                    rule,
                    rules_version,
                    evidence: json(&evidence)?,
                    at: parse_ts(&at)?,
                })
            },
        )
    }

    fn conflicts_of(&mut self, person: PersonId) -> Result<Vec<Conflict>, StoreError> {
        query_all(
            &self.conn,
            "SELECT connector, locator, key_kind, key_value, person_id, other_person_id, reason, created_at
             FROM conflicts WHERE (person_id = ?1 OR other_person_id = ?1) AND resolved_at IS NULL ORDER BY id",
            [person],
            |r| {
                let row: (String, String, String, String, PersonId, PersonId, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
                Ok(row)
            },
            |(connector, locator, key_kind, key_value, person, other_person, reason, at)| {
                let at = parse_ts(&at)?;
                Ok(Conflict { connector, locator, key_kind, key_value, person, other_person, reason, at })
            },
        )
    }

    fn tier_counts(&mut self) -> Result<TierCounts, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT tier, count(*) FROM persons GROUP BY tier")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut counts = TierCounts::default();
        for row in rows {
            let (tier, n) = row?;
            match parse_tier(tier)? {
                Some(t) => *counts.tiers.entry(t).or_default() += n as u64,
                None => counts.unqualified += n as u64,
            }
        }
        Ok(counts)
    }

    fn funnel_facts(&mut self, visit: &mut dyn FnMut(FunnelFact)) -> Result<(), StoreError> {
        // Two ordered streams merged by person id: persons, and the first time each person's
        // history moved to each tier.
        let mut persons = self.conn.prepare(
            "SELECT id, tier, json_extract(golden, '$.fields.source[0].v'), created_at
             FROM persons ORDER BY id",
        )?;
        let mut history = self.conn.prepare(
            "SELECT person_id, to_tier, min(at) FROM tier_history
             GROUP BY person_id, to_tier ORDER BY person_id",
        )?;
        let mut moves = history.query([])?;
        let mut pending: Option<(PersonId, String, String)> = None;
        let mut rows = persons.query([])?;
        while let Some(row) = rows.next()? {
            let id: PersonId = row.get(0)?;
            let mut moved_to = Vec::new();
            loop {
                if pending.is_none() {
                    pending = match moves.next()? {
                        Some(m) => Some((m.get(0)?, m.get(1)?, m.get(2)?)),
                        None => break,
                    };
                }
                match &pending {
                    Some((p, _, _)) if *p < id => pending = None,
                    Some((p, tier, at)) if *p == id => {
                        let tier = parse_tier(Some(tier.clone()))?.expect("some in, some out");
                        moved_to.push((tier, parse_ts(at)?));
                        pending = None;
                    }
                    _ => break,
                }
            }
            moved_to.sort();
            visit(FunnelFact {
                person: id,
                tier: parse_tier(row.get(1)?)?,
                source: row.get(2)?,
                created_at: parse_ts(&row.get::<_, String>(3)?)?,
                moved_to,
            });
        }
        Ok(())
    }

    fn person_count(&mut self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM persons", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    fn reject_count(&mut self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM rejects", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    fn events(&mut self, connector: &str, limit: u32) -> Result<Vec<StoreEvent>, StoreError> {
        query_all(
            &self.conn,
            "SELECT connector, stream, kind, detail, at FROM events WHERE connector = ?1 ORDER BY id DESC LIMIT ?2",
            params![connector, limit],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
            |(connector, stream, kind, detail, at)| {
                Ok(StoreEvent {
                    connector,
                    stream,
                    kind,
                    detail,
                    at: parse_ts(&at)?,
                })
            },
        )
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        // PASSIVE: copies every frame no reader still needs and never blocks; the next write
        // then starts the log afresh.
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn pending_pushes(
        &mut self,
        connector: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        query_all(
            &self.conn,
            &format!(
                "{OUTBOX_SELECT} WHERE connector = ?1 AND status = 'pending' AND id > ?2 ORDER BY id LIMIT ?3"
            ),
            params![connector, after, limit as i64],
            outbox_row,
            outbox_entry,
        )
    }

    fn push_results(&mut self, results: &[(i64, &str, Option<String>)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET status = ?2, reason = ?3, attempts = attempts + 1, updated_at = ?4 WHERE id = ?1",
            )?;
            // An applied stage is what the record holds until it is pulled again.
            let mut holds = tx.prepare_cached(
                "UPDATE source_records SET pushed_tier = o.tier FROM outbox AS o
                 WHERE o.id = ?1 AND source_records.connector = o.connector
                   AND source_records.locator_key = o.record_id",
            )?;
            let now = ts(&Utc::now());
            for (id, status, reason) in results {
                stmt.execute(params![id, status, reason, now])?;
                if *status == "done" {
                    holds.execute([id])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn outbox_of(&mut self, person: PersonId) -> Result<Vec<OutboxEntry>, StoreError> {
        query_all(
            &self.conn,
            &format!("{OUTBOX_SELECT} WHERE person_id = ?1 ORDER BY id"),
            [person],
            outbox_row,
            outbox_entry,
        )
    }

    fn outbox_counts(&mut self, connector: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows = query_all(
            &self.conn,
            "SELECT status, count(*) FROM outbox WHERE connector = ?1 GROUP BY status",
            [connector],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            |(status, n)| Ok((status, n as u64)),
        )?;
        Ok(rows.into_iter().collect())
    }

    fn dead_letters(&mut self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        query_all(
            &self.conn,
            &format!(
                "{OUTBOX_SELECT} WHERE status = 'dead' ORDER BY updated_at DESC, id DESC LIMIT ?1"
            ),
            [limit],
            outbox_row,
            outbox_entry,
        )
    }

    fn outbox_with_status(
        &mut self,
        connector: &str,
        status: &str,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        query_all(
            &self.conn,
            &format!("{OUTBOX_SELECT} WHERE connector = ?1 AND status = ?2 ORDER BY id LIMIT ?3"),
            params![connector, status, limit],
            outbox_row,
            outbox_entry,
        )
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
        match value {
            Some(v) => self.conn.execute(
                "INSERT INTO connector_state (connector, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (connector, key) DO UPDATE SET value = ?3, updated_at = ?4",
                params![connector, key, v, ts(&Utc::now())],
            )?,
            None => self
                .conn
                .execute("DELETE FROM connector_state WHERE connector = ?1 AND key = ?2", params![connector, key])?,
        };
        Ok(())
    }

    fn start_run(&mut self, connector: &str) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO runs (connector, started_at) VALUES (?1, ?2)",
            params![connector, ts(&Utc::now())],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn finish_run(&mut self, run: i64, stats: &RunStats) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?2, stats = ?3 WHERE id = ?1",
            params![run, ts(&Utc::now()), to_json(stats)],
        )?;
        Ok(())
    }

    fn last_runs(&mut self, limit: u32) -> Result<Vec<RunSummary>, StoreError> {
        query_all(
            &self.conn,
            "SELECT id, connector, started_at, finished_at, stats FROM runs ORDER BY id DESC LIMIT ?1",
            [limit],
            |r| {
                let row: (i64, String, String, Option<String>, Option<String>) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                Ok(row)
            },
            |(id, connector, started, finished, stats)| {
                Ok(RunSummary {
                    id,
                    connector,
                    started_at: parse_ts(&started)?,
                    finished_at: finished.as_deref().map(parse_ts).transpose()?,
                    stats: stats.as_deref().map(json).transpose()?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadsync_connector_core::{Locator, SourceRecord};

    fn cursor(row: u64, finished: bool) -> Cursor {
        Cursor {
            stream: "s".into(),
            version: 1,
            position: CursorPosition(row, 0),
            finished,
            state: "{}".into(),
        }
    }

    fn reject(row: u64) -> RecordReject {
        RecordReject {
            locator: Locator::File {
                hash: "s".into(),
                name: "f.csv".into(),
                row,
            },
            reason: "no email, phone or name".into(),
            cells: vec!["x".into()],
        }
    }

    #[test]
    fn a_backwards_cursor_is_refused_and_its_page_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let mut tx = store.begin().unwrap();
        tx.add_reject("c", "s", &reject(10)).unwrap();
        tx.put_cursor("c", &cursor(10, false)).unwrap();
        tx.commit().unwrap();

        let mut tx = store.begin().unwrap();
        tx.add_reject("c", "s", &reject(5)).unwrap();
        let err = tx.put_cursor("c", &cursor(5, false)).unwrap_err();
        assert!(matches!(err, StoreError::CursorRegression { .. }), "{err}");
        drop(tx); // the page is abandoned: rolled back

        assert_eq!(
            store.cursor("c", "s").unwrap().unwrap().position,
            CursorPosition(10, 0)
        );
        assert_eq!(store.rejects("c", "s").unwrap(), vec![reject(10)]);
    }

    #[test]
    fn a_statement_that_fails_half_way_leaves_nothing_once_its_transaction_is_dropped() {
        use crate::model::Key;
        let key = |v: &str| Key {
            kind: "email",
            value: v.into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let mut tx = store.begin().unwrap();
        tx.insert_keys(&[(key("kept@x.io"), 1)]).unwrap();
        tx.commit().unwrap();

        // Written as `INSERT OR FAIL`: the rows before the duplicate are written by the
        // statement, and the transaction they are in is never committed.
        let mut tx = store.begin().unwrap();
        let err = tx
            .insert_keys(&[
                (key("a@x.io"), 2),
                (key("b@x.io"), 2),
                (key("kept@x.io"), 2),
            ])
            .unwrap_err();
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        drop(tx);

        assert_eq!(store.person_by_key("email", "kept@x.io").unwrap(), Some(1));
        assert_eq!(store.person_by_key("email", "a@x.io").unwrap(), None);
        assert_eq!(store.person_by_key("email", "b@x.io").unwrap(), None);
    }

    #[test]
    fn a_new_file_gets_16_kib_pages_and_an_existing_file_keeps_its_own() {
        let page_size = |path: &Path| -> i64 {
            Connection::open(path)
                .unwrap()
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        drop(SqliteStore::open(&new).unwrap());
        assert_eq!(page_size(&new), PAGE_SIZE);

        // A file made by an earlier leadsync, with SQLite's default 4 KiB pages.
        let old = dir.path().join("old.db");
        Connection::open(&old)
            .unwrap()
            .execute_batch(
                "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);",
            )
            .unwrap();
        let mut store = SqliteStore::open(&old).unwrap();
        let mut tx = store.begin().unwrap();
        tx.add_reject("c", "s", &reject(1)).unwrap();
        tx.commit().unwrap();
        drop(store);
        assert_eq!(page_size(&old), 4096);
        let mut store = SqliteStore::open(&old).unwrap();
        assert_eq!(store.rejects("c", "s").unwrap(), vec![reject(1)]);
        // Either way, the log is checkpointed every 40 MiB.
        let checkpoint_pages = |store: &SqliteStore| -> i64 {
            store
                .conn
                .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
                .unwrap()
        };
        assert_eq!(checkpoint_pages(&store), 10_240);
        assert_eq!(checkpoint_pages(&SqliteStore::open(&new).unwrap()), 2_560);
    }

    #[test]
    fn crm_ids_are_found_by_person_through_the_partial_index_and_other_keys_are_not_in_it() {
        use crate::model::Key;
        let key = |kind: &'static str, v: &str| Key {
            kind,
            value: v.into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let mut tx = store.begin().unwrap();
        tx.insert_keys(&[
            (key("crm:hubspot", "101"), 7),
            (key("crm:hubspot", "102"), 7),
            (key("crm:other", "5"), 7),
            (key("email", "a@x.io"), 7),
            (key("crm:hubspot", "201"), 8),
        ])
        .unwrap();
        let mut ids = tx.crm_ids_of(7, "crm:hubspot").unwrap();
        ids.sort();
        assert_eq!(ids, ["101", "102"]);
        assert_eq!(
            tx.crm_ids_of(9, "crm:hubspot").unwrap(),
            Vec::<String>::new()
        );
        tx.commit().unwrap();
        drop(store);

        let conn = Connection::open(&path).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", tx::CRM_IDS_OF))
            .unwrap()
            .query_map(params![7, "crm:hubspot"], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("identity_keys_crm_person")),
            "{plan:?}"
        );
        // The only index of keys by person is partial (CRM kinds only, so emails and phones
        // pay no second entry).
        let by_person: Vec<(String, bool)> = conn
            .prepare(
                "SELECT name, partial FROM pragma_index_list('identity_keys') WHERE origin = 'c'",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(by_person, [("identity_keys_crm_person".to_string(), true)]);
    }

    #[test]
    fn holds_records_tells_whether_a_connector_has_any_record_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        assert!(!store.holds_records("hubspot").unwrap());
        let record = SourceRecord {
            locator: Locator::Crm { id: "7".into() },
            observed_at: Utc::now(),
            values: Vec::new(),
            archived: false,
        };
        let mut tx = store.begin().unwrap();
        tx.upsert_records("hubspot", &[(&record, 1)]).unwrap();
        tx.commit().unwrap();
        assert!(store.holds_records("hubspot").unwrap());
        assert!(!store.holds_records("drops").unwrap());
    }

    fn email(v: &str) -> crate::model::Key {
        crate::model::Key {
            kind: "email",
            value: v.into(),
        }
    }

    #[test]
    fn keys_another_connection_commits_are_found_although_this_ones_filter_was_built_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut daemon = SqliteStore::open(&path).unwrap();
        let mut tx = daemon.begin().unwrap();
        tx.insert_keys(&[(email("a@x.io"), 1)]).unwrap();
        // The filter is built here, and learns what this connection inserts.
        assert_eq!(tx.find_keys(&[email("a@x.io")]).unwrap().len(), 1);
        tx.commit().unwrap();

        // A `leadsync sync --once` run beside the daemon, say.
        let mut other = SqliteStore::open(&path).unwrap();
        let mut tx = other.begin().unwrap();
        tx.insert_keys(&[(email("b@x.io"), 2)]).unwrap();
        tx.commit().unwrap();

        let mut tx = daemon.begin().unwrap();
        let found = tx.find_keys(&[email("a@x.io"), email("b@x.io"), email("c@x.io")]);
        assert_eq!(
            found.unwrap().into_iter().collect::<BTreeMap<_, _>>(),
            BTreeMap::from([(email("a@x.io"), 1), (email("b@x.io"), 2)])
        );
    }

    #[test]
    fn a_filter_that_fills_up_is_built_again_bigger_and_loses_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let n = keyfilter::MIN_KEYS + 1_000;
        let keys: Vec<_> = (0..n).map(|i| email(&format!("p{i}@x.io"))).collect();
        let mut tx = store.begin().unwrap();
        assert!(tx.find_keys(&keys[..1]).unwrap().is_empty()); // builds the filter
        let rows: Vec<_> = keys.iter().map(|k| (k.clone(), 1)).collect();
        tx.insert_keys(&rows).unwrap();
        assert_eq!(tx.find_keys(&keys).unwrap().len(), n);
        tx.commit().unwrap();
        assert!(store.keys.filter.as_ref().is_some_and(|f| !f.is_full()));
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = SqliteStore::open(&path).err().expect("refused");
        assert!(err.to_string().contains("upgrade leadsync"), "{err}");
    }
}

#[cfg(test)]
mod concurrent_open {
    use super::*;

    #[test]
    fn processes_opening_a_new_store_at_once_all_open_it_and_migrate_it_once() {
        // A daemon starting while a CLI command (or a test) opens the same new file: each must
        // see the schema whole, none may apply a migration twice.
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.db");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
            let opened: Vec<_> = (0..4)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        SqliteStore::open(&path).map(|mut s| s.person_count().unwrap())
                    })
                })
                .collect();
            for handle in opened {
                let count = handle.join().unwrap();
                assert!(matches!(count, Ok(0)), "round {round}: {count:?}");
            }
            let version: i64 = Connection::open(&path)
                .unwrap()
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(version, schema::MIGRATIONS.len() as i64);
        }
    }
}
