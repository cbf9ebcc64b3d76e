//! The `updated` and `deleted` replication feeds: whole-minute windows, `latestDateCovered`,
//! merge losers among the deletions, and `INVALID_REPLICATION_DATE` for bad windows.

mod common;

use chrono::{DateTime, Duration, DurationRound, Utc};
use leadsync_fake_salesforce::{FakeConfig, format_datetime};
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{error_code, instant, start};

fn minute(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::minutes(1)).unwrap()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn updated_lists_ids_changed_in_whole_minutes_of_the_window() {
    // GIVEN leads changed 3 h, 90 min and 30 min ago, and one changed 30 min ago then deleted
    let h = start(FakeConfig::default()).await;
    let now = Utc::now();
    let t = minute(now) - Duration::hours(3);
    let leads: Vec<String> = (0..4)
        .map(|i| h.lead(&format!("p{i}@example.com")))
        .collect();
    h.fake.set_modstamp(&leads[..1], t);
    h.fake.set_modstamp(
        &leads[1..2],
        t + Duration::minutes(90) + Duration::seconds(20),
    );
    h.fake
        .set_modstamp(&leads[2..3], t + Duration::minutes(150));
    h.fake.delete(&leads[3]);
    h.fake.set_modstamp(&leads[3..], t + Duration::minutes(150));
    let token = h.token().await;
    // WHEN asking from 90 min 40 s after t (the seconds are ignored) to an hour from now
    let start_at = t + Duration::minutes(90) + Duration::seconds(40);
    let end_at = now + Duration::hours(1);
    let answer = h
        .feed(
            &token,
            "Lead",
            "updated",
            &format_datetime(start_at),
            &end_at.to_rfc3339(),
        )
        .await;
    // THEN the two later leads qualify, and coverage stops at the current minute
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(strings(&answer.body["ids"]), leads[1..3]);
    let covered = instant(&answer.body["latestDateCovered"]);
    assert!(covered <= Utc::now() && covered >= minute(now), "{covered}");
    assert_eq!(covered, minute(covered));
    // AND a window ending before the 150-minute change leaves it out (the end is exclusive)
    let early = h
        .feed(
            &token,
            "Lead",
            "updated",
            &format_datetime(t),
            &format_datetime(t + Duration::minutes(150) + Duration::seconds(59)),
        )
        .await;
    assert_eq!(strings(&early.body["ids"]), leads[..2]);
    assert_eq!(
        early.body["latestDateCovered"],
        json!(format_datetime(t + Duration::minutes(150)))
    );
}

#[tokio::test]
async fn deleted_lists_deletions_and_merge_losers_with_their_dates() {
    let h = start(FakeConfig::default()).await;
    let leads: Vec<String> = (0..4)
        .map(|i| h.lead(&format!("p{i}@example.com")))
        .collect();
    h.fake.delete(&leads[1]);
    h.fake.merge(&leads[0], &[&leads[2]]);
    let day_ago = Utc::now() - Duration::days(1);
    let two_hours_ago = Utc::now() - Duration::hours(2);
    h.fake.set_deleted_date(&leads[1], two_hours_ago);
    h.fake.set_deleted_date(&leads[2], day_ago);
    let token = h.token().await;
    let answer = h
        .feed(
            &token,
            "Lead",
            "deleted",
            &format_datetime(Utc::now() - Duration::days(2)),
            &format_datetime(Utc::now()),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let records = answer.body["deletedRecords"].as_array().unwrap();
    let listed: Vec<(String, DateTime<Utc>)> = records
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                instant(&r["deletedDate"]),
            )
        })
        .collect();
    use chrono::SubsecRound;
    assert_eq!(
        listed,
        [
            (leads[2].clone(), day_ago.trunc_subsecs(3)),
            (leads[1].clone(), two_hours_ago.trunc_subsecs(3))
        ]
    );
    let earliest = instant(&answer.body["earliestDateAvailable"]);
    let fifteen_days = Utc::now() - Duration::days(15);
    assert!(
        (earliest - fifteen_days).num_minutes().abs() <= 1,
        "{earliest}"
    );
    // Contacts have their own feed.
    let contacts = h
        .feed(
            &token,
            "Contact",
            "deleted",
            &format_datetime(Utc::now() - Duration::days(2)),
            &format_datetime(Utc::now()),
        )
        .await;
    assert_eq!(contacts.body["deletedRecords"], json!([]));
}

#[tokio::test]
async fn windows_out_of_range_are_invalid_replication_dates() {
    let h = start(FakeConfig::default()).await;
    let token = h.token().await;
    let now = Utc::now();
    let at = |d: Duration| format_datetime(now - d);
    let cases = [
        ("updated", at(Duration::hours(1)), at(Duration::hours(2))),
        ("updated", at(Duration::hours(1)), at(Duration::hours(1))),
        ("updated", at(Duration::days(31)), at(Duration::days(1))),
        ("deleted", at(Duration::days(16)), at(Duration::days(1))),
    ];
    for (kind, start_at, end_at) in &cases {
        let answer = h.feed(&token, "Lead", kind, start_at, end_at).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{kind} {start_at} {end_at}"
        );
        assert_eq!(error_code(&answer), "INVALID_REPLICATION_DATE");
        assert!(answer.limit_info.is_some());
    }
    // 20 days back is fine for updated, and a Z-suffixed bound reads too
    let z = (now - Duration::days(20))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let ok = h
        .feed(&token, "Lead", "updated", &z, &at(Duration::zero()))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let unknown = h
        .feed(&token, "Account", "updated", &z, &at(Duration::zero()))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
