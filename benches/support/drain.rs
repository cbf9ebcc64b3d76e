//! The outbox drain by `leadsync run` processes (`replicas`): a fake HubSpot account whose every
//! contact will take one stage push, a store holding those pushes pending, and the processes
//! that drain it, on one store (SQLite) or several on one database (PostgreSQL).

use leadsync::config::ConnectorConfig;
use leadsync::pipeline::{AnyConnector, PushTarget, requalify, run_once};
use leadsync::rules::{Rules, RulesSource};
use leadsync::store::Store;
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, ServerHandle};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../../tests/common/daemon.rs"]
pub mod daemon;

/// The contacts' names (the fake's seed).
const SEED: u64 = 9;
/// Every person qualifies as a customer: a rise for everyone after a pull with the built-in
/// rules, so each contact gets one push.
pub const LIFT_RULES: &str =
    "[[rules]]\nname = \"everyone\"\ntier = \"customer\"\nwhen = \"has_email\"\n";
/// The stage a push of [`LIFT_RULES`]' tier writes.
pub const PUSHED_STAGE: &str = "customer";
/// A schedule that never comes during a run: the only pull is the one at start-up.
const NEVER: &str = "0 0 0 1 1 *";

/// A HubSpot account's limit, as the fake enforces it and the connector is told.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub per_window: u32,
    pub window: Duration,
}

/// How the drain's connector pushes and the fake answers.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub limit: Limit,
    /// How long after it arrives the fake handles each request (HubSpot answers a batch in
    /// 0.1-0.5 s).
    pub answer_delay: Duration,
    /// `allow_downgrade`: each batch reads the stages, sets them and reads them back (three
    /// requests a batch instead of one).
    pub read_first: bool,
    pub push_interval: Duration,
}

/// A fake HubSpot account of `contacts` seeded contacts, none holding a lifecycle stage (so each
/// takes a push whatever its tier), modified a day ago (so the daemon's start-up pull, which
/// re-reads a few minutes before its cursor, finds nothing to read). Ids run from 1 in seed
/// order: two accounts built alike hold the same ids. `limit` `None`: no limits.
pub fn account(contacts: usize, limit: Option<Limit>) -> FakeHubSpot {
    let config = match limit {
        Some(l) => FakeConfig {
            requests_per_window: l.per_window,
            window: l.window,
            ..FakeConfig::default()
        },
        None => FakeConfig {
            requests_per_window: 0,
            search_per_second: 0,
            ..FakeConfig::default()
        },
    };
    let fake = FakeHubSpot::new(config);
    fake.seed(contacts, SEED);
    let ids: Vec<String> = fake.contacts().into_iter().map(|c| c.id).collect();
    for id in &ids {
        fake.update(id, [("lifecyclestage".to_string(), String::new())].into());
    }
    let day_ago = chrono::Utc::now().timestamp_millis() - 86_400_000;
    fake.set_modified_at(&ids, day_ago);
    fake
}

/// A folder holding the lift rules, the fake's token and the replicas' logs.
pub struct Folder {
    pub dir: tempfile::TempDir,
}

impl Folder {
    pub fn new(fake: &FakeHubSpot) -> Folder {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("rules.toml"), LIFT_RULES).unwrap();
        std::fs::write(dir.path().join("token"), &fake.config().token).unwrap();
        Folder { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A config on the store `url` whose HubSpot connector talks to `base_url` shaped as
    /// `shape` and pushing, or (`None`) without limits nor pushes; its path.
    pub fn config(&self, name: &str, url: &str, base_url: &str, shape: Option<Shape>) -> PathBuf {
        let (push, read_first) = (shape.is_some(), shape.is_some_and(|s| s.read_first));
        let push_interval = shape.map_or(Duration::from_secs(5), |s| s.push_interval);
        let rate = match shape.map(|s| s.limit) {
            Some(l) => format!(
                "{{ requests_per_window = {}, window = \"{}ms\" }}",
                l.per_window,
                l.window.as_millis()
            ),
            None => "{ requests_per_window = 0, search_per_second = 0 }".to_string(),
        };
        let text = format!(
            "[store]\nurl = \"{url}\"\n\n[rules]\nfile = \"{rules}\"\n\n\
             [daemon]\npush_interval = \"{interval}ms\"\n\n\
             [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{base_url}\"\n\
             token = {{ file = \"{token}\" }}\npush = {push}\nallow_downgrade = {read_first}\nschedule = \"{NEVER}\"\n\
             rate_limit = {rate}\n",
            rules = self.path("rules.toml").display(),
            interval = push_interval.as_millis(),
            token = self.path("token").display(),
        );
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn log(&self, replica: &str) -> PathBuf {
        self.path(&format!("{replica}.log"))
    }

    /// The last `lines` lines of each replica's log.
    pub fn logs(&self, replicas: &[&str], lines: usize) -> String {
        replicas
            .iter()
            .map(|r| {
                let text = std::fs::read_to_string(self.log(r)).unwrap_or_default();
                let all: Vec<&str> = text.lines().collect();
                let tail = all[all.len().saturating_sub(lines)..].join("\n");
                format!("--- {r} ---\n{tail}\n")
            })
            .collect()
    }
}

/// What the preparation of a store did.
pub struct Prepared {
    pub planned: u64,
    pub pull: Duration,
    pub requalify: Duration,
}

/// Pulls every contact of `fake` (served at `base_url`, no limits, no pushes) into the store
/// `url` with the built-in rules, then qualifies everyone again with [`LIFT_RULES`], which plans
/// one push per contact.
pub async fn prepare(folder: &Folder, url: &str, base_url: &str) -> Prepared {
    let config = folder.config("prepare.toml", url, base_url, None);
    let settings = leadsync::config::load(&config).unwrap();
    let mut store = leadsync::store::open(url, None).unwrap();
    let hubspot: &ConnectorConfig = &settings.connectors["hubspot"];
    let mut connectors = vec![AnyConnector::build("hubspot", hubspot).unwrap()];
    let builtin = Arc::new(Rules::load(RulesSource::builtin()).unwrap());
    let t = Instant::now();
    let cycle = run_once(&settings, store.as_mut(), &mut connectors, &builtin, None)
        .await
        .unwrap();
    assert!(cycle.runs[0].error.is_none(), "{:?}", cycle.runs[0].error);
    let pull = t.elapsed();
    let lift = Rules::load(RulesSource {
        path: None,
        text: LIFT_RULES.to_string(),
    })
    .unwrap();
    let targets = [PushTarget::forward("hubspot")];
    let t = Instant::now();
    let plan = requalify(
        store.as_mut(),
        &lift,
        &targets,
        chrono::Utc::now(),
        false,
        0,
        true,
    )
    .unwrap();
    Prepared {
        planned: plan.pushes,
        pull,
        requalify: t.elapsed(),
    }
}

/// How many push batches each replica's log says were answered.
pub fn batches(folder: &Folder, replicas: &[&str]) -> Vec<(String, usize)> {
    replicas
        .iter()
        .map(|r| {
            let log = std::fs::read_to_string(folder.log(r)).unwrap_or_default();
            let n = log.matches("Push batch answered").count();
            (r.to_string(), n)
        })
        .collect()
}

/// The outbox's entries of the HubSpot connector by state.
pub fn outbox(store: &mut dyn Store) -> std::collections::BTreeMap<String, u64> {
    store.outbox_counts("hubspot").unwrap()
}

/// Starts `leadsync run` as replica `name` on `config`, its admin API on a free port, its log
/// in the folder.
pub fn start(folder: &Folder, config: &Path, name: &str) -> Child {
    let listen = format!("127.0.0.1:{}", daemon::free_port());
    daemon::spawn(
        config,
        &[
            ("LEADSYNC__DAEMON__REPLICA_ID", name),
            ("LEADSYNC__ADMIN__LISTEN", &listen),
            ("PGAPPNAME", &format!("leadsync-{name}")),
            ("RUST_LOG", "info"),
        ],
        Some(&folder.log(name)),
    )
}

/// Serves `fake` on `runtime` until the handle is dropped.
pub fn serve(runtime: &tokio::runtime::Runtime, fake: &FakeHubSpot) -> ServerHandle {
    runtime
        .block_on(fake.serve("127.0.0.1:0".parse().unwrap()))
        .unwrap()
}
