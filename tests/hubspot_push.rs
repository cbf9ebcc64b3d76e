//! Acceptance, against the fake HubSpot: stage pushes within the rate limit, through faults,
//! forward only, and per-item outcomes of a 207.

use chrono::Utc;
use leadsync::connector::{Field, Locator, SourceRecord, Stage, Tier};
use leadsync::pipeline::PageIngest;
use leadsync::store::prelude::*;
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot, Fault};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::hubspot::{Options, Setup, setup, unlimited_fake};

/// A pushing connector whose limiter is configured for `per_window` per `window`.
fn pushing(base_url: &str, per_window: u32, window: Duration, rules: &str) -> Setup {
    let rules = Some(rules.to_string());
    setup(
        base_url,
        Options {
            per_window,
            window,
            push: true,
            rules,
            ..Options::default()
        },
    )
}

/// A pushing connector without a limiter of its own (for fakes without limits).
fn unlimited_pushing(base_url: &str, rules: &str) -> Setup {
    pushing(base_url, 0, Duration::from_secs(10), rules)
}

async fn cycle(s: &mut Setup) -> leadsync::pipeline::Cycle {
    s.cycle().await
}

fn tier_of(stage: Option<&String>) -> Option<Tier> {
    stage.and_then(|s| Stage::parse(s).tier())
}

const EVERYONE_OPPORTUNITY: &str =
    "[[rules]]\nname = \"everyone\"\ntier = \"opportunity\"\nwhen = \"has_email\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_pushes_stay_within_the_window_and_survive_faults() {
    // GIVEN 20,000 contacts at assorted stages, a fake limited to 100 requests per 1-s window,
    // and rules that want everyone at opportunity
    let window = Duration::from_secs(1);
    let fake = FakeHubSpot::new(FakeConfig {
        window,
        requests_per_window: 100,
        search_per_second: 0,
        ..FakeConfig::default()
    });
    fake.seed(20_000, 11);
    let before: Vec<_> = fake.contacts();
    let expected_pushes = before
        .iter()
        .filter(|c| {
            tier_of(c.properties.get("lifecyclestage")).is_none_or(|t| t < Tier::OPPORTUNITY)
        })
        .count();
    assert!(expected_pushes > 10_000, "{expected_pushes}");
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut s = pushing(&server.base_url, 100, window, EVERYONE_OPPORTUNITY);
    // AND HubSpot failing now and then: 5xx, and connections dropped after a write was applied
    fake.script(Fault::ServerError {
        status: 503,
        times: 3,
    });
    fake.script(Fault::DropAfterApply { times: 2 });

    // WHEN a cycle pulls, qualifies and pushes
    let run = cycle(&mut s).await;

    // THEN every push landed, none from the window limit was refused, and no window held more
    // than the limit
    let pushed = run.pushes[0].1.as_ref().unwrap();
    assert_eq!(pushed.applied as usize, expected_pushes, "{:?}", run.pushes);
    assert_eq!(pushed.dead, 0);
    let stats = fake.stats();
    assert_eq!(
        stats.rate_limited.get("TEN_SECONDLY_ROLLING"),
        None,
        "{stats:?}"
    );
    assert!(stats.max_in_window <= 100, "{stats:?}");
    assert!(stats.faults_injected >= 5, "the faults happened: {stats:?}");
    // AND every contact is exactly as desired: raised to opportunity, or left where it was when
    // already higher (never pushed down)
    for (old, now) in before.iter().zip(fake.contacts()) {
        let was = tier_of(old.properties.get("lifecyclestage"));
        let is = tier_of(now.properties.get("lifecyclestage"));
        match was {
            Some(t) if t >= Tier::OPPORTUNITY => {
                assert_eq!(is, was, "{} was {t}, never pushed down", old.id)
            }
            _ => assert_eq!(is, Some(Tier::OPPORTUNITY), "{}", old.id),
        }
    }
    // AND the outbox says so: everything done, nothing pending or dead
    let counts = s.store.outbox_counts("hubspot").unwrap();
    assert_eq!(
        counts.get("done").copied(),
        Some(expected_pushes as u64),
        "{counts:?}"
    );
    assert_eq!(counts.len(), 1, "{counts:?}");
    // AND the next cycle has nothing left to push
    let again = cycle(&mut s).await;
    assert_eq!(again.pushes[0].1.as_ref().unwrap().applied, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_id_in_a_207_is_dead_lettered_and_the_rest_land() {
    let (_fake, server) = unlimited_fake(120, 4).await;
    let mut s = unlimited_pushing(&server.base_url, EVERYONE_OPPORTUNITY);
    // GIVEN a contact pulled earlier that HubSpot has since deleted for good
    let ghost = SourceRecord {
        locator: Locator::Crm {
            id: "987654321".into(),
        },
        observed_at: Utc::now(),
        values: vec![(Field::Email, "gone@deleted.example".into())],
        archived: false,
    };
    let resolver = PageIngest::new(
        &s.settings.identity,
        &s.settings.merge,
        Arc::clone(&s.rules),
    )
    .with_push_targets(vec![leadsync::pipeline::PushTarget::forward("hubspot")]);
    let mut tx = s.store.begin().unwrap();
    resolver
        .apply_page(tx.as_mut(), "hubspot", &[ghost], Utc::now())
        .unwrap();
    tx.commit().unwrap();

    // WHEN a cycle pushes it in the same batch as 99 others
    let run = cycle(&mut s).await;

    // THEN the others land and the ghost is dead-lettered with HubSpot's reason
    let pushed = run.pushes[0].1.as_ref().unwrap();
    assert_eq!(pushed.dead, 1, "{pushed:?}");
    assert!(pushed.applied >= 99, "{pushed:?}");
    let person = s
        .store
        .person_by_key("crm:hubspot", "987654321")
        .unwrap()
        .unwrap();
    let entries = s.store.outbox_of(person).unwrap();
    assert_eq!(entries[0].status, "dead");
    assert!(
        entries[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("OBJECT_NOT_FOUND"),
        "{entries:?}"
    );
    // AND explain shows it
    let view = leadsync::explain::view(&mut s.store, person, &s.rules, Utc::now())
        .unwrap()
        .unwrap();
    assert!(
        view.render().contains("dead") && view.render().contains("OBJECT_NOT_FOUND"),
        "{}",
        view.render()
    );
    // AND a dead letter is not retried
    let again = cycle(&mut s).await;
    assert_eq!(again.pushes[0].1.as_ref().unwrap().dead, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limiter_follows_the_accounts_headers_and_keeps_the_daily_reserve() {
    // GIVEN an account allowing 100 requests per 1-s window, and a client configured for 1,000
    let window = Duration::from_secs(1);
    let fake = FakeHubSpot::new(FakeConfig {
        window,
        requests_per_window: 100,
        search_per_second: 0,
        ..FakeConfig::default()
    });
    fake.seed(6_000, 21);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut s = pushing(&server.base_url, 1_000, window, EVERYONE_OPPORTUNITY);

    // WHEN a cycle pulls and pushes
    let run = cycle(&mut s).await;

    // THEN the client adopted the account's limit from the first answer: no 429, no window over
    assert!(run.pushes[0].1.as_ref().unwrap().applied > 3_000);
    let stats = fake.stats();
    assert_eq!(stats.total_rate_limited(), 0, "{stats:?}");
    assert!(stats.max_in_window <= 100, "{stats:?}");

    // GIVEN an account with only 30 requests left today, and a reserve of 10 for other apps
    let fake = FakeHubSpot::new(FakeConfig {
        daily_limit: 30,
        requests_per_window: 0,
        search_per_second: 0,
        ..FakeConfig::default()
    });
    fake.seed(3_000, 22);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut s = unlimited_pushing(&server.base_url, EVERYONE_OPPORTUNITY);
    s.hubspot().rate_limit.daily_reserve = 10;
    s.rebuild();

    // WHEN a cycle pulls (30 list pages) and would push
    let run = s.try_cycle().await;

    // THEN it stopped at the reserve instead of running into HubSpot's daily 429
    let stats = fake.stats();
    assert_eq!(stats.rate_limited.get("DAILY"), None, "{stats:?}");
    // Stopped near the reserve (searches carry no headers, so a few more may land after the
    // last list answer said 10 were left) — and never at HubSpot's own limit.
    assert!(
        stats.total_requests() < 30,
        "stopped before the daily limit: {stats:?}"
    );
    let error = run.runs[0]
        .error
        .as_ref()
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    assert!(
        error.contains("daily request budget"),
        "the pull says why it stopped: {error:?}"
    );

    // AND after a restart (new connector, same store) it stays stopped until the reset
    let sent = fake.stats().total_requests();
    s.rebuild();
    let again = s.try_cycle().await;
    assert_eq!(
        fake.stats().total_requests(),
        sent,
        "no request after the restart"
    );
    let error = again.runs[0]
        .error
        .as_ref()
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    assert!(error.contains("daily request budget"), "{error:?}");
}

const EVERYONE_LEAD: &str =
    "[[rules]]\nname = \"everyone\"\ntier = \"lead\"\nwhen = \"has_email\"\n";

/// Contacts at customer, subscriber and MQL, whose rules all say lead; their stages after one
/// cycle, and the fake's counters.
async fn lead_for_everyone(
    allow_downgrade: bool,
) -> (
    Vec<Option<String>>,
    leadsync_fake_hubspot::Stats,
    Setup,
    leadsync_fake_hubspot::ServerHandle,
) {
    let fake = FakeHubSpot::new(FakeConfig::default());
    let ids: Vec<String> = ["customer", "subscriber", "marketingqualifiedlead"]
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            fake.insert(
                [
                    ("email".to_string(), format!("p{i}@acme.io")),
                    ("lifecyclestage".to_string(), stage.to_string()),
                ]
                .into(),
            )
        })
        .collect();
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut s = unlimited_pushing(&server.base_url, EVERYONE_LEAD);
    s.hubspot().allow_downgrade = allow_downgrade;
    s.rebuild();
    fake.reset_stats();
    cycle(&mut s).await;
    let stages = ids
        .iter()
        .map(|id| {
            fake.contact(id)
                .unwrap()
                .properties
                .get("lifecyclestage")
                .cloned()
        })
        .collect();
    (stages, fake.stats(), s, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_only_move_forward_unless_the_connector_allows_downgrades() {
    // GIVEN rules that say lead for everyone, and contacts at customer, subscriber and MQL
    // WHEN the connector pushes forward only (the default)
    let (stages, stats, mut s, _server) = lead_for_everyone(false).await;
    // THEN only the subscriber moves up; HubSpot's stages floor the tiers
    let expected = ["customer", "lead", "marketingqualifiedlead"].map(|s| Some(s.to_string()));
    assert_eq!(stages, expected);
    assert_eq!(stats.requests.get("batch_update"), Some(&1));
    assert_eq!(stats.requests.get("batch_read"), None);
    let tiers = s.store.tier_counts().unwrap().tiers;
    assert_eq!(tiers.get(&Tier::CUSTOMER), Some(&1));

    // WHEN the connector allows downgrades
    let (stages, stats, mut s, _server) = lead_for_everyone(true).await;
    // THEN every contact ends at lead: the two above it were cleared in one request and set in
    // another, and the result was read back
    let expected = ["lead", "lead", "lead"].map(|s| Some(s.to_string()));
    assert_eq!(stages, expected);
    assert_eq!(
        stats.requests.get("batch_update"),
        Some(&2),
        "clear, then set"
    );
    assert_eq!(
        stats.requests.get("batch_read"),
        Some(&2),
        "before, and the read-back"
    );
    let outbox = s.store.outbox_counts("hubspot").unwrap();
    assert_eq!(outbox.get("done"), Some(&3), "{outbox:?}");
    // THEN HubSpot's stages no longer floor the tiers: everyone is a lead
    assert_eq!(
        s.store.tier_counts().unwrap().tiers.get(&Tier::LEAD),
        Some(&3)
    );

    // WHEN the next cycle pulls the contacts back
    cycle(&mut s).await;
    // THEN nothing more is pushed: the stages agree
    let outbox = s.store.outbox_counts("hubspot").unwrap();
    assert_eq!(outbox.get("pending"), None, "{outbox:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_overlap_while_answers_are_slow_but_never_more_than_four_at_once() {
    // GIVEN 2,000 pulled contacts, each with a push planned, and a HubSpot answering every
    // request 50 ms late
    let (fake, server) = unlimited_fake(2_000, 5).await;
    let mut s = unlimited_pushing(&server.base_url, EVERYONE_OPPORTUNITY);
    cycle(&mut s).await;
    let planned = s.plan_everyone(Tier::CUSTOMER);
    assert!(planned > 1_000, "{planned}");
    fake.reset_stats();
    fake.script(Fault::Slow {
        delay: Duration::from_millis(50),
        times: 1_000,
    });

    // WHEN the outbox is drained
    let pushed = leadsync::pipeline::outbox::drain(
        &mut s.store,
        &s.connectors[0],
        &leadsync::pipeline::outbox::Claimant::this_process(),
        &|| true,
    )
    .await
    .unwrap();

    // THEN every push landed, several requests were on their way at once, never more than four
    assert_eq!(pushed.applied, planned, "{pushed:?}");
    assert_eq!(pushed.dead + pushed.retried, 0, "{pushed:?}");
    let stats = fake.stats();
    assert!(
        (2..=leadsync::pipeline::outbox::IN_FLIGHT as u32).contains(&stats.max_concurrent),
        "{stats:?}"
    );
    assert_eq!(
        s.store.outbox_counts("hubspot").unwrap().get("pending"),
        None
    );
    assert!(
        fake.contacts()
            .iter()
            .all(|c| { tier_of(c.properties.get("lifecyclestage")) == Some(Tier::CUSTOMER) })
    );
}

/// A world whose 30 HubSpot contacts were pushed from subscriber to lead by one `sync --once`
/// of the real binary, then ten of them set back to subscriber by a person in HubSpot; the ten
/// ids. `hubspot` is appended to the connector's table.
fn ten_lowered_after_a_push(hubspot: &str) -> (common::hubspot::BinaryWorld, Vec<String>) {
    let world = common::hubspot::BinaryWorld::new(EVERYONE_LEAD, hubspot);
    let ids: Vec<String> = (0..30)
        .map(|i| {
            world.fake.insert(
                [
                    ("email".to_string(), format!("p{i}@acme.io")),
                    ("lifecyclestage".to_string(), "subscriber".to_string()),
                ]
                .into(),
            )
        })
        .collect();
    world.ok(&["sync", "--once"]);
    for id in &ids {
        assert_eq!(world.stage(id).as_deref(), Some("lead"), "pushed: {id}");
    }
    let lowered = ids[..10].to_vec();
    for id in &lowered {
        world.lower(id, "subscriber");
        assert_eq!(world.stage(id).as_deref(), Some("subscriber"));
    }
    (world, lowered)
}

/// The `info` line each push batch logs (JSON logs): (applied, retried, dead) per batch.
fn batch_lines(stderr: &str) -> Vec<(u64, u64, u64)> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "Push batch answered.")
        .map(|v| {
            let f = &v["fields"];
            assert_eq!(f["connector"], "hubspot", "{v}");
            let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
            (n("applied"), n("retried"), n("dead"))
        })
        .collect()
}

#[test]
fn a_stage_lowered_in_hubspot_is_restored_once_and_not_pushed_again() {
    // GIVEN 30 contacts pushed to lead, ten of which a person then set back to subscriber
    let (world, lowered) = ten_lowered_after_a_push("");
    world.fake.reset_stats();

    // WHEN the next cycle pulls them
    let (stdout, stderr) = world.ok(&["sync", "--once"]);

    // THEN the ten are back at lead in HubSpot, in one batch, and the batch's outcome is logged
    for id in &lowered {
        assert_eq!(world.stage(id).as_deref(), Some("lead"), "restored: {id}");
    }
    assert_eq!(world.fake.stats().requests.get("batch_update"), Some(&1));
    assert!(stdout.contains("hubspot: pushed 10 stage(s)"), "{stdout}");
    assert_eq!(batch_lines(&stderr), vec![(10, 0, 0)], "{stderr}");

    // AND a page that touches the persons before the restored stages are pulled back (their
    // stored stage still says subscriber) plans nothing: what was pushed is what they hold
    let mut store = leadsync::store::SqliteStore::open(&world.db).unwrap();
    let target = [leadsync::pipeline::PushTarget::forward("hubspot")];
    let persons: Vec<i64> = lowered
        .iter()
        .map(|id| store.person_by_key("crm:hubspot", id).unwrap().unwrap())
        .collect();
    let mut tx = store.begin().unwrap();
    for person in persons {
        let planned =
            leadsync::pipeline::outbox::plan(tx.as_mut(), &target, person, Tier::LEAD).unwrap();
        assert_eq!(planned, 0, "person {person}");
    }
    drop(tx);

    // AND further cycles, which pull the restored stages back, write nothing
    world.fake.reset_stats();
    let (stdout, stderr) = world.ok(&["sync", "--once"]);
    world.ok(&["sync", "--once"]);
    assert_eq!(world.fake.stats().requests.get("batch_update"), None);
    assert!(stdout.contains("hubspot: pushed 0 stage(s)"), "{stdout}");
    assert!(batch_lines(&stderr).is_empty(), "{stderr}");
    let outbox = store.outbox_counts("hubspot").unwrap();
    assert_eq!(outbox.get("done"), Some(&30), "{outbox:?}");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
}

#[test]
fn with_respect_downgrades_a_lowered_stage_is_kept_shown_and_counted() {
    // GIVEN an account set to respect people's downgrades, 30 contacts pushed to lead, and ten
    // of them set back to subscriber by a person in HubSpot
    let (world, lowered) = ten_lowered_after_a_push("respect_downgrades = true");
    world.fake.reset_stats();

    // WHEN the next cycles pull them
    world.ok(&["sync", "--once"]);
    world.ok(&["sync", "--once"]);

    // THEN nothing is pushed: the ten stay at subscriber
    assert_eq!(world.fake.stats().requests.get("batch_update"), None);
    for id in &lowered {
        assert_eq!(world.stage(id).as_deref(), Some("subscriber"), "{id}");
    }
    // AND explain shows the finding on each of them
    let (view, _) = world.ok(&["explain", "p3@acme.io"]);
    assert!(
        view.contains(&format!("hubspot record {}: lead kept", lowered[3]))
            && view.contains("lowered in hubspot to `subscriber`"),
        "{view}"
    );
    // AND plan counts them, in text and JSON
    let (text, _) = world.ok(&["plan"]);
    assert!(
        text.contains("stages lowered in the CRM, kept (respect_downgrades): 10"),
        "{text}"
    );
    let (json, _) = world.ok(&["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["downgrades_kept"]["count"], 10, "{json}");
    assert_eq!(plan["pushes"], 0, "{json}");

    // AND the daemon's metrics count the open findings
    let daemon = common::daemon::spawn(&world.config, &[], None);
    let mut kept = None;
    common::daemon::wait_until("the findings in /metrics", Duration::from_secs(30), || {
        kept = common::daemon::get(world.admin, "/metrics").and_then(|(_, text)| {
            let scrape =
                prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
            scrape
                .samples
                .into_iter()
                .find(|s| {
                    s.metric == "leadsync_stage_downgrades_kept"
                        && s.labels.get("connector") == Some("hubspot")
                })
                .map(|s| s.value)
        });
        kept.is_some()
    });
    assert_eq!(kept, Some(prometheus_parse::Value::Gauge(10.0)));
    let (code, _) = common::daemon::terminate(daemon, Duration::from_secs(30));
    assert_eq!(code, Some(0));
    assert_eq!(world.fake.stats().requests.get("batch_update"), None);

    // WHEN the person moves them up to lead again
    for id in &lowered {
        world
            .fake
            .update(id, [("lifecyclestage".into(), "lead".into())].into());
    }
    world.ok(&["sync", "--once"]);
    // THEN the findings are closed
    let (json, _) = world.ok(&["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["downgrades_kept"]["count"], 0, "{json}");
}

#[test]
fn with_respect_downgrades_a_stage_leadsync_never_pushed_is_kept_when_lowered_too() {
    // GIVEN an account that respects downgrades, and contacts a person had put at MQL in HubSpot
    // (their stage makes the persons MQLs; nothing is pushed)
    let world = common::hubspot::BinaryWorld::new(EVERYONE_LEAD, "respect_downgrades = true");
    let ids: Vec<String> = (0..6)
        .map(|i| {
            world.fake.insert(
                [
                    ("email".to_string(), format!("m{i}@acme.io")),
                    (
                        "lifecyclestage".to_string(),
                        "marketingqualifiedlead".to_string(),
                    ),
                ]
                .into(),
            )
        })
        .collect();
    world.ok(&["sync", "--once"]);
    assert_eq!(world.fake.stats().requests.get("batch_update"), None);

    // WHEN a person lowers four of them to lead and the next cycle pulls them
    for id in &ids[..4] {
        world.lower(id, "lead");
    }
    world.ok(&["sync", "--once"]);

    // THEN they stay at lead, and the four lowerings are findings
    assert_eq!(world.fake.stats().requests.get("batch_update"), None);
    for id in &ids[..4] {
        assert_eq!(world.stage(id).as_deref(), Some("lead"), "{id}");
    }
    let (json, _) = world.ok(&["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["downgrades_kept"]["count"], 4, "{json}");
}
