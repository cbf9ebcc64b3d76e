//! The fake HubSpot over real HTTP: each test checks one behaviour of HubSpot's API that the
//! connector depends on (reference/hubspot.md), so the connector's tests can trust the fake.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, Fault, ServerHandle};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "fake-token";
const CONTACTS: &str = "/crm/v3/objects/contacts";

struct Harness {
    fake: FakeHubSpot,
    server: ServerHandle,
    http: Client,
}

/// What came back: status, rate-limit headers (lower-case names), JSON body (Null if none).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn start(config: FakeConfig) -> Harness {
    let fake = FakeHubSpot::new(config);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Harness {
        fake,
        server,
        http: Client::new(),
    }
}

/// No limits, so tests that make many calls measure the fake, not the limiter.
fn unlimited() -> FakeConfig {
    FakeConfig {
        requests_per_window: 0,
        daily_limit: 0,
        search_per_second: 0,
        ..FakeConfig::default()
    }
}

impl Harness {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let url = format!("{}{path}", self.server.base_url);
        let mut request = self.http.request(method, url).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, id: &str, properties: Value) -> Answer {
        let body = json!({ "properties": properties });
        self.send(Method::PATCH, &format!("{CONTACTS}/{id}"), Some(body))
            .await
    }

    async fn search(&self, body: Value) -> Answer {
        self.post(&format!("{CONTACTS}/search"), body).await
    }

    fn prop(&self, id: &str, name: &str) -> Option<String> {
        self.fake.contact(id).unwrap().properties.get(name).cloned()
    }
}

fn ids(body: &Value) -> Vec<u64> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn requests_without_the_bearer_token_get_401() {
    let h = start(FakeConfig::default()).await;
    let url = format!("{}{CONTACTS}", h.server.base_url);
    let none = h.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["category"], "INVALID_AUTHENTICATION");
    assert!(body["correlationId"].is_string());
    let wrong = h.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.get(CONTACTS).await.status, StatusCode::OK);
    assert_eq!(h.fake.stats().unauthorized, 2);
    h.server.shutdown().await;
}

#[tokio::test]
async fn list_pages_through_250_contacts_in_id_order() {
    let h = start(FakeConfig::default()).await;
    h.fake.seed(250, 42);
    let (mut seen, mut after, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let cursor = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let page = h
            .get(&format!(
                "{CONTACTS}?limit=100&properties=email,phone{cursor}"
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let first = &page.body["results"][0]["properties"];
        assert!(first["email"].is_string() && first["lastmodifieddate"].is_string());
        assert!(first.get("company").is_none(), "only requested + defaults");
        seen.extend(ids(&page.body));
        pages += 1;
        match page.body["paging"]["next"]["after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (1..=250).collect::<Vec<u64>>());
    let too_big = h.get(&format!("{CONTACTS}?limit=101")).await;
    assert_eq!(too_big.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_big.body["status"], "error");
}

#[tokio::test]
async fn search_by_lastmodifieddate_sorts_pages_and_caps_at_10000() {
    let h = start(unlimited()).await;
    h.fake.seed(300, 7);
    let mut dates: Vec<i64> = h
        .fake
        .contacts()
        .iter()
        .map(|c| c.properties["lastmodifieddate"].parse().unwrap())
        .collect();
    dates.sort_unstable();
    let t = dates[150];
    let expected = dates.iter().filter(|d| **d >= t).count();
    let (mut got, mut after) = (Vec::new(), 0);
    loop {
        let page = h
            .search(json!({
                "filterGroups": [{"filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": t.to_string()}
                ]}],
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "properties": ["email"],
                "limit": 40,
                "after": after,
            }))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body["total"], expected);
        assert!(page.header("x-hubspot-ratelimit-max").is_none());
        for r in page.body["results"].as_array().unwrap() {
            got.push(
                r["properties"]["lastmodifieddate"]
                    .as_str()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap(),
            );
        }
        match page.body["paging"]["next"]["after"].as_str() {
            Some(next) => after = next.parse().unwrap(),
            None => break,
        }
    }
    assert_eq!(got.len(), expected);
    assert!(got.windows(2).all(|w| w[0] <= w[1]) && got[0] >= t);
    let past_cap = h.search(json!({"limit": 20, "after": "9990"})).await;
    assert_eq!(past_cap.status, StatusCode::BAD_REQUEST);
    assert_eq!(past_cap.body["status"], "error");
    assert!(past_cap.body["message"].as_str().unwrap().contains("10000"));
}

#[tokio::test]
async fn an_id_walk_reaches_12000_contacts_sharing_one_timestamp() {
    let h = start(unlimited()).await;
    h.fake.seed(12_000, 3);
    let all: Vec<String> = h.fake.contacts().into_iter().map(|c| c.id).collect();
    let t = 1_700_000_000_000_i64;
    h.fake.set_modified_at(&all, t);
    let same_t =
        json!({"propertyName": "lastmodifieddate", "operator": "EQ", "value": t.to_string()});
    let capped = h
        .search(json!({"filterGroups": [{"filters": [same_t]}], "limit": 200, "after": 9900}))
        .await;
    assert_eq!(
        capped.status,
        StatusCode::BAD_REQUEST,
        "offset paging cannot get there"
    );
    let (mut seen, mut last) = (Vec::new(), 0_u64);
    loop {
        let page = h
            .search(json!({
                "filterGroups": [{"filters": [
                    same_t,
                    {"propertyName": "hs_object_id", "operator": "GT", "value": last.to_string()}
                ]}],
                "sorts": ["hs_object_id"],
                "properties": ["hs_object_id"],
                "limit": 200,
            }))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let page_ids = ids(&page.body);
        let Some(&max) = page_ids.last() else { break };
        seen.extend(page_ids);
        last = max;
    }
    assert_eq!(seen.len(), 12_000);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "ascending, no repeats"
    );
}

#[tokio::test]
async fn search_sorts_by_hs_object_id_either_way_merged_survivors_included() {
    let h = start(unlimited()).await;
    h.fake.seed(120, 5);
    let survivor: u64 = h.fake.merge("3", "7").parse().unwrap();
    let sorted = |direction: &str| {
        json!({
            "filterGroups": [{"filters": [
                {"propertyName": "hs_object_id", "operator": "GT", "value": "2"}
            ]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": direction}],
            "properties": ["hs_object_id"],
            "limit": 200,
        })
    };
    let down = ids(&h.search(sorted("DESCENDING")).await.body);
    let up = ids(&h.search(sorted("ASCENDING")).await.body);
    let mut expected: Vec<u64> = (4..=120).filter(|id| *id != 7).collect();
    expected.push(survivor);
    assert_eq!(up, expected);
    assert_eq!(down, expected.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(down[0], survivor);
}

#[tokio::test]
async fn archived_contacts_leave_search_and_show_up_with_archived_true() {
    let h = start(FakeConfig::default()).await;
    h.fake.seed(20, 1);
    let before = h.prop("3", "lastmodifieddate");
    h.fake.archive("3");
    assert_eq!(
        h.prop("3", "lastmodifieddate"),
        before,
        "archiving does not modify"
    );
    let found = h.search(json!({"limit": 100})).await;
    assert_eq!(found.body["total"], 19);
    assert!(!ids(&found.body).contains(&3));
    assert!(!ids(&h.get(&format!("{CONTACTS}?limit=100")).await.body).contains(&3));
    let archived = h.get(&format!("{CONTACTS}?archived=true")).await;
    assert_eq!(ids(&archived.body), vec![3]);
    assert_eq!(archived.body["results"][0]["archived"], true);
    assert!(archived.body["results"][0]["archivedAt"].is_string());
    assert_eq!(
        h.get(&format!("{CONTACTS}/3")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_rolling_window_answers_429_with_headers_then_recovers() {
    let h = start(FakeConfig {
        requests_per_window: 5,
        window: Duration::from_secs(1),
        daily_limit: 1000,
        ..FakeConfig::default()
    })
    .await;
    let started = Instant::now();
    for remaining in (0..5).rev() {
        let ok = h.get(CONTACTS).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.header("x-hubspot-ratelimit-max"), Some("5"));
        assert_eq!(
            ok.header("x-hubspot-ratelimit-remaining"),
            Some(&*remaining.to_string())
        );
        assert_eq!(
            ok.header("x-hubspot-ratelimit-interval-milliseconds"),
            Some("1000")
        );
        assert_eq!(ok.header("x-hubspot-ratelimit-daily"), Some("1000"));
        assert!(ok.header("x-hubspot-ratelimit-daily-remaining").is_some());
    }
    let limited = h.get(CONTACTS).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the test itself was too slow"
    );
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(limited.body["errorType"], "RATE_LIMIT");
    assert_eq!(
        limited.body["message"],
        "You have reached your ten secondly limit."
    );
    assert_eq!(limited.header("x-hubspot-ratelimit-remaining"), Some("0"));
    // On purpose: the rolling window must pass for the fake to admit requests again.
    tokio::time::sleep(
        Duration::from_secs(1).saturating_sub(started.elapsed()) + Duration::from_millis(50),
    )
    .await;
    assert_eq!(h.get(CONTACTS).await.status, StatusCode::OK);
    let stats = h.fake.stats();
    assert_eq!(stats.rate_limited["TEN_SECONDLY_ROLLING"], 1);
    assert_eq!(stats.max_in_window, 5);
    assert_eq!(stats.requests["list"], 7);
}

#[tokio::test]
async fn search_has_its_own_secondly_limit_without_headers() {
    let h = start(FakeConfig::default()).await;
    h.fake.seed(10, 1);
    for _ in 0..5 {
        assert_eq!(h.search(json!({})).await.status, StatusCode::OK);
    }
    let limited = h.search(json!({})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["policyName"], "SECONDLY");
    assert_eq!(
        limited.body["message"],
        "You have reached your secondly limit."
    );
    assert!(limited.header("x-hubspot-ratelimit-max").is_none());
    assert_eq!(
        h.get(CONTACTS).await.status,
        StatusCode::OK,
        "other calls unaffected"
    );
    assert_eq!(h.fake.stats().searches, 5);
}

#[tokio::test]
async fn batch_update_answers_207_for_an_unknown_id_and_applies_the_rest() {
    let h = start(FakeConfig::default()).await;
    h.fake.seed(3, 1);
    h.fake.set_modified_at(&["1".to_owned()], 1_000);
    let answer = h
        .post(
            &format!("{CONTACTS}/batch/update"),
            json!({"inputs": [
                {"id": "1", "properties": {"jobtitle": "Chief Fake Officer", "phone": ""}},
                {"id": "999", "properties": {"jobtitle": "Nobody"}},
            ]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    assert_eq!(answer.body["status"], "COMPLETE");
    assert_eq!(ids(&answer.body), vec![1]);
    let error = &answer.body["errors"][0];
    assert_eq!(error["category"], "OBJECT_NOT_FOUND");
    assert_eq!(error["context"]["ids"], json!(["999"]));
    assert_eq!(answer.body["numErrors"], 1);
    assert_eq!(
        h.prop("1", "jobtitle").as_deref(),
        Some("Chief Fake Officer")
    );
    assert_eq!(h.prop("1", "phone"), None, "an empty string clears");
    let bumped = h.prop("1", "lastmodifieddate");
    assert_ne!(bumped.as_deref(), Some("1000"));
    let again = json!({"inputs": [{"id": "1", "properties": {"jobtitle": "Chief Fake Officer"}}]});
    let noop = h.post(&format!("{CONTACTS}/batch/update"), again).await;
    assert_eq!(noop.status, StatusCode::OK);
    assert_eq!(
        h.prop("1", "lastmodifieddate"),
        bumped,
        "a no-op write does not bump"
    );
    let inputs: Vec<Value> = (1..=101)
        .map(|i| json!({"id": i.to_string(), "properties": {}}))
        .collect();
    let too_many = h
        .post(
            &format!("{CONTACTS}/batch/update"),
            json!({"inputs": inputs}),
        )
        .await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    let stats = h.fake.stats();
    assert_eq!(
        (
            stats.batch_updates,
            stats.items_updated,
            stats.items_changed
        ),
        (2, 2, 1)
    );
}

#[tokio::test]
async fn lifecycle_stage_only_moves_forward_unless_cleared_first() {
    let h = start(FakeConfig::default()).await;
    let id = h.fake.insert(props(&[
        ("email", "a@b.example"),
        ("lifecyclestage", "customer"),
    ]));
    let options = h.get("/crm/v3/properties/contacts/lifecyclestage").await;
    let order: Vec<&str> = options.body["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(order[..3], ["subscriber", "lead", "marketingqualifiedlead"]);
    assert_eq!(order[7], "other");
    let before = h.prop(&id, "lastmodifieddate");
    let backward = h.patch(&id, json!({"lifecyclestage": "lead"})).await;
    assert_eq!(backward.status, StatusCode::OK, "accepted...");
    assert_eq!(
        h.prop(&id, "lifecyclestage").as_deref(),
        Some("customer"),
        "...and ignored"
    );
    assert_eq!(h.prop(&id, "lastmodifieddate"), before);
    assert_eq!(
        h.patch(&id, json!({"lifecyclestage": ""})).await.status,
        StatusCode::OK
    );
    assert_eq!(h.prop(&id, "lifecyclestage"), None);
    assert_eq!(
        h.patch(&id, json!({"lifecyclestage": "lead"})).await.status,
        StatusCode::OK
    );
    assert_eq!(h.prop(&id, "lifecyclestage").as_deref(), Some("lead"));
    let read_only = h.patch(&id, json!({"lastmodifieddate": "1"})).await;
    assert_eq!(read_only.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_merged_id_answers_with_the_survivor_and_its_new_id() {
    let h = start(FakeConfig::default()).await;
    h.fake.seed(2, 9);
    let survivor = h.fake.merge("1", "2");
    assert!(survivor != "1" && survivor != "2");
    for old in ["1", "2"] {
        let read = h
            .get(&format!(
                "{CONTACTS}/{old}?properties=email,hs_merged_object_ids"
            ))
            .await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.body["id"], survivor.as_str());
        assert_eq!(read.body["properties"]["hs_merged_object_ids"], "1;2");
    }
    let batch = h
        .post(
            &format!("{CONTACTS}/batch/read"),
            json!({"inputs": [{"id": "1"}], "properties": ["email"]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK);
    assert_eq!(ids(&batch.body), vec![survivor.parse::<u64>().unwrap()]);
    let unknown = h
        .post(
            &format!("{CONTACTS}/batch/read"),
            json!({"inputs": [{"id": "1"}, {"id": "77"}]}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::MULTI_STATUS);
    assert_eq!(unknown.body["errors"][0]["context"]["ids"], json!(["77"]));
}

#[tokio::test]
async fn drop_after_apply_loses_the_answer_but_keeps_the_write() {
    let h = start(FakeConfig::default()).await;
    h.fake.seed(1, 1);
    h.fake.script(Fault::DropAfterApply { times: 1 });
    assert_eq!(
        h.get(&format!("{CONTACTS}/1")).await.status,
        StatusCode::OK,
        "reads pass"
    );
    let url = format!("{}{CONTACTS}/1", h.server.base_url);
    let lost = h
        .http
        .patch(&url)
        .bearer_auth(TOKEN)
        .json(&json!({"properties": {"company": "Dropped Inc"}}))
        .send()
        .await;
    assert!(lost.is_err(), "the client sees a transport error: {lost:?}");
    assert_eq!(h.prop("1", "company").as_deref(), Some("Dropped Inc"));
    assert_eq!(
        h.patch("1", json!({"company": "Next"})).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn server_errors_and_locks_are_answered_without_applying() {
    let h = start(FakeConfig::default()).await;
    h.fake.seed(1, 1);
    h.fake.script(Fault::ServerError {
        status: 503,
        times: 1,
    });
    h.fake.script(Fault::Locked { times: 1 });
    h.fake.script(Fault::Slow {
        delay: Duration::from_millis(50),
        times: 1,
    });
    let failed = h.patch("1", json!({"company": "A"})).await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(failed.body["status"], "error");
    assert!(failed.header("x-hubspot-ratelimit-max").is_some());
    let locked = h.patch("1", json!({"company": "B"})).await;
    assert_eq!(locked.status, StatusCode::LOCKED);
    assert_ne!(h.prop("1", "company").as_deref(), Some("A"));
    assert_ne!(h.prop("1", "company").as_deref(), Some("B"));
    let started = Instant::now();
    assert_eq!(
        h.patch("1", json!({"company": "C"})).await.status,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(h.prop("1", "company").as_deref(), Some("C"));
    assert_eq!(h.fake.stats().faults_injected, 3);
}

#[tokio::test]
async fn a_fresh_write_shows_up_in_search_only_after_the_lag() {
    let h = start(FakeConfig {
        search_lag: Duration::from_millis(200),
        ..FakeConfig::default()
    })
    .await;
    h.fake.seed(2, 1);
    let id = h.fake.insert(props(&[("email", "late@b.example")]));
    let by_email = json!({"filterGroups": [{"filters": [
        {"propertyName": "email", "operator": "EQ", "value": "LATE@b.example"}
    ]}]});
    assert_eq!(h.search(by_email.clone()).await.body["total"], 0);
    assert_eq!(
        h.search(json!({})).await.body["total"],
        2,
        "seeded contacts are indexed"
    );
    // On purpose: the search lag must pass for the write to be indexed.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let found = h.search(by_email).await;
    assert_eq!(found.body["results"][0]["id"], id.as_str());
}
