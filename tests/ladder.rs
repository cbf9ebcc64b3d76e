//! Custom ladders end to end, through the real binary: a ladder with `sal` between `mql` and
//! `sql` and the side tiers `recycled` and `disqualified` drives the rules, a drop's stage
//! column, HubSpot's lead status, the pull and push of a custom HubSpot lifecycle stage, the
//! funnel JSON and its cohorts. And the default ladder reports the funnel
//! byte for byte as the fixed six tiers did.

mod common;

use common::hubspot::BinaryWorld;
use serde_json::{Value, json};

const RULES: &str = r#"
[ladder]
tiers = [
  { name = "subscriber" },
  { name = "lead" },
  { name = "mql", label = "Marketing qualified lead" },
  { name = "sal", label = "Sales accepted lead", description = "Sales took the lead on." },
  { name = "sql" },
  { name = "opportunity" },
  { name = "customer" },
  { name = "recycled", label = "Recycled", side = true },
  { name = "disqualified", label = "Unqualified", side = true },
]

[[rules]]
name = "opted_in"
tier = "subscriber"
when = "has_email"

[[rules]]
name = "named"
tier = "lead"
when = "has_email && has_name"

[[rules]]
name = "engaged"
tier = "mql"
when = "flag('engaged')"

[[rules]]
name = "accepted_by_sales"
tier = "sal"
when = "flag('engaged') && flag('accepted')"

[[rules]]
name = "sent_back_to_marketing"
tier = "recycled"
when = "flag('recycled')"

[[rules]]
name = "crm_says_sql"
tier = "sql"
when = "crm_rank >= 5"
"#;

fn world() -> (BinaryWorld, std::path::PathBuf) {
    let world = BinaryWorld::new(RULES, "");
    let inbox = world.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    world.write_config(
        RULES,
        &format!(
            "stages = {{ \"1001\" = \"sal\" }}\n\n[connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nsettle = \"0s\"\n",
            inbox.display()
        ),
    );
    world
        .fake
        .add_lifecycle_stage("1001", "Sales Accepted", "marketingqualifiedlead");
    (world, inbox)
}

fn contact(world: &BinaryWorld, email: &str, stage: &str) -> String {
    contact_with(world, email, stage, &[])
}

fn contact_with(world: &BinaryWorld, email: &str, stage: &str, more: &[(&str, &str)]) -> String {
    let mut properties: std::collections::BTreeMap<String, String> = [
        ("email".to_string(), email.to_string()),
        ("firstname".to_string(), "Pat".to_string()),
        ("lastname".to_string(), email[..1].to_uppercase()),
        ("lifecyclestage".to_string(), stage.to_string()),
    ]
    .into();
    for (k, v) in more {
        properties.insert(k.to_string(), v.to_string());
    }
    world.fake.insert(properties)
}

fn drop_into(world: &BinaryWorld, inbox: &std::path::Path, name: &str, text: &str) {
    let staged = world.dir.path().join(name);
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, inbox.join(name)).unwrap();
}

fn json_of(world: &BinaryWorld, args: &[&str]) -> Value {
    let (out, _) = world.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn a_ladder_with_sal_drives_rules_stages_pushes_and_the_funnel() {
    // GIVEN a ladder with `sal` between `mql` and `sql` and two side tiers, HubSpot's custom
    // stage 1001 mapped to `sal`, four HubSpot contacts (at lead, at the custom stage, at SQL,
    // and a lead whose lead status is Unqualified) and a drop whose flags and stage column
    // speak of the same ladder
    let (world, inbox) = world();
    let a = contact(&world, "a@acme.io", "lead");
    let e = contact(&world, "e@acme.io", "1001");
    let f = contact(&world, "f@acme.io", "salesqualifiedlead");
    let h = contact_with(
        &world,
        "h@acme.io",
        "lead",
        &[("hs_lead_status", "UNQUALIFIED")],
    );
    drop_into(
        &world,
        &inbox,
        "people.csv",
        "Email,First Name,Last Name,Engaged,Accepted,Recycled,Lifecycle Stage\n\
         a@acme.io,Pat,A,yes,yes,,\n\
         b@acme.io,Pat,B,yes,,,\n\
         c@acme.io,Pat,C,,,,Sales Accepted Lead\n\
         d@acme.io,Pat,D,,,,\n\
         g@acme.io,Pat,G,yes,,yes,\n",
    );

    // WHEN it syncs (twice: the second cycle pushes what the first decided, whichever
    // connector ran first)
    world.ok(&["sync", "--once"]);
    world.ok(&["sync", "--once"]);

    // THEN the rule for `sal` qualified a, and HubSpot holds the custom stage for it; the
    // custom stage pulled from HubSpot and the drop's stage label both mean `sal`
    assert_eq!(world.stage(&a).as_deref(), Some("1001"));
    assert_eq!(world.stage(&e).as_deref(), Some("1001"));
    assert_eq!(world.stage(&f).as_deref(), Some("salesqualifiedlead"));
    let explained = json_of(&world, &["explain", "a@acme.io", "--json"]);
    assert_eq!(explained["tier"], "sal", "{explained}");

    // AND a rule put g in `recycled`, HubSpot's lead status put h in `disqualified`; each
    // keeps its main tier and HubSpot keeps h's stage
    let g = json_of(&world, &["explain", "g@acme.io", "--json"]);
    assert_eq!(
        (&g["tier"], &g["side"]),
        (&json!("mql"), &json!("recycled")),
        "{g}"
    );
    let explained_h = json_of(&world, &["explain", "h@acme.io", "--json"]);
    assert_eq!(explained_h["side"], "disqualified", "{explained_h}");
    assert_eq!(world.stage(&h).as_deref(), Some("lead"));

    // AND the funnel is keyed by the ladder, in its order, with the steps around `sal`; the
    // persons in side tiers count apart, and in `reached` by their main tier
    let (text, _) = world.ok(&["report", "funnel", "--json"]);
    let funnel: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        funnel["tiers"],
        json!({"subscriber": 0, "lead": 1, "mql": 1, "sal": 3, "sql": 1, "opportunity": 0, "customer": 0})
    );
    assert_eq!(funnel["side"], json!({"recycled": 1, "disqualified": 1}));
    assert_eq!(funnel["unqualified"], 0);
    assert_eq!(funnel["total"], 8);
    assert_eq!(
        funnel["reached"],
        json!({"subscriber": 8, "lead": 8, "mql": 6, "sal": 4, "sql": 1, "opportunity": 0, "customer": 0})
    );
    assert_eq!(funnel["conversions"]["mql_to_sal"], json!(0.6667));
    assert_eq!(funnel["conversions"]["sal_to_sql"], json!(0.25));
    let order = |key: &str| -> Vec<usize> {
        let object = &text[text.find(&format!("\"{key}\"")).unwrap()..];
        let object = &object[..object.find('}').unwrap()];
        [
            "subscriber",
            "lead",
            "mql",
            "sal",
            "sql",
            "opportunity",
            "customer",
        ]
        .iter()
        .filter_map(|t| object.find(&format!("\"{t}")))
        .collect()
    };
    for key in ["tiers", "reached", "conversions"] {
        let at = order(key);
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "{key} in ladder order: {text}"
        );
    }

    // AND the cohorts step through `sal`
    let cohorts = json_of(
        &world,
        &["report", "funnel", "--json", "--since", "2000-01-01"],
    );
    assert_eq!(cohorts["cohorts"]["mql_to_sal"]["entered"], 6, "{cohorts}");
    assert_eq!(cohorts["cohorts"]["mql_to_sal"]["advanced"], 4);
    assert_eq!(cohorts["cohorts"]["sal_to_sql"]["advanced"], 1);

    // AND the text report labels the ladder's tiers and the side tiers
    let (table, _) = world.ok(&["report", "funnel"]);
    assert!(table.lines().any(|l| l.starts_with("sal ")), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("recycled ") && l.ends_with("side tier")),
        "{table}"
    );

    // WHEN g's sheet comes back without the recycled flag
    drop_into(
        &world,
        &inbox,
        "people-2.csv",
        "Email,First Name,Last Name,Engaged,Recycled\ng@acme.io,Pat,G,yes,no\n",
    );
    world.ok(&["sync", "--once"]);

    // THEN g is back at mql on the main ladder, and the history holds both moves
    let g = json_of(&world, &["explain", "g@acme.io", "--json"]);
    assert_eq!(g["tier"], "mql");
    assert!(g.get("side").is_none(), "{g}");
    let moves: Vec<(Value, Value)> = g["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["from"].clone(), c["to"].clone()))
        .collect();
    assert!(
        moves.contains(&(json!("mql"), json!("recycled"))),
        "{moves:?}"
    );
    assert!(
        moves.contains(&(json!("recycled"), json!("mql"))),
        "{moves:?}"
    );
    let funnel = json_of(&world, &["report", "funnel", "--json"]);
    assert_eq!(funnel["tiers"]["mql"], 2);
    assert_eq!(funnel["side"]["recycled"], 0);
}

#[test]
fn a_rule_naming_a_tier_off_the_ladder_is_refused_with_the_ladder_named() {
    // GIVEN rules whose ladder has no `sql`, and a rule asking for it
    let rules = RULES.replace("  { name = \"sql\" },\n", "");
    let world = BinaryWorld::new(&rules, "");

    // WHEN the config is validated
    let out = world.run(&["validate"]);

    // THEN it exits 2 naming the tier and the ladder's tiers
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`sql` is not a tier")
            && err.contains("subscriber, lead, mql, sal, opportunity, customer"),
        "{err}"
    );
}

/// `RULES` without `sal`: its rung and its rule gone.
fn without_sal() -> String {
    RULES
        .replace(
            "  { name = \"sal\", label = \"Sales accepted lead\", description = \"Sales took the lead on.\" },\n",
            "",
        )
        .replace(
            "[[rules]]\nname = \"accepted_by_sales\"\ntier = \"sal\"\nwhen = \"flag('engaged') && flag('accepted')\"\n",
            "",
        )
}

#[test]
fn removing_a_tier_needs_a_mapping_and_moves_stored_persons_as_plan_said() {
    // GIVEN persons qualified on a ladder with `sal`: two at it, one at mql, one lead
    let env = common::Env::new("");
    let rules = |name: &str, text: &str| {
        let path = env.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let use_rules = |path: &std::path::Path| {
        env.write_config(&format!("\n[rules]\nfile = \"{}\"\n", path.display()));
    };
    use_rules(&rules("v1.toml", RULES));
    env.drop_file(
        "people.csv",
        b"Email,First Name,Last Name,Engaged,Accepted,Lifecycle Stage\n\
          a@acme.io,Pat,A,yes,yes,\n\
          b@acme.io,Pat,B,yes,,\n\
          c@acme.io,Pat,C,,,Sales Accepted Lead\n\
          d@acme.io,Pat,D,,,\n",
    );
    env.sync();
    let funnel = |env: &common::Env| -> Value {
        let out = env.run(&["report", "funnel", "--json"]);
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(funnel(&env)["tiers"]["sal"], 2);

    // WHEN a ladder without `sal` and without a mapping is previewed, validated or synced
    let unmapped = rules("v2.toml", &without_sal());
    let plan = env.run(&["plan", "--rules", unmapped.to_str().unwrap()]);
    use_rules(&unmapped);
    let validate = env.run(&["validate"]);
    let sync = env.run(&["sync", "--once"]);

    // THEN each is refused with exit 2, naming the tier and the persons at it; plan, which
    // knows the ladder before, also the nearest tier below it that the new one keeps
    assert!(
        String::from_utf8_lossy(&plan.stderr)
            .contains("the nearest tier below it that the ladder keeps is `mql`"),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    for (what, out) in [("plan", &plan), ("validate", &validate), ("sync", &sync)] {
        assert_eq!(out.status.code(), Some(2), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("`sal` (2 person(s) at it now") && err.contains("[ladder.removed]"),
            "{what}: {err}"
        );
    }

    // WHEN the removal maps `sal` to `mql`, is previewed, then applied
    let mapped = rules(
        "v3.toml",
        &without_sal().replacen(
            "]\n\n[[rules]]",
            "]\n\n[ladder.removed]\nsal = \"mql\"\n\n[[rules]]",
            1,
        ),
    );
    use_rules(&env.dir.path().join("v1.toml"));
    let plan = env.run(&["plan", "--rules", mapped.to_str().unwrap()]);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let said = String::from_utf8_lossy(&plan.stdout);
    assert!(
        said.contains("ladder: `sal` is no longer on the ladder: 2 person(s) at it count as `mql`"),
        "{said}"
    );
    use_rules(&mapped);
    env.sync();

    // THEN the two count as mql, as plan said, and `sal` is gone from the funnel
    let after = funnel(&env);
    assert_eq!(
        after["tiers"],
        json!({"subscriber": 0, "lead": 1, "mql": 3, "sql": 0, "opportunity": 0, "customer": 0})
    );
    let validate = env.run(&["validate"]);
    assert!(validate.status.success());
    assert!(
        String::from_utf8_lossy(&validate.stdout).contains("stored `sal` counts as `mql`"),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );
}
