//! The inbox never stalls: a file leadsync may not read, a symlink, a name that is not UTF-8
//! or a fixed rejects file never blocks or silently hides the others, and a failed run keeps
//! the counts of what it did.

mod common;

use common::Env;
use leadsync::store::prelude::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Drops `name` with `mode` and a modification time `age_s` seconds ago (files are taken
/// oldest first).
fn drop_aged(env: &Env, name: &str, bytes: &[u8], mode: u32, age_s: u64) {
    let path = env.drop_file(name, bytes);
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(age_s))
        .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_unreadable_file_goes_to_failed_and_the_files_after_it_are_taken() {
    // GIVEN a readable file, one nobody may read (mode 000), then another readable one
    let env = Env::new("");
    drop_aged(&env, "a.csv", b"Email\na@acme.io\n", 0o644, 30);
    drop_aged(&env, "b.csv", b"Email\nb@acme.io\n", 0o000, 20);
    drop_aged(&env, "c.csv", b"Email\nc@acme.io\n", 0o644, 10);

    // WHEN leadsync, running as an unprivileged user, syncs once
    let out = env.run_as_nobody(&["sync", "--once"]);

    // THEN the run succeeds: both readable files are ingested, the unreadable one is counted,
    // moved to failed/ with a note that says why and what to do, and a warning names it
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("2 files, 0 duplicates, 1 failed files"),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.person_count(), 2);
    assert!(Env::moved(&env.processed_dir(), "a.csv").is_some());
    assert!(Env::moved(&env.processed_dir(), "c.csv").is_some());
    let failed = Env::moved(&env.failed_dir(), "b.csv").expect("b.csv in failed/");
    let note = fs::read_to_string(format!("{}.error.txt", failed.display())).unwrap();
    assert!(
        note.contains("Permission denied") && note.contains("chmod"),
        "{note}"
    );
    assert!(stderr(&out).contains("b.csv"), "{}", stderr(&out));
    assert!(Env::files_in(&env.inbox).is_empty(), "nothing left behind");
}

#[test]
fn a_failed_run_reports_and_records_what_it_did_before_failing() {
    // GIVEN a PDF dropped by mistake, then a CSV with two rows and a bad one, and a processed/
    // folder leadsync may not write to
    let env = Env::new("processed_dir = \"PROCESSED\"");
    let processed = env.dir.path().join("processed-ro");
    fs::create_dir(&processed).unwrap();
    fs::set_permissions(&processed, fs::Permissions::from_mode(0o755)).unwrap();
    let config = fs::read_to_string(&env.config).unwrap();
    fs::write(
        &env.config,
        config.replace("PROCESSED", processed.to_str().unwrap()),
    )
    .unwrap();
    drop_aged(
        &env,
        "scan.pdf",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        0o644,
        30,
    );
    drop_aged(
        &env,
        "leads.csv",
        b"Email,First Name\na@acme.io,Ann\nb@acme.io,Bob\nnot-an-email,Cy\n",
        0o644,
        10,
    );

    // WHEN a sync fails moving the CSV out
    let out = env.run_as_nobody(&["sync", "--once"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    // THEN its summary and its run row keep what it did: 2 records, 1 reject, 1 failed file
    let summary = stdout(&out);
    assert!(
        summary.contains("drops: 2 records")
            && summary.contains("1 rejects")
            && summary.contains("1 failed files")
            && summary.contains("FAILED"),
        "{summary}"
    );
    let runs = env.store().last_runs(1).unwrap();
    let stats = runs[0].stats.as_ref().expect("the run was finished");
    assert_eq!(
        (
            stats.status.as_str(),
            stats.records,
            stats.rejects,
            stats.failed
        ),
        ("failed", 2, 1, 1),
        "{stats:?}"
    );
}

#[test]
fn a_fixed_rejects_file_and_a_name_that_is_not_utf8_are_taken_and_a_symlink_is_reported() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    // GIVEN a drop with one bad row, synced: its rejects file lands in processed/
    let env = Env::new("");
    env.drop_file(
        "contacts.csv",
        b"Email,First Name\nann@acme.io,Ann\nbob@,Bob\n",
    );
    env.sync();
    let processed = Env::moved(&env.processed_dir(), "contacts.csv").unwrap();
    let rejects_path = format!("{}.rejects.csv", processed.display());
    let rejects = fs::read_to_string(&rejects_path).unwrap();
    assert!(rejects.contains("bob@"), "{rejects}");

    // WHEN the user fixes it as the README says (fix the cells, delete the first two columns)
    // and drops it back, beside a file whose name is not UTF-8 and a symlink to a file
    let fixed: String = rejects
        .lines()
        .map(|l| {
            l.splitn(3, ',')
                .nth(2)
                .unwrap()
                .replace("bob@", "bob@acme.io")
        })
        .map(|l| l + "\n")
        .collect();
    let fixed_name = Path::new(&rejects_path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    env.drop_file(fixed_name, fixed.as_bytes());
    let latin1 = OsStr::from_bytes(b"caf\xe9.csv");
    fs::write(env.inbox.join(latin1), "Email\ncafe@acme.io\n").unwrap();
    let outside = env.dir.path().join("elsewhere.csv");
    fs::write(&outside, "Email\nlinked@acme.io\n").unwrap();
    std::os::unix::fs::symlink(&outside, env.inbox.join("link.csv")).unwrap();
    let out = env.run(&["sync", "--once"]);

    // THEN the fixed rejects and the oddly named file are ingested; the symlink is not
    // followed, stays where it is, is counted and is named in a warning and by validate
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(env.person_count(), 3, "{}", stdout(&out));
    let store_has = |email: &str| {
        leadsync::explain::find(
            &mut env.store(),
            &leadsync::config::IdentityConfig::default(),
            email,
        )
        .unwrap()
        .is_some()
    };
    assert!(store_has("bob@acme.io") && store_has("cafe@acme.io"));
    assert!(!store_has("linked@acme.io"));
    assert!(stdout(&out).contains("1 skipped files"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("link.csv") && stderr(&out).contains("symbolic link"),
        "{}",
        stderr(&out)
    );
    assert!(env.inbox.join("link.csv").is_symlink());
    let validate = env.run(&["validate"]);
    assert!(
        stdout(&validate).contains("0 file(s) waiting, 1 skipped: `link.csv` (a symbolic link"),
        "{}",
        stdout(&validate)
    );
}

#[test]
fn notes_keep_the_mode_of_their_drop() {
    // GIVEN a world-readable drop that cannot be read as a table (umask aside)
    let env = Env::new("");
    drop_aged(&env, "scan.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 0o644, 5);
    // WHEN it is synced
    env.sync();
    // THEN its note in failed/ is as readable as the drop was
    let failed = Env::moved(&env.failed_dir(), "scan.pdf").unwrap();
    assert_eq!(mode_of(&failed), 0o644);
    assert_eq!(
        mode_of(Path::new(&format!("{}.error.txt", failed.display()))),
        0o644
    );
}

#[test]
fn sync_once_waits_for_a_file_still_being_written_and_takes_it_whole() {
    // GIVEN an inbox whose files settle for 1 s, and a file someone is still writing: ten rows
    // appended over about 2.5 s
    let env = Env::new("");
    fs::write(
        &env.config,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nsettle = \"1s\"\n",
            env.db.display(),
            env.inbox.display()
        ),
    )
    .unwrap();
    let path = env.inbox.join("growing.csv");
    fs::write(&path, "Email\n").unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..10 {
            // On purpose: a writer appending slowly, as an export still being written.
            std::thread::sleep(Duration::from_millis(250));
            let mut f = fs::File::options().append(true).open(&path).unwrap();
            std::io::Write::write_all(&mut f, format!("p{i}@acme.io\n").as_bytes()).unwrap();
        }
    });

    // WHEN `sync --once` runs meanwhile
    let out = env.run(&["sync", "--once"]);
    writer.join().unwrap();

    // THEN it says it waits, waits until the writes stop, and takes the whole file
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("drops: a file is still being written; waiting"),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.person_count(), 10, "{}", stdout(&out));
    assert!(Env::moved(&env.processed_dir(), "growing.csv").is_some());
    assert!(Env::files_in(&env.inbox).is_empty());
}
