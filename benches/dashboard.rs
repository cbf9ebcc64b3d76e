//! Dashboard pages with N persons in the store (default 1,000,000, made by ingesting a
//! generated drop through the library), against the real `leadsync run` of this build: each
//! page's time to first byte.
//!
//!     cargo bench --bench dashboard              # 1,000,000 persons
//!     cargo bench --bench dashboard -- 100000    # another size
//!
//! The outbox is filled beside the persons (one HubSpot push per person: 97% done, 2% kept,
//! 1% dead) so the sync page counts and lists a full one; a fake HubSpot with no contacts
//! stands behind the connector. Prints how long the daemon took to read the funnel's facts at
//! start, then per page the median and slowest of `SAMPLES` requests, one at a time, each on a
//! new connection. The aim: every page under 300 ms.

mod support;

use leadsync::store::prelude::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::{Bench, Daemon, free_addr, size_arg};

const SAMPLES: usize = 15;
const AIM: Duration = Duration::from_millis(300);

/// A GET on a new connection: the status, the time to the first byte of the answer and the
/// whole answer.
fn get(addr: SocketAddr, path: &str) -> (u16, Duration, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let t = Instant::now();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 1];
    s.read_exact(&mut first).unwrap();
    let ttfb = t.elapsed();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let text = String::from_utf8_lossy(&first).into_owned() + &String::from_utf8_lossy(&rest);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, ttfb, text)
}

fn main() {
    leadsync::tune_allocator();
    let rows = size_arg(1_000_000);
    let t = Instant::now();
    let mut bench = Bench::drop(rows, 0.0);
    bench.cycle();
    let persons = bench.store.person_count().unwrap();
    let db = bench.dir.path().join("bench.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "INSERT INTO outbox (connector, record_id, person_id, tier, status, attempts, reason, created_at, updated_at)
             SELECT 'hubspot', CAST(id AS TEXT), id, coalesce(tier, 'subscriber'),
                    CASE WHEN id % 100 = 0 THEN 'dead' WHEN id % 50 = 1 THEN 'kept' ELSE 'done' END,
                    1, CASE WHEN id % 100 = 0 THEN 'OBJECT_NOT_FOUND' END, created_at, created_at
             FROM persons",
        )
        .unwrap();
    }
    let email = bench
        .store
        .person(persons as i64 / 2)
        .unwrap()
        .and_then(|p| {
            p.get(&leadsync::connector::Field::Email)
                .map(str::to_string)
        });
    println!(
        "stored {persons} persons and as many outbox entries in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    // A fake HubSpot with no contacts behind the connector, on a runtime of its own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = leadsync_fake_hubspot::FakeHubSpot::new(Default::default());
    let server = runtime
        .block_on(fake.serve("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let token = bench.dir.path().join("hubspot-token");
    std::fs::write(&token, &fake.config().token).unwrap();

    let addr = free_addr();
    let config = bench.dir.path().join("daemon.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[admin]\nlisten = \"{addr}\"\n\n\
             [connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nschedule = \"0 0 * * * *\"\n\n\
             [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{}\"\ntoken = {{ file = \"{}\" }}\npush = true\nschedule = \"0 0 * * * *\"\n",
            db.display(),
            bench.dir.path().join("inbox").display(),
            server.base_url,
            token.display(),
        ),
    )
    .unwrap();
    let started = Instant::now();
    let _daemon = Daemon::run(&config);
    // The funnel's facts are read once at start; until then the page says so.
    loop {
        let answer = TcpStream::connect(addr).ok().map(|_| get(addr, "/"));
        if let Some((200, _, body)) = answer
            && body.contains("id=\"as-of\"")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no funnel figures"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The first runs (at start) change the store's mark once more: let them finish and the
    // facts follow.
    std::thread::sleep(Duration::from_secs(3));
    let (_, _, page) = get(addr, "/");
    let wait = Instant::now();
    while get(addr, "/").2.contains("id=\"refreshing\"") {
        assert!(wait.elapsed() < Duration::from_secs(600));
        std::thread::sleep(Duration::from_millis(200));
    }
    let as_of = page
        .split("id=\"as-of\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or("")
        .to_string();
    println!(
        "daemon up with the funnel's figures after {:.1}s; {as_of}",
        started.elapsed().as_secs_f64()
    );

    let mut pages = vec![
        ("funnel", "/".to_string()),
        ("funnel, one source", "/?source=google".to_string()),
        ("funnel, cohorts", "/?since=2020-01-01".to_string()),
        ("sync", "/sync".to_string()),
        ("person", format!("/person/{}", persons / 2)),
        ("review & follow-up", "/review".to_string()),
    ];
    if let Some(email) = email {
        pages.push(("person search (redirect)", format!("/person?q={email}")));
    }
    println!(
        "{:<26} {:>8} {:>10} {:>10}",
        "page", "status", "median", "slowest"
    );
    let mut worst = Duration::ZERO;
    for (name, path) in pages {
        let _ = get(addr, &path);
        let mut times = Vec::new();
        let mut status = 0;
        for _ in 0..SAMPLES {
            let (s, ttfb, _) = get(addr, &path);
            status = s;
            times.push(ttfb);
        }
        times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{name:<26} {status:>8} {:>10} {:>10}",
            ms(times[SAMPLES / 2]),
            ms(times[SAMPLES - 1])
        );
        worst = worst.max(times[SAMPLES / 2]);
    }
    println!(
        "slowest median: {:.1} ms; aim {} ms: {}",
        worst.as_secs_f64() * 1000.0,
        AIM.as_millis(),
        if worst <= AIM { "met" } else { "NOT met" }
    );
}
