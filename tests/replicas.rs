//! Acceptance: three `leadsync run` replicas on one PostgreSQL database, the fake HubSpot at 10
//! requests a second with one request in twenty failing, and overlapping drops. One replica is
//! killed (SIGKILL) at random moments and restarted; another, holding the connectors, is paused
//! (SIGSTOP) past its lease and then continued. Afterwards every person exists once, every
//! HubSpot contact holds its person's tier, no push is lost or left pending, the fake never saw
//! more than its limit in any window, and the paused replica wrote nothing after it woke.
//!
//! The random moments come from a seed printed at the start; `LEADSYNC_REPLICAS_SEED` replays it.

mod common;

use common::daemon::{exit_code, free_port, poll_until, signal, spawn, status, wait_until};
use leadsync::connector::Tier;
use leadsync::store::{PgStore, prelude::*};
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, Fault, ServerHandle};
use leadsync_sample as sample;
use leadsync_test_postgres::Cluster;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SEED: u64 = 515;
const LEASE_TTL: Duration = Duration::from_secs(3);
const TOKEN: &str = "replicas-admin-token";

/// The fake, the drop folder, the database and the replicas' shared config.
struct World {
    _server: ServerHandle,
    fake: FakeHubSpot,
    dir: tempfile::TempDir,
    inbox: PathBuf,
    url: String,
    config: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

/// One replica: its name (`daemon.replica_id`), admin address and process. Each start is a
/// new process, `PGAPPNAME=leadsync-NAME-N` for the Nth.
struct Replica {
    name: &'static str,
    addr: SocketAddr,
    child: Option<Child>,
    starts: u32,
}

impl Drop for Replica {
    /// A replica still running when the test ends (a failed assertion) is killed, not left
    /// behind.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl World {
    fn new() -> World {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = FakeHubSpot::new(FakeConfig {
            requests_per_window: 10,
            window: Duration::from_secs(1),
            ..FakeConfig::default()
        });
        let server = runtime
            .block_on(fake.serve("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let url = Cluster::get().fresh_db();
        let token = dir.path().join("hubspot-token");
        std::fs::write(&token, &fake.config().token).unwrap();
        let config = dir.path().join("leadsync.toml");
        let text = format!(
            "[store]\nurl = \"{url}\"\n\n\
             [admin]\ntoken = {{ env = \"LEADSYNC_TEST_ADMIN_TOKEN\" }}\n\n\
             [daemon]\npush_interval = \"1s\"\nlease_ttl = \"{ttl}s\"\nrequalify = \"*/3 * * * * *\"\n\n\
             [connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{inbox}\"\nsettle = \"0s\"\nschedule = \"*/2 * * * * *\"\n\n\
             [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{base}\"\ntoken = {{ file = \"{token}\" }}\npush = true\noverlap = \"60s\"\n\
             schedule = \"*/2 * * * * *\"\nrate_limit = {{ requests_per_window = 10, window = \"1s\" }}\n",
            ttl = LEASE_TTL.as_secs(),
            inbox = inbox.display(),
            base = server.base_url,
            token = token.display(),
        );
        std::fs::write(&config, text).unwrap();
        World {
            _server: server,
            fake,
            dir,
            inbox,
            url,
            config,
            _runtime: runtime,
        }
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn start(&self, replica: &mut Replica) {
        replica.starts += 1;
        let app = format!("leadsync-{}-{}", replica.name, replica.starts);
        let listen = replica.addr.to_string();
        let child = spawn(
            &self.config,
            &[
                ("LEADSYNC_TEST_ADMIN_TOKEN", TOKEN),
                ("LEADSYNC__DAEMON__REPLICA_ID", replica.name),
                ("LEADSYNC__ADMIN__LISTEN", &listen),
                ("PGAPPNAME", &app),
            ],
            Some(&self.log(replica.name)),
        );
        replica.child = Some(child);
    }

    /// Lets `replica` run for `alive`, kills it (SIGKILL: a random moment of its work) and
    /// starts it again, as its supervisor would.
    fn kill_and_restart(&self, replica: &mut Replica, alive: Duration) {
        std::thread::sleep(alive);
        let mut child = replica.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        println!("{} killed after {alive:?}", replica.name);
        self.start(replica);
    }

    fn store(&self) -> PgStore {
        PgStore::open(&self.url, None).unwrap()
    }

    fn query(&self, sql: &str) -> Vec<String> {
        Cluster::get().query(&self.url, sql)
    }

    fn outbox(&self) -> BTreeMap<String, u64> {
        self.store().outbox_counts("hubspot").unwrap()
    }

    /// Contacts whose stage is not their person's tier: `(id, stage, tier)`.
    fn stage_mismatches(&self) -> Vec<(String, Option<Tier>, Option<Tier>)> {
        common::hubspot::stage_mismatches(&self.fake, &mut self.store())
    }

    fn logs(&self) -> String {
        ["r1", "r2", "r3"]
            .iter()
            .map(|n| {
                format!(
                    "--- {n} ---\n{}",
                    std::fs::read_to_string(self.log(n)).unwrap_or_default()
                )
            })
            .collect()
    }
}

fn replica(name: &'static str) -> Replica {
    Replica {
        name,
        addr: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
        child: None,
        starts: 0,
    }
}

/// Records, in the database itself, which connection committed a change to any table that
/// holds state (a row per changed row, written in the same transaction, so a rolled-back change
/// leaves none): the check on the paused replica reads it.
const AUDIT: &str = "
CREATE TABLE test_audit (app TEXT NOT NULL, at TIMESTAMPTZ NOT NULL, tbl TEXT NOT NULL);
CREATE FUNCTION test_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO test_audit VALUES (current_setting('application_name'), clock_timestamp(), TG_TABLE_NAME);
  RETURN NULL;
END $$;
";
const STATE_TABLES: &[&str] = &[
    "persons",
    "identity_keys",
    "source_records",
    "cursors",
    "rejects",
    "conflicts",
    "tier_history",
    "outbox",
    "connector_state",
];

#[test]
fn three_replicas_survive_kills_and_a_pause_past_the_lease_without_double_work() {
    // GIVEN 1,500 sample persons, two in three in HubSpot, and overlapping exports of all of
    // them in the drop folder
    let world = World::new();
    let persons = 1_500;
    sample::seed_hubspot(&world.fake, SEED, persons);
    let mut dropped = BTreeMap::new();
    for path in sample::write_drops(&world.inbox, SEED, persons).unwrap() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        dropped.insert(name, std::fs::read(&path).unwrap());
    }
    let seed = std::env::var("LEADSYNC_REPLICAS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("random moments from seed {seed} (LEADSYNC_REPLICAS_SEED={seed} to replay)");
    let mut rng = sample::Rng::new(seed);

    // GIVEN the schema in place (validate migrates it) and every committed change audited
    let validate = std::process::Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .args(["--config", world.config.to_str().unwrap(), "validate"])
        .env("LEADSYNC_TEST_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
    world.query(AUDIT);
    for table in STATE_TABLES {
        world.query(&format!(
            "CREATE TRIGGER audit_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION test_audit()"
        ));
    }

    // GIVEN one request in twenty failing (503, 423, a write applied and its answer lost, a
    // slow answer), scripted at random while the replicas run
    let faulting = AtomicBool::new(true);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut rng = sample::Rng::new(seed ^ 0x5eed);
            // The first fault at once (it waits for the first request it fits, so even a run
            // with few requests meets one), then one per twenty requests the fake answered.
            let mut next_at = 0;
            while faulting.load(Ordering::Relaxed) {
                let total = world.fake.stats().total_requests();
                if total < next_at {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                next_at = total + 20;
                world.fake.script(match rng.below(4) {
                    0 => Fault::ServerError {
                        status: 503,
                        times: 1,
                    },
                    1 => Fault::Locked { times: 1 },
                    2 => Fault::DropAfterApply { times: 1 },
                    _ => Fault::Slow {
                        delay: Duration::from_millis(1_500),
                        times: 1,
                    },
                });
            }
        });
        // A failed assertion below unwinds through this: the fault thread stops, so the scope
        // ends and the test fails instead of waiting for it forever.
        let _stop_faults = StopOnDrop(&faulting);

        // WHEN three replicas start, r1 first (so it takes the connectors)
        let (mut r1, mut r2, mut r3) = (replica("r1"), replica("r2"), replica("r3"));
        let started = Instant::now();
        world.start(&mut r1);
        wait_until(
            "r1 to hold both connectors",
            Duration::from_secs(30),
            || {
                status(r1.addr, Some(TOKEN)).is_some_and(|s| {
                    s["leases"]
                        .as_array()
                        .is_some_and(|l| l.iter().filter(|l| l["holder"] == "r1").count() == 3)
                })
            },
        );
        world.start(&mut r2);
        world.start(&mut r3);
        let before_pause = Duration::from_millis(1_000 + rng.below(3_000) as u64);
        std::thread::sleep(before_pause);

        // WHEN r1, holding the connectors mid-work, is paused past its lease while r3 is
        // killed at random moments and restarted
        signal(r1.child.as_ref().unwrap(), "STOP");
        let paused_at = Instant::now();
        println!("r1 paused after {before_pause:?}");
        let pause = LEASE_TTL * 3;
        while paused_at.elapsed() < pause {
            world.kill_and_restart(
                &mut r3,
                Duration::from_millis(300 + rng.below(2_000) as u64),
            );
        }
        // THEN another replica took the connectors over meanwhile
        let holders = world.query(
            "SELECT holder || ':' || epoch FROM leases WHERE name LIKE 'connector:%' ORDER BY name",
        );
        assert!(
            holders.iter().all(|h| !h.starts_with("r1:")),
            "still held by the paused replica: {holders:?}"
        );
        // THEN a running replica holds the HubSpot connector now and says so in its metrics and
        // status (the row may still name a killed r3 until its lease runs out and a live
        // replica takes over)
        let holds_hubspot = |r: &Replica| {
            common::daemon::get_as(r.addr, "/metrics", Some(TOKEN)).is_some_and(|(_, body)| {
                body.lines().any(|l| {
                    l.starts_with("leadsync_lease_held{")
                        && l.contains("lease=\"connector:hubspot\"")
                        && l.contains(&format!("replica=\"{}\"", r.name))
                        && l.ends_with(" 1")
                })
            })
        };
        wait_until(
            "a running replica to hold the HubSpot connector",
            Duration::from_secs(15),
            || [&r2, &r3].into_iter().any(holds_hubspot),
        );
        let holder = [&r2, &r3].into_iter().find(|r| holds_hubspot(r)).unwrap();
        let status = status(holder.addr, Some(TOKEN)).unwrap();
        assert_eq!(status["replica"]["id"], holder.name, "{status}");
        let mine: Vec<_> = status["leases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["mine"] == true)
            .filter_map(|l| l["name"].as_str())
            .collect();
        assert!(mine.contains(&"connector:hubspot"), "{status}");
        let woke_at = world.query("SELECT clock_timestamp()")[0].clone();
        signal(r1.child.as_ref().unwrap(), "CONT");
        println!(
            "r1 continued after {:?}; leases {holders:?}",
            paused_at.elapsed()
        );

        // THEN the paused replica stops on its own (exit 1), having found its lease lost
        let mut r1_child = r1.child.take().unwrap();
        let code = exit_code(&mut r1_child, Duration::from_secs(20));
        assert_eq!(code, Some(1), "{}", world.logs());
        let r1_log = std::fs::read_to_string(world.log("r1")).unwrap();
        assert!(r1_log.contains("lease"), "{r1_log}");

        // WHEN the work goes on with more kills of r3, then r1 comes back as a supervisor
        // would restart it
        for _ in 0..4 {
            world.kill_and_restart(
                &mut r3,
                Duration::from_millis(500 + rng.below(2_500) as u64),
            );
        }
        world.start(&mut r1);
        faulting.store(false, Ordering::Relaxed);

        // THEN the replicas finish the work between them
        let mut state = String::new();
        let settled = poll_until(Duration::from_secs(240), || {
            common::hubspot::work_done(
                &world.inbox,
                &world.fake,
                &mut world.store(),
                persons as u64,
                &mut state,
            )
        });
        assert!(
            settled,
            "the replicas did not finish: {state}\n{}",
            world.logs()
        );
        for r in [&mut r1, &mut r2, &mut r3] {
            let child = r.child.take().unwrap();
            let (code, _) = common::daemon::terminate(child, Duration::from_secs(30));
            assert_eq!(
                code,
                Some(0),
                "{} did not stop cleanly\n{}",
                r.name,
                world.logs()
            );
        }

        // THEN the daily pass (every 3 s here) ran once per firing of the schedule, not once per
        // replica: the others skipped it
        let slots = started.elapsed().as_secs_f64() / 3.0;
        let logs = world.logs();
        let (ran, skipped) = (
            logs.matches("Everyone qualified again.").count(),
            logs.matches("already done by another replica").count(),
        );
        println!("daily pass: {ran} run, {skipped} skipped, over {slots:.0} firings");
        assert!(skipped > 0, "no replica ever skipped the daily pass");
        assert!(
            (ran as f64) <= slots * 1.5 + 2.0,
            "{ran} passes for {slots:.0} firings of the schedule"
        );

        // THEN the paused replica wrote nothing after it woke (its first process; the restarted
        // one is a new member)
        let after_wake = world.query(&format!(
            "SELECT tbl || ' at ' || at FROM test_audit WHERE app = 'leadsync-r1-1' AND at > '{woke_at}' LIMIT 5"
        ));
        assert_eq!(after_wake, Vec::<String>::new(), "r1 wrote after waking");
        let before_pause =
            world.query("SELECT count(*) FROM test_audit WHERE app = 'leadsync-r1-1'");
        println!(
            "r1's first process committed {} row changes before its pause",
            before_pause[0]
        );
    });

    // THEN every expected person exists exactly once
    common::assert_each_sample_person_once(&mut world.store(), SEED, persons);
    // THEN every contact holds its person's tier, and no push is pending or dead
    assert_eq!(world.stage_mismatches(), []);
    let outbox = world.outbox();
    assert_eq!(outbox.get("pending"), None, "{outbox:?}");
    assert_eq!(outbox.get("dead"), None, "{outbox:?}");
    // THEN the fake never saw more than its limit in any window: no request was refused for it
    let stats = world.fake.stats();
    println!("fake: {stats:?}");
    assert!(stats.max_in_window <= 10, "{stats:?}");
    assert_eq!(
        stats.rate_limited.get("TEN_SECONDLY_ROLLING"),
        None,
        "{stats:?}"
    );
    assert!(stats.faults_injected > 0, "{stats:?}");
    // THEN each drop is in processed/ or failed/ once, byte for byte
    common::assert_each_drop_moved_once(&world.inbox, &dropped);
    // THEN the connectors changed hands: their epochs rose at each takeover
    let epochs = world.query("SELECT epoch FROM leases WHERE name LIKE 'connector:%'");
    assert!(
        epochs.iter().all(|e| e.parse::<i64>().unwrap() >= 2),
        "{epochs:?}"
    );
}

/// Clears the flag when dropped, unwinding included.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}
