//! Re-qualification benchmark: N stored persons (default 1,000,000, made by ingesting a
//! generated drop) re-qualified after a rules change, through the same code path as the
//! re-qualification step of `leadsync sync --once`.
//!
//!     cargo bench --bench requalify              # 1,000,000 persons
//!     cargo bench --bench requalify -- 100000    # another size
//!
//! Prints persons/s for the re-qualification alone and the process's peak resident memory
//! (VmHWM) before and after it.

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

    // A rules change: every person's rules version is now stale.
    let edited = DEFAULT_RULES.replace("mql_score = 60", "mql_score = 40");
    let rules = Rules::load(RulesSource {
        path: None,
        text: edited,
    })
    .unwrap();
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
    println!(
        "re-qualified {} persons ({} moved) in {secs:.2}s: {:.0} persons/s; peak RSS {:.1} MiB",
        plan.evaluated,
        plan.moved(),
        plan.evaluated as f64 / secs,
        peak_rss_mib()
    );
}
