//! Overdue follow-ups: every `notify.check_interval` the daemon finds the persons overdue on a
//! commitment (the `leadsync_sla_overdue` metric), records each breach once, and posts it to
//! `notify.webhook`, retrying a refused one with backoff. A breach is taken by one replica at
//! a time and, once the webhook took it, never sent again — across restarts too: the store
//! keeps what was sent.

use super::telemetry;
use crate::config::NotifyConfig;
use crate::rules::{ClockState, Rules};
use crate::store::{Breach, Store, StoreError};
use chrono::{DateTime, Utc};
use leadsync_connector_core::Field;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A breach taken and not answered for this long goes to another sender (its own died).
const STALE: Duration = Duration::from_secs(300);
/// Breaches sent per turn at most.
const BATCH: usize = 50;
/// Retries back off to at most this.
const MAX_BACKOFF: Duration = Duration::from_secs(3_600);

pub(super) struct Notifier {
    last: Option<Instant>,
    client: reqwest::Client,
}

impl Notifier {
    pub(super) fn new() -> Notifier {
        Notifier {
            last: None,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client with a timeout builds"),
        }
    }

    /// A turn, when `check_interval` has passed since the last one: finds and records the
    /// breaches, then sends what is due.
    pub(super) async fn turn(
        &mut self,
        cfg: &NotifyConfig,
        rules: &Rules,
        store: &mut dyn Store,
    ) -> Result<(), StoreError> {
        let Some(follow_up) = rules.commitments() else {
            return Ok(());
        };
        if self.last.is_some_and(|t| t.elapsed() < cfg.check_interval) {
            return Ok(());
        }
        self.last = Some(Instant::now());
        let now = crate::clock::now();
        let mut breaches = Vec::new();
        let mut overdue: BTreeMap<(String, String), u64> = follow_up
            .slas
            .iter()
            .map(|s| ((s.name.clone(), s.tier.to_string()), 0))
            .collect();
        crate::report::visit_clocks(store, follow_up, now, &mut |person, clocks| {
            for clock in clocks.iter().filter(|c| c.state == ClockState::Overdue) {
                *overdue
                    .entry((clock.sla.clone(), clock.tier.to_string()))
                    .or_default() += 1;
                let Some(due_at) = clock.due_at else { continue };
                let who = person.display_name();
                let owner = follow_up.owner(person);
                let text = format!(
                    "{who} (person {}) reached {} on {} and was not followed up by {} ({} {}){}",
                    person.id,
                    clock.tier,
                    clock.reached_at.format("%Y-%m-%d %H:%M UTC"),
                    due_at.format("%Y-%m-%d %H:%M UTC"),
                    clock.sla,
                    clock.within,
                    owner.map_or(String::new(), |o| format!("; owner {o}"))
                );
                let payload = serde_json::json!({
                    "text": text,
                    "event": "sla_overdue",
                    "sla": clock.sla,
                    "tier": clock.tier,
                    "person": person.id,
                    "name": who,
                    "email": person.get(&Field::Email),
                    "owner": owner,
                    "reached_at": clock.reached_at,
                    "due_at": due_at,
                });
                breaches.push(Breach {
                    person: person.id,
                    sla: clock.sla.clone(),
                    due_at,
                    payload: payload.to_string(),
                    attempts: 0,
                });
            }
        })?;
        telemetry::record_overdue(&overdue);
        let Some(webhook) = &cfg.webhook else {
            return Ok(());
        };
        let added = store.add_breaches(&breaches, Utc::now())?;
        if added > 0 {
            tracing::info!(added, "Persons newly overdue on a follow-up commitment.");
        }
        loop {
            let sent_at = Utc::now();
            let stale_before = sent_at - chrono::Duration::from_std(STALE).unwrap_or_default();
            let taken = store.take_breaches(sent_at, stale_before, BATCH)?;
            if taken.is_empty() {
                return Ok(());
            }
            for breach in &taken {
                let outcome = self.send(webhook, &breach.payload).await;
                let retry_at = retry_at(cfg.retry_after, breach.attempts);
                if let Err(reason) = &outcome {
                    tracing::warn!(
                        person = breach.person,
                        sla = %breach.sla,
                        attempts = breach.attempts + 1,
                        retry_at = %retry_at,
                        reason = %reason,
                        "The webhook did not take an overdue notification; it is sent again later."
                    );
                }
                store.breach_outcome(
                    breach,
                    outcome.as_ref().map(|_| ()).map_err(String::as_str),
                    retry_at,
                    Utc::now(),
                )?;
            }
            if taken.len() < BATCH {
                return Ok(());
            }
        }
    }

    async fn send(&self, webhook: &str, payload: &str) -> Result<(), String> {
        let answer = self
            .client
            .post(webhook)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match answer.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("HTTP {s}")),
        }
    }
}

/// When a breach refused `attempts` times before is tried again: `retry_after`, doubled at each
/// try, at most an hour.
fn retry_at(retry_after: Duration, attempts: u32) -> DateTime<Utc> {
    let wait = retry_after
        .saturating_mul(2u32.saturating_pow(attempts.min(16)))
        .min(MAX_BACKOFF);
    Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()
}
