//! The rolling API allocation, requests in flight, bulk seeding and the standalone binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use leadsync_fake_salesforce::{FakeConfig, Fault, seed};
use reqwest::StatusCode;
use serde_json::json;

use common::{API, error_code, start};

#[tokio::test]
async fn usage_rolls_off_after_the_window() {
    // GIVEN an allocation of 5 spent by others, in a fake whose "24 hours" last 400 ms
    let h = start(FakeConfig {
        daily_limit: 5,
        usage_window: Duration::from_millis(400),
        ..FakeConfig::default()
    })
    .await;
    let token = h.token().await;
    h.fake.set_api_usage(5);
    let refused = h.query(&token, "SELECT Id FROM Lead").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&refused), "REQUEST_LIMIT_EXCEEDED");
    assert_eq!(refused.limit_info.as_deref(), Some("api-usage=5/5"));
    // WHEN the window passes
    tokio::time::sleep(Duration::from_millis(450)).await;
    // THEN those requests no longer count, and new ones do until they age out too
    assert_eq!(h.fake.api_usage(), 0);
    let first = h.query(&token, "SELECT Id FROM Lead").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.limit_info.as_deref(), Some("api-usage=1/5"));
    let second = h.query(&token, "SELECT Id FROM Lead").await;
    assert_eq!(second.limit_info.as_deref(), Some("api-usage=2/5"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(h.fake.api_usage(), 0);
}

#[tokio::test]
async fn max_in_flight_counts_requests_handled_at_once() {
    // GIVEN six slow answers
    let h = start(FakeConfig::default()).await;
    let token = h.token().await;
    h.fake.script(Fault::Slow {
        delay: Duration::from_millis(300),
        times: 6,
    });
    // WHEN six requests run concurrently, then one more alone
    let q = || h.query(&token, "SELECT Id FROM Lead");
    let answers = tokio::join!(q(), q(), q(), q(), q(), q());
    let answers = [
        answers.0, answers.1, answers.2, answers.3, answers.4, answers.5,
    ];
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    h.query(&token, "SELECT Id FROM Lead").await;
    // THEN the most at once was six
    assert_eq!(h.fake.max_in_flight(), 6);
}

#[tokio::test]
async fn fifty_thousand_leads_seed_fast_with_statuses_cycling() {
    let h = start(FakeConfig::default()).await;
    let people = seed::people(50_000, 42);
    let started = Instant::now();
    let ids = h.fake.seed_leads(&people);
    let took = started.elapsed();
    // Well under a second in release builds; debug builds are several times slower.
    let budget = if cfg!(debug_assertions) { 1500 } else { 300 };
    assert!(
        took < Duration::from_millis(budget),
        "seeding took {took:?}"
    );
    assert_eq!(ids.len(), 50_000);
    let token = h.token().await;
    let soql = format!(
        "SELECT Id, Email, Status FROM Lead WHERE Id IN ('{}','{}','{}','{}') ORDER BY Id",
        ids[0], ids[1], ids[2], ids[3]
    );
    let rows = h.rows(&token, &soql).await;
    let statuses: Vec<_> = rows.iter().map(|r| r["Status"].clone()).collect();
    assert_eq!(
        statuses,
        [
            json!("Open - Not Contacted"),
            json!("Working - Contacted"),
            json!("Closed - Not Converted"),
            json!("Open - Not Contacted")
        ]
    );
    assert_eq!(rows[3]["Email"], json!(seed::person(42, 3).email));
}

#[tokio::test]
async fn the_binary_serves_a_seeded_org_until_sigterm() {
    // GIVEN the binary on a free port with 7 leads and 3 contacts
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-salesforce"))
        .args(["--leads", "7", "--contacts", "3", "--client-id", "demo-id"])
        .args(["--client-secret", "demo-secret", "--daily-limit", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("fake Salesforce listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    // WHEN a client takes a token with the given credentials and queries
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base}/services/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::url_encode(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-id"),
            ("client_secret", "demo-secret"),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let count = |object: &'static str| {
        let request = http
            .get(format!("{base}{API}/query"))
            .bearer_auth(token)
            .query(&[("q", format!("SELECT Id, Email FROM {object}"))]);
        async move {
            let response = request.send().await.unwrap();
            let info = response.headers()["sforce-limit-info"]
                .to_str()
                .unwrap()
                .to_owned();
            let body: serde_json::Value = response.json().await.unwrap();
            (body["totalSize"].clone(), info)
        }
    };
    // THEN the seeded records are there, under the given limit
    assert_eq!(count("Lead").await, (json!(7), "api-usage=1/50".to_owned()));
    assert_eq!(count("Contact").await.0, json!(3));
    // AND SIGTERM stops it cleanly
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
