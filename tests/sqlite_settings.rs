//! SQLite's process-wide settings, in a test binary of their own: they hold only when a store
//! is the first thing in the process to open SQLite. (The tests share one process: whichever
//! runs first opens the store that sets them.)

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

#[test]
fn connections_get_room_for_a_multi_row_statements_small_values() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path().join("t.db")).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    // 1,500 short values bound at once, as a 100-row insert binds hundreds.
    let sql = format!("VALUES {}", vec!["(?)"; 1_500].join(", "));
    let values: Vec<String> = (0..1_500).map(|i| format!("value {i}")).collect();
    let rows = conn
        .prepare(&sql)
        .unwrap()
        .query_map(rusqlite::params_from_iter(&values), |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
        .count();
    assert_eq!(rows, 1_500);
    let (mut current, mut highest) = (0, 0);
    // SAFETY: reads a status counter of an open connection.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_db_status(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_LOOKASIDE_USED,
            &mut current,
            &mut highest,
            0,
        )
    };
    assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
    // SQLite's default is a few hundred slots at most; leadsync asks for 2,000.
    assert!(highest > 1_000, "{highest} lookaside slots used at most");
}
