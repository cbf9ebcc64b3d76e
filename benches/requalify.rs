//! Re-qualification benchmark: N stored persons (default 1,000,000, made by ingesting a
//! generated drop) re-qualified after a rules change, through the same code path as the
//! re-qualification step of `leadsync sync --once`.
//!
//!     cargo bench --bench requalify              # 1,000,000 persons
//!     cargo bench --bench requalify -- 100000    # another size
//!     cargo bench --bench requalify -- 1000000 5 # five rounds of seven and six tiers
//!
//! Prints persons/s for the re-qualification alone and the process's peak resident memory
//! (VmHWM): after a rules edit on the default six-tier ladder, then in alternating rounds on a
//! seven-tier ladder (`sal` added) and the six-tier one (`-- N ROUNDS`, default 3), with the
//! seven-tier rate against the six-tier one.

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

    // A rules edit (the MQL score threshold lowered) re-qualifies everyone once on the default
    // six-tier ladder and moves who it moves; then rounds alternate a seven-tier ladder (`sal`
    // between `mql` and `sql`, with a rule of its own that nobody meets, and the `crm_rank`
    // thresholds moved up one) and the six-tier one, each pass with a new rules version (a
    // comment) so that everyone is re-qualified and nobody moves: the passes differ in the
    // ladder alone.
    let six = DEFAULT_RULES.replace("mql_score = 60", "mql_score = 40");
    let seven = six
        .replace(
            "  { name = \"sql\",",
            "  { name = \"sal\", label = \"Sales accepted lead\" },\n  { name = \"sql\",",
        )
        .replace("crm_rank >= 6", "crm_rank >= 7")
        .replace("crm_rank >= 5", "crm_rank >= 6")
        .replace("crm_rank >= 4", "crm_rank >= 5")
        + "\n[[rules]]\nname = \"accepted\"\ntier = \"sal\"\nwhen = \"flag('sales_accepted')\"\n";
    let rounds = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let mut runs = vec![("warm-up, six tiers", six.clone())];
    for round in 0..rounds {
        runs.push(("seven tiers", format!("{seven}\n# round {round}\n")));
        runs.push(("six tiers", format!("{six}\n# round {round}\n")));
    }
    let (mut six_rates, mut seven_rates) = (Vec::new(), Vec::new());
    for (ladder, text) in runs {
        let rules = Rules::load(RulesSource { path: None, text }).unwrap();
        let tiers = leadsync_connector_core::Ladder::current().tiers().len();
        assert_eq!(tiers, if ladder == "seven tiers" { 7 } else { 6 });
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
        match ladder {
            "six tiers" => six_rates.push(rate),
            "seven tiers" => seven_rates.push(rate),
            _ => {}
        }
        println!(
            "{ladder}: re-qualified {} persons ({} moved) in {secs:.2}s: {rate:.0} persons/s; peak RSS {:.1} MiB",
            plan.evaluated,
            plan.moved(),
            peak_rss_mib()
        );
        if ladder != "warm-up, six tiers" {
            assert_eq!(plan.moved(), 0, "the rounds differ in the ladder alone");
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (six, seven) = (median(&mut six_rates), median(&mut seven_rates));
    println!(
        "median over {rounds} rounds: six tiers {six:.0}, seven tiers {seven:.0} persons/s: seven at {:.3} of six's rate",
        seven / six
    );
}
