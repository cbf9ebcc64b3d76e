use super::{Args, Failure, load_rules, load_settings};
use crate::config::Settings;
use crate::rules::Rules;
use crate::store;
use crate::store::Store;
use crate::sync::{AnyConnector, ConnectorRun, Cycle, run_once, select};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn run(args: &Args, once: bool, only: Option<&str>) -> Result<(), Failure> {
    if !once {
        return Err(Failure::usage(
            "`sync` runs one cycle and needs --once (the daemon is `leadsync run`)",
        ));
    }
    let settings = load_settings(args)?;
    let rules = load_rules(&settings, None)?;
    let mut connectors = select(&settings, only).map_err(Failure::usage)?;
    let mut store = store::open(&settings.store.url)?;
    let cycle = cycle_with_progress(
        &settings,
        store.as_mut(),
        &mut connectors,
        &rules,
        "syncing",
    )
    .await?;
    outln!("persons: {}", store.person_count()?);
    let failed: Vec<&str> = cycle
        .runs
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.id.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::runtime(format!(
            "connector(s) failed: {}",
            failed.join(", ")
        )))
    }
}

/// One cycle with a spinner on the terminal, then its summary printed.
pub(crate) async fn cycle_with_progress(
    settings: &Settings,
    store: &mut dyn Store,
    connectors: &mut [AnyConnector],
    rules: &Arc<Rules>,
    label: &str,
) -> Result<Cycle, Failure> {
    let bar = spinner();
    bar.set_message(label.to_string());
    let cycle = run_once(settings, store, connectors, rules, Some(&bar)).await?;
    bar.finish_and_clear();
    print_cycle(&cycle);
    Ok(cycle)
}

pub(crate) fn print_cycle(cycle: &Cycle) {
    for r in &cycle.runs {
        outln!("{}", summary(r));
    }
    for (id, result) in &cycle.pushes {
        match result {
            Ok(p) => outln!(
                "{id}: pushed {} stage(s), {} to retry, {} dead-lettered",
                p.applied,
                p.retried,
                p.dead
            ),
            Err(e) => outln!("{id}: push FAILED: {e}"),
        }
    }
    let q = &cycle.requalified;
    if q.evaluated > 0 {
        outln!(
            "re-qualified {} person(s) with rules {}: {} moved",
            q.evaluated,
            q.rules_version,
            q.moved()
        );
        for (kind, m) in &q.moves {
            outln!("  {kind}: {}", m.count);
        }
    }
}

/// A spinner on stderr; hidden when stderr is not a terminal.
pub(crate) fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("static template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

pub(crate) fn summary(r: &ConnectorRun) -> String {
    let p = &r.pulled;
    let mut line = format!(
        "{}: {} records ({} new persons, {} conflicts, {} tier changes), {} rejects, {} files, {} duplicates, {} failed files in {:.1}s",
        r.id,
        r.resolved.records,
        r.resolved.persons_created,
        r.resolved.conflicts,
        r.resolved.tier_changes,
        p.rejects,
        p.streams_finished,
        p.duplicates,
        p.failed,
        r.elapsed.as_secs_f64()
    );
    if let Some((_, e)) = &r.error {
        line.push_str(&format!(" — FAILED: {e}"));
    }
    line
}
