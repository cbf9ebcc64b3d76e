use super::{Args, Failure, load_rules, load_settings};
use crate::pipeline;
use std::path::Path;

/// A dry run: what the next cycle's re-qualification would do with these rules. Writes nothing.
pub(super) fn run(
    args: &Args,
    rules_file: Option<&Path>,
    json: bool,
    sample: usize,
) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    // The ladder the store stands on, before the rules previewed bring theirs.
    let before = leadsync_connector_core::Ladder::current();
    let rules = load_rules(&settings, rules_file)?;
    let mut store = super::open_store(&settings)?;
    let ladder = super::check_ladder(store.as_mut(), Some(before))?;
    let targets = pipeline::push_targets(&settings);
    let mut plan = pipeline::requalify(
        store.as_mut(),
        &rules,
        &targets,
        crate::clock::now(),
        true,
        sample,
        // Everyone: with the configured rules, the moves time alone has brought about since the
        // last pass; with another file, what that file would change.
        true,
    )?;
    plan.downgrades_kept = pipeline::kept_downgrades(store.as_mut(), &targets, sample)?;
    plan.ladder = ladder;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&plan).expect("plans serialise")
        );
    } else {
        outln!("rules: {} ({})", rules.source.name(), rules.version);
        out!("{}", plan.render());
    }
    Ok(())
}
