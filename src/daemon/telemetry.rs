//! Prometheus metrics. Names are constants here and only here.

use crate::pipeline::PushStats;
use crate::pipeline::{AnyConnector, Cycle};
use crate::store::Store;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError};

pub(super) const RECORDS_PULLED: &str = "leadsync_records_pulled_total";
pub(super) const REJECTS: &str = "leadsync_rejects_total";
pub(super) const TIER_CHANGES: &str = "leadsync_tier_changes_total";
pub(super) const PUSHES: &str = "leadsync_pushes_total";
pub(super) const CYCLES: &str = "leadsync_cycles_total";
pub(super) const CYCLE_SECONDS: &str = "leadsync_cycle_duration_seconds";
pub(super) const LAST_SUCCESS: &str = "leadsync_last_success_timestamp_seconds";
pub(super) const PERSONS: &str = "leadsync_persons";
pub(super) const PERSONS_BY_TIER: &str = "leadsync_persons_by_tier";
pub(super) const OUTBOX: &str = "leadsync_outbox_entries";
pub(super) const DEAD_LETTERS: &str = "leadsync_dead_letters";
/// CRM records whose stage a person lowered below the tier leadsync set, kept because the
/// connector respects downgrades (open findings).
pub(super) const DOWNGRADES_KEPT: &str = "leadsync_stage_downgrades_kept";
pub(super) const RATE_LIMITED: &str = "leadsync_rate_limited_total";
pub(super) const BUDGET_LEFT: &str = "leadsync_rate_budget_remaining";
pub(super) const DROPS_FAILED: &str = "leadsync_drops_failed_total";
pub(super) const DROPS_DUPLICATE: &str = "leadsync_drops_duplicate_total";
pub(super) const FILES_SKIPPED: &str = "leadsync_inbox_skipped_files";
/// 1 for each connector whose lease this replica holds (it pulls it), 0 for the others.
pub(super) const LEASE_HELD: &str = "leadsync_lease_held";
/// Persons overdue on each follow-up commitment now.
pub(super) const SLA_OVERDUE: &str = "leadsync_sla_overdue";

/// Persons overdue now, per commitment and its tier.
pub(super) fn record_overdue(overdue: &BTreeMap<(String, String), u64>) {
    for ((sla, tier), n) in overdue {
        gauge!(SLA_OVERDUE, "sla" => sla.clone(), "tier" => tier.clone()).set(*n as f64);
    }
}

/// Installs the process-wide recorder; `None` when one is installed already (then metrics
/// still flow to it, and `/metrics` answers 404).
pub(super) fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new().install_recorder().ok()
}

/// Records what a push turn did, the outbox's current depth, the dead letters, and each
/// connector's 429s and request budget.
pub(super) fn record_pushes(
    pushes: &[(String, Result<PushStats, String>)],
    store: &mut dyn Store,
    connectors: &[AnyConnector],
) {
    for (id, result) in pushes {
        if let Ok(p) = result {
            for (outcome, n) in [
                ("applied", p.applied),
                ("retry", p.retried),
                ("dead", p.dead),
            ] {
                counter!(PUSHES, "connector" => id.clone(), "outcome" => outcome).increment(n);
            }
        }
        if let Ok(counts) = store.outbox_counts(id) {
            for status in ["pending", "done", "dead", "kept"] {
                let n = counts.get(status).copied().unwrap_or(0);
                gauge!(OUTBOX, "connector" => id.clone(), "status" => status).set(n as f64);
            }
            let dead = counts.get("dead").copied().unwrap_or(0);
            gauge!(DEAD_LETTERS, "connector" => id.clone()).set(dead as f64);
            let kept = counts.get("kept").copied().unwrap_or(0);
            gauge!(DOWNGRADES_KEPT, "connector" => id.clone()).set(kept as f64);
        }
    }
    record_budgets(connectors);
}

/// Each connector's 429s (as a counter that survives the connector being rebuilt on reload)
/// and its request budget left, in the window and for the day.
pub(super) fn record_budgets(connectors: &[AnyConnector]) {
    static SEEN: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for c in connectors {
        let Some(budget) = c.rate_budget() else {
            continue;
        };
        let id = c.id().to_string();
        let before = seen.insert(id.clone(), budget.rate_limited).unwrap_or(0);
        // A rebuilt connector counts from 0 again: all it counted is new.
        let new = budget
            .rate_limited
            .checked_sub(before)
            .unwrap_or(budget.rate_limited);
        counter!(RATE_LIMITED, "connector" => id.clone()).increment(new);
        if let Some(left) = budget.window_remaining {
            gauge!(BUDGET_LEFT, "connector" => id.clone(), "window" => "rolling").set(left as f64);
        }
        if let Some(left) = budget.daily_remaining {
            gauge!(BUDGET_LEFT, "connector" => id.clone(), "window" => "daily").set(left as f64);
        }
    }
}

/// Records what a cycle did, the files each inbox skips, then the store's current totals.
pub(super) fn record(
    cycle: &Cycle,
    seconds: f64,
    store: &mut dyn Store,
    connectors: &[AnyConnector],
) {
    for run in &cycle.runs {
        let id = run.id.clone();
        counter!(RECORDS_PULLED, "connector" => id.clone()).increment(run.resolved.records);
        counter!(REJECTS, "connector" => id.clone()).increment(run.pulled.rejects);
        counter!(TIER_CHANGES, "connector" => id.clone()).increment(run.resolved.tier_changes);
        counter!(DROPS_FAILED, "connector" => id.clone()).increment(run.pulled.failed);
        counter!(DROPS_DUPLICATE, "connector" => id.clone()).increment(run.pulled.duplicates);
        let outcome = if run.failed() { "failed" } else { "ok" };
        counter!(CYCLES, "connector" => id.clone(), "outcome" => outcome).increment(1);
        histogram!(CYCLE_SECONDS, "connector" => id.clone()).record(seconds);
        if run.error.is_none() {
            gauge!(LAST_SUCCESS, "connector" => id.clone())
                .set(chrono::Utc::now().timestamp() as f64);
        }
    }
    for c in connectors {
        if let Some(inbox) = c.inbox_status() {
            gauge!(FILES_SKIPPED, "connector" => c.id().to_string())
                .set(inbox.skipped.len() as f64);
        }
    }
    if let Ok(n) = store.person_count() {
        gauge!(PERSONS).set(n as f64);
    }
    if let Ok(counts) = store.tier_counts() {
        // As the funnel counts them: persons in a side tier under it, not under their main tier.
        let ladder = leadsync_connector_core::Ladder::current();
        for tier in ladder.tiers() {
            gauge!(PERSONS_BY_TIER, "tier" => tier.as_str()).set(counts.at(tier) as f64);
        }
        for side in ladder.sides() {
            let n = counts.side.get(&side).copied().unwrap_or(0);
            gauge!(PERSONS_BY_TIER, "tier" => side.as_str()).set(n as f64);
        }
        gauge!(PERSONS_BY_TIER, "tier" => "unqualified")
            .set(counts.unqualified_apart_from_sides() as f64);
    }
}

/// Which connector leases this replica holds.
pub(super) fn record_leases(replica: &str, connectors: &[String], held: &[String]) {
    for id in connectors {
        let holds = held.contains(id);
        gauge!(LEASE_HELD, "lease" => super::cluster::connector_lease(id), "replica" => replica.to_string())
            .set(if holds { 1.0 } else { 0.0 });
    }
}
