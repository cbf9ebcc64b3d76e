//! SQLite's process-wide settings, in a test binary of their own: they hold only when a store
//! is the first thing in the process to open SQLite.

use leadsync::store::{SqliteStore, Store};

#[test]
fn the_first_store_opened_turns_sqlites_memory_statistics_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
    let mut tx = store.begin().unwrap();
    tx.add_event(&leadsync::store::StoreEvent {
        connector: "c".into(),
        stream: "s".into(),
        kind: "k".into(),
        detail: "x".repeat(100_000),
        at: chrono::Utc::now(),
    })
    .unwrap();
    tx.commit().unwrap();
    // With statistics on, SQLite counts its page cache and statements here (hundreds of KB).
    // SAFETY: reads a counter.
    assert_eq!(unsafe { rusqlite::ffi::sqlite3_memory_used() }, 0);
}
