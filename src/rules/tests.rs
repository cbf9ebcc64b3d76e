//! The default rules, person by person: each condition just met and just missed.

use super::*;
use crate::model::{FieldValue, Person, Provenance};
use chrono::{Duration, TimeZone, Utc};
use leadsync_connector_core::{Field, Tier};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

fn person(values: &[(Field, &str)]) -> Person {
    let mut p = Person::new(1, now() - Duration::days(400));
    let from = Provenance {
        connector: "s".into(),
        locator: "f row 2".into(),
        observed_at: now(),
    };
    let source = p.source_index(from);
    for (f, v) in values {
        p.fields.entry(f.clone()).or_default().push(FieldValue {
            value: v.to_string(),
            source,
        });
    }
    p
}

fn custom(name: &str) -> Field {
    Field::Custom(name.into())
}

fn defaults() -> Rules {
    Rules::load(RulesSource::builtin()).expect("the default rules compile")
}

/// The tier the rules give and the rule that fires. Every test that asks also checks that the
/// lean path qualifying takes (`Evaluator::tier_of`) says what the full evaluation says.
fn tier_of(rules: &Rules, values: &[(Field, &str)]) -> (Option<Tier>, String) {
    let evaluator = rules.evaluator();
    let eval = evaluator.evaluate(&person(values), now(), false);
    let lean = evaluator.tier_of(&person(values), now());
    assert_eq!(
        (lean.tier, lean.evidence),
        (eval.tier.clone(), eval.evidence.clone()),
        "{values:?}"
    );
    match eval.tier {
        Some((t, r)) => (Some(t), r),
        None => (None, String::new()),
    }
}

const LEAD: &[(Field, &str)] = &[
    (Field::Email, "ann@acme.io"),
    (Field::FirstName, "Ann"),
    (Field::Phone, "+14155550100"),
];

fn with(
    base: &[(Field, &'static str)],
    more: &[(Field, &'static str)],
) -> Vec<(Field, &'static str)> {
    base.iter().chain(more).cloned().collect()
}

#[test]
fn subscriber_is_an_opted_in_email() {
    let r = defaults();
    assert_eq!(
        tier_of(&r, &[(Field::Email, "a@acme.io")]),
        (Some(Tier::SUBSCRIBER), "newsletter_opt_in".into())
    );
    assert_eq!(
        tier_of(&r, &[(Field::Email, "a@acme.io"), (Field::Consent, "true")]).0,
        Some(Tier::SUBSCRIBER)
    );
    // Just missed: opted out, or no email at all.
    assert_eq!(
        tier_of(
            &r,
            &[(Field::Email, "a@acme.io"), (Field::Consent, "false")]
        )
        .0,
        None
    );
    assert_eq!(
        tier_of(
            &r,
            &[(Field::FirstName, "Ann"), (Field::Phone, "+14155550100")]
        )
        .0,
        None
    );
}

#[test]
fn lead_is_name_email_and_phone() {
    let r = defaults();
    assert_eq!(
        tier_of(&r, LEAD),
        (Some(Tier::LEAD), "contact_details".into())
    );
    assert_eq!(
        tier_of(
            &r,
            &[
                (Field::Email, "ann@acme.io"),
                (Field::LastName, "Lee"),
                (Field::Phone, "+14155550100")
            ]
        )
        .0,
        Some(Tier::LEAD)
    );
    // Just missed: no phone.
    assert_eq!(tier_of(&r, &LEAD[..2]).0, Some(Tier::SUBSCRIBER));
}

#[test]
fn mql_by_qualifying_answers() {
    let r = defaults();
    let fits = with(
        LEAD,
        &[
            (Field::JobTitle, "CEO"),
            (Field::Industry, "Software"),
            (Field::CompanySize, "51-200"),
        ],
    );
    assert_eq!(
        tier_of(&r, &fits),
        (Some(Tier::MQL), "qualifying_answers_fit".into())
    );
    let owner = with(
        LEAD,
        &[
            (Field::Role, "Owner"),
            (Field::Industry, "SaaS"),
            (Field::CompanySize, "5000"),
        ],
    );
    assert_eq!(
        tier_of(&r, &owner).0,
        Some(Tier::MQL),
        "size at the top of the range"
    );
    // Just missed, one answer at a time.
    let staff = with(
        LEAD,
        &[
            (Field::JobTitle, "Engineer"),
            (Field::Industry, "Software"),
            (Field::CompanySize, "51-200"),
        ],
    );
    assert_eq!(tier_of(&r, &staff).0, Some(Tier::LEAD));
    let retail = with(
        LEAD,
        &[
            (Field::JobTitle, "CEO"),
            (Field::Industry, "Retail"),
            (Field::CompanySize, "51-200"),
        ],
    );
    assert_eq!(tier_of(&r, &retail).0, Some(Tier::LEAD));
    let small = with(
        LEAD,
        &[
            (Field::JobTitle, "CEO"),
            (Field::Industry, "Software"),
            (Field::CompanySize, "49"),
        ],
    );
    assert_eq!(tier_of(&r, &small).0, Some(Tier::LEAD));
    let huge = with(
        LEAD,
        &[
            (Field::JobTitle, "CEO"),
            (Field::Industry, "Software"),
            (Field::CompanySize, "5001"),
        ],
    );
    assert_eq!(tier_of(&r, &huge).0, Some(Tier::LEAD));
    // The same answers without a phone are not a lead, so not an MQL.
    let no_phone: Vec<_> = fits
        .iter()
        .filter(|(f, _)| *f != Field::Phone)
        .cloned()
        .collect();
    assert_eq!(tier_of(&r, &no_phone).0, Some(Tier::SUBSCRIBER));
}

#[test]
fn mql_by_score_at_the_threshold() {
    let r = defaults();
    // fit: executive 25 + business email 10 = 35; engagement: demo 30 → 65, recent (no decay).
    let recent = (now() - Duration::days(0)).to_rfc3339();
    let recent: &'static str = Box::leak(recent.into_boxed_str());
    let demo = with(
        LEAD,
        &[
            (Field::JobTitle, "VP Sales"),
            (Field::FormKind, "Demo request"),
            (Field::LastActivityAt, recent),
        ],
    );
    let eval = r.evaluator().evaluate(&person(&demo), now(), false);
    assert_eq!(
        (eval.fit.total, eval.engagement.total, eval.score),
        (35, 30, 65)
    );
    assert_eq!(
        eval.tier.unwrap(),
        (Tier::MQL, "score_threshold".to_string())
    );
    // 5 points short: contact-us (20) instead of demo (30) → 55.
    let contact = with(
        LEAD,
        &[
            (Field::JobTitle, "VP Sales"),
            (Field::FormKind, "contact-us"),
            (Field::LastActivityAt, recent),
        ],
    );
    let eval = r.evaluator().evaluate(&person(&contact), now(), false);
    assert_eq!(eval.score, 55);
    assert_eq!(eval.tier.unwrap().0, Tier::LEAD);
}

#[test]
fn engagement_decays_with_inactivity_and_groups_are_capped() {
    let r = defaults();
    let days_ago = |d: i64| -> &'static str {
        Box::leak((now() - Duration::days(d)).to_rfc3339().into_boxed_str())
    };
    let demo = |d| {
        with(
            LEAD,
            &[
                (Field::FormKind, "demo request"),
                (Field::LastActivityAt, days_ago(d)),
            ],
        )
    };
    let score = |d| {
        r.evaluator()
            .evaluate(&person(&demo(d)), now(), false)
            .engagement
    };
    assert_eq!(score(0).total, 30);
    assert_eq!(score(45).total, 15, "half-way through the 90-day decay");
    assert_eq!(score(90).total, 0);
    assert_eq!(score(400).total, 0);
    // Fit caps at 60: executive 25 + industry 20 + size 15 + business email 10 = 70.
    let all = with(
        LEAD,
        &[
            (Field::JobTitle, "CEO"),
            (Field::Industry, "software"),
            (Field::CompanySize, "100"),
        ],
    );
    let fit = r.evaluator().evaluate(&person(&all), now(), false).fit;
    assert_eq!((fit.raw, fit.cap, fit.total), (70, Some(60), 60));
}

#[test]
fn sql_needs_all_three_answers_from_sales() {
    let r = defaults();
    let verified = with(
        LEAD,
        &[
            (custom("has_problem"), "Yes"),
            (custom("can_buy"), "true"),
            (custom("agreed_to_talk"), "x"),
        ],
    );
    assert_eq!(
        tier_of(&r, &verified),
        (Some(Tier::SQL), "sales_verified".into())
    );
    let two = with(
        LEAD,
        &[
            (custom("has_problem"), "Yes"),
            (custom("can_buy"), "true"),
            (custom("agreed_to_talk"), "no"),
        ],
    );
    assert_eq!(tier_of(&r, &two).0, Some(Tier::LEAD));
    // A CRM stage of SQL set by sales is enough.
    let crm = with(LEAD, &[(Field::CrmStage, "salesqualifiedlead")]);
    assert_eq!(
        tier_of(&r, &crm),
        (Some(Tier::SQL), "crm_sales_stage".into())
    );
}

#[test]
fn opportunity_and_customer() {
    let r = defaults();
    assert_eq!(
        tier_of(&r, &with(LEAD, &[(Field::LeadStatus, "Open Deal")])),
        (Some(Tier::OPPORTUNITY), "open_deal".into())
    );
    assert_eq!(
        tier_of(&r, &with(LEAD, &[(Field::CrmStage, "opportunity")])).0,
        Some(Tier::OPPORTUNITY)
    );
    assert_eq!(
        tier_of(&r, &with(LEAD, &[(Field::LeadStatus, "In Progress")])).0,
        Some(Tier::LEAD)
    );
    assert_eq!(
        tier_of(&r, &with(LEAD, &[(Field::CrmStage, "customer")])),
        (Some(Tier::CUSTOMER), "deal_won".into())
    );
    assert_eq!(
        tier_of(&r, &with(LEAD, &[(custom("deal_won"), "yes")])).0,
        Some(Tier::CUSTOMER)
    );
}

#[test]
fn temperature_follows_the_day_thresholds() {
    let r = defaults();
    let at = |d: i64| -> String {
        let t: &'static str = Box::leak((now() - Duration::days(d)).to_rfc3339().into_boxed_str());
        r.evaluator()
            .evaluate(
                &person(&[(Field::Email, "a@b.io"), (Field::LastActivityAt, t)]),
                now(),
                false,
            )
            .temperature
    };
    assert_eq!(
        (at(7), at(8), at(30), at(31)),
        ("hot".into(), "warm".into(), "warm".into(), "cold".into())
    );
    let never = r
        .evaluator()
        .evaluate(&person(&[(Field::Email, "a@b.io")]), now(), false);
    assert_eq!(never.temperature, "cold");
}

fn rules_with(condition: &str) -> Result<Rules, RulesError> {
    let text = format!("[[rules]]\nname = \"r1\"\ntier = \"lead\"\nwhen = '''{condition}'''\n");
    Rules::load(RulesSource {
        path: Some("rules.toml".into()),
        text,
    })
}

fn only_error(condition: &str) -> CompileError {
    match rules_with(condition) {
        Err(RulesError::Conditions { errors, .. }) => errors.into_iter().next().unwrap(),
        other => panic!(
            "expected a condition error for {condition:?}, got {:?}",
            other.map(|_| "compiled")
        ),
    }
}

#[test]
fn invalid_rules_are_reported_with_name_and_position() {
    let syntax = only_error("has_email && (role == 'ceo'");
    assert_eq!(syntax.rule, "r1");
    assert!(syntax.message.contains("syntax error"), "{syntax}");

    let unknown = only_error("has_email && rolle == 'ceo'");
    assert!(
        unknown.message.contains("unknown field `rolle`"),
        "{unknown}"
    );
    // In the file: line 4, after the 10 characters of `when = '''`, the condition's column 14.
    assert_eq!((unknown.line, unknown.column), (4, 24), "{unknown}");

    let wrong_type = only_error("has_email && employees > 'many'");
    assert!(wrong_type.message.contains("wrong type"), "{wrong_type}");
    assert_eq!(
        (wrong_type.line, wrong_type.column),
        (4, 24),
        "{wrong_type}"
    );

    let not_bool = only_error("employees + 1");
    assert!(not_bool.message.contains("true or false"), "{not_bool}");

    let missing_list = only_error("industry in lists.nope");
    assert!(missing_list.message.contains("nope"), "{missing_list}");

    // Every bad rule is reported, not only the first.
    let text = "[[rules]]\nname = \"a\"\ntier = \"lead\"\nwhen = \"x ==\"\n[[rules]]\nname = \"b\"\ntier = \"mql\"\nwhen = \"nope\"\n";
    let Err(RulesError::Conditions { errors, .. }) = Rules::load(RulesSource {
        path: None,
        text: text.into(),
    }) else {
        panic!("two bad rules")
    };
    assert_eq!(
        errors.iter().map(|e| e.rule.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    // A scoring condition cannot use the scores.
    let text = "[[scoring.fit.points]]\nname = \"loop\"\nwhen = \"score > 5\"\npoints = 1\n";
    let Err(RulesError::Conditions { errors, .. }) = Rules::load(RulesSource {
        path: None,
        text: text.into(),
    }) else {
        panic!("a score in a scoring condition")
    };
    assert!(errors[0].message.contains("scoring condition"));
    // Unknown keys in the file are refused too.
    let text = "[[rules]]\nname = \"a\"\ntier = \"lead\"\nwehn = \"has_email\"\n";
    assert!(
        matches!(Rules::load(RulesSource { path: None, text: text.into() }), Err(RulesError::File(m)) if m.contains("wehn"))
    );
}

#[test]
fn names_a_macro_binds_are_not_unknown_facts() {
    // A loop variable is not a fact: these load and evaluate.
    let r = rules_with("has_email && ['software', 'saas'].exists(w, industry == w)").unwrap();
    let ev = r.evaluator();
    let software = person(&[(Field::Email, "a@b.io"), (Field::Industry, "Software")]);
    let retail = person(&[(Field::Email, "a@b.io"), (Field::Industry, "Retail")]);
    assert_eq!(
        ev.evaluate(&software, now(), true).rules[0].result,
        Ok(true)
    );
    assert_eq!(ev.evaluate(&retail, now(), true).rules[0].result, Ok(false));
    assert!(rules_with("[1, 2].all(n, n > 0) && {'a': 1}.exists(k, k == 'a')").is_ok());
    // An unknown name stays unknown, inside a macro or beside one.
    let inside = only_error("[1].exists(x, y > 1)");
    assert!(inside.message.contains("unknown field `y`"), "{inside}");
    let beside = only_error("[1].exists(x, x > 0) && x > 0");
    assert!(beside.message.contains("x"), "{beside}");
}

#[test]
fn the_crm_stage_is_a_floor_and_tiers_never_drop() {
    let r = defaults();
    let ev = r.evaluator();
    // The rules say subscriber, the CRM says opportunity: opportunity, because of the CRM.
    let mut p = person(&[
        (Field::Email, "a@b.io"),
        (Field::CrmStage, "Other"),
        (Field::CrmStage, "opportunity"),
    ]);
    p.fields.get_mut(&Field::CrmStage).unwrap().remove(0);
    let d = qualify(&mut p, &ev, &r, now());
    let change = d.change.unwrap();
    assert_eq!(
        (change.from, change.to, change.rule.as_str()),
        (None, Tier::OPPORTUNITY, "open_deal")
    );
    assert_eq!(change.rules_version, r.version);
    assert_eq!(
        change.evidence.get("crm_rank").map(String::as_str),
        Some("5")
    );

    // The stage disappears (say the CRM record was merged away): the tier stays, a would-demote
    // finding is kept.
    p.fields.remove(&Field::CrmStage);
    let d = qualify(&mut p, &ev, &r, now());
    assert!(d.change.is_none());
    assert_eq!(p.tier, Some(Tier::OPPORTUNITY));
    let demotion = p.demotion.clone().unwrap();
    assert_eq!(
        (demotion.from, demotion.to),
        (Tier::OPPORTUNITY, Some(Tier::SUBSCRIBER))
    );

    // A floor above every rule: the CRM decides and says so.
    let mut q = person(&[(Field::CrmStage, "customer")]);
    let rules = Rules::load(RulesSource {
        path: None,
        text: "[[rules]]\nname = \"s\"\ntier = \"subscriber\"\nwhen = \"has_email\"\n".into(),
    })
    .unwrap();
    let change = qualify(&mut q, &rules.evaluator(), &rules, now())
        .change
        .unwrap();
    assert_eq!(
        (change.to, change.rule.as_str()),
        (Tier::CUSTOMER, CRM_STAGE_RULE)
    );
}

#[test]
fn explain_detail_shows_every_rule_and_its_parts() {
    let r = defaults();
    let eval = r.evaluator().evaluate(&person(LEAD), now(), true);
    assert_eq!(
        eval.rules.len(),
        r.tier_rules().count(),
        "all rules evaluated"
    );
    let fit = eval
        .rules
        .iter()
        .find(|o| o.name == "qualifying_answers_fit")
        .unwrap();
    assert_eq!(fit.result, Ok(false));
    assert!(
        fit.parts.iter().any(
            |(text, value)| text == "seniority in lists.decision_seniority" && value == "false"
        ),
        "{:?}",
        fit.parts
    );
    assert!(
        fit.parts
            .iter()
            .any(|(text, value)| text == "has_phone" && value == "true"),
        "{:?}",
        fit.parts
    );
}

#[test]
fn the_version_is_a_content_hash() {
    let a = RulesSource {
        path: None,
        text: "[[rules]]\nname = \"s\"\ntier = \"lead\"\nwhen = \"has_email\"\n".into(),
    };
    let mut b = a.clone();
    assert_eq!(a.version(), b.version());
    b.text
        .push_str("# a comment changes the text, so the version\n");
    assert_ne!(a.version(), b.version());
    assert_eq!(a.version().len(), 12);
}

#[test]
fn the_lean_path_qualifying_takes_agrees_with_the_full_evaluation() {
    let choices: &[(Field, &[&str])] = &[
        (Field::Email, &["", "ann@acme.io", "ann@gmail.com"]),
        (Field::FirstName, &["", "Ann"]),
        (Field::Phone, &["", "+14155550100"]),
        (
            Field::JobTitle,
            &["", "CEO", "Marketing Manager", "Founder", "Intern"],
        ),
        (
            Field::Industry,
            &["", "Software", "Retail", "Financial Services"],
        ),
        (Field::CompanySize, &["", "51-200", "10000", "11-50"]),
        (
            Field::FormKind,
            &["", "demo request", "contact-us", "ebook"],
        ),
        (
            Field::CrmStage,
            &["", "lead", "salesqualifiedlead", "opportunity"],
        ),
        (Field::LeadStatus, &["", "open deal", "closed won"]),
        (Field::Consent, &["", "false"]),
        (
            Field::LastActivityAt,
            &["", "2026-11-20T00:00:00Z", "2026-09-01T00:00:00Z"],
        ),
    ];
    let rules = defaults();
    let evaluator = rules.evaluator();
    let mut seed: u64 = 7;
    let mut rules_fired = std::collections::BTreeSet::new();
    for _ in 0..3_000 {
        let values: Vec<(Field, &str)> = choices
            .iter()
            .filter_map(|(field, options)| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = options[(seed >> 33) as usize % options.len()];
                (!v.is_empty()).then(|| (field.clone(), v))
            })
            .collect();
        let p = person(&values);
        let eval = evaluator.evaluate(&p, now(), false);
        let lean = evaluator.tier_of(&p, now());
        assert_eq!(
            (lean.tier, lean.evidence),
            (eval.tier.clone(), eval.evidence),
            "{values:?}"
        );
        if let Some((_, rule)) = eval.tier {
            rules_fired.insert(rule);
        }
    }
    // The persons reach every rule, the score threshold included.
    for rule in [
        "newsletter_opt_in",
        "contact_details",
        "qualifying_answers_fit",
        "score_threshold",
        "crm_sales_stage",
        "open_deal",
        "deal_won",
    ] {
        assert!(
            rules_fired.contains(rule),
            "{rule} never fired: {rules_fired:?}"
        );
    }
}
