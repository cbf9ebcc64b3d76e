//! The `leadsync` binary: parses arguments, sets up logging, runs the command.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    leadsync::tune_allocator();
    let args = leadsync::cli::Args::parse();
    if matches!(
        args.command,
        leadsync::cli::Command::Run
            | leadsync::cli::Command::Sync { .. }
            | leadsync::cli::Command::Demo { .. }
    ) {
        // The numbering plan loads while the config, the store and the connectors start.
        std::thread::spawn(leadsync::resolve::phone::load_metadata);
    }
    let quiet = if matches!(args.command, leadsync::cli::Command::Run) {
        "info"
    } else {
        "warn"
    };
    let default = match args.verbose {
        0 => quiet,
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Human-readable on a terminal, JSON lines otherwise (journald, docker logs, collectors);
    // LEADSYNC_LOG_FORMAT=human|json decides explicitly.
    let json = match std::env::var("LEADSYNC_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("human") => false,
        _ => !std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    // A log line that cannot be written (stderr closed: `leadsync run 2>&1 | head -1`) is
    // dropped: by default the subscriber reports it with `eprintln!`, which panics on the same
    // closed stderr and would take the process down.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    if json {
        logs.json().with_current_span(false).init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {e}"
            );
            return ExitCode::from(1);
        }
    };
    runtime.block_on(leadsync::cli::run(args))
}
