use super::{Args, Failure, load_rules, load_settings};
use crate::config;
use crate::pipeline::select;
use leadsync_connector_core::ConnectorErrorKind;

/// Config, store and connectors, in that order; each check printed as it passes.
pub(super) async fn run(args: &Args) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    outln!("config: ok ({} connector(s))", settings.connectors.len());
    // `run` refuses a secret it cannot read, so validate reads them all first.
    match config::resolve_secrets(&settings) {
        Ok(n) => outln!("secrets: ok ({n} read)"),
        Err(problems) => {
            for p in &problems {
                outln!("secrets: FAILED: {p}");
            }
            let path = config::config_path(args.config.as_deref());
            return Err(Failure::usage(format!(
                "config file {}: {}",
                path.display(),
                problems.join("; ")
            )));
        }
    }
    let rules = load_rules(&settings, None)?;
    outln!(
        "rules: ok ({}, version {}, {} tier rules)",
        rules.source.name(),
        rules.version,
        rules.tier_rules().count()
    );
    let mut store = super::open_store(&settings)?;
    outln!(
        "store: ok ({}, schema version {}, {} persons)",
        settings.store.url,
        store.schema_version()?,
        store.person_count()?
    );
    let moves = match super::check_ladder(store.as_mut(), None) {
        Ok(moves) => moves,
        Err(f) => {
            outln!("ladder: FAILED");
            return Err(f);
        }
    };
    let ladder = leadsync_connector_core::Ladder::current();
    outln!(
        "ladder: ok ({}{})",
        ladder.names().collect::<Vec<_>>().join(", "),
        moves
            .iter()
            .map(|m| format!("; stored `{}` counts as `{}`", m.name, m.now))
            .collect::<String>()
    );
    let connectors = select(&settings, None).map_err(Failure::usage)?;
    let mut worst: Option<Failure> = None;
    for c in &connectors {
        match c.health().await {
            Ok(h) => outln!("connector {}: ok ({})", c.id(), h.detail),
            Err(e) => {
                outln!("connector {}: FAILED: {e}", c.id());
                let code = if e.kind == ConnectorErrorKind::Config {
                    2
                } else {
                    1
                };
                if worst.as_ref().is_none_or(|w| w.code < code) {
                    worst = Some(Failure {
                        code,
                        message: e.to_string(),
                    });
                }
            }
        }
    }
    match worst {
        Some(f) => Err(f),
        None => Ok(()),
    }
}
