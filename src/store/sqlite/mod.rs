//! The embedded store: one SQLite file in WAL mode.

mod cluster;
mod codec;
mod copy;
mod error;
mod matching;
mod notify;
mod outbox;
mod persons;
mod records;
mod reports;
mod runs;
mod schema;
mod tx;

use super::{Store, StoreError, StoreTx};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
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
    /// What every write checks (see [`crate::store::cluster`]).
    fences: crate::store::cluster::Fencing,
}

/// The filter of stored identity keys and the `data_version` it was valid at (see
/// [`crate::store::keyfilter`]); built at the first lookup of keys.
#[derive(Default)]
pub(super) struct KeyState {
    filter: Option<crate::store::keyfilter::KeyFilter>,
    data_version: i64,
}

impl SqliteStore {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: path.clone(),
            source: Box::new(source),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.clone(),
                source: Box::new(e),
            })?;
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
            fences: Default::default(),
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

impl Store for SqliteStore {
    fn begin(&mut self) -> Result<Box<dyn StoreTx + '_>, StoreError> {
        Ok(Box::new(tx::SqliteTx::begin(
            &mut self.conn,
            &mut self.keys,
            &self.fences,
        )?))
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        // PASSIVE: copies every frame no reader still needs and never blocks; the next write
        // then starts the log afresh.
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn schema_version(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

/// The store's contract, as every backend must keep it.
#[cfg(test)]
mod contract {
    use super::SqliteStore;
    use crate::store::suite::{Fresh, store_suite};

    store_suite!(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).unwrap();
        Fresh::new(store, dir, move || SqliteStore::open(&path).unwrap())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::*;
    use crate::store::suite::reject;

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
    use crate::store::ReportStore;

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
