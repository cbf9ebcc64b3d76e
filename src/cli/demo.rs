//! `leadsync demo`: a fake HubSpot (marketing) and a fake Salesforce (sales) on loopback with
//! overlapping people, sample drops that overlap both, full cycles, then the funnel, the persons
//! found in both CRMs, the stages pushed to each and the request budgets used. Nothing to
//! configure.

use super::Failure;
use crate::config;
use crate::pipeline::select;
use crate::report::Funnel;

use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot};
use leadsync_fake_salesforce::{FakeConfig as SfConfig, FakeSalesforce, SObject};
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

    // A Salesforce org on loopback where sales works a third of the same people, some
    // converted with opportunities.
    let org = FakeSalesforce::new(SfConfig::default());
    let in_salesforce = sample::seed_salesforce(&org, DEMO_SEED, contacts);
    let sf_server = org
        .serve("127.0.0.1:0".parse().expect("a socket address"))
        .await
        .map_err(|e| io("start the fake Salesforce", e))?;
    outln!(
        "fake Salesforce at {} with {} leads ({} converted to contacts with opportunities, {} won)",
        sf_server.base_url,
        in_salesforce.leads,
        in_salesforce.converted,
        in_salesforce.won
    );

    let token = root.join("hubspot-token");
    fs::write(&token, &FakeConfig::default().token).map_err(|e| io("write the token file", e))?;
    let sf_id = root.join("salesforce-client-id");
    let sf_secret = root.join("salesforce-client-secret");
    fs::write(&sf_id, &org.config().client_id).map_err(|e| io("write the client id", e))?;
    fs::write(&sf_secret, &org.config().client_secret)
        .map_err(|e| io("write the client secret", e))?;
    let config_path = root.join("leadsync.toml");
    let db = root.join("leadsync.db");
    let crms = DemoCrms {
        hubspot: &server.base_url,
        token: &token,
        salesforce: &sf_server.base_url,
        client_id: &sf_id,
        client_secret: &sf_secret,
    };
    fs::write(&config_path, demo_config(&inbox, &db, &crms))
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
    let mut store = super::open_store(&settings)?;
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
        "HubSpot rate budget used: {} requests ({} searches), at most {} in any 10-s window of 100 allowed, {} rate-limited",
        stats.total_requests(),
        stats.searches,
        stats.max_in_window,
        stats.total_rate_limited()
    );
    let tally = |object: SObject, field: &str| {
        org.records(object)
            .iter()
            .filter(|r| !r.deleted)
            .filter_map(|r| {
                r.fields
                    .get(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .fold(BTreeMap::<String, u64>::new(), |mut m, s| {
                *m.entry(s).or_default() += 1;
                m
            })
    };
    outln!(
        "Salesforce after the cycles: {} record(s) written in {} collections request(s); lead statuses now {:?}; contact stages now {:?}",
        org.write_log().len(),
        org.writes(),
        tally(SObject::Lead, "Status"),
        tally(SObject::Contact, "Lifecycle_Stage__c")
    );
    outln!(
        "Salesforce API allocation used: {} requests of {}",
        org.api_usage(),
        org.config().daily_limit
    );
    let both = store
        .persons_in_both("hubspot", "salesforce")
        .map_err(|e| Failure::runtime(e.to_string()))?;
    outln!("persons found in both CRMs: {both}");

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
            "(the fake CRMs stop with the demo; `sync` with this config would need them running)"
        );
    } else {
        outln!(
            "(the demo folder is temporary; run `leadsync demo --dir DIR` to keep it and try `leadsync --config DIR/leadsync.toml explain {example}`)"
        );
    }
    server.shutdown().await;
    sf_server.shutdown().await;
    Ok(())
}

/// The demo inbox's `settle`: short, so the demo does not wait long for its own drops.
const DROP_SETTLE: Duration = Duration::from_secs(1);

/// Where the demo's CRMs listen and their credential files.
struct DemoCrms<'a> {
    hubspot: &'a str,
    token: &'a Path,
    salesforce: &'a str,
    client_id: &'a Path,
    client_secret: &'a Path,
}

fn demo_config(inbox: &Path, db: &Path, crms: &DemoCrms<'_>) -> String {
    format!(
        "[store]\nurl = \"sqlite://{}\"\n\n\
         [connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nsettle = \"{}s\"\n\n\
         [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{}\"\ntoken = {{ file = \"{}\" }}\npush = true\noverlap = \"{}s\"\n\n\
         [connectors.salesforce]\ntype = \"salesforce\"\ninstance_url = \"{}\"\n\
         client_id = {{ file = \"{}\" }}\nclient_secret = {{ file = \"{}\" }}\npush = true\n\
         contact_stage_field = \"Lifecycle_Stage__c\"\n\n\
         [connectors.salesforce.lead_status]\nlead = \"Working - Contacted\"\n\
         mql = \"Marketing Qualified\"\nsql = \"Sales Qualified\"\n",
        db.display(),
        inbox.display(),
        DROP_SETTLE.as_secs(),
        crms.hubspot,
        crms.token.display(),
        Duration::from_secs(60).as_secs(),
        crms.salesforce,
        crms.client_id.display(),
        crms.client_secret.display(),
    )
}
