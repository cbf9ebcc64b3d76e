//! Probabilistic matching's quality on a FEBRL-style set (names, addresses, dates of birth,
//! Australian-style postcodes and ids; 2,000 people and 3,000 duplicates with typing errors):
//! the model is trained on the records alone (no truth), then the linked pairs are checked
//! against the generator's truth. Aim: precision ≥ 0.99 and recall ≥ 0.95.

use leadsync::resolve::matching::{
    BlockingRule, Comparator, FieldModel, Fields, KeyPart, Model, candidate_pairs, clusters,
    pair_quality,
};

fn rule(parts: &[(&str, KeyPart)]) -> BlockingRule {
    BlockingRule(parts.iter().map(|(f, p)| (f.to_string(), *p)).collect())
}

#[test]
fn a_febrl_style_set_links_with_high_precision_and_recall() {
    // GIVEN 5,000 records, 3,000 of them duplicates of 2,000 people
    let set = leadsync_sample::febrl_set(42, 2_000, 3_000, 5);
    let records: Vec<Fields> = set
        .iter()
        .map(|r| {
            r.fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        })
        .collect();
    let truth: Vec<String> = set.iter().map(|r| r.original.clone()).collect();

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
    let pairs = candidate_pairs(&records, &rules);
    let mut model = Model::new(vec![
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
    model.train(&records, &pairs, 200_000, 7);
    let (mut at_default, mut lines) = ((0.0, 0.0), Vec::new());
    for threshold in [0.5, 0.9, 0.95, 0.99] {
        let linked = clusters(&records, &pairs, &model, threshold);
        let (p, r) = pair_quality(&linked, &truth);
        lines.push(format!("at {threshold}: precision {p:.4}, recall {r:.4}"));
        if threshold == 0.95 {
            at_default = (p, r);
        }
    }
    println!(
        "{} candidate pairs; prior {:.4}\n{}",
        pairs.len(),
        model.prior,
        lines.join("\n")
    );

    // THEN precision ≥ 0.99 and recall ≥ 0.95
    let (p, r) = at_default;
    assert!(p >= 0.99 && r >= 0.95, "{}", lines.join("\n"));
}
