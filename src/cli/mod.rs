//! The command line: parsing and one function per subcommand. Exit codes: 0 success, 1 runtime
//! failure, 2 bad usage or bad config.
// Output goes through `out!`/`outln!` (see `output`): `println!` panics on a closed stdout.
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
mod output;

#[cfg(feature = "demo")]
mod demo;
mod explain;
mod identity;
mod plan;
mod report;
mod run;
mod store;
mod sync;
mod validate;

use crate::config::{self, Settings};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "leadsync",
    version,
    about = "Reconciles CRM contacts and spreadsheet drops into one tiered record per person."
)]
pub struct Args {
    /// Config file [default: $LEADSYNC_CONFIG, else config/leadsync.toml].
    #[arg(long, global = true, env = "LEADSYNC_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks the config, the store and every connector; exits 2 on any problem.
    Validate,
    /// The daemon: runs each connector on its schedule, serves the admin HTTP API, and stops
    /// gracefully on SIGTERM or SIGINT.
    Run,
    /// Runs one full cycle (pull every connector into the store), then exits.
    Sync {
        /// Run once and exit (required: the long-running daemon is `leadsync run`).
        #[arg(long)]
        once: bool,
        /// Only this connector.
        #[arg(long, value_name = "ID")]
        connector: Option<String>,
    },
    /// A dry run over the store: the tier moves, would-demote findings and pushes that the next
    /// cycle would make with the configured (or given) rules. Writes nothing.
    Plan {
        /// Preview these rules instead of the configured ones.
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Persons to show per kind of move.
        #[arg(long, default_value_t = 5)]
        sample: usize,
    },
    /// Shows a person: the golden record, where each value came from, tier history, source
    /// records and open conflicts.
    Explain {
        /// An email address, a phone number or a person id.
        who: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Reports.
    Report {
        #[command(subcommand)]
        report: ReportKind,
    },
    /// Works on a whole store.
    Store {
        #[command(subcommand)]
        store: StoreCommand,
    },
    /// Probabilistic identity: `train` estimates the match weights on the stored persons,
    /// stores the model and matches every person with it.
    Identity {
        #[command(subcommand)]
        identity: IdentityCommand,
    },
    /// The review queue: pairs that scored between `review_at` and `link_at`.
    Review {
        #[command(subcommand)]
        review: ReviewCommand,
    },
    /// Exports the store's data for joining elsewhere.
    Export {
        #[command(subcommand)]
        export: ExportCommand,
    },
    /// A self-contained demonstration: a fake HubSpot on loopback and sample drops that overlap
    /// it in a temporary inbox, two full cycles (pull, qualify, push), then the funnel, the stage
    /// updates HubSpot applied and the rate budget used. Nothing to configure.
    Demo {
        /// Keep the demo's folder (config, store, inbox) here instead of a temporary one.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Contacts to generate in the fake HubSpot (at least 30; the drops overlap them).
        #[arg(long, value_name = "N", default_value_t = 3000, value_parser = demo_contacts)]
        contacts: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportKind {
    /// Persons per tier and conversion between adjacent tiers; per source with `--by source`;
    /// cohort conversion with `--since DATE`.
    Funnel {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Also break the funnel (and the cohorts) down by this; only `source` for now.
        #[arg(long, value_name = "DIMENSION", value_parser = ["source"])]
        by: Option<String>,
        /// Cohort conversion of the persons who reached each tier on or after DATE
        /// (YYYY-MM-DD, UTC midnight): the share that reached the next tier and the median days.
        #[arg(long, value_name = "DATE", value_parser = date)]
        since: Option<chrono::NaiveDate>,
    },
    /// Follow-up commitments (`[[follow_up.sla]]` in the rules file): per commitment, the
    /// persons who reached its tier, followed up in time, late, still waiting and overdue now,
    /// and the median business hours to the follow-up.
    Sla {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Also break the figures down by the person's owner or source.
        #[arg(long, value_name = "DIMENSION", value_parser = ["owner", "source"])]
        by: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Estimates `u` from random pairs and `m` by expectation-maximisation on the stored
    /// persons, stores the model (versioned), then matches every stored person.
    Train,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Pairs waiting for a decision (every pair with --all).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Both persons of a pair, the score and every field's comparison with its weight.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// The two are one person: merge them.
    Accept { id: i64 },
    /// The two are different persons: never merge them automatically.
    Reject { id: i64 },
    /// Undoes a wrong merge: PERSON (the merged-away id) gets its own records back, and the
    /// pair is remembered as rejected.
    Split { person: i64 },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// One row per source record: person_id, connector, source (file and row, or CRM id) and
    /// how it was linked (crm_id, email, phone, new, match:<score>, review). JSON lines, or
    /// CSV with --csv.
    Links {
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copies a whole store into a new, empty one (e.g. SQLite into PostgreSQL), in one
    /// transaction, then checks every table holds as many rows on both sides. Stop the daemon
    /// first. A target that holds rows is refused (exit 2).
    Copy {
        /// The store to copy: sqlite://PATH or postgres://USER@HOST:PORT/DATABASE.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The empty store to fill (its schema is made if missing).
        #[arg(long, value_name = "URL")]
        to: String,
        /// The variable holding the --from PostgreSQL password [default: PGPASSWORD].
        #[arg(long, value_name = "NAME")]
        from_password_env: Option<String>,
        /// The variable holding the --to PostgreSQL password [default: PGPASSWORD].
        #[arg(long, value_name = "NAME")]
        to_password_env: Option<String>,
    },
}

/// The fewest contacts the demo generates: its drops overlap the HubSpot contacts by shares
/// that need a few dozen persons to show every kind of match and reject.
const DEMO_MIN_CONTACTS: usize = 30;

fn demo_contacts(value: &str) -> Result<usize, String> {
    let n: usize = value
        .parse()
        .map_err(|_| format!("`{value}` is not a whole number of contacts"))?;
    if n < DEMO_MIN_CONTACTS {
        return Err(format!(
            "the demo needs at least {DEMO_MIN_CONTACTS} contacts (got {n})"
        ));
    }
    Ok(n)
}

/// A calendar date as `--since` takes it.
fn date(value: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|e| format!("expected a date as YYYY-MM-DD, e.g. 2026-01-31 ({e})"))
}

/// A command's failure: its message and exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        match e.policy().hint {
            Some(hint) => Failure::runtime(format!("{e}; {hint}")),
            None => Failure::runtime(e.to_string()),
        }
    }
}

/// Opens the configured store. A password that cannot be read, or one the database refuses, is
/// the operator's to fix (exit 2); a store that cannot be reached is a runtime failure (exit 1).
pub(crate) fn open_store(settings: &Settings) -> Result<Box<dyn crate::store::Store>, Failure> {
    let password = match &settings.store.password {
        Some(source) => Some(source.load("store.password").map_err(|e| {
            Failure::usage(format!(
                "key {}",
                e.trim_start_matches('`').replacen('`', "", 1)
            ))
        })?),
        None => None,
    };
    crate::store::open(&settings.store.url, password).map_err(|e| match e.kind() {
        crate::store::StoreErrorKind::Auth => Failure::usage(e.to_string()),
        _ => Failure::from(e),
    })
}

/// Loads the config the global options point at (exit 2 when it cannot be used).
pub(crate) fn load_settings(args: &Args) -> Result<Settings, Failure> {
    let path = config::config_path(args.config.as_deref());
    config::load(&path).map_err(|e| Failure::usage(e.to_string()))
}

/// The stored tier names against the current ladder: those it maps to other tiers, or exit 2
/// naming those it cannot read (a tier removed from the ladder without a mapping) — with,
/// when the ladder they stood on is known (`plan --rules NEW`), the nearest tier below each
/// that the new ladder kept.
pub(crate) fn check_ladder(
    store: &mut dyn crate::store::Store,
    before: Option<&leadsync_connector_core::Ladder>,
) -> Result<Vec<crate::pipeline::plan::LadderMove>, Failure> {
    let check = crate::pipeline::plan::check_ladder(store)?;
    let now = leadsync_connector_core::Ladder::current();
    let kept_below = |name: &str| -> Option<String> {
        let before = before?;
        let names: Vec<&str> = before.names().collect();
        let at = names.iter().position(|n| *n == name)?;
        names[..at]
            .iter()
            .rev()
            .find(|n| now.get(n).is_some())
            .map(|n| n.to_string())
    };
    match check.orphans.as_slice() {
        [] => Ok(check.moves),
        orphans => {
            let names: Vec<String> = orphans
                .iter()
                .map(|(name, persons)| match kept_below(name) {
                    Some(below) => format!(
                        "`{name}` ({persons} person(s) at it now; the nearest tier below it that the ladder keeps is `{below}`)"
                    ),
                    None => format!("`{name}` ({persons} person(s) at it now)"),
                })
                .collect();
            Err(Failure::usage(format!(
                "the store holds tiers the ladder does not have: {}; put them back in the rules file's [ladder] tiers, or map each under [ladder.removed] to the tier it counts as from now on (`sal = \"mql\"`), or under [ladder.renamed] to its new name",
                names.join(", ")
            )))
        }
    }
}

/// Loads and compiles the configured rules (exit 2 when they cannot be used).
pub(crate) fn load_rules(
    settings: &Settings,
    override_file: Option<&std::path::Path>,
) -> Result<std::sync::Arc<crate::rules::Rules>, Failure> {
    let file = override_file.or(settings.rules.file.as_deref());
    let source = crate::rules::RulesSource::from_config(file).map_err(Failure::usage)?;
    crate::rules::Rules::load(source)
        .map(std::sync::Arc::new)
        .map_err(|e| Failure::usage(e.to_string()))
}

/// Runs a parsed command line.
pub async fn run(args: Args) -> ExitCode {
    let result = match crate::clock::check() {
        Err(message) => Err(Failure::usage(message)),
        Ok(()) => run_command(&args).await,
    };
    let result = match (result, output::failure()) {
        (Ok(()), Some(message)) => Err(Failure::runtime(message)),
        (result, _) => result,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // Not `eprintln!`: a closed stderr must not turn the exit code into a panic's.
            let _ = writeln!(std::io::stderr(), "error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

async fn run_command(args: &Args) -> Result<(), Failure> {
    match &args.command {
        Command::Validate => validate::run(args).await,
        Command::Run => run::run(args).await,
        Command::Sync { once, connector } => sync::run(args, *once, connector.as_deref()).await,
        Command::Explain { who, json } => explain::run(args, who, *json),
        Command::Plan {
            rules,
            json,
            sample,
        } => plan::run(args, rules.as_deref(), *json, *sample),
        Command::Report {
            report: ReportKind::Funnel { json, by, since },
        } => report::funnel(
            args,
            report::FunnelArgs {
                json: *json,
                by_source: by.as_deref() == Some("source"),
                since: *since,
            },
        ),
        Command::Report {
            report: ReportKind::Sla { json, by },
        } => report::sla(args, *json, by.as_deref()),
        Command::Store {
            store:
                StoreCommand::Copy {
                    from,
                    to,
                    from_password_env,
                    to_password_env,
                },
        } => store::copy(store::CopyArgs {
            from,
            to,
            from_password_env: from_password_env.as_deref(),
            to_password_env: to_password_env.as_deref(),
        }),
        Command::Identity {
            identity: IdentityCommand::Train,
        } => identity::train(args),
        Command::Review { review } => match review {
            ReviewCommand::List { all, json } => identity::list(args, *all, *json),
            ReviewCommand::Show { id, json } => identity::show(args, *id, *json),
            ReviewCommand::Accept { id } => identity::decide(args, *id, true),
            ReviewCommand::Reject { id } => identity::decide(args, *id, false),
            ReviewCommand::Split { person } => identity::split(args, *person),
        },
        Command::Export {
            export: ExportCommand::Links { csv },
        } => identity::links(args, *csv),
        #[cfg(feature = "demo")]
        Command::Demo { dir, contacts } => demo::run(dir.as_deref(), *contacts).await,
        #[cfg(not(feature = "demo"))]
        Command::Demo { .. } => Err(Failure::usage(
            "this leadsync was built without the demo (cargo feature `demo`); \
             build it with the default features to run `leadsync demo`",
        )),
    }
}
