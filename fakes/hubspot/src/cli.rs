//! The `fake-hubspot` binary: a seeded fake account on loopback until Ctrl-C, for trying the
//! daemon by hand. Arguments are parsed by hand (with the fakes' shared helpers in
//! `leadsync_fake_support::cli`) to keep the library free of a CLI dependency.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use leadsync_fake_support::cli::{self, parse_flags};

use crate::account::FakeHubSpot;
use crate::config::FakeConfig;

const USAGE: &str = "usage: fake-hubspot [--addr 127.0.0.1:8080] [--contacts 2000] [--token T] \
                     [--seed 1] [--rate 100] [--search-lag-ms 0]";

#[derive(Debug)]
struct Options {
    addr: SocketAddr,
    contacts: usize,
    seed: u64,
    config: FakeConfig,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        contacts: 2000,
        seed: 1,
        config: FakeConfig::default(),
    };
    parse_flags(args, |flag| {
        match flag.name {
            "--addr" => options.addr = flag.parse()?,
            "--contacts" => options.contacts = flag.parse()?,
            "--token" => flag.value.clone_into(&mut options.config.token),
            "--seed" => options.seed = flag.parse()?,
            "--rate" => options.config.requests_per_window = flag.parse()?,
            "--search-lag-ms" => {
                let ms = flag.parse()?;
                options.config.search_lag = Duration::from_millis(ms);
            }
            _ => return Err(flag.unknown()),
        }
        Ok(())
    })?;
    Ok(options)
}

/// Entry point of `fake-hubspot`: parses `--addr`, `--contacts`, `--token` (and `--seed`,
/// `--rate`, `--search-lag-ms`), seeds, prints the base URL, serves until Ctrl-C.
pub fn main_cli() {
    cli::main_with("fake-hubspot", USAGE, parse, run);
}

async fn run(options: Options) -> std::io::Result<()> {
    let fake = FakeHubSpot::new(options.config);
    fake.seed(options.contacts, options.seed);
    let server = fake.serve(options.addr).await?;
    println!("{}", server.base_url);
    std::io::stdout().flush()?;
    eprintln!(
        "fake-hubspot: {} contacts, token {:?}; Ctrl-C to stop",
        options.contacts,
        fake.config().token
    );
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    eprintln!("fake-hubspot: {:?}", fake.stats());
    Ok(())
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
        assert_eq!(o.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(o.contacts, 2000);
        let o = parse(&args(&[
            "--addr",
            "127.0.0.1:0",
            "--contacts",
            "5",
            "--token",
            "t",
        ]))
        .unwrap();
        assert_eq!(
            (o.addr.port(), o.contacts, o.config.token.as_str()),
            (0, 5, "t")
        );
        assert!(parse(&args(&["--contacts"])).is_err());
        assert!(parse(&args(&["--bogus", "1"])).is_err());
    }
}
