//! The fake Salesforce over real HTTP: each test checks one behaviour of Salesforce's API that the
//! connector will depend on (reference/salesforce-pipedrive.md, section 2), so the connector's
//! tests can trust the fake.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use leadsync_fake_salesforce::{FakeConfig, Fault, SObject, format_datetime};
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{API, error_code, ids, start};

#[tokio::test]
async fn client_credentials_token_opens_the_api() {
    // GIVEN an org with one lead
    let h = start(FakeConfig::default()).await;
    let id = h.lead("ada@example.com");
    // WHEN the client takes a token and queries with it
    let token = h.token().await;
    let answer = h.query(&token, "SELECT Id, Email, Status FROM Lead").await;
    // THEN the lead comes back in Salesforce's record shape
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["totalSize"], json!(1));
    assert_eq!(answer.body["done"], json!(true));
    let record = &answer.body["records"][0];
    assert_eq!(record["Id"], json!(id));
    assert_eq!(record["Email"], json!("ada@example.com"));
    assert_eq!(record["attributes"]["type"], json!("Lead"));
    assert_eq!(id.len(), 18);
    assert!(id.starts_with("00Q"));
}

#[tokio::test]
async fn token_answer_names_the_instance() {
    let h = start(FakeConfig::default()).await;
    let config = h.fake.config().clone();
    let (status, body) = h
        .token_request(&config.client_id, &config.client_secret)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["instance_url"], json!(h.server.base_url));
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_and_unknown_id_is_invalid_client_id() {
    let h = start(FakeConfig::default()).await;
    let id = h.fake.config().client_id.clone();
    let (status, body) = h.token_request(&id, "not-the-secret").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_client"));
    assert!(body.get("access_token").is_none());
    let secret = h.fake.config().client_secret.clone();
    let (status, body) = h.token_request("someone-else", &secret).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_client_id"));
}

#[tokio::test]
async fn missing_or_expired_token_is_invalid_session_id_until_a_new_token() {
    // GIVEN a token that worked
    let h = start(FakeConfig::default()).await;
    h.lead("ada@example.com");
    let token = h.token().await;
    assert_eq!(
        h.query(&token, "SELECT Id FROM Lead").await.status,
        StatusCode::OK
    );
    let bogus = h.query("made-up", "SELECT Id FROM Lead").await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&bogus), "INVALID_SESSION_ID");
    // WHEN the session expires
    h.fake.expire_tokens();
    // THEN the old token is refused, and a fresh one works
    let expired = h.query(&token, "SELECT Id FROM Lead").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&expired), "INVALID_SESSION_ID");
    assert!(expired.limit_info.is_some());
    let fresh = h.token().await;
    assert_ne!(fresh, token);
    assert_eq!(
        h.query(&fresh, "SELECT Id FROM Lead").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn paging_follows_next_records_url_whatever_the_batch_size() {
    // GIVEN 23 leads and a fake that varies its batch size 3, 5, 2, 3, 5, …
    let h = start(FakeConfig {
        batch_sizes: vec![3, 5, 2],
        ..FakeConfig::default()
    })
    .await;
    let created: Vec<String> = (0..23)
        .map(|i| h.lead(&format!("p{i}@example.com")))
        .collect();
    // Contacts are another object and must not leak into a Lead query.
    h.fake.insert(SObject::Contact, BTreeMap::new());
    let token = h.token().await;
    // WHEN the client follows nextRecordsUrl to the end
    let batches = h
        .query_all_batches(&token, "SELECT Id, Email FROM Lead ORDER BY Id")
        .await;
    // THEN the batch sizes follow the fake's choice and every lead arrives once, in order
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 5, 2, 3, 5, 2, 3]);
    let got: Vec<String> = batches.iter().flat_map(|b| ids(b)).collect();
    assert_eq!(got, created);
}

#[tokio::test]
async fn a_used_or_expired_query_locator_is_invalid() {
    let h = start(FakeConfig {
        batch_sizes: vec![2],
        ..FakeConfig::default()
    })
    .await;
    for i in 0..5 {
        h.lead(&format!("p{i}@example.com"));
    }
    let token = h.token().await;
    let first = h.query(&token, "SELECT Id FROM Lead").await;
    assert_eq!(first.body["totalSize"], json!(5));
    let next = first.body["nextRecordsUrl"].as_str().unwrap().to_owned();
    let second = h.get(&token, &next, None).await;
    assert_eq!(second.status, StatusCode::OK);
    // The same locator again names a batch already served.
    let again = h.get(&token, &next, None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&again), "INVALID_QUERY_LOCATOR");
    let third = second.body["nextRecordsUrl"].as_str().unwrap().to_owned();
    h.fake.expire_query_locators();
    let expired = h.get(&token, &third, None).await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&expired), "INVALID_QUERY_LOCATOR");
}

#[tokio::test]
async fn where_on_system_modstamp_and_id_walks_a_shared_timestamp_exactly_once() {
    // GIVEN 2 leads before T, 7 sharing T and 2 after T
    let h = start(FakeConfig::default()).await;
    let t: DateTime<Utc> = "2026-11-30T12:00:00.250Z".parse().unwrap();
    let all: Vec<String> = (0..11)
        .map(|i| h.lead(&format!("p{i}@example.com")))
        .collect();
    h.fake.set_modstamp(&all[..2], t - Duration::hours(1));
    h.fake.set_modstamp(&all[2..9], t);
    h.fake.set_modstamp(&all[9..], t + Duration::hours(1));
    let token = h.token().await;

    // WHEN asking for what changed after T
    let after = h
        .query(
            &token,
            &format!(
                "SELECT Id FROM Lead WHERE SystemModstamp > {}",
                format_datetime(t)
            ),
        )
        .await;
    // THEN only the two later leads qualify (a strict comparison, to the millisecond)
    assert_eq!(ids(after.body["records"].as_array().unwrap()), all[9..]);
    let at = h
        .query(
            &token,
            "SELECT Id FROM Lead WHERE SystemModstamp = 2026-11-30T12:00:00.250Z",
        )
        .await;
    assert_eq!(at.body["totalSize"], json!(7));

    // WHEN the connector walks (SystemModstamp, Id) two at a time from just inside the block
    let mut cursor = (t, all[3].clone());
    let mut walked = Vec::new();
    for _ in 0..20 {
        let soql = format!(
            "SELECT Id, SystemModstamp FROM Lead WHERE (SystemModstamp = {at} AND Id > '{id}') \
             OR SystemModstamp > {at} ORDER BY SystemModstamp, Id LIMIT 2",
            at = format_datetime(cursor.0),
            id = cursor.1,
        );
        let answer = h.query(&token, &soql).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let records = answer.body["records"].as_array().unwrap().clone();
        let Some(last) = records.last() else { break };
        let stamp = last["SystemModstamp"].as_str().unwrap();
        cursor = (
            DateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S%.f%z")
                .unwrap()
                .with_timezone(&Utc),
            last["Id"].as_str().unwrap().to_owned(),
        );
        walked.extend(ids(&records));
    }
    // THEN every later lead of the block, then the later leads, each exactly once
    assert_eq!(walked, all[4..]);
}

#[tokio::test]
async fn every_answer_reports_usage_and_the_allocation_ends_in_403() {
    // GIVEN an org with 3 API requests left of 10
    let h = start(FakeConfig {
        daily_limit: 10,
        ..FakeConfig::default()
    })
    .await;
    h.fake.set_api_usage(7);
    let token = h.token().await;
    // WHEN the client spends them
    let mut seen = Vec::new();
    for _ in 0..3 {
        let answer = h.query(&token, "SELECT Id FROM Contact").await;
        assert_eq!(answer.status, StatusCode::OK);
        seen.push(answer.limit_info.unwrap());
    }
    // THEN each answer counts, and the next request is refused as a limit, not an auth failure
    assert_eq!(
        seen,
        ["api-usage=8/10", "api-usage=9/10", "api-usage=10/10"]
    );
    let refused = h.query(&token, "SELECT Id FROM Contact").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&refused), "REQUEST_LIMIT_EXCEEDED");
    assert_eq!(refused.limit_info.as_deref(), Some("api-usage=10/10"));
    assert_eq!(h.fake.api_usage(), 10);
}

#[tokio::test]
async fn soql_outside_the_subset_is_a_malformed_query() {
    let h = start(FakeConfig::default()).await;
    let token = h.token().await;
    let answer = h
        .query(
            &token,
            "SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01T00:00:00Z'",
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&answer), "MALFORMED_QUERY");
    let unknown = h.query(&token, "SELECT Id, Shoe_Size FROM Lead").await;
    assert_eq!(error_code(&unknown), "INVALID_FIELD");
}

#[tokio::test]
async fn id_in_list_selects_exactly_those_records() {
    let h = start(FakeConfig::default()).await;
    let all: Vec<String> = (0..5)
        .map(|i| h.lead(&format!("p{i}@example.com")))
        .collect();
    h.fake.delete(&all[3]);
    let token = h.token().await;
    let soql = format!(
        "SELECT Id FROM Lead WHERE Id IN ('{}', '{}', '{}') ORDER BY Id DESC",
        all[1], all[3], all[4]
    );
    let answer = h.query(&token, &soql).await;
    // The deleted lead is in the recycle bin, so `query` leaves it out.
    assert_eq!(
        ids(answer.body["records"].as_array().unwrap()),
        [all[4].clone(), all[1].clone()]
    );
}

#[tokio::test]
async fn scripted_server_errors_and_slow_answers_hit_the_next_requests() {
    let h = start(FakeConfig::default()).await;
    h.lead("ada@example.com");
    let token = h.token().await;
    // GIVEN two 503s, then one answer 300 ms slow
    h.fake.script(Fault::ServerError {
        status: 503,
        times: 2,
    });
    let delay = StdDuration::from_millis(300);
    h.fake.script(Fault::Slow { delay, times: 1 });
    for _ in 0..2 {
        let failed = h.query(&token, "SELECT Id FROM Lead").await;
        assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error_code(&failed), "UNKNOWN_EXCEPTION");
    }
    let started = Instant::now();
    let slow = h.query(&token, "SELECT Id FROM Lead").await;
    assert_eq!(slow.status, StatusCode::OK);
    assert!(started.elapsed() >= delay);
    // THEN the script is used up: the next request is normal and every request was counted
    assert_eq!(
        h.query(&token, "SELECT Id FROM Lead").await.body["totalSize"],
        json!(1)
    );
    assert_eq!(h.fake.api_usage(), 4);
}

#[tokio::test]
async fn a_batch_size_hint_caps_every_batch_of_its_query() {
    // GIVEN 450 leads, a fake that would send them in one batch, and a client hinting 200
    let h = start(FakeConfig::default()).await;
    for i in 0..450 {
        h.lead(&format!("p{i}@example.com"));
    }
    let token = h.token().await;
    let url = format!("{}{API}/query", h.server.base_url);
    let first: Value = h
        .http
        .get(url)
        .bearer_auth(&token)
        .header("Sforce-Query-Options", "batchSize=200")
        .query(&[("q", "SELECT Id FROM Lead")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["records"].as_array().unwrap().len(), 200);
    // WHEN the client follows the locators without repeating the header
    let mut sizes = vec![200];
    let mut next = first["nextRecordsUrl"].as_str().map(str::to_owned);
    while let Some(path) = next {
        let answer = h.get(&token, &path, None).await;
        sizes.push(answer.body["records"].as_array().unwrap().len());
        next = answer.body["nextRecordsUrl"].as_str().map(str::to_owned);
    }
    // THEN the hint still holds for the rest of that query
    assert_eq!(sizes, [200, 200, 50]);
}
