//! Ingest benchmark: a generated HubSpot-style CSV drop of N rows (default 1,000,000; about 10%
//! repeats of earlier people) read, mapped, resolved and stored end to end into a fresh SQLite
//! store, through the same code path as `leadsync sync --once`.
//!
//!     cargo bench --bench ingest                 # 1,000,000 rows
//!     cargo bench --bench ingest -- 100000       # another size
//!
//! Prints rows/s and the process's peak resident memory (VmHWM), measured after generating the
//! file (generation streams, so it adds little) and after ingesting.

use leadsync::config::{ConnectorConfig, Settings};
use leadsync::sample;
use leadsync::store::{SqliteStore, Store};
use leadsync::sync::{AnyConnector, run_once};
use leadsync_spreadsheet::SpreadsheetConfig;
use std::fs::File;
use std::io::BufWriter;
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
    let csv = inbox.join("contacts.csv");

    let t = Instant::now();
    let out = BufWriter::new(File::create(&csv).unwrap());
    sample::write_hubspot_csv(out, sample::stream_rows(1, rows, 0.1)).unwrap();
    let size = std::fs::metadata(&csv).unwrap().len();
    println!(
        "generated {rows} rows, {:.1} MB, in {:.1}s; peak RSS so far {:.1} MiB",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        peak_rss_mib()
    );

    let mut settings: Settings = toml_settings(&dir.path().join("bench.db"));
    let mut sheet = SpreadsheetConfig::for_inbox(&inbox);
    sheet.settle = Duration::ZERO;
    settings
        .connectors
        .insert("drops".into(), ConnectorConfig::Spreadsheet(sheet.clone()));
    let mut store = SqliteStore::open(dir.path().join("bench.db")).unwrap();
    let mut connectors =
        vec![AnyConnector::build("drops", &ConnectorConfig::Spreadsheet(sheet)).unwrap()];

    let rules = std::sync::Arc::new(
        leadsync::rules::Rules::load(leadsync::rules::RulesSource::builtin()).unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let t = Instant::now();
    let runs = runtime
        .block_on(run_once(
            &settings,
            &mut store,
            &mut connectors,
            &rules,
            None,
        ))
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let run = &runs.runs[0];
    assert!(run.error.is_none(), "{:?}", run.error);
    let persons = store.person_count().unwrap();
    println!(
        "ingested {} records into {persons} persons ({} rejects) in {secs:.2}s: {:.0} rows/s; peak RSS {:.1} MiB",
        run.resolved.records,
        run.pulled.rejects,
        rows as f64 / secs,
        peak_rss_mib()
    );
}

fn toml_settings(db: &std::path::Path) -> Settings {
    let path = db.with_extension("toml");
    std::fs::write(
        &path,
        format!("[store]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    leadsync::config::load(&path).unwrap()
}
