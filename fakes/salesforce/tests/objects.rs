//! Opportunity and LeadStatus queries, `queryAll`, and what merges, conversions, deletions and
//! user edits look like through SOQL.

mod common;

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use leadsync_fake_salesforce::{FakeConfig, SObject, format_datetime};
use serde_json::{Value, json};

use common::{ids, instant, start};

const STATUS_SOQL: &str =
    "SELECT ApiName, MasterLabel, SortOrder, IsConverted, IsDefault FROM LeadStatus";

fn contact(h: &common::Harness, email: &str) -> String {
    let fields = BTreeMap::from([
        ("LastName".to_owned(), json!("Hopper")),
        ("Email".to_owned(), json!(email)),
    ]);
    h.fake.insert(SObject::Contact, fields)
}

fn statuses(rows: &[Value]) -> Vec<(String, i64, bool, bool)> {
    rows.iter()
        .map(|r| {
            assert_eq!(r["MasterLabel"], r["ApiName"]);
            (
                r["ApiName"].as_str().unwrap().to_owned(),
                r["SortOrder"].as_i64().unwrap(),
                r["IsConverted"].as_bool().unwrap(),
                r["IsDefault"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn lead_status_starts_as_the_standard_picklist_and_can_be_replaced() {
    let h = start(FakeConfig::default()).await;
    let token = h.token().await;
    let rows = h.rows(&token, STATUS_SOQL).await;
    assert_eq!(
        statuses(&rows),
        [
            ("Open - Not Contacted".to_owned(), 1, false, true),
            ("Working - Contacted".to_owned(), 2, false, false),
            ("Closed - Converted".to_owned(), 3, true, false),
            ("Closed - Not Converted".to_owned(), 4, false, false),
        ]
    );
    // WHEN the admin replaces the picklist with two converted values
    h.fake
        .set_lead_statuses(&[("New", 1, false), ("Won", 2, true), ("Signed", 3, true)]);
    let rows = h
        .rows(
            &token,
            &format!("{STATUS_SOQL} WHERE IsConverted = true ORDER BY SortOrder"),
        )
        .await;
    assert_eq!(
        statuses(&rows),
        [
            ("Won".to_owned(), 2, true, false),
            ("Signed".to_owned(), 3, true, false)
        ]
    );
    // THEN a conversion uses the first converted value
    let lead = h.lead("ada@example.com");
    h.fake.convert_lead(&lead, None);
    let soql = format!("SELECT Status FROM Lead WHERE Id = '{lead}'");
    assert_eq!(h.rows(&token, &soql).await[0]["Status"], json!("Won"));
}

#[tokio::test]
async fn opportunities_are_found_by_contact_id_in() {
    let h = start(FakeConfig::default()).await;
    let contacts: Vec<String> = (0..4)
        .map(|i| contact(&h, &format!("c{i}@example.com")))
        .collect();
    let won = h
        .fake
        .insert_opportunity(&contacts[0], "Closed Won", true, true);
    let open = h
        .fake
        .insert_opportunity(&contacts[1], "Prospecting", false, false);
    h.fake
        .insert_opportunity(&contacts[2], "Closed Lost", true, false);
    assert!(won.starts_with("006") && won.len() == 18);
    let token = h.token().await;
    let soql = format!(
        "SELECT Id, ContactId, StageName, IsClosed, IsWon, SystemModstamp FROM Opportunity \
         WHERE ContactId IN ('{}','{}','{}') ORDER BY Id",
        contacts[0], contacts[1], contacts[3]
    );
    let rows = h.rows(&token, &soql).await;
    assert_eq!(ids(&rows), [won.clone(), open]);
    assert_eq!(rows[0]["ContactId"], json!(contacts[0]));
    assert_eq!(rows[0]["StageName"], json!("Closed Won"));
    assert_eq!(
        (rows[0]["IsClosed"].clone(), rows[0]["IsWon"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        (rows[1]["IsClosed"].clone(), rows[1]["IsWon"].clone()),
        (json!(false), json!(false))
    );
    assert!(instant(&rows[0]["SystemModstamp"]) <= Utc::now());
}

#[tokio::test]
async fn merge_losers_leave_query_and_show_in_query_all_with_their_master() {
    // GIVEN three leads last modified a day ago, and a fake paging two rows at a time
    let h = start(FakeConfig {
        batch_sizes: vec![2],
        ..FakeConfig::default()
    })
    .await;
    let leads: Vec<String> = (0..4)
        .map(|i| h.lead(&format!("p{i}@example.com")))
        .collect();
    let day_ago = Utc::now() - Duration::days(1);
    h.fake.set_modstamp(&leads, day_ago);
    // WHEN lead 0 absorbs leads 1 and 2
    let before = Utc::now() - Duration::seconds(1);
    h.fake.merge(&leads[0], &[&leads[1], &leads[2]]);
    let token = h.token().await;
    // THEN query sees only the master and the bystander
    let live = h
        .query_all_batches(&token, "SELECT Id FROM Lead ORDER BY Id")
        .await;
    let live: Vec<String> = live.iter().flat_map(|b| ids(b)).collect();
    assert_eq!(live, [leads[0].clone(), leads[3].clone()]);
    // AND queryAll finds the losers with MasterRecordId, across its own locators
    let merged = h
        .query_all_rows(
            &token,
            "SELECT Id, IsDeleted, MasterRecordId, SystemModstamp FROM Lead \
             WHERE IsDeleted = true AND MasterRecordId != null ORDER BY Id",
        )
        .await;
    assert_eq!(ids(&merged), leads[1..3]);
    for row in &merged {
        assert_eq!(row["IsDeleted"], json!(true));
        assert_eq!(row["MasterRecordId"], json!(leads[0]));
        assert!(instant(&row["SystemModstamp"]) >= before, "{row}");
    }
    let everything = h
        .query_all_rows(&token, "SELECT Id, SystemModstamp FROM Lead ORDER BY Id")
        .await;
    assert_eq!(ids(&everything), leads);
    // AND the master moved, the bystander did not
    assert!(instant(&everything[0]["SystemModstamp"]) >= before);
    assert_eq!(
        instant(&everything[3]["SystemModstamp"]),
        h.fake.record(&leads[3]).unwrap().modstamp
    );
    assert!(instant(&everything[3]["SystemModstamp"]) < before);
}

#[tokio::test]
async fn merging_contacts_moves_their_opportunities_to_the_master() {
    let h = start(FakeConfig::default()).await;
    let (master, loser) = (contact(&h, "a@example.com"), contact(&h, "b@example.com"));
    let opportunity = h
        .fake
        .insert_opportunity(&loser, "Prospecting", false, false);
    h.fake.merge(&master, &[&loser]);
    let token = h.token().await;
    let soql = format!("SELECT Id, ContactId FROM Opportunity WHERE ContactId = '{master}'");
    assert_eq!(ids(&h.rows(&token, &soql).await), [opportunity]);
}

#[tokio::test]
async fn a_converted_lead_points_at_its_new_contact_and_opportunity() {
    // GIVEN a lead with person fields, last modified an hour ago
    let h = start(FakeConfig::default()).await;
    let fields = BTreeMap::from([
        ("FirstName".to_owned(), json!("Grace")),
        ("LastName".to_owned(), json!("Hopper")),
        ("Email".to_owned(), json!("grace@navy.example")),
        ("Phone".to_owned(), json!("+1 555 0100")),
        ("Title".to_owned(), json!("Rear Admiral")),
        ("LeadSource".to_owned(), json!("Web")),
        ("Company".to_owned(), json!("Navy")),
        ("Status".to_owned(), json!("Working - Contacted")),
    ]);
    let lead = h.fake.insert(SObject::Lead, fields);
    let hour_ago = Utc::now() - Duration::hours(1);
    h.fake.set_modstamp(std::slice::from_ref(&lead), hour_ago);
    // WHEN it is converted with a won opportunity
    let contact = h.fake.convert_lead(&lead, Some(("Closed Won", true, true)));
    let token = h.token().await;
    // THEN the connector's lookup by Id sees the conversion
    let soql = format!(
        "SELECT Id, Status, IsConverted, ConvertedContactId, ConvertedOpportunityId, \
         ConvertedDate, SystemModstamp FROM Lead WHERE Id IN ('{lead}')"
    );
    let row = &h.rows(&token, &soql).await[0];
    assert_eq!(row["Status"], json!("Closed - Converted"));
    assert_eq!(row["IsConverted"], json!(true));
    assert_eq!(row["ConvertedContactId"], json!(contact));
    assert_eq!(
        row["ConvertedDate"],
        json!(Utc::now().format("%Y-%m-%d").to_string())
    );
    assert!(instant(&row["SystemModstamp"]) > hour_ago);
    // AND the contact carries the person, the opportunity the contact
    let soql = format!(
        "SELECT Id, FirstName, LastName, Email, Phone, Title, LeadSource, AccountId FROM Contact \
         WHERE Id = '{contact}'"
    );
    let c = &h.rows(&token, &soql).await[0];
    assert_eq!(
        [
            &c["FirstName"],
            &c["LastName"],
            &c["Email"],
            &c["Phone"],
            &c["Title"],
            &c["LeadSource"]
        ],
        [
            &json!("Grace"),
            &json!("Hopper"),
            &json!("grace@navy.example"),
            &json!("+1 555 0100"),
            &json!("Rear Admiral"),
            &json!("Web")
        ]
    );
    assert!(c["AccountId"].as_str().unwrap().starts_with("001"));
    let soql =
        format!("SELECT Id, StageName, IsWon FROM Opportunity WHERE ContactId IN ('{contact}')");
    let opp = &h.rows(&token, &soql).await[0];
    assert_eq!(opp["Id"], row["ConvertedOpportunityId"]);
    assert_eq!(opp["IsWon"], json!(true));
}

#[tokio::test]
async fn user_edits_and_deletions_move_system_modstamp() {
    let h = start(FakeConfig::default()).await;
    let (edited, deleted, converted) = (
        h.lead("a@example.com"),
        h.lead("b@example.com"),
        h.lead("c@example.com"),
    );
    let long_ago = Utc::now() - Duration::days(3);
    h.fake
        .set_modstamp(&[edited.clone(), deleted.clone()], long_ago);
    h.fake.update(
        &edited,
        BTreeMap::from([("Status".to_owned(), json!("Working - Contacted"))]),
    );
    h.fake.delete(&deleted);
    let token = h.token().await;
    // The modstamp walk from before the edits finds both changes.
    let soql = format!(
        "SELECT Id, Status, IsDeleted FROM Lead WHERE SystemModstamp > {} ORDER BY SystemModstamp, Id",
        format_datetime(long_ago)
    );
    let rows = h.query_all_rows(&token, &soql).await;
    let changed: Vec<String> = ids(&rows);
    assert!(
        changed.contains(&edited) && changed.contains(&deleted),
        "{changed:?}"
    );
    let record = h.fake.record(&deleted).unwrap();
    assert!(record.deleted && record.deleted_at == Some(record.modstamp));
    // A converted lead refuses a user's edit like the API does.
    h.fake.convert_lead(&converted, None);
    let fake = h.fake.clone();
    let refused = std::panic::catch_unwind(move || {
        fake.update(
            &converted,
            BTreeMap::from([("Title".to_owned(), json!("CEO"))]),
        );
    });
    let message = *refused.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains("CANNOT_UPDATE_CONVERTED_LEAD"),
        "{message}"
    );
}

#[tokio::test]
async fn the_connectors_full_lead_query_parses_and_filters() {
    let h = start(FakeConfig::default()).await;
    let leads: Vec<String> = (0..3)
        .map(|i| h.lead(&format!("p{i}@example.com")))
        .collect();
    let t = Utc::now() - Duration::hours(2);
    h.fake.set_modstamp(&leads, t);
    h.fake.update(
        &leads[2],
        BTreeMap::from([
            ("NumberOfEmployees".to_owned(), json!(120)),
            ("Lifecycle__c".to_owned(), json!("sql")),
        ]),
    );
    let token = h.token().await;
    let fields = "Id, Email, FirstName, LastName, Phone, MobilePhone, Company, Title, Industry, \
                  Country, NumberOfEmployees, LeadSource, Status, IsConverted, ConvertedContactId, \
                  ConvertedAccountId, ConvertedOpportunityId, ConvertedDate, IsDeleted, \
                  MasterRecordId, CreatedDate, LastModifiedDate, SystemModstamp, Lifecycle__c";
    let zulu = t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let soql = format!(
        "SELECT {fields} FROM Lead WHERE SystemModstamp > {zulu} OR \
         (SystemModstamp = {} AND Id > '{}') ORDER BY SystemModstamp, Id",
        format_datetime(t),
        leads[0]
    );
    let rows = h.rows(&token, &soql).await;
    assert_eq!(ids(&rows), [leads[1].clone(), leads[2].clone()]);
    assert_eq!(rows[1]["NumberOfEmployees"], json!(120));
    assert_eq!(rows[1]["Lifecycle__c"], json!("sql"));
    assert_eq!(rows[0]["IsConverted"], json!(false));
    assert_eq!(rows[0]["ConvertedContactId"], Value::Null);
    let open = h
        .rows(
            &token,
            "SELECT Id FROM Lead WHERE IsConverted = false AND Status != null",
        )
        .await;
    assert_eq!(open.len(), 3);
}
