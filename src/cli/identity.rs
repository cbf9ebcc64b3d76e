//! `identity train`, `review …` and `export links`: probabilistic matching's commands.

use super::{Args, Failure, load_rules, load_settings};
use crate::pipeline::matcher::{self, Matcher};
use crate::pipeline::{PageIngest, crm_id_columns, push_targets};
use crate::store::{ReviewItem, ReviewStatus, Store};
use leadsync_connector_core::Locator;
use std::collections::HashMap;

fn ingest(args: &Args) -> Result<(crate::config::Settings, PageIngest), Failure> {
    let settings = load_settings(args)?;
    let rules = load_rules(&settings, None)?;
    let ingest = PageIngest::new(&settings.identity, &settings.merge, rules)
        .with_push_targets(push_targets(&settings))
        .with_crm_ids(crm_id_columns(&settings));
    Ok((settings, ingest))
}

/// `identity train`: estimates the weights on the stored persons, stores the model, then
/// matches every stored person with it.
pub(super) fn train(args: &Args) -> Result<(), Failure> {
    let (settings, ingest) = ingest(args)?;
    let cfg = &settings.identity.matching;
    if !cfg.enabled {
        return Err(Failure::usage(
            "matching is off: set `enabled = true` under [identity.matching] first",
        ));
    }
    let mut store = super::open_store(&settings)?;
    let (version, stored) =
        matcher::train(cfg, ingest.resolver(), store.as_mut(), crate::clock::now())?;
    outln!(
        "model {version} trained on {} persons; prior {:.6}",
        stored.trained_on,
        stored.model.prior
    );
    for f in &stored.model.fields {
        let weights: Vec<String> = (0..f.m.len())
            .map(|l| format!("{:+.1}", f.weight(l)))
            .collect();
        outln!(
            "  {:<20} {:?}: {}",
            f.field,
            f.comparator,
            weights.join(" ")
        );
    }
    let matcher = Matcher::with_model(cfg, stored.model, version)
        .ok_or_else(|| Failure::runtime("the trained model does not fit the config"))?;
    let stats = matcher::match_all(&matcher, &ingest, store.as_mut(), &|seen, s| {
        tracing::info!(
            persons = seen,
            merged = s.merged,
            queued = s.queued,
            "Matching stored persons."
        );
    })?;
    outln!(
        "matched the store: {} pairs compared, {} persons merged, {} pairs queued for review",
        stats.compared,
        stats.merged,
        stats.queued
    );
    Ok(())
}

/// `review list`
pub(super) fn list(args: &Args, all: bool, json: bool) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    let mut store = super::open_store(&settings)?;
    let items = store.reviews((!all).then_some(ReviewStatus::Pending))?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&items).expect("items serialise")
        );
        return Ok(());
    }
    if items.is_empty() {
        outln!("no pairs to review");
    }
    for item in &items {
        outln!(
            "{:>6}  persons {} and {}  score {:.3}  {}",
            item.id,
            item.a,
            item.b,
            item.score,
            item.status.as_str()
        );
    }
    Ok(())
}

/// `review show ID`: both persons, the score and every field's comparison.
pub(super) fn show(args: &Args, id: i64, json: bool) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    let mut store = super::open_store(&settings)?;
    let item = store
        .review(id)?
        .ok_or_else(|| Failure::runtime(format!("no review item {id}")))?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&item).expect("items serialise")
        );
        return Ok(());
    }
    render(store.as_mut(), &item)
}

fn render(store: &mut dyn Store, item: &ReviewItem) -> Result<(), Failure> {
    outln!(
        "review {}: persons {} and {}, score {:.3} ({}{})",
        item.id,
        item.a,
        item.b,
        item.score,
        item.status.as_str(),
        if item.ever_rejected {
            ", rejected before"
        } else {
            ""
        }
    );
    for side in [item.a, item.b] {
        let now = store.merged_into(side)?.unwrap_or(side);
        let Some(person) = store.person(now)? else {
            outln!("  person {side}: no longer exists");
            continue;
        };
        let moved = if now != side {
            format!(" (now {now})")
        } else {
            String::new()
        };
        outln!("  person {side}{moved}: {}", person.display_name());
        for (field, values) in &person.fields {
            if let Some(v) = values.first() {
                outln!("    {:<16} {}", field.to_string(), v.value);
            }
        }
    }
    outln!("  fields compared (level 0 = equal; weight = log2(m/u)):");
    for line in crate::explain::field_scores(&item.detail) {
        outln!("{line}");
    }
    Ok(())
}

/// `review accept ID` / `review reject ID`
pub(super) fn decide(args: &Args, id: i64, accept: bool) -> Result<(), Failure> {
    let (settings, ingest) = ingest(args)?;
    let mut store = super::open_store(&settings)?;
    match matcher::decide(store.as_mut(), &ingest, id, accept)? {
        Ok(message) => {
            outln!("{message}");
            Ok(())
        }
        Err(message) => Err(Failure::usage(message)),
    }
}

/// `review split PERSON`
pub(super) fn split(args: &Args, person: i64) -> Result<(), Failure> {
    let (settings, ingest) = ingest(args)?;
    let mut store = super::open_store(&settings)?;
    let matcher = Matcher::load(&settings.identity.matching, store.as_mut())?;
    match matcher::split(store.as_mut(), &ingest, matcher.as_ref(), person)? {
        Ok(message) => {
            outln!("{message}");
            Ok(())
        }
        Err(message) => Err(Failure::usage(message)),
    }
}

/// `export links [--csv]`: one row per source record: its person, connector, source and how
/// it was linked.
pub(super) fn links(args: &Args, csv: bool) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    let mut store = super::open_store(&settings)?;
    // Records that joined their person through a merge, by (connector, locator).
    let mut merged: HashMap<(String, String), String> = HashMap::new();
    for m in store.merges()? {
        let sources = m.before["sources"].as_array().cloned().unwrap_or_default();
        for s in sources {
            let key = (
                s["connector"].as_str().unwrap_or_default().to_string(),
                s["locator"].as_str().unwrap_or_default().to_string(),
            );
            merged.entry(key).or_insert_with(|| m.how.clone());
        }
    }
    // Drops that carry a CRM's record ids link by them first.
    let id_columns: HashMap<String, leadsync_connector_core::Field> = crm_id_columns(&settings)
        .into_iter()
        .map(|(drop, (_, field))| (drop, field))
        .collect();
    if csv {
        outln!("person_id,connector,source,how");
    }
    let mut after = 0;
    loop {
        let rows = store.records_after(after, 10_000)?;
        let Some((last, _, _)) = rows.last() else {
            break;
        };
        after = *last;
        for (_, person, record) in rows {
            let source = record.locator.to_string();
            let how = merged
                .get(&(record.connector.clone(), source.clone()))
                .cloned()
                .unwrap_or_else(|| exact_how(&record, &id_columns));
            if csv {
                outln!(
                    "{person},{},{},{}",
                    csv_cell(&record.connector),
                    csv_cell(&source),
                    how
                );
            } else {
                outln!(
                    "{}",
                    serde_json::json!({
                        "person_id": person,
                        "connector": record.connector,
                        "source": source,
                        "how": how,
                    })
                );
            }
        }
    }
    Ok(())
}

/// How a record not moved by a merge is linked: by its strongest exact key.
fn exact_how(
    record: &crate::store::StoredRecord,
    id_columns: &HashMap<String, leadsync_connector_core::Field>,
) -> String {
    use leadsync_connector_core::Field;
    let has = |f: &Field| {
        record
            .values
            .iter()
            .any(|(k, v)| k == f && !v.trim().is_empty())
    };
    if matches!(record.locator, Locator::Crm { .. })
        || id_columns.get(&record.connector).is_some_and(has)
    {
        return "crm_id".into();
    }
    let has = |f: Field| has(&f);
    if has(Field::Email) {
        "email".into()
    } else if has(Field::Phone) {
        "phone".into()
    } else {
        "new".into()
    }
}

fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}
