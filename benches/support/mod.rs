//! What the benchmarks share: for ingest and re-qualification, a generated drop in a temp inbox,
//! a fresh store, and the measurements; for the connector benchmarks, a fake CRM in a child
//! process ([`child`]) and the HubSpot pull they compare against ([`hubspot`]); for the
//! PostgreSQL store beside SQLite, a fresh database and the server's CPU ([`postgres`]); for the
//! outbox drain by `leadsync run` processes, the account, the store and the processes ([`drain`]).
#![allow(dead_code, unreachable_pub)]

pub mod child;
pub mod drain;
pub mod hubspot;
pub mod postgres;

use leadsync::config::{ConnectorConfig, Settings};
use leadsync::pipeline::{AnyConnector, Cycle, run_once};
use leadsync::rules::{Rules, RulesSource};
use leadsync::store::SqliteStore;
use leadsync_sample as sample;
use leadsync_spreadsheet::SpreadsheetConfig;
use std::fs::File;
use std::io::BufWriter;
use std::sync::Arc;
use std::time::Duration;

/// The process's peak resident memory (VmHWM), in MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The size given on the command line (`cargo bench --bench X -- 100000`), else `default`.
pub fn size_arg(default: usize) -> usize {
    std::env::args()
        .skip(1)
        .find_map(|a| a.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A generated HubSpot-style CSV of `rows` rows (`dup_rate` of them repeats) waiting in an inbox,
/// and a fresh store with a spreadsheet connector on it.
pub struct Bench {
    pub dir: tempfile::TempDir,
    pub settings: Settings,
    pub store: SqliteStore,
    pub connectors: Vec<AnyConnector>,
    /// Size of the generated file, in bytes.
    pub file_bytes: u64,
}

impl Bench {
    pub fn drop(rows: usize, dup_rate: f64) -> Bench {
        let dir = tempfile::tempdir().expect("temp dir");
        let inbox = dir.path().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let csv = inbox.join("contacts.csv");
        sample::write_hubspot_csv(
            BufWriter::new(File::create(&csv).unwrap()),
            sample::stream_rows(1, rows, dup_rate),
        )
        .unwrap();
        let file_bytes = std::fs::metadata(&csv).unwrap().len();
        let db = dir.path().join("bench.db");
        let cfg = dir.path().join("bench.toml");
        std::fs::write(
            &cfg,
            format!("[store]\nurl = \"sqlite://{}\"\n", db.display()),
        )
        .unwrap();
        let mut settings = leadsync::config::load(&cfg).unwrap();
        let mut sheet = SpreadsheetConfig::for_inbox(&inbox);
        sheet.settle = Duration::ZERO;
        let connector = ConnectorConfig::Spreadsheet(sheet);
        settings
            .connectors
            .insert("drops".into(), connector.clone());
        let store = SqliteStore::open(&db).unwrap();
        let connectors = vec![AnyConnector::build("drops", &connector).unwrap()];
        Bench {
            dir,
            settings,
            store,
            connectors,
            file_bytes,
        }
    }

    /// One cycle with the built-in rules.
    pub fn cycle(&mut self) -> Cycle {
        let rules = Arc::new(Rules::load(RulesSource::builtin()).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let cycle = runtime
            .block_on(run_once(
                &self.settings,
                &mut self.store,
                &mut self.connectors,
                &rules,
                None,
            ))
            .unwrap();
        assert!(cycle.runs[0].error.is_none(), "{:?}", cycle.runs[0].error);
        cycle
    }
}

/// A free port on 127.0.0.1 (bound, read and let go).
pub fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A `leadsync run` child, killed and reaped when dropped (the bench ends or panics).
pub struct Daemon(pub std::process::Child);

impl Daemon {
    /// `leadsync --config CONFIG run` of this build, or of the binary `LEADSYNC_BIN` names
    /// (another build measured on the same store), its warnings on this stderr.
    pub fn run(config: &std::path::Path) -> Self {
        let binary =
            std::env::var("LEADSYNC_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_leadsync").into());
        println!("binary: {binary}");
        Self(
            std::process::Command::new(&binary)
                .args(["--config", config.to_str().unwrap(), "run"])
                .env_remove("LEADSYNC_CONFIG")
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
