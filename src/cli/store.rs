//! `leadsync store copy`: a whole store into a new, empty one (see `store/copy.rs`).

use super::Failure;
use crate::store::copy::{self, CopyError, Progress, Side};
use leadsync_salesforce::SecretSource;
use secrecy::SecretString;
use std::io::Write;

/// What `store copy` was given.
pub(super) struct CopyArgs<'a> {
    pub(super) from: &'a str,
    pub(super) to: &'a str,
    pub(super) from_password_env: Option<&'a str>,
    pub(super) to_password_env: Option<&'a str>,
}

pub(super) fn copy(args: CopyArgs<'_>) -> Result<(), Failure> {
    let from_password = password(args.from, args.from_password_env, "--from-password-env")?;
    let to_password = password(args.to, args.to_password_env, "--to-password-env")?;
    let mut from = copy::open(args.from, from_password, Side::From).map_err(failure)?;
    let mut to = copy::open(args.to, to_password, Side::To).map_err(failure)?;
    let (from_at, to_at) = (from.location(), to.location());
    let bar = super::sync::spinner();
    bar.set_message(format!("copying {from_at} into {to_at}"));
    let copied = copy::copy(from.as_mut(), to.as_mut(), &mut |p| match p {
        Progress::Rows { table, rows } => bar.set_message(format!("copying {table}: {rows} rows")),
        Progress::Table {
            table,
            rows,
            elapsed,
        } => bar.suspend(|| {
            // Not `eprintln!`: a closed stderr must not panic.
            let _ = writeln!(
                std::io::stderr(),
                "copied {table}: {rows} rows in {:.1}s",
                elapsed.as_secs_f64()
            );
        }),
    });
    bar.finish_and_clear();
    let copied = copied.map_err(failure)?;
    let rows: u64 = copied.iter().map(|c| c.rows).sum();
    outln!(
        "copied {} tables, {rows} rows, from {from_at} into {to_at}; every table holds as many rows on both sides",
        copied.len()
    );
    Ok(())
}

/// The password of one side: from the variable named by its flag, else (PostgreSQL's own
/// fallback, in the store) `PGPASSWORD`. Only a PostgreSQL store takes one.
fn password(url: &str, env: Option<&str>, flag: &str) -> Result<Option<SecretString>, Failure> {
    let Some(name) = env else {
        return Ok(None);
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Failure::usage(format!(
            "{flag}: only a postgres:// store takes a password"
        )));
    }
    let source = SecretSource {
        env: Some(name.to_string()),
        file: None,
    };
    source.load(flag).map(Some).map_err(Failure::usage)
}

/// Exit 2 for what the operator must change (a URL, a password, a target that is not empty),
/// 1 for the rest (retrying may do).
fn failure(e: CopyError) -> Failure {
    match e {
        e if e.is_usage() => Failure::usage(e.to_string()),
        CopyError::Store(e) => Failure::from(e),
        e => Failure::runtime(e.to_string()),
    }
}
