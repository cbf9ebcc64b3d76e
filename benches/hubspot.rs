//! HubSpot connector benchmarks, against the fake HubSpot in a separate process (so the client's
//! CPU time is the client's alone):
//!
//!     cargo bench --bench hubspot
//!
//! 1. pull and store 50,000 contacts with limits off: wall time and client CPU seconds;
//! 2. backfill 20,000 contacts under HubSpot's limits (100 requests / 10 s, 5 searches / s):
//!    contacts per second;
//! 3. push 20,000 stage changes under 100 requests per (shortened, 1-s) window: requests per
//!    second achieved, as a share of the allowed budget; once answered at once, once with every
//!    answer 30 ms late (as HubSpot's ~0.3 s is at its real 10-s window).

use leadsync::connector::Tier;
use leadsync::store::Store;
use std::time::{Duration, Instant};

mod support;

use support::child::cpu_split;
use support::hubspot::setup::{Options, setup};
use support::hubspot::{self as hub, PullRun};

fn main() {
    leadsync::tune_allocator();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some(hub::SERVE) {
        return hub::serve_fake(&args[1..]);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // `cargo bench --bench hubspot -- pull [N]` runs the first benchmark only, over N contacts
    // (for profiling; valgrind does not follow the fake's process).
    let only_pull = args.first().map(String::as_str) == Some("pull");
    let contacts: usize = args
        .get(1)
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or(50_000);
    runtime.block_on(async {
        // 1. Pull and store 50,000 contacts, limits off.
        // The numbering plan loads once per process (the binary starts loading it at start).
        let before = cpu_split();
        leadsync::resolve::phone::load_metadata();
        let load = cpu_split().0 + cpu_split().1 - before.0 - before.1;
        let PullRun { wall, user, system, records, mb_written, fake_cpu } = hub::pull(contacts).await;
        println!(
            "pull+store {contacts} contacts, limits off: {wall:.2}s wall, {:.2} CPU s client-side ({user:.2} user + {system:.2} system; {records} records; {mb_written:.0} MB written; the numbering plan's one-time load before it: {load:.2} CPU s; the fake's CPU meanwhile: {fake_cpu:.2} s)",
            user + system,
        );
        if only_pull {
            return;
        }

        // 2. Backfill under HubSpot's limits.
        let (mut fake, url) = hub::spawn(20_000, 100, 10_000, 5, 0);
        let mut c = setup(&url, Options { per_window: 100, search_per_second: 5, ..Options::default() });
        let t = Instant::now();
        let run = c.cycle().await;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "backfill 20,000 contacts under 100 req/10 s + 5 searches/s: {secs:.1}s, {:.0} contacts/s",
            run.runs[0].resolved.records as f64 / secs
        );
        fake.kill().ok();

        // 3. Push 20,000 stage changes under 100 requests per 1-s window, answered at once and
        // answered 30 ms late (three permits' spacing, as HubSpot's ~0.3 s is at its real 10-s
        // window): requests must overlap to use the budget.
        for delay_ms in [0, 30] {
            push_bench(delay_ms).await;
        }
    });
}

/// Pulls (untimed), plans a push for every contact with the same planning code the cycle uses,
/// checkpoints as a cycle does before its pushes, then times the drain.
async fn push_bench(answer_delay_ms: u64) {
    let (mut fake, url) = hub::spawn(20_000, 100, 1_000, 0, answer_delay_ms);
    let window = Duration::from_secs(1);
    let mut c = setup(
        &url,
        Options {
            per_window: 100,
            window,
            push: true,
            ..Options::default()
        },
    );
    c.cycle().await;
    c.plan_everyone(Tier::CUSTOMER);
    c.store.checkpoint().unwrap();
    let t = Instant::now();
    let stats = leadsync::pipeline::outbox::drain(
        &mut c.store,
        &c.connectors[0],
        &leadsync::pipeline::outbox::Claimant::this_process(),
        &|| true,
    )
    .await
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let requests = (stats.applied as f64 / 100.0).ceil();
    println!(
        "push {} stage changes, 100 per request, under 100 requests/s, answers {answer_delay_ms} ms late: {secs:.1}s, {:.1} requests/s = {:.0}% of the budget",
        stats.applied,
        requests / secs,
        requests / secs
    );
    fake.kill().ok();
}
