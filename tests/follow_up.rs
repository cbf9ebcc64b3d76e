//! Follow-up commitments end to end, through the real binary, on a controlled clock
//! (`LEADSYNC_NOW` and the drops' modification times; no sleeps): business hours across a
//! weekend and a holiday, follow-ups by a lead status change and by the next tier, late and
//! overdue clocks, `report sla` overall and by owner, and `explain`.

mod common;

use common::Env;
use serde_json::{Value, json};
use std::process::Output;

const RULES: &str = r#"
[[rules]]
name = "opted_in"
tier = "subscriber"
when = "has_email"

[[rules]]
name = "engaged"
tier = "mql"
when = "flag('engaged')"

[[rules]]
name = "crm_says_sql"
tier = "sql"
when = "crm_rank >= 4"

[follow_up]
owner_field = "owner"

[follow_up.business_hours]
time_zone = "Europe/London"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "17:00"
holidays = ["2026-12-07"]

[[follow_up.sla]]
name = "mql_follow_up"
tier = "mql"
within = "2 business days"
evidence = ["lead_status", "next_tier", "last_contacted"]
"#;

fn env_with(rules: &str) -> Env {
    let env = Env::new("");
    let path = env.dir.path().join("rules.toml");
    std::fs::write(&path, rules).unwrap();
    env.write_config(&format!("\n[rules]\nfile = \"{}\"\n", path.display()));
    env
}

/// `leadsync ARGS` with `LEADSYNC_NOW=now`.
fn at(env: &Env, now: &str, args: &[&str]) -> Output {
    env.run_with(args, &[("LEADSYNC_NOW", now)])
}

fn ok_at(env: &Env, now: &str, args: &[&str]) -> String {
    let out = at(env, now, args);
    assert!(
        out.status.success(),
        "{args:?} at {now}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Drops a file written at `now` (its modification time: when its values were observed) and
/// syncs at `now`.
fn drop_at(env: &Env, now: &str, name: &str, text: &str) {
    let path = env.drop_file(name, text.as_bytes());
    let when = chrono::DateTime::parse_from_rfc3339(now).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(when.into()).unwrap();
    drop(file);
    ok_at(env, now, &["sync", "--once"]);
}

/// Four persons reaching MQL on Friday 2026-12-04 at 15:00 UTC, p1 and p3 owned by Ann, p2
/// and p4 by Bo.
fn four_mqls_on_friday(env: &Env) {
    drop_at(
        env,
        "2026-12-04T15:00:00Z",
        "mqls.csv",
        "Email,First Name,Engaged,Owner\n\
         p1@acme.io,P1,yes,ann\n\
         p2@acme.io,P2,yes,bo\n\
         p3@acme.io,P3,yes,ann\n\
         p4@acme.io,P4,yes,bo\n",
    );
}

fn sla_at(env: &Env, now: &str, by: &[&str]) -> Value {
    let mut args = vec!["report", "sla", "--json"];
    args.extend_from_slice(by);
    serde_json::from_str(&ok_at(env, now, &args)).unwrap()
}

fn figures(report: &Value) -> (u64, u64, u64, u64, u64) {
    let s = &report["slas"]["mql_follow_up"];
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    (
        n("reached"),
        n("in_time"),
        n("late"),
        n("waiting"),
        n("overdue"),
    )
}

#[test]
fn follow_ups_are_timed_on_business_hours_across_a_weekend_and_a_holiday() {
    // GIVEN four persons reaching MQL on Friday 2026-12-04 at 15:00 (London, UTC in winter),
    // two owned by Ann and two by Bo; two business days run to Wednesday 15:00, as Monday
    // the 7th is a holiday
    let env = env_with(RULES);
    four_mqls_on_friday(&env);

    // WHEN on Tuesday at 10:00 a sheet shows p1 worked (lead status In Progress) and p2 taken to
    // SQL by sales
    drop_at(
        &env,
        "2026-12-08T10:00:00Z",
        "worked.csv",
        "Email,Lead Status,Lifecycle Stage\n\
         p1@acme.io,In Progress,\n\
         p2@acme.io,,Sales Qualified Lead\n",
    );

    // THEN at Tuesday 16:00 those two were followed up in time (3 business hours: Friday 2,
    // Tuesday 1) and the other two still wait: without the holiday they would be overdue
    let tuesday = sla_at(&env, "2026-12-08T16:00:00Z", &[]);
    assert_eq!(figures(&tuesday), (4, 2, 0, 2, 0), "{tuesday}");
    assert_eq!(
        tuesday["slas"]["mql_follow_up"]["median_business_hours"],
        json!(3.0)
    );

    // AND on Wednesday at noon they still wait; at 16:00 they are overdue
    assert_eq!(
        figures(&sla_at(&env, "2026-12-09T12:00:00Z", &[])),
        (4, 2, 0, 2, 0)
    );
    assert_eq!(
        figures(&sla_at(&env, "2026-12-09T16:00:00Z", &[])),
        (4, 2, 0, 0, 2)
    );

    // WHEN p3 is reached on Thursday at 10:00 (lead status Connected)
    drop_at(
        &env,
        "2026-12-10T10:00:00Z",
        "late.csv",
        "Email,Lead Status\np3@acme.io,Connected\n",
    );

    // THEN p3 was followed up late, p4 is overdue; by owner, Ann has one in time and one late,
    // Bo one in time and one overdue
    let thursday = sla_at(&env, "2026-12-10T11:00:00Z", &["--by", "owner"]);
    assert_eq!(figures(&thursday), (4, 2, 1, 0, 1), "{thursday}");
    let by = &thursday["slas"]["mql_follow_up"]["by_owner"];
    assert_eq!(
        (by["ann"]["in_time"].as_u64(), by["ann"]["late"].as_u64()),
        (Some(1), Some(1)),
        "{by}"
    );
    assert_eq!(
        (by["bo"]["in_time"].as_u64(), by["bo"]["overdue"].as_u64()),
        (Some(1), Some(1)),
        "{by}"
    );

    // AND explain shows p3's clock: due Wednesday 15:00, followed up Thursday by lead status
    let explained: Value = serde_json::from_str(&ok_at(
        &env,
        "2026-12-10T11:00:00Z",
        &["explain", "p3@acme.io", "--json"],
    ))
    .unwrap();
    let clock = &explained["follow_up"][0];
    assert_eq!(clock["due_at"], "2026-12-09T15:00:00Z", "{clock}");
    assert_eq!(clock["followed_up_at"], "2026-12-10T10:00:00Z", "{clock}");
    assert_eq!(
        (&clock["by"], &clock["state"]),
        (&json!("lead_status"), &json!("late"))
    );
    let text = ok_at(&env, "2026-12-10T11:00:00Z", &["explain", "p3@acme.io"]);
    assert!(
        text.contains("mql_follow_up: reached mql 2026-12-04 15:00 UTC, due 2026-12-09 15:00 UTC"),
        "{text}"
    );

    // AND the text report has a row per owner
    let table = ok_at(
        &env,
        "2026-12-10T11:00:00Z",
        &["report", "sla", "--by", "owner"],
    );
    assert!(
        table.lines().any(|l| l.trim_start().starts_with("ann")),
        "{table}"
    );
}

#[test]
fn a_last_contacted_time_from_a_crm_field_is_a_follow_up() {
    // GIVEN the four MQLs of Friday, and on Tuesday a sheet with HubSpot's notes_last_contacted
    // (milliseconds since 1970) for p1: Tuesday 11:00, and one from before the MQL for p2
    let env = env_with(RULES);
    four_mqls_on_friday(&env);
    drop_at(
        &env,
        "2026-12-08T12:00:00Z",
        "contacted.csv",
        "Email,notes_last_contacted\n\
         p1@acme.io,1796727600000\n\
         p2@acme.io,2026-12-01T10:00:00Z\n",
    );

    // WHEN the clocks are read on Tuesday afternoon
    let explained = |who: &str| -> Value {
        serde_json::from_str(&ok_at(
            &env,
            "2026-12-08T16:00:00Z",
            &["explain", who, "--json"],
        ))
        .unwrap()
    };

    // THEN p1 was followed up at 11:00 by last_contacted; p2's contact, older than the MQL, is
    // no follow-up
    let p1 = &explained("p1@acme.io")["follow_up"][0];
    assert_eq!(p1["followed_up_at"], "2026-12-08T11:00:00Z", "{p1}");
    assert_eq!(
        (&p1["by"], &p1["state"]),
        (&json!("last_contacted"), &json!("in_time"))
    );
    let p2 = &explained("p2@acme.io")["follow_up"][0];
    assert_eq!(p2["state"], "waiting", "{p2}");
}

#[test]
fn commitments_and_clocks_that_cannot_be_read_are_refused_by_name() {
    // GIVEN rules whose commitment names a tier off the ladder, then one with no duration
    for (rules, says) in [
        (
            RULES.replace("tier = \"mql\"\nwithin", "tier = \"sal\"\nwithin"),
            "`sal` is not a tier",
        ),
        (
            RULES.replace("\"2 business days\"", "\"soon\""),
            "`soon` is not a time to follow up within",
        ),
        (
            RULES.replace("Europe/London", "Europe/Atlantis"),
            "not an IANA time zone",
        ),
    ] {
        let env = env_with(&rules);
        // WHEN the config is validated THEN it exits 2 naming the commitment and the mistake
        let out = env.run(&["validate"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
    }

    // AND a clock that cannot be read is refused before anything runs
    let env = env_with(RULES);
    let out = at(&env, "Friday afternoon", &["report", "sla"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LEADSYNC_NOW"));

    // AND rules without commitments have no report
    let env = Env::new("");
    let out = env.run(&["report", "sla"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[[follow_up.sla]]"));
}

/// Every request a webhook heard: (status answered, body).
type Heard = std::sync::Arc<std::sync::Mutex<Vec<(u16, Value)>>>;

/// A webhook on loopback that refuses the first `refuse` requests (503) and takes the rest.
fn webhook(refuse: usize) -> (u16, Heard) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&heard);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let mut log = log.lock().unwrap();
            let status = if log.len() < refuse { 503 } else { 200 };
            log.push((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                if status == 200 {
                    "OK"
                } else {
                    "Service Unavailable"
                }
            );
        }
    });
    (port, heard)
}

#[test]
fn an_overdue_person_is_notified_once_through_a_webhook_down_then_back_and_across_a_restart() {
    use common::daemon::{free_port, get, spawn, terminate, wait_until};
    use std::time::Duration;
    // GIVEN the four MQLs of Friday, two followed up on Tuesday, and a webhook that refuses
    // the first two posts
    let env = env_with(RULES);
    four_mqls_on_friday(&env);
    drop_at(
        &env,
        "2026-12-08T10:00:00Z",
        "worked.csv",
        "Email,Lead Status\np1@acme.io,In Progress\np2@acme.io,Connected\n",
    );
    let (hook, heard) = webhook(2);
    let port = free_port();
    let config = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!(
            "[admin]\nlisten = \"127.0.0.1:{port}\"\n\n[daemon]\npush_interval = \"100ms\"\n\n\
             [notify]\nwebhook = \"http://127.0.0.1:{hook}/hook\"\ncheck_interval = \"200ms\"\n\
             retry_after = \"300ms\"\n\n{config}"
        ),
    )
    .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let now = [("LEADSYNC_NOW", "2026-12-09T16:00:00Z")];
    let taken = |heard: &std::sync::Mutex<Vec<(u16, Value)>>| -> Vec<Value> {
        heard
            .lock()
            .unwrap()
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, body)| body.clone())
            .collect()
    };

    // WHEN the daemon runs on Wednesday at 16:00, past p3's and p4's deadline
    let daemon = spawn(&env.config, &now, Some(&env.dir.path().join("daemon.log")));

    // THEN after the refusals, each overdue person is posted once, with a Slack-style text
    wait_until(
        "both overdue persons taken by the webhook",
        Duration::from_secs(30),
        || taken(&heard).len() >= 2,
    );
    let bodies = taken(&heard);
    let mut emails: Vec<&str> = bodies
        .iter()
        .map(|b| b["email"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(emails, ["p3@acme.io", "p4@acme.io"], "{bodies:?}");
    for b in &bodies {
        assert_eq!(
            (&b["sla"], &b["due_at"]),
            (&json!("mql_follow_up"), &json!("2026-12-09T15:00:00Z"))
        );
        assert!(
            b["text"]
                .as_str()
                .unwrap()
                .contains("was not followed up by 2026-12-09 15:00 UTC"),
            "{b}"
        );
    }
    assert_eq!(heard.lock().unwrap().len(), 4, "two refused, two taken");
    let metrics = get(addr, "/metrics").unwrap().1;
    assert!(
        metrics.contains("leadsync_sla_overdue{sla=\"mql_follow_up\",tier=\"mql\"} 2"),
        "{metrics}"
    );
    let (code, _) = terminate(daemon, Duration::from_secs(20));
    assert_eq!(code, Some(0));

    // WHEN the daemon starts again and checks several times
    let daemon = spawn(&env.config, &now, Some(&env.dir.path().join("daemon.log")));
    wait_until(
        "the metric after the restart",
        Duration::from_secs(30),
        || get(addr, "/metrics").is_some_and(|(_, m)| m.contains("leadsync_sla_overdue{")),
    );
    std::thread::sleep(Duration::from_millis(1_000));

    // THEN nothing more was posted: each breach went out once
    assert_eq!(heard.lock().unwrap().len(), 4);
    let (code, _) = terminate(daemon, Duration::from_secs(20));
    assert_eq!(code, Some(0));
}
