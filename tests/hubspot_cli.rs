//! `validate` and `sync --once` with a HubSpot connector, the real binary against the fake.

use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot};
use std::process::Command;

fn config(dir: &std::path::Path, base_url: &str, token: &str) -> std::path::PathBuf {
    let path = dir.join("leadsync.toml");
    let text = format!(
        "[store]\nurl = \"sqlite://{}\"\n\n[connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{base_url}\"\ntoken = {token}\n",
        dir.join("db").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn leadsync(
    config: &std::path::Path,
    args: &[&str],
    token: Option<&str>,
) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadsync"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("HUBSPOT_TEST_TOKEN");
    if let Some(t) = token {
        cmd.env("HUBSPOT_TEST_TOKEN", t);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_checks_the_token_and_sync_pulls() {
    let fake = FakeHubSpot::new(FakeConfig::default());
    fake.seed(250, 1);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &server.base_url,
        "{ env = \"HUBSPOT_TEST_TOKEN\" }",
    );

    // A missing token variable is a config problem, named, and the token never printed.
    let out = leadsync(&cfg, &["validate"], None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`HUBSPOT_TEST_TOKEN` is not set"));

    // A token HubSpot refuses is a config problem too (401), and it is not echoed.
    let out = leadsync(&cfg, &["validate"], Some("wrong-secret-123")).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("401") && !all.contains("wrong-secret-123"),
        "{all}"
    );

    // The right token: validate passes, and a cycle pulls every contact.
    let out = leadsync(&cfg, &["validate"], Some("fake-token")).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("connector hubspot: ok"));
    let out = leadsync(&cfg, &["sync", "--once"], Some("fake-token")).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("persons: 250"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_hubspot_times_as_date_times() {
    // GIVEN contacts pulled from HubSpot, whose createdate is epoch milliseconds
    let fake = FakeHubSpot::new(FakeConfig::default());
    fake.seed(3, 7);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &server.base_url,
        "{ env = \"HUBSPOT_TEST_TOKEN\" }",
    );
    let out = leadsync(&cfg, &["sync", "--once"], Some("fake-token")).await;
    assert_eq!(out.status.code(), Some(0));
    let contact = fake.contacts().into_iter().next().unwrap();
    let email = contact.properties["email"].clone();
    let created = &contact.properties["createdate"];
    let at = chrono::DateTime::from_timestamp_millis(created.parse().unwrap()).unwrap();

    // WHEN the person is explained, THEN the creation time reads as a UTC date-time
    let out = leadsync(&cfg, &["explain", &email], Some("fake-token")).await;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let shown = format!("{} ({created})", at.format("%Y-%m-%d %H:%M:%S UTC"));
    assert!(
        text.contains(&format!("created_at={shown}")),
        "{shown} missing in\n{text}"
    );
    assert!(!text.contains(&format!("={created}")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_on_a_terminal_counts_contacts_and_pages() {
    // GIVEN a HubSpot account of 3,000 contacts
    let fake = FakeHubSpot::new(FakeConfig::default());
    fake.seed(3000, 3);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &server.base_url,
        "{ env = \"HUBSPOT_TEST_TOKEN\" }",
    );

    // WHEN a cycle runs on a terminal (`script` gives it one)
    let line = format!(
        "{} --config {} sync --once",
        env!("CARGO_BIN_EXE_leadsync"),
        cfg.display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qfec", &line, "/dev/null"])
        .env("HUBSPOT_TEST_TOKEN", "fake-token")
        .env_remove("LEADSYNC_CONFIG");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("script(1) runs"))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let screen = String::from_utf8_lossy(&out.stdout);

    // THEN the progress counts contacts stored (never more than there are) and pages
    let counts: Vec<u64> = screen
        .match_indices("hubspot: ")
        .filter_map(|(at, _)| {
            let rest = &screen[at + "hubspot: ".len()..];
            let (n, rest) = rest.split_once(' ')?;
            rest.starts_with("contacts stored, ")
                .then(|| n.replace(',', "").parse().ok())?
        })
        .collect();
    assert!(!counts.is_empty(), "no progress shown:\n{screen}");
    assert!(counts.iter().all(|n| *n <= 3000), "{counts:?}");
    assert!(!screen.contains("row 1"), "{screen}");
}
