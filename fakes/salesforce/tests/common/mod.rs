//! The harness the end-to-end tests share: a fake org served on `127.0.0.1:0` and a real HTTP
//! client. Each test binary uses part of it.

#![allow(dead_code)]

use std::collections::BTreeMap;

use leadsync_fake_salesforce::{FakeConfig, FakeSalesforce, SObject, ServerHandle};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

pub(crate) const API: &str = "/services/data/v62.0";

pub(crate) struct Harness {
    pub(crate) fake: FakeSalesforce,
    pub(crate) server: ServerHandle,
    pub(crate) http: Client,
}

/// What came back: status, `Sforce-Limit-Info`, JSON body (Null if none).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) limit_info: Option<String>,
    pub(crate) body: Value,
}

pub(crate) async fn start(config: FakeConfig) -> Harness {
    let fake = FakeSalesforce::new(config);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Harness {
        fake,
        server,
        http: Client::new(),
    }
}

impl Harness {
    /// Posts the client-credentials form; returns status and body.
    pub(crate) async fn token_request(&self, id: &str, secret: &str) -> (StatusCode, Value) {
        let form = url_encode(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ]);
        let response = self
            .http
            .post(format!("{}/services/oauth2/token", self.server.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn token(&self) -> String {
        let config = self.fake.config().clone();
        let (status, body) = self
            .token_request(&config.client_id, &config.client_secret)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A GET of `path` (absolute on the server, e.g. a `nextRecordsUrl`) with optional `q`.
    pub(crate) async fn get(&self, token: &str, path: &str, q: Option<&str>) -> Answer {
        let mut request = self
            .http
            .get(format!("{}{path}", self.server.base_url))
            .bearer_auth(token);
        if let Some(q) = q {
            request = request.query(&[("q", q)]);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let limit_info = response
            .headers()
            .get("sforce-limit-info")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            limit_info,
            body,
        }
    }

    pub(crate) async fn query(&self, token: &str, soql: &str) -> Answer {
        self.get(token, &format!("{API}/query"), Some(soql)).await
    }

    /// Runs `soql` and follows `nextRecordsUrl` to the end; returns each batch's records.
    pub(crate) async fn query_all_batches(&self, token: &str, soql: &str) -> Vec<Vec<Value>> {
        let mut answer = self.query(token, soql).await;
        let mut batches = Vec::new();
        loop {
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            batches.push(answer.body["records"].as_array().unwrap().clone());
            if answer.body["done"] == json!(true) {
                assert!(answer.body.get("nextRecordsUrl").is_none());
                return batches;
            }
            let next = answer.body["nextRecordsUrl"].as_str().unwrap().to_owned();
            answer = self.get(token, &next, None).await;
        }
    }

    /// Runs `soql` on `/queryAll` (deleted rows included) and follows `nextRecordsUrl`.
    pub(crate) async fn query_all_rows(&self, token: &str, soql: &str) -> Vec<Value> {
        let mut answer = self
            .get(token, &format!("{API}/queryAll"), Some(soql))
            .await;
        let mut rows = Vec::new();
        loop {
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            rows.extend(answer.body["records"].as_array().unwrap().iter().cloned());
            let Some(next) = answer.body["nextRecordsUrl"].as_str().map(str::to_owned) else {
                return rows;
            };
            assert!(next.contains("/queryAll/"), "{next}");
            answer = self.get(token, &next, None).await;
        }
    }

    /// The records of a one-batch `/query`.
    pub(crate) async fn rows(&self, token: &str, soql: &str) -> Vec<Value> {
        let answer = self.query(token, soql).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["done"], json!(true));
        answer.body["records"].as_array().unwrap().clone()
    }

    /// A GET of a replication feed, `kind` = `updated` or `deleted`.
    pub(crate) async fn feed(
        &self,
        token: &str,
        object: &str,
        kind: &str,
        start: &str,
        end: &str,
    ) -> Answer {
        let response = self
            .http
            .get(format!(
                "{}{API}/sobjects/{object}/{kind}/",
                self.server.base_url
            ))
            .bearer_auth(token)
            .query(&[("start", start), ("end", end)])
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    /// A collections update with a raw body.
    pub(crate) async fn patch_raw(&self, token: &str, body: String) -> Answer {
        let response = self
            .http
            .patch(format!("{}{API}/composite/sobjects", self.server.base_url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    /// A collections update of `records` (`(type, id, field, value)`).
    pub(crate) async fn patch(
        &self,
        token: &str,
        all_or_none: bool,
        records: &[(&str, &str, &str, Value)],
    ) -> Answer {
        let records: Vec<Value> = records
            .iter()
            .map(|(object, id, field, value)| {
                let mut record = json!({ "attributes": { "type": object }, "id": id });
                record[*field] = value.clone();
                record
            })
            .collect();
        let body = json!({ "allOrNone": all_or_none, "records": records });
        self.patch_raw(token, body.to_string()).await
    }

    pub(crate) fn lead(&self, email: &str) -> String {
        let fields = BTreeMap::from([
            ("LastName".to_owned(), json!("Lovelace")),
            ("Email".to_owned(), json!(email)),
            ("Status".to_owned(), json!("Open - Not Contacted")),
        ]);
        self.fake.insert(SObject::Lead, fields)
    }
}

pub(crate) fn url_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25")
                    .replace('&', "%26")
                    .replace('+', "%2B")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn error_code(answer: &Answer) -> &str {
    answer.body[0]["errorCode"].as_str().unwrap_or("")
}

/// Reads status, `Sforce-Limit-Info` and the JSON body (Null if none).
pub(crate) async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let limit_info = response
        .headers()
        .get("sforce-limit-info")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        limit_info,
        body,
    }
}

/// A Salesforce datetime (`…+0000` or `…Z`) as a UTC instant.
pub(crate) fn instant(text: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = text
        .as_str()
        .unwrap_or_else(|| panic!("not a datetime: {text}"));
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .unwrap()
        .with_timezone(&chrono::Utc)
}
