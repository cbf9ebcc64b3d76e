//! Re-qualification benchmark: N stored persons (default 1,000,000, made by ingesting a
//! generated drop) re-qualified after a rules change, through the same code path as the
//! re-qualification step of `leadsync sync --once`.
//!
//!     cargo bench --bench requalify              # 1,000,000 persons
//!     cargo bench --bench requalify -- 100000    # another size
//!
//! Prints persons/s for the re-qualification alone and the process's peak resident memory
//! (VmHWM) before and after it.

use leadsync::config::{ConnectorConfig, Settings};
use leadsync::rules::{DEFAULT_RULES, Rules, RulesSource};
use leadsync::sample;
use leadsync::store::{SqliteStore, Store};
use leadsync::sync::{AnyConnector, run_once};
use leadsync_spreadsheet::SpreadsheetConfig;
use std::fs::File;
use std::io::BufWriter;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let out = BufWriter::new(File::create(inbox.join("contacts.csv")).unwrap());
    sample::write_hubspot_csv(out, sample::stream_rows(1, rows, 0.0)).unwrap();

    let db = dir.path().join("bench.db");
    let cfg = dir.path().join("bench.toml");
    std::fs::write(
        &cfg,
        format!("[store]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let mut settings: Settings = leadsync::config::load(&cfg).unwrap();
    let mut sheet = SpreadsheetConfig::for_inbox(&inbox);
    sheet.settle = Duration::ZERO;
    settings
        .connectors
        .insert("drops".into(), ConnectorConfig::Spreadsheet(sheet.clone()));
    let mut store = SqliteStore::open(&db).unwrap();
    let mut connectors =
        vec![AnyConnector::build("drops", &ConnectorConfig::Spreadsheet(sheet)).unwrap()];
    let original = Arc::new(Rules::load(RulesSource::builtin()).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let t = Instant::now();
    runtime
        .block_on(run_once(
            &settings,
            &mut store,
            &mut connectors,
            &original,
            None,
        ))
        .unwrap();
    let persons = store.person_count().unwrap();
    println!(
        "stored {persons} persons in {:.1}s; peak RSS so far {:.1} MiB",
        t.elapsed().as_secs_f64(),
        peak_rss_mib()
    );

    // A rules change: every person's rules version is now stale.
    let edited = DEFAULT_RULES.replace("mql_score = 60", "mql_score = 40");
    let rules = Rules::load(RulesSource {
        path: None,
        text: edited,
    })
    .unwrap();
    let t = Instant::now();
    let plan =
        leadsync::plan::requalify(&mut store, &rules, &[], chrono::Utc::now(), false, 0).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "re-qualified {} persons ({} moved) in {secs:.2}s: {:.0} persons/s; peak RSS {:.1} MiB",
        plan.evaluated,
        plan.moved(),
        plan.evaluated as f64 / secs,
        peak_rss_mib()
    );
}
