//! Acceptance: a process killed (SIGKILL) in the middle of a large drop, then `sync --once`
//! again, ends with the same persons and rejects as an uninterrupted run.

mod common;

use common::Env;
use leadsync::store::prelude::*;
use leadsync_sample as sample;
use std::collections::BTreeMap;
use std::fs::{self, File, FileTimes};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const SEED: u64 = 7;

/// Two drops, written identically into an inbox (same names, bytes and modification times).
fn write_drops(env: &Env, files: &[Vec<sample::SampleRow>]) {
    let big = env.inbox.join("big-export.csv");
    sample::write_hubspot_csv(File::create(&big).unwrap(), files[0].clone()).unwrap();
    let second = env.inbox.join("leads.csv");
    sample::write_salesforce_csv(File::create(&second).unwrap(), files[1].clone()).unwrap();
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    for (i, p) in [&big, &second].into_iter().enumerate() {
        let t = base + Duration::from_secs(60 * i as u64);
        File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_times(FileTimes::new().set_modified(t))
            .unwrap();
    }
}

/// Everything a user could see: each person's fields (with provenance) and tier, by id; the
/// rejects of each drop; and the bytes of each processed file, by original name.
#[derive(Debug, PartialEq)]
struct Snapshot {
    persons: BTreeMap<i64, String>,
    rejects: BTreeMap<String, String>,
    processed: BTreeMap<String, Vec<u8>>,
}

fn snapshot(env: &Env) -> Snapshot {
    let mut store = env.store();
    let n = store.person_count().unwrap() as i64;
    let mut persons = BTreeMap::new();
    for id in 1..=n {
        let p = store
            .person(id)
            .unwrap()
            .unwrap_or_else(|| panic!("person ids are dense: {id} missing"));
        persons.insert(id, format!("{:?} {:?}", p.fields, p.tier));
    }
    let mut rejects = BTreeMap::new();
    let mut processed = BTreeMap::new();
    for path in Env::files_in(&env.processed_dir()) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let original = name.split_once('_').unwrap().1.to_string();
        if let Some(drop) = original.strip_suffix(".rejects.csv") {
            rejects.insert(drop.to_string(), fs::read_to_string(&path).unwrap());
        } else {
            processed.insert(original, fs::read(&path).unwrap());
        }
    }
    Snapshot {
        persons,
        rejects,
        processed,
    }
}

/// The highest row any cursor of the store has reached (0 before the first commit).
fn progress(db: &Path) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT coalesce(sum(pos_a), 0) FROM cursors", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap_or(0) as u64
}

#[test]
fn a_killed_sync_resumes_to_the_same_persons_and_rejects() {
    // GIVEN two drops, 45,000 rows in all, with duplicates and bad rows
    let files = sample::drop_rows(SEED, 40_000, 2, 0.1, 500);
    let reference = Env::new("");
    write_drops(&reference, &files);
    reference.sync();
    let expected = snapshot(&reference);
    assert_eq!(expected.persons.len(), 40_000);
    assert_eq!(expected.processed.len(), 2);

    // WHEN the same drops are processed by a sync killed with SIGKILL several times mid-way
    let env = Env::new("");
    write_drops(&env, &files);
    let mut kills = 0;
    let mut last = 0;
    for attempt in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .args(["--config", env.config.to_str().unwrap(), "sync", "--once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it commit a few more pages than last time, then kill it without warning.
        let target = last + 5_000 * (1 + attempt % 2);
        let started = Instant::now();
        while progress(&env.db) < target && started.elapsed() < Duration::from_secs(120) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            // A wait with a deadline, asking every 5 ms (not the shared helper's 100 ms): the
            // kill must land within a page or two of the target.
            std::thread::sleep(Duration::from_millis(5));
        }
        // On purpose: each attempt's kill lands a little later in a page's work.
        std::thread::sleep(Duration::from_millis(37 * attempt));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        let now = progress(&env.db);
        assert!(
            now >= last,
            "a cursor never moves backwards ({now} < {last})"
        );
        last = now;
    }
    assert!(
        kills >= 3,
        "the sync was interrupted mid-drop ({kills} kills)"
    );
    assert!(last > 0, "some pages were committed before the kills");

    // AND then runs to the end
    env.sync();

    // THEN the result is exactly the uninterrupted one: same persons (ids, values, provenance,
    // tiers), same rejects, both inputs in processed/ byte for byte, nothing left behind
    let got = snapshot(&env);
    assert_eq!(got.persons.len(), expected.persons.len());
    for (id, p) in &expected.persons {
        assert_eq!(got.persons.get(id), Some(p), "person {id} differs");
    }
    assert_eq!(got.rejects, expected.rejects);
    assert_eq!(got.processed, expected.processed);
    assert!(
        Env::files_in(&env.inbox).is_empty(),
        "nothing left in the inbox"
    );
    assert_eq!(
        env.store().reject_count().unwrap(),
        reference.store().reject_count().unwrap()
    );
}
