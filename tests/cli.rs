//! The command-line contract: exit codes, config resolution, readable errors.

mod common;

use common::Env;
use std::fs;
use std::process::Command;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn validate_passes_on_a_good_config() {
    let env = Env::new("");
    let out = env.run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("connector drops: ok"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn validate_exits_2_naming_an_unknown_key() {
    let env = Env::new("inbx = \"/tmp\"");
    let out = env.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("inbx") && err.contains(&env.config.display().to_string()),
        "{err}"
    );
}

#[test]
fn validate_exits_2_on_a_missing_inbox() {
    let env = Env::new("");
    fs::remove_dir(&env.inbox).unwrap();
    let out = env.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("inbox folder") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn validate_exits_2_on_a_bad_cron_expression() {
    for (expr, says) in [
        ("*/5 * * * *", "six"),
        ("0 0 25 * * *", "not a valid cron"),
        ("every monday", "six"),
    ] {
        let env = Env::new(&format!("schedule = \"{expr}\""));
        let out = env.run(&["validate"]);
        assert_eq!(out.status.code(), Some(2), "{expr}");
        let err = stderr(&out);
        assert!(
            err.contains("connectors.drops.schedule") && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn a_missing_config_file_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .args(["--config", "/nonexistent/leadsync.toml", "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/leadsync.toml not found"));
}

#[test]
fn the_config_comes_from_the_flag_in_any_position_or_the_environment() {
    let env = Env::new("");
    let after = Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .args(["validate", "--config", env.config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    let from_env = Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .arg("validate")
        .env("LEADSYNC_CONFIG", &env.config)
        .output()
        .unwrap();
    assert_eq!(from_env.status.code(), Some(0), "{}", stderr(&from_env));
    // Without either, config/leadsync.toml relative to the working directory.
    fs::create_dir_all(env.dir.path().join("config")).unwrap();
    fs::copy(&env.config, env.dir.path().join("config/leadsync.toml")).unwrap();
    let default = Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .arg("validate")
        .env_remove("LEADSYNC_CONFIG")
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert_eq!(default.status.code(), Some(0), "{}", stderr(&default));
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new("");
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--once"));
    let out = env.run(&["sync", "--once", "--connector", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no connector `nope`") && stderr(&out).contains("drops"));
    let out = env.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_failing_connector_is_a_runtime_failure() {
    let env = Env::new("");
    fs::remove_dir(&env.inbox).unwrap();
    let out = env.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAILED") && stderr(&out).contains("drops"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn explain_and_funnel_show_what_was_ingested() {
    let env = Env::new("");
    env.drop_file(
        "signups.csv",
        b"Email,First Name,Last Name,Phone Number,Lifecycle Stage\n\
          ann@acme.io,Ann,Lee,(415) 555-0100,\n\
          bob@acme.io,,,,\n\
          ANN@ACME.IO,,,,Sales Qualified Lead\n\
          carl@acme.io,Carl,,,Customer\n",
    );
    env.sync();

    let out = env.run(&["explain", " Ann@Acme.io "]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Tier: sql"), "{text}");
    assert!(
        text.contains("signups.csv row 2") && text.contains("signups.csv row 4"),
        "{text}"
    );
    assert!(
        text.contains("lead → sql") || text.contains("— → sql"),
        "{text}"
    );

    let json = env.run(&["explain", "+1 415 555 0100", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["tier"], "sql");
    assert_eq!(v["fields"]["email"][0]["value"], "ann@acme.io");
    assert_eq!(v["fields"]["first_name"][0]["locator"], "signups.csv row 2");
    assert_eq!(v["fields"]["crm_stage"][0]["locator"], "signups.csv row 4");
    assert_eq!(v["records"].as_array().unwrap().len(), 2);

    let missing = env.run(&["explain", "nobody@acme.io"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no person matches"));

    let funnel = env.run(&["report", "funnel", "--json"]);
    let f: serde_json::Value = serde_json::from_slice(&funnel.stdout).unwrap();
    assert_eq!(f["tiers"]["subscriber"], 1);
    assert_eq!(f["tiers"]["sql"], 1);
    assert_eq!(f["tiers"]["customer"], 1);
    assert_eq!(f["tiers"]["lead"], 0);
    assert_eq!(
        f["conversions"]["subscriber_to_lead"],
        serde_json::json!(0.6667)
    );
    assert_eq!(
        f["conversions"]["sql_to_opportunity"],
        serde_json::json!(0.5)
    );
}

/// `leadsync ARGS` on `env`'s config with `vars` set (and nothing else of the caller's config).
fn run_with(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_leadsync"))
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .env_remove("LEADSYNC_CONFIG")
        .env_remove("LEADSYNC_TEST_ADMIN_TOKEN")
        .envs(vars.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn validate_refuses_a_secret_that_run_cannot_read() {
    // GIVEN an admin token in a variable that is not set, and one in a file that does not exist
    for (token, says) in [
        (
            "{ env = \"LEADSYNC_TEST_ADMIN_TOKEN\" }".to_string(),
            "`LEADSYNC_TEST_ADMIN_TOKEN` is not set",
        ),
        (
            "{ file = \"/nonexistent/admin-token\" }".to_string(),
            "/nonexistent/admin-token",
        ),
    ] {
        let env = Env::new(&format!("\n[admin]\ntoken = {token}"));
        // WHEN validate runs, THEN it exits 2 naming the key, as run does
        let out = run_with(&env, &["validate"], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains("admin.token") && err.contains(says), "{err}");
        let run = run_with(&env, &["run"], &[]);
        assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
        assert!(stderr(&run).contains("admin.token"), "{}", stderr(&run));
    }

    // GIVEN a HubSpot connector whose token file is missing beside the unset admin token:
    // both are named at once, so one validate shows everything to fix.
    let env = Env::new(
        "\n[admin]\ntoken = { env = \"LEADSYNC_TEST_ADMIN_TOKEN\" }\n\n[connectors.crm]\ntype = \"hubspot\"\nbase_url = \"http://127.0.0.1:9\"\ntoken = { file = \"/nonexistent/hubspot-token\" }",
    );
    let out = run_with(&env, &["validate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("admin.token") && err.contains("connectors.crm.token"),
        "{err}"
    );

    // GIVEN the admin token set: validate passes and never prints it
    let env = Env::new("\n[admin]\ntoken = { env = \"LEADSYNC_TEST_ADMIN_TOKEN\" }");
    let out = run_with(
        &env,
        &["validate"],
        &[("LEADSYNC_TEST_ADMIN_TOKEN", "s3cret-admin-value")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("secrets: ok (1 read)"), "{all}");
    assert!(!all.contains("s3cret-admin-value"), "{all}");
}

#[test]
fn demo_refuses_too_few_contacts_and_runs_the_cycles_its_help_announces() {
    // GIVEN --contacts 0, THEN a usage error naming the minimum (not a silent 30)
    let demo = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .arg("demo")
            .args(args)
            .env_remove("LEADSYNC_CONFIG")
            .output()
            .unwrap()
    };
    let out = demo(&["--contacts", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("at least 30"), "{}", stderr(&out));

    // WHEN the smallest demo runs, THEN it runs as many cycles as `demo --help` says
    let help = stdout(&demo(&["--help"]));
    let words = ["one", "two", "three", "four"];
    let announced = words
        .iter()
        .position(|w| help.contains(&format!("{w} full cycle")))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("the help counts the cycles: {help}"));
    let dir = tempfile::tempdir().unwrap();
    let out = demo(&["--contacts", "30", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ran = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("cycle ") && l.ends_with(':'))
        .count();
    assert_eq!(ran, announced, "{help}\n{}", stdout(&out));
}

#[test]
fn config_errors_name_the_key_the_accepted_values_and_the_variable_to_blame() {
    let env = Env::new("");
    let inbox = env.inbox.display().to_string();
    let db = env.db.display().to_string();
    let validate = |toml: &str, vars: &[(&str, &str)]| {
        fs::write(&env.config, toml).unwrap();
        let out = run_with(&env, &["validate"], vars);
        assert_eq!(out.status.code(), Some(2), "{toml}: {}", stdout(&out));
        stderr(&out)
    };
    let drops = format!(
        "[store]\nurl = \"sqlite://{db}\"\n[connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{inbox}\"\n"
    );

    // A wrong type inside a connector names the key, not just the connector's table.
    let err = validate(&format!("{drops}settle = 5\n"), &[]);
    assert!(
        err.contains("`connectors.drops.settle`") && err.contains("\"5s\""),
        "{err}"
    );

    // A bad value lists the accepted ones instead of internal type names.
    let err = validate(
        &format!("{drops}[merge]\ndefault_policy = \"newest\"\n"),
        &[],
    );
    assert!(
        err.contains("merge.default_policy")
            && err.contains("source_priority, last_write_wins, fill_empty or maximum")
            && !err.contains("MergePolicy"),
        "{err}"
    );
    let err = validate(
        &format!("{drops}[connectors.crm]\ntype = \"hubspot\"\ntoken = \"pat-na1-abc\"\n"),
        &[],
    );
    assert!(
        err.contains("`connectors.crm.token`")
            && err.contains("{ env = \"NAME\" }")
            && !err.contains("TokenSource"),
        "{err}"
    );

    // A bad override is blamed on its variable, not on the (valid) file.
    let err = validate(&drops, &[("LEADSYNC__DAEMON__PUSH_INTERVAL", "soon")]);
    assert!(
        err.contains("environment variable LEADSYNC__DAEMON__PUSH_INTERVAL")
            && err.contains("daemon.push_interval")
            && !err.starts_with("error: config file"),
        "{err}"
    );
    let err = validate(&drops, &[("LEADSYNC__STORE__URL", "mysql://db/leads")]);
    assert!(
        err.contains("environment variable LEADSYNC__STORE__URL"),
        "{err}"
    );
    assert!(
        err.contains("write sqlite://PATH or postgres://USER@HOST:PORT/DATABASE"),
        "{err}"
    );
}

#[test]
fn explain_cuts_a_huge_value_in_the_text_and_keeps_it_in_json() {
    // GIVEN a drop whose notes cell holds a pasted document of 1 MiB
    let env = Env::new("");
    let huge = "x".repeat(1 << 20);
    env.drop_file(
        "big.csv",
        format!("Email,First Name,Notes\nann@acme.io,Ann,{huge}\n").as_bytes(),
    );
    env.sync();

    // WHEN the person is explained, THEN the text shows the start and says how long it was
    let out = env.run(&["explain", "ann@acme.io"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.len() < 20_000, "{} bytes of text", text.len());
    let note = "… (1,048,576 chars, truncated";
    assert_eq!(text.matches(note).count(), 2, "field and source record");
    // AND the JSON keeps the whole value
    let json = env.run(&["explain", "ann@acme.io", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["fields"]["notes"][0]["value"].as_str().map(str::len),
        Some(huge.len())
    );
}

#[test]
fn two_syncs_at_once_on_one_store_both_succeed_and_store_each_row_once() {
    // GIVEN a drop big enough to take several pages
    let env = Env::new("");
    let rows = 20_000;
    let mut csv = String::from("Email,First Name,Phone Number\n");
    for i in 0..rows {
        csv.push_str(&format!("p{i}@acme.io,P{i},+1 650 {i:07}\n"));
    }
    env.drop_file("contacts.csv", csv.as_bytes());

    // WHEN two `sync --once` run at the same time on the same store and inbox
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .arg("--config")
            .arg(&env.config)
            .args(["sync", "--once"])
            .env_remove("LEADSYNC_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];

    // THEN both exit 0 in plain words (the one that found the connector taken says so)
    for out in &outs {
        let all = format!("{}{}", stdout(out), stderr(out));
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(
            !all.contains("FAILED")
                && !all.contains("CursorPosition")
                && !all.contains("backwards"),
            "{all}"
        );
        if all.contains("— skipped:") {
            assert!(all.contains("another run holds connector drops"), "{all}");
        }
    }
    // AND every row is stored once, the file is processed once, nothing failed
    assert_eq!(env.person_count(), rows);
    assert_eq!(Env::files_in(&env.processed_dir()).len(), 1);
    assert!(Env::files_in(&env.failed_dir()).is_empty());
    assert!(Env::files_in(&env.inbox).is_empty());
}

#[test]
fn a_store_the_user_cannot_create_exits_1_naming_the_file_and_what_to_do() {
    // GIVEN a store in a folder only root may write, and leadsync running as another user
    let env = Env::new("");
    let locked = env.dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    let db = locked.join("leadsync.db");
    let config = fs::read_to_string(&env.config)
        .unwrap()
        .replace(&env.db.display().to_string(), &db.display().to_string());
    fs::write(&env.config, config).unwrap();

    // WHEN it reads the funnel
    let out = env.run_as_nobody(&["report", "funnel"]);

    // THEN it exits 1, naming the store file and what to check
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot open the store at {}", db.display())),
        "{err}"
    );
    assert!(
        err.contains(
            "check that the store's folder exists and is writable by the user leadsync runs as"
        ),
        "{err}"
    );
    assert!(!db.exists());
}
