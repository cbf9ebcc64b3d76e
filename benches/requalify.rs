//! Re-qualification benchmark: N stored persons (default 1,000,000, made by ingesting a
//! generated drop) re-qualified after a rules change, through the same code path as the
//! re-qualification step of `leadsync sync --once`.
//!
//!     cargo bench --bench requalify              # 1,000,000 persons
//!     cargo bench --bench requalify -- 100000    # another size
//!
//! Prints persons/s for the re-qualification alone and the process's peak resident memory
//! (VmHWM) before and after it: twice on the default six-tier ladder, then on a seven-tier one
//! (`sal` added), and the seven-tier rate against the second six-tier pass.

mod support;

use leadsync::rules::{DEFAULT_RULES, Rules, RulesSource};
use leadsync::store::prelude::*;
use std::time::Instant;
use support::{Bench, peak_rss_mib, size_arg};

fn main() {
    leadsync::tune_allocator();
    let rows = size_arg(1_000_000);
    let mut bench = Bench::drop(rows, 0.0);
    let t = Instant::now();
    bench.cycle();
    let persons = bench.store.person_count().unwrap();
    println!(
        "stored {persons} persons in {:.1}s; peak RSS so far {:.1} MiB",
        t.elapsed().as_secs_f64(),
        peak_rss_mib()
    );

    // Rules changes, each making every person's rules version stale: the default six-tier
    // ladder twice (the first pass warms the caches), then a seven-tier one (`sal` between
    // `mql` and `sql`, with its rule). The seven-tier run comes last: persons it moves to `sal`
    // could not be read on the six-tier ladder after it.
    let seven = DEFAULT_RULES
        .replace("mql_score = 60", "mql_score = 40")
        .replace(
            "  { name = \"sql\",",
            "  { name = \"sal\", label = \"Sales accepted lead\" },\n  { name = \"sql\",",
        )
        .replace("crm_rank >= 6", "crm_rank >= 7")
        .replace("crm_rank >= 5", "crm_rank >= 6")
        .replace("crm_rank >= 4", "crm_rank >= 5")
        + "\n[[rules]]\nname = \"accepted\"\ntier = \"sal\"\nwhen = \"flag('agreed_to_talk')\"\n";
    let runs = [
        (
            "six tiers",
            DEFAULT_RULES.replace("mql_score = 60", "mql_score = 41"),
        ),
        (
            "six tiers",
            DEFAULT_RULES.replace("mql_score = 60", "mql_score = 40"),
        ),
        ("seven tiers", seven),
    ];
    let mut rates = Vec::new();
    for (ladder, text) in runs {
        let rules = Rules::load(RulesSource { path: None, text }).unwrap();
        let tiers = leadsync_connector_core::Ladder::current().tiers().len();
        assert_eq!(tiers, if ladder == "six tiers" { 6 } else { 7 });
        let t = Instant::now();
        let plan = leadsync::pipeline::requalify(
            &mut bench.store,
            &rules,
            &[],
            chrono::Utc::now(),
            false,
            0,
            false,
        )
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let rate = plan.evaluated as f64 / secs;
        rates.push(rate);
        println!(
            "{ladder}: re-qualified {} persons ({} moved) in {secs:.2}s: {rate:.0} persons/s; peak RSS {:.1} MiB",
            plan.evaluated,
            plan.moved(),
            peak_rss_mib()
        );
    }
    println!(
        "seven tiers against six (the second six-tier pass): {:.3} of the rate",
        rates[2] / rates[1]
    );
}
