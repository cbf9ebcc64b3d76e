//! The Salesforce connector against the fake Salesforce over loopback: pulls into a sink that
//! remembers what it was given, and pushes whose effect is read back from the fake org.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use leadsync_connector_core::{
    Connector, ConnectorError, ConnectorErrorKind, Cursor, Field, Page, PageSink, PushItem,
    PushOutcome, RecordReject, SourceRecord, Tier,
};
use leadsync_fake_salesforce::{FakeConfig, FakeSalesforce, Fault, SObject, ServerHandle};
use leadsync_salesforce::{LINKED_IDS, SalesforceConfig, SalesforceConnector};
use serde_json::{Value, json};

/// Stored records by locator key, cursors by stream, and how often each record was committed.
#[derive(Default)]
struct MemorySink {
    stored: HashMap<String, SourceRecord>,
    commits: HashMap<String, u32>,
    cursors: HashMap<String, Cursor>,
    /// Commits allowed before `keep_going` says stop (a host shutting down).
    stop_after: Option<usize>,
    pages: usize,
}

impl PageSink for MemorySink {
    fn cursor(&mut self, stream: &str) -> Result<Option<Cursor>, ConnectorError> {
        Ok(self.cursors.get(stream).cloned())
    }

    fn commit(&mut self, page: Page) -> Result<(), ConnectorError> {
        if let Some(old) = self.cursors.get(&page.cursor.stream) {
            assert!(
                old.allows(&page.cursor),
                "cursor moved backwards: {old:?} -> {:?}",
                page.cursor
            );
        }
        for r in page.records {
            *self.commits.entry(r.locator.key()).or_default() += 1;
            self.stored.insert(r.locator.key(), r);
        }
        self.cursors.insert(page.cursor.stream.clone(), page.cursor);
        self.pages += 1;
        Ok(())
    }

    fn unchanged(&mut self, records: &[SourceRecord]) -> Result<Vec<bool>, ConnectorError> {
        Ok(records
            .iter()
            .map(|r| self.stored.get(&r.locator.key()) == Some(r))
            .collect())
    }

    fn holds_records(&mut self) -> Result<bool, ConnectorError> {
        Ok(!self.stored.is_empty())
    }

    fn rejects(&mut self, _stream: &str) -> Result<Vec<RecordReject>, ConnectorError> {
        Ok(Vec::new())
    }

    fn note(&mut self, _stream: &str, _kind: &str, _detail: &str) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn keep_going(&self) -> bool {
        self.stop_after.is_none_or(|n| self.pages < n)
    }
}

impl MemorySink {
    fn value(&self, id: &str, field: &Field) -> Option<String> {
        self.stored.get(id)?.get(field).map(str::to_string)
    }

    fn linked(&self, id: &str) -> Vec<String> {
        self.value(id, &Field::Custom(LINKED_IDS.into()))
            .map(|v| v.split(';').map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn reset_counts(&mut self) {
        self.commits.clear();
    }
}

struct Org {
    fake: FakeSalesforce,
    _server: ServerHandle,
    _dir: tempfile::TempDir,
    cfg: SalesforceConfig,
}

const STATUSES: &[(&str, i64, bool)] = &[
    ("Open - Not Contacted", 1, false),
    ("Working - Contacted", 2, false),
    ("Marketing Qualified", 3, false),
    ("Nurturing", 4, false),
    ("Sales Qualified", 5, false),
    ("Closed - Converted", 6, true),
    ("Closed - Not Converted", 7, false),
];

async fn org(fake_cfg: FakeConfig, extra: &str) -> Org {
    let fake = FakeSalesforce::new(fake_cfg);
    fake.set_lead_statuses(STATUSES);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id_file = dir.path().join("client_id");
    let secret_file = dir.path().join("client_secret");
    std::fs::write(&id_file, &fake.config().client_id).unwrap();
    std::fs::write(&secret_file, &fake.config().client_secret).unwrap();
    let cfg: SalesforceConfig = toml::from_str(&format!(
        "instance_url = \"{}\"\nclient_id = {{ file = \"{}\" }}\nclient_secret = {{ file = \"{}\" }}\npush = true\ncontact_stage_field = \"Lifecycle_Stage__c\"\n{extra}\n[lead_status]\nlead = \"Working - Contacted\"\nmql = \"Marketing Qualified\"\nsql = \"Sales Qualified\"\n",
        server.base_url,
        id_file.display(),
        secret_file.display()
    ))
    .unwrap();
    Org {
        fake,
        _server: server,
        _dir: dir,
        cfg,
    }
}

impl Org {
    fn connector(&self) -> SalesforceConnector {
        SalesforceConnector::new("sf", self.cfg.clone()).unwrap()
    }

    fn lead(&self, n: usize, status: &str) -> String {
        self.fake.insert(
            SObject::Lead,
            fields(&[
                ("FirstName", json!(format!("Ada{n}"))),
                ("LastName", json!("Lovelace")),
                ("Email", json!(format!("ada{n}@example.com"))),
                ("Company", json!("Analytical Engines")),
                ("Status", json!(status)),
            ]),
        )
    }

    fn contact(&self, n: usize) -> String {
        self.fake.insert(
            SObject::Contact,
            fields(&[
                ("FirstName", json!(format!("Grace{n}"))),
                ("LastName", json!("Hopper")),
                ("Email", json!(format!("grace{n}@example.com"))),
            ]),
        )
    }
}

fn fields(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn item(outbox_id: i64, record_id: &str, tier: Tier) -> PushItem {
    PushItem {
        outbox_id,
        record_id: record_id.to_string(),
        tier,
    }
}

fn small_batches() -> FakeConfig {
    FakeConfig {
        batch_sizes: vec![7, 3, 11],
        ..FakeConfig::default()
    }
}

#[tokio::test]
async fn a_pull_reads_every_lead_and_contact_once_through_batches_of_any_size() {
    let org = org(small_batches(), "").await;
    let leads: Vec<String> = (0..40)
        .map(|n| org.lead(n, "Marketing Qualified"))
        .collect();
    let contacts: Vec<String> = (0..25).map(|n| org.contact(n)).collect();
    let mut sink = MemorySink::default();
    let stats = org.connector().pull(&mut sink).await.unwrap();
    assert_eq!(stats.records, 65);
    for id in leads.iter().chain(&contacts) {
        assert_eq!(sink.commits.get(id), Some(&1), "{id}");
    }
    assert_eq!(
        sink.value(&leads[3], &Field::Email).as_deref(),
        Some("ada3@example.com")
    );
    assert_eq!(
        sink.value(&leads[3], &Field::CrmStage).as_deref(),
        Some("mql")
    );
    assert_eq!(
        sink.value(&leads[3], &Field::LeadStatus).as_deref(),
        Some("Marketing Qualified")
    );

    // Nothing changed: nothing is written.
    sink.reset_counts();
    let again = org.connector().pull(&mut sink).await.unwrap();
    assert_eq!(again.records, 0);
    assert!(sink.commits.is_empty(), "{:?}", sink.commits);

    // One lead changed: only it is read into the store.
    org.fake
        .update(&leads[7], fields(&[("Status", json!("Sales Qualified"))]));
    let changed = org.connector().pull(&mut sink).await.unwrap();
    assert_eq!(changed.records, 1);
    assert_eq!(
        sink.value(&leads[7], &Field::CrmStage).as_deref(),
        Some("sql")
    );
}

#[tokio::test]
async fn the_last_activity_date_of_leads_and_contacts_is_pulled() {
    // GIVEN a lead and a contact whose last activity Salesforce recorded
    let org = org(FakeConfig::default(), "").await;
    let lead = org.fake.insert(
        SObject::Lead,
        fields(&[
            ("LastName", json!("Lovelace")),
            ("Email", json!("ada@example.com")),
            ("Company", json!("Analytical Engines")),
            ("Status", json!("Nurturing")),
            ("LastActivityDate", json!("2026-12-08")),
        ]),
    );
    let contact = org.fake.insert(
        SObject::Contact,
        fields(&[
            ("LastName", json!("Byron")),
            ("Email", json!("byron@example.com")),
            ("LastActivityDate", json!("2026-12-09")),
        ]),
    );

    // WHEN they are pulled
    let mut sink = MemorySink::default();
    org.connector().pull(&mut sink).await.unwrap();

    // THEN each carries it as its last activity (the follow-up clocks' `last_contacted`)
    assert_eq!(
        sink.value(&lead, &Field::LastActivityAt).as_deref(),
        Some("2026-12-08")
    );
    assert_eq!(
        sink.value(&contact, &Field::LastActivityAt).as_deref(),
        Some("2026-12-09")
    );
}

#[tokio::test]
async fn an_unmapped_status_takes_the_tier_of_the_mapped_one_below_it_in_the_org_order() {
    let org = org(FakeConfig::default(), "").await;
    let nurturing = org.lead(1, "Nurturing");
    let open = org.lead(2, "Open - Not Contacted");
    let mut sink = MemorySink::default();
    org.connector().pull(&mut sink).await.unwrap();
    assert_eq!(
        sink.value(&nurturing, &Field::CrmStage).as_deref(),
        Some("mql")
    );
    assert_eq!(
        sink.value(&open, &Field::CrmStage),
        None,
        "below every mapped status"
    );
}

#[tokio::test]
async fn records_sharing_one_modstamp_are_walked_by_id_across_a_stop_and_read_once() {
    let org = org(small_batches(), "").await;
    let leads: Vec<String> = (0..60)
        .map(|n| org.lead(n, "Working - Contacted"))
        .collect();
    org.fake
        .set_modstamp(&leads, Utc::now() - chrono::TimeDelta::hours(2));
    // The host stops after three pages; the next pull resumes inside the shared stamp.
    let mut sink = MemorySink {
        stop_after: Some(3),
        ..MemorySink::default()
    };
    org.connector().pull(&mut sink).await.unwrap();
    let first = sink.stored.len();
    assert!(first > 0 && first < 60, "stopped midway: {first}");
    sink.stop_after = None;
    org.connector().pull(&mut sink).await.unwrap();
    for id in &leads {
        assert_eq!(sink.commits.get(id), Some(&1), "{id} read once");
    }
}

#[tokio::test]
async fn an_expired_query_locator_queries_again_from_the_committed_cursor() {
    let org = org(
        FakeConfig {
            batch_sizes: vec![10],
            ..FakeConfig::default()
        },
        "",
    )
    .await;
    let leads: Vec<String> = (0..50)
        .map(|n| org.lead(n, "Working - Contacted"))
        .collect();
    // Two pages in, every open locator expires.
    let mut sink = MemorySink {
        stop_after: Some(2),
        ..MemorySink::default()
    };
    org.connector().pull(&mut sink).await.unwrap();
    org.fake.expire_query_locators();
    sink.stop_after = None;
    org.connector().pull(&mut sink).await.unwrap();
    for id in &leads {
        assert_eq!(sink.commits.get(id), Some(&1), "{id}");
    }
}

#[tokio::test]
async fn deletes_become_tombstones_and_a_merge_survivor_carries_its_losers() {
    let org = org(FakeConfig::default(), "").await;
    let a = org.lead(1, "Working - Contacted");
    let b = org.lead(2, "Working - Contacted");
    let c = org.lead(3, "Working - Contacted");
    let mut sink = MemorySink::default();
    org.connector().pull(&mut sink).await.unwrap();
    org.fake.delete(&a);
    org.fake.merge(&b, &[c.as_str()]);
    org.connector().pull(&mut sink).await.unwrap();
    assert!(sink.stored[&a].archived, "a deleted lead is a tombstone");
    assert!(sink.stored[&c].archived, "a merge loser is a tombstone");
    assert!(!sink.stored[&b].archived);
    assert_eq!(
        sink.linked(&b),
        vec![c.clone()],
        "the survivor names its loser"
    );
}

#[tokio::test]
async fn a_converted_lead_and_its_contact_name_each_other_and_opportunities_raise_the_contact() {
    let org = org(FakeConfig::default(), "").await;
    let lead = org.lead(1, "Marketing Qualified");
    let mut sink = MemorySink::default();
    org.connector().pull(&mut sink).await.unwrap();
    let contact = org
        .fake
        .convert_lead(&lead, Some(("Prospecting", false, false)));
    org.connector().pull(&mut sink).await.unwrap();
    assert_eq!(
        sink.value(&lead, &Field::CrmStage).as_deref(),
        Some("sql"),
        "converted: at least sql"
    );
    assert_eq!(sink.linked(&lead), vec![contact.clone()]);
    assert_eq!(sink.linked(&contact), vec![lead.clone()]);
    assert_eq!(
        sink.value(&contact, &Field::CrmStage).as_deref(),
        Some("opportunity")
    );
    assert_eq!(
        sink.value(&contact, &Field::Custom("open_deal".into()))
            .as_deref(),
        Some("true")
    );

    // The opportunity is won; the contact itself is untouched, and is read again.
    let won = org
        .fake
        .insert_opportunity(&contact, "Closed Won", true, true);
    assert!(won.starts_with("006"));
    org.connector().pull(&mut sink).await.unwrap();
    assert_eq!(
        sink.value(&contact, &Field::CrmStage).as_deref(),
        Some("customer")
    );
    assert_eq!(
        sink.value(&contact, &Field::Custom("deal_won".into()))
            .as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn a_push_sets_statuses_forward_only_and_reports_each_record_apart() {
    let org = org(FakeConfig::default(), "").await;
    let open = org.lead(1, "Open - Not Contacted");
    let ahead = org.lead(2, "Sales Qualified");
    let there = org.lead(3, "Marketing Qualified");
    let gone = org.lead(4, "Open - Not Contacted");
    let contact = org.contact(1);
    org.fake.delete(&gone);
    org.fake.reset_writes();
    let outcomes = org
        .connector()
        .push(&[
            item(1, &open, Tier::MQL),
            item(2, &ahead, Tier::MQL),
            item(3, &there, Tier::MQL),
            item(4, &gone, Tier::MQL),
            item(5, &contact, Tier::SQL),
            item(6, "001000000000001AAA", Tier::SQL),
        ])
        .await
        .unwrap();
    let by_id: HashMap<i64, &PushOutcome> = outcomes.iter().map(|o| (outbox(o), o)).collect();
    assert_eq!(by_id.len(), 6);
    assert!(matches!(by_id[&1], PushOutcome::Applied { .. }));
    assert!(
        matches!(by_id[&2], PushOutcome::Applied { .. }),
        "higher: kept"
    );
    assert!(
        matches!(by_id[&3], PushOutcome::Applied { .. }),
        "already there"
    );
    assert!(matches!(by_id[&4], PushOutcome::Failed { reason, .. } if reason.contains("deleted")));
    assert!(matches!(by_id[&5], PushOutcome::Applied { .. }));
    assert!(matches!(by_id[&6], PushOutcome::Failed { .. }));
    assert_eq!(status(&org, &open), "Marketing Qualified");
    assert_eq!(status(&org, &ahead), "Sales Qualified", "never moved down");
    assert_eq!(
        org.fake
            .record(&contact)
            .unwrap()
            .fields
            .get("Lifecycle_Stage__c"),
        Some(&json!("sql"))
    );
    assert_eq!(
        org.fake.writes(),
        1,
        "one collections request for both writes"
    );
}

#[tokio::test]
async fn with_allow_downgrade_a_status_moves_down() {
    let org = org(FakeConfig::default(), "allow_downgrade = true").await;
    let ahead = org.lead(1, "Sales Qualified");
    let out = org
        .connector()
        .push(&[item(1, &ahead, Tier::MQL)])
        .await
        .unwrap();
    assert!(matches!(out[0], PushOutcome::Applied { .. }));
    assert_eq!(status(&org, &ahead), "Marketing Qualified");
}

#[tokio::test]
async fn a_push_to_a_converted_lead_goes_to_its_contact() {
    let org = org(FakeConfig::default(), "").await;
    let lead = org.lead(1, "Marketing Qualified");
    let contact = org.fake.convert_lead(&lead, None);
    let out = org
        .connector()
        .push(&[item(9, &lead, Tier::OPPORTUNITY)])
        .await
        .unwrap();
    assert!(
        matches!(out[..], [PushOutcome::Applied { outbox_id: 9 }]),
        "{out:?}"
    );
    assert_eq!(
        org.fake
            .record(&contact)
            .unwrap()
            .fields
            .get("Lifecycle_Stage__c"),
        Some(&json!("opportunity"))
    );
}

#[tokio::test]
async fn a_refused_value_is_dead_lettered_with_salesforces_reason() {
    let org = org(FakeConfig::default(), "").await;
    // The org's picklist lost the status the config maps MQL to.
    org.fake.set_lead_statuses(&[
        ("Open - Not Contacted", 1, false),
        ("Working - Contacted", 2, false),
    ]);
    let lead = org.lead(1, "Open - Not Contacted");
    let out = org
        .connector()
        .push(&[item(1, &lead, Tier::MQL)])
        .await
        .unwrap();
    match &out[0] {
        PushOutcome::Failed { reason, .. } => {
            assert!(
                reason.contains("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
                "{reason}"
            )
        }
        other => panic!("expected a dead letter, got {other:?}"),
    }
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_after_faults_every_status_lands_exactly_once() {
    let org = org(FakeConfig::default(), "").await;
    let leads: Vec<String> = (0..30)
        .map(|n| org.lead(n, "Open - Not Contacted"))
        .collect();
    let c = org.connector();
    c.health().await.unwrap();
    org.fake.expire_tokens();
    org.fake.script(Fault::ServerError {
        status: 503,
        times: 2,
    });
    org.fake.script(Fault::DropAfterWrite { times: 1 });
    let items: Vec<PushItem> = leads
        .iter()
        .enumerate()
        .map(|(i, id)| item(i as i64, id, Tier::MQL))
        .collect();
    let out = c.push(&items).await.unwrap();
    assert!(
        out.iter().all(|o| matches!(o, PushOutcome::Applied { .. })),
        "{out:?}"
    );
    for id in &leads {
        assert_eq!(status(&org, id), "Marketing Qualified");
    }
    // The write whose answer was lost landed; it is read back, not sent again.
    let log = org.fake.write_log();
    for id in &leads {
        let times = log.iter().filter(|(w, ..)| w == id).count();
        assert_eq!(times, 1, "{id} written {times} times");
    }
}

#[tokio::test]
async fn the_reserve_stops_requests_and_a_403_limit_is_not_an_auth_failure() {
    let org = org(
        FakeConfig {
            daily_limit: 1_000,
            ..FakeConfig::default()
        },
        "[rate_limit]\ndaily_reserve = 100",
    )
    .await;
    org.lead(1, "Open - Not Contacted");
    org.fake.set_api_usage(950);
    let mut c = org.connector();
    let mut sink = MemorySink::default();
    let err = c.pull(&mut sink).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Transient, "{err}");
    assert!(c.daily_stop().is_some_and(|t| t > Utc::now()));
    assert!(err.message.contains("reserve"), "{err}");

    // Spent entirely: 403 REQUEST_LIMIT_EXCEEDED stops too, and is no credentials problem.
    org.fake.set_api_usage(1_000);
    let fresh = org.connector();
    let err = fresh.health().await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Transient, "{err}");
    assert!(fresh.daily_stop().is_some());
    assert_eq!(fresh.rate_budget().rate_limited, 1);
}

#[tokio::test]
async fn a_bad_secret_is_a_config_error_that_does_not_show_the_secret() {
    let org = org(FakeConfig::default(), "").await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "hunter2-not-the-secret").unwrap();
    let mut cfg = org.cfg.clone();
    cfg.client_secret.file = Some(secret);
    let err = SalesforceConnector::new("sf", cfg)
        .unwrap()
        .health()
        .await
        .unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Config);
    assert!(err.message.contains("invalid_client"), "{}", err.message);
    assert!(!err.message.contains("hunter2"), "{}", err.message);
}

#[tokio::test]
async fn concurrent_pushes_stay_well_under_the_orgs_cap() {
    let org = org(FakeConfig::default(), "").await;
    let leads: Vec<String> = (0..400)
        .map(|n| org.lead(n, "Open - Not Contacted"))
        .collect();
    org.fake.script(Fault::Slow {
        delay: std::time::Duration::from_millis(100),
        times: 200,
    });
    let c = org.connector();
    let batches: Vec<Vec<PushItem>> = leads
        .chunks(20)
        .map(|ids| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| item(i as i64, id, Tier::MQL))
                .collect()
        })
        .collect();
    let pushes = batches.iter().map(|b| c.push(b));
    futures_util::future::join_all(pushes).await;
    assert!(
        org.fake.max_in_flight() <= 10,
        "{}",
        org.fake.max_in_flight()
    );
}

fn outbox(o: &PushOutcome) -> i64 {
    match o {
        PushOutcome::Applied { outbox_id }
        | PushOutcome::Retry { outbox_id, .. }
        | PushOutcome::Failed { outbox_id, .. } => *outbox_id,
    }
}

fn status(org: &Org, id: &str) -> String {
    org.fake.record(id).unwrap().fields["Status"]
        .as_str()
        .unwrap()
        .to_string()
}
