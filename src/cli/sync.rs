use super::{Args, Failure, load_settings};
use crate::store;
use crate::sync::{ConnectorRun, run_once, select};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

pub(super) async fn run(args: &Args, once: bool, only: Option<&str>) -> Result<(), Failure> {
    if !once {
        return Err(Failure::usage(
            "`sync` runs one cycle and needs --once (the daemon is `leadsync run`)",
        ));
    }
    let settings = load_settings(args)?;
    let mut connectors = select(&settings, only).map_err(Failure::usage)?;
    let mut store = store::open(&settings.store.url)?;
    let bar = spinner();
    let runs = run_once(&settings, store.as_mut(), &mut connectors, Some(&bar)).await?;
    bar.finish_and_clear();
    for r in &runs {
        println!("{}", summary(r));
    }
    println!("persons: {}", store.person_count()?);
    let failed: Vec<&str> = runs
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
        "{}: {} records ({} new persons, {} conflicts), {} rejects, {} files, {} duplicates, {} failed files in {:.1}s",
        r.id,
        r.resolved.records,
        r.resolved.persons_created,
        r.resolved.conflicts,
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
