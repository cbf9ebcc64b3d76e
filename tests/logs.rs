//! Logs: JSON lines when stderr is not a terminal (or when asked), human text when asked.

mod common;

use common::Env;
use std::process::Command;

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
