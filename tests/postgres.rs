//! The PostgreSQL store through the real binary: `validate`, a sync into it, and the refusals an
//! operator meets (a wrong password, a password written into the URL). The database is a fresh
//! one in the tests' throwaway cluster (or `LEADSYNC_TEST_PG_URL`'s server).

mod common;

use leadsync_test_postgres::{Cluster, PASSWORD, PASSWORD_ROLE};
use std::process::Output;

/// A drops inbox and a PostgreSQL store; `store_extra` goes in the `[store]` table.
fn env_on(url: &str, store_extra: &str) -> common::Env {
    let env = common::Env::new("");
    let text = std::fs::read_to_string(&env.config).unwrap();
    let sqlite_line = text
        .lines()
        .find(|l| l.starts_with("url = "))
        .unwrap()
        .to_string();
    let text = text.replace(&sqlite_line, &format!("url = \"{url}\"\n{store_extra}"));
    std::fs::write(&env.config, text).unwrap();
    env
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn validate_reaches_the_database_and_reports_the_schema_version() {
    let url = Cluster::get().fresh_db();
    let env = env_on(&url, "");
    let out = env.run(&["validate"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The version the database itself records.
    let version: i64 = Cluster::get().query(&url, "SELECT version FROM leadsync_schema")[0]
        .parse()
        .unwrap();
    assert!(version >= 2, "{version}");
    assert!(
        stdout.contains(&format!(
            "store: ok ({url}, schema version {version}, 0 persons)"
        )),
        "{stdout}"
    );
}

#[test]
fn a_drop_is_synced_into_postgres_and_reported_from_it() {
    let env = env_on(&Cluster::get().fresh_db(), "");
    env.drop_file(
        "leads.csv",
        b"Email,First Name,Lifecycle Stage\nana@acme.io,Ana,MQL\nbo@acme.io,Bo,Lead\nana@acme.io,Ana,\nnot-an-email,,\n",
    );
    let out = env.run(&["sync", "--once"]);
    assert!(out.status.success(), "{}", text(&out));
    let funnel = env.run(&["report", "funnel", "--json"]);
    assert!(funnel.status.success(), "{}", text(&funnel));
    let funnel: serde_json::Value = serde_json::from_slice(&funnel.stdout).unwrap();
    assert_eq!(funnel["total"], serde_json::json!(2), "{funnel}");
    let explained = env.run(&["explain", "ana@acme.io"]);
    assert!(explained.status.success(), "{}", text(&explained));
    assert!(
        text(&explained).contains("leads.csv row 2"),
        "{}",
        text(&explained)
    );
    // A second run finds nothing new: the file was taken once.
    let again = env.run(&["sync", "--once"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(
            &env.run(&["report", "funnel", "--json"]).stdout
        )
        .unwrap()["total"],
        serde_json::json!(2)
    );
}

#[test]
fn a_wrong_password_exits_2_naming_the_store_and_never_showing_the_password() {
    let cluster = Cluster::get();
    assert!(
        cluster.throwaway,
        "this test needs the throwaway cluster's password role; unset LEADSYNC_TEST_PG_URL"
    );
    let db = cluster.fresh_db_owned_by(PASSWORD_ROLE);
    let base = format!("postgres://{PASSWORD_ROLE}@{}/{db}", cluster.host_port());
    let env = env_on(&base, "password = { env = \"LEADSYNC_TEST_STORE_PW\" }");
    let run = |pw: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .arg("--config")
            .arg(&env.config)
            .arg("validate")
            .env("LEADSYNC_TEST_STORE_PW", pw)
            .env_remove("PGPASSWORD")
            .output()
            .unwrap()
    };
    let wrong = run("not-the-password-42");
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    let said = text(&wrong);
    assert!(said.contains("refused the credentials"), "{said}");
    assert!(said.contains("store.password"), "{said}");
    assert!(!said.contains("not-the-password-42"), "{said}");

    let right = run(PASSWORD);
    assert!(right.status.success(), "{}", text(&right));
}

#[test]
fn a_password_in_the_url_is_refused_before_anything_connects() {
    let env = env_on("postgres://leadsync:hunter2@127.0.0.1:1/leadsync", "");
    let out = env.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("key store.url: the URL holds a password"),
        "{said}"
    );
    assert!(!said.contains("hunter2"), "{said}");
}
