//! The PostgreSQL store beside the SQLite store, in the same run:
//!
//!     cargo bench --bench postgres                       # both parts
//!     cargo bench --bench postgres -- pull [N]           # N contacts (default 50,000)
//!     cargo bench --bench postgres -- ingest [N [ROUNDS]] # N rows (default 1,000,000), 1 round
//!
//! 1. `pull`: the `hubspot` bench's pull and store of 50,000 contacts (the fake HubSpot in a
//!    child process, limits off), into a fresh SQLite store and into a fresh PostgreSQL database,
//!    three rounds, the order alternating. Medians side by side; the aim: the PostgreSQL client's
//!    CPU at most twice SQLite's. The client's CPU is this process's (every thread, the
//!    connection's driver thread included); the server's is reported beside it, apart.
//! 2. `ingest`: one generated drop of 1,000,000 rows (as the `ingest` bench's) through
//!    `sync --once`'s path into a fresh store of each backend; the aim: PostgreSQL's rows/s at
//!    least SQLite's.
//!
//! The database comes from `leadsync-test-postgres`: a throwaway cluster on 127.0.0.1 (started
//! with `fsync = off` and `synchronous_commit = off`, as for the tests), or the server named by
//! `LEADSYNC_TEST_PG_URL` — point it at a server configured as in production for figures that
//! include its durability.

use leadsync::config::{ConnectorConfig, Settings};
use leadsync::pipeline::{AnyConnector, run_once};
use leadsync::rules::{Rules, RulesSource};
use leadsync::store::SqliteStore;
use leadsync::store::prelude::*;
use leadsync_spreadsheet::SpreadsheetConfig;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::child::cpu_split;
use support::hubspot::{self as hub, PullRun};
use support::postgres::{self as pg, ServerCpu};
use support::{Bench, median};

/// Pulls of each backend, alternating which goes first.
const ROUNDS: usize = 3;
/// The PostgreSQL pull's client CPU may be at most this many times SQLite's.
const PULL_CPU_AIM: f64 = 2.0;

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    /// Both backends, `round`'s first (odd rounds SQLite first).
    fn order(round: usize) -> [Backend; 2] {
        if round % 2 == 1 {
            [Backend::Sqlite, Backend::Postgres]
        } else {
            [Backend::Postgres, Backend::Sqlite]
        }
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "PASS" } else { "FAIL" }
}

fn server_note(cpu: Option<f64>) -> String {
    cpu.map_or_else(
        || "the server's CPU unknown".into(),
        |s| format!("the server's CPU {s:.2} s"),
    )
}

/// Part 1: the HubSpot pull into each backend, interleaved.
async fn pull_comparison(contacts: usize) {
    let server = ServerCpu::find();
    let (mut lite, mut post, mut server_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        for backend in Backend::order(round) {
            let (run, served) = match backend {
                Backend::Sqlite => (hub::pull(contacts).await, None),
                Backend::Postgres => pg::pull(contacts, &server).await,
            };
            assert_eq!(
                run.records,
                contacts as u64,
                "the {} pull of round {round} stored {} records",
                backend.name(),
                run.records
            );
            println!(
                "round {round}, {:<10}: {:.2}s wall, {:.2} CPU s client-side ({:.2} user + {:.2} system), {:.0} MB written to files by the client, the fake's CPU {:.2} s{}",
                backend.name(),
                run.wall,
                run.cpu(),
                run.user,
                run.system,
                run.mb_written,
                run.fake_cpu,
                if backend == Backend::Postgres {
                    format!(", {}", server_note(served))
                } else {
                    String::new()
                }
            );
            match backend {
                Backend::Sqlite => lite.push(run),
                Backend::Postgres => {
                    post.push(run);
                    server_cpu.extend(served);
                }
            }
        }
    }
    let cpu = |runs: &[PullRun]| median(runs.iter().map(PullRun::cpu).collect());
    let wall = |runs: &[PullRun]| median(runs.iter().map(|r| r.wall).collect());
    let (lite_cpu, post_cpu) = (cpu(&lite), cpu(&post));
    let ratio = post_cpu / lite_cpu;
    let served = (server_cpu.len() == ROUNDS).then(|| median(server_cpu));
    println!(
        "pull+store {contacts} HubSpot contacts, limits off, median of {ROUNDS} interleaved rounds: \
         SQLite {lite_cpu:.2} CPU s client-side ({:.2}s wall), PostgreSQL {post_cpu:.2} CPU s \
         client-side ({:.2}s wall; {}); client CPU ratio PostgreSQL / SQLite {ratio:.2} \
         (aim <= {PULL_CPU_AIM:.1}): {}",
        wall(&lite),
        wall(&post),
        server_note(served),
        verdict(ratio <= PULL_CPU_AIM)
    );
}

/// One ingest of the drop `csv` into `store`: seconds, client CPU seconds, records, persons.
fn ingest(csv: &Path, store: &mut dyn Store) -> (f64, f64, u64, u64) {
    // A fresh inbox holding the drop (a hard link: the connector moves it to `processed/`).
    let dir = tempfile::tempdir().expect("temp dir");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::hard_link(csv, inbox.join("contacts.csv")).unwrap();
    let cfg = dir.path().join("bench.toml");
    // The store url is not read by the cycle (it is given the store); the config needs one.
    std::fs::write(&cfg, "[store]\nurl = \"sqlite://unused.db\"\n").unwrap();
    let mut settings: Settings = leadsync::config::load(&cfg).unwrap();
    let mut sheet = SpreadsheetConfig::for_inbox(&inbox);
    sheet.settle = Duration::ZERO;
    let connector = ConnectorConfig::Spreadsheet(sheet);
    settings
        .connectors
        .insert("drops".into(), connector.clone());
    let mut connectors = vec![AnyConnector::build("drops", &connector).unwrap()];
    let rules = Arc::new(Rules::load(RulesSource::builtin()).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (t, cpu) = (Instant::now(), cpu_split());
    let cycle = runtime
        .block_on(run_once(&settings, store, &mut connectors, &rules, None))
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_split().0 + cpu_split().1 - cpu.0 - cpu.1;
    assert!(cycle.runs[0].error.is_none(), "{:?}", cycle.runs[0].error);
    let persons = store.person_count().unwrap();
    (secs, cpu, cycle.runs[0].resolved.records, persons)
}

/// Part 2: one generated drop into each backend, `rounds` times, alternating which goes first.
fn ingest_comparison(rows: usize, rounds: usize) {
    let t = Instant::now();
    // The `ingest` bench's drop; its own SQLite store stays unused.
    let drop = Bench::drop(rows, 0.1);
    let csv = drop.dir.path().join("inbox").join("contacts.csv");
    println!(
        "generated {rows} rows, {:.1} MB, in {:.1}s",
        drop.file_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let server = ServerCpu::find();
    let (mut lite, mut post) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        for backend in Backend::order(round) {
            let store_dir = tempfile::tempdir().expect("temp dir");
            let (mut store, before): (Box<dyn Store>, _) = match backend {
                Backend::Sqlite => (
                    Box::new(SqliteStore::open(store_dir.path().join("bench.db")).unwrap()),
                    None,
                ),
                Backend::Postgres => (Box::new(pg::fresh_store()), server.seconds()),
            };
            let (secs, cpu, records, persons) = ingest(&csv, store.as_mut());
            let served = server.seconds().zip(before).map(|(a, b)| a - b);
            println!(
                "round {round}, {:<10}: {records} records into {persons} persons in {secs:.2}s: {:.0} rows/s; {cpu:.2} CPU s client-side{}",
                backend.name(),
                rows as f64 / secs,
                if backend == Backend::Postgres {
                    format!(", {}", server_note(served))
                } else {
                    String::new()
                }
            );
            match backend {
                Backend::Sqlite => lite.push(rows as f64 / secs),
                Backend::Postgres => post.push(rows as f64 / secs),
            }
        }
    }
    let (lite, post) = (median(lite), median(post));
    println!(
        "ingest {rows} rows, {}: SQLite {lite:.0} rows/s, PostgreSQL {post:.0} rows/s \
         (aim: PostgreSQL >= SQLite): {}",
        if rounds == 1 {
            "one round".to_string()
        } else {
            format!("median of {rounds} interleaved rounds")
        },
        verdict(post >= lite)
    );
}

fn main() {
    leadsync::tune_allocator();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some(hub::SERVE) {
        return hub::serve_fake(&args[1..]);
    }
    let number = |i: usize, default: usize| {
        args.get(i)
            .and_then(|n| n.replace('_', "").parse().ok())
            .unwrap_or(default)
    };
    let part = args.first().map(String::as_str);
    if !matches!(part, None | Some("pull" | "ingest")) {
        eprintln!("usage: cargo bench --bench postgres [-- pull [N] | ingest [N [ROUNDS]]]");
        std::process::exit(2);
    }
    if matches!(part, None | Some("pull")) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        // The numbering plan loads once per process, before either pull is timed.
        leadsync::resolve::phone::load_metadata();
        runtime.block_on(pull_comparison(number(1, 50_000)));
    }
    if matches!(part, None | Some("ingest")) {
        ingest_comparison(number(1, 1_000_000), number(2, 1));
    }
}
