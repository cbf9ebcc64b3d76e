//! The daemon and its inboxes: files still being written never stall the cycle, the stop or
//! the systemd watchdog, and a file that cannot be taken is reported once and shown.

mod common;

use common::Env;
use common::daemon::{assert_running, free_port, get, spawn, status, terminate, wait_until};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The config with `[admin]` and `[daemon]` lines put first and `settle` replaced.
fn configure(env: &Env, port: u16, daemon: &str, settle: &str) {
    let config = std::fs::read_to_string(&env.config).unwrap();
    let config = config.replace("settle = \"0s\"", &format!("settle = \"{settle}\""));
    std::fs::write(
        &env.config,
        format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n\n[daemon]\n{daemon}\n\n{config}"),
    )
    .unwrap();
}

fn count_in(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches(needle)
        .count()
}

#[test]
fn a_skipped_file_is_logged_once_and_shown_by_status_and_metrics() {
    // GIVEN a daemon scanning every second an inbox that holds a symlink
    let env = Env::new("schedule = \"* * * * * *\"");
    let outside = env.dir.path().join("elsewhere.csv");
    std::fs::write(&outside, "Email\nlinked@acme.io\n").unwrap();
    std::os::unix::fs::symlink(&outside, env.inbox.join("link.csv")).unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    configure(&env, port, "", "0s");
    let log = env.dir.path().join("daemon.log");
    let mut child = spawn(&env.config, &[], Some(&log));

    // THEN the status names it, with the reason
    wait_until("the symlink in the status", Duration::from_secs(20), || {
        assert_running(&mut child);
        status(addr, None).is_some_and(|s| {
            s["connectors"][0]["inbox"]["skipped"][0]["file"] == "link.csv"
                && s["connectors"][0]["inbox"]["skipped"][0]["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("symbolic link"))
        })
    });
    // AND after several more passes it was logged once only, and the metric counts it
    wait_until("four passes", Duration::from_secs(20), || {
        count_in(&log, "Cycle done.") >= 4
    });
    assert_eq!(count_in(&log, "File in the inbox skipped"), 1);
    let metric = "leadsync_inbox_skipped_files{connector=\"drops\"}";
    let metrics = get(addr, "/metrics").unwrap().1;
    assert!(metrics.contains(&format!("{metric} 1")), "{metrics}");

    // WHEN it is removed THEN the status and the metric forget it
    std::fs::remove_file(env.inbox.join("link.csv")).unwrap();
    wait_until("the skip gone", Duration::from_secs(20), || {
        get(addr, "/metrics").is_some_and(|(_, m)| m.contains(&format!("{metric} 0")))
            && status(addr, None)
                .is_some_and(|s| s["connectors"][0]["inbox"]["skipped"] == serde_json::json!([]))
    });
    assert_eq!(terminate(child, Duration::from_secs(15)).0, Some(0));
    assert_eq!(env.person_count(), 0, "the link was never followed");
}

/// Appends a row every `every` to `path` until `rows` are written or `stop` is set.
fn grow(
    path: PathBuf,
    rows: usize,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"Email,First Name\n").unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut written = 0;
        while written < rows && !stop.load(Ordering::Relaxed) {
            writeln!(f, "{stem}-{written}@acme.io,P{written}").unwrap();
            f.flush().unwrap();
            written += 1;
            // On purpose: a writer appending slowly, as an export still being written.
            std::thread::sleep(every);
        }
        written
    })
}

#[test]
fn files_growing_for_90_s_keep_the_watchdog_fed_and_stop_promptly() {
    // GIVEN a daemon under a 10-s systemd watchdog, settle 2 s, a 5-s shutdown timeout, and an
    // inbox only watched (its schedule fires once a year)
    let env = Env::new("schedule = \"0 0 0 1 1 *\"");
    let port = free_port();
    configure(&env, port, "shutdown_timeout = \"5s\"", "2s");
    let socket_path = env.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let heard: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let listening = Arc::new(AtomicBool::new(true));
    let listener = {
        let (heard, listening) = (Arc::clone(&heard), Arc::clone(&listening));
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while listening.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    heard.lock().unwrap().push((Instant::now(), msg));
                }
            }
        })
    };
    let log = env.dir.path().join("daemon.log");
    let mut child = spawn(
        &env.config,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "10000000"),
        ],
        Some(&log),
    );
    wait_until("READY=1", Duration::from_secs(20), || {
        assert_running(&mut child);
        heard.lock().unwrap().iter().any(|(_, m)| m == "READY=1")
    });

    // WHEN two files grow in the inbox for 90 s, a row a second
    let never = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = ["grow1.csv", "grow2.csv"]
        .iter()
        .map(|n| {
            grow(
                env.inbox.join(n),
                90,
                Duration::from_secs(1),
                Arc::clone(&never),
            )
        })
        .collect();
    let rows: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();

    // THEN once they stop growing both are taken whole, with no event from the watcher (a
    // file moves to processed/ after its last page is committed, so the two are awaited alike)
    wait_until("both files taken whole", Duration::from_secs(20), || {
        assert_running(&mut child);
        env.person_count() == rows as u64
            && Env::moved(&env.processed_dir(), "grow1.csv").is_some()
            && Env::moved(&env.processed_dir(), "grow2.csv").is_some()
    });

    // AND WHEN SIGTERM arrives while another file grows
    let stop = Arc::new(AtomicBool::new(false));
    let third = grow(
        env.inbox.join("grow3.csv"),
        usize::MAX,
        Duration::from_millis(200),
        Arc::clone(&stop),
    );
    wait_until("the third file seen", Duration::from_secs(20), || {
        count_in(&log, "grow3.csv") > 0
            || env
                .inbox
                .join("grow3.csv")
                .metadata()
                .is_ok_and(|m| m.len() > 200)
    });
    let (code, took) = terminate(child, Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    third.join().unwrap();
    listening.store(false, Ordering::Relaxed);
    listener.join().unwrap();

    // THEN it exits 0 within the shutdown timeout, leaving the growing file in the inbox
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    assert!(env.inbox.join("grow3.csv").exists());

    // AND no two keep-alives were more than 5 s apart, from READY to STOPPING
    let heard = heard.lock().unwrap();
    let ready = heard.iter().position(|(_, m)| m == "READY=1").unwrap();
    let stopping = heard
        .iter()
        .position(|(_, m)| m == "STOPPING=1")
        .expect("STOPPING=1");
    let beats: Vec<Instant> = heard[ready..=stopping]
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1" || m == "READY=1" || m == "STOPPING=1")
        .map(|(t, _)| *t)
        .collect();
    let widest = beats.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        beats.len() > 20 && widest <= Duration::from_secs(5),
        "{} keep-alives, widest gap {widest:?}",
        beats.len()
    );
}
