//! HubSpot and Salesforce together, through the real binary: one person per human across both
//! CRMs, one tier, pushed to each in its own vocabulary, and nothing pushed back and forth.

use leadsync_fake_hubspot::{FakeConfig as HubConfig, FakeHubSpot};
use leadsync_fake_salesforce::{FakeConfig as SfConfig, FakeSalesforce, SObject};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Both fakes on a runtime of their own, and a config for the binary that pulls from and
/// pushes to both.
struct TwoCrms {
    hubspot: FakeHubSpot,
    salesforce: FakeSalesforce,
    dir: tempfile::TempDir,
    config: PathBuf,
    _servers: (
        leadsync_fake_hubspot::ServerHandle,
        leadsync_fake_salesforce::ServerHandle,
    ),
    _runtime: tokio::runtime::Runtime,
}

impl TwoCrms {
    fn new(sf: SfConfig, salesforce_extra: &str) -> TwoCrms {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let hubspot = FakeHubSpot::new(HubConfig {
            requests_per_window: 0,
            search_per_second: 0,
            ..HubConfig::default()
        });
        let salesforce = FakeSalesforce::new(sf);
        salesforce.set_lead_statuses(leadsync_sample::SALESFORCE_STATUSES);
        let servers = runtime.block_on(async {
            let addr = "127.0.0.1:0".parse().unwrap();
            (
                hubspot.serve(addr).await.unwrap(),
                salesforce.serve(addr).await.unwrap(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("token"), &hubspot.config().token).unwrap();
        std::fs::write(p("sf_id"), &salesforce.config().client_id).unwrap();
        std::fs::write(p("sf_secret"), &salesforce.config().client_secret).unwrap();
        let config = p("leadsync.toml");
        let text = format!(
            "[store]\nurl = \"sqlite://{db}\"\n\n\
             [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{hub}\"\n\
             token = {{ file = \"{token}\" }}\npush = true\n\n\
             [connectors.sf]\ntype = \"salesforce\"\ninstance_url = \"{sf}\"\n\
             client_id = {{ file = \"{id}\" }}\nclient_secret = {{ env = \"SF_TEST_SECRET\" }}\n\
             push = true\ncontact_stage_field = \"Lifecycle_Stage__c\"\n{salesforce_extra}\n\n\
             [connectors.sf.lead_status]\nlead = \"Working - Contacted\"\n\
             mql = \"Marketing Qualified\"\nsql = \"Sales Qualified\"\n",
            db = p("db").display(),
            hub = servers.0.base_url,
            token = p("token").display(),
            sf = servers.1.base_url,
            id = p("sf_id").display(),
        );
        std::fs::write(&config, text).unwrap();
        TwoCrms {
            hubspot,
            salesforce,
            dir,
            config,
            _servers: servers,
            _runtime: runtime,
        }
    }

    fn run_with_secret(&self, secret: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("LEADSYNC_CONFIG")
            .env("SF_TEST_SECRET", secret)
            .env("RUST_LOG", "info")
            .output()
            .expect("leadsync runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let secret = self.salesforce.config().client_secret.clone();
        let out = self.run_with_secret(&secret, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "leadsync {args:?}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn hub_contact(&self, email: &str, stage: &str) -> String {
        self.hubspot.insert(BTreeMap::from([
            ("email".to_string(), email.to_string()),
            ("firstname".to_string(), "Sam".to_string()),
            ("lifecyclestage".to_string(), stage.to_string()),
        ]))
    }

    fn hub_stage(&self, id: &str) -> Option<String> {
        self.hubspot
            .contact(id)?
            .properties
            .get("lifecyclestage")
            .cloned()
    }

    fn lead(&self, email: &str, status: &str) -> String {
        let fields: BTreeMap<String, Value> = [
            ("Email", json!(email)),
            ("LastName", json!("Rivera")),
            ("Company", json!("Acme")),
            ("Status", json!(status)),
            ("LeadSource", json!("Trade Show")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.salesforce.insert(SObject::Lead, fields)
    }

    fn sf_field(&self, id: &str, field: &str) -> Option<Value> {
        self.salesforce.record(id)?.fields.get(field).cloned()
    }
}

#[test]
fn one_person_in_two_crms_has_one_tier_pushed_to_both_and_nothing_goes_back_and_forth() {
    let w = TwoCrms::new(SfConfig::default(), "");
    // Marketing qualified in HubSpot; a fresh lead in Salesforce.
    let hub_mql = w.hub_contact("ana@acme.io", "marketingqualifiedlead");
    let sf_open = w.lead("ana@acme.io", "Open - Not Contacted");
    // A lead in HubSpot; sales converted it in Salesforce with an open opportunity.
    let hub_lead = w.hub_contact("bo@acme.io", "lead");
    let sf_converted = w.lead("bo@acme.io", "Sales Qualified");
    let contact = w
        .salesforce
        .convert_lead(&sf_converted, Some(("Prospecting", false, false)));
    w.ok(&["sync", "--once"]);

    // Marketing's MQL reaches sales as the lead's status.
    assert_eq!(
        w.sf_field(&sf_open, "Status"),
        Some(json!("Marketing Qualified"))
    );
    // Sales' opportunity reaches marketing as the lifecycle stage, and the contact's stage.
    assert_eq!(w.hub_stage(&hub_lead).as_deref(), Some("opportunity"));
    assert_eq!(
        w.sf_field(&contact, "Lifecycle_Stage__c"),
        Some(json!("opportunity"))
    );
    assert_eq!(
        w.hub_stage(&hub_mql).as_deref(),
        Some("marketingqualifiedlead")
    );

    // One person each, linked to both CRMs; explain says which CRM decided.
    let explained = w.ok(&["explain", "bo@acme.io"]);
    assert!(
        explained.contains(&format!("hubspot: record {hub_lead}")),
        "{explained}"
    );
    assert!(
        explained.contains(&format!("sf: record {sf_converted}")),
        "{explained}"
    );
    assert!(
        explained.contains(&format!("sf: record {contact}")),
        "{explained}"
    );
    assert!(
        explained.contains(&format!("Decided by: sf record {contact}")),
        "{explained}"
    );
    let funnel = w.ok(&["report", "funnel", "--json"]);
    let funnel: Value = serde_json::from_str(&funnel).unwrap();
    assert_eq!(funnel["tiers"]["opportunity"], json!(1), "{funnel}");
    assert_eq!(funnel["tiers"]["mql"], json!(1), "{funnel}");
    let by_source = w.ok(&["report", "funnel", "--by", "source"]);
    assert!(by_source.contains("trade show"), "{by_source}");

    // What leadsync wrote comes back on the next pulls and plans nothing: two quiet cycles.
    w.ok(&["sync", "--once"]);
    let (hub_writes, sf_writes) = (w.hubspot.stats().items_updated, w.salesforce.writes());
    w.ok(&["sync", "--once"]);
    w.ok(&["sync", "--once"]);
    assert_eq!(
        w.hubspot.stats().items_updated,
        hub_writes,
        "no HubSpot writes"
    );
    assert_eq!(w.salesforce.writes(), sf_writes, "no Salesforce writes");
}

#[test]
fn validate_checks_the_salesforce_credentials_with_one_read_and_never_prints_the_secret() {
    let w = TwoCrms::new(SfConfig::default(), "");
    let good = w.ok(&["validate"]);
    assert!(good.contains("connector sf: ok"), "{good}");

    let out = w.run_with_secret("s3cr3t-wrong-value", &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("invalid_client"), "{all}");
    assert!(!all.contains("s3cr3t"), "{all}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .arg("--config")
        .arg(&w.config)
        .arg("validate")
        .env_remove("SF_TEST_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(
        all.contains("connectors.sf.client_secret: the variable `SF_TEST_SECRET` is not set"),
        "{all}"
    );
}

#[test]
fn the_stop_at_the_reserve_is_kept_across_a_restart() {
    let w = TwoCrms::new(
        SfConfig {
            daily_limit: 10_000,
            ..SfConfig::default()
        },
        "[connectors.sf.rate_limit]\ndaily_reserve = 1000",
    );
    w.lead("cy@acme.io", "Open - Not Contacted");
    w.salesforce.set_api_usage(9_100);
    let out = w.run_with_secret(&w.salesforce.config().client_secret, &["sync", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("reserve"), "{stderr}");
    let used = w.salesforce.api_usage();
    // A new process: it remembers the stop and sends nothing to Salesforce.
    let out = w.run_with_secret(&w.salesforce.config().client_secret, &["sync", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("reserve"), "{stderr}");
    assert_eq!(
        w.salesforce.api_usage(),
        used,
        "no request after the restart"
    );
    let _ = &w.dir;
}
