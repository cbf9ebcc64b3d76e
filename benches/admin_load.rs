//! Admin HTTP under load: how fast the probes answer while 20 clients hammer `/api/v1/status`
//! on a store of N persons (default 300,000, made by ingesting a generated drop through the
//! library), against the real `leadsync run` of this build.
//!
//!     cargo bench --bench admin_load               # 300,000 persons
//!     cargo bench --bench admin_load -- 50000      # another size
//!
//! `LEADSYNC_BIN=PATH` measures another build of the binary on the same store (e.g. an older
//! commit, for a comparison). Prints the latency percentiles of `/healthz` and `/readyz` (one
//! probe every 10 ms for 10 s) and the status answers per second. The aim: `/healthz` p99 under
//! 100 ms.

mod support;

use leadsync::store::prelude::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{Bench, Daemon, free_addr, size_arg};

const CLIENTS: usize = 20;
const PROBING: Duration = Duration::from_secs(10);

/// A plain HTTP/1.1 GET on a new connection: the status code, or `None`.
fn get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer[..answer.len().min(32)]).into_owned();
    text.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn summary(name: &str, mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{name}: {} probes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap())
    )
}

fn main() {
    leadsync::tune_allocator();
    let rows = size_arg(300_000);
    let t = Instant::now();
    let mut bench = Bench::drop(rows, 0.0);
    bench.cycle();
    let persons = bench.store.person_count().unwrap();
    println!(
        "stored {persons} persons in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    // The daemon on that store, its inbox empty and scheduled hourly: the API's load is all.
    let addr = free_addr();
    let config = bench.dir.path().join("daemon.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[admin]\nlisten = \"{addr}\"\n\n\
             [connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nschedule = \"0 0 * * * *\"\n",
            bench.dir.path().join("bench.db").display(),
            bench.dir.path().join("inbox").display()
        ),
    )
    .unwrap();
    let _daemon = Daemon::run(&config);
    let started = Instant::now();
    while get(addr, "/readyz") != Some(200) {
        assert!(started.elapsed() < Duration::from_secs(60), "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Instant::now();
    assert_eq!(get(addr, "/api/v1/status"), Some(200));
    println!(
        "one /api/v1/status alone: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );

    // 20 clients, each asking for the status again as soon as it is answered.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if get(addr, "/api/v1/status") == Some(200) {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1)); // every client has a request in flight
    let (mut health, mut ready) = (Vec::new(), Vec::new());
    let (probing, before) = (Instant::now(), answered.load(Ordering::Relaxed));
    while probing.elapsed() < PROBING {
        for (path, samples) in [("/healthz", &mut health), ("/readyz", &mut ready)] {
            let t = Instant::now();
            assert_eq!(get(addr, path), Some(200), "{path}");
            samples.push(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let statuses = answered.load(Ordering::Relaxed) - before;
    let seconds = probing.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    println!(
        "under {CLIENTS} clients hammering /api/v1/status: {statuses} answered in {seconds:.1}s ({:.1}/s)",
        statuses as f64 / seconds
    );
    println!("{}", summary("/healthz", health));
    println!("{}", summary("/readyz", ready));
}
