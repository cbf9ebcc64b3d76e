//! Logs: JSON lines when stderr is not a terminal (or when asked), human text when asked; and
//! output that cannot be written (a closed pipe, a full disk) never takes the process down.

mod common;

use common::Env;
use common::daemon::{assert_running, free_port, get, terminate, wait_until};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn warnings(env: &Env, format: Option<&str>) -> String {
    // A PDF in the inbox makes the sync log a warning.
    env.drop_file("scan.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadsync"));
    cmd.args(["--config", env.config.to_str().unwrap(), "sync", "--once"])
        .env_remove("RUST_LOG");
    match format {
        Some(f) => cmd.env("LEADSYNC_LOG_FORMAT", f),
        None => cmd.env_remove("LEADSYNC_LOG_FORMAT"),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn logs_are_json_lines_off_a_terminal_and_human_when_asked() {
    let json = warnings(&Env::new(""), None);
    let line = json
        .lines()
        .find(|l| l.contains("failed/"))
        .expect("the failed-file warning");
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    assert_eq!(v["level"], "WARN");
    assert_eq!(v["fields"]["file"], "scan.pdf");

    let human = warnings(&Env::new(""), Some("human"));
    let line = human
        .lines()
        .find(|l| l.contains("failed/"))
        .expect("the failed-file warning");
    assert!(
        serde_json::from_str::<serde_json::Value>(line).is_err() && line.contains("WARN"),
        "{line}"
    );
}

/// Spawns `cmd` with stdout and stderr on pipes whose read ends are closed at once, as after
/// `leadsync ... 2>&1 | head -1` once `head` has left: every write to them fails with EPIPE.
fn with_closed_pipes(cmd: &mut Command) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    child
}

fn leadsync(env: &Env, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadsync"));
    cmd.arg("--config")
        .arg(&env.config)
        .args(args)
        .env_remove("LEADSYNC_CONFIG")
        .env_remove("RUST_LOG");
    cmd
}

fn persons(addr: SocketAddr) -> Option<u64> {
    let (_, body) = get(addr, "/api/v1/status")?;
    serde_json::from_str::<serde_json::Value>(&body).ok()?["persons"].as_u64()
}

#[test]
fn the_daemon_keeps_working_when_its_stderr_is_closed() {
    // GIVEN a daemon (logging at info) whose stderr and stdout nobody reads any more
    let env = Env::new("schedule = \"* * * * * *\"");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n\n{config}"),
    )
    .unwrap();
    let mut child = with_closed_pipes(&mut leadsync(&env, &["run"]));

    // WHEN files are dropped, one after the other (each cycle logs)
    env.drop_file("first.csv", b"Email\na@acme.io\n");
    wait_until("the first drop", Duration::from_secs(20), || {
        assert_running(&mut child);
        persons(addr) == Some(1)
    });
    env.drop_file("second.csv", b"Email\nb@acme.io\n");
    wait_until("the second drop", Duration::from_secs(20), || {
        assert_running(&mut child);
        persons(addr) == Some(2)
    });

    // THEN it took both, and still stops cleanly on SIGTERM
    assert_eq!(terminate(child, Duration::from_secs(30)).0, Some(0));
    assert_eq!(env.person_count(), 2);
}

#[test]
fn sync_once_does_its_work_and_exits_0_with_stdout_and_stderr_closed() {
    // GIVEN a drop and a PDF (which makes the sync log a warning)
    let env = Env::new("");
    env.drop_file("signups.csv", b"Email\na@acme.io\nb@acme.io\n");
    env.drop_file("scan.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");

    // WHEN `sync --once` runs with nobody reading its output or its logs
    let status = with_closed_pipes(&mut leadsync(&env, &["sync", "--once"]))
        .wait()
        .unwrap();

    // THEN the work is done and the exit code says so
    assert_eq!(status.code(), Some(0));
    assert_eq!(env.person_count(), 2);
    assert!(Env::moved(&env.failed_dir(), "scan.pdf").is_some());
    assert!(Env::moved(&env.processed_dir(), "signups.csv").is_some());
}

#[test]
fn report_output_to_a_reader_that_left_is_fine_and_to_a_full_disk_fails_with_exit_1() {
    let env = Env::new("");
    env.drop_file("signups.csv", b"Email\na@acme.io\n");
    env.sync();

    // WHEN the report's reader has gone away (`report funnel | head -0`)
    let mut child = leadsync(&env, &["report", "funnel"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    // THEN it ends quietly, with success
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    // WHEN its output cannot be written (a full disk)
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = leadsync(&env, &["report", "funnel", "--json"])
        .stdout(full)
        .output()
        .unwrap();
    // THEN it fails with exit 1 and says why
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write the output to stdout"),
        "{stderr}"
    );
}
