//! The commands' output on stdout, written so that it can never panic.
//!
//! `println!` panics when stdout is gone: `leadsync report funnel | head -1` closes the pipe
//! after one line, and the process would die with exit 101 after its work was done. Commands
//! print through [`outln!`] and [`out!`] instead: a reader that went away is not an error (the
//! rest of the output is dropped), and any other write failure (a full disk behind `>`) is kept
//! and turns the command's exit into 1 once its work is done ([`failure`]).

use std::io::{ErrorKind, Write};
use std::sync::Mutex;

/// The first write error other than a closed pipe, if any.
static FAILED: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes to stdout; never panics.
pub(crate) fn write(args: std::fmt::Arguments<'_>) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args)
        && e.kind() != ErrorKind::BrokenPipe
    {
        let mut failed = FAILED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failed.get_or_insert(e);
    }
}

/// The output's failure, if writing it failed for another reason than a reader that left.
pub(crate) fn failure() -> Option<String> {
    let mut failed = FAILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    failed
        .take()
        .map(|e| format!("cannot write the output to stdout: {e}"))
}

/// `print!` that never panics (see the module's doc).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!($($arg)*))
    };
}

/// `println!` that never panics (see the module's doc).
macro_rules! outln {
    () => {
        $crate::cli::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
