//! The HTTP side: a token on every request (renewed on a 401), the allocation checked before
//! and read after every attempt, a cap on requests in flight, and retries as
//! [`crate::retry::classify`] decides, in the attempt loop shared with every CRM client
//! (`leadsync-pacing`).

use crate::auth::{Auth, Credentials, Token};
use crate::budget::Budget;
use crate::config::SalesforceConfig;
use crate::error::ApiError;
use crate::retry::{Next, classify};
use crate::wire::{self, CollectionUpdate, LeadStatusValue, QueryPage, SaveResult, UpdateRecord};
use leadsync_pacing::{Attempts, GaveUp, Retry};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The batch size asked of queries (a hint: the org chooses).
const BATCH_SIZE_HINT: &str = "batchSize=2000";

/// What to do when a request's answer is lost (the connection failed after sending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lost {
    /// Send it again: a read.
    Resend,
    /// Return the error: a write may have landed, and only a read tells.
    Report,
}

pub(crate) struct Client {
    http: reqwest::Client,
    /// `{instance_url}` without a trailing slash: `nextRecordsUrl` paths are joined to it.
    instance: String,
    /// `{instance_url}/services/data/vNN.0/`.
    data: url::Url,
    auth: Auth,
    budget: Budget,
    /// Rate-limit answers (403 `REQUEST_LIMIT_EXCEEDED`) received.
    rate_limited: AtomicU64,
}

impl Client {
    pub(crate) fn new(cfg: &SalesforceConfig, credentials: Credentials) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            auth: Auth::new(http.clone(), cfg.token_url(), credentials),
            http,
            instance: cfg.instance_url.as_str().trim_end_matches('/').to_string(),
            data: cfg.data_url(),
            budget: Budget::new(cfg.rate_limit.daily_reserve),
            rate_limited: AtomicU64::new(0),
        })
    }

    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    pub(crate) fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// The first batch of a SOQL query; `all` reads deleted and merged rows too (`queryAll`).
    pub(crate) async fn query<T: DeserializeOwned>(
        &self,
        what: &str,
        soql: &str,
        all: bool,
    ) -> Result<QueryPage<T>, ApiError> {
        let url = self
            .data
            .join(if all { "queryAll" } else { "query" })
            .expect("a relative path joins");
        self.send(what, Lost::Resend, || {
            self.http
                .get(url.clone())
                .query(&[("q", soql)])
                .header("Sforce-Query-Options", BATCH_SIZE_HINT)
        })
        .await
    }

    /// The next batch of a query, following `nextRecordsUrl` verbatim.
    pub(crate) async fn next_batch<T: DeserializeOwned>(
        &self,
        what: &str,
        locator: &str,
    ) -> Result<QueryPage<T>, ApiError> {
        let url = format!("{}{locator}", self.instance);
        self.send(what, Lost::Resend, || {
            self.http
                .get(&url)
                .header("Sforce-Query-Options", BATCH_SIZE_HINT)
        })
        .await
    }

    /// Every row of a (small) query, all batches.
    pub(crate) async fn query_all_batches<T: DeserializeOwned>(
        &self,
        what: &str,
        soql: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut page: QueryPage<T> = self.query(what, soql, false).await?;
        let mut rows = std::mem::take(&mut page.records);
        while let Some(next) = page.next().map(str::to_string) {
            page = self.next_batch(what, &next).await?;
            rows.append(&mut page.records);
        }
        Ok(rows)
    }

    /// The org's Lead `Status` picklist.
    pub(crate) async fn lead_statuses(&self) -> Result<Vec<LeadStatusValue>, ApiError> {
        self.query_all_batches(
            "the LeadStatus query",
            "SELECT ApiName, MasterLabel, SortOrder, IsConverted, IsDefault FROM LeadStatus",
        )
        .await
    }

    /// One sObject collections update (`allOrNone: false`) of at most 200 records: one result
    /// per record, in order.
    pub(crate) async fn update(
        &self,
        records: Vec<UpdateRecord>,
    ) -> Result<Vec<SaveResult>, ApiError> {
        debug_assert!(records.len() <= wire::MAX_COLLECTION);
        let url = self
            .data
            .join("composite/sobjects")
            .expect("a relative path joins");
        let body = CollectionUpdate::each(records);
        // A write whose answer was lost is not sent again blind: the caller reads what landed.
        self.send("a collections update", Lost::Report, || {
            self.http.patch(url.clone()).json(&body)
        })
        .await
    }

    /// A token, then one lead read: the health check.
    pub(crate) async fn check(&self) -> Result<(), ApiError> {
        let _: QueryPage<serde_json::Value> = self
            .query("the health check", "SELECT Id FROM Lead LIMIT 1", false)
            .await?;
        Ok(())
    }

    async fn send<T: DeserializeOwned>(
        &self,
        what: &str,
        lost: Lost,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let request = &request;
        let attempt = move || async move {
            self.budget.check()?;
            let _slot = self.budget.slot().await;
            let mut token = self.auth.token().await?;
            let mut renewed = false;
            loop {
                match self.once(what, request, &token).await {
                    // An expired session: one new token, then the same request again.
                    Err((ApiError::Status { .. }, Some(Next::RefreshToken))) if !renewed => {
                        token = self.auth.renew(&token).await?;
                        renewed = true;
                    }
                    Err((e, _)) => return Err(e),
                    Ok(answer) => return Ok(answer),
                }
            }
        };
        let decide = |error: &ApiError| match error {
            ApiError::Status {
                status,
                code,
                message,
                ..
            } => {
                let body = code.as_ref().map(|c| wire::ApiError {
                    error_code: c.clone(),
                    message: message.clone(),
                    fields: Vec::new(),
                });
                match classify(*status, body.as_ref()) {
                    Next::Pace(retry) => retry,
                    // A token renewed just now was refused again: the app's access is gone.
                    Next::RefreshToken => Retry::Never,
                }
            }
            ApiError::Transport { .. } => match lost {
                Lost::Resend => Retry::Backoff,
                Lost::Report => Retry::Never,
            },
            ApiError::Credentials { .. }
            | ApiError::Decode { .. }
            | ApiError::Allocation { .. } => Retry::Never,
        };
        Attempts::default()
            .run(what, attempt, decide)
            .await
            .map_err(|gave_up| match gave_up {
                GaveUp::Failed(e) => e,
                GaveUp::StopForToday(_) => ApiError::Allocation {
                    until: self.budget.exhausted(),
                },
            })
    }

    /// One attempt with one token; a failed answer comes with what it asks for.
    async fn once<T: DeserializeOwned>(
        &self,
        what: &str,
        request: &impl Fn() -> reqwest::RequestBuilder,
        token: &Token,
    ) -> Result<T, (ApiError, Option<Next>)> {
        let response = request()
            .bearer_auth(token.value.expose_secret())
            .send()
            .await
            .map_err(|source| {
                let e = ApiError::Transport {
                    what: what.into(),
                    source,
                };
                (e, None)
            })?;
        self.budget.observe(response.headers());
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|source| {
            let e = ApiError::Transport {
                what: what.into(),
                source,
            };
            (e, None)
        })?;
        if (200..300).contains(&status) {
            let text = std::str::from_utf8(&body).map_err(|e| {
                let message = format!("the answer is not UTF-8: {e}");
                (
                    ApiError::Decode {
                        what: what.into(),
                        message,
                    },
                    None,
                )
            })?;
            return serde_json::from_str(text).map_err(|e| {
                let message = e.to_string();
                (
                    ApiError::Decode {
                        what: what.into(),
                        message,
                    },
                    None,
                )
            });
        }
        let error = wire::first_error(&body);
        let next = classify(status, error.as_ref());
        if matches!(next, Next::Pace(Retry::After(_) | Retry::StopForToday)) {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        let (code, message) = match error {
            Some(e) => (Some(e.error_code), e.message),
            None => (
                None,
                String::from_utf8_lossy(&body).chars().take(200).collect(),
            ),
        };
        Err((
            ApiError::Status {
                what: what.into(),
                status,
                code,
                message,
            },
            Some(next),
        ))
    }
}
