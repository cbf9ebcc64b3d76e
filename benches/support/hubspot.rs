//! The HubSpot pull benchmark (`hubspot`), shared with `salesforce`, which compares against it in
//! the same run: the fake HubSpot in a child process, and 50,000 contacts pulled and stored
//! through `run_once` into a fresh SQLite store.

use super::child::{cpu_of, cpu_split, spawn_fake, written};
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, Fault};
use std::time::{Duration, Instant};

#[path = "../../tests/common/hubspot.rs"]
pub mod setup;

/// The argument that makes the bench binary serve a fake HubSpot (see [`serve_fake`]).
pub const SERVE: &str = "serve-fake";

/// A fake HubSpot in a child process, seeded with `contacts`; returns it and its base URL.
pub fn spawn(
    contacts: usize,
    per_window: u32,
    window_ms: u64,
    search: u32,
    answer_delay_ms: u64,
) -> (std::process::Child, String) {
    spawn_fake(&[
        SERVE.to_string(),
        contacts.to_string(),
        per_window.to_string(),
        window_ms.to_string(),
        search.to_string(),
        answer_delay_ms.to_string(),
    ])
}

/// The child's side of [`spawn`]: `args` are its arguments after [`SERVE`]. Serves until killed.
pub fn serve_fake(args: &[String]) {
    let n = |i: usize| args[i].parse::<u64>().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let fake = FakeHubSpot::new(FakeConfig {
            requests_per_window: n(1) as u32,
            window: Duration::from_millis(n(2)),
            search_per_second: n(3) as u32,
            ..FakeConfig::default()
        });
        fake.seed(n(0) as usize, 9);
        if n(4) > 0 {
            // Every answer comes this much later (HubSpot answers a batch in 0.1-0.5 s).
            fake.script(Fault::Slow {
                delay: Duration::from_millis(n(4)),
                times: u32::MAX,
            });
        }
        let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        println!("{}", server.base_url);
        tokio::signal::ctrl_c().await.ok();
    });
}

/// What one pull and store cost the client (this process).
#[derive(Debug, Clone, Copy)]
pub struct PullRun {
    pub wall: f64,
    pub user: f64,
    pub system: f64,
    pub records: u64,
    /// Bytes this process wrote meanwhile (store files and sockets), in MB.
    pub mb_written: f64,
    /// The fake's CPU seconds meanwhile (its own process).
    pub fake_cpu: f64,
}

impl PullRun {
    pub fn cpu(&self) -> f64 {
        self.user + self.system
    }

    /// Times `pull` (one cycle on a fresh store, against the fake `fake`).
    pub async fn measure<F: Future<Output = u64>>(fake: &std::process::Child, pull: F) -> PullRun {
        let fake_before = cpu_of(fake);
        let (t, (user, system), bytes) = (Instant::now(), cpu_split(), written());
        let records = pull.await;
        let wall = t.elapsed().as_secs_f64();
        let (user, system) = (cpu_split().0 - user, cpu_split().1 - system);
        PullRun {
            wall,
            user,
            system,
            records,
            mb_written: (written() - bytes) as f64 / 1e6,
            fake_cpu: cpu_of(fake) - fake_before,
        }
    }
}

/// Pulls and stores `contacts` contacts from a fake HubSpot in a child process, limits off, into
/// a fresh store: what the client spent. Load the numbering plan before (it loads once a process).
pub async fn pull(contacts: usize) -> PullRun {
    let (mut fake, url) = spawn(contacts, 0, 10_000, 0, 0);
    let mut c = setup::setup(&url, setup::Options::default());
    let run = PullRun::measure(&fake, async { c.cycle().await.runs[0].resolved.records }).await;
    fake.kill().ok();
    fake.wait().ok();
    run
}
