//! The hand-written flag parsing and entry point of the fakes' stand-alone binaries
//! (`fake-hubspot`, `fake-salesforce`). By hand, to keep the fakes free of a CLI dependency.
//!
//! Every flag takes one value (`--flag value`); `--help` or `-h` asks for the usage. The fake
//! names its flags and what they set; this module walks the arguments, words the errors the same
//! way in both binaries, and runs the fake on a tokio runtime with the same exit codes (0 after
//! `--help`, 2 for bad arguments, 1 when the fake cannot start).

use std::fmt::Display;
use std::future::Future;
use std::str::FromStr;

/// One `--flag value` pair of the command line.
#[derive(Debug, Clone, Copy)]
pub struct Flag<'a> {
    /// The flag as typed, `--seed`.
    pub name: &'a str,
    /// The argument after it.
    pub value: &'a str,
}

impl Flag<'_> {
    /// The value parsed as a `T`; the error names the flag, the value and what is wrong with it.
    pub fn parse<T>(&self) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.value
            .parse()
            .map_err(|e| format!("{} {}: {e}", self.name, self.value))
    }

    /// The error for a flag the binary does not know.
    pub fn unknown(&self) -> String {
        format!("unknown argument {}", self.name)
    }
}

/// Hands each `--flag value` pair of `args` to `apply`, in order, stopping at the first error.
/// `Err` with an empty message means "print the usage and exit successfully" (`--help`, `-h`).
pub fn parse_flags(
    args: &[String],
    mut apply: impl FnMut(Flag<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let mut args = args.iter();
    while let Some(name) = args.next() {
        if name == "--help" || name == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
        apply(Flag { name, value })?;
    }
    Ok(())
}

/// The body of a fake's `main`: parses the process arguments with `parse` (which uses
/// [`parse_flags`]), then runs `run` on a multi-threaded tokio runtime. Prints `usage` and exits
/// 0 after `--help`; prints `{bin}: {message}` and the usage and exits 2 on a bad argument;
/// prints `{bin}: {error}` and exits 1 when the runtime or `run` fails.
pub fn main_with<O, F>(
    bin: &str,
    usage: &str,
    parse: impl FnOnce(&[String]) -> Result<O, String>,
    run: impl FnOnce(O) -> F,
) where
    F: Future<Output = std::io::Result<()>>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{usage}");
            return;
        }
        Err(message) => {
            eprintln!("{bin}: {message}\n{usage}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{bin}: cannot start the runtime: {error}");
            std::process::exit(1);
        }
    };
    if let Err(error) = runtime.block_on(run(options)) {
        eprintln!("{bin}: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Parses `--n NUMBER` and `--name TEXT` into a pair, as a binary's `parse` would.
    fn parse(list: &[&str]) -> Result<(u32, String), String> {
        let (mut n, mut name) = (0, String::new());
        parse_flags(&args(list), |flag| {
            match flag.name {
                "--n" => n = flag.parse()?,
                "--name" => flag.value.clone_into(&mut name),
                _ => return Err(flag.unknown()),
            }
            Ok(())
        })?;
        Ok((n, name))
    }

    #[test]
    fn flags_are_applied_in_order() {
        assert_eq!(parse(&[]), Ok((0, String::new())));
        assert_eq!(
            parse(&["--n", "3", "--name", "a", "--n", "4"]),
            Ok((4, "a".to_owned()))
        );
    }

    #[test]
    fn errors_name_the_flag_and_help_asks_for_the_usage() {
        assert_eq!(parse(&["--n"]), Err("--n needs a value".to_owned()));
        assert_eq!(
            parse(&["--n", "many"]),
            Err("--n many: invalid digit found in string".to_owned())
        );
        assert_eq!(
            parse(&["--bogus", "1"]),
            Err("unknown argument --bogus".to_owned())
        );
        assert_eq!(parse(&["--name", "a", "-h"]), Err(String::new()));
    }
}
