//! Acceptance: `plan` with an edited rules file predicts exactly the moves that the following
//! `sync --once` performs; invalid rules stop `validate` and `sync` with the rule and position.

mod common;

use common::Env;
use leadsync::store::prelude::*;
use std::collections::BTreeMap;
use std::fs;

/// Leads of every shape: titles, industries, sizes and forms vary, so rules edits move some.
fn drop_contacts(env: &Env) {
    let mut csv = String::from(
        "Email,First Name,Last Name,Phone Number,Job Title,Industry,Company Size,Form,Lifecycle Stage,Marketing consent\n",
    );
    let titles = [
        "CEO",
        "Engineer",
        "Owner",
        "Marketing Manager",
        "Intern",
        "VP Sales",
    ];
    let industries = ["Software", "Retail", "Finance", "Education"];
    let sizes = ["10", "51-200", "1000+", "", "6000"];
    let forms = ["newsletter", "ebook", "contact-us", "demo request", ""];
    for i in 0..120 {
        let phone = if i % 4 == 0 {
            String::new()
        } else {
            format!("(415) 555-{:04}", 1000 + i)
        };
        let stage = if i % 17 == 0 { "Opportunity" } else { "" };
        let consent = ["yes", "", "no"][i % 3];
        csv.push_str(&format!(
            "p{i}@corp{}.com,Pat{i},Lee,{phone},{},{},{},{},{stage},{consent}\n",
            i % 7,
            titles[i % titles.len()],
            industries[i % industries.len()],
            sizes[i % sizes.len()],
            forms[i % forms.len()],
        ));
    }
    env.drop_file("contacts.csv", csv.as_bytes());
}

/// The default rules with a lower score threshold, retail as a target industry, and a stricter
/// subscriber rule (explicit consent): some persons rise, some would fall.
fn edited_rules() -> String {
    leadsync::rules::DEFAULT_RULES
        .replace("mql_score = 60", "mql_score = 30")
        .replace("\"finance\"]", "\"finance\", \"retail\"]")
        .replace(
            "when = \"has_email && !opted_out\"",
            "when = \"has_email && consent == 'yes'\"",
        )
}

fn with_rules(env: &Env, rules: &std::path::Path) {
    let config = fs::read_to_string(&env.config).unwrap();
    fs::write(
        &env.config,
        format!("[rules]\nfile = \"{}\"\n\n{config}", rules.display()),
    )
    .unwrap();
}

#[test]
fn plan_predicts_exactly_what_the_next_sync_does() {
    // GIVEN persons qualified by the default rules
    let env = Env::new("");
    drop_contacts(&env);
    env.sync();
    let before = env.store().tier_counts().unwrap();

    // WHEN an edited rules file is previewed
    let rules = env.dir.path().join("rules-v2.toml");
    fs::write(&rules, edited_rules()).unwrap();
    let out = env.run(&[
        "plan",
        "--rules",
        rules.to_str().unwrap(),
        "--json",
        "--sample",
        "1000",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let version = plan["rules_version"].as_str().unwrap().to_string();
    assert_eq!(plan["evaluated"], 120);
    let predicted = moves_of(&plan["moves"]);
    assert!(!predicted.is_empty(), "the edit moves someone: {plan}");
    assert!(
        plan["would_demote"]
            .as_object()
            .is_some_and(|m| !m.is_empty()),
        "the stricter subscriber rule would demote: {plan}"
    );

    // THEN the plan wrote nothing
    assert_eq!(env.store().tier_counts().unwrap(), before);

    // WHEN the edited rules are switched on and one cycle runs
    with_rules(&env, &rules);
    env.sync();

    // THEN the moves made are exactly the moves planned: same kinds, same persons
    let mut store = env.store();
    let mut done: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in 1..=store.person_count().unwrap() as i64 {
        let person = store.person(id).unwrap().unwrap();
        for change in store
            .tier_history(id)
            .unwrap()
            .iter()
            .filter(|c| c.rules_version == version)
        {
            let from = change.from.map_or("unqualified", |t| t.as_str());
            done.entry(format!("{from} → {}", change.to))
                .or_default()
                .push(format!("{id} {}", person.display_name()));
        }
        assert_eq!(person.rules_version.as_deref(), Some(version.as_str()));
    }
    assert_eq!(done, predicted);
    // AND the would-demote findings were recorded, not applied
    let demotions = (1..=120)
        .filter(|id| store.person(*id).unwrap().unwrap().demotion.is_some())
        .count() as u64;
    let planned: u64 = plan["would_demote"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m["count"].as_u64().unwrap())
        .sum();
    assert_eq!(demotions, planned);
    // AND a second plan, which evaluates everyone again, has nothing left to move
    let again: serde_json::Value =
        serde_json::from_slice(&env.run(&["plan", "--json"]).stdout).unwrap();
    assert_eq!(again["evaluated"], 120);
    assert!(
        again["moves"].as_object().is_some_and(|m| m.is_empty()),
        "{again}"
    );
}

fn moves_of(moves: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    moves
        .as_object()
        .unwrap()
        .iter()
        .map(|(kind, m)| {
            let mut who: Vec<String> = m["sample"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            who.sort_by_key(|s| s.split(' ').next().unwrap().parse::<i64>().unwrap());
            assert_eq!(
                who.len() as u64,
                m["count"].as_u64().unwrap(),
                "the sample holds everyone"
            );
            (kind.clone(), who)
        })
        .collect()
}

#[test]
fn invalid_rules_stop_validate_and_sync_with_the_rule_and_position() {
    let env = Env::new("");
    let rules = env.dir.path().join("bad.toml");
    fs::write(
        &rules,
        "[[rules]]\nname = \"anyone\"\ntier = \"subscriber\"\nwhen = \"has_email\"\n\n\
         [[rules]]\nname = \"big_fish\"\ntier = \"mql\"\nwhen = \"has_email && employes > 100\"\n\n\
         [[rules]]\nname = \"answers\"\ntier = \"sql\"\nwhen = \"\"\"\nhas_email\n  && seniorty == 'owner'\n\"\"\"\n",
    )
    .unwrap();
    with_rules(&env, &rules);
    for args in [&["validate"][..], &["sync", "--once"][..], &["plan"][..]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        // Lines and columns are the file's, as an editor shows them, with the file's line.
        assert!(
            err.contains("rule `big_fish`, line 9 column 22")
                && err.contains("unknown field `employes`")
                && err.contains("\n      when = \"has_email && employes > 100\"\n")
                && err.contains("rule `answers`, line 16 column 6")
                && err.contains("unknown field `seniorty`"),
            "{err}"
        );
    }
    // Nothing was ingested with broken rules.
    env.drop_file("x.csv", b"Email\na@b.io\n");
    assert_eq!(env.run(&["sync", "--once"]).status.code(), Some(2));
    assert_eq!(env.store().person_count().unwrap(), 0);
}

#[test]
fn plan_runs_while_a_writer_holds_the_store() {
    // GIVEN a store in use: another connection (a running daemon, say) holds the write lock
    let env = Env::new("");
    drop_contacts(&env);
    env.sync();
    let rules = env.dir.path().join("rules-v2.toml");
    fs::write(&rules, edited_rules()).unwrap();
    let mut writer = rusqlite::Connection::open(&env.db).unwrap();
    let lock = writer
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();

    // WHEN a dry run is asked for
    let started = std::time::Instant::now();
    let out = env.run(&["plan", "--rules", rules.to_str().unwrap(), "--json"]);

    // THEN it answers at once, without waiting for the writer
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["evaluated"], 120);
    lock.rollback().unwrap();
}

#[test]
fn a_rules_file_without_rules_is_refused() {
    // GIVEN a rules file that parses but holds no tier rule (a truncated copy, say)
    let env = Env::new("");
    let rules = env.dir.path().join("empty.toml");
    fs::write(&rules, "[thresholds]\nmql_score = 50\n").unwrap();
    with_rules(&env, &rules);
    // THEN validate, sync and plan refuse it, saying what is missing
    for args in [&["validate"][..], &["sync", "--once"][..], &["plan"][..]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("empty.toml") && err.contains("no tier rules"),
            "{err}"
        );
    }
}

#[test]
fn plan_says_how_many_persons_the_rules_have_not_qualified_yet() {
    // GIVEN persons qualified by the configured rules
    let env = Env::new("");
    drop_contacts(&env);
    env.sync();
    let text = |args: &[&str]| {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // WHEN the configured rules are planned, THEN nobody is said to need qualifying
    let same = text(&["plan"]);
    assert!(
        same.contains("120 person(s) evaluated, all already qualified by these rules"),
        "{same}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&env.run(&["plan", "--json"]).stdout).unwrap();
    assert_eq!(
        (json["evaluated"].as_u64(), json["stale"].as_u64()),
        (Some(120), Some(0))
    );
    // WHEN an edited file is previewed, THEN everyone is new to it
    let rules = env.dir.path().join("rules-v2.toml");
    fs::write(&rules, edited_rules()).unwrap();
    let edited = text(&["plan", "--rules", rules.to_str().unwrap()]);
    assert!(
        edited.contains("120 person(s) evaluated, none yet qualified by these rules"),
        "{edited}"
    );
}
