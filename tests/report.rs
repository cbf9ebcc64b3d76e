//! `report funnel` end to end: a drop with known stages and sources, synced, then the JSON
//! numbers — overall, `--by source` and `--since` cohorts — checked exactly.

mod common;

use chrono::{Days, Utc};
use common::Env;
use serde_json::{Value, json};

/// Ten persons with distinct emails and phones. Tiers follow from the CRM stage (a floor) or the
/// fields present (an email: subscriber; name, email and phone: lead):
///
/// | # | tier        | source   |
/// |---|-------------|----------|
/// | 1 | subscriber  | google   |
/// | 2 | subscriber  | google   | (no stage, email only)
/// | 3 | lead        | google   |
/// | 4 | lead        | linkedin | (no stage, name + email + phone)
/// | 5 | mql         | google   |
/// | 6 | sql         | linkedin |
/// | 7 | opportunity | (none)   |
/// | 8 | customer    | google   |
/// | 9 | customer    | linkedin |
/// | 10| subscriber  | (none)   |
const DROP: &str = "\
Email,First Name,Last Name,Phone Number,Lifecycle Stage,Original Source
sub1@acme-mail.com,,,,subscriber,Google
sub2@acme-mail.com,,,,,google
ann.lee@acme-mail.com,Ann,Lee,+1 650 253 0001,lead,Google
bo.park@acme-mail.com,Bo,Park,+1 650 253 0002,,LinkedIn
cy.diaz@acme-mail.com,Cy,Diaz,+1 650 253 0003,Marketing Qualified Lead,google
di.wu@acme-mail.com,Di,Wu,+1 650 253 0004,Sales Qualified Lead,linkedin
ed.ito@acme-mail.com,Ed,Ito,+1 650 253 0005,Opportunity,
fa.roe@acme-mail.com,Fa,Roe,+1 650 253 0006,Customer,Google
gu.oku@acme-mail.com,Gu,Oku,+1 650 253 0007,customer,LinkedIn
sub3@acme-mail.com,,,,Subscriber,
";

fn synced() -> Env {
    let env = Env::new("");
    env.drop_file("contacts.csv", DROP.as_bytes());
    env.sync();
    assert_eq!(env.person_count(), 10);
    env
}

fn funnel_json(env: &Env, extra: &[&str]) -> Value {
    let mut args = vec!["report", "funnel", "--json"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn tiers(s: u64, l: u64, m: u64, q: u64, o: u64, c: u64) -> Value {
    json!({"subscriber": s, "lead": l, "mql": m, "sql": q, "opportunity": o, "customer": c})
}

fn conversions(values: [Option<f64>; 5]) -> Value {
    json!({
        "subscriber_to_lead": values[0],
        "lead_to_mql": values[1],
        "mql_to_sql": values[2],
        "sql_to_opportunity": values[3],
        "opportunity_to_customer": values[4],
    })
}

fn step(entered: u64, advanced: u64, share: Option<f64>, median_days: Option<f64>) -> Value {
    json!({"entered": entered, "advanced": advanced, "share": share, "median_days": median_days})
}

#[test]
fn the_plain_funnel_keeps_the_contract() {
    let env = synced();
    let f = funnel_json(&env, &[]);
    assert_eq!(f["tiers"], tiers(3, 2, 1, 1, 1, 2));
    assert_eq!(f["reached"], tiers(10, 7, 5, 4, 3, 2));
    assert_eq!(f["total"], 10);
    assert_eq!(f["unqualified"], 0);
    assert_eq!(
        f["conversions"],
        conversions([Some(0.7), Some(0.7143), Some(0.8), Some(0.75), Some(0.6667)])
    );
    let mut keys: Vec<_> = f.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["conversions", "reached", "tiers", "total", "unqualified"]
    );
}

#[test]
fn by_source_splits_the_funnel_and_keeps_the_overall_one_on_top() {
    let env = synced();
    let f = funnel_json(&env, &["--by", "source"]);
    assert_eq!(f["tiers"], tiers(3, 2, 1, 1, 1, 2));
    assert_eq!(f["total"], 10);
    assert!(f.get("cohorts").is_none());

    let by = f["by_source"].as_object().unwrap();
    let mut names: Vec<_> = by.keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["(none)", "google", "linkedin"]);

    let g = &by["google"];
    assert_eq!(g["tiers"], tiers(2, 1, 1, 0, 0, 1));
    assert_eq!(g["reached"], tiers(5, 3, 2, 1, 1, 1));
    assert_eq!((&g["total"], &g["unqualified"]), (&json!(5), &json!(0)));
    assert_eq!(
        g["conversions"],
        conversions([Some(0.6), Some(0.6667), Some(0.5), Some(1.0), Some(1.0)])
    );

    let li = &by["linkedin"];
    assert_eq!(li["tiers"], tiers(0, 1, 0, 1, 0, 1));
    assert_eq!(li["reached"], tiers(3, 3, 2, 2, 1, 1));
    assert_eq!(li["total"], 3);
    assert_eq!(
        li["conversions"],
        conversions([Some(1.0), Some(0.6667), Some(1.0), Some(0.5), Some(1.0)])
    );

    let none = &by["(none)"];
    assert_eq!(none["tiers"], tiers(1, 0, 0, 0, 1, 0));
    assert_eq!(none["reached"], tiers(2, 1, 1, 1, 1, 0));
    assert_eq!(none["total"], 2);
    assert_eq!(
        none["conversions"],
        conversions([Some(0.5), Some(1.0), Some(1.0), Some(1.0), Some(0.0)])
    );
}

#[test]
fn cohorts_since_yesterday_hold_everyone_and_since_tomorrow_nobody() {
    let tomorrow = Utc::now().date_naive() + Days::new(1);
    let env = synced();
    // Every tier change was stamped during the sync, so today.
    let yesterday = Utc::now().date_naive() - Days::new(1);

    let yesterday_s = yesterday.format("%Y-%m-%d").to_string();
    let f = funnel_json(&env, &["--since", &yesterday_s, "--by", "source"]);
    assert_eq!(f["tiers"], tiers(3, 2, 1, 1, 1, 2));
    let c = &f["cohorts"];
    assert_eq!(c["since"], yesterday_s.as_str());
    // Everyone is in the cohort of every tier they reached, and moved up within the same sync.
    assert_eq!(c["subscriber_to_lead"], step(10, 7, Some(0.7), Some(0.0)));
    assert_eq!(c["lead_to_mql"], step(7, 5, Some(0.7143), Some(0.0)));
    assert_eq!(c["mql_to_sql"], step(5, 4, Some(0.8), Some(0.0)));
    assert_eq!(c["sql_to_opportunity"], step(4, 3, Some(0.75), Some(0.0)));
    assert_eq!(
        c["opportunity_to_customer"],
        step(3, 2, Some(0.6667), Some(0.0))
    );
    assert_eq!(c.as_object().unwrap().len(), 6);
    let g = &f["by_source"]["google"]["cohorts"];
    assert_eq!(g["subscriber_to_lead"], step(5, 3, Some(0.6), Some(0.0)));
    assert_eq!(g["mql_to_sql"], step(2, 1, Some(0.5), Some(0.0)));
    let none = &f["by_source"]["(none)"]["cohorts"];
    assert_eq!(none["opportunity_to_customer"], step(1, 0, Some(0.0), None));
    assert_eq!(none["since"], yesterday_s.as_str());

    let tomorrow_s = tomorrow.format("%Y-%m-%d").to_string();
    let f = funnel_json(&env, &["--since", &tomorrow_s]);
    // The funnel now is the same; the cohorts are empty.
    assert_eq!(f["tiers"], tiers(3, 2, 1, 1, 1, 2));
    assert!(f.get("by_source").is_none());
    let c = &f["cohorts"];
    assert_eq!(c["since"], tomorrow_s.as_str());
    for name in [
        "subscriber_to_lead",
        "lead_to_mql",
        "mql_to_sql",
        "sql_to_opportunity",
        "opportunity_to_customer",
    ] {
        assert_eq!(c[name], step(0, 0, None, None), "{name}");
    }
}

#[test]
fn the_text_report_fits_in_100_columns() {
    let env = synced();
    let yesterday = (Utc::now().date_naive() - Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let out = env.run(&["report", "funnel", "--by", "source", "--since", &yesterday]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "subscriber",
        "by source",
        "google",
        "linkedin",
        "(none)",
        "cohorts since",
        "subscriber → lead",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    // google has the most persons: its row comes first.
    assert!(text.find("google") < text.find("linkedin"), "{text}");
}

#[test]
fn bad_options_are_usage_errors() {
    let env = synced();
    for args in [
        &["report", "funnel", "--since", "2026-13-01"][..],
        &["report", "funnel", "--since", "yesterday"][..],
        &["report", "funnel", "--by", "channel"][..],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        // A bad date names the format it wants.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            args[2] != "--since" || err.contains("YYYY-MM-DD"),
            "{args:?}: {err}"
        );
    }
}

/// The keys of every `"NAME": { … }` object in `text`, in the order they are written.
fn key_orders(text: &str, name: &str) -> Vec<Vec<String>> {
    let open = format!("\"{name}\": {{");
    text.match_indices(&open)
        .map(|(at, _)| {
            let body = &text[at + open.len()..];
            let body = &body[..body.find('}').expect("object closes")];
            body.split(',')
                .filter_map(|entry| entry.split('"').nth(1).map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn json_lists_tiers_and_conversions_in_ladder_order() {
    // GIVEN a synced store, WHEN the funnel is printed as JSON, overall and by source
    let env = synced();
    let out = env.run(&["report", "funnel", "--json", "--by", "source"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // THEN tiers, reached and conversions come subscriber first, customer last, everywhere
    let ladder = [
        "subscriber",
        "lead",
        "mql",
        "sql",
        "opportunity",
        "customer",
    ];
    let steps: Vec<String> = ladder
        .windows(2)
        .map(|w| format!("{}_to_{}", w[0], w[1]))
        .collect();
    for (name, expected) in [
        ("tiers", ladder.map(String::from).to_vec()),
        ("reached", ladder.map(String::from).to_vec()),
        ("conversions", steps),
    ] {
        let orders = key_orders(&text, name);
        // The overall funnel and the three sources (google, linkedin, (none)).
        assert_eq!(orders.len(), 4, "{name} in\n{text}");
        for keys in orders {
            assert_eq!(keys, expected, "{name} in\n{text}");
        }
    }
}

#[test]
fn the_default_ladder_reports_the_funnel_byte_for_byte_as_the_fixed_tiers_did() {
    // GIVEN the ten persons, qualified on the default ladder
    let env = synced();
    let fixture = |name: &str| {
        std::fs::read(format!(
            "{}/tests/fixtures/funnel/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };

    // WHEN the funnel is reported as JSON, by source with cohorts, and as text
    let out = |args: &[&str]| {
        let out = env.run(args);
        assert!(out.status.success());
        out.stdout
    };
    let cohorts = ["--by", "source", "--since", "2000-01-01"];

    // THEN each is the bytes written before tiers came from a ladder
    let json = out(&["report", "funnel", "--json"]);
    assert_eq!(
        String::from_utf8(json).unwrap(),
        String::from_utf8(fixture("funnel.json")).unwrap()
    );
    let with_cohorts = out(&[&["report", "funnel", "--json"][..], &cohorts].concat());
    assert_eq!(
        String::from_utf8(with_cohorts).unwrap(),
        String::from_utf8(fixture("funnel-cohorts.json")).unwrap()
    );
    let text = out(&[&["report", "funnel"][..], &cohorts].concat());
    assert_eq!(
        String::from_utf8(text).unwrap(),
        String::from_utf8(fixture("funnel.txt")).unwrap()
    );
}
