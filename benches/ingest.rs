//! Ingest benchmark: a generated HubSpot-style CSV drop of N rows (default 1,000,000; about 10%
//! repeats of earlier people) read, mapped, resolved, qualified and stored end to end into a
//! fresh SQLite store, through the same code path as `leadsync sync --once`.
//!
//!     cargo bench --bench ingest                 # 1,000,000 rows
//!     cargo bench --bench ingest -- 100000       # another size
//!
//! Prints rows/s and the process's peak resident memory (VmHWM), measured after generating the
//! file (generation streams, so it adds little) and after ingesting.

mod support;

use leadsync::store::prelude::*;
use std::time::Instant;
use support::{Bench, peak_rss_mib, size_arg};

fn main() {
    leadsync::tune_allocator();
    let rows = size_arg(1_000_000);
    let t = Instant::now();
    let mut bench = Bench::drop(rows, 0.1);
    println!(
        "generated {rows} rows, {:.1} MB, in {:.1}s; peak RSS so far {:.1} MiB",
        bench.file_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
    let t = Instant::now();
    let cycle = bench.cycle();
    let secs = t.elapsed().as_secs_f64();
    let run = &cycle.runs[0];
    println!(
        "ingested {} records into {} persons ({} rejects) in {secs:.2}s: {:.0} rows/s; peak RSS {:.1} MiB",
        run.resolved.records,
        bench.store.person_count().unwrap(),
        run.pulled.rejects,
        rows as f64 / secs,
        peak_rss_mib()
    );
}
