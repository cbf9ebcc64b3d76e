//! `leadsync run` as a child process against the fake HubSpot on loopback and a drop folder:
//! pushes drained between cycles, `/metrics` and `/api/v1/status` checked against what the fake
//! saw, the API's bearer token, and a stop in the middle of a push, gracefully and past the
//! shutdown timeout.

mod common;

use common::daemon::{
    assert_running, free_port, get, get_as, poll_until, spawn, status, terminate, wait_until,
};
use leadsync::connector::Tier;
use leadsync::store::{SqliteStore, prelude::*};
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, Fault, ServerHandle};
use leadsync_sample as sample;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SEED: u64 = 77;
const ADMIN_TOKEN: &str = "admin-secret-4d1f";

/// A fake HubSpot account served on loopback, a drop folder, a store and a daemon config.
struct World {
    server: ServerHandle,
    fake: FakeHubSpot,
    dir: tempfile::TempDir,
    inbox: PathBuf,
    db: PathBuf,
    config: PathBuf,
    addr: SocketAddr,
    // Last: the fake's server runs on it, so it must outlive the handle.
    _runtime: tokio::runtime::Runtime,
}

impl World {
    fn new(fake_config: FakeConfig) -> World {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = FakeHubSpot::new(fake_config);
        let server = runtime
            .block_on(fake.serve("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let (db, config) = (
            dir.path().join("leadsync.db"),
            dir.path().join("leadsync.toml"),
        );
        let addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        World {
            server,
            fake,
            dir,
            inbox,
            db,
            config,
            addr,
            _runtime: runtime,
        }
    }

    /// A daemon config: the drop folder (taken by its watcher), the HubSpot connector with
    /// pushes on, and `extra` TOML appended to the `[daemon]` table.
    fn write_config(&self, daemon: &str, hubspot: &str) {
        let token = self.dir.path().join("hubspot-token");
        std::fs::write(&token, &self.fake.config().token).unwrap();
        let text = format!(
            "[store]\nurl = \"sqlite://{db}\"\n\n\
             [admin]\nlisten = \"{addr}\"\ntoken = {{ env = \"LEADSYNC_TEST_ADMIN_TOKEN\" }}\n\n\
             [daemon]\npush_interval = \"1s\"\n{daemon}\n\n\
             [connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{inbox}\"\nsettle = \"0s\"\nschedule = \"*/5 * * * * *\"\n\n\
             [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{url}\"\ntoken = {{ file = \"{token}\" }}\npush = true\noverlap = \"60s\"\n{hubspot}\n",
            db = self.db.display(),
            addr = self.addr,
            inbox = self.inbox.display(),
            url = self.server.base_url,
            token = token.display(),
        );
        std::fs::write(&self.config, text).unwrap();
    }

    fn start(&self) -> std::process::Child {
        let child = spawn(
            &self.config,
            &[("LEADSYNC_TEST_ADMIN_TOKEN", ADMIN_TOKEN)],
            Some(&self.dir.path().join("daemon.log")),
        );
        wait_until("/healthz", Duration::from_secs(30), || {
            get(self.addr, "/healthz").is_some_and(|(s, _)| s == 200)
        });
        child
    }

    /// SIGTERM, then the time it took to exit 0.
    fn stop(&self, child: std::process::Child) -> Duration {
        let (code, took) = terminate(child, Duration::from_secs(30));
        assert_eq!(code, Some(0), "{}", self.log());
        took
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.db).unwrap()
    }

    fn status(&self) -> Option<serde_json::Value> {
        status(self.addr, Some(ADMIN_TOKEN))
    }

    fn outbox(&self) -> BTreeMap<String, u64> {
        self.store().outbox_counts("hubspot").unwrap()
    }

    fn inbox_empty(&self) -> bool {
        std::fs::read_dir(&self.inbox)
            .unwrap()
            .filter_map(Result::ok)
            .all(|e| e.path().is_dir())
    }

    /// Contacts whose HubSpot stage is not the tier of the person they are linked to, or that
    /// are linked to no person: `(id, stage in HubSpot, tier in leadsync)`.
    fn stage_mismatches(&self) -> Vec<(String, Option<Tier>, Option<Tier>)> {
        common::hubspot::stage_mismatches(&self.fake, &mut self.store())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }
}

/// The value of one sample of `/metrics` whose labels include `labels`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[test]
fn pushes_drain_between_cycles_and_metrics_status_and_the_token_match_what_happened() {
    // GIVEN a HubSpot account at 10 requests a second, contacts that the drops know more about,
    // and another app of the same account that empties the window for the first seconds
    let world = World::new(FakeConfig {
        requests_per_window: 10,
        window: Duration::from_secs(1),
        ..FakeConfig::default()
    });
    let in_hubspot = sample::seed_hubspot(&world.fake, SEED, 300);
    world.write_config(
        "",
        "schedule = \"*/2 * * * * *\"\nrate_limit = { requests_per_window = 10, window = \"1s\" }",
    );
    sample::write_drops(&world.inbox, SEED, 300).unwrap();

    // WHEN the daemon runs, while the other app keeps the window full until the daemon has met
    // a 429 of its own (or 60 s pass)
    let child = world.start();
    let addr: SocketAddr = world
        .server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let (started, mut rival_limited) = (Instant::now(), 0u64);
    while world.fake.stats().total_rate_limited() == rival_limited
        && started.elapsed() < Duration::from_secs(60)
    {
        let answer = get_as(addr, "/crm/v3/objects/contacts?limit=1", Some("fake-token"));
        if answer.is_some_and(|(s, _)| s == 429) {
            rival_limited += 1;
        }
    }

    // THEN every stage leadsync decided reaches HubSpot, pushed between cycles
    wait_until(
        "the drops taken and every stage pushed",
        Duration::from_secs(120),
        || {
            world.inbox_empty()
                && world.outbox().get("pending").copied().unwrap_or(0) == 0
                && world.stage_mismatches().is_empty()
        },
    );
    // (and the metrics have seen it: the pushes applied and the persons stored)
    wait_until(
        "the metrics to show the work",
        Duration::from_secs(30),
        || {
            let done = world.outbox().get("done").copied().unwrap_or(0) as f64;
            let scrape = get_as(world.addr, "/metrics", Some(ADMIN_TOKEN)).map(|(_, text)| {
                prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
            });
            scrape.is_some_and(|scrape| {
                let applied = [("connector", "hubspot"), ("outcome", "applied")];
                sample(&scrape, "leadsync_pushes_total", &applied) == Some(done)
                    && sample(&scrape, "leadsync_persons", &[]) == Some(300.0)
            })
        },
    );
    let mut store = world.store();
    let outbox = world.outbox();
    let done = outbox.get("done").copied().unwrap_or(0);
    assert!(done > 0, "the drops raised some tiers: {outbox:?}");
    assert_eq!(
        store.person_count().unwrap(),
        300,
        "one person per sample person"
    );
    assert!(in_hubspot < 300);

    // THEN the API asks for the token, the probes do not
    for path in ["/metrics", "/api/v1/status", "/api/v1/persons/1"] {
        assert_eq!(get(world.addr, path).map(|(s, _)| s), Some(401), "{path}");
        assert_eq!(
            get_as(world.addr, path, Some("wrong")).map(|(s, _)| s),
            Some(401),
            "{path}"
        );
    }
    assert_eq!(get(world.addr, "/healthz").map(|(s, _)| s), Some(200));
    assert_eq!(get(world.addr, "/readyz").map(|(s, _)| s), Some(200));

    // THEN /metrics parses, and its numbers are what the fake and the store saw
    let (code, text) = get_as(world.addr, "/metrics", Some(ADMIN_TOKEN)).unwrap();
    assert_eq!(code, 200);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let hub = [("connector", "hubspot")];
    let fake = world.fake.stats();
    let applied = sample(
        &scrape,
        "leadsync_pushes_total",
        &[("connector", "hubspot"), ("outcome", "applied")],
    );
    assert_eq!(applied, Some(done as f64), "{text}");
    assert_eq!(fake.items_changed, done, "each push changed one contact");
    let limited = sample(&scrape, "leadsync_rate_limited_total", &hub).unwrap();
    assert_eq!(
        limited,
        (fake.total_rate_limited() - rival_limited) as f64,
        "429s: the fake answered {} in all, {rival_limited} of them to the other app",
        fake.total_rate_limited()
    );
    assert!(limited > 0.0, "the other app made the daemon meet 429s");
    let daily = sample(
        &scrape,
        "leadsync_rate_budget_remaining",
        &[("connector", "hubspot"), ("window", "daily")],
    )
    .unwrap();
    let limit = world.fake.config().daily_limit as f64;
    assert!(
        daily < limit && daily >= limit - fake.total_requests() as f64,
        "daily budget left {daily} of {limit}, {} requests made",
        fake.total_requests()
    );
    assert!(
        sample(
            &scrape,
            "leadsync_rate_budget_remaining",
            &[("connector", "hubspot"), ("window", "rolling")]
        )
        .is_some()
    );
    assert_eq!(sample(&scrape, "leadsync_dead_letters", &hub), Some(0.0));
    assert_eq!(
        sample(
            &scrape,
            "leadsync_outbox_entries",
            &[("connector", "hubspot"), ("status", "pending")]
        ),
        Some(0.0)
    );
    assert_eq!(sample(&scrape, "leadsync_persons", &[]), Some(300.0));
    let by_tier: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "leadsync_persons_by_tier")
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            _ => 0.0,
        })
        .sum();
    assert_eq!(by_tier, 300.0);

    // THEN the status shows each connector's schedule, next run, outbox and request budget
    let status = world.status().unwrap();
    let hubspot = status["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "hubspot")
        .unwrap()
        .clone();
    assert_eq!(hubspot["schedule"], "*/2 * * * * *");
    assert_eq!(hubspot["type"], "hubspot");
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(hubspot["next_run"].clone()).unwrap();
    let ahead = next - chrono::Utc::now();
    assert!(
        ahead <= chrono::TimeDelta::seconds(2) && ahead > chrono::TimeDelta::seconds(-1),
        "{next}"
    );
    assert_eq!(hubspot["outbox"]["done"], done);
    assert_eq!(hubspot["rate_budget"]["rate_limited"], limited as u64);
    assert_eq!(status["outbox"]["done"], done);
    assert_eq!(status["dead_letters"].as_array().map(Vec::len), Some(0));

    world.stop(child);
}

/// HubSpot contacts at `subscriber` that a drop makes leads (name, email and phone): one push
/// each.
fn leads_to_be(world: &World, n: usize) {
    let mut csv = String::from("Email,First Name,Last Name,Phone\n");
    for i in 0..n {
        let p = sample::person(SEED, i);
        let mut props = sample::hubspot_properties(&p);
        props.insert("lifecyclestage".into(), "subscriber".into());
        props.remove("phone");
        world.fake.insert(props);
        csv.push_str(&format!(
            "{},{},{},+1 415 555 {:04}\n",
            p.email, p.first, p.last, i
        ));
    }
    std::fs::write(world.inbox.join("leads.csv"), csv).unwrap();
}

fn leads_in_hubspot(world: &World) -> u64 {
    world
        .fake
        .contacts()
        .iter()
        .filter(|c| c.properties.get("lifecyclestage").map(String::as_str) == Some("lead"))
        .count() as u64
}

#[test]
fn a_stop_mid_push_leaves_the_store_consistent_and_the_next_start_finishes() {
    // GIVEN 1,000 pushes to make, at one request a second, so a push takes ten batches
    let world = World::new(FakeConfig {
        requests_per_window: 1,
        window: Duration::from_secs(1),
        ..FakeConfig::default()
    });
    let hubspot =
        "schedule = \"0 0 * * * *\"\nrate_limit = { requests_per_window = 1, window = \"1s\" }";
    world.write_config("shutdown_timeout = \"30s\"", hubspot);
    leads_to_be(&world, 1_000);
    let child = world.start();
    wait_until("the first batch pushed", Duration::from_secs(60), || {
        world.outbox().get("done").copied().unwrap_or(0) >= 100
    });

    // WHEN SIGTERM arrives in the middle of the push
    let took = world.stop(child);

    // THEN the batch in flight finishes and commits, the rest stays queued, and it exits 0
    assert!(
        took < Duration::from_secs(5),
        "a batch takes a second, the rest 8 s or more: {took:?}"
    );
    let outbox = world.outbox();
    let (done, pending) = (outbox["done"], outbox.get("pending").copied().unwrap_or(0));
    assert_eq!(done + pending, 1_000, "{outbox:?}");
    assert!(pending > 0, "stopped before the end: {outbox:?}");
    assert_eq!(
        leads_in_hubspot(&world),
        done,
        "done means applied, and only then"
    );
    let check: String = rusqlite::Connection::open(&world.db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");

    // WHEN it starts again with a 2-s shutdown timeout, and a request hangs past it when
    // SIGTERM comes
    world.write_config("shutdown_timeout = \"2s\"", hubspot);
    world.fake.script(Fault::Slow {
        delay: Duration::from_secs(20),
        times: 1,
    });
    let slowed = world.fake.stats().faults_injected;
    let child = world.start();
    wait_until(
        "the slow request in flight",
        Duration::from_secs(30),
        || world.fake.stats().faults_injected > slowed,
    );
    let took = world.stop(child);

    // THEN it stops after the timeout (2 s), not after the request, and nothing is lost
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        world.log().contains("daemon.shutdown_timeout"),
        "{}",
        world.log()
    );
    let outbox = world.outbox();
    assert_eq!(
        outbox["done"] + outbox.get("pending").copied().unwrap_or(0),
        1_000
    );

    // WHEN it starts once more
    let child = world.start();
    // THEN it finishes the work: every contact is a lead in HubSpot, nothing is left queued
    wait_until("all 1,000 pushed", Duration::from_secs(90), || {
        world.outbox().get("pending").copied().unwrap_or(0) == 0
    });
    assert_eq!(world.outbox()["done"], 1_000);
    assert_eq!(leads_in_hubspot(&world), 1_000);
    assert!(world.stage_mismatches().is_empty());
    world.stop(child);
}

/// Everything in `dir` (not below), by name.

#[test]
fn sigkill_at_random_moments_while_pulling_and_pushing_loses_nothing() {
    // GIVEN 1,500 sample persons, two in three of them in HubSpot (10 requests a second), and
    // exports of all of them (overlapping, with repeats and bad rows) in the drop folder
    let world = World::new(FakeConfig {
        requests_per_window: 10,
        window: Duration::from_secs(1),
        ..FakeConfig::default()
    });
    let persons = 1_500;
    sample::seed_hubspot(&world.fake, SEED, persons);
    world.write_config(
        "",
        "schedule = \"*/2 * * * * *\"\nrate_limit = { requests_per_window = 10, window = \"1s\" }",
    );
    let mut dropped = BTreeMap::new();
    for path in sample::write_drops(&world.inbox, SEED, persons).unwrap() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        dropped.insert(name, std::fs::read(&path).unwrap());
    }
    let bad_rows: usize = sample::drop_rows(SEED, persons, 3, 0.15, 150)
        .iter()
        .flatten()
        .filter(|r| r.truth.is_none())
        .count();
    let late = 50; // new persons in each of two late exports
    let seed = std::env::var("LEADSYNC_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("kill moments from seed {seed} (LEADSYNC_CRASH_SEED={seed} to replay)");
    let mut rng = sample::Rng::new(seed);

    // WHEN the daemon is killed with SIGKILL at random moments, 12 times, restarted each time,
    // while two more exports arrive, each with new persons and 100 HubSpot contacts now customers
    for round in 0..12 {
        if round == 4 || round == 8 {
            let k = round / 4 - 1;
            let new = (persons + k * late..persons + (k + 1) * late)
                .map(|i| sample::SampleRow::original(&sample::person(SEED, i)));
            let customers = (0..persons)
                .filter(|i| i % 3 != 2)
                .skip(k * 100)
                .take(100)
                .map(|i| sample::SampleRow {
                    stage: "Customer".into(),
                    ..sample::SampleRow::original(&sample::person(SEED, i))
                });
            let name = format!("late-export-{k}.csv");
            let path = world.inbox.join(&name);
            let file = std::fs::File::create(&path).unwrap();
            sample::write_hubspot_csv(file, new.chain(customers)).unwrap();
            dropped.insert(name, std::fs::read(&path).unwrap());
        }
        let mut child = spawn(
            &world.config,
            &[("LEADSYNC_TEST_ADMIN_TOKEN", ADMIN_TOKEN)],
            Some(&world.dir.path().join("daemon.log")),
        );
        let alive = Duration::from_millis(200 + rng.below(2_800) as u64);
        // On purpose: the kill lands at a random point of the daemon's work.
        std::thread::sleep(alive);
        child.kill().unwrap();
        child.wait().unwrap();
        println!(
            "round {round}: killed after {alive:?}; outbox {:?}, {} stage updates in HubSpot",
            world.outbox(),
            world.fake.stats().items_changed
        );
    }

    // THEN a last start finishes the work
    let child = world.start();
    let mut state = String::new();
    let settled = poll_until(Duration::from_secs(180), || {
        common::hubspot::work_done(
            &world.inbox,
            &world.fake,
            &mut world.store(),
            (persons + 2 * late) as u64,
            &mut state,
        )
    });
    assert!(
        settled,
        "the last start did not finish the work: {state}\n{}",
        world.log()
    );
    world.stop(child);

    // THEN every expected person exists exactly once
    common::assert_each_sample_person_once(&mut world.store(), SEED, persons + 2 * late);
    // THEN every desired stage is in HubSpot, and no push is lost or left behind
    assert_eq!(world.stage_mismatches(), []);
    let outbox = world.outbox();
    assert_eq!(outbox.get("pending"), None, "{outbox:?}");
    assert_eq!(outbox.get("dead"), None, "{outbox:?}");
    // THEN no input file is lost: each is in processed/ or failed/ (as `<time>_<name>`), byte
    // for byte, once
    common::assert_each_drop_moved_once(&world.inbox, &dropped);
    let processed = common::file_bytes(&world.inbox.join("processed"));
    let failed = common::file_bytes(&world.inbox.join("failed"));
    assert!(
        failed
            .keys()
            .any(|n| n.ends_with("_scanned-business-cards.pdf"))
    );
    // THEN no row is lost: the bad rows, and only they, are in the rejects files
    let rejected: usize = processed
        .iter()
        .filter(|(name, _)| name.ends_with(".rejects.csv"))
        .map(|(_, bytes)| csv::Reader::from_reader(bytes.as_slice()).records().count())
        .sum();
    assert_eq!(rejected, bad_rows);
}

#[test]
fn sigterm_inside_a_backfill_stops_after_the_step_and_the_next_start_resumes() {
    // GIVEN 3,000 contacts at 2 requests a second and 1 search a second: a backfill of several
    // seconds, and a daemon that would wait a minute for work in flight
    let world = World::new(FakeConfig {
        requests_per_window: 2,
        window: Duration::from_secs(1),
        search_per_second: 1,
        ..FakeConfig::default()
    });
    world.fake.seed(3_000, 3);
    world.write_config(
        "shutdown_timeout = \"60s\"",
        "rate_limit = { requests_per_window = 2, window = \"1s\", search_per_second = 1 }",
    );
    let mut child = world.start();
    wait_until("the first step stored", Duration::from_secs(60), || {
        assert_running(&mut child);
        world.store().person_count().unwrap() > 0
    });

    // WHEN SIGTERM arrives in the middle of the backfill
    let took = world.stop(child);

    // THEN it stops after the step in flight, not at the end of the backfill or the timeout
    assert!(took < Duration::from_secs(5), "{took:?}");
    let part = world.store().person_count().unwrap();
    assert!(part < 3_000, "{part}");

    // WHEN it starts again, THEN the backfill resumes and every contact is stored once
    let mut child = world.start();
    wait_until("the backfill finished", Duration::from_secs(120), || {
        assert_running(&mut child);
        world.store().person_count().unwrap() == 3_000
    });
    world.stop(child);
    assert_eq!(world.store().person_count().unwrap(), 3_000);
}
