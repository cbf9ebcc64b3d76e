//! `leadsync demo`: a fake HubSpot on loopback and sample drops that overlap it, full cycles,
//! then the funnel, the stage changes pushed and the rate budget used. Nothing to configure.

use super::Failure;
use crate::config;
use crate::pipeline::select;
use crate::report::Funnel;
use crate::store;
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot};
use leadsync_sample as sample;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

const DEMO_SEED: u64 = 2026;

pub(super) async fn run(dir: Option<&Path>, contacts: usize) -> Result<(), Failure> {
    let (root, _temp) = match dir {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("leadsync-demo-")
                .tempdir()
                .map_err(|e| Failure::runtime(format!("cannot create a temporary folder: {e}")))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let io = |what: &str, e: std::io::Error| Failure::runtime(format!("demo: cannot {what}: {e}"));
    let inbox = root.join("inbox");
    fs::create_dir_all(&inbox).map_err(|e| io("create the inbox", e))?;
    outln!("leadsync demo in {}", root.display());

    // A HubSpot account on loopback, with HubSpot's real limits: 100 requests per 10 s, 5
    // searches per second.
    let fake = FakeHubSpot::new(FakeConfig::default());
    let in_hubspot = sample::seed_hubspot(&fake, DEMO_SEED, contacts);
    let server = fake
        .serve("127.0.0.1:0".parse().expect("a socket address"))
        .await
        .map_err(|e| io("start the fake HubSpot", e))?;
    outln!(
        "fake HubSpot at {} with {in_hubspot} contacts (100 requests / 10 s, 5 searches / s)",
        server.base_url
    );

    let token = root.join("hubspot-token");
    fs::write(&token, &FakeConfig::default().token).map_err(|e| io("write the token file", e))?;
    let config_path = root.join("leadsync.toml");
    let db = root.join("leadsync.db");
    fs::write(
        &config_path,
        demo_config(&inbox, &db, &server.base_url, &token),
    )
    .map_err(|e| io("write the config", e))?;
    let files = sample::write_drops(&inbox, DEMO_SEED, contacts)
        .map_err(|e| Failure::runtime(format!("demo: cannot write sample drops: {e}")))?;
    outln!(
        "dropped {} exports that overlap those contacts into {}:",
        files.len(),
        inbox.display()
    );
    for f in &files {
        outln!(
            "  {}",
            f.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
    }
    // The inbox takes a file once it has stayed unchanged for `settle`, as in production.
    tokio::time::sleep(DROP_SETTLE + Duration::from_millis(100)).await;

    let settings = config::load(&config_path).map_err(|e| Failure::runtime(e.to_string()))?;
    let rules = super::load_rules(&settings, None)?;
    let mut store = store::open(&settings.store.url)?;
    let mut connectors = select(&settings, None).map_err(Failure::runtime)?;
    for round in 1..=2 {
        outln!("\ncycle {round}:");
        let label = format!("cycle {round}: pulling, qualifying, pushing");
        super::sync::cycle_with_progress(
            &settings,
            store.as_mut(),
            &mut connectors,
            &rules,
            &label,
        )
        .await?;
    }

    outln!("\nfunnel ({} persons):", store.person_count()?);
    out!("{}", Funnel::from_counts(&store.tier_counts()?).render());
    let stats = fake.stats();
    let stages = fake
        .contacts()
        .iter()
        .filter_map(|c| c.properties.get("lifecyclestage").cloned())
        .fold(BTreeMap::<String, u64>::new(), |mut m, s| {
            *m.entry(s).or_default() += 1;
            m
        });
    outln!(
        "\nHubSpot after the cycles: {} stage update(s) applied; stages now {stages:?}",
        stats.items_changed
    );
    outln!(
        "rate budget used: {} requests ({} searches), at most {} in any 10-s window of 100 allowed, {} rate-limited",
        stats.total_requests(),
        stats.searches,
        stats.max_in_window,
        stats.total_rate_limited()
    );

    let example = sample::person(DEMO_SEED, 0).email;
    if dir.is_some() {
        outln!(
            "\nrejected rows are in {}/processed/*.rejects.csv",
            inbox.display()
        );
        outln!(
            "explain a person:  leadsync --config {} explain {example}",
            config_path.display()
        );
        outln!(
            "funnel as JSON:    leadsync --config {} report funnel --json",
            config_path.display()
        );
        outln!(
            "(the fake HubSpot stops with the demo; `sync` with this config would need it running)"
        );
    } else {
        outln!(
            "(the demo folder is temporary; run `leadsync demo --dir DIR` to keep it and try `leadsync --config DIR/leadsync.toml explain {example}`)"
        );
    }
    server.shutdown().await;
    Ok(())
}

/// The demo inbox's `settle`: short, so the demo does not wait long for its own drops.
const DROP_SETTLE: Duration = Duration::from_secs(1);

fn demo_config(inbox: &Path, db: &Path, hubspot: &str, token: &Path) -> String {
    format!(
        "[store]\nurl = \"sqlite://{}\"\n\n\
         [connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nsettle = \"{}s\"\n\n\
         [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{hubspot}\"\ntoken = {{ file = \"{}\" }}\npush = true\noverlap = \"{}s\"\n",
        db.display(),
        inbox.display(),
        DROP_SETTLE.as_secs(),
        token.display(),
        Duration::from_secs(60).as_secs()
    )
}
