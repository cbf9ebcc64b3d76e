//! The native evaluator against the CEL interpreter: for every condition, fixed and generated,
//! and many persons' facts, both give the same value, or both fail.

use super::compile::Condition;
use super::engine::{root_context, settings};
use super::facts::{FACTS, FactSettings, FactValue, Facts, Kind};
use super::file::{RulesFile, RulesSource};
use super::native::{Constants, is_yes};
use cel::Context;
use proptest::prelude::*;

/// The default rules' settings, and thresholds and lists of every shape.
fn constants_and_settings() -> (Constants, FactSettings) {
    let mut file: RulesFile = RulesSource::builtin().parse().expect("the defaults parse");
    file.thresholds.insert("ratio".into(), 0.5);
    file.thresholds.insert("negative".into(), -3.0);
    file.thresholds.insert("huge".into(), 1e20);
    file.thresholds.insert("not_a_number".into(), f64::NAN);
    file.lists.insert("empty".into(), Vec::new());
    file.lists
        .insert("padded".into(), vec![" Demo Request ".into(), "X".into()]);
    let constants = Constants::of(&file);
    let settings = settings(&file, &constants);
    (constants, settings)
}

/// Compiles without the load-time sample check, so that conditions that always fail compile
/// too.
fn condition(source: &str, constants: &Constants, root: &Context<'static, 'static>) -> Condition {
    Condition::compile("t", source, true, root, &[], constants)
        .unwrap_or_else(|e| panic!("`{source}` compiles: {e}"))
}

/// The interpreter's result and the native one (`None` without a native form); errors as
/// `Err(())`.
fn both(
    cond: &Condition,
    facts: &Facts,
    root: &Context<'static, 'static>,
) -> (Result<bool, ()>, Option<Result<bool, ()>>) {
    let mut ctx = root.new_inner_scope();
    ctx.set_variable_resolver(facts);
    let cel = cond.eval(&ctx);
    // What the engine uses is always the interpreter's answer, message included.
    assert_eq!(cond.holds(facts, root), cel);
    let native = cond.native().map(|n| n.holds(facts).map_err(|_| ()));
    (cel.map_err(|_| ()), native)
}

const TEXTS: &[&str] = &[
    "",
    "x",
    "executive",
    "owner",
    "software",
    "demo request",
    "contact-us",
    "ebook",
    "open_deal",
    "closed_won",
    "DEMO",
    "ünïcödé",
];
const INTS: &[i64] = &[
    0,
    1,
    4,
    5,
    6,
    49,
    50,
    60,
    5000,
    5001,
    -1,
    100_000,
    i64::MAX,
    i64::MIN,
];
const CUSTOM_NAMES: &[&str] = &[
    "has_problem",
    "can_buy",
    "agreed_to_talk",
    "open_deal",
    "deal_won",
    "budget",
];
const CUSTOM_VALUES: &[&str] = &[
    "yes",
    "no",
    "",
    "1",
    " X ",
    "checked",
    "TRUE",
    "y",
    "chec\u{212A}ed",
    "nope",
];

/// Facts of random values, of the right kind per fact, and random custom fields.
fn facts_values() -> impl Strategy<Value = (Vec<FactValue<'static>>, Vec<(String, String)>)> {
    let values =
        proptest::collection::vec((0..TEXTS.len(), 0..INTS.len(), any::<bool>()), FACTS.len())
            .prop_map(|picks| {
                FACTS
                    .iter()
                    .zip(picks)
                    .map(|((_, kind, _), (t, i, b))| match kind {
                        Kind::Text => FactValue::Text(TEXTS[t].into()),
                        Kind::Int => FactValue::Int(INTS[i]),
                        Kind::Bool => FactValue::Bool(b),
                        Kind::Map => FactValue::Map,
                    })
                    .collect::<Vec<_>>()
            });
    let custom =
        proptest::collection::btree_map(0..CUSTOM_NAMES.len(), 0..CUSTOM_VALUES.len(), 0..4)
            .prop_map(|m| {
                m.into_iter()
                    .map(|(n, v)| (CUSTOM_NAMES[n].to_string(), CUSTOM_VALUES[v].to_string()))
                    .collect::<Vec<_>>()
            });
    (values, custom)
}

/// Conditions with a native form: the default rules' and every construct, with type errors,
/// errors on either side of `&&` and `||`, missing keys, custom fields present or absent.
const NATIVE: &[&str] = &[
    // The default rules.
    "seniority in lists.decision_seniority",
    "industry in lists.target_industries",
    "employees >= thresholds.min_employees && employees <= thresholds.max_employees",
    "has_email && !email_is_freemail",
    "form_kind.contains('demo')",
    "form_kind.contains('contact')",
    "form_kind in lists.content_forms",
    "has_email && !opted_out",
    "has_email && has_name && has_phone",
    "has_email && has_name && has_phone && seniority in lists.decision_seniority && industry in lists.target_industries && employees >= thresholds.min_employees && employees <= thresholds.max_employees",
    "has_email && has_name && has_phone && score >= thresholds.mql_score",
    "flag('has_problem') && flag('can_buy') && flag('agreed_to_talk')",
    "crm_rank >= 4",
    "crm_rank >= 5 || lead_status == 'open_deal' || flag('open_deal')",
    "crm_rank >= 6 || lead_status == 'closed_won' || flag('deal_won')",
    // Literals and comparisons across numeric types.
    "true",
    "false",
    "employees > 50u",
    "employees == 50.0",
    "employees < 49.5",
    "5u >= employees",
    "employees != 60",
    "employees > thresholds.ratio",
    "employees >= thresholds.negative",
    "employees < thresholds.huge",
    "employees < thresholds.not_a_number",
    "employees == thresholds.not_a_number",
    "employees != thresholds.not_a_number",
    "thresholds.ratio == 0.5",
    "-employees < 0",
    "-thresholds.ratio < 0.0",
    "18446744073709551615u > employees",
    "1 == 1u",
    "0.0 == -0.0",
    // Strings.
    "email < 'm'",
    "email >= ''",
    "email == ''",
    "role != 'owner'",
    "email.startsWith('e')",
    "email.endsWith('')",
    "company.contains(first_name)",
    "size(email) > 3",
    "email.size() == 0",
    "size(lists.content_forms) == 4",
    "lists.empty.size() == 0",
    "'demo request' in lists.padded",
    "'x' in lists.padded",
    // Bools compare with bools.
    "has_email == true",
    "has_email > has_phone",
    "has_email != has_phone",
    // Type errors and mismatches.
    "employees == 'x'",
    "employees != email",
    "employees < email",
    "email > 1",
    "has_email < 1",
    "!email",
    "!employees",
    "-email == ''",
    "email",
    "employees",
    "email.contains(1)",
    "employees.contains('1')",
    "size(employees) == 1",
    "employees in lists.decision_seniority",
    "email in email",
    "lists.content_forms < lists.empty",
    "lists.content_forms == lists.content_forms",
    "lists.empty == []",
    "lists.padded == ['demo request', 'x']",
    "lists.padded != ['x', 'demo request']",
    "1 in [1u, 'a']",
    "'a' in ['b', 2.0, 'a']",
    "employees in [0, 1.0, 4u]",
    "-(-employees) == employees",
    // Error absorption, on each side, each way.
    "thresholds.missing > 1 && false",
    "false && thresholds.missing > 1",
    "thresholds.missing > 1 && true",
    "true && thresholds.missing > 1",
    "thresholds.missing > 1 || true",
    "true || thresholds.missing > 1",
    "thresholds.missing > 1 || false",
    "false || thresholds.missing > 1",
    "email && false",
    "false && email",
    "email || true",
    "true || email",
    "email && true",
    "true && email",
    "false || email",
    "email || false",
    "email || employees",
    "lists.missing == [] || has_email",
    "has_email && custom.budget == 'yes'",
    "custom.budget == 'yes' || has_email",
    "!(custom.budget == 'yes') && has_phone",
    "employees >= 50 && email > 1",
    // Ternaries.
    "has_email ? employees > 1 : email == ''",
    "email ? true : false",
    "has_email ? 1 : true",
    "(has_phone ? lists.missing : lists.content_forms) == []",
    // Missing keys and custom fields.
    "'x' in lists.missing",
    "thresholds.missing == 1",
    "custom.budget == 'yes'",
    "custom.budget != ''",
    "custom.absent == ''",
    "field('budget') == ''",
    "field('budget').contains('e')",
    "size(field('has_problem')) > 0",
    "field('absent') == ''",
    "flag('budget')",
    "flag('absent')",
    "!flag('has_problem') || flag('can_buy')",
];

/// Conditions without a native form: CEL evaluates them.
const FALLBACK: &[&str] = &[
    // (A loop variable must be named like a fact: the load-time check takes it for one.)
    "[1, 2].exists(employees, employees > 1)",
    "lists.decision_seniority.exists(role, role == 'owner')",
    "email.matches('^a')",
    "email + 'x' == 'xx'",
    "employees * 2 > 100",
    "has(custom.budget)",
    "lists.content_forms[0] == 'ebook'",
    "email.lowerAscii() == email",
    "null == null",
    "'x' in thresholds",
    "[email, role] == ['', '']",
    "field(email) == ''",
    "string(employees) == '0'",
    "custom == {}",
    "-9223372036854775807 - 1 < employees",
];

fn check(
    sources: &[&str],
    native: bool,
    values: Vec<FactValue<'static>>,
    custom: Vec<(String, String)>,
) {
    let (constants, settings) = constants_and_settings();
    let root = root_context();
    let facts = Facts::of_values(values, custom, &settings);
    for source in sources {
        let cond = condition(source, &constants, &root);
        let (cel, fast) = both(&cond, &facts, &root);
        if native {
            assert_eq!(fast, Some(cel), "`{source}` for {:?}", facts.values);
        } else {
            assert_eq!(fast, None, "`{source}` has no native form");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn native_conditions_agree_with_cel((values, custom) in facts_values()) {
        check(NATIVE, true, values, custom);
    }

    #[test]
    fn other_conditions_fall_back_to_cel((values, custom) in facts_values()) {
        check(FALLBACK, false, values, custom);
    }

    /// Random expressions of the native constructs, mixing every type.
    #[test]
    fn generated_conditions_agree_with_cel(
        source in expression(),
        persons in proptest::collection::vec(facts_values(), 8),
    ) {
        let (constants, settings) = constants_and_settings();
        let root = root_context();
        let Ok(cond) = Condition::compile("t", &source, true, &root, &[], &constants) else {
            return Err(TestCaseError::reject("does not parse"));
        };
        prop_assert!(cond.native().is_some(), "`{}` has a native form", source);
        for (values, custom) in persons {
            let facts = Facts::of_values(values, custom, &settings);
            let (cel, fast) = both(&cond, &facts, &root);
            prop_assert_eq!(fast, Some(cel), "`{}` for {:?}", source, facts.values);
        }
    }
}

/// Source text of a random expression of the constructs with a native form.
fn expression() -> impl Strategy<Value = String> {
    let facts: Vec<String> = FACTS
        .iter()
        .filter(|(_, kind, _)| *kind != Kind::Map)
        .map(|(n, _, _)| n.to_string())
        .collect();
    let literals: Vec<String> = [
        "0",
        "1",
        "-1",
        "50",
        "5000",
        "9223372036854775807",
        "0u",
        "5u",
        "18446744073709551615u",
        "0.5",
        "50.0",
        "-0.0",
        "1e20",
        "''",
        "'x'",
        "'demo'",
        "'executive'",
        "'DEMO'",
        "true",
        "false",
        "[]",
        "['executive', 'x', 1]",
        "[0, 50.0, 5u]",
        "thresholds.mql_score",
        "thresholds.ratio",
        "thresholds.not_a_number",
        "thresholds.missing",
        "lists.decision_seniority",
        "lists.padded",
        "lists.empty",
        "lists.missing",
        "custom.budget",
        "custom.has_problem",
        "custom.absent",
        "field('budget')",
        "field('absent')",
        "flag('has_problem')",
        "flag('absent')",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let leaf = prop_oneof![
        proptest::sample::select(facts),
        proptest::sample::select(literals),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        const BINARY: &[&str] = &["&&", "||", "==", "!=", "<", "<=", ">", ">=", "in"];
        const MEMBERS: &[&str] = &["contains", "startsWith", "endsWith"];
        prop_oneof![
            (
                inner.clone(),
                proptest::sample::select(BINARY),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            (
                inner.clone(),
                proptest::sample::select(MEMBERS),
                inner.clone()
            )
                .prop_map(|(a, m, b)| format!("({a}).{m}({b})")),
            inner.clone().prop_map(|a| format!("size({a})")),
            inner.prop_map(|a| format!("({a}).size()")),
        ]
    })
}

#[test]
fn flags_read_as_before() {
    let before = |v: &str| {
        matches!(
            v.trim().to_lowercase().as_str(),
            "true" | "yes" | "y" | "1" | "x" | "checked"
        )
    };
    for v in CUSTOM_VALUES
        .iter()
        .chain(TEXTS)
        .chain(&["YES ", "\tx", "İ", "Y"])
    {
        assert_eq!(is_yes(v), before(v), "{v:?}");
    }
}

#[test]
fn the_default_rules_are_all_native() {
    let (constants, _) = constants_and_settings();
    let root = root_context();
    let file: RulesFile = RulesSource::builtin().parse().unwrap();
    let all = file
        .rules
        .iter()
        .map(|r| &r.when)
        .chain(file.scoring.fit.points.iter().map(|p| &p.when))
        .chain(file.scoring.engagement.points.iter().map(|p| &p.when));
    for when in all {
        assert!(
            condition(when, &constants, &root).native().is_some(),
            "`{when}` is native"
        );
    }
}
