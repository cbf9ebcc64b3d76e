//! Salesforce connector benchmarks:
//!
//!     cargo bench --bench salesforce
//!
//! 1. pull and store 50,000 leads (batches of 2,000, limits off) from the fake Salesforce in a
//!    child process, so the CPU time read is the client's alone; in the same run, the HubSpot
//!    pull of 50,000 contacts exactly as the `hubspot` bench does it. Three rounds, the order
//!    alternating, each pull on a fresh store; the medians side by side and the ratio of the
//!    client CPU seconds, Salesforce / HubSpot (aim: at most 1.20).
//! 2. push 10,000 lead status changes ("Open - Not Contacted" to mql's "Marketing Qualified")
//!    through the outbox drain the daemon uses, every answer 300 ms late: write requests (aim:
//!    at most 50, one collection of 200 a write), all requests, wall time. Every lead is read
//!    back from the fake; the bench panics if one did not land or the writes exceed 50.
//!
//! `cargo bench --bench salesforce -- pull [N]` runs one Salesforce pull alone over N leads
//! (for profiling).

use leadsync::config::{ConnectorConfig, Settings};
use leadsync::connector::Tier;
use leadsync::pipeline::{AnyConnector, Cycle, PushTarget, run_once};
use leadsync::rules::{Rules, RulesSource};
use leadsync::store::SqliteStore;
use leadsync::store::prelude::*;
use leadsync_fake_salesforce::{FakeConfig, FakeSalesforce, Fault, SObject, seed};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::child::spawn_fake;
use support::hubspot::{self as hub, PullRun};
use support::median;

/// The argument that makes the bench binary serve a fake Salesforce (see [`serve_fake`]).
const SERVE: &str = "serve-fake-salesforce";
const OPEN: &str = "Open - Not Contacted";
const MQL: &str = "Marketing Qualified";
/// Pulls of each CRM, alternating which goes first.
const ROUNDS: usize = 3;
/// What the pull's CPU ratio, Salesforce / HubSpot, should stay within.
const CPU_RATIO_AIM: f64 = 1.20;
/// The push bench's size and its aim: collections of 200 records, one write each.
const PUSHES: usize = 10_000;
const MAX_WRITES: u64 = 50;
const ANSWER_DELAY: Duration = Duration::from_millis(300);

/// An org with no limit worth the name, the picklist above, batches of 2,000.
fn org() -> FakeSalesforce {
    let fake = FakeSalesforce::new(FakeConfig {
        daily_limit: 1_000_000_000,
        batch_sizes: vec![2000],
        ..FakeConfig::default()
    });
    fake.set_lead_statuses(leadsync_sample::SALESFORCE_STATUSES);
    fake
}

/// The child's side of the pull bench: an org of `args[0]` seeded leads (statuses cycling
/// through the open ones), served until killed; prints its base URL first.
fn serve_fake(args: &[String]) {
    let leads: usize = args[0].parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let fake = org();
        fake.seed_leads(&seed::people(leads, 1));
        let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        println!("{}", server.base_url);
        tokio::signal::ctrl_c().await.ok();
    });
}

/// A fresh store and a Salesforce connector (`sf`) read from a config file, as `leadsync` reads
/// one: `type = "salesforce"`, no reserve kept, lead / mql / sql mapped to statuses.
struct Setup {
    _dir: tempfile::TempDir,
    settings: Settings,
    store: SqliteStore,
    connectors: Vec<AnyConnector>,
    rules: Arc<Rules>,
}

impl Setup {
    fn new(fake: &FakeSalesforce, base_url: &str, push: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("client_id"), &fake.config().client_id).unwrap();
        std::fs::write(p("client_secret"), &fake.config().client_secret).unwrap();
        let config = p("leadsync.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\nurl = \"sqlite://{db}\"\n\n\
                 [connectors.sf]\ntype = \"salesforce\"\ninstance_url = \"{base_url}\"\n\
                 client_id = {{ file = \"{id}\" }}\nclient_secret = {{ file = \"{secret}\" }}\n\
                 push = {push}\n\n\
                 [connectors.sf.rate_limit]\ndaily_reserve = 0\n\n\
                 [connectors.sf.lead_status]\nlead = \"Working - Contacted\"\n\
                 mql = \"{MQL}\"\nsql = \"Sales Qualified\"\n",
                db = p("db").display(),
                id = p("client_id").display(),
                secret = p("client_secret").display(),
            ),
        )
        .unwrap();
        let settings = leadsync::config::load(&config).unwrap();
        let store = SqliteStore::open(p("db")).unwrap();
        let connectors = vec![AnyConnector::build("sf", &settings.connectors["sf"]).unwrap()];
        Setup {
            _dir: dir,
            settings,
            store,
            connectors,
            rules: Arc::new(Rules::load(RulesSource::builtin()).unwrap()),
        }
    }

    /// One full cycle, which must not fail.
    async fn cycle(&mut self) -> Cycle {
        let cycle = run_once(
            &self.settings,
            &mut self.store,
            &mut self.connectors,
            &self.rules,
            None,
        )
        .await
        .unwrap();
        assert!(cycle.runs[0].error.is_none(), "{:?}", cycle.runs[0].error);
        cycle
    }
}

/// Pulls and stores `leads` leads from a fake Salesforce in a child process into a fresh store:
/// what the client spent.
async fn salesforce_pull(leads: usize) -> PullRun {
    let (mut child, url) = spawn_fake(&[SERVE.to_string(), leads.to_string()]);
    // Only the credentials are read from this handle: the org is the child's.
    let mut c = Setup::new(&org(), &url, false);
    let run = PullRun::measure(&child, async { c.cycle().await.runs[0].resolved.records }).await;
    child.kill().ok();
    child.wait().ok();
    run
}

fn line(run: &PullRun) -> String {
    format!(
        "{:.2}s wall, {:.2} CPU s ({:.2} user + {:.2} system), {} records, {:.0} MB written, the fake's CPU {:.2} s",
        run.wall,
        run.cpu(),
        run.user,
        run.system,
        run.records,
        run.mb_written,
        run.fake_cpu
    )
}

/// Part 1: the two pulls, interleaved.
async fn pull_comparison(records: usize) {
    let (mut sf, mut hs) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        // Odd rounds Salesforce first, even rounds HubSpot first.
        let salesforce_first = round % 2 == 1;
        for salesforce in [salesforce_first, !salesforce_first] {
            let (name, run) = if salesforce {
                ("salesforce", salesforce_pull(records).await)
            } else {
                ("hubspot", hub::pull(records).await)
            };
            assert_eq!(
                run.records, records as u64,
                "the {name} pull of round {round} stored {} records, not {records}",
                run.records
            );
            println!("round {round}, {name:<10}: {}", line(&run));
            if salesforce {
                sf.push(run)
            } else {
                hs.push(run)
            }
        }
    }
    let cpu = |runs: &[PullRun]| median(runs.iter().map(PullRun::cpu).collect());
    let wall = |runs: &[PullRun]| median(runs.iter().map(|r| r.wall).collect());
    let (sf_cpu, hs_cpu) = (cpu(&sf), cpu(&hs));
    let ratio = sf_cpu / hs_cpu;
    println!(
        "pull+store {records} records, limits off, median of {ROUNDS} interleaved rounds: \
         Salesforce {sf_cpu:.2} CPU s client-side ({:.2}s wall), HubSpot {hs_cpu:.2} CPU s ({:.2}s wall); \
         CPU ratio Salesforce / HubSpot {ratio:.2} (aim <= {CPU_RATIO_AIM:.2}: {})",
        wall(&sf),
        wall(&hs),
        if ratio <= CPU_RATIO_AIM {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// Part 2: 10,000 status pushes through the outbox drain, every answer 300 ms late.
async fn push_bench() {
    let fake = org();
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let leads = seed::people(PUSHES, 2)
        .into_iter()
        .map(|p| {
            BTreeMap::from([
                ("FirstName".to_string(), json!(p.first_name)),
                ("LastName".to_string(), json!(p.last_name)),
                ("Email".to_string(), json!(p.email)),
                ("Phone".to_string(), json!(p.phone)),
                ("Company".to_string(), json!(p.company)),
                ("Title".to_string(), json!(p.title)),
                ("LeadSource".to_string(), json!(p.lead_source)),
                ("Status".to_string(), json!(OPEN)),
            ])
        })
        .collect();
    let ids = fake.insert_many(SObject::Lead, leads);
    // Pulled (untimed) without pushing, then a push of mql planned for every person with the
    // planning code a cycle uses, on a connector built again with `push = true`, as a daemon
    // started with it has.
    let mut c = Setup::new(&fake, &server.base_url, false);
    let run = c.cycle().await;
    assert_eq!(run.runs[0].resolved.records, PUSHES as u64);
    let persons = c.store.person_count().unwrap() as i64;
    let target = [PushTarget::forward("sf")];
    let mut tx = c.store.begin().unwrap();
    let mut planned = 0;
    for person in 1..=persons {
        planned +=
            leadsync::pipeline::outbox::plan(tx.as_mut(), &target, person, Tier::MQL).unwrap();
    }
    tx.commit().unwrap();
    assert_eq!(planned, PUSHES as u64, "pushes planned");
    let mut cfg = c.settings.connectors["sf"].clone();
    if let ConnectorConfig::Salesforce(sf) = &mut cfg {
        sf.push = true;
    }
    let connector = AnyConnector::build("sf", &cfg).unwrap();
    c.store.checkpoint().unwrap();

    fake.script(Fault::Slow {
        delay: ANSWER_DELAY,
        times: u32::MAX,
    });
    fake.reset_writes();
    let used = fake.api_usage();
    let t = Instant::now();
    let stats = leadsync::pipeline::outbox::drain(
        &mut c.store,
        &connector,
        &leadsync::pipeline::outbox::Claimant::this_process(),
        &|| true,
    )
    .await
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let (writes, requests) = (fake.writes(), fake.api_usage() - used);
    let landed = ids
        .iter()
        .filter(|id| {
            fake.record(id)
                .and_then(|r| r.fields.get("Status").cloned())
                .is_some_and(|s| s == json!(MQL))
        })
        .count();
    println!(
        "push {PUSHES} lead statuses ({OPEN} to {MQL}) through the outbox drain, every answer {} ms late: \
         {secs:.1}s wall, {writes} write requests, {requests} API requests in all, at most {} in flight; \
         {} applied, {} retried, {} dead; {landed} of {PUSHES} leads read back at {MQL}",
        ANSWER_DELAY.as_millis(),
        fake.max_in_flight(),
        stats.applied,
        stats.retried,
        stats.dead,
    );
    assert_eq!(landed, PUSHES, "leads whose status push landed");
    assert!(
        writes <= MAX_WRITES,
        "{writes} write requests for {PUSHES} pushes; the aim is at most {MAX_WRITES}"
    );
    drop(server);
}

fn main() {
    leadsync::tune_allocator();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some(hub::SERVE) => return hub::serve_fake(&args[1..]),
        Some(SERVE) => return serve_fake(&args[1..]),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // The numbering plan loads once per process (the binary starts loading it at start).
        leadsync::resolve::phone::load_metadata();
        if args.first().map(String::as_str) == Some("pull") {
            let leads = args
                .get(1)
                .and_then(|n| n.replace('_', "").parse().ok())
                .unwrap_or(50_000);
            println!(
                "pull+store {leads} leads: {}",
                line(&salesforce_pull(leads).await)
            );
            return;
        }
        pull_comparison(50_000).await;
        push_bench().await;
    });
}
