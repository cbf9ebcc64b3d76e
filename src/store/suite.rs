//! The store's contract as tests, written against the traits only, so every backend runs the
//! same ones: a backend instantiates them with `store_suite!(|| Fresh::new(store, keep, reopen))`,
//! a closure that opens a new, empty store (and says how to open a second connection to it, as
//! another replica would).

use super::{Conflict, RunStats, Store, StoreErrorKind, StoreEvent, TierChange, TierCounts};
use crate::model::{Key, Person};
use chrono::{DateTime, TimeZone, Utc};
use leadsync_connector_core::{
    Cursor, CursorPosition, Field, Locator, RecordReject, SourceRecord, Tier,
};
use std::collections::BTreeMap;

/// A new, empty store, and whatever must live as long as it (its temporary folder).
pub(crate) struct Fresh {
    pub(crate) store: Box<dyn Store>,
    /// Opens another connection to the same store.
    pub(crate) reopen: Box<dyn Fn() -> Box<dyn Store>>,
    _keep: Box<dyn std::any::Any>,
}

impl Fresh {
    pub(crate) fn new<S: Store + 'static>(
        store: S,
        keep: impl std::any::Any,
        reopen: impl Fn() -> S + 'static,
    ) -> Self {
        Fresh {
            store: Box::new(store),
            reopen: Box::new(move || Box::new(reopen())),
            _keep: Box::new(keep),
        }
    }
}

/// One `#[test]` per case below, each given a fresh store by `$fresh`.
macro_rules! store_suite {
    ($fresh:expr) => {
        $crate::store::suite::store_suite!(
            @cases $fresh;
            a_backwards_cursor_is_refused_and_its_page_is_not_written,
            a_page_dropped_before_commit_leaves_neither_its_data_nor_its_cursor,
            a_key_held_twice_is_a_constraint_error_and_the_dropped_transaction_leaves_nothing,
            keys_another_connection_writes_are_found_whatever_this_one_looked_up_or_rolled_back,
            holds_records_tells_whether_a_connector_has_any_record_stored,
            tier_changes_and_the_pushes_they_plan_commit_together,
            a_pending_push_of_the_same_tier_stays_and_a_done_one_is_asked_again,
            rejects_come_back_in_row_order_and_a_row_rejected_twice_is_kept_once,
            a_conflict_recorded_twice_is_kept_once_and_shown_to_both_persons,
            persons_page_in_id_order_and_stale_ones_are_those_not_qualified_by_a_version,
            the_funnel_sees_each_persons_tier_the_first_time_each_was_reached_and_every_tier_name,
            runs_and_events_come_back_newest_first,
            the_change_mark_moves_with_persons_tier_moves_and_runs,
            persons_in_both_crms_count_live_records_of_each,
            a_lease_is_held_by_one_instance_until_it_expires_then_taken_with_a_higher_epoch,
            a_replica_that_lost_its_lease_writes_nothing,
            claims_split_the_pending_pushes_and_an_outcome_needs_its_claim,
            the_pace_of_an_account_spaces_the_slots_of_every_replica,
            a_turn_is_taken_once_by_one_replica,
            a_breach_is_recorded_once_taken_by_one_sender_and_sent_once,
            records_and_pushes_of_many_persons_at_once_match_one_at_a_time,
            blocking_keys_are_added_once_and_found_by_key_up_to_a_limit_and_values_read_alone,
            a_merge_moves_everything_of_a_person_and_a_split_moves_it_back,
            a_review_decision_stands_until_the_fingerprint_changes_and_a_rejection_is_remembered,
        );
    };
    (@cases $fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::store::suite::$case(&$fresh)
            }
        )*
    };
}
pub(crate) use store_suite;

type Factory<'a> = &'a dyn Fn() -> Fresh;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 12, 0, 0).unwrap()
}

fn cursor(row: u64, finished: bool) -> Cursor {
    Cursor {
        stream: "s".into(),
        version: 1,
        position: CursorPosition(row, 0),
        finished,
        state: "{}".into(),
    }
}

/// A rejected row of a file drop, for tests that store rejects.
pub(crate) fn reject(row: u64) -> RecordReject {
    RecordReject {
        locator: Locator::File {
            hash: "s".into(),
            name: "f.csv".into(),
            row,
        },
        reason: "no email, phone or name".into(),
        cells: vec!["x".into()],
    }
}

fn crm_record(id: &str) -> SourceRecord {
    SourceRecord {
        locator: Locator::Crm { id: id.into() },
        observed_at: at(1),
        values: Vec::new(),
        archived: false,
    }
}

fn email(v: &str) -> Key {
    Key {
        kind: "email",
        value: v.into(),
    }
}

fn person(id: i64, tier: Option<Tier>) -> Person {
    let mut p = Person::new(id, at(1));
    p.tier = tier;
    p
}

fn change(person: i64, from: Option<Tier>, to: Tier, day: u32) -> TierChange {
    TierChange {
        person,
        from,
        to,
        rule: "fields_present".into(),
        rules_version: "v1".into(),
        evidence: BTreeMap::from([("has_email".to_string(), "true".to_string())]),
        at: at(day),
    }
}

pub(crate) fn a_backwards_cursor_is_refused_and_its_page_is_not_written(fresh: Factory<'_>) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let mut tx = store.begin().unwrap();
    tx.add_reject("c", "s", &reject(10)).unwrap();
    tx.put_cursor("c", &cursor(10, false)).unwrap();
    tx.commit().unwrap();

    let mut tx = store.begin().unwrap();
    tx.add_reject("c", "s", &reject(5)).unwrap();
    let err = tx.put_cursor("c", &cursor(5, false)).unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::CursorRegression, "{err}");
    assert!(!err.policy().retry);
    drop(tx); // the page is abandoned: rolled back

    assert_eq!(
        store.cursor("c", "s").unwrap().unwrap().position,
        CursorPosition(10, 0)
    );
    assert_eq!(store.rejects("c", "s").unwrap(), vec![reject(10)]);
}

pub(crate) fn a_page_dropped_before_commit_leaves_neither_its_data_nor_its_cursor(
    fresh: Factory<'_>,
) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let page = |store: &mut Box<dyn Store>, commit: bool| {
        let mut tx = store.begin().unwrap();
        tx.upsert_records("c", &[(&crm_record("7"), 1)]).unwrap();
        tx.add_reject("c", "s", &reject(3)).unwrap();
        tx.put_cursor("c", &cursor(3, false)).unwrap();
        // Inside the transaction, its own cursor is what it sees.
        assert_eq!(
            tx.cursor("c", "s").unwrap().map(|c| c.position),
            Some(CursorPosition(3, 0))
        );
        if commit {
            tx.commit().unwrap();
        }
    };

    page(&mut store, false);
    assert_eq!(store.cursor("c", "s").unwrap(), None);
    assert!(!store.holds_records("c").unwrap());
    assert_eq!(store.rejects("c", "s").unwrap(), Vec::new());

    page(&mut store, true);
    assert_eq!(store.cursor("c", "s").unwrap(), Some(cursor(3, false)));
    assert!(store.holds_records("c").unwrap());
    assert_eq!(store.rejects("c", "s").unwrap(), vec![reject(3)]);
    assert_eq!(store.reject_count().unwrap(), 1);
}

pub(crate) fn a_key_held_twice_is_a_constraint_error_and_the_dropped_transaction_leaves_nothing(
    fresh: Factory<'_>,
) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let mut tx = store.begin().unwrap();
    tx.insert_keys(&[(email("kept@x.io"), 1)]).unwrap();
    tx.commit().unwrap();

    // A backend may send the insert and hear of the failure at a later call, the commit at the
    // latest.
    let mut tx = store.begin().unwrap();
    let err = match tx.insert_keys(&[(email("a@x.io"), 2), (email("kept@x.io"), 2)]) {
        Ok(()) => tx.commit().unwrap_err(),
        Err(e) => {
            drop(tx);
            e
        }
    };
    assert_eq!(err.kind(), StoreErrorKind::Constraint, "{err}");

    assert_eq!(store.person_by_key("email", "kept@x.io").unwrap(), Some(1));
    assert_eq!(store.person_by_key("email", "a@x.io").unwrap(), None);
}

pub(crate) fn keys_another_connection_writes_are_found_whatever_this_one_looked_up_or_rolled_back(
    fresh: Factory<'_>,
) {
    // GIVEN a connection that has looked keys up (a backend may then know which keys it holds)
    let Fresh {
        mut store,
        _keep,
        reopen,
    } = fresh();
    let mut tx = store.begin().unwrap();
    tx.insert_keys(&[(email("a@x.io"), 1)]).unwrap();
    assert_eq!(tx.find_keys(&[email("a@x.io")]).unwrap().len(), 1);
    tx.commit().unwrap();
    let mut other = reopen();
    let found = |store: &mut Box<dyn Store>, keys: &[&str]| {
        let mut tx = store.begin().unwrap();
        let keys: Vec<Key> = keys.iter().map(|k| email(k)).collect();
        let found = tx.find_keys(&keys).unwrap();
        found.into_iter().collect::<BTreeMap<_, _>>()
    };

    // WHEN another connection (another replica) commits a key
    let mut tx = other.begin().unwrap();
    tx.insert_keys(&[(email("b@x.io"), 2)]).unwrap();
    tx.commit().unwrap();
    // THEN the first finds it, and finds no key nobody wrote
    assert_eq!(
        found(&mut store, &["a@x.io", "b@x.io", "c@x.io"]),
        BTreeMap::from([(email("a@x.io"), 1), (email("b@x.io"), 2)])
    );

    // WHEN the first writes a key and rolls back, then the other commits one
    let mut tx = store.begin().unwrap();
    tx.insert_keys(&[(email("d@x.io"), 3)]).unwrap();
    assert_eq!(tx.find_keys(&[email("d@x.io")]).unwrap().len(), 1);
    drop(tx);
    let mut tx = other.begin().unwrap();
    tx.insert_keys(&[(email("e@x.io"), 4)]).unwrap();
    tx.commit().unwrap();
    // THEN the first finds the other's key and not its own rolled-back one
    assert_eq!(
        found(&mut store, &["d@x.io", "e@x.io"]),
        BTreeMap::from([(email("e@x.io"), 4)])
    );

    // WHEN the first commits a key, then the other commits one
    let mut tx = store.begin().unwrap();
    tx.insert_keys(&[(email("f@x.io"), 5)]).unwrap();
    tx.commit().unwrap();
    let mut tx = other.begin().unwrap();
    tx.insert_keys(&[(email("g@x.io"), 6)]).unwrap();
    tx.commit().unwrap();
    // THEN the first finds both
    assert_eq!(
        found(&mut store, &["f@x.io", "g@x.io"]),
        BTreeMap::from([(email("f@x.io"), 5), (email("g@x.io"), 6)])
    );
}

pub(crate) fn holds_records_tells_whether_a_connector_has_any_record_stored(fresh: Factory<'_>) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    assert!(!store.holds_records("hubspot").unwrap());
    let record = SourceRecord {
        locator: Locator::Crm { id: "7".into() },
        observed_at: Utc::now(),
        values: Vec::new(),
        archived: false,
    };
    let mut tx = store.begin().unwrap();
    tx.upsert_records("hubspot", &[(&record, 1)]).unwrap();
    tx.commit().unwrap();
    assert!(store.holds_records("hubspot").unwrap());
    assert!(!store.holds_records("drops").unwrap());
}

pub(crate) fn tier_changes_and_the_pushes_they_plan_commit_together(fresh: Factory<'_>) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let qualify = |store: &mut Box<dyn Store>, commit: bool| {
        let mut tx = store.begin().unwrap();
        let id = tx.next_person_id().unwrap();
        tx.upsert_records("hubspot", &[(&crm_record("101"), id)])
            .unwrap();
        tx.save_persons(&[&person(id, Some(Tier::LEAD))]).unwrap();
        tx.add_tier_changes(&[change(id, None, Tier::LEAD, 2)])
            .unwrap();
        tx.plan_push("hubspot", "101", id, Tier::LEAD).unwrap();
        assert_eq!(
            tx.push_entry("hubspot", "101").unwrap(),
            Some((Tier::LEAD, "pending".to_string()))
        );
        if commit {
            tx.commit().unwrap();
        }
        id
    };

    let id = qualify(&mut store, false);
    assert_eq!(store.person(id).unwrap(), None);
    assert_eq!(store.tier_history(id).unwrap(), Vec::new());
    assert_eq!(store.outbox_of(id).unwrap(), Vec::new());

    let id = qualify(&mut store, true);
    assert_eq!(store.person(id).unwrap().unwrap().tier, Some(Tier::LEAD));
    assert_eq!(
        store.tier_history(id).unwrap(),
        vec![change(id, None, Tier::LEAD, 2)]
    );
    let pending = store.pending_pushes("hubspot", 0, 10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (
            pending[0].record_id.as_str(),
            pending[0].tier,
            pending[0].person
        ),
        ("101", Tier::LEAD, id)
    );
    assert_eq!(store.outbox_of(id).unwrap(), pending);

    // The push is applied: the record now holds the pushed stage, as far as leadsync knows.
    store
        .push_results(&[(pending[0].id, "done", None)])
        .unwrap();
    assert_eq!(
        store.outbox_counts("hubspot").unwrap(),
        BTreeMap::from([("done".to_string(), 1)])
    );
    let mut tx = store.begin().unwrap();
    assert_eq!(
        tx.crm_records_of(id, "hubspot").unwrap(),
        vec![(crm_record("101").locator.key(), Some("lead".to_string()))]
    );
}

pub(crate) fn a_pending_push_of_the_same_tier_stays_and_a_done_one_is_asked_again(
    fresh: Factory<'_>,
) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let plan = |store: &mut Box<dyn Store>, tier: Tier| {
        let mut tx = store.begin().unwrap();
        tx.plan_push("hubspot", "101", 1, tier).unwrap();
        tx.commit().unwrap();
    };
    plan(&mut store, Tier::MQL);
    let first = store.pending_pushes("hubspot", 0, 10).unwrap();
    // A failed attempt keeps it pending, with its reason and the attempt counted.
    store
        .push_results(&[(first[0].id, "pending", Some("HTTP 502".into()))])
        .unwrap();
    plan(&mut store, Tier::MQL);
    let again = store.outbox_with_status("hubspot", "pending", 10).unwrap();
    assert_eq!(
        (again[0].attempts, again[0].reason.as_deref()),
        (1, Some("HTTP 502"))
    );

    store.push_results(&[(first[0].id, "done", None)]).unwrap();
    assert_eq!(store.pending_pushes("hubspot", 0, 10).unwrap(), Vec::new());
    plan(&mut store, Tier::MQL);
    let asked = store.pending_pushes("hubspot", 0, 10).unwrap();
    assert_eq!(
        (asked[0].id, asked[0].attempts, asked[0].status.as_str()),
        (first[0].id, 0, "pending")
    );

    store
        .push_results(&[(first[0].id, "dead", Some("HTTP 400".into()))])
        .unwrap();
    let dead = store.dead_letters(10).unwrap();
    assert_eq!(
        (dead[0].id, dead[0].reason.as_deref()),
        (first[0].id, Some("HTTP 400"))
    );

    // A retried dead letter is pending again, from scratch; a second retry finds nothing.
    assert!(store.retry_dead(first[0].id).unwrap());
    assert!(!store.retry_dead(first[0].id).unwrap());
    assert!(!store.retry_dead(first[0].id + 1000).unwrap());
    assert_eq!(store.dead_letters(10).unwrap(), Vec::new());
    let retried = store.pending_pushes("hubspot", 0, 10).unwrap();
    assert_eq!(
        (
            retried[0].id,
            retried[0].attempts,
            retried[0].reason.as_deref()
        ),
        (first[0].id, 0, None)
    );
}

pub(crate) fn the_change_mark_moves_with_persons_tier_moves_and_runs(fresh: Factory<'_>) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let empty = store.change_mark().unwrap();
    let run = store.start_run("drops").unwrap();
    let started = store.change_mark().unwrap();
    assert_ne!(started, empty);
    store.finish_run(run, &RunStats::default()).unwrap();
    let finished = store.change_mark().unwrap();
    assert_ne!(finished, started);
    assert_eq!(
        store.change_mark().unwrap(),
        finished,
        "reading changes nothing"
    );
}

pub(crate) fn rejects_come_back_in_row_order_and_a_row_rejected_twice_is_kept_once(
    fresh: Factory<'_>,
) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let mut tx = store.begin().unwrap();
    for row in [7, 2, 7, 5] {
        tx.add_reject("drops", "s", &reject(row)).unwrap();
    }
    tx.commit().unwrap();
    assert_eq!(
        store.rejects("drops", "s").unwrap(),
        vec![reject(2), reject(5), reject(7)]
    );
    assert_eq!(store.rejects("drops", "other").unwrap(), Vec::new());

    // Streams list each file's cursor with its rejects, newest first.
    let mut tx = store.begin().unwrap();
    tx.put_cursor("drops", &cursor(9, true)).unwrap();
    tx.commit().unwrap();
    let streams = store.streams("drops", 10).unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(
        (&streams[0].cursor, streams[0].rejects),
        (&cursor(9, true), 3)
    );
    assert_eq!(store.streams("hubspot", 10).unwrap(), Vec::new());
}

pub(crate) fn a_conflict_recorded_twice_is_kept_once_and_shown_to_both_persons(fresh: Factory<'_>) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let conflict = Conflict {
        connector: "drops".into(),
        locator: "f.csv:3".into(),
        key_kind: "phone".into(),
        key_value: "+4930123456".into(),
        person: 1,
        other_person: 2,
        reason: "the phone belongs to another person".into(),
        at: at(3),
    };
    let mut tx = store.begin().unwrap();
    tx.add_conflict(&conflict).unwrap();
    tx.add_conflict(&conflict).unwrap();
    tx.commit().unwrap();
    assert_eq!(store.conflicts_of(1).unwrap(), vec![conflict.clone()]);
    assert_eq!(store.conflicts_of(2).unwrap(), vec![conflict]);
    assert_eq!(store.conflicts_of(3).unwrap(), Vec::new());
}

pub(crate) fn persons_page_in_id_order_and_stale_ones_are_those_not_qualified_by_a_version(
    fresh: Factory<'_>,
) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let mut tx = store.begin().unwrap();
    let ids: Vec<i64> = (0..4).map(|_| tx.next_person_id().unwrap()).collect();
    let persons: Vec<Person> = ids.iter().map(|&id| person(id, None)).collect();
    tx.save_persons(&persons.iter().collect::<Vec<_>>())
        .unwrap();
    tx.mark_qualified(&ids[1..3], "v2").unwrap();
    assert_eq!(tx.load_persons(&[ids[3], 999]).unwrap().len(), 1);
    tx.commit().unwrap();

    let page = |store: &mut Box<dyn Store>, after, stale: Option<&str>| -> Vec<i64> {
        let persons = store.persons_after(after, 2, stale).unwrap();
        persons.into_iter().map(|p| p.id).collect()
    };
    assert_eq!(page(&mut store, 0, None), ids[..2]);
    assert_eq!(page(&mut store, ids[1], None), ids[2..]);
    assert_eq!(page(&mut store, 0, Some("v2")), [ids[0], ids[3]]);
    assert_eq!(
        store
            .person(ids[1])
            .unwrap()
            .unwrap()
            .rules_version
            .as_deref(),
        Some("v2")
    );
    assert_eq!(store.person_count().unwrap(), 4);
    // Ids handed out once are never handed out again.
    let mut tx = store.begin().unwrap();
    assert!(tx.next_person_id().unwrap() > ids[3]);
}

pub(crate) fn the_funnel_sees_each_persons_tier_the_first_time_each_was_reached_and_every_tier_name(
    fresh: Factory<'_>,
) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let mut tx = store.begin().unwrap();
    tx.save_persons(&[
        &person(1, Some(Tier::MQL)),
        &person(2, None),
        &person(3, Some(Tier::LEAD)),
    ])
    .unwrap();
    tx.add_tier_changes(&[
        change(1, None, Tier::SUBSCRIBER, 2),
        change(1, Some(Tier::SUBSCRIBER), Tier::MQL, 5),
        change(3, None, Tier::LEAD, 4),
        // A later move to a tier already reached does not move its first time.
        change(3, Some(Tier::LEAD), Tier::LEAD, 9),
    ])
    .unwrap();
    tx.commit().unwrap();

    let mut facts = Vec::new();
    store.funnel_facts(&mut |f| facts.push(f)).unwrap();
    let seen: Vec<_> = facts
        .iter()
        .map(|f| (f.person, f.tier, f.moved_to.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                1,
                Some(Tier::MQL),
                vec![(Tier::SUBSCRIBER, at(2)), (Tier::MQL, at(5))]
            ),
            (2, None, vec![]),
            (3, Some(Tier::LEAD), vec![(Tier::LEAD, at(4))]),
        ]
    );
    assert_eq!(
        store.tier_counts().unwrap(),
        TierCounts {
            tiers: BTreeMap::from([(Tier::LEAD, 1), (Tier::MQL, 1)]),
            unqualified: 1,
            ..TierCounts::default()
        }
    );
    // Every name held, with the persons at it now (subscriber only in the history).
    assert_eq!(
        store.stored_tier_names().unwrap(),
        vec![
            ("lead".to_string(), 1),
            ("mql".to_string(), 1),
            ("subscriber".to_string(), 0)
        ]
    );
}

pub(crate) fn persons_in_both_crms_count_live_records_of_each(fresh: Factory<'_>) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let mut tx = store.begin().unwrap();
    let ids: Vec<i64> = (0..3).map(|_| tx.next_person_id().unwrap()).collect();
    let persons: Vec<Person> = ids.iter().map(|&id| person(id, None)).collect();
    tx.save_persons(&persons.iter().collect::<Vec<_>>())
        .unwrap();
    let mut gone = crm_record("00Q3");
    gone.archived = true;
    // Person 0 in both; person 1 in HubSpot twice; person 2 in Salesforce only by a deleted lead.
    tx.upsert_records(
        "hubspot",
        &[(&crm_record("1"), ids[0]), (&crm_record("2"), ids[1])],
    )
    .unwrap();
    tx.upsert_records(
        "hubspot",
        &[(&crm_record("3"), ids[1]), (&crm_record("4"), ids[2])],
    )
    .unwrap();
    tx.upsert_records(
        "sf",
        &[(&crm_record("00Q1"), ids[0]), (&crm_record("003A"), ids[0])],
    )
    .unwrap();
    tx.upsert_records("sf", &[(&gone, ids[2])]).unwrap();
    tx.commit().unwrap();
    assert_eq!(store.persons_in_both("hubspot", "sf").unwrap(), 1);
    assert_eq!(store.persons_in_both("sf", "hubspot").unwrap(), 1);
    assert_eq!(store.persons_in_both("hubspot", "drops").unwrap(), 0);
}

pub(crate) fn runs_and_events_come_back_newest_first(fresh: Factory<'_>) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let first = store.start_run("drops").unwrap();
    let second = store.start_run("hubspot").unwrap();
    let stats = RunStats {
        records: 3,
        status: "ok".into(),
        ..RunStats::default()
    };
    store.finish_run(first, &stats).unwrap();
    let runs = store.last_runs(10).unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| (r.id, r.connector.as_str(), r.stats.clone()))
            .collect::<Vec<_>>(),
        vec![(second, "hubspot", None), (first, "drops", Some(stats))]
    );
    assert!(runs[0].finished_at.is_none() && runs[1].finished_at.is_some());

    let event = |detail: &str, day| StoreEvent {
        connector: "drops".into(),
        stream: "s".into(),
        kind: "duplicate".into(),
        detail: detail.into(),
        at: at(day),
    };
    let mut tx = store.begin().unwrap();
    tx.add_event(&event("first", 1)).unwrap();
    tx.add_event(&event("second", 2)).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        store.events("drops", 10).unwrap(),
        vec![event("second", 2), event("first", 1)]
    );
    assert_eq!(store.events("drops", 1).unwrap().len(), 1);
    assert_eq!(store.events("hubspot", 10).unwrap(), Vec::new());
}

// ---- Several replicas on one store ------------------------------------------------------------

use super::cluster::{Claim, Replica};
use std::time::Duration;

fn replica(id: &str) -> Replica {
    Replica::this_process(Some(id))
}

pub(crate) fn a_lease_is_held_by_one_instance_until_it_expires_then_taken_with_a_higher_epoch(
    fresh: Factory<'_>,
) {
    // GIVEN two replicas on one store
    let Fresh {
        mut store,
        reopen,
        _keep,
    } = fresh();
    let mut other = reopen();
    let (a, b) = (replica("a"), replica("b"));
    let ttl = Duration::from_millis(400);

    // WHEN a takes the lease, THEN b cannot, and a can renew it
    let held = store
        .take_lease("connector:hubspot", &a, ttl)
        .unwrap()
        .unwrap();
    assert_eq!((held.holder.as_str(), held.epoch), ("a", 1));
    assert_eq!(
        other.take_lease("connector:hubspot", &b, ttl).unwrap(),
        None
    );
    let renewed = store.renew_lease(&held.fence(), ttl).unwrap().unwrap();
    assert_eq!(renewed.epoch, 1);
    assert!(renewed.expires_at >= held.expires_at);

    // WHEN it expires, THEN b takes it over with the next epoch, and a's renewal fails
    std::thread::sleep(ttl + Duration::from_millis(100));
    let taken = other
        .take_lease("connector:hubspot", &b, ttl)
        .unwrap()
        .unwrap();
    assert_eq!((taken.holder.as_str(), taken.epoch), ("b", 2));
    assert_eq!(store.renew_lease(&held.fence(), ttl).unwrap(), None);
    assert_eq!(
        store
            .leases()
            .unwrap()
            .iter()
            .map(|l| (l.name.as_str(), l.holder.as_str(), l.epoch))
            .collect::<Vec<_>>(),
        vec![("connector:hubspot", "b", 2)]
    );

    // WHEN b releases it, THEN a takes it at once
    other.release_lease(&taken.fence()).unwrap();
    let again = store
        .take_lease("connector:hubspot", &a, ttl)
        .unwrap()
        .unwrap();
    assert_eq!(again.epoch, 3);

    // WHEN a commits under the lease, THEN the commit extends it (a writer is alive)
    store.set_fences(vec![again.fence()], Duration::from_secs(60));
    store.begin().unwrap().commit().unwrap();
    let extended = &other.leases().unwrap()[0];
    assert!(
        extended.expires_at > chrono::Utc::now() + chrono::Duration::seconds(50),
        "{extended:?}"
    );
}

pub(crate) fn a_replica_that_lost_its_lease_writes_nothing(fresh: Factory<'_>) {
    // GIVEN replica a writing under its lease, and a claimed push
    let Fresh {
        mut store,
        reopen,
        _keep,
    } = fresh();
    let mut other = reopen();
    let (a, b) = (replica("a"), replica("b"));
    let ttl = Duration::from_millis(400);
    let lease = store
        .take_lease(&a.member_lease(), &a, ttl)
        .unwrap()
        .unwrap();
    let mut tx = store.begin().unwrap();
    tx.plan_push("hubspot", "101", 1, Tier::MQL).unwrap();
    tx.commit().unwrap();
    store.set_fences(vec![lease.fence()], Duration::ZERO);
    let claim = Claim::new(&a, Duration::from_secs(60));
    let claimed = store.claim_pushes("hubspot", 0, &claim, 10).unwrap();
    assert_eq!(claimed.len(), 1);
    let mut tx = store.begin().unwrap();
    tx.plan_push("hubspot", "102", 2, Tier::MQL).unwrap();
    tx.commit().unwrap();

    // WHEN a is paused past its lease and b takes it over
    std::thread::sleep(ttl + Duration::from_millis(100));
    other
        .take_lease(&a.member_lease(), &b, ttl)
        .unwrap()
        .unwrap();

    // THEN none of a's writes goes through: a page, an outcome, a connector state, a claim
    let mut tx = store.begin().unwrap();
    tx.plan_push("hubspot", "103", 3, Tier::MQL).unwrap();
    let refused = tx.commit().unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Fenced, "{refused}");
    let refused = store
        .complete_pushes(&claim, &[(claimed[0].id, "done", None)])
        .unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Fenced, "{refused}");
    let refused = store
        .set_connector_state("hubspot", "daily_stop_until", Some("x"))
        .unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Fenced, "{refused}");
    let refused = store
        .claim_pushes("hubspot", 0, &Claim::new(&a, Duration::from_secs(60)), 10)
        .unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Fenced, "{refused}");
    assert_eq!(
        other.outbox_counts("hubspot").unwrap(),
        BTreeMap::from([("pending".to_string(), 2)])
    );
    assert_eq!(
        other
            .connector_state("hubspot", "daily_stop_until")
            .unwrap(),
        None
    );

    // THEN without fences the same store writes again (a one-off command, say)
    store.set_fences(Vec::new(), Duration::ZERO);
    store
        .set_connector_state("hubspot", "daily_stop_until", Some("x"))
        .unwrap();
}

pub(crate) fn claims_split_the_pending_pushes_and_an_outcome_needs_its_claim(fresh: Factory<'_>) {
    // GIVEN five pending pushes and two replicas
    let Fresh {
        mut store,
        reopen,
        _keep,
    } = fresh();
    let mut other = reopen();
    let mut tx = store.begin().unwrap();
    for i in 1..=5 {
        tx.plan_push("hubspot", &format!("10{i}"), i, Tier::MQL)
            .unwrap();
    }
    tx.plan_push("salesforce", "00Q1", 1, Tier::MQL).unwrap();
    tx.commit().unwrap();
    let (a, b) = (replica("a"), replica("b"));
    let long = Duration::from_secs(60);
    let records = |entries: &[super::OutboxEntry]| {
        entries
            .iter()
            .map(|e| e.record_id.clone())
            .collect::<Vec<_>>()
    };

    // WHEN a claims three and b claims up to ten
    let claim_a = Claim::new(&a, long);
    let got_a = store.claim_pushes("hubspot", 0, &claim_a, 3).unwrap();
    let claim_b = Claim::new(&b, long);
    let got_b = other.claim_pushes("hubspot", 0, &claim_b, 10).unwrap();

    // THEN each entry is claimed once, oldest first, and nothing is left to claim
    assert_eq!(records(&got_a), ["101", "102", "103"]);
    assert_eq!(records(&got_b), ["104", "105"]);
    assert_eq!(
        store
            .claim_pushes("hubspot", 0, &Claim::new(&a, long), 10)
            .unwrap(),
        Vec::new()
    );

    // THEN an outcome under another claim is not recorded; under its own, it is
    let ids_a: Vec<_> = got_a.iter().map(|e| (e.id, "done", None)).collect();
    assert_eq!(other.complete_pushes(&claim_b, &ids_a).unwrap(), 0);
    assert_eq!(store.complete_pushes(&claim_a, &ids_a).unwrap(), 3);

    // THEN an entry planned again at another tier while claimed loses the claim: the old push's
    // outcome is not recorded, and it is pushed again
    let mut tx = other.begin().unwrap();
    tx.plan_push("hubspot", "104", 4, Tier::SQL).unwrap();
    tx.commit().unwrap();
    let ids_b: Vec<_> = got_b.iter().map(|e| (e.id, "done", None)).collect();
    assert_eq!(other.complete_pushes(&claim_b, &ids_b).unwrap(), 1);
    let again = store
        .claim_pushes("hubspot", 0, &Claim::new(&a, long), 10)
        .unwrap();
    assert_eq!(
        (records(&again), again[0].tier),
        (vec!["104".to_string()], Tier::SQL)
    );

    // THEN an expired claim is taken by the next claimant, and the first one's outcome is lost
    let short = Claim::new(&a, Duration::from_millis(200));
    let got = store.claim_pushes("salesforce", 0, &short, 10).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let late = Claim::new(&b, long);
    assert_eq!(
        records(&other.claim_pushes("salesforce", 0, &late, 10).unwrap()),
        ["00Q1"]
    );
    let ids: Vec<_> = got
        .iter()
        .map(|e| (e.id, "dead", Some("x".into())))
        .collect();
    assert_eq!(store.complete_pushes(&short, &ids).unwrap(), 0);
    assert_eq!(
        other.outbox_counts("salesforce").unwrap(),
        BTreeMap::from([("pending".to_string(), 1)])
    );
}

pub(crate) fn the_pace_of_an_account_spaces_the_slots_of_every_replica(fresh: Factory<'_>) {
    // GIVEN two replicas taking request slots 100 ms apart on one account, at once
    let Fresh {
        mut store,
        reopen,
        _keep,
    } = fresh();
    let mut other = reopen();
    let spacing = Duration::from_millis(100);
    let waits = [
        store.pace("hubspot", spacing).unwrap(),
        other.pace("hubspot", spacing).unwrap(),
        store.pace("hubspot", spacing).unwrap(),
    ];
    // THEN each waits for its own slot: now, then one and two spacings later (less the time
    // the calls took)
    let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
    assert!(ms[0] < 5, "{ms:?}");
    assert!((50..=100).contains(&ms[1]), "{ms:?}");
    assert!((150..=200).contains(&ms[2]), "{ms:?}");
    // THEN another account has slots of its own
    assert!(other.pace("salesforce", spacing).unwrap() < Duration::from_millis(5));
    // THEN once the slots are past, the next is now
    std::thread::sleep(Duration::from_millis(300));
    assert!(store.pace("hubspot", spacing).unwrap() < Duration::from_millis(5));
}

pub(crate) fn a_turn_is_taken_once_by_one_replica(fresh: Factory<'_>) {
    let Fresh {
        mut store,
        reopen,
        _keep,
    } = fresh();
    let mut other = reopen();
    let gap = Duration::from_millis(300);
    assert!(store.take_turn("requalify", gap).unwrap());
    assert!(!other.take_turn("requalify", gap).unwrap());
    assert!(other.take_turn("other", gap).unwrap());
    std::thread::sleep(gap + Duration::from_millis(50));
    assert!(other.take_turn("requalify", gap).unwrap());
}

pub(crate) fn a_breach_is_recorded_once_taken_by_one_sender_and_sent_once(fresh: Factory<'_>) {
    use super::Breach;
    let Fresh {
        mut store,
        reopen,
        _keep,
    } = fresh();
    let mut other = reopen();
    let breach = |person: i64, due: u32| Breach {
        person,
        sla: "mql_follow_up".into(),
        due_at: at(due),
        payload: format!("{{\"person\":{person}}}"),
        attempts: 0,
    };
    // Recorded once, whoever finds it how often
    assert_eq!(
        store
            .add_breaches(&[breach(1, 5), breach(2, 5)], at(10))
            .unwrap(),
        2
    );
    assert_eq!(
        other
            .add_breaches(&[breach(1, 5), breach(1, 6)], at(11))
            .unwrap(),
        1
    );
    // Taken by one sender: the other gets the rest, then nothing
    let taken = store.take_breaches(at(20), at(1), 2).unwrap();
    assert_eq!(taken.len(), 2);
    let rest = other.take_breaches(at(20), at(1), 10).unwrap();
    assert_eq!(rest.len(), 1);
    assert!(taken.iter().all(|t| !rest.contains(t)));
    assert!(store.take_breaches(at(20), at(1), 10).unwrap().is_empty());
    // A refused one waits until its retry time; a sent one is never taken again
    store
        .breach_outcome(&taken[0], Err("503"), at(30), at(20))
        .unwrap();
    store
        .breach_outcome(&taken[1], Ok(()), at(30), at(20))
        .unwrap();
    assert!(store.take_breaches(at(25), at(1), 10).unwrap().is_empty());
    let again = store.take_breaches(at(30), at(1), 10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].person, again[0].attempts), (taken[0].person, 1));
    // One taken and never answered goes to another sender once it is stale
    let stale = other.take_breaches(at(31), at(20), 10).unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    let counts = store.breach_counts().unwrap();
    assert_eq!(
        counts,
        BTreeMap::from([("sent".to_string(), 1), ("taken".to_string(), 2)])
    );
}

pub(crate) fn records_and_pushes_of_many_persons_at_once_match_one_at_a_time(fresh: Factory<'_>) {
    // GIVEN three persons, two with CRM records (one with two), one with none
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let mut tx = store.begin().unwrap();
    let ids: Vec<i64> = (0..3).map(|_| tx.next_person_id().unwrap()).collect();
    tx.upsert_records(
        "hubspot",
        &[
            (&crm_record("101"), ids[0]),
            (&crm_record("102"), ids[0]),
            (&crm_record("201"), ids[1]),
        ],
    )
    .unwrap();
    // WHEN their records are read at once, THEN they are what one-at-a-time reads give
    let many = tx.crm_records_of_many(&ids, "hubspot").unwrap();
    for id in &ids {
        let mut one = tx.crm_records_of(*id, "hubspot").unwrap();
        let mut got = many.get(id).cloned().unwrap_or_default();
        one.sort();
        got.sort();
        assert_eq!(got, one, "person {id}");
    }
    assert!(!many.contains_key(&ids[2]));
    assert_eq!(
        tx.crm_records_of_many(&ids, "salesforce").unwrap(),
        std::collections::HashMap::new()
    );
    // WHEN pushes are planned at once, THEN each is as `plan_push` makes it, and a second
    // planning of the same tier leaves a done one asked again as one at a time would
    tx.plan_pushes(&[
        ("hubspot", "101", ids[0], Tier::MQL),
        ("hubspot", "201", ids[1], Tier::SQL),
    ])
    .unwrap();
    tx.commit().unwrap();
    let entries = store.outbox_with_status("hubspot", "pending", 10).unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.record_id.as_str(), e.person, e.tier))
            .collect::<Vec<_>>(),
        vec![("101", ids[0], Tier::MQL), ("201", ids[1], Tier::SQL)]
    );
    store
        .push_results(&[(entries[0].id, "done", None)])
        .unwrap();
    let mut tx = store.begin().unwrap();
    tx.plan_pushes(&[("hubspot", "101", ids[0], Tier::MQL)])
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        store
            .outbox_with_status("hubspot", "pending", 10)
            .unwrap()
            .len(),
        2
    );
}

pub(crate) fn blocking_keys_are_added_once_and_found_by_key_up_to_a_limit_and_values_read_alone(
    fresh: Factory<'_>,
) {
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let mut tx = store.begin().unwrap();
    tx.add_match_blocks(&[(1, vec![10, 20]), (2, vec![20])])
        .unwrap();
    tx.add_match_blocks(&[(1, vec![10, 30])]).unwrap();
    let mut found = tx.match_candidates(&[10, 20, 30, 40], 10).unwrap();
    found.sort();
    assert_eq!(found, vec![(10, 1), (20, 1), (20, 2), (30, 1)]);
    tx.add_match_blocks(&[(3, vec![20]), (4, vec![20])])
        .unwrap();
    assert_eq!(
        tx.match_candidates(&[20], 2).unwrap().len(),
        2,
        "at most the limit"
    );
    // A person's values: the preferred one of each field, without the rest of the person.
    let mut p = person(tx.next_person_id().unwrap(), Some(Tier::LEAD));
    let from = p.source_index(crate::model::Provenance {
        connector: "drops".into(),
        locator: "a.csv row 2".into(),
        observed_at: at(1),
    });
    let value = |v: &str| crate::model::FieldValue {
        value: v.into(),
        source: from,
    };
    p.fields.insert(Field::FirstName, vec![value("Ana")]);
    p.fields
        .insert(Field::Email, vec![value("ana@x.io"), value("a@y.io")]);
    tx.save_persons(&[&p]).unwrap();
    assert_eq!(
        tx.person_values(&[p.id, p.id + 1000]).unwrap(),
        vec![(
            p.id,
            BTreeMap::from([
                (Field::FirstName, "Ana".to_string()),
                (Field::Email, "ana@x.io".to_string()),
            ])
        )]
    );
    tx.commit().unwrap();
    assert!(store.match_model().unwrap().is_none());
    let mut tx = store.begin().unwrap();
    let v1 = tx.save_match_model("{\"v\":1}", at(2)).unwrap();
    let v2 = tx.save_match_model("{\"v\":2}", at(3)).unwrap();
    tx.commit().unwrap();
    assert!(v2 > v1);
    assert_eq!(
        store.match_model().unwrap(),
        Some((v2, "{\"v\":2}".to_string()))
    );
}

pub(crate) fn a_merge_moves_everything_of_a_person_and_a_split_moves_it_back(fresh: Factory<'_>) {
    use super::Merge;
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    // GIVEN two persons, each with a record, a key, a CRM id, history and a pushed stage
    let mut tx = store.begin().unwrap();
    let (a, b) = (tx.next_person_id().unwrap(), tx.next_person_id().unwrap());
    let crm = |v: &str| Key {
        kind: "crm:hubspot",
        value: v.into(),
    };
    tx.insert_keys(&[(email("a@x.io"), a), (email("b@x.io"), b), (crm("9"), b)])
        .unwrap();
    let (ra, rb) = (crm_record("1"), crm_record("9"));
    tx.upsert_records("hubspot", &[(&ra, a), (&rb, b)]).unwrap();
    tx.save_persons(&[&person(a, Some(Tier::LEAD)), &person(b, Some(Tier::MQL))])
        .unwrap();
    tx.add_tier_changes(&[
        change(a, None, Tier::LEAD, 1),
        change(b, None, Tier::MQL, 1),
    ])
    .unwrap();
    tx.add_match_blocks(&[(b, vec![7])]).unwrap();
    assert_eq!(
        tx.crm_keys_of(&[a, b]).unwrap(),
        vec![(b, "crm:hubspot".to_string(), "9".to_string())]
    );
    tx.commit().unwrap();

    // WHEN b merges into a
    let merge = Merge {
        person: b,
        into: a,
        how: "match:0.990".into(),
        score: 0.99,
        detail: serde_json::json!({"fields": []}),
        before: serde_json::to_value(person(b, Some(Tier::MQL))).unwrap(),
        at: at(4),
        split_at: None,
    };
    let mut tx = store.begin().unwrap();
    tx.merge_persons(&merge, &[email("b@x.io")]).unwrap();
    assert_eq!(tx.person_records(a).unwrap().len(), 2);
    tx.commit().unwrap();

    // THEN every lookup of b leads to a, and a holds b's record, keys and history
    assert!(store.person(b).unwrap().is_none());
    assert_eq!(store.merged_into(b).unwrap(), Some(a));
    assert_eq!(store.merged_into(a).unwrap(), None);
    assert_eq!(store.person_by_key("email", "b@x.io").unwrap(), Some(a));
    assert_eq!(store.person_by_key("crm:hubspot", "9").unwrap(), Some(a));
    assert_eq!(store.tier_history(a).unwrap().len(), 2);
    assert_eq!(store.records_of(a).unwrap().len(), 2);
    let merges = store.merges_into(a).unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!(
        (merges[0].person, merges[0].how.as_str()),
        (b, "match:0.990")
    );
    assert_eq!(store.merges().unwrap().len(), 1);
    assert_eq!(store.active_merge(b).unwrap().map(|m| m.into), Some(a));
    let rows = store.records_after(0, 10).unwrap();
    assert_eq!(
        rows.iter().map(|(_, p, _)| *p).collect::<Vec<_>>(),
        vec![a, a]
    );

    // WHEN the merge is split
    let mut tx = store.begin().unwrap();
    tx.split_merge(&merge, at(5)).unwrap();
    tx.save_persons(&[&person(b, Some(Tier::MQL))]).unwrap();
    tx.commit().unwrap();

    // THEN b has its own record, keys and history again, and the tombstone is gone
    assert_eq!(store.merged_into(b).unwrap(), None);
    assert!(store.active_merge(b).unwrap().is_none());
    assert_eq!(store.person_by_key("email", "b@x.io").unwrap(), Some(b));
    assert_eq!(store.person_by_key("crm:hubspot", "9").unwrap(), Some(b));
    assert_eq!(store.person_by_key("email", "a@x.io").unwrap(), Some(a));
    assert_eq!(store.records_of(b).unwrap().len(), 1);
    assert_eq!(store.tier_history(b).unwrap().len(), 1);
    assert!(store.merges_into(a).unwrap().is_empty());
}

pub(crate) fn a_review_decision_stands_until_the_fingerprint_changes_and_a_rejection_is_remembered(
    fresh: Factory<'_>,
) {
    use super::{Merge, ReviewDraft, ReviewStatus};
    let Fresh {
        mut store, _keep, ..
    } = fresh();
    let draft = |fingerprint: &str| ReviewDraft {
        a: 1,
        b: 2,
        score: 0.8,
        detail: serde_json::json!({"fields": []}),
        fingerprint: fingerprint.into(),
    };
    let mut tx = store.begin().unwrap();
    assert!(tx.raise_review(&draft("f1"), at(1)).unwrap());
    assert!(!tx.raise_review(&draft("f1"), at(2)).unwrap());
    let id = tx.review_of(1, 2).unwrap().unwrap();
    tx.decide_review(id, ReviewStatus::Rejected, at(3)).unwrap();
    assert!(
        !tx.raise_review(&draft("f1"), at(4)).unwrap(),
        "unchanged data: the decision stands"
    );
    assert_eq!(tx.rejected_pairs(&[(1, 2), (1, 3)]).unwrap(), vec![(1, 2)]);
    assert_eq!(
        tx.decide_review(999, ReviewStatus::Accepted, at(3))
            .unwrap_err()
            .kind(),
        StoreErrorKind::Corrupt
    );
    tx.commit().unwrap();
    assert_eq!(
        store.reviews(Some(ReviewStatus::Pending)).unwrap(),
        Vec::new()
    );
    let item = store.review(id).unwrap().unwrap();
    assert_eq!(
        (item.status, item.ever_rejected),
        (ReviewStatus::Rejected, true)
    );

    // WHEN the data changes, THEN the pair is asked again, its rejection remembered
    let mut tx = store.begin().unwrap();
    assert!(tx.raise_review(&draft("f2"), at(5)).unwrap());
    // AND a rejection holds for whoever is merged into either side later
    tx.merge_persons(
        &Merge {
            person: 2,
            into: 7,
            how: "review".into(),
            score: 1.0,
            detail: serde_json::json!({}),
            before: serde_json::json!({}),
            at: at(6),
            split_at: None,
        },
        &[],
    )
    .unwrap();
    assert_eq!(tx.rejected_pairs(&[(1, 7)]).unwrap(), vec![(1, 7)]);
    tx.commit().unwrap();
    let pending = store.reviews(Some(ReviewStatus::Pending)).unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].ever_rejected);
    assert_eq!(store.reviews(None).unwrap().len(), 1);
}
