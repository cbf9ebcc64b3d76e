//! Replicas draining the outbox under one account limit, beside one process on SQLite:
//!
//!     cargo bench --bench replicas                          # 30,000 pushes
//!     cargo bench --bench replicas -- N [answer-ms=MS] [read-first] [sqlite|postgres]
//!
//! `answer-ms=MS`: the fake handles each request MS ms after it arrives (HubSpot answers a batch
//! in 0.1-0.5 s); `read-first`: the connector pushes with `allow_downgrade`, reading the stages
//! before and after setting them (three requests a batch instead of one).
//!
//! For each store, SQLite first, then PostgreSQL: a fake HubSpot account of N contacts, none
//! holding a stage, pulled into a fresh store (no limits, no pushes), then everyone qualified
//! again as a customer, which plans N pushes. A fresh account built alike (same ids) then serves
//! with HubSpot's limit, 100 requests per rolling 10 s, and the `leadsync run` release binary
//! drains the outbox at that limit: one process on the SQLite store, three replicas on the
//! PostgreSQL database. The clock runs from the processes' start to the moment no entry is
//! pending.
//!
//! Utilisation is the share of the limit's requests the drain used: requests the fake accepted
//! (every non-search request answered other than 429; searches have their own limit) against
//! `per_window × elapsed / window`. Aims: at least 90%, never over the limit (the most accepted
//! in any rolling window at most the limit, no 429), every contact holding the pushed stage.
//! The fake runs in this process; the bench only polls the store meanwhile.

use leadsync_fake_hubspot::{FakeHubSpot, Fault, Stats};
use leadsync_test_postgres::Cluster;
use std::process::Child;
use std::time::{Duration, Instant};

mod support;

use support::drain::{self, Folder, Limit, PUSHED_STAGE, Shape, daemon};
use support::size_arg;

/// HubSpot's limit on Free and Starter accounts.
const LIMIT: Limit = Limit {
    per_window: 100,
    window: Duration::from_secs(10),
};
/// The share of the limit the drain must use.
const UTILISATION_AIM: f64 = 0.90;
/// How often a process with nothing to push looks at the outbox again.
const PUSH_INTERVAL: Duration = Duration::from_secs(5);
/// Long enough for 30,000 pushes at a quarter of the limit.
const GIVE_UP: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite, 1 process",
            Backend::Postgres => "PostgreSQL, 3 replicas",
        }
    }

    /// The command-line argument that runs this backend alone.
    fn arg(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn replicas(self) -> &'static [&'static str] {
        match self {
            Backend::Sqlite => &["solo"],
            Backend::Postgres => &["r1", "r2", "r3"],
        }
    }

    /// A fresh store's url (a SQLite file in `folder`).
    fn fresh_url(self, folder: &Folder) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}", folder.path("leadsync.db").display()),
            Backend::Postgres => Cluster::get().fresh_db(),
        }
    }
}

/// What one drain measured.
struct Drain {
    elapsed: Duration,
    /// From the processes' start to the fake's first accepted request.
    first_request: Option<Duration>,
    stats: Stats,
}

impl Drain {
    /// Non-search requests the fake answered other than 429 (faults are none here).
    fn accepted(&self) -> u64 {
        let searches = self.stats.requests.get("search").copied().unwrap_or(0);
        let refused = self
            .stats
            .rate_limited
            .iter()
            .filter(|(policy, _)| *policy != "SECONDLY")
            .map(|(_, n)| n)
            .sum::<u64>();
        self.stats.total_requests() - searches - refused
    }

    fn utilisation(&self) -> f64 {
        let allowed =
            LIMIT.per_window as f64 * self.elapsed.as_secs_f64() / LIMIT.window.as_secs_f64();
        self.accepted() as f64 / allowed
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "PASS" } else { "FAIL" }
}

/// The drain's shape from the command line.
fn shape_arg() -> Shape {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let answer_ms = args
        .iter()
        .find_map(|a| a.strip_prefix("answer-ms=")?.parse().ok())
        .unwrap_or(0);
    Shape {
        limit: LIMIT,
        answer_delay: Duration::from_millis(answer_ms),
        read_first: args.iter().any(|a| a == "read-first"),
        push_interval: PUSH_INTERVAL,
    }
}

fn main() {
    let pushes = size_arg(30_000);
    let shape = shape_arg();
    // The fakes' server; this process otherwise only polls.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{pushes} stage pushes under {} requests / {:?}, SQLite first, then PostgreSQL; \
         push_interval {:?}, answers {:?} late, read-first {}",
        LIMIT.per_window, LIMIT.window, shape.push_interval, shape.answer_delay, shape.read_first
    );
    let only: Vec<String> = std::env::args().skip(1).collect();
    let mut met = true;
    for backend in [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .filter(|b| {
            !only.iter().any(|a| a == "sqlite" || a == "postgres")
                || only.contains(&b.arg().to_string())
        })
    {
        met &= run(&runtime, backend, pushes, shape);
    }
    println!("all aims: {}", verdict(met));
}

/// Prepares, drains and checks one backend; answers whether every aim was met.
fn run(runtime: &tokio::runtime::Runtime, backend: Backend, pushes: usize, shape: Shape) -> bool {
    let unlimited = drain::account(pushes, None);
    let folder = Folder::new(&unlimited);
    let url = backend.fresh_url(&folder);
    let prepared = {
        let server = drain::serve(runtime, &unlimited);
        let prepared = runtime.block_on(drain::prepare(&folder, &url, &server.base_url));
        println!(
            "{}: {} pushes planned (not timed: the pull {:.1}s, the re-qualification {:.1}s)",
            backend.name(),
            prepared.planned,
            prepared.pull.as_secs_f64(),
            prepared.requalify.as_secs_f64()
        );
        prepared.planned
    };
    let mut store = leadsync::store::open(&url, None).unwrap();
    let pending = drain::outbox(store.as_mut())
        .get("pending")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        (prepared, pending),
        (pushes as u64, pushes as u64),
        "planned and pending before the drain"
    );

    let fake = drain::account(pushes, Some(shape.limit));
    if !shape.answer_delay.is_zero() {
        fake.script(Fault::Slow {
            delay: shape.answer_delay,
            times: u32::MAX,
        });
    }
    let server = drain::serve(runtime, &fake);
    let config = folder.config("leadsync.toml", &url, &server.base_url, Some(shape));
    let started = Instant::now();
    let children: Vec<Child> = backend
        .replicas()
        .iter()
        .map(|name| drain::start(&folder, &config, name))
        .collect();
    let mut first_request = None;
    let drained = daemon::poll_until(GIVE_UP, || {
        if first_request.is_none() && fake.stats().total_requests() > 0 {
            first_request = Some(started.elapsed());
        }
        !drain::outbox(store.as_mut()).contains_key("pending")
    });
    let run = Drain {
        elapsed: started.elapsed(),
        first_request,
        stats: fake.stats(),
    };
    assert!(
        drained,
        "{}: still pending after {GIVE_UP:?}: {:?}\n{}",
        backend.name(),
        drain::outbox(store.as_mut()),
        folder.logs(backend.replicas(), 20)
    );
    for (child, name) in children.into_iter().zip(backend.replicas()) {
        let (code, _) = daemon::terminate(child, Duration::from_secs(30));
        assert_eq!(
            code,
            Some(0),
            "{name} did not stop cleanly\n{}",
            folder.logs(backend.replicas(), 20)
        );
    }
    println!(
        "{}: push batches answered, by replica: {:?}",
        backend.name(),
        drain::batches(&folder, backend.replicas())
    );
    report(backend, &run, &fake, store.as_mut(), pushes)
}

/// Prints the figures and a verdict per aim; answers whether all were met.
fn report(
    backend: Backend,
    run: &Drain,
    fake: &FakeHubSpot,
    store: &mut dyn leadsync::store::Store,
    pushes: usize,
) -> bool {
    let s = &run.stats;
    let utilisation = run.utilisation();
    let outbox = drain::outbox(store);
    let wrong = fake
        .contacts()
        .iter()
        .filter(|c| c.properties.get("lifecyclestage").map(String::as_str) != Some(PUSHED_STAGE))
        .count();
    println!(
        "{}: drained in {:.2}s (first request after {:.2}s); {} requests accepted ({:?}), \
         {} stage writes for {pushes} pushes ({} changed a stage); outbox {outbox:?}",
        backend.name(),
        run.elapsed.as_secs_f64(),
        run.first_request.unwrap_or_default().as_secs_f64(),
        run.accepted(),
        s.requests,
        s.items_updated,
        s.items_changed,
    );
    let aims = [
        (
            format!(
                "utilisation {:.1}% of {} / {:?} (aim >= {:.0}%)",
                utilisation * 100.0,
                LIMIT.per_window,
                LIMIT.window,
                UTILISATION_AIM * 100.0
            ),
            utilisation >= UTILISATION_AIM,
        ),
        (
            format!(
                "at most {} accepted in any rolling window (aim <= {})",
                s.max_in_window, LIMIT.per_window
            ),
            s.max_in_window <= LIMIT.per_window,
        ),
        (
            format!(
                "{} answered 429 {:?} (aim 0)",
                s.total_rate_limited(),
                s.rate_limited
            ),
            s.total_rate_limited() == 0,
        ),
        (
            format!(
                "{wrong} of {} contacts without the pushed stage, {} dead pushes (aim 0)",
                fake.contacts().len(),
                outbox.get("dead").copied().unwrap_or(0)
            ),
            wrong == 0 && !outbox.contains_key("dead"),
        ),
    ];
    let mut met = true;
    for (what, ok) in aims {
        println!("  {}: {what}", verdict(ok));
        met &= ok;
    }
    met
}
