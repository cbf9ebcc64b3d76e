//! The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! driven over WebDriver) against `leadsync run` on 127.0.0.1 with the fake HubSpot and drops:
//! the login, every page without console errors, the funnel page's numbers against
//! `report funnel --json` (overall, by source, with cohorts), a dead letter retried from the
//! page until it lands, a wrong token and a missing CSRF token refused. Screenshots of every
//! page go to `target/dashboard-screenshots/`.

mod common;

use common::browser::Browser;
use common::daemon::{free_port, get, spawn, terminate, wait_until};
use leadsync::connector::{Field, Locator, SourceRecord};
use leadsync::pipeline::{PageIngest, PushTarget};
use leadsync::rules::{Rules, RulesSource};
use leadsync::store::{SqliteStore, prelude::*};
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, ServerHandle};
use leadsync_sample as sample;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const SEED: u64 = 31;
const TOKEN: &str = "dashboard-admin-7c2e";
/// Persons of the sample: two in three are HubSpot contacts, all of them are in the drops
/// (enough for a bad row in each file: one in 150).
const PERSONS: usize = 480;
/// The id the fake gives its next contact (it numbers them from 1): the ghost record's,
/// dead-lettered until it exists.
const GHOST_ID: &str = "321";

struct World {
    fake: FakeHubSpot,
    _server: ServerHandle,
    dir: tempfile::TempDir,
    db: PathBuf,
    config: PathBuf,
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl World {
    fn new() -> World {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = FakeHubSpot::new(FakeConfig::default());
        let contacts = sample::seed_hubspot(&fake, SEED, PERSONS);
        assert_eq!(contacts + 1, GHOST_ID.parse::<usize>().unwrap());
        let server = runtime
            .block_on(fake.serve("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        sample::write_drops(&inbox, SEED, PERSONS).unwrap();
        let (db, config) = (
            dir.path().join("leadsync.db"),
            dir.path().join("leadsync.toml"),
        );
        let token = dir.path().join("hubspot-token");
        std::fs::write(&token, &fake.config().token).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        std::fs::write(
            &config,
            format!(
                "[store]\nurl = \"sqlite://{db}\"\n\n\
                 [admin]\nlisten = \"{addr}\"\ntoken = {{ env = \"LEADSYNC_TEST_ADMIN_TOKEN\" }}\n\
                 record_links = {{ hubspot = \"https://app.hubspot.com/contacts/1/record/0-1/{{id}}\" }}\n\n\
                 [daemon]\npush_interval = \"1s\"\n\n\
                 [connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{inbox}\"\nsettle = \"0s\"\n\n\
                 [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"{url}\"\ntoken = {{ file = \"{token}\" }}\npush = true\n",
                db = db.display(),
                inbox = inbox.display(),
                url = server.base_url,
                token = token.display(),
            ),
        )
        .unwrap();
        World {
            fake,
            _server: server,
            dir,
            db,
            config,
            addr,
            _runtime: runtime,
        }
    }

    /// A HubSpot record the store holds but HubSpot does not (yet): its push is refused for
    /// good, a dead letter.
    fn store_ghost(&self) {
        let settings = leadsync::config::load(&self.config).unwrap();
        let rules = Arc::new(Rules::load(RulesSource::builtin()).unwrap());
        let ingest = PageIngest::new(&settings.identity, &settings.merge, rules)
            .with_push_targets(vec![PushTarget::forward("hubspot")]);
        let ghost = SourceRecord {
            locator: Locator::Crm {
                id: GHOST_ID.into(),
            },
            observed_at: chrono::Utc::now(),
            values: vec![
                (Field::Email, "grace.ghost@example.org".into()),
                (Field::FirstName, "Grace".into()),
                (Field::LastName, "Ghost".into()),
            ],
            archived: false,
        };
        let mut store = self.store();
        let mut tx = store.begin().unwrap();
        ingest
            .apply_page(tx.as_mut(), "hubspot", &[ghost], chrono::Utc::now())
            .unwrap();
        tx.commit().unwrap();
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.db).unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `leadsync report funnel --json` with `args`, on the same store.
    fn report(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .args([
                "--config",
                self.config.to_str().unwrap(),
                "report",
                "funnel",
                "--json",
            ])
            .args(args)
            .env_remove("LEADSYNC_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }
}

/// A raw request with header lines and a form body: (status, headers and body).
fn raw(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer)
}

fn number(text: &str) -> u64 {
    text.trim()
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {text:?}"))
}

/// The funnel page's figures in the shape of `report funnel --json`'s (tiers, reached,
/// conversions, total, unqualified).
fn page_funnel(b: &Browser, tiers: &[String]) -> Value {
    let mut out = serde_json::json!({
        "total": number(&b.text("#total")),
        "unqualified": number(&b.text("#unqualified")),
    });
    let (mut counts, mut reached, mut conversions) = (
        serde_json::Map::new(),
        serde_json::Map::new(),
        serde_json::Map::new(),
    );
    for t in tiers {
        let row = format!("#funnel-table tr[data-tier='{t}']");
        counts.insert(
            t.clone(),
            number(&b.text(&format!("{row} td.count"))).into(),
        );
        reached.insert(
            t.clone(),
            number(&b.text(&format!("{row} td.reached"))).into(),
        );
        if let Some(key) = b.attribute(&format!("{row} td.conversion"), "data-key") {
            let value = b
                .attribute(&format!("{row} td.conversion"), "data-value")
                .unwrap_or_default();
            let v = if value.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&value).unwrap()
            };
            conversions.insert(key, v);
        }
    }
    out["tiers"] = counts.into();
    out["reached"] = reached.into();
    out["conversions"] = conversions.into();
    out
}

/// The parts of a `report funnel` JSON the page shows.
fn shown(report: &Value) -> Value {
    serde_json::json!({
        "total": report["total"],
        "unqualified": report["unqualified"],
        "tiers": report["tiers"],
        "reached": report["reached"],
        "conversions": report["conversions"],
    })
}

/// Compares the page with the report, reading the report before and after the page so a
/// cycle that changed the store in between is seen (and the comparison made again).
fn assert_page_matches(b: &Browser, url: &str, report: impl Fn() -> Value, tiers: &[String]) {
    for attempt in 0.. {
        let before = report();
        b.goto(url);
        let page = page_funnel(b, tiers);
        let after = report();
        if before == after {
            assert_eq!(page, shown(&after), "{url}");
            return;
        }
        assert!(attempt < 5, "the store kept changing under {url}");
    }
}

fn shots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-screenshots")
}

/// Clicks, then waits for the page the click leads to (a click may return before its
/// navigation ends).
fn click_then(b: &Browser, css: &str, then: &str) {
    b.click(css);
    b.wait_for(then, Duration::from_secs(15));
}

fn assert_no_console_errors(b: &Browser, page: &str) {
    let errors = b.console_errors();
    assert!(errors.is_empty(), "{page}: console errors {errors:?}");
}

#[test]
fn the_dashboard_shows_what_the_reports_say_and_guards_its_pages_and_actions() {
    if !Browser::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium and chromium-driver (.ci/run installs them)"
        );
        eprintln!("SKIPPED: install chromium and chromium-driver to run the dashboard tests");
        return;
    }
    let world = World::new();
    world.store_ghost();
    let daemon = spawn(
        &world.config,
        &[("LEADSYNC_TEST_ADMIN_TOKEN", TOKEN)],
        Some(&world.dir.path().join("daemon.log")),
    );
    wait_until("/healthz", Duration::from_secs(30), || {
        get(world.addr, "/healthz").is_some_and(|(s, _)| s == 200)
    });
    // GIVEN the drops taken, the contacts pulled, every push made and the ghost's refused
    wait_until("the ghost's dead letter", Duration::from_secs(60), || {
        let outbox = world.store().outbox_counts("hubspot").unwrap();
        outbox.get("dead") == Some(&1) && !outbox.contains_key("pending")
    });
    let dead = world.store().dead_letters(10).unwrap();
    assert_eq!(dead[0].record_id, GHOST_ID, "{}", world.log());

    // A wrong token, a forged session or none reaches no page and no action.
    for path in [
        "/",
        "/sync",
        "/person",
        "/person/1",
        "/review",
        "/?source=google",
    ] {
        for headers in [
            String::new(),
            "Authorization: Bearer wrong-token\r\n".into(),
            "Cookie: leadsync_session=0123456789abcdef\r\n".into(),
        ] {
            let (status, answer) = raw(world.addr, "GET", path, &headers, "");
            assert_eq!(status, 303, "{path} {headers:?}: {answer}");
            assert!(
                answer
                    .to_ascii_lowercase()
                    .contains("location: /login?next="),
                "{answer}"
            );
        }
    }
    let id = dead[0].id;
    for path in [
        format!("/dead-letters/{id}/retry"),
        "/review/1/accept".into(),
        "/logout".into(),
    ] {
        let (status, _) = raw(
            world.addr,
            "POST",
            &path,
            "Authorization: Bearer wrong\r\n",
            "csrf=x",
        );
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = raw(world.addr, "POST", "/login", "", "token=wrong&next=%2F");
    assert_eq!(status, 401);

    let b = Browser::start();
    // Log in: the form asks, a wrong token is refused, the right one opens the funnel.
    b.goto(&world.url("/sync"));
    assert!(b.url().contains("/login"), "{}", b.url());
    b.screenshot(&shots().join("login.png"));
    b.fill("#token", "not-the-token");
    click_then(&b, "button[type=submit]", "#login-failed");
    // The refused login is the one error the browser logs (its 401).
    let errors = b.console_errors();
    assert!(
        errors
            .iter()
            .all(|e| e.contains("/login") && e.contains("401")),
        "{errors:?}"
    );
    b.fill("#token", TOKEN);
    click_then(&b, "button[type=submit]", "[data-connector]");
    assert!(
        b.url().ends_with("/sync"),
        "back where the login began: {}",
        b.url()
    );
    let cookies = b.cookies();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "leadsync_session")
        .expect("a session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Strict");
    let cookie = format!(
        "Cookie: leadsync_session={}\r\n",
        session["value"].as_str().unwrap()
    );
    // The session opens pages, not the bearer-only API.
    assert_eq!(raw(world.addr, "GET", "/api/v1/status", &cookie, "").0, 401);

    // The funnel: the same figures as `report funnel --json`.
    let overall = world.report(&[]);
    let tiers: Vec<String> = overall["tiers"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_page_matches(&b, &world.url("/"), || world.report(&[]), &tiers);
    assert!(b.exists("#funnel-chart") && b.exists("#trend-chart"));
    assert_eq!(b.texts("#trend-table tbody tr").len(), 12);
    assert_no_console_errors(&b, "funnel");
    b.screenshot_full(&shots().join("funnel.png"));

    // A source, chosen from the page's own table: `report funnel --by source`'s figures.
    let by_source = world.report(&["--by", "source"]);
    let (source, _) = by_source["by_source"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name != "(none)")
        .max_by_key(|(_, f)| f["total"].as_u64())
        .expect("the drops have sources");
    let source = source.clone();
    click_then(
        &b,
        &format!("#source-table tr[data-source='{source}'] a"),
        "#filtered-source",
    );
    assert_eq!(b.text("#filtered-source"), source);
    let filtered = page_funnel(&b, &tiers);
    assert_eq!(filtered, shown(&by_source["by_source"][&source]));
    assert_ne!(
        filtered["total"], overall["total"],
        "the filter changes the figures"
    );
    assert_page_matches(
        &b,
        &world.url(&format!("/?source={source}")),
        || world.report(&["--by", "source"])["by_source"][&source].clone(),
        &tiers,
    );
    assert_no_console_errors(&b, "funnel by source");
    b.screenshot_full(&shots().join("funnel-source.png"));

    // Cohorts since a date: `report funnel --since`'s steps.
    let since = world.report(&["--since", "2020-01-01"]);
    b.goto(&world.url("/?since=2020-01-01"));
    for (key, step) in since["cohorts"].as_object().unwrap() {
        if key == "since" {
            continue;
        }
        let row = format!("#cohort-table tr[data-step='{key}']");
        assert_eq!(
            number(&b.text(&format!("{row} td.entered"))),
            step["entered"].as_u64().unwrap(),
            "{key}"
        );
        assert_eq!(
            number(&b.text(&format!("{row} td.advanced"))),
            step["advanced"].as_u64().unwrap(),
            "{key}"
        );
    }
    assert_no_console_errors(&b, "funnel with cohorts");

    // Sync: each connector, the files taken with their rejects, the dead letter.
    b.goto(&world.url("/sync"));
    assert!(b.exists("[data-connector='drops'] table.files"));
    assert!(b.exists("[data-connector='hubspot'] [data-outbox='dead']"));
    let rejects = b
        .attribute("[data-connector='drops'] table.files a[download]", "href")
        .expect("a file with rejects to download");
    let (status, csv) = raw(world.addr, "GET", &rejects, &cookie, "");
    assert_eq!(status, 200);
    assert!(
        csv.contains("text/csv") && csv.contains("\r\n\r\nrow,reason,"),
        "{csv}"
    );
    assert!(b.exists(&format!("#dead-letters tr[data-dead='{id}']")));
    assert_no_console_errors(&b, "sync");
    b.screenshot_full(&shots().join("sync.png"));

    // A POST without the session's CSRF token, or with another, is refused and changes nothing.
    for body in [String::new(), "csrf=0000".into()] {
        let (status, _) = raw(
            world.addr,
            "POST",
            &format!("/dead-letters/{id}/retry"),
            &cookie,
            &body,
        );
        assert_eq!(status, 403, "{body:?}");
    }
    assert_eq!(world.store().dead_letters(10).unwrap().len(), 1);

    // The contact now exists in HubSpot; the retry from the page lands.
    let mut props = BTreeMap::new();
    props.insert("email".to_string(), "grace.ghost@example.org".to_string());
    assert_eq!(world.fake.insert(props), GHOST_ID);
    click_then(
        &b,
        &format!("#dead-letters tr[data-dead='{id}'] button"),
        "#flash",
    );
    let flash = b.try_text("#flash");
    assert!(
        flash
            .as_deref()
            .is_some_and(|f| f.contains("back in the outbox")),
        "{} {}",
        b.url(),
        b.text("main")
    );
    wait_until("the retried push to land", Duration::from_secs(30), || {
        world.store().outbox_of(dead[0].person).unwrap()[0].status == "done"
    });
    assert!(
        world
            .fake
            .contact(GHOST_ID)
            .unwrap()
            .properties
            .contains_key("lifecyclestage"),
        "the stage reached HubSpot"
    );
    b.goto(&world.url("/sync"));
    assert!(!b.exists(&format!("#dead-letters tr[data-dead='{id}']")));

    // Person: found by email, with the explain view's tier and a link to the CRM record.
    let contact = world.fake.contact("1").unwrap();
    let email = contact.properties["email"].clone();
    b.goto(&world.url("/person"));
    b.fill("#q", &email);
    click_then(&b, "main form button[type=submit]", "#person");
    assert!(b.url().contains("/person/"), "{}", b.url());
    let explain = Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .args([
            "--config",
            world.config.to_str().unwrap(),
            "explain",
            &email,
            "--json",
        ])
        .output()
        .unwrap();
    let explain: Value = serde_json::from_slice(&explain.stdout).unwrap();
    assert_eq!(
        b.text("#tier"),
        explain["tier"].as_str().unwrap_or("unqualified")
    );
    assert_eq!(
        b.attribute("#records a[href*='app.hubspot.com']", "href")
            .as_deref(),
        Some("https://app.hubspot.com/contacts/1/record/0-1/1")
    );
    assert!(b.texts("#fields td").iter().any(|t| t == &email));
    assert_no_console_errors(&b, "person");
    b.screenshot_full(&shots().join("person.png"));
    b.goto(&world.url("/person?q=nobody%40nowhere.example"));
    assert!(b.exists("#not-found"));

    // Review and follow-up: the queue (empty here) and the commitments (none set).
    b.goto(&world.url("/review"));
    assert!(b.exists("#review-queue") && b.exists("#overdue"));
    assert_no_console_errors(&b, "review");
    b.screenshot_full(&shots().join("review.png"));

    // On a phone: the funnel fits the screen's width.
    let phone = Browser::start_with_size(390, 844);
    phone.goto(&world.url("/login"));
    phone.fill("#token", TOKEN);
    click_then(&phone, "button[type=submit]", "#funnel-table");
    let fits = phone.script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
        vec![],
    );
    assert_eq!(
        fits,
        Value::Bool(true),
        "the page scrolls sideways on a phone"
    );
    assert_no_console_errors(&phone, "funnel on a phone");
    phone.screenshot_full(&shots().join("funnel-phone.png"));

    // Logging out ends the session: its cookie opens nothing more.
    b.goto(&world.url("/"));
    click_then(&b, "header form button", "#token");
    assert!(b.url().contains("/login"), "{}", b.url());
    assert_eq!(raw(world.addr, "GET", "/", &cookie, "").0, 303);

    let (code, _) = terminate(daemon, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{}", world.log());
}
