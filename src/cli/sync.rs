use super::{Args, Failure, load_rules, load_settings};
use crate::config::Settings;
use crate::pipeline::{AnyConnector, ConnectorRun, Cycle, run_once, select};
use crate::rules::Rules;

use crate::store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) async fn run(args: &Args, once: bool, only: Option<&str>) -> Result<(), Failure> {
    if !once {
        return Err(Failure::usage(
            "`sync` runs one cycle and needs --once (the daemon is `leadsync run`)",
        ));
    }
    let settings = load_settings(args)?;
    let rules = load_rules(&settings, None)?;
    let mut connectors = select(&settings, only).map_err(Failure::usage)?;
    let mut store = super::open_store(&settings)?;
    super::check_ladder(store.as_mut(), None)?;
    let cycle = cycle_with_progress(
        &settings,
        store.as_mut(),
        &mut connectors,
        &rules,
        "syncing",
    )
    .await?;
    let mut failed: Vec<String> = cycle
        .runs
        .iter()
        .filter(|r| r.failed())
        .map(|r| r.id.clone())
        .collect();
    // A drop still being written when the pass looked: wait for it to settle, as long as
    // the longest settle wait allows, and take it in a pass of its own connector.
    let deadline = Instant::now() + settle_wait(&settings);
    let mut runs = cycle.runs;
    loop {
        let waiting: Vec<(&str, Duration)> = runs
            .iter()
            .filter_map(|r| r.pulled.recheck_after.map(|a| (r.id.as_str(), a)))
            .collect();
        let Some(after) = waiting.iter().map(|(_, a)| *a).min() else {
            break;
        };
        let ids: Vec<String> = waiting.iter().map(|(id, _)| id.to_string()).collect();
        if Instant::now() + after > deadline {
            for id in &ids {
                outln!(
                    "{id}: a file is still being written; it stays in the inbox for the next run"
                );
            }
            break;
        }
        for id in &ids {
            outln!(
                "{id}: a file is still being written; waiting {:.1}s for it to settle",
                after.as_secs_f64()
            );
        }
        tokio::time::sleep(after).await;
        let mut again: Vec<AnyConnector> = std::mem::take(&mut connectors)
            .into_iter()
            .filter(|c| ids.iter().any(|id| id == c.id()))
            .collect();
        let cycle =
            cycle_with_progress(&settings, store.as_mut(), &mut again, &rules, "syncing").await?;
        failed.extend(
            cycle
                .runs
                .iter()
                .filter(|r| r.failed())
                .map(|r| r.id.clone()),
        );
        runs = cycle.runs;
        connectors = again;
    }
    outln!("persons: {}", store.person_count()?);
    if failed.is_empty() {
        Ok(())
    } else {
        failed.dedup();
        Err(Failure::runtime(format!(
            "connector(s) failed: {}",
            failed.join(", ")
        )))
    }
}

/// How long `sync --once` waits for drops still being written: ten times the longest
/// `settle`, at least 30 s.
fn settle_wait(settings: &Settings) -> Duration {
    settings
        .connectors
        .values()
        .filter_map(|c| match c {
            crate::config::ConnectorConfig::Spreadsheet(s) => Some(s.settle * 10),
            _ => None,
        })
        .max()
        .unwrap_or_default()
        .max(Duration::from_secs(30))
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
        "{}: {} records ({} new persons, {} conflicts, {} tier changes), {} rejects, {} files, {} duplicates, {} failed files, {} skipped files in {:.1}s",
        r.id,
        r.resolved.records,
        r.resolved.persons_created,
        r.resolved.conflicts,
        r.resolved.tier_changes,
        p.rejects,
        p.streams_finished,
        p.duplicates,
        p.failed,
        p.skipped,
        r.elapsed.as_secs_f64()
    );
    match &r.error {
        Some((_, e)) if r.failed() => line.push_str(&format!(" — FAILED: {e}")),
        Some((_, e)) => line.push_str(&format!(" — skipped: {e}")),
        None => {}
    }
    line
}
