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
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, Fault};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// User and system CPU seconds of this process so far.
fn cpu_split() -> (f64, f64) {
    cpu_split_of("self")
}

/// User and system CPU seconds of a process so far (`self` or a pid).
fn cpu_split_of(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) / 100.0, ticks(12) / 100.0) // utime, stime (fields 14, 15 of stat; 100 ticks/s)
}

/// Bytes this process has handed to `write`-like calls so far (files and sockets alike).
fn written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("wchar: ")?.trim().parse().ok())
        .unwrap_or(0)
}

/// The fake in a child process (this binary, re-run with `serve-fake`); returns its base URL.
fn spawn_fake(
    contacts: usize,
    per_window: u32,
    window_ms: u64,
    search: u32,
    answer_delay_ms: u64,
) -> (std::process::Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "serve-fake",
            &contacts.to_string(),
            &per_window.to_string(),
            &window_ms.to_string(),
            &search.to_string(),
            &answer_delay_ms.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

fn serve_fake(args: &[String]) {
    let n = |i: usize| args[i].parse::<u64>().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let fake = FakeHubSpot::new(FakeConfig {
            requests_per_window: n(1) as u32,
            window: Duration::from_millis(n(2)),
            search_per_second: n(3) as u32,
            ..FakeConfig::default()
        });
        fake.seed(n(0) as usize, 9);
        if n(4) > 0 {
            // Every answer comes this much later (HubSpot answers a batch in 0.1-0.5 s).
            fake.script(Fault::Slow {
                delay: Duration::from_millis(n(4)),
                times: u32::MAX,
            });
        }
        let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        println!("{}", server.base_url);
        tokio::signal::ctrl_c().await.ok();
    });
}

#[path = "../tests/common/hubspot.rs"]
mod hubspot_setup;

use hubspot_setup::{Options, setup};

fn main() {
    leadsync::tune_allocator();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("serve-fake") {
        return serve_fake(&args[1..]);
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
        let (mut fake, url) = spawn_fake(contacts, 0, 10_000, 0, 0);
        let mut c = setup(&url, Options::default());
        // The numbering plan loads once per process (the binary starts loading it at start).
        let before = cpu_split();
        leadsync::resolve::phone::load_metadata();
        let load = cpu_split().0 + cpu_split().1 - before.0 - before.1;
        let fake_cpu = || {
            let (user, system) = cpu_split_of(&fake.id().to_string());
            user + system
        };
        let fake_before = fake_cpu();
        let (t, (user, system), bytes) = (Instant::now(), cpu_split(), written());
        let run = c.cycle().await;
        let (user, system) = (cpu_split().0 - user, cpu_split().1 - system);
        println!(
            "pull+store {contacts} contacts, limits off: {:.2}s wall, {:.2} CPU s client-side ({user:.2} user + {system:.2} system; {} records; {:.0} MB written; the numbering plan's one-time load before it: {load:.2} CPU s; the fake's CPU meanwhile: {:.2} s)",
            t.elapsed().as_secs_f64(),
            user + system,
            run.runs[0].resolved.records,
            (written() - bytes) as f64 / 1e6,
            fake_cpu() - fake_before
        );
        fake.kill().ok();
        if only_pull {
            return;
        }

        // 2. Backfill under HubSpot's limits.
        let (mut fake, url) = spawn_fake(20_000, 100, 10_000, 5, 0);
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
    let (mut fake, url) = spawn_fake(20_000, 100, 1_000, 0, answer_delay_ms);
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
    c.plan_everyone(Tier::Customer);
    c.store.checkpoint().unwrap();
    let t = Instant::now();
    let stats = leadsync::pipeline::outbox::drain(&mut c.store, &c.connectors[0], &|| true)
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
