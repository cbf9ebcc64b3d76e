//! The HTTP side: authenticated requests, a rate-limit permit before every attempt (retries
//! included), and retries as `retry::classify` decides (the shared
//! mechanics are `leadsync-pacing`'s).

use crate::budget::Budget;
use crate::config::HubspotConfig;
use crate::error::ApiError;
use crate::retry::classify;
use crate::wire::{BatchAnswer, BatchError, ErrorBody, Page, Search, StageOption, StageProperty};
use leadsync_pacing::{Attempts, GaveUp, Permits, Retry, SharedPace};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::time::Duration;

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    General,
    Search,
}

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: SecretString,
    window: Duration,
    /// Non-search requests: follows HubSpot's rate-limit headers.
    general: Budget,
    /// Search has its own limit, and no headers.
    search: Permits,
    /// 429 answers received, whatever the limit that gave them.
    rate_limited: std::sync::atomic::AtomicU64,
}

impl Client {
    pub(crate) fn new(cfg: &HubspotConfig, token: SecretString) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let base = format!(
            "{}/{}",
            cfg.base_url.as_str().trim_end_matches('/'),
            cfg.path_prefix.trim_matches('/')
        );
        let r = &cfg.rate_limit;
        Ok(Client {
            http,
            base,
            token,
            window: r.window,
            general: Budget::new(r.requests_per_window, r.window, r.daily_reserve, r.zone()?),
            search: Permits::new(r.search_per_second, Duration::from_secs(1)),
            rate_limited: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// One page of the list endpoint (up to 100 contacts, by id).
    pub(crate) async fn list(
        &self,
        after: Option<&str>,
        properties: &[String],
        archived: bool,
    ) -> Result<Page, ApiError> {
        let url = format!("{}/objects/contacts", self.base);
        let mut query = vec![
            ("limit", "100".to_string()),
            ("properties", properties.join(",")),
            ("archived", archived.to_string()),
        ];
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        self.send(Lane::General, "a contacts list page", || {
            self.http.get(&url).query(&query)
        })
        .await
    }

    /// One page of search.
    pub(crate) async fn search(&self, body: &Search) -> Result<Page, ApiError> {
        let url = format!("{}/objects/contacts/search", self.base);
        self.send(Lane::Search, "a contacts search", || {
            self.http.post(&url).json(body)
        })
        .await
    }

    /// Sets `lifecyclestage` on up to 100 contacts; answers the per-item errors of a 207.
    pub(crate) async fn batch_update_stage(
        &self,
        inputs: &[(String, String)],
    ) -> Result<Vec<BatchError>, ApiError> {
        let url = format!("{}/objects/contacts/batch/update", self.base);
        let body = serde_json::json!({
            "inputs": inputs
                .iter()
                .map(|(id, stage)| serde_json::json!({"id": id, "properties": {"lifecyclestage": stage}}))
                .collect::<Vec<_>>()
        });
        let answer: BatchAnswer = self
            .send(Lane::General, "a stage batch update", || {
                self.http.post(&url).json(&body)
            })
            .await?;
        Ok(answer.errors)
    }

    /// The current lifecycle stage of each contact (`""` when unset), by the id asked for; a
    /// contact that was merged away or deleted is absent.
    pub(crate) async fn batch_read_stages(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, String>, ApiError> {
        let url = format!("{}/objects/contacts/batch/read", self.base);
        let body = serde_json::json!({
            "properties": ["lifecyclestage"],
            "inputs": ids.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>(),
        });
        let answer: Page = self
            .send(Lane::General, "a stage batch read", || {
                self.http.post(&url).json(&body)
            })
            .await?;
        Ok(answer
            .results
            .into_iter()
            .map(|c| {
                let stage = c
                    .properties
                    .get("lifecyclestage")
                    .unwrap_or_default()
                    .to_string();
                (c.id, stage)
            })
            .collect())
    }

    /// 429 answers received so far.
    pub(crate) fn rate_limited(&self) -> u64 {
        self.rate_limited.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes the requests' slots from the account's shared paces (replicas): `general` for the
    /// rolling window, `search` for the searches' own per-second limit.
    pub(crate) fn share_pace(
        &self,
        general: std::sync::Arc<dyn SharedPace>,
        search: std::sync::Arc<dyn SharedPace>,
    ) {
        self.general.share_pace(general);
        self.search.share(search);
    }

    pub(crate) fn budget(&self) -> &Budget {
        &self.general
    }

    /// The lifecycle stage options of the account, in its own order.
    pub(crate) async fn stage_options(&self) -> Result<Vec<StageOption>, ApiError> {
        let url = format!("{}/properties/contacts/lifecyclestage", self.base);
        let property: StageProperty = self
            .send(Lane::General, "the lifecycle stage property", || {
                self.http.get(&url)
            })
            .await?;
        let mut options = property.options;
        options.sort_by_key(|o| o.display_order);
        Ok(options)
    }

    /// One authenticated one-record read: the health check.
    pub(crate) async fn check(&self) -> Result<(), ApiError> {
        let url = format!("{}/objects/contacts", self.base);
        let _: Page = self
            .send(Lane::General, "the health check", || {
                self.http.get(&url).query(&[("limit", "1")])
            })
            .await?;
        Ok(())
    }

    async fn send<T: DeserializeOwned>(
        &self,
        lane: Lane,
        what: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let request = &request;
        let attempt = move || async move {
            // Every attempt, retries included, takes a permit first.
            match lane {
                Lane::General => self.general.permit().await?,
                Lane::Search => {
                    self.general.check_daily()?;
                    self.search.acquire().await
                }
            }
            let answer = request()
                .bearer_auth(self.token.expose_secret())
                .send()
                .await;
            if let (Lane::General, Ok(response)) = (lane, &answer) {
                self.general.observe(response.headers());
            }
            match answer {
                Ok(response) if response.status().is_success() => decode(what, response).await,
                Ok(response) => {
                    if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
                        self.rate_limited
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(status_error(what, response).await)
                }
                Err(source) => Err(ApiError::Transport {
                    what: what.into(),
                    source,
                }),
            }
        };
        let decide = |error: &ApiError| match error {
            ApiError::Status {
                status,
                policy,
                retry_after,
                ..
            } => classify(*status, policy.as_deref(), *retry_after, self.window),
            ApiError::Transport { .. } => Retry::Backoff,
            ApiError::Decode { .. } | ApiError::DailyBudget => Retry::Never,
        };
        Attempts::default()
            .run(what, attempt, decide)
            .await
            .map_err(|gave_up| match gave_up {
                GaveUp::Failed(e) => e,
                GaveUp::StopForToday(_) => ApiError::DailyBudget,
            })
    }
}

/// The body of a successful answer as `T`. The body is checked to be UTF-8 once, as a whole
/// (word at a time), and then parsed as text: parsed from bytes, serde_json checks every string
/// on its own, which was a tenth of decoding a page.
async fn decode<T: DeserializeOwned>(
    what: &str,
    response: reqwest::Response,
) -> Result<T, ApiError> {
    let failed = |message: String| ApiError::Decode {
        what: what.into(),
        message,
    };
    let body = response.bytes().await.map_err(|e| failed(e.to_string()))?;
    let text =
        std::str::from_utf8(&body).map_err(|e| failed(format!("the answer is not UTF-8: {e}")))?;
    serde_json::from_str(text).map_err(|e| failed(e.to_string()))
}

async fn status_error(what: &str, response: reqwest::Response) -> ApiError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().await.unwrap_or_default();
    let parsed: Option<ErrorBody> = serde_json::from_str(&body).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.message.clone())
        .unwrap_or_else(|| body.chars().take(200).collect());
    ApiError::Status {
        what: what.into(),
        status,
        message,
        policy: parsed.and_then(|b| b.policy_name),
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every connection with `200 OK` and `body`; returns the base URL.
    async fn answering(body: &'static [u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = vec![0u8; 8192];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
            }
        });
        format!("http://{addr}")
    }

    async fn stages_from(body: &'static [u8]) -> Result<Vec<StageOption>, ApiError> {
        let cfg: HubspotConfig = toml::from_str(&format!(
            "base_url = \"{}\"\ntoken = {{ env = \"LEADSYNC_TEST_UNUSED\" }}",
            answering(body).await
        ))
        .unwrap();
        let client = Client::new(&cfg, SecretString::from("pat-test".to_string())).unwrap();
        client.stage_options().await
    }

    #[tokio::test]
    async fn an_answer_that_is_not_utf8_or_not_the_expected_json_is_a_decode_error() {
        let not_utf8 = stages_from(b"{\"options\": [{\"value\": \"\xff\"}]}").await;
        match not_utf8 {
            Err(ApiError::Decode { what, message }) => {
                assert_eq!(what, "the lifecycle stage property");
                assert!(message.contains("not UTF-8"), "{message}");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        let not_json = stages_from(b"{\"options\": [").await;
        assert!(
            matches!(&not_json, Err(ApiError::Decode { message, .. }) if message.contains("EOF")),
            "{not_json:?}"
        );
        let good = stages_from(br#"{"options": [{"value": "lead", "displayOrder": 1}]}"#).await;
        assert_eq!(good.unwrap()[0].value, "lead");
    }
}
