//! What the connector benchmarks share to measure a client alone: a fake CRM in a child process
//! (this bench binary run again with a `serve-…` argument), and CPU time and bytes written read
//! from `/proc`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// User and system CPU seconds of this process so far.
pub fn cpu_split() -> (f64, f64) {
    cpu_split_of("self")
}

/// User and system CPU seconds of a process so far (`self` or a pid).
pub fn cpu_split_of(pid: &str) -> (f64, f64) {
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

/// User plus system CPU seconds of a child so far.
pub fn cpu_of(child: &Child) -> f64 {
    let (user, system) = cpu_split_of(&child.id().to_string());
    user + system
}

/// Bytes this process has handed to `write`-like calls so far (files and sockets alike).
pub fn written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("wchar: ")?.trim().parse().ok())
        .unwrap_or(0)
}

/// This bench binary run again with `args` (a `serve-…` mode that prints the fake's base URL
/// on its first line once it serves); returns the child and that URL.
pub fn spawn_fake(args: &[String]) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(
        url.starts_with("http://"),
        "the fake started with {args:?} printed {line:?}, not its base URL"
    );
    (child, url)
}
