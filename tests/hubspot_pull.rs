//! Acceptance, against the fake HubSpot on 127.0.0.1: a backfill, then a cycle with no changes
//! reads only the overlap window and writes nothing; 12,000 contacts sharing one
//! `lastmodifieddate` are all pulled exactly once, without a loop; a dropped HubSpot export
//! joins the pulled contacts by record id.

use leadsync::store::prelude::*;
use std::time::Duration;

mod common;

use common::hubspot::{Options, Setup, setup, unlimited_fake};

fn pulling(base_url: &str, overlap: Duration) -> Setup {
    setup(
        base_url,
        Options {
            overlap,
            ..Options::default()
        },
    )
}

async fn cycle(s: &mut Setup) -> leadsync::pipeline::Cycle {
    s.cycle().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_then_a_cycle_with_no_changes_reads_only_the_overlap_and_writes_nothing() {
    // GIVEN 50,000 contacts in HubSpot, last modified over the past days
    let (fake, server) = unlimited_fake(50_000, 7).await;
    let mut s = pulling(&server.base_url, Duration::from_secs(300));

    // WHEN the first cycle runs: a backfill by list
    let first = cycle(&mut s).await;
    assert_eq!(first.runs[0].resolved.records, 50_000);
    assert_eq!(s.store.person_count().unwrap(), 50_000);
    let after_backfill = fake.stats();

    // AND a second cycle runs with nothing changed in HubSpot
    let second = cycle(&mut s).await;

    // THEN it listed nothing, searched only the overlap window, and stored nothing
    let stats = fake.stats();
    assert_eq!(second.runs[0].resolved.records, 0, "nothing new stored");
    let count =
        |st: &leadsync_fake_hubspot::Stats, what: &str| st.requests.get(what).copied().unwrap_or(0);
    assert_eq!(
        count(&stats, "list"),
        count(&after_backfill, "list"),
        "no list paging again"
    );
    // The overlap window holds fewer contacts than a search page: one search reads it all.
    assert_eq!(
        stats.searches - after_backfill.searches,
        1,
        "only the overlap window: {stats:?}"
    );
    assert_eq!(s.store.person_count().unwrap(), 50_000);

    // AND a contact changed in HubSpot arrives with the next cycle
    let some = fake.contacts()[123].id.clone();
    fake.update(
        &some,
        [("jobtitle".to_string(), "Chief Revenue Officer".to_string())].into(),
    );
    let third = cycle(&mut s).await;
    assert_eq!(third.runs[0].resolved.records, 1);
    let person = s
        .store
        .person_by_key("crm:hubspot", &some)
        .unwrap()
        .unwrap();
    let golden = s.store.person(person).unwrap().unwrap();
    assert_eq!(
        golden.get(&leadsync::connector::Field::JobTitle),
        Some("Chief Revenue Officer")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_thousand_contacts_sharing_one_timestamp_are_pulled_exactly_once() {
    // GIVEN contacts already backfilled
    let (fake, server) = unlimited_fake(12_500, 3).await;
    let mut s = pulling(&server.base_url, Duration::ZERO);
    cycle(&mut s).await;

    // WHEN a bulk import touches 12,000 of them at the very same millisecond
    let ids: Vec<String> = fake
        .contacts()
        .iter()
        .take(12_000)
        .map(|c| c.id.clone())
        .collect();
    let at = chrono::Utc::now().timestamp_millis() + 1_000;
    fake.set_modified_at(&ids, at);
    let before = fake.stats();
    let run = cycle(&mut s).await;

    // THEN every one of them is pulled once — no more, no fewer — with a bounded number of
    // searches (an id walk past the 10,000-result cap, not a loop)
    assert_eq!(run.runs[0].resolved.records, 12_000);
    let searches = fake.stats().searches - before.searches;
    assert!(searches <= 12_000 / 200 + 5, "{searches} searches");
    // AND the next cycle finds nothing more
    let again = cycle(&mut s).await;
    assert_eq!(again.runs[0].resolved.records, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_contact_is_marked_not_lost_and_a_merge_moves_the_link() {
    let (fake, server) = unlimited_fake(300, 5).await;
    let mut s = pulling(&server.base_url, Duration::from_secs(60));
    s.hubspot().archived_scan = Duration::ZERO; // look for archived contacts on every cycle
    s.rebuild();
    cycle(&mut s).await;
    let contacts = fake.contacts();
    let (gone, a, b) = (
        contacts[10].id.clone(),
        contacts[20].id.clone(),
        contacts[30].id.clone(),
    );
    let person_of =
        |s: &mut Setup, id: &str| s.store.person_by_key("crm:hubspot", id).unwrap().unwrap();
    let (p_gone, p_a) = (person_of(&mut s, &gone), person_of(&mut s, &a));

    // WHEN a contact is deleted (archived) and two others are merged in HubSpot
    fake.archive(&gone);
    let survivor = fake.merge(&a, &b);
    assert!(
        survivor != a && survivor != b,
        "a merge gives the survivor a new id"
    );
    cycle(&mut s).await;

    // THEN the archived contact's person is still there, its record marked archived
    let records = s.store.records_of(p_gone).unwrap();
    assert!(records.iter().any(|r| r.archived), "{records:?}");
    assert_eq!(s.store.person_count().unwrap(), 300);
    // AND the survivor's new id links to the person of the primary contact
    assert_eq!(person_of(&mut s, &survivor), p_a);
    // AND the next cycle finds nothing new (the tombstone is not written again)
    let again = cycle(&mut s).await;
    assert_eq!(again.runs[0].resolved.records, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_hubspot_export_joins_the_pulled_contacts_by_record_id() {
    use leadsync::config::ConnectorConfig;
    use leadsync::pipeline::AnyConnector;
    use leadsync_spreadsheet::{CrmIds, SpreadsheetConfig};

    // GIVEN 20 contacts in HubSpot, pulled
    let (fake, server) = unlimited_fake(20, 5).await;
    let mut s = pulling(&server.base_url, Duration::from_secs(300));
    cycle(&mut s).await;
    assert_eq!(s.store.person_count().unwrap(), 20);

    // AND an inbox whose exports carry HubSpot record ids
    let inbox = s.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut sheet = SpreadsheetConfig::for_inbox(&inbox);
    sheet.settle = Duration::ZERO;
    sheet.crm_ids = Some(CrmIds {
        connector: "hubspot".into(),
        column: "Record ID".into(),
    });
    let sheet = ConnectorConfig::Spreadsheet(sheet);
    s.settings.connectors.insert("drops".into(), sheet.clone());
    s.connectors
        .push(AnyConnector::build("drops", &sheet).unwrap());

    // WHEN an export arrives where five of them have moved to new addresses, and one row names
    // a record HubSpot does not have (yet)
    let ids: Vec<String> = fake.contacts()[..5].iter().map(|c| c.id.clone()).collect();
    let mut csv = String::from("Record ID,First Name,Email\n");
    for (i, id) in ids.iter().enumerate() {
        csv += &format!("{id},Moved,moved.{i}@elsewhere.io\n");
    }
    csv += "99999999,Nobody,nobody@elsewhere.io\n";
    let staged = s.dir.path().join("export.csv");
    std::fs::write(&staged, csv).unwrap();
    std::fs::rename(&staged, inbox.join("hubspot-export.csv")).unwrap();
    let run = cycle(&mut s).await;
    assert!(run.runs.iter().all(|r| r.error.is_none()), "{run:?}");

    // THEN each row joined its contact's person, new address and all: one new person only,
    // for the unknown record
    assert_eq!(s.store.person_count().unwrap(), 21);
    for (i, id) in ids.iter().enumerate() {
        let by_id = s.store.person_by_key("crm:hubspot", id).unwrap().unwrap();
        let by_email = s
            .store
            .person_by_key("email", &format!("moved.{i}@elsewhere.io"));
        assert_eq!(by_email.unwrap(), Some(by_id), "row of record {id}");
        assert_eq!(s.store.records_of(by_id).unwrap().len(), 2);
    }
    assert!(
        s.store
            .person_by_key("crm:hubspot", "99999999")
            .unwrap()
            .is_some()
    );
}
