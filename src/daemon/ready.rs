//! Readiness as the daemon saw it: whether each connector's last run failed. Kept in memory so
//! that `/readyz` answers at once, whatever the store is busy with: it never waits behind the
//! API's queries (a status at 300,000 persons, a wide explain lookup) for the store.

use crate::store::RunSummary;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Clone, Default)]
pub(super) struct Readiness(Arc<Mutex<BTreeMap<String, bool>>>);

impl Readiness {
    /// Starts from the newest runs the store holds (newest first), so that a connector whose
    /// last run failed before a restart is not ready until a run of it succeeds. A run that
    /// never finished (a crash) or was left to another run counts as no failure.
    pub(super) fn from_runs(runs: &[RunSummary]) -> Self {
        let mut last = BTreeMap::new();
        for run in runs {
            let ok = run.stats.as_ref().is_none_or(|s| s.status != "failed");
            last.entry(run.connector.clone()).or_insert(ok);
        }
        Readiness(Arc::new(Mutex::new(last)))
    }

    /// Records how a connector's run ended.
    pub(super) fn record(&self, connector: &str, ok: bool) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connector.to_string(), ok);
    }

    /// The connectors among `current` whose last run failed, in id order.
    pub(super) fn failing<'a>(&self, current: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut failing: Vec<String> = current
            .into_iter()
            .filter(|id| last.get(*id) == Some(&false))
            .map(str::to_string)
            .collect();
        failing.sort();
        failing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunStats;

    fn run(connector: &str, status: Option<&str>) -> RunSummary {
        RunSummary {
            id: 0,
            connector: connector.into(),
            started_at: chrono::Utc::now(),
            finished_at: None,
            stats: status.map(|s| RunStats {
                status: s.into(),
                ..RunStats::default()
            }),
        }
    }

    #[test]
    fn the_newest_run_of_each_connector_decides_and_removed_connectors_do_not_count() {
        // GIVEN stored runs, newest first: `a` failed last, `b` failed before its last success,
        // `c` never finished its last run, `gone` failed but is no longer configured
        let ready = Readiness::from_runs(&[
            run("a", Some("failed")),
            run("b", Some("ok")),
            run("c", None),
            run("b", Some("failed")),
            run("gone", Some("failed")),
        ]);
        assert_eq!(ready.failing(["a", "b", "c"]), ["a"]);
        // WHEN `a` succeeds and `c` fails
        ready.record("a", true);
        ready.record("c", false);
        // THEN only `c` fails
        assert_eq!(ready.failing(["c", "a", "b"]), ["c"]);
    }
}
