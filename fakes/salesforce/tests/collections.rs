//! `PATCH /composite/sobjects`: per-record outcomes in order, refusals of the whole request,
//! allOrNone, and a write whose answer is lost.

mod common;

use chrono::{Duration, SubsecRound, Utc};
use leadsync_fake_salesforce::{FakeConfig, Fault};
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{API, error_code, start};

const WORKING: &str = "Working - Contacted";

/// `(success, statusCode of the first error)` of each result, and no `id` on a failure.
fn outcomes(body: &Value) -> Vec<(bool, String)> {
    body.as_array()
        .unwrap_or_else(|| panic!("not a result array: {body}"))
        .iter()
        .map(|r| {
            let success = r["success"].as_bool().unwrap();
            if !success {
                assert!(r.get("id").is_none_or(Value::is_null), "{r}");
            }
            (
                success,
                r["errors"][0]["statusCode"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

fn status(h: &common::Harness, id: &str) -> Value {
    h.fake
        .record(id)
        .unwrap()
        .fields
        .get("Status")
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn an_update_sets_fields_moves_system_modstamp_and_is_logged() {
    // GIVEN two leads last modified a day ago
    let h = start(FakeConfig::default()).await;
    let leads = [h.lead("a@example.com"), h.lead("b@example.com")];
    let day_ago = Utc::now() - Duration::days(1);
    h.fake.set_modstamp(&leads, day_ago);
    let token = h.token().await;
    let before = h.fake.api_usage();
    // WHEN one PATCH moves both
    let answer = h
        .patch(
            &token,
            false,
            &[
                ("Lead", &leads[0], "Status", json!(WORKING)),
                ("Lead", &leads[1], "Title", json!("CTO")),
            ],
        )
        .await;
    // THEN each record succeeded, in request order, and is changed
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body[0],
        json!({"id": leads[0], "success": true, "errors": []})
    );
    assert_eq!(answer.body[1]["id"], json!(leads[1]));
    assert_eq!(status(&h, &leads[0]), json!(WORKING));
    for id in &leads {
        assert!(h.fake.record(id).unwrap().modstamp > day_ago);
    }
    assert_eq!(
        h.fake.write_log(),
        [
            (leads[0].clone(), "Status".to_owned(), json!(WORKING)),
            (leads[1].clone(), "Title".to_owned(), json!("CTO")),
        ]
    );
    // AND it was one write and one API request
    assert_eq!(h.fake.writes(), 1);
    assert_eq!(h.fake.api_usage(), before + 1);
    assert_eq!(
        answer.limit_info,
        Some(format!("api-usage={}/100000", before + 1))
    );
    h.fake.reset_writes();
    assert_eq!((h.fake.writes(), h.fake.write_log().len()), (0, 0));
}

#[tokio::test]
async fn each_refused_record_fails_alone_with_salesforces_code() {
    // GIVEN a good lead, a deleted one, a converted one and a contact
    let h = start(FakeConfig::default()).await;
    let good = h.lead("good@example.com");
    let deleted = h.lead("deleted@example.com");
    h.fake.delete(&deleted);
    let converted = h.lead("converted@example.com");
    let contact = h.fake.convert_lead(&converted, None);
    let other = h.lead("other@example.com");
    let token = h.token().await;
    // WHEN one request touches each
    let answer = h
        .patch(
            &token,
            false,
            &[
                ("Lead", "00Q999999999999AAA", "Status", json!(WORKING)),
                ("Lead", &deleted, "Status", json!(WORKING)),
                ("Lead", &converted, "Status", json!(WORKING)),
                ("Lead", &other, "Status", json!("Hot")),
                ("Lead", &other, "IsConverted", json!(true)),
                ("Contact", &good, "Title", json!("CEO")),
                ("Lead", &good, "Status", json!(WORKING)),
                ("Contact", &contact, "Lifecycle_Stage__c", json!("sql")),
            ],
        )
        .await;
    // THEN each fails alone, in order, and the good ones land
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let expected = [
        (false, "INVALID_CROSS_REFERENCE_KEY"),
        (false, "ENTITY_IS_DELETED"),
        (false, "CANNOT_UPDATE_CONVERTED_LEAD"),
        (false, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        (false, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        (false, "MALFORMED_ID"),
        (true, ""),
        (true, ""),
    ];
    let expected: Vec<(bool, String)> = expected
        .iter()
        .map(|(s, c)| (*s, (*c).to_owned()))
        .collect();
    assert_eq!(outcomes(&answer.body), expected);
    assert_eq!(
        answer.body[2]["errors"][0]["message"],
        json!("cannot reference converted lead")
    );
    assert_eq!(answer.body[3]["errors"][0]["fields"], json!(["Status"]));
    assert_eq!(
        answer.body[4]["errors"][0]["fields"],
        json!(["IsConverted"])
    );
    assert_eq!(status(&h, &good), json!(WORKING));
    assert_eq!(status(&h, &other), json!("Open - Not Contacted"));
    assert_eq!(status(&h, &converted), json!("Closed - Converted"));
    let custom = h
        .fake
        .record(&contact)
        .unwrap()
        .fields
        .get("Lifecycle_Stage__c")
        .cloned();
    assert_eq!(custom, Some(json!("sql")));
    assert_eq!(h.fake.write_log().len(), 2);
}

#[tokio::test]
async fn a_request_salesforce_cannot_read_is_refused_whole() {
    let h = start(FakeConfig::default()).await;
    let lead = h.lead("a@example.com");
    let token = h.token().await;
    // More than 200 records
    let many: Vec<(&str, &str, &str, Value)> = (0..201)
        .map(|_| ("Lead", lead.as_str(), "Status", json!(WORKING)))
        .collect();
    let too_many = h.patch(&token, false, &many).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&too_many), "EXCEEDED_ID_LIMIT");
    // Exactly 200 is fine
    let answer = h.patch(&token, false, &many[..200]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_array().unwrap().len(), 200);
    h.fake.reset_writes();
    // Bad JSON, an unknown field, an unknown type
    let bad = h
        .patch_raw(&token, "{\"allOrNone\": false, \"records\": [".to_owned())
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&bad), "JSON_PARSER_ERROR");
    let unknown = h
        .patch(&token, false, &[("Lead", &lead, "Shoe_Size", json!(9))])
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&unknown), "INVALID_FIELD");
    let no_type = h
        .patch(&token, false, &[("Account", &lead, "Name", json!("x"))])
        .await;
    assert_eq!(error_code(&no_type), "INVALID_TYPE");
    // None of them changed anything, but each was a write request
    assert_eq!(h.fake.writes(), 3);
    assert!(h.fake.write_log().is_empty());
}

#[tokio::test]
async fn all_or_none_rolls_everything_back_when_one_fails() {
    // GIVEN two leads and a converted one, all last modified a day ago
    let h = start(FakeConfig::default()).await;
    let leads = [
        h.lead("a@example.com"),
        h.lead("b@example.com"),
        h.lead("c@example.com"),
    ];
    h.fake.convert_lead(&leads[2], None);
    let day_ago = Utc::now() - Duration::days(1);
    h.fake.set_modstamp(&leads, day_ago);
    let token = h.token().await;
    let records = [
        ("Lead", leads[0].as_str(), "Status", json!(WORKING)),
        ("Lead", leads[2].as_str(), "Status", json!(WORKING)),
        ("Lead", leads[1].as_str(), "Status", json!(WORKING)),
    ];
    // WHEN allOrNone is set and one record fails
    let answer = h.patch(&token, true, &records).await;
    // THEN all fail, the others as rolled back, and nothing changed
    assert_eq!(answer.status, StatusCode::OK);
    let codes: Vec<String> = outcomes(&answer.body).into_iter().map(|o| o.1).collect();
    assert_eq!(
        codes,
        [
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "CANNOT_UPDATE_CONVERTED_LEAD",
            "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        ]
    );
    for id in &leads {
        assert_eq!(
            h.fake.record(id).unwrap().modstamp,
            day_ago.trunc_subsecs(3)
        );
    }
    assert_eq!(status(&h, &leads[0]), json!("Open - Not Contacted"));
    assert!(h.fake.write_log().is_empty());
    // AND without the converted lead the same request lands
    let answer = h
        .patch(&token, true, &[records[0].clone(), records[2].clone()])
        .await;
    assert_eq!(
        outcomes(&answer.body),
        [(true, String::new()), (true, String::new())]
    );
    assert_eq!(status(&h, &leads[1]), json!(WORKING));
}

#[tokio::test]
async fn drop_after_write_lands_the_write_and_loses_the_answer() {
    // GIVEN a lead and a scripted DropAfterWrite
    let h = start(FakeConfig::default()).await;
    let lead = h.lead("a@example.com");
    let token = h.token().await;
    h.fake.script(Fault::DropAfterWrite { times: 1 });
    // A read passes the fault by.
    let read = h.query(&token, "SELECT Id FROM Lead").await;
    assert_eq!(read.status, StatusCode::OK);
    // WHEN the client writes
    let body = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Lead"}, "id": lead, "Status": WORKING}
    ]});
    let sent = h
        .http
        .patch(format!("{}{API}/composite/sobjects", h.server.base_url))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await;
    // THEN the client sees a transport error, yet the write landed
    let error = sent.expect_err("the answer should have been lost");
    assert!(!error.is_status() && error.status().is_none(), "{error:?}");
    assert_eq!(status(&h, &lead), json!(WORKING));
    assert_eq!(h.fake.writes(), 1);
    // AND the fault is used up: the retry is answered (and lands again)
    let retry = h
        .patch(&token, false, &[("Lead", &lead, "Status", json!(WORKING))])
        .await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.body[0]["success"], json!(true));
    assert_eq!(h.fake.write_log().len(), 2);
}
