use leadsync_connector_core::Tier;
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// `[connectors.ID]` with `type = "hubspot"`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HubspotConfig {
    /// The API's base URL; tests and the demo point it at a fake on 127.0.0.1.
    #[serde(default = "default_base_url")]
    pub base_url: Url,
    /// The API version path. HubSpot plans date-versioned paths (`/crm/objects/2026-03`) with
    /// the same shapes.
    #[serde(default = "default_prefix")]
    pub path_prefix: String,
    /// Where the private-app token comes from: `{ env = "NAME" }` or `{ file = "PATH" }`. The
    /// token itself never appears in config files, logs or serialised state.
    pub token: TokenSource,
    /// Properties to pull besides the ones leadsync maps (`budget`, `has_problem` …); they
    /// become custom fields.
    #[serde(default)]
    pub properties: Vec<String>,
    /// Custom lifecycle stages (internal names, often numeric) and the tier each means.
    #[serde(default)]
    pub stages: BTreeMap<String, Tier>,
    /// Push desired stages back to HubSpot.
    #[serde(default)]
    pub push: bool,
    /// Push stages down as well as up: leadsync's tier becomes the authority for this account's
    /// lifecycle stages. A downward move is a clear, then a set, in two requests, then a read-back
    /// that checks it held. This account's stages then no longer floor the tier. Off by default.
    #[serde(default)]
    pub allow_downgrade: bool,
    /// Respect people's downgrades: a stage someone lowered in HubSpot below the tier leadsync
    /// set there is not restored, but kept as a finding (`explain`, `plan`, metrics). By
    /// default a lowered stage is pushed back up. Not with `allow_downgrade`.
    #[serde(default)]
    pub respect_downgrades: bool,
    /// Cron expression (six fields, with seconds) for the daemon.
    #[serde(default)]
    pub schedule: Option<String>,
    /// How far back each incremental pull re-reads, because recently changed contacts appear in
    /// search a little late.
    #[serde(default = "default_overlap", with = "humantime_serde")]
    pub overlap: Duration,
    /// How often archived (deleted) contacts are looked for: archiving does not change
    /// `lastmodifieddate` and search never shows them, so only a list with `archived=true` finds
    /// them. They are kept as tombstones, never lost.
    #[serde(default = "default_archived_scan", with = "humantime_serde")]
    pub archived_scan: Duration,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
}

/// `[connectors.ID.rate_limit]`. Starting values: the limiter follows the
/// `X-HubSpot-RateLimit-*` headers of every answer once it has seen them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Non-search requests per rolling window (100 on Free/Starter, 190 on Professional).
    #[serde(default = "default_per_window")]
    pub requests_per_window: u32,
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// Search requests per second (search has its own limit).
    #[serde(default = "default_search")]
    pub search_per_second: u32,
    /// Requests of the daily budget left untouched for other apps of the account.
    #[serde(default = "default_reserve")]
    pub daily_reserve: u64,
    /// The account's time zone (IANA name, as set in HubSpot): the daily budget resets at
    /// midnight there.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

impl RateLimitConfig {
    /// The account's time zone, checked.
    pub fn zone(&self) -> Result<chrono_tz::Tz, String> {
        self.time_zone.parse().map_err(|_| {
            format!(
                "`{}` is not an IANA time zone (e.g. America/New_York, Europe/Berlin, UTC)",
                self.time_zone
            )
        })
    }
}

/// The token's source. Exactly one of the two.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(
    deny_unknown_fields,
    expecting = "a table: { env = \"NAME\" } or { file = \"PATH\" }"
)]
pub struct TokenSource {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl TokenSource {
    /// Checks the shape without reading anything.
    pub fn check(&self) -> Result<(), String> {
        match (&self.env, &self.file) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err("write exactly one of `token = { env = \"NAME\" }` or `token = { file = \"PATH\" }`".into()),
        }
    }

    /// Reads the token. The message names where it looked, never the value.
    pub fn load(&self) -> Result<SecretString, String> {
        self.check()?;
        let value = match (&self.env, &self.file) {
            (Some(name), _) => std::env::var(name)
                .map_err(|_| format!("the token variable `{name}` is not set"))?,
            (_, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?,
            _ => unreachable!("checked above"),
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err("the token is empty".into());
        }
        Ok(SecretString::from(value))
    }
}

fn default_base_url() -> Url {
    Url::parse("https://api.hubapi.com").expect("a valid URL")
}

fn default_prefix() -> String {
    "/crm/v3".into()
}

fn default_overlap() -> Duration {
    Duration::from_secs(300)
}

fn default_archived_scan() -> Duration {
    Duration::from_secs(3600)
}

fn default_per_window() -> u32 {
    100
}

fn default_window() -> Duration {
    Duration::from_secs(10)
}

fn default_search() -> u32 {
    5
}

fn default_reserve() -> u64 {
    10_000
}

fn default_time_zone() -> String {
    "UTC".into()
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_window: default_per_window(),
            window: default_window(),
            search_per_second: default_search(),
            daily_reserve: default_reserve(),
            time_zone: default_time_zone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_one_place_and_is_never_shown() {
        let both = TokenSource {
            env: Some("A".into()),
            file: Some("/x".into()),
        };
        assert!(both.check().is_err());
        let none = TokenSource {
            env: None,
            file: None,
        };
        assert!(none.check().is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "pat-secret-value\n").unwrap();
        let token = TokenSource {
            env: None,
            file: Some(path),
        }
        .load()
        .unwrap();
        assert!(
            !format!("{token:?}").contains("pat-secret-value"),
            "Debug redacts"
        );
        let missing = TokenSource {
            env: Some("LEADSYNC_TEST_NO_SUCH_VAR".into()),
            file: None,
        }
        .load();
        assert_eq!(
            missing.unwrap_err(),
            "the token variable `LEADSYNC_TEST_NO_SUCH_VAR` is not set"
        );
    }
}
