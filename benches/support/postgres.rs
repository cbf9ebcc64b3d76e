//! The PostgreSQL side of the store benchmarks (`postgres`): a fresh database of the test cluster
//! (`leadsync-test-postgres`: a throwaway cluster, or `LEADSYNC_TEST_PG_URL`), the server's CPU
//! time read from `/proc`, and the HubSpot pull of the `hubspot` bench into PostgreSQL.

use super::child::cpu_split_of;
use super::hubspot::{self as hub, PullRun, setup};
use leadsync::pipeline::run_once;
use leadsync::store::PgStore;
use leadsync_test_postgres::Cluster;

/// A fresh, migrated PostgreSQL store in the test cluster.
pub fn fresh_store() -> PgStore {
    PgStore::open(&Cluster::get().fresh_db(), None).expect("the test cluster's database opens")
}

/// The CPU time of the PostgreSQL server the test cluster runs: its postmaster, the children it
/// reaped (backends that ended) and those alive (the backend serving the store, the WAL writer,
/// the checkpointer…). Found by the port in the postmaster's command line; a server started
/// otherwise (`LEADSYNC_TEST_PG_URL` on another machine, another user's) is not found, and its
/// CPU is reported as unknown.
pub struct ServerCpu {
    postmaster: Option<u32>,
}

impl ServerCpu {
    pub fn find() -> ServerCpu {
        let port = Cluster::get()
            .host_port()
            .rsplit_once(':')
            .map(|(_, p)| p.to_string());
        let postmaster = port.and_then(|port| {
            processes().into_iter().find(|&pid| {
                let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let args: Vec<&[u8]> = args.split(|b| *b == 0).collect();
                args.first().is_some_and(|a| a.ends_with(b"postgres"))
                    && args
                        .windows(2)
                        .any(|w| w[0] == b"-p" && w[1] == port.as_bytes())
            })
        });
        ServerCpu { postmaster }
    }

    /// CPU seconds the server has spent so far, if it was found.
    pub fn seconds(&self) -> Option<f64> {
        let pm = self.postmaster?;
        let stat = std::fs::read_to_string(format!("/proc/{pm}/stat")).ok()?;
        let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        // utime, stime, cutime, cstime (fields 14-17 of stat; 100 ticks/s).
        let own = (ticks(11)? + ticks(12)? + ticks(13)? + ticks(14)?) / 100.0;
        let children: f64 = processes()
            .into_iter()
            .filter(|pid| parent_of(*pid) == Some(pm))
            .map(|pid| {
                let (user, system) = cpu_split_of(&pid.to_string());
                user + system
            })
            .sum();
        Some(own + children)
    }
}

fn processes() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The `hubspot` bench's pull (`contacts` contacts from the fake HubSpot in a child process,
/// limits off) stored into a fresh PostgreSQL database instead of SQLite: what the client spent,
/// and the server's CPU meanwhile. The setup's own SQLite store stays unused.
pub async fn pull(contacts: usize, server: &ServerCpu) -> (PullRun, Option<f64>) {
    let (mut fake, url) = hub::spawn(contacts, 0, 10_000, 0, 0);
    let mut c = setup::setup(&url, setup::Options::default());
    let mut store = fresh_store();
    let before = server.seconds();
    let run = PullRun::measure(&fake, async {
        let cycle = run_once(&c.settings, &mut store, &mut c.connectors, &c.rules, None)
            .await
            .unwrap();
        assert!(cycle.runs[0].error.is_none(), "{:?}", cycle.runs[0].error);
        cycle.runs[0].resolved.records
    })
    .await;
    let server_cpu = server.seconds().zip(before).map(|(a, b)| a - b);
    fake.kill().ok();
    fake.wait().ok();
    (run, server_cpu)
}
