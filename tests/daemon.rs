//! `leadsync run` as a child process: drops are picked up on schedule, the admin HTTP answers,
//! and SIGTERM stops it cleanly.

mod common;

use common::Env;
use common::daemon::{
    assert_running, free_port, get, get_with, signal, spawn, terminate, wait_until,
};
use leadsync::store::prelude::*;
use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};

fn start(env: &Env, port: u16) -> Child {
    start_logged(env, port, None)
}

/// [`start`], its info-level logs in `log` when given.
fn start_logged(env: &Env, port: u16, log: Option<&std::path::Path>) -> Child {
    let config = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n\n{config}"),
    )
    .unwrap();
    match log {
        Some(log) => spawn(&env.config, &[("RUST_LOG", "info")], Some(log)),
        None => spawn(&env.config, &[], None),
    }
}

/// How many times `log` holds `line`.
fn count_in(log: &std::path::Path, line: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches(line)
        .count()
}

#[test]
fn the_daemon_takes_drops_on_schedule_serves_status_and_stops_on_sigterm() {
    // GIVEN a daemon whose drop folder is scanned every second
    let env = Env::new("schedule = \"* * * * * *\"");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = start(&env, port);
    wait_until("/healthz", Duration::from_secs(20), || {
        get(addr, "/healthz").is_some_and(|(s, b)| s == 200 && b.contains("ok"))
    });

    // WHEN a file is dropped
    env.drop_file(
        "signups.csv",
        b"Email,First Name\na@acme.io,Ann\nb@acme.io,Bob\nc@acme.io,Cy\n",
    );

    // THEN it is ingested within seconds, and the status shows it
    wait_until(
        "3 persons in /api/v1/status",
        Duration::from_secs(20),
        || {
            get(addr, "/api/v1/status").is_some_and(|(s, b)| {
                s == 200
                    && serde_json::from_str::<serde_json::Value>(&b)
                        .is_ok_and(|v| v["persons"] == 3)
            })
        },
    );
    let (_, body) = get(addr, "/api/v1/status").unwrap();
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        status["last_runs"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{status}"
    );

    // WHEN SIGTERM arrives
    // THEN it exits 0 within seconds, and the store is consistent
    let (code, _) = terminate(child, Duration::from_secs(15));
    assert_eq!(code, Some(0));
    assert_eq!(env.person_count(), 3);
    assert!(
        get(addr, "/healthz").is_none(),
        "the admin HTTP stopped too"
    );
}

#[test]
fn the_daemon_refuses_to_listen_beyond_loopback() {
    let env = Env::new("");
    let config = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!("[admin]\nlisten = \"0.0.0.0:{}\"\n\n{config}", free_port()),
    )
    .unwrap();
    let out = env.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("beyond loopback"));
}

#[test]
fn readyz_names_a_connector_whose_last_run_failed() {
    // GIVEN a daemon whose inbox has disappeared
    let env = Env::new("schedule = \"* * * * * *\"");
    std::fs::remove_dir(&env.inbox).unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = start(&env, port);
    // THEN it stays alive but is not ready, and says which connector fails
    wait_until("/readyz 503", Duration::from_secs(20), || {
        get(addr, "/readyz").is_some_and(|(s, b)| s == 503 && b.contains("drops"))
    });
    assert_eq!(get(addr, "/healthz").map(|(s, _)| s), Some(200));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_watched_inbox_takes_a_drop_within_seconds_whatever_the_schedule() {
    // GIVEN a daemon whose drop folder is scheduled only once an hour
    let env = Env::new("schedule = \"0 0 * * * *\"");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = start(&env, port);
    wait_until("/healthz", Duration::from_secs(20), || {
        get(addr, "/healthz").is_some()
    });

    // WHEN a file lands in the inbox
    env.drop_file("late.csv", b"Email\nlate@acme.io\n");

    // THEN the watcher has it ingested within seconds
    wait_until("the watched drop", Duration::from_secs(10), || {
        get(addr, "/api/v1/status").is_some_and(|(_, b)| {
            serde_json::from_str::<serde_json::Value>(&b).is_ok_and(|v| v["persons"] == 1)
        })
    });
    assert_eq!(terminate(child, Duration::from_secs(30)).0, Some(0));
}

fn persons(addr: SocketAddr) -> Option<u64> {
    let (_, body) = get(addr, "/api/v1/status")?;
    serde_json::from_str::<serde_json::Value>(&body).ok()?["persons"].as_u64()
}

#[test]
fn sighup_keeps_the_old_config_when_the_new_is_broken_and_applies_a_valid_change() {
    let env = Env::new("schedule = \"* * * * * *\"");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = env.dir.path().join("daemon.log");
    let mut child = start_logged(&env, port, Some(&log));
    wait_until("/healthz", Duration::from_secs(20), || {
        get(addr, "/healthz").is_some()
    });
    let good = std::fs::read_to_string(&env.config).unwrap();

    // WHEN the config is broken and SIGHUP arrives
    std::fs::write(&env.config, format!("{good}\nbogus_key = 1\n")).unwrap();
    signal(&child, "HUP");
    wait_until("the reload refused", Duration::from_secs(10), || {
        count_in(&log, "Reload refused") == 1
    });
    // THEN it keeps running on the old config: alive, and still taking drops
    assert!(child.try_wait().unwrap().is_none(), "still running");
    env.drop_file("a.csv", b"Email\na@acme.io\n");
    wait_until(
        "the drop under the old config",
        Duration::from_secs(10),
        || persons(addr) == Some(1),
    );

    // WHEN a valid change adds a second inbox and SIGHUP arrives
    let second = env.dir.path().join("inbox2");
    std::fs::create_dir_all(&second).unwrap();
    let added = format!(
        "{good}\n[connectors.more]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nsettle = \"0s\"\nschedule = \"* * * * * *\"\n",
        second.display()
    );
    std::fs::write(&env.config, added).unwrap();
    signal(&child, "HUP");
    wait_until("the reload", Duration::from_secs(10), || {
        count_in(&log, "Configuration and rules reloaded.") == 1
    });
    let staged = env.dir.path().join("b.csv");
    std::fs::write(&staged, b"Email\nb@acme.io\n").unwrap();
    std::fs::rename(&staged, second.join("b.csv")).unwrap();
    // THEN the new connector runs
    wait_until("the drop in the new inbox", Duration::from_secs(10), || {
        persons(addr) == Some(2)
    });

    assert_eq!(terminate(child, Duration::from_secs(30)).0, Some(0));
}

#[test]
fn the_daily_pass_moves_persons_whose_facts_changed_with_time_alone() {
    // GIVEN rules where a contact created a week ago or more is sales-qualified, and a daemon
    // that qualifies everyone again every second (`daemon.requalify`, daily by default)
    let env = Env::new("schedule = \"0 0 * * * *\"");
    let rules = env.dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rules]]\nname = \"a_week_old\"\ntier = \"sql\"\nwhen = \"days_since_created >= 7\"\n\n\
         [[rules]]\nname = \"anyone\"\ntier = \"subscriber\"\nwhen = \"has_email\"\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!(
            "[rules]\nfile = \"{}\"\n\n[daemon]\nrequalify = \"* * * * * *\"\n\n{config}",
            rules.display()
        ),
    )
    .unwrap();
    // AND a contact created 7 days ago less 15 seconds: six days old when it is taken
    let created = chrono::Utc::now() - chrono::TimeDelta::days(7) + chrono::TimeDelta::seconds(15);
    env.drop_file(
        "old.csv",
        format!("Email,Create Date\nold@acme.io,{}\n", created.to_rfc3339()).as_bytes(),
    );
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let tier = |addr| {
        get(addr, "/api/v1/persons/old@acme.io")
            .and_then(|(s, b)| {
                (s == 200).then(|| serde_json::from_str::<serde_json::Value>(&b).ok())?
            })
            .map(|v| v["tier"].clone())
    };

    // WHEN it runs
    let child = start(&env, port);
    // THEN the contact is first a subscriber, and turns sales-qualified once a week old, with no
    // new data, through the re-qualification pass
    wait_until("the drop taken", Duration::from_secs(12), || {
        tier(addr).is_some_and(|t| t == "subscriber")
    });
    wait_until("the week passed", Duration::from_secs(40), || {
        tier(addr).is_some_and(|t| t == "sql")
    });
    let mut store = env.store();
    let history = store.tier_history(1).unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.rule.as_str()),
        (
            Some(leadsync::connector::Tier::SUBSCRIBER),
            leadsync::connector::Tier::SQL,
            "a_week_old"
        )
    );
    assert_eq!(terminate(child, Duration::from_secs(30)).0, Some(0));
}

#[test]
fn sigterm_inside_a_large_drop_stops_after_the_page_and_the_next_start_resumes() {
    // GIVEN a daemon that waits up to a minute for work in flight, and a large drop
    let env = Env::new("schedule = \"0 0 * * * *\"");
    let config = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!("[daemon]\nshutdown_timeout = \"60s\"\n\n{config}"),
    )
    .unwrap();
    let rows: Vec<_> = leadsync_sample::stream_rows(5, 60_000, 0.1).collect();
    let persons = rows
        .iter()
        .filter_map(|r| r.truth)
        .collect::<std::collections::HashSet<_>>()
        .len() as u64;
    let mut csv = Vec::new();
    leadsync_sample::write_hubspot_csv(&mut csv, rows).unwrap();
    env.drop_file("big.csv", &csv);
    let port = free_port();

    // WHEN SIGTERM arrives once the first pages are stored
    let mut child = start(&env, port);
    wait_until("the first page", Duration::from_secs(60), || {
        assert_running(&mut child);
        env.person_count() > 0
    });
    let (code, took) = terminate(child, Duration::from_secs(30));

    // THEN it stops after the page in flight, well before the drop is done or the timeout
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "{took:?}");
    let part = env.person_count();
    assert!(part > 0 && part < persons, "{part} of {persons}");
    assert!(
        env.inbox.join("big.csv").exists(),
        "the drop waits in the inbox"
    );

    // WHEN it starts again (same config)
    let mut child = spawn(&env.config, &[], None);
    // THEN it resumes the drop and finishes it: every person once
    wait_until("the drop finished", Duration::from_secs(180), || {
        assert_running(&mut child);
        !env.inbox.join("big.csv").exists()
    });
    assert_eq!(env.person_count(), persons);
    assert_eq!(terminate(child, Duration::from_secs(30)).0, Some(0));
}

#[test]
fn the_admin_token_is_asked_for_with_a_case_insensitive_scheme() {
    // GIVEN a daemon whose API asks for a bearer token
    let env = Env::new("");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!(
            "[admin]\nlisten = \"127.0.0.1:{port}\"\ntoken = {{ env = \"LEADSYNC_TEST_ADMIN_TOKEN\" }}\n\n{config}"
        ),
    )
    .unwrap();
    let child = spawn(
        &env.config,
        &[("LEADSYNC_TEST_ADMIN_TOKEN", "s3cret")],
        None,
    );
    wait_until("/healthz", Duration::from_secs(20), || {
        get(addr, "/healthz").is_some()
    });
    let status_with = |headers: &str| get_with(addr, "/api/v1/status", headers).map(|(s, _)| s);

    // THEN the scheme's name is matched in any case (RFC 7235), the token exactly
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("Authorization: {scheme} s3cret\r\n");
        assert_eq!(status_with(&auth), Some(200), "{auth}");
    }
    for refused in [
        "",
        "Authorization: Bearer S3CRET\r\n",
        "Authorization: bearer wrong\r\n",
        "Authorization: Basic s3cret\r\n",
        "Authorization: Bearers3cret\r\n",
    ] {
        assert_eq!(status_with(refused), Some(401), "{refused}");
    }
    // AND the probes stay open
    assert_eq!(get(addr, "/readyz").map(|(s, _)| s), Some(200));
    assert_eq!(terminate(child, Duration::from_secs(30)).0, Some(0));
}

#[test]
fn the_probes_answer_while_slow_status_and_explain_queries_are_in_flight() {
    // GIVEN a store with one person behind 4,000 source records (each explain of them takes a
    // while), and a daemon on it
    let env = Env::new("schedule = \"0 0 * * * *\"");
    let mut csv = String::from("Email,First Name\n");
    for i in 0..4_000 {
        csv.push_str(&format!("wide@acme.io,Ann{i}\n"));
    }
    env.drop_file("wide.csv", csv.as_bytes());
    env.sync();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = start(&env, port);
    wait_until("/healthz", Duration::from_secs(20), || {
        get(addr, "/healthz").is_some()
    });

    // WHEN 10 explain lookups of that person and 4 clients looping on the status are in flight
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let status_clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut answered = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if get(addr, "/api/v1/status").is_some_and(|(s, _)| s == 200) {
                        answered += 1;
                    }
                }
                answered
            })
        })
        .collect();
    let explains: Vec<_> = (0..10)
        .map(|_| {
            std::thread::spawn(move || {
                let answer = get(addr, "/api/v1/persons/wide@acme.io").map(|(s, _)| s);
                (answer, Instant::now())
            })
        })
        .collect();

    // THEN the probes answer at once, each time, while those are still running
    let mut probes = Vec::new();
    for _ in 0..5 {
        for probe in ["/healthz", "/readyz"] {
            let asked = Instant::now();
            probes.push((probe, get(addr, probe).map(|(s, _)| s), asked.elapsed()));
        }
    }
    let probes_done = Instant::now();
    let explained: Vec<_> = explains.into_iter().map(|e| e.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses: Vec<u32> = status_clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .collect();
    assert_eq!(terminate(child, Duration::from_secs(30)).0, Some(0));

    let slowest = probes.iter().map(|p| p.2).max().unwrap();
    assert!(
        probes.iter().all(|p| p.1 == Some(200)) && slowest < Duration::from_secs(1),
        "each probe answers 200 within a second: {probes:?}"
    );
    assert!(
        explained.iter().all(|(answer, _)| *answer == Some(200)),
        "every explain lookup is answered: {explained:?}"
    );
    assert!(statuses.iter().all(|n| *n > 0), "status answers too");
    // (Else the probes proved nothing.)
    let last_explain = explained.iter().map(|e| e.1).max().unwrap();
    assert!(
        last_explain > probes_done,
        "the explain lookups were still in flight while the probes answered"
    );
    eprintln!(
        "slowest probe {slowest:?}; explains went on {:?} after the probes",
        last_explain - probes_done
    );
}
