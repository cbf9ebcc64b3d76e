use super::{Args, Failure, load_rules, load_settings};
use crate::report::{Funnel, FunnelBuilder, FunnelOptions, SlaBy, sla_report};

use chrono::NaiveDate;

/// `report funnel` options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FunnelArgs {
    /// Print one JSON object instead of tables.
    pub(crate) json: bool,
    /// `--by source`: the funnel (and cohorts) per source too.
    pub(crate) by_source: bool,
    /// `--since DATE`: cohort conversion of persons who reached a tier on or after DATE (UTC).
    pub(crate) since: Option<NaiveDate>,
}

pub(super) fn funnel(args: &Args, opts: FunnelArgs) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    let mut store = super::open_store(&settings)?;
    let funnel = if opts.by_source || opts.since.is_some() {
        // Needs the source and the tier history of every person: streamed, aggregated on the way.
        let mut builder = FunnelBuilder::new(FunnelOptions {
            by_source: opts.by_source,
            since: opts.since,
        });
        store.funnel_facts(&mut |fact| builder.add(&fact))?;
        builder.finish()
    } else {
        // Counts per tier are all the plain funnel needs: one grouped query.
        Funnel::from_counts(&store.tier_counts()?)
    };
    if opts.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&funnel).expect("funnel serialises")
        );
    } else {
        out!("{}", funnel.render());
    }
    Ok(())
}

/// `report sla`: where every follow-up commitment's clocks stand now.
pub(super) fn sla(args: &Args, json: bool, by: Option<&str>) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    let rules = load_rules(&settings, None)?;
    let follow_up = rules
        .commitments()
        .ok_or_else(|| {
            Failure::usage(format!(
                "{} has no follow-up commitments: add [[follow_up.sla]] tables (name, tier, within), see config/rules.toml",
                rules.source.name()
            ))
        })?;
    let by = match by {
        Some("owner") => Some(SlaBy::Owner),
        Some(_) => Some(SlaBy::Source),
        None => None,
    };
    let mut store = super::open_store(&settings)?;
    let report = sla_report(store.as_mut(), follow_up, by, crate::clock::now())?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialise")
        );
    } else {
        out!("{}", report.render());
    }
    Ok(())
}
