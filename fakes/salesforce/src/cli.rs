//! The `fake-salesforce` binary: a seeded fake org on loopback until Ctrl-C or SIGTERM, for the
//! demo and for trying the daemon by hand. Arguments are parsed by hand to keep the library free
//! of a CLI dependency.

use std::io::Write;
use std::net::SocketAddr;

use crate::account::FakeSalesforce;
use crate::config::FakeConfig;
use crate::seed;

const USAGE: &str = "usage: fake-salesforce [--port 0] [--leads 0] [--contacts 0] \
                     [--client-id ID] [--client-secret SECRET] [--daily-limit 100000] [--seed 1]\n\
                     Leads are seed::person(seed, 0..leads), contacts the next `contacts` people.";

#[derive(Debug)]
struct Options {
    port: u16,
    leads: usize,
    contacts: usize,
    seed: u64,
    config: FakeConfig,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        leads: 0,
        contacts: 0,
        seed: 1,
        config: FakeConfig::default(),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            // An empty message means "print the usage and exit successfully".
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--port" => options.port = value.parse().map_err(|e| bad(&e))?,
            "--leads" => options.leads = value.parse().map_err(|e| bad(&e))?,
            "--contacts" => options.contacts = value.parse().map_err(|e| bad(&e))?,
            "--seed" => options.seed = value.parse().map_err(|e| bad(&e))?,
            "--client-id" => options.config.client_id.clone_from(value),
            "--client-secret" => options.config.client_secret.clone_from(value),
            "--daily-limit" => options.config.daily_limit = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(options)
}

/// Entry point of `fake-salesforce`: parses the flags, seeds, prints
/// `fake Salesforce listening on http://127.0.0.1:PORT`, serves until Ctrl-C or SIGTERM.
pub fn main_cli() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(message) => {
            eprintln!("fake-salesforce: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fake-salesforce: cannot start the runtime: {error}");
            std::process::exit(1);
        }
    };
    if let Err(error) = runtime.block_on(run(options)) {
        eprintln!("fake-salesforce: {error}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> std::io::Result<()> {
    let fake = FakeSalesforce::new(options.config);
    let people = seed::people(options.leads + options.contacts, options.seed);
    let (leads, contacts) = people.split_at(options.leads);
    fake.seed_leads(leads);
    fake.seed_contacts(contacts);
    let server = fake
        .serve(SocketAddr::from(([127, 0, 0, 1], options.port)))
        .await?;
    println!("fake Salesforce listening on {}", server.base_url);
    std::io::stdout().flush()?;
    eprintln!(
        "fake-salesforce: {} leads, {} contacts, client id {:?}; Ctrl-C to stop",
        options.leads,
        options.contacts,
        fake.config().client_id
    );
    stopped().await?;
    server.shutdown().await;
    eprintln!(
        "fake-salesforce: {} API requests, {} collection updates",
        fake.api_usage(),
        fake.writes()
    );
    Ok(())
}

/// Waits for Ctrl-C, or SIGTERM on Unix.
async fn stopped() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            ctrl_c = tokio::signal::ctrl_c() => ctrl_c,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_and_flags() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.port, o.leads, o.contacts), (0, 0, 0));
        let o = parse(&args(&[
            "--port",
            "8081",
            "--leads",
            "5",
            "--contacts",
            "3",
            "--client-id",
            "id",
            "--client-secret",
            "s",
            "--daily-limit",
            "50",
        ]))
        .unwrap();
        assert_eq!((o.port, o.leads, o.contacts), (8081, 5, 3));
        assert_eq!(
            (
                o.config.client_id.as_str(),
                o.config.client_secret.as_str(),
                o.config.daily_limit
            ),
            ("id", "s", 50)
        );
        assert!(parse(&args(&["--leads"])).is_err());
        assert!(parse(&args(&["--leads", "many"])).is_err());
        assert!(parse(&args(&["--bogus", "1"])).is_err());
    }
}
