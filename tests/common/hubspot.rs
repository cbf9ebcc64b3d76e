//! A store and a HubSpot connector pointed at a fake HubSpot: shared by the HubSpot tests and the
//! HubSpot benchmark.
#![allow(dead_code, unreachable_pub)]

use leadsync::config::{ConnectorConfig, Settings};
use leadsync::pipeline::{AnyConnector, Cycle, run_once};
use leadsync::rules::{Rules, RulesSource};
use leadsync::store::SqliteStore;
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, ServerHandle};
use leadsync_hubspot::HubspotConfig;
use std::sync::Arc;
use std::time::Duration;

/// How the connector under test is configured.
pub struct Options {
    /// Requests per window (0: no limit).
    pub per_window: u32,
    pub window: Duration,
    pub search_per_second: u32,
    pub push: bool,
    pub overlap: Duration,
    /// Rules text; the built-in rules when `None`.
    pub rules: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            per_window: 0,
            window: Duration::from_secs(10),
            search_per_second: 0,
            push: false,
            overlap: Duration::from_secs(300),
            rules: None,
        }
    }
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub settings: Settings,
    pub store: SqliteStore,
    pub connectors: Vec<AnyConnector>,
    pub rules: Arc<Rules>,
}

pub fn setup(base_url: &str, opts: Options) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "fake-token").unwrap();
    let cfg = dir.path().join("leadsync.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n",
            dir.path().join("db").display()
        ),
    )
    .unwrap();
    let mut settings = leadsync::config::load(&cfg).unwrap();
    let mut hub: HubspotConfig = toml::from_str(&format!(
        "base_url = \"{base_url}\"\ntoken = {{ file = \"{}\" }}\npush = {}\n",
        token.display(),
        opts.push
    ))
    .unwrap();
    hub.overlap = opts.overlap;
    hub.rate_limit.requests_per_window = opts.per_window;
    hub.rate_limit.window = opts.window;
    hub.rate_limit.search_per_second = opts.search_per_second;
    settings
        .connectors
        .insert("hubspot".into(), ConnectorConfig::Hubspot(hub));
    let store = SqliteStore::open(dir.path().join("db")).unwrap();
    let source = opts
        .rules
        .map_or_else(RulesSource::builtin, |text| RulesSource {
            path: None,
            text,
        });
    let mut s = Setup {
        dir,
        settings,
        store,
        connectors: Vec::new(),
        rules: Arc::new(Rules::load(source).unwrap()),
    };
    s.rebuild();
    s
}

impl Setup {
    /// Plans a push of every stored person's HubSpot records up to `tier`, with the planning
    /// code a cycle uses; returns how many pushes were planned.
    #[allow(dead_code)] // not every test binary that includes this module plans pushes
    pub fn plan_everyone(&mut self, tier: leadsync::connector::Tier) -> u64 {
        use leadsync::store::prelude::*;
        let persons = self.store.person_count().unwrap() as i64;
        let target = [leadsync::pipeline::PushTarget::forward("hubspot")];
        let mut tx = self.store.begin().unwrap();
        let mut planned = 0;
        for person in 1..=persons {
            planned +=
                leadsync::pipeline::outbox::plan(tx.as_mut(), &target, person, tier).unwrap();
        }
        tx.commit().unwrap();
        planned
    }

    /// The HubSpot connector's config; call [`Setup::rebuild`] after changing it.
    pub fn hubspot(&mut self) -> &mut HubspotConfig {
        match self.settings.connectors.get_mut("hubspot") {
            Some(ConnectorConfig::Hubspot(h)) => h,
            _ => unreachable!("set up above"),
        }
    }

    pub fn rebuild(&mut self) {
        let c = self.settings.connectors["hubspot"].clone();
        self.connectors = vec![AnyConnector::build("hubspot", &c).unwrap()];
    }

    /// One full cycle, which must not fail.
    pub async fn cycle(&mut self) -> Cycle {
        let cycle = self.try_cycle().await;
        assert!(cycle.runs[0].error.is_none(), "{:?}", cycle.runs[0].error);
        cycle
    }

    /// One full cycle, failures included in the result.
    pub async fn try_cycle(&mut self) -> Cycle {
        run_once(
            &self.settings,
            &mut self.store,
            &mut self.connectors,
            &self.rules,
            None,
        )
        .await
        .unwrap()
    }
}

/// A fake HubSpot without rate limits, seeded with `contacts`, serving on 127.0.0.1 (keep the
/// handle: dropping it stops the server).
pub async fn unlimited_fake(contacts: usize, seed: u64) -> (FakeHubSpot, ServerHandle) {
    let fake = FakeHubSpot::new(FakeConfig {
        requests_per_window: 0,
        search_per_second: 0,
        ..FakeConfig::default()
    });
    fake.seed(contacts, seed);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (fake, server)
}

/// A fake HubSpot served on its own runtime, and a config for the real `leadsync` binary that
/// pulls from it and pushes to it: for tests that run the binary as users do.
pub struct BinaryWorld {
    pub fake: FakeHubSpot,
    pub dir: tempfile::TempDir,
    pub config: std::path::PathBuf,
    pub db: std::path::PathBuf,
    /// Where `leadsync run` serves its admin API.
    pub admin: std::net::SocketAddr,
    pub server: ServerHandle,
    // Last: the fake's server runs on it, so it must outlive the handle.
    _runtime: tokio::runtime::Runtime,
}

impl BinaryWorld {
    /// An unlimited fake, `rules` as the rules file, and `hubspot` appended to the HubSpot
    /// connector's table (which pushes).
    pub fn new(rules: &str, hubspot: &str) -> BinaryWorld {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = FakeHubSpot::new(FakeConfig {
            requests_per_window: 0,
            search_per_second: 0,
            ..FakeConfig::default()
        });
        let server = runtime
            .block_on(fake.serve("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (db, config) = (dir.path().join("db"), dir.path().join("leadsync.toml"));
        let world = BinaryWorld {
            fake,
            dir,
            config,
            db,
            admin: std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap(),
            server,
            _runtime: runtime,
        };
        world.write_config(rules, hubspot);
        world
    }

    pub fn write_config(&self, rules: &str, hubspot: &str) {
        let (token, rules_file) = (
            self.dir.path().join("token"),
            self.dir.path().join("rules.toml"),
        );
        std::fs::write(&token, &self.fake.config().token).unwrap();
        std::fs::write(&rules_file, rules).unwrap();
        let text = format!(
            "[store]\nurl = \"sqlite://{db}\"\n\n[admin]\nlisten = \"{admin}\"\n\n\
             [rules]\nfile = \"{rules}\"\n\n\
             [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{url}\"\n\
             token = {{ file = \"{token}\" }}\npush = true\n{hubspot}\n",
            db = self.db.display(),
            admin = self.admin,
            rules = rules_file.display(),
            url = self.server.base_url,
            token = token.display(),
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Runs `leadsync --config CONFIG ARGS` with `RUST_LOG=info` and JSON logs.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("LEADSYNC_CONFIG")
            .env("RUST_LOG", "info")
            .env("LEADSYNC_LOG_FORMAT", "json")
            .output()
            .expect("leadsync runs")
    }

    /// `leadsync ARGS`, which must succeed: (stdout, stderr).
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(
            out.status.success(),
            "leadsync {args:?} failed: {}\n{stdout}\n{stderr}",
            out.status
        );
        (stdout, stderr)
    }

    /// A contact's lifecycle stage in the fake.
    pub fn stage(&self, id: &str) -> Option<String> {
        self.fake
            .contact(id)
            .unwrap()
            .properties
            .get("lifecyclestage")
            .cloned()
    }

    /// Lowers a contact's stage as a HubSpot user does: clears it, then sets the lower one (a
    /// lower stage set directly is ignored).
    pub fn lower(&self, id: &str, stage: &str) {
        let set = |v: &str| [("lifecyclestage".to_string(), v.to_string())].into();
        self.fake.update(id, set(""));
        self.fake.update(id, set(stage));
    }
}

/// Contacts of `fake` whose HubSpot stage is not the tier of the person they are linked to in
/// `store`, or that are linked to no person: `(id, stage in HubSpot, tier in leadsync)`.
pub fn stage_mismatches(
    fake: &FakeHubSpot,
    store: &mut dyn leadsync::store::Store,
) -> Vec<(
    String,
    Option<leadsync::connector::Tier>,
    Option<leadsync::connector::Tier>,
)> {
    use leadsync::connector::Stage;
    let mut wrong = Vec::new();
    for c in fake.contacts().into_iter().filter(|c| !c.archived) {
        let stage = c
            .properties
            .get("lifecyclestage")
            .and_then(|s| Stage::parse(s).tier());
        let tier = store
            .person_by_key("crm:hubspot", &c.id)
            .unwrap()
            .and_then(|p| store.person(p).unwrap())
            .and_then(|p| p.tier);
        if tier.is_none() || stage != tier {
            wrong.push((c.id, stage, tier));
        }
    }
    wrong
}

/// Whether a daemon's work is done: the inbox holds no file, nothing of `connector` is pending
/// in the outbox, every contact holds its person's tier and the store has at least `persons`
/// persons. `state` is set to what is left, for the message of a wait that timed out.
pub fn work_done(
    inbox: &std::path::Path,
    fake: &FakeHubSpot,
    store: &mut dyn leadsync::store::Store,
    persons: u64,
    state: &mut String,
) -> bool {
    let inbox: Vec<String> = std::fs::read_dir(inbox)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let outbox = store.outbox_counts("hubspot").unwrap();
    let wrong = stage_mismatches(fake, store);
    let count = store.person_count().unwrap();
    *state = format!(
        "inbox {inbox:?}, outbox {outbox:?}, {count} persons, {} wrong stages (first {:?})",
        wrong.len(),
        wrong.first()
    );
    inbox.is_empty() && !outbox.contains_key("pending") && wrong.is_empty() && count >= persons
}
