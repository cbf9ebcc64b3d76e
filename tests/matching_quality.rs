//! Probabilistic matching's quality on a FEBRL-style set (names, addresses, dates of birth,
//! Australian-style postcodes and ids; 2,000 people and 3,000 duplicates with typing errors):
//! the model is trained on the records alone (no truth), then the linked pairs are checked
//! against the generator's truth. Aim: precision ≥ 0.99 and recall ≥ 0.95. The same on a
//! CRM-style set (names, emails, companies, phones), whose figures are reported.

use leadsync::resolve::matching::{
    BlockingRule, Comparator, FieldModel, Fields, KeyPart, Model, candidate_pairs, clusters,
    pair_quality,
};

/// The records as matching sees them, and each one's original (the truth).
fn fields_and_truth(set: &[leadsync_sample::FebrlRecord]) -> (Vec<Fields>, Vec<String>) {
    let records = set
        .iter()
        .map(|r| {
            r.fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        })
        .collect();
    (records, set.iter().map(|r| r.original.clone()).collect())
}

fn rule(parts: &[(&str, KeyPart)]) -> BlockingRule {
    BlockingRule(parts.iter().map(|(f, p)| (f.to_string(), *p)).collect())
}

#[test]
fn a_febrl_style_set_links_with_high_precision_and_recall() {
    // GIVEN 5,000 records, 3,000 of them duplicates of 2,000 people
    let set = leadsync_sample::febrl_set(42, 2_000, 3_000, 5);
    let (records, truth) = fields_and_truth(&set);

    // WHEN blocked, trained on the records alone and linked at 0.95
    let rules = [
        rule(&[
            ("surname", KeyPart::Prefix(3)),
            ("given_name", KeyPart::Soundex),
        ]),
        rule(&[
            ("given_name", KeyPart::Prefix(3)),
            ("surname", KeyPart::Soundex),
        ]),
        rule(&[("date_of_birth", KeyPart::Whole)]),
        rule(&[("soc_sec_id", KeyPart::Whole)]),
        rule(&[
            ("postcode", KeyPart::Whole),
            ("street_number", KeyPart::Whole),
        ]),
    ];
    let model = Model::new(vec![
        FieldModel::new("given_name", Comparator::Name),
        FieldModel::new("surname", Comparator::Name),
        FieldModel::new("street_number", Comparator::Exact),
        FieldModel::new("address_1", Comparator::Text),
        FieldModel::new("address_2", Comparator::Text),
        FieldModel::new("suburb", Comparator::Text),
        FieldModel::new("postcode", Comparator::Digits),
        FieldModel::new("state", Comparator::Exact),
        FieldModel::new("date_of_birth", Comparator::Digits),
        FieldModel::new("soc_sec_id", Comparator::Digits),
    ]);
    let at_default = measure("febrl", &records, &truth, &rules, model);

    // THEN precision ≥ 0.99 and recall ≥ 0.95
    let (p, r) = at_default;
    assert!(p >= 0.99 && r >= 0.95, "precision {p:.4}, recall {r:.4}");
}

/// Trains on `records` alone, links at each threshold; prints and answers `(precision, recall)`
/// at 0.95.
fn measure(
    what: &str,
    records: &[Fields],
    truth: &[String],
    rules: &[BlockingRule],
    mut model: Model,
) -> (f64, f64) {
    let pairs = candidate_pairs(records, rules);
    model.train(records, rules, 200_000, 7);
    println!(
        "{what}: {} candidate pairs; prior {:.4}",
        pairs.len(),
        model.prior
    );
    for f in &model.fields {
        let w: Vec<String> = (0..f.m.len())
            .map(|l| format!("{:.1}", f.weight(l)))
            .collect();
        println!("  {}: weights {}", f.field, w.join(" "));
    }
    let mut at_default = (0.0, 0.0);
    for threshold in [0.5, 0.9, 0.95, 0.99] {
        let linked = clusters(records, &pairs, &model, threshold);
        let (p, r) = pair_quality(&linked, truth);
        println!("{what} at {threshold}: precision {p:.4}, recall {r:.4}");
        if threshold == 0.95 {
            at_default = (p, r);
        }
    }
    at_default
}

#[test]
fn a_crm_style_set_links_personal_addresses_nicknames_and_typos() {
    // GIVEN 3,000 CRM people and 2,000 duplicates from event and purchased lists
    let set = leadsync_sample::crm_set(11, 3_000, 2_000);
    let (records, truth) = fields_and_truth(&set);
    let rules = [
        rule(&[
            ("surname", KeyPart::Soundex),
            ("given_name", KeyPart::Prefix(3)),
        ]),
        rule(&[("email", KeyPart::Whole)]),
        rule(&[("phone", KeyPart::Whole)]),
    ];
    let model = Model::new(vec![
        FieldModel::new("given_name", Comparator::Name),
        FieldModel::new("surname", Comparator::Name),
        FieldModel::new("email", Comparator::Email),
        FieldModel::new("company", Comparator::Text),
        FieldModel::new("phone", Comparator::Phone),
    ]);
    // WHEN trained and linked, THEN the same aim as the FEBRL-style set holds
    let (p, r) = measure("crm", &records, &truth, &rules, model);
    assert!(p >= 0.99 && r >= 0.95, "precision {p:.4}, recall {r:.4}");
}
