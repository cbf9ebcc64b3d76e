//! Probabilistic identity end to end, through the real binary: a FEBRL-style drop (names,
//! addresses, dates of birth, Australian-style postcodes and ids; several duplicates each,
//! with typing errors, nicknames and missing fields) is synced, `identity train` learns the
//! weights from the store alone and matches it, and `export links --csv` is checked against
//! the generator's truth. Then the review queue: pairs between the thresholds are listed,
//! accepted (merged, `how` = review) or rejected (never merged later).

mod common;

use common::Env;
use std::collections::{HashMap, HashSet};

const FEBRL_MATCHING: &str = r#"
[identity.matching]
enabled = true
link_at = LINK_AT
review_at = 0.60
fields = [
  { field = "first_name", compare = "name" },
  { field = "last_name", compare = "name" },
  { field = "custom.street_number", compare = "exact" },
  { field = "custom.address_1", compare = "text" },
  { field = "custom.address_2", compare = "text" },
  { field = "custom.suburb", compare = "text" },
  { field = "custom.postcode", compare = "digits" },
  { field = "custom.address_state", compare = "exact" },
  { field = "custom.date_of_birth", compare = "digits" },
  { field = "custom.soc_sec_id", compare = "digits" },
]
blocking = [
  { keys = ["last_name:prefix3", "first_name:soundex"] },
  { keys = ["first_name:prefix3", "last_name:soundex"] },
  { keys = ["custom.date_of_birth"] },
  { keys = ["custom.soc_sec_id"] },
  { keys = ["custom.postcode", "custom.street_number"] },
]
"#;

/// Names only: scores stay below certainty, so pairs land between the thresholds.
const NAMES_MATCHING: &str = r#"
[identity.matching]
enabled = true
link_at = LINK_AT
review_at = 0.60
fields = [
  { field = "first_name", compare = "name" },
  { field = "last_name", compare = "name" },
  { field = "custom.date_of_birth", compare = "digits" },
]
blocking = [
  { keys = ["last_name:prefix3", "first_name:soundex"] },
  { keys = ["custom.date_of_birth"] },
]
"#;

const HEADER: &str = "First Name,Last Name,street_number,address_1,address_2,suburb,postcode,address_state,date_of_birth,soc_sec_id";

/// The set as a CSV drop, and each data row's truth by its line number.
fn febrl_csv(set: &[leadsync_sample::FebrlRecord]) -> (String, HashMap<u64, String>) {
    let mut text = format!("{HEADER}\n");
    let mut truth = HashMap::new();
    for (i, r) in set.iter().enumerate() {
        let cells: Vec<String> = leadsync_sample::FEBRL_FIELDS
            .iter()
            .map(|c| {
                let v = r.fields.get(c).cloned().unwrap_or_default();
                if v.contains([',', '"']) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v
                }
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
        truth.insert(i as u64 + 2, r.original.clone());
    }
    (text, truth)
}

/// `export links --csv`, as (line → person, line → how).
fn links(env: &Env) -> (HashMap<u64, i64>, HashMap<u64, String>) {
    let out = env.run(&["export", "links", "--csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("person_id,connector,source,how"));
    let (mut person, mut how) = (HashMap::new(), HashMap::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let row: u64 = cells[2].rsplit(' ').next().unwrap().parse().unwrap();
        person.insert(row, cells[0].parse().unwrap());
        how.insert(row, cells[3].to_string());
    }
    (person, how)
}

/// Precision and recall of the linked pairs against the true pairs, over the rows stored.
fn quality(person: &HashMap<u64, i64>, truth: &HashMap<u64, String>) -> (f64, f64) {
    let pairs = |group: &dyn Fn(u64) -> String| -> HashSet<(u64, u64)> {
        let mut by: HashMap<String, Vec<u64>> = HashMap::new();
        for &row in person.keys() {
            by.entry(group(row)).or_default().push(row);
        }
        let mut out = HashSet::new();
        for rows in by.values() {
            for (i, &a) in rows.iter().enumerate() {
                for &b in &rows[i + 1..] {
                    out.insert((a.min(b), a.max(b)));
                }
            }
        }
        out
    };
    let linked = pairs(&|r| person[&r].to_string());
    let true_pairs = pairs(&|r| truth[&r].clone());
    let right = linked.intersection(&true_pairs).count() as f64;
    (
        right / linked.len().max(1) as f64,
        right / true_pairs.len().max(1) as f64,
    )
}

fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_febrl_style_drop_links_at_the_default_thresholds_with_high_precision_and_recall() {
    // GIVEN 5,000 records: 2,000 people and 3,000 duplicates with errors, in one drop
    let set = leadsync_sample::febrl_set(42, 2_000, 3_000, 5);
    let (csv, truth) = febrl_csv(&set);
    let env = Env::new(&FEBRL_MATCHING.replace("LINK_AT", "0.95"));
    env.drop_file("febrl.csv", csv.as_bytes());
    env.sync();
    // Exact keys alone link none of them (no emails, no phones).
    let (before, _) = links(&env);
    let (_, recall_exact) = quality(&before, &truth);
    assert!(recall_exact < 0.01, "exact keys linked {recall_exact}");

    // WHEN the weights are trained on the store and every person matched
    let trained = ok(&env, &["identity", "train"]);

    // THEN the linked pairs meet precision ≥ 0.99 and recall ≥ 0.95
    let (person, how) = links(&env);
    let (p, r) = quality(&person, &truth);
    println!(
        "{trained}febrl drop: {} rows, precision {p:.4}, recall {r:.4}",
        person.len()
    );
    assert!(person.len() > 4_900, "rows stored: {}", person.len());
    assert!(p >= 0.99 && r >= 0.95, "precision {p:.4}, recall {r:.4}");
    assert!(how.values().any(|h| h.starts_with("match:")));

    // AND a merged-away id leads to its survivor in explain
    let gone: i64 = (1..=5_000)
        .find(|id| !person.values().any(|p| p == id))
        .expect("some id was merged away");
    let out = ok(&env, &["explain", &gone.to_string(), "--json"]);
    let view: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_ne!(view["id"].as_i64(), Some(gone));
    assert!(
        view["merged"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["person"].as_i64() == Some(gone)),
        "{out}"
    );

    // AND a second drop of the same people, in another order, joins the same clusters
    let mut again: Vec<_> = set.iter().take(600).cloned().collect();
    again.reverse();
    let (csv2, _) = febrl_csv(&again);
    env.drop_file("febrl-again.csv", csv2.as_bytes());
    env.sync();
    let out = ok(&env, &["export", "links", "--csv"]);
    let mut first: HashMap<String, i64> = HashMap::new();
    for (row, p) in &person {
        first.entry(truth[row].clone()).or_insert(*p);
    }
    let mut same = 0;
    let mut total = 0;
    for line in out
        .lines()
        .skip(1)
        .filter(|l| l.contains("febrl-again.csv"))
    {
        let cells: Vec<&str> = line.split(',').collect();
        let row: usize = cells[2].rsplit(' ').next().unwrap().parse().unwrap();
        let original = &again[row - 2].original;
        let p: i64 = cells[0].parse().unwrap();
        total += 1;
        if person.iter().any(|(r, q)| *q == p && truth[r] == *original) {
            same += 1;
        }
    }
    assert!(total > 550, "second drop rows: {total}");
    let share = same as f64 / total as f64;
    println!("second drop: {same} of {total} rows joined their first drop's person");
    assert!(share >= 0.95, "{share}");
}

#[test]
fn pairs_between_the_thresholds_wait_for_a_reviewer_whose_decisions_hold() {
    // GIVEN a FEBRL-style drop with automatic linking out of reach: every likely pair is queued
    let set = leadsync_sample::febrl_set(7, 150, 150, 3);
    let (csv, truth) = febrl_csv(&set);
    let env = Env::new(&NAMES_MATCHING.replace("LINK_AT", "0.9999999"));
    env.drop_file("febrl.csv", csv.as_bytes());
    env.sync();
    ok(&env, &["identity", "train"]);
    let list: serde_json::Value =
        serde_json::from_str(&ok(&env, &["review", "list", "--json"])).unwrap();
    let items = list.as_array().unwrap();
    assert!(items.len() >= 10, "queued: {}", items.len());
    let (before, _) = links(&env);
    assert_eq!(
        before.values().collect::<HashSet<_>>().len(),
        before.len(),
        "nothing merged automatically"
    );
    let show = ok(&env, &["review", "show", &items[0]["id"].to_string()]);
    assert!(
        show.contains("weight") && show.contains("last_name"),
        "{show}"
    );

    // WHEN a reviewer accepts the first pair and rejects the second
    let (a0, b0) = (
        items[0]["a"].as_i64().unwrap(),
        items[0]["b"].as_i64().unwrap(),
    );
    let (a1, b1) = (
        items[1]["a"].as_i64().unwrap(),
        items[1]["b"].as_i64().unwrap(),
    );
    ok(&env, &["review", "accept", &items[0]["id"].to_string()]);
    ok(&env, &["review", "reject", &items[1]["id"].to_string()]);

    // THEN the accepted pair is one person, linked by review; the rejected pair stays apart
    let (person, how) = links(&env);
    let rows_of = |p: i64| -> Vec<u64> {
        person
            .iter()
            .filter(|(_, q)| **q == p)
            .map(|(r, _)| *r)
            .collect()
    };
    let survivor = a0.min(b0);
    assert_eq!(rows_of(a0.max(b0)).len(), 0);
    assert!(
        rows_of(survivor).iter().any(|r| how[r] == "review"),
        "{how:?}"
    );
    assert!(!rows_of(a1).is_empty() && !rows_of(b1).is_empty());
    let _ = truth;

    // AND splitting the accepted merge gives the merged-away person its own records back
    let gone = a0.max(b0);
    let gone_rows: Vec<u64> = before
        .iter()
        .filter(|(_, p)| **p == gone)
        .map(|(r, _)| *r)
        .collect();
    assert!(!gone_rows.is_empty());
    let said = ok(&env, &["review", "split", &gone.to_string()]);
    assert!(said.contains("remembered as rejected"), "{said}");
    let (split, _) = links(&env);
    for r in &gone_rows {
        assert_eq!(split[r], gone, "row {r} went back");
    }
    assert!(split.values().any(|p| *p == survivor));
    let out = env.run(&["review", "split", &gone.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not merged"));

    // AND training and matching again, even with automatic linking on, never merges the
    // rejected pair, nor re-raises it while its data is unchanged
    env.write_config(&NAMES_MATCHING.replace("LINK_AT", "0.61"));
    ok(&env, &["identity", "train"]);
    let (after, _) = links(&env);
    let p1: HashSet<i64> = after
        .iter()
        .filter(|(r, _)| before[r] == a1 || before[r] == b1)
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(p1.len(), 2, "the rejected pair stayed two persons");
    let p0: HashSet<i64> = after
        .iter()
        .filter(|(r, _)| before[r] == a0 || before[r] == b0)
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(p0.len(), 2, "the split pair stayed two persons");
    let all: serde_json::Value =
        serde_json::from_str(&ok(&env, &["review", "list", "--all", "--json"])).unwrap();
    let rejected = all
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == items[1]["id"])
        .unwrap()
        .clone();
    assert_eq!(rejected["status"], "rejected");

    // AND a decision on an unknown item is refused with exit 2
    let out = env.run(&["review", "accept", "999999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no review item 999999"));
}

#[test]
fn the_review_queue_is_served_and_decided_over_the_admin_api() {
    use common::daemon::{self, get, post, wait_until};
    use std::time::Duration;
    // GET a store with pairs queued for review, and the daemon on a free loopback port
    let set = leadsync_sample::febrl_set(9, 100, 100, 3);
    let (csv, _) = febrl_csv(&set);
    let port = daemon::free_port();
    let env = Env::new(&format!(
        "{}\n[admin]\nlisten = \"127.0.0.1:{port}\"\n",
        NAMES_MATCHING.replace("LINK_AT", "0.9999999")
    ));
    env.drop_file("febrl.csv", csv.as_bytes());
    env.sync();
    ok(&env, &["identity", "train"]);
    let child = daemon::spawn(&env.config, &[], None);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until("the admin API", Duration::from_secs(30), || {
        get(addr, "/api/v1/status").is_some_and(|(c, _)| c == 200)
    });

    // WHEN the queue is read, THEN it holds the pending pairs with their field comparisons
    let (code, body) = get(addr, "/api/v1/review").unwrap();
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = list["items"].as_array().unwrap().clone();
    assert!(!items.is_empty(), "{body}");
    let id = items[0]["id"].as_i64().unwrap();
    let (code, body) = get(addr, &format!("/api/v1/review/{id}")).unwrap();
    assert_eq!(code, 200);
    let item: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        item["detail"]["fields"].as_array().unwrap().len() == 3,
        "{body}"
    );

    // WHEN one is accepted over the API, THEN it is accepted and its pair is one person
    let (code, body) = post(addr, &format!("/api/v1/review/{id}/accept")).unwrap();
    assert_eq!(code, 200, "{body}");
    let (_, body) = get(addr, "/api/v1/review?status=accepted").unwrap();
    assert!(body.contains(&format!("\"id\":{id}")), "{body}");
    let gone = items[0]["a"]
        .as_i64()
        .unwrap()
        .max(items[0]["b"].as_i64().unwrap());
    let (code, body) = get(addr, &format!("/api/v1/persons/{gone}")).unwrap();
    assert_eq!(code, 200);
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_ne!(
        view["id"].as_i64(),
        Some(gone),
        "the old id leads to the survivor"
    );

    // AND bad requests say what is wrong
    assert_eq!(post(addr, "/api/v1/review/999999/reject").unwrap().0, 404);
    assert_eq!(
        post(addr, &format!("/api/v1/review/{id}/maybe")).unwrap().0,
        404
    );
    assert_eq!(get(addr, "/api/v1/review?status=soon").unwrap().0, 400);
    let (code, _) = daemon::terminate(child, Duration::from_secs(30));
    assert_eq!(code, Some(0));
}

#[test]
fn rows_holding_different_ids_of_one_crm_are_never_merged_automatically() {
    // GIVEN a FEBRL-style drop whose rows of the first 40 people carry each a different
    // HubSpot record id (an export joined by `crm_ids`), the rest none
    let set = leadsync_sample::febrl_set(5, 400, 400, 3);
    let (csv, truth) = febrl_csv(&set);
    let mut lines = csv.lines();
    let mut with_ids = format!("{},Record ID\n", lines.next().unwrap());
    let firsts: HashSet<String> = set.iter().take(40).map(|r| r.original.clone()).collect();
    let mut ids: HashMap<u64, String> = HashMap::new();
    for (i, line) in lines.enumerate() {
        let row = i as u64 + 2;
        let id = if firsts.contains(&truth[&row]) {
            let id = format!("{}", 90_000 + i);
            ids.insert(row, id.clone());
            id
        } else {
            String::new()
        };
        with_ids.push_str(&format!("{line},{id}\n"));
    }
    let extra = format!(
        "crm_ids = {{ connector = \"hubspot\", column = \"Record ID\" }}\n\
         [connectors.hubspot]\ntype = \"hubspot\"\nbase_url = \"http://127.0.0.1:9\"\n\
         token = {{ env = \"LEADSYNC_TEST_UNUSED_TOKEN\" }}\n{}",
        FEBRL_MATCHING.replace("LINK_AT", "0.95")
    );
    let env = Env::new(&extra);
    env.drop_file("febrl.csv", with_ids.as_bytes());
    let out = env.run(&["sync", "--once", "--connector", "drops"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // WHEN the store is trained and matched
    ok(&env, &["identity", "train"]);

    // THEN no person holds two rows with different record ids, the pairs wait for review,
    // and the rows without ids still link
    let (person, how) = links(&env);
    let mut by_person: HashMap<i64, HashSet<&String>> = HashMap::new();
    for (row, id) in &ids {
        by_person.entry(person[row]).or_default().insert(id);
    }
    assert!(
        by_person.values().all(|ids| ids.len() == 1),
        "{by_person:?}"
    );
    assert_eq!(
        ids.keys().filter(|r| how[*r] == "crm_id").count(),
        ids.len()
    );
    let queued: serde_json::Value =
        serde_json::from_str(&ok(&env, &["review", "list", "--json"])).unwrap();
    assert!(!queued.as_array().unwrap().is_empty());
    let rest: HashMap<u64, i64> = person
        .iter()
        .filter(|(r, _)| !ids.contains_key(*r))
        .map(|(r, p)| (*r, *p))
        .collect();
    let (p, r) = quality(&rest, &truth);
    assert!(
        p >= 0.99 && r >= 0.95,
        "rows without ids: precision {p:.4}, recall {r:.4}"
    );
}

/// The record pairs a store links, each record named by its place in `files` (file name and
/// the records written to it, in row order): `(i, j)`, `i < j`, indexes into their
/// concatenation.
fn linked_pairs(env: &Env, files: &[(&str, Vec<usize>)]) -> HashSet<(usize, usize)> {
    let out = ok(env, &["export", "links", "--csv"]);
    let mut by_person: HashMap<i64, Vec<usize>> = HashMap::new();
    for line in out.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let (name, row) = cells[2].rsplit_once(" row ").unwrap();
        let (_, records) = files
            .iter()
            .find(|(f, _)| *f == name)
            .unwrap_or_else(|| panic!("unknown source {}", cells[2]));
        let row: usize = row.parse().unwrap();
        by_person
            .entry(cells[0].parse().unwrap())
            .or_default()
            .push(records[row - 2]);
    }
    let mut pairs = HashSet::new();
    for records in by_person.values() {
        for (x, &a) in records.iter().enumerate() {
            for &b in &records[x + 1..] {
                pairs.insert((a.min(b), a.max(b)));
            }
        }
    }
    pairs
}

#[test]
fn the_same_records_in_another_order_and_split_into_several_drops_join_the_same_clusters() {
    // GIVEN 3,000 records (1,200 people, 1,800 duplicates) and two stores trained alike on the
    // first 1,000 of them
    let set = leadsync_sample::febrl_set(7, 1_200, 1_800, 5);
    let config = FEBRL_MATCHING.replace("LINK_AT", "0.95");
    let (one, split) = (Env::new(&config), Env::new(&config));
    let base: Vec<usize> = (0..1_000).collect();
    let csv_of = |records: &[usize]| {
        let rows: Vec<_> = records.iter().map(|&i| set[i].clone()).collect();
        febrl_csv(&rows).0
    };
    for env in [&one, &split] {
        env.drop_file("base.csv", csv_of(&base).as_bytes());
        env.sync();
        ok(env, &["identity", "train"]);
    }

    // WHEN the other 2,000 reach the first store as one drop, and the second in three drops,
    // in reverse order and interleaved
    let rest: Vec<usize> = (1_000..set.len()).collect();
    one.drop_file("rest.csv", csv_of(&rest).as_bytes());
    one.sync();
    let reversed: Vec<usize> = rest.iter().rev().copied().collect();
    let parts: Vec<(String, Vec<usize>)> = (0..3)
        .map(|k| {
            let records = reversed.iter().skip(k).step_by(3).copied().collect();
            (format!("rest-{k}.csv"), records)
        })
        .collect();
    for (name, records) in &parts {
        split.drop_file(name, csv_of(records).as_bytes());
        split.sync();
    }

    // THEN both stores link the same pairs of records
    let mut one_files = vec![("base.csv", base.clone()), ("rest.csv", rest.clone())];
    let a = linked_pairs(&one, &one_files);
    one_files.truncate(1);
    one_files.extend(parts.iter().map(|(n, r)| (n.as_str(), r.clone())));
    let b = linked_pairs(&split, &one_files);
    let truth: HashSet<(usize, usize)> = (0..set.len())
        .flat_map(|i| (i + 1..set.len()).map(move |j| (i, j)))
        .filter(|&(i, j)| set[i].original == set[j].original)
        .collect();
    println!(
        "one drop: {} pairs linked ({} true); three drops: {} ({} true); {} in one only, {} in the other only",
        a.len(),
        a.intersection(&truth).count(),
        b.len(),
        b.intersection(&truth).count(),
        a.difference(&b).count(),
        b.difference(&a).count()
    );
    assert!(a.len() > 2_000, "linked pairs: {}", a.len());
    assert_eq!(a, b);
}

/// `env` with its store in a fresh PostgreSQL database of the tests' cluster.
fn on_postgres(env: Env) -> Env {
    let url = leadsync_test_postgres::Cluster::get().fresh_db();
    let text = std::fs::read_to_string(&env.config).unwrap();
    let line = text.lines().find(|l| l.starts_with("url = ")).unwrap();
    let text = text.replace(line, &format!("url = \"{url}\""));
    std::fs::write(&env.config, text).unwrap();
    env
}

#[test]
fn matching_on_postgres_links_the_same_pairs_as_on_sqlite() {
    // GIVEN 1,200 records (500 people, 700 duplicates), a SQLite store and a PostgreSQL store
    let set = leadsync_sample::febrl_set(11, 500, 700, 5);
    let config = FEBRL_MATCHING.replace("LINK_AT", "0.95");
    let sqlite = Env::new(&config);
    let postgres = on_postgres(Env::new(&config));
    let files: Vec<(&str, Vec<usize>)> = vec![
        ("first.csv", (0..600).collect()),
        ("then.csv", (600..set.len()).collect()),
    ];
    // WHEN each is trained on the first half, then the second half is matched as it is synced
    for env in [&sqlite, &postgres] {
        for (k, (name, records)) in files.iter().enumerate() {
            let rows: Vec<_> = records.iter().map(|&i| set[i].clone()).collect();
            env.drop_file(name, febrl_csv(&rows).0.as_bytes());
            env.sync();
            if k == 0 {
                ok(env, &["identity", "train"]);
            }
        }
    }
    // THEN PostgreSQL links the pairs SQLite links, and they are the true ones
    let on_sqlite = linked_pairs(&sqlite, &files);
    let on_postgres = linked_pairs(&postgres, &files);
    let right = on_postgres
        .iter()
        .filter(|&&(i, j)| set[i].original == set[j].original)
        .count();
    println!(
        "postgres: {} pairs linked, {right} true; sqlite: {}",
        on_postgres.len(),
        on_sqlite.len()
    );
    assert!(on_postgres.len() > 500, "{}", on_postgres.len());
    assert!(right as f64 >= 0.99 * on_postgres.len() as f64);
    assert_eq!(on_sqlite, on_postgres);
}

#[test]
fn a_person_already_pushed_to_a_crm_keeps_its_id_when_it_merges_with_an_older_one() {
    use leadsync::store::prelude::*;
    // GIVEN a FEBRL-style drop synced first (its persons are the oldest; no emails, so no tier
    // and nothing pushed)
    let world = common::hubspot::BinaryWorld::new(
        "[[rules]]\nname = \"everyone\"\ntier = \"lead\"\nwhen = \"has_email\"\n",
        "",
    );
    let inbox = world.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let hubspot_and_drops = format!(
        "\n[connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nsettle = \"0s\"\n{}",
        inbox.display(),
        FEBRL_MATCHING.replace("LINK_AT", "0.95")
    );
    world.write_config(
        "[[rules]]\nname = \"everyone\"\ntier = \"lead\"\nwhen = \"has_email\"\n",
        &hubspot_and_drops,
    );
    let set = leadsync_sample::febrl_set(5, 150, 150, 3);
    let (csv, _) = febrl_csv(&set);
    let drop = |name: &str, text: &str| {
        let staged = world.dir.path().join(name);
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, inbox.join(name)).unwrap();
    };
    drop("people.csv", &csv);
    world.ok(&["sync", "--once"]);
    let line_of = |stdout: &str, needle: &str| -> i64 {
        stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in\n{stdout}"))
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (links, _) = world.ok(&["export", "links", "--csv"]);
    let older = line_of(&links, "people.csv row 2,");

    // AND then the same person arriving in HubSpot, with an email, pushed to lead: a younger id
    let field = |name: &str| set[0].fields.get(name).cloned().unwrap_or_default();
    let contact = world.fake.insert(
        [
            ("email".to_string(), "first.person@acme.io".to_string()),
            ("firstname".to_string(), field("given_name")),
            ("lastname".to_string(), field("surname")),
            ("lifecyclestage".to_string(), "subscriber".to_string()),
        ]
        .into(),
    );
    world.ok(&["sync", "--once"]);
    assert_eq!(world.stage(&contact).as_deref(), Some("lead"), "pushed");
    let mut store = leadsync::store::SqliteStore::open(&world.db).unwrap();
    let pushed = store
        .person_by_key("crm:hubspot", &contact)
        .unwrap()
        .unwrap();
    assert!(
        older < pushed,
        "the drop's person is the older: {older} < {pushed}"
    );

    // AND a sheet row giving that contact (joined by its email) the drop row's details
    let (header, row) = csv.split_once('\n').unwrap();
    let row = row.lines().next().unwrap();
    drop(
        "event.csv",
        &format!("{header},Email\n{row},first.person@acme.io\n"),
    );
    world.ok(&["sync", "--once"]);
    let (links, _) = world.ok(&["export", "links", "--csv"]);
    assert_eq!(line_of(&links, "event.csv row 2,"), pushed);
    assert_eq!(
        line_of(&links, "people.csv row 2,"),
        older,
        "not linked yet"
    );

    // WHEN the weights are trained and every stored person matched
    world.ok(&["identity", "train"]);

    // THEN the two are one person under the pushed id, the older id a tombstone that explain
    // follows to it, and the contact keeps its person and its stage
    let (links, _) = world.ok(&["export", "links", "--csv"]);
    assert_eq!(line_of(&links, "people.csv row 2,"), pushed, "{links}");
    assert_eq!(line_of(&links, "event.csv row 2,"), pushed);
    assert!(
        !links
            .lines()
            .skip(1)
            .any(|l| l.starts_with(&format!("{older},"))),
        "the older id holds no record"
    );
    let (out, _) = world.ok(&["explain", &older.to_string(), "--json"]);
    let view: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(view["id"].as_i64(), Some(pushed), "{out}");
    assert!(
        view["merged"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["person"].as_i64() == Some(older)),
        "{out}"
    );
    assert_eq!(
        store.person_by_key("crm:hubspot", &contact).unwrap(),
        Some(pushed)
    );
    world.ok(&["sync", "--once"]);
    assert_eq!(world.stage(&contact).as_deref(), Some("lead"));
}
