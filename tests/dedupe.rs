//! Acceptance: 10,000 contact rows with about 15% duplicates, typed differently, split over a
//! HubSpot CSV, a Salesforce semicolon CSV with multi-line cells and a Pipedrive XLSX, end with
//! exactly one person per human. The expectation comes from the generator's ground truth (which
//! sample person wrote each row), not from the code under test.

mod common;

use common::Env;
use leadsync::store::prelude::*;
use leadsync_sample::{self as sample, SampleRow};
use std::collections::HashSet;
use std::fs::{File, FileTimes};
use std::time::{Duration, SystemTime};

const SEED: u64 = 42;

fn age(path: &std::path::Path, minutes: u64) {
    let t = SystemTime::now() - Duration::from_secs(60 * minutes);
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(t))
        .unwrap();
}

#[test]
fn ten_thousand_rows_with_duplicates_become_exactly_the_expected_persons() {
    // GIVEN 8,500 people, 1,500 extra rows repeating some of them (case, padding, +tags and
    // Gmail dots in emails; phones in six national and international formats; some rows known
    // only by phone and name), and a bad row every 400.
    let files = sample::drop_rows(SEED, 8_500, 3, 0.15, 400);
    let good: Vec<&SampleRow> = files
        .iter()
        .flatten()
        .filter(|r| r.truth.is_some())
        .collect();
    assert_eq!(good.len(), 10_000);
    let expected_persons: HashSet<usize> = good.iter().filter_map(|r| r.truth).collect();
    let expected_rejects = files.iter().flatten().filter(|r| r.truth.is_none()).count();
    assert_eq!(expected_persons.len(), 8_500);
    let variants_with_plus = good.iter().filter(|r| r.email.contains('+')).count();
    let phone_only = good.iter().filter(|r| r.email.is_empty()).count();
    assert!(
        variants_with_plus > 50 && phone_only > 100,
        "the data exercises every variant"
    );

    let env = Env::new("");
    let hubspot = env.inbox.join("hubspot.csv");
    sample::write_hubspot_csv(File::create(&hubspot).unwrap(), files[0].clone()).unwrap();
    let salesforce = env.inbox.join("salesforce.csv");
    sample::write_salesforce_csv(File::create(&salesforce).unwrap(), files[1].clone()).unwrap();
    let pipedrive = env.inbox.join("pipedrive.xlsx");
    sample::write_pipedrive_xlsx(&pipedrive, &files[2]).unwrap();
    // Exported in this order: a person's first row is in an earlier file than their repeats.
    age(&hubspot, 30);
    age(&salesforce, 20);
    age(&pipedrive, 10);

    // WHEN one cycle runs
    let out = env.sync();

    // THEN every human is one person, every bad row a reject, nothing left in the inbox
    let mut store = env.store();
    assert_eq!(
        store.person_count().unwrap(),
        expected_persons.len() as u64,
        "{out}"
    );
    assert_eq!(store.reject_count().unwrap(), expected_rejects as u64);
    assert!(Env::files_in(&env.inbox).is_empty());
    assert_eq!(
        Env::files_in(&env.processed_dir())
            .iter()
            .filter(|p| !p.to_string_lossy().ends_with(".rejects.csv"))
            .count(),
        3
    );

    // AND each sample person's email leads to one person holding their phone too
    let identity = leadsync::config::IdentityConfig::default();
    for i in (0..8_500).step_by(97) {
        let p = sample::person(SEED, i);
        let id = leadsync::explain::find(&mut store, &identity, &p.email)
            .unwrap()
            .expect("found by email");
        if let Some(digits) = &p.phone {
            let by_phone =
                leadsync::explain::find(&mut store, &identity, &sample::format_phone(digits, 3))
                    .unwrap();
            assert_eq!(
                by_phone,
                Some(id),
                "person {i}: phone and email lead to the same person"
            );
        }
    }
}
