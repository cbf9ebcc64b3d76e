//! Probabilistic matching's cost on ingest: the same generated HubSpot-style drop (default
//! 1,000,000 rows, about 10% repeats) ingested into a fresh SQLite store twice in one run: with
//! exact keys only, then with `[identity.matching]` on (the default fields and blocking rules)
//! and a model trained on the first store. Aim: matching on costs at most 2× the exact-only
//! time; peak memory (VmHWM, reset before each ingest) flat in the file's size.
//!
//!     cargo bench --bench matching               # 1,000,000 rows
//!     cargo bench --bench matching -- 200000     # another size

mod support;

use leadsync::config::MatchingConfig;
use leadsync::pipeline::matcher;
use leadsync::store::prelude::*;
use std::time::Instant;
use support::{Bench, peak_rss_mib, size_arg};

/// Matching on may take at most this many times the exact-only ingest.
const AIM: f64 = 2.0;

/// Resets the process's peak resident memory to its current size (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    leadsync::tune_allocator();
    let rows = size_arg(1_000_000);
    let cfg = MatchingConfig {
        enabled: true,
        ..MatchingConfig::default()
    };

    let mut exact = Bench::drop(rows, 0.1);
    reset_peak();
    let t = Instant::now();
    exact.cycle();
    let exact_secs = t.elapsed().as_secs_f64();
    let exact_rss = peak_rss_mib();
    let persons = exact.store.person_count().unwrap();
    println!(
        "exact keys only : {rows} rows into {persons} persons in {exact_secs:.2}s: {:.0} rows/s; peak RSS {exact_rss:.1} MiB",
        rows as f64 / exact_secs
    );

    let t = Instant::now();
    let resolver =
        leadsync::resolve::Resolver::new(&exact.settings.identity, &exact.settings.merge);
    let (_, model) = matcher::train(&cfg, &resolver, &mut exact.store, chrono::Utc::now()).unwrap();
    println!(
        "trained on {} persons in {:.2}s (not part of either ingest)",
        model.trained_on,
        t.elapsed().as_secs_f64()
    );
    println!("  prior {:.3e}", model.model.prior);
    for f in &model.model.fields {
        let w: Vec<String> = (0..f.m.len())
            .map(|l| format!("{:+.1}", f.weight(l)))
            .collect();
        println!("  {:<12} {:?}: {}", f.field, f.comparator, w.join(" "));
    }
    drop(exact);

    let mut matched = Bench::drop(rows, 0.1);
    matched.settings.identity.matching = cfg;
    let mut tx = matched.store.begin().unwrap();
    tx.save_match_model(&serde_json::to_string(&model).unwrap(), chrono::Utc::now())
        .unwrap();
    tx.commit().unwrap();
    reset_peak();
    let t = Instant::now();
    matched.cycle();
    let matched_secs = t.elapsed().as_secs_f64();
    let matched_rss = peak_rss_mib();
    let after = matched.store.person_count().unwrap();
    let merges = matched.store.merges().unwrap().len();
    let queued = matched.store.reviews(None).unwrap().len();
    println!(
        "matching on     : {rows} rows into {after} persons ({merges} merged by matching, {queued} pairs queued) in {matched_secs:.2}s: {:.0} rows/s; peak RSS {matched_rss:.1} MiB",
        rows as f64 / matched_secs
    );
    let ratio = matched_secs / exact_secs;
    println!(
        "matching on takes {ratio:.2} times the exact-only time (aim: at most {AIM}): {}",
        if ratio <= AIM { "PASS" } else { "FAIL" }
    );
}
