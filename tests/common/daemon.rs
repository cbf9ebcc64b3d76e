//! `leadsync run` as a child process, and a small HTTP client for its admin API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET with an optional bearer token: (status, body); `None` while nothing
/// listens.
pub fn get_as(addr: SocketAddr, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    get_with(addr, path, &auth)
}

/// A plain HTTP/1.1 GET with extra header lines (each ending in `\r\n`): (status, body);
/// `None` while nothing listens.
pub fn get_with(addr: SocketAddr, path: &str, headers: &str) -> Option<(u16, String)> {
    request(addr, "GET", path, headers)
}

/// A plain HTTP/1.1 POST without a body: (status, body); `None` while nothing listens.
pub fn post(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    request(addr, "POST", path, "Content-Length: 0\r\n")
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    get_as(addr, path, None)
}

/// `/api/v1/status` as JSON.
pub fn status(addr: SocketAddr, token: Option<&str>) -> Option<serde_json::Value> {
    let (code, body) = get_as(addr, "/api/v1/status", token)?;
    (code == 200).then(|| serde_json::from_str(&body).ok())?
}

/// Waits until `check` holds, asking every 100 ms; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, check: impl FnMut() -> bool) {
    assert!(poll_until(timeout, check), "timed out waiting for {what}");
}

/// Asks `check` every 100 ms until it holds (`true`) or `timeout` has passed (`false`): for a
/// wait whose end the caller reports itself.
pub fn poll_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if check() {
            return true;
        }
        if started.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Panics with the exit status when the daemon has stopped on its own: a wait for its work
/// then fails at once, naming the cause, instead of at its timeout.
pub fn assert_running(child: &mut Child) {
    if let Some(status) = child.try_wait().unwrap() {
        panic!("the daemon exited on its own: {status}");
    }
}

/// Starts `leadsync --config CONFIG run`, its logs in `log` when given.
pub fn spawn(config: &Path, envs: &[(&str, &str)], log: Option<&Path>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadsync"));
    cmd.args(["--config", config.to_str().unwrap(), "run"])
        .env_remove("LEADSYNC_CONFIG")
        .stdout(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    match log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            cmd.stderr(file);
        }
        None => {
            cmd.stderr(Stdio::null());
        }
    }
    cmd.spawn().unwrap()
}

pub fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

/// SIGTERM, then waits for the exit: its code and how long it took (a panic after `within`).
pub fn terminate(mut child: Child, within: Duration) -> (Option<i32>, Duration) {
    signal(&child, "TERM");
    let stopped = Instant::now();
    let code = exit_code(&mut child, within);
    (code, stopped.elapsed())
}

/// Waits for the child to exit; its exit code, or a panic after `timeout`.
pub fn exit_code(child: &mut Child, timeout: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            started.elapsed() < timeout,
            "still running after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
