//! `leadsync store copy` through the real binary: a SQLite store filled by real syncs (a drop
//! and a pushing HubSpot connector against the fake) copied into a fresh PostgreSQL database of
//! the tests' cluster, then checked table by table, person by person, and synced on from there.

use leadsync::store::prelude::*;
use leadsync::store::{PgStore, SqliteStore};
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot};
use leadsync_test_postgres::Cluster;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Tables a copy leaves out (schema bookkeeping, SQLite's own).
/// Bookkeeping a new store holds already (`key_writes`: PostgreSQL's one row naming the last
/// transaction that wrote keys).
const NOT_COPIED: &[&str] = &["leadsync_schema", "sqlite_sequence", "key_writes"];

/// Rules that want everyone with an email at opportunity: every HubSpot contact below it gets a
/// stage push, so the outbox holds rows.
const RULES: &str =
    "[[rules]]\nname = \"everyone\"\ntier = \"opportunity\"\nwhen = \"has_email\"\n";

/// A folder with an inbox, rules, a HubSpot token and a config whose store is `url`.
struct Setup {
    dir: tempfile::TempDir,
    base_url: String,
}

impl Setup {
    fn new(base_url: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
        std::fs::write(dir.path().join("rules.toml"), RULES).unwrap();
        std::fs::write(dir.path().join("token"), "fake-token").unwrap();
        Setup {
            dir,
            base_url: base_url.to_string(),
        }
    }

    fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("leadsync.db")
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.sqlite_path().display())
    }

    /// A config on the store at `url`; its path.
    fn config(&self, url: &str) -> PathBuf {
        let d = self.dir.path().display();
        let kind = url.split(':').next().unwrap();
        let path = self.dir.path().join(format!("leadsync-{kind}.toml"));
        std::fs::write(
            &path,
            format!(
                "[store]\nurl = \"{url}\"\n\n[rules]\nfile = \"{d}/rules.toml\"\n\n\
                 [connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{d}/inbox\"\nsettle = \"0s\"\n\n\
                 [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{}\"\ntoken = {{ file = \"{d}/token\" }}\npush = true\n",
                self.base_url
            ),
        )
        .unwrap();
        path
    }

    /// Writes a drop beside the inbox and moves it in whole.
    fn drop_file(&self, name: &str, text: &str) {
        let staged = self.dir.path().join(name);
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, self.dir.path().join("inbox").join(name)).unwrap();
    }
}

/// Runs the binary (off the runtime's threads: the fake HubSpot answers on them).
async fn leadsync(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadsync"));
    cmd.args(args)
        .env_remove("LEADSYNC_CONFIG")
        .env_remove("PGPASSWORD")
        .env("RUST_LOG", "warn");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

async fn sync(config: &Path) -> String {
    let out = leadsync(&["--config", config.to_str().unwrap(), "sync", "--once"]).await;
    assert!(out.status.success(), "sync failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Rows per table of a SQLite file, read with its own catalog.
fn sqlite_counts(path: &Path) -> BTreeMap<String, i64> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|t: &String| !NOT_COPIED.contains(&t.as_str()))
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let n = conn
                .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

/// Rows per table of a PostgreSQL database, read with its own catalog.
async fn pg_counts(url: &str) -> BTreeMap<String, i64> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .filter(|t: &String| !NOT_COPIED.contains(&t.as_str()))
        .collect();
    let mut counts = BTreeMap::new();
    for t in tables {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM \"{t}\""), &[])
            .await
            .unwrap()
            .get(0);
        counts.insert(t, n);
    }
    counts
}

/// Every person, by paging; and the reports built on them.
fn everything(store: &mut dyn Store) -> (Vec<leadsync::model::Person>, String) {
    let persons = store.persons_after(0, usize::MAX >> 1, None).unwrap();
    for p in &persons {
        assert_eq!(store.person(p.id).unwrap().as_ref(), Some(p));
    }
    let mut facts = Vec::new();
    store.funnel_facts(&mut |f| facts.push(f)).unwrap();
    let reports = format!("{:?}\n{facts:?}", store.tier_counts().unwrap());
    (persons, reports)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synced_sqlite_store_copies_whole_into_postgres_and_syncs_on_from_there() {
    // GIVEN a SQLite store filled by a real cycle: HubSpot contacts (pushed to opportunity), a
    // drop overlapping some of them, new persons and a row that cannot be used
    let fake = FakeHubSpot::new(FakeConfig::default());
    fake.seed(40, 3);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let setup = Setup::new(&server.base_url);
    let mut leads = String::from("Email,First Name,Lifecycle Stage\n");
    for c in fake.contacts().iter().take(10) {
        leads.push_str(&format!("{},Known,MQL\n", c.properties["email"]));
    }
    for i in 0..15 {
        leads.push_str(&format!("new{i}@drop.io,New,Lead\n"));
    }
    leads.push_str("not-an-email,,\n");
    setup.drop_file("leads.csv", &leads);
    let on_sqlite = setup.config(&setup.sqlite_url());
    sync(&on_sqlite).await;
    let source = sqlite_counts(&setup.sqlite_path());
    for table in [
        "persons",
        "source_records",
        "identity_keys",
        "tier_history",
        "rejects",
        "outbox",
        "runs",
        "cursors",
    ] {
        assert!(
            source[table] > 0,
            "{table} is empty in the source: {source:?}"
        );
    }
    // AND outbox entries claimed by a daemon that stopped (the claim columns added here where
    // this leadsync's schema lacks them)
    claim_outbox(&setup.sqlite_path());

    // WHEN it is copied into a fresh PostgreSQL database
    let pg = Cluster::get().fresh_db();
    let sqlite = setup.sqlite_url();
    let out = leadsync(&["store", "copy", "--from", &sqlite, "--to", &pg]).await;

    // THEN every table holds as many rows on both sides, and the progress named each table
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("copied persons: {} rows", source["persons"])),
        "{stderr}"
    );
    let target = pg_counts(&pg).await;
    assert_eq!(target, source);

    // AND the persons and reports read back through the store are the same
    let mut from = SqliteStore::open(setup.sqlite_path()).unwrap();
    let mut to = PgStore::open(&pg, None).unwrap();
    let (persons, reports) = everything(&mut from);
    assert_eq!(everything(&mut to), (persons.clone(), reports));
    assert_eq!(persons.len() as i64, source["persons"]);
    drop_stores(from, to);

    // AND a second copy into the same database is refused, naming a table that holds rows
    let again = leadsync(&["store", "copy", "--from", &sqlite, "--to", &pg]).await;
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("is not empty: table `"), "{said}");
    assert_eq!(
        pg_counts(&pg).await,
        source,
        "the refused copy wrote nothing"
    );

    // AND syncing on the PostgreSQL store gives new persons fresh ids, and the drop already
    // taken adds no one
    let max_id = persons.iter().map(|p| p.id).max().unwrap();
    let on_pg = setup.config(&pg);
    setup.drop_file(
        "more.csv",
        "Email,First Name\nlater1@drop.io,L\nlater2@drop.io,L\n",
    );
    sync(&on_pg).await;
    let mut to = PgStore::open(&pg, None).unwrap();
    assert_eq!(to.person_count().unwrap(), persons.len() as u64 + 2);
    for email in ["later1@drop.io", "later2@drop.io"] {
        let id = to.person_by_key("email", email).unwrap().expect("synced");
        assert!(id > max_id, "{email} got id {id}, not above {max_id}");
    }
    drop(to);
    setup.drop_file("leads.csv", &leads);
    sync(&on_pg).await;
    let mut to = PgStore::open(&pg, None).unwrap();
    assert_eq!(to.person_count().unwrap(), persons.len() as u64 + 2);
}

/// Marks every outbox entry claimed, adding the claim columns a copy leaves out where missing.
fn claim_outbox(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    for column in ["claim_token", "claimed_until", "claimed_by"] {
        let present: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM pragma_table_info('outbox') WHERE name = ?1",
                [column],
                |r| r.get(0),
            )
            .unwrap();
        if !present {
            conn.execute_batch(&format!("ALTER TABLE outbox ADD COLUMN {column} TEXT"))
                .unwrap();
        }
    }
    let claimed = conn
        .execute(
            "UPDATE outbox SET claim_token = 'tok-1', claimed_until = 4102444800000, claimed_by = 'host-1'",
            [],
        )
        .unwrap();
    assert!(claimed > 0);
}

/// Closes both stores (a PostgreSQL store keeps a connection open until dropped).
fn drop_stores(a: SqliteStore, b: PgStore) {
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_back_from_postgres_into_sqlite_gives_the_same_persons() {
    // GIVEN a PostgreSQL store filled by a real cycle
    let fake = FakeHubSpot::new(FakeConfig::default());
    fake.seed(25, 9);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let setup = Setup::new(&server.base_url);
    setup.drop_file(
        "leads.csv",
        "Email,First Name,Lifecycle Stage\nana@acme.io,Ana,MQL\nbo@acme.io,Bo,Lead\nnot-an-email,,\n",
    );
    let pg = Cluster::get().fresh_db();
    sync(&setup.config(&pg)).await;

    // WHEN it is copied into a new SQLite file
    let sqlite = setup.sqlite_url();
    let out = leadsync(&["store", "copy", "--from", &pg, "--to", &sqlite]).await;

    // THEN the tables and the persons are the same on both sides (flags went from booleans
    // to 0/1), and new persons in the file get ids after the copied ones
    assert!(out.status.success(), "{}", text(&out));
    let source = pg_counts(&pg).await;
    assert!(source["persons"] > 25, "{source:?}");
    assert_eq!(sqlite_counts(&setup.sqlite_path()), source);
    let mut from = PgStore::open(&pg, None).unwrap();
    let mut to = SqliteStore::open(setup.sqlite_path()).unwrap();
    let (persons, reports) = everything(&mut from);
    assert_eq!(everything(&mut to), (persons.clone(), reports));
    drop((from, to));
    setup.drop_file("more.csv", "Email\nlater@drop.io\n");
    sync(&setup.config(&sqlite)).await;
    let id = SqliteStore::open(setup.sqlite_path())
        .unwrap()
        .person_by_key("email", "later@drop.io")
        .unwrap()
        .expect("synced");
    assert!(persons.iter().all(|p| p.id < id), "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_that_fails_half_way_leaves_the_target_empty_and_can_be_run_again() {
    // GIVEN a synced SQLite store whose last source record holds a flag PostgreSQL cannot take
    let fake = FakeHubSpot::new(FakeConfig::default());
    fake.seed(5, 1);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let setup = Setup::new(&server.base_url);
    setup.drop_file("leads.csv", "Email\nana@acme.io\nbo@acme.io\n");
    sync(&setup.config(&setup.sqlite_url())).await;
    let conn = rusqlite::Connection::open(setup.sqlite_path()).unwrap();
    let set_archived = |v: i64| {
        conn.execute(
            "UPDATE source_records SET archived = ?1 WHERE id = (SELECT max(id) FROM source_records)",
            [v],
        )
        .unwrap()
    };
    set_archived(7);

    // WHEN it is copied into PostgreSQL
    let (pg, sqlite) = (Cluster::get().fresh_db(), setup.sqlite_url());
    let out = leadsync(&["store", "copy", "--from", &sqlite, "--to", &pg]).await;

    // THEN the copy fails naming the table, the column and the value, and the persons copied
    // before it were rolled back with the rest
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("table `source_records`: column `archived` holds Int(7)"),
        "{said}"
    );
    assert!(pg_counts(&pg).await.values().all(|n| *n == 0));

    // AND once the value is fixed, the same copy runs into the same database
    set_archived(1);
    let out = leadsync(&["store", "copy", "--from", &sqlite, "--to", &pg]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(pg_counts(&pg).await, sqlite_counts(&setup.sqlite_path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_column_the_target_lacks_fails_the_copy_rather_than_losing_it() {
    // GIVEN a synced SQLite store with a column PostgreSQL's schema does not have
    let fake = FakeHubSpot::new(FakeConfig::default());
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let setup = Setup::new(&server.base_url);
    setup.drop_file("leads.csv", "Email\nana@acme.io\n");
    sync(&setup.config(&setup.sqlite_url())).await;
    rusqlite::Connection::open(setup.sqlite_path())
        .unwrap()
        .execute_batch("ALTER TABLE persons ADD COLUMN nickname TEXT")
        .unwrap();

    // WHEN it is copied into PostgreSQL
    let (pg, sqlite) = (Cluster::get().fresh_db(), setup.sqlite_url());
    let out = leadsync(&["store", "copy", "--from", &sqlite, "--to", &pg]).await;

    // THEN the copy fails naming the column, and writes nothing
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("has no column `persons.nickname`"), "{said}");
    assert!(pg_counts(&pg).await.values().all(|n| *n == 0));
}

#[tokio::test]
async fn a_bad_from_url_exits_2_and_touches_no_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.db");
    let to = format!("sqlite://{}", target.display());
    let missing = format!("sqlite://{}", dir.path().join("typo.db").display());
    for (from, expected) in [
        (
            "mysql://leadsync@db/leads",
            "--from: `mysql://leadsync@db/leads` is not a store leadsync knows; write sqlite://PATH or postgres://",
        ),
        (missing.as_str(), "--from: there is no store at"),
        (
            "postgres://leadsync:hunter2@127.0.0.1:1/leads",
            "--from: the URL holds a password; take it out",
        ),
    ] {
        let out = leadsync(&["store", "copy", "--from", from, "--to", &to]).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(expected), "{said}");
        assert!(!said.contains("hunter2"), "{said}");
        assert!(!target.exists(), "the target was created for {from}");
    }
    assert!(
        !dir.path().join("typo.db").exists(),
        "the source was created"
    );
}

#[tokio::test]
async fn a_password_variable_for_a_sqlite_store_or_an_unset_one_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let from = format!("sqlite://{}", dir.path().join("a.db").display());
    let out = leadsync(&[
        "store",
        "copy",
        "--from",
        &from,
        "--to",
        "postgres://leadsync@127.0.0.1:1/leads",
        "--from-password-env",
        "PGPASSWORD",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--from-password-env: only a postgres:// store takes a password"));
    let out = leadsync(&[
        "store",
        "copy",
        "--from",
        &from,
        "--to",
        "postgres://leadsync@127.0.0.1:1/leads",
        "--to-password-env",
        "LEADSYNC_TEST_UNSET_PASSWORD_VAR",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("the variable `LEADSYNC_TEST_UNSET_PASSWORD_VAR` is not set"),
        "{}",
        text(&out)
    );
}
