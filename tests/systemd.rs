//! The systemd side: the unit verifies, and the daemon speaks the notify protocol.

mod common;

use common::Env;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    // The unit as shipped, with ExecStart pointed at this build's binary (verify checks that the
    // program exists).
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/leadsync.service"
    ))
    .unwrap();
    let unit = unit.replace("/usr/local/bin/leadsync", env!("CARGO_BIN_EXE_leadsync"));
    let path = dir.path().join("leadsync.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze is installed (.ci/run installs it)");
    let err = String::from_utf8_lossy(&out.stderr);
    // Only problems with this unit count, not the host's other units.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("leadsync.service"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{err}");
}

#[test]
fn the_daemon_notifies_ready_watchdog_and_stopping() {
    let env = Env::new("");
    let socket_path = env.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n\n{config}"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .args(["--config", env.config.to_str().unwrap(), "run"])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 256];
    while !(received.iter().any(|m: &String| m == "READY=1")
        && received.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3)
    {
        let n = socket.recv(&mut buf).expect("a notification within 20 s");
        received.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(
        received[0], "READY=1",
        "ready before any keep-alive: {received:?}"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    loop {
        let n = socket.recv(&mut buf).expect("STOPPING=1 on the way out");
        if &buf[..n] == b"STOPPING=1" {
            break;
        }
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn the_units_environment_makes_the_shipped_config_valid() {
    // GIVEN a temp folder standing for `/`: the shipped config installed in etc/leadsync, and
    // the unit's state directories made as systemd makes them (owned by the service's user)
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/leadsync.service"
    ))
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let nobody = 65534;
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let moved =
        |path: &str| path.replace("/var/lib/", &format!("{}/var/lib/", root.path().display()));
    let config = root.path().join("etc/leadsync/leadsync.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/leadsync.toml"),
        &config,
    )
    .unwrap();
    let setting = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
            .collect()
    };
    for dir in setting("StateDirectory").iter().flat_map(|v| {
        v.split_whitespace()
            .map(|d| root.path().join("var/lib").join(d))
            .collect::<Vec<_>>()
    }) {
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(nobody), Some(nobody)).unwrap();
    }
    let environment: Vec<(String, String)> = setting("Environment")
        .iter()
        .map(|v| {
            let (key, value) = v.split_once('=').expect("Environment=KEY=VALUE");
            (key.to_string(), moved(value))
        })
        .collect();
    let working_dir = moved(
        setting("WorkingDirectory")
            .first()
            .expect("WorkingDirectory="),
    );

    // WHEN `validate` runs as the unit runs leadsync: another user, in its working directory,
    // with its environment, on the shipped config
    let out = Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .arg("--config")
        .arg(&config)
        .arg("validate")
        .current_dir(&working_dir)
        .env_remove("LEADSYNC_CONFIG")
        .envs(environment.iter().map(|(k, v)| (k, v)))
        .uid(nobody)
        .gid(nobody)
        .output()
        .unwrap();

    // THEN the config is valid: the store and the inbox are in the state directory
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{environment:?}\n{text}");
    assert!(text.contains("connector drops: ok"), "{text}");
    assert!(
        root.path().join("var/lib/leadsync/leadsync.db").exists(),
        "the store is in the state directory"
    );
}
