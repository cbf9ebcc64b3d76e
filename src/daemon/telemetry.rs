//! Prometheus metrics. Names are constants here and only here.

use crate::store::Store;
use crate::sync::Cycle;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

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

/// Installs the process-wide recorder; `None` when one is installed already (then metrics
/// still flow to it, and `/metrics` answers 404).
pub(super) fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new().install_recorder().ok()
}

/// Records what a cycle did, then the store's current totals.
pub(super) fn record(cycle: &Cycle, seconds: f64, store: &mut dyn Store) {
    for run in &cycle.runs {
        let id = run.id.clone();
        counter!(RECORDS_PULLED, "connector" => id.clone()).increment(run.resolved.records);
        counter!(REJECTS, "connector" => id.clone()).increment(run.pulled.rejects);
        counter!(TIER_CHANGES, "connector" => id.clone()).increment(run.resolved.tier_changes);
        let outcome = if run.error.is_some() { "failed" } else { "ok" };
        counter!(CYCLES, "connector" => id.clone(), "outcome" => outcome).increment(1);
        histogram!(CYCLE_SECONDS, "connector" => id.clone()).record(seconds);
        if run.error.is_none() {
            gauge!(LAST_SUCCESS, "connector" => id.clone())
                .set(chrono::Utc::now().timestamp() as f64);
        }
    }
    for (id, result) in &cycle.pushes {
        if let Ok(p) = result {
            counter!(PUSHES, "connector" => id.clone(), "outcome" => "applied")
                .increment(p.applied);
            counter!(PUSHES, "connector" => id.clone(), "outcome" => "retry").increment(p.retried);
            counter!(PUSHES, "connector" => id.clone(), "outcome" => "dead").increment(p.dead);
        }
        if let Ok(counts) = store.outbox_counts(id) {
            for (status, n) in counts {
                gauge!(OUTBOX, "connector" => id.clone(), "status" => status).set(n as f64);
            }
        }
    }
    if let Ok(n) = store.person_count() {
        gauge!(PERSONS).set(n as f64);
    }
    if let Ok(counts) = store.tier_counts() {
        for tier in leadsync_connector_core::Tier::ALL {
            let n = counts.tiers.get(&tier).copied().unwrap_or(0);
            gauge!(PERSONS_BY_TIER, "tier" => tier.as_str()).set(n as f64);
        }
        gauge!(PERSONS_BY_TIER, "tier" => "unqualified").set(counts.unqualified as f64);
    }
}
