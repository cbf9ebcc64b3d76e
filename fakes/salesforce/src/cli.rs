//! The `fake-salesforce` binary: a seeded fake org on loopback until Ctrl-C or SIGTERM, for the
//! demo and for trying the daemon by hand. Arguments are parsed by hand (with the fakes' shared
//! helpers in `leadsync_fake_support::cli`) to keep the library free of a CLI dependency.

use std::io::Write;
use std::net::SocketAddr;

use leadsync_fake_support::cli::{self, parse_flags};

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
    parse_flags(args, |flag| {
        match flag.name {
            "--port" => options.port = flag.parse()?,
            "--leads" => options.leads = flag.parse()?,
            "--contacts" => options.contacts = flag.parse()?,
            "--seed" => options.seed = flag.parse()?,
            "--client-id" => flag.value.clone_into(&mut options.config.client_id),
            "--client-secret" => flag.value.clone_into(&mut options.config.client_secret),
            "--daily-limit" => options.config.daily_limit = flag.parse()?,
            _ => return Err(flag.unknown()),
        }
        Ok(())
    })?;
    Ok(options)
}

/// Entry point of `fake-salesforce`: parses the flags, seeds, prints
/// `fake Salesforce listening on http://127.0.0.1:PORT`, serves until Ctrl-C or SIGTERM.
pub fn main_cli() {
    cli::main_with("fake-salesforce", USAGE, parse, run);
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
