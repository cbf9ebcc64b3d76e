//! Typed, layered configuration: a TOML file, then `LEADSYNC__SECTION__KEY` environment
//! overrides. Loading checks shapes and values without touching the network or the disk beyond
//! the file itself; `leadsync validate` goes further (see `crate::validate`).

use leadsync_connector_core::Field;
use leadsync_hubspot::{HubspotConfig, TokenSource};
use leadsync_spreadsheet::SpreadsheetConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Where the config comes from when `--config` and `$LEADSYNC_CONFIG` are both absent.
pub const DEFAULT_CONFIG_PATH: &str = "config/leadsync.toml";
/// Environment overrides: `LEADSYNC__STORE__URL=sqlite:///var/lib/leadsync/leadsync.db`.
pub const ENV_PREFIX: &str = "LEADSYNC";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub daemon: DaemonConfig,
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub identity: IdentityConfig,
    #[serde(default)]
    pub merge: MergeConfig,
    #[serde(default)]
    pub notify: NotifyConfig,
    /// One table per connector instance, keyed by its id.
    #[serde(default)]
    pub connectors: BTreeMap<String, ConnectorConfig>,
}

/// `[notify]`: where the daemon tells that a person became overdue on a follow-up commitment.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Receives a JSON POST (with a Slack-compatible `text`) once per breach; none: no
    /// notifications (the `leadsync_sla_overdue` metric still counts).
    #[serde(default)]
    pub webhook: Option<String>,
    /// How often the daemon looks for persons overdue on a commitment.
    #[serde(default = "default_check_interval", with = "humantime_serde")]
    pub check_interval: Duration,
    /// The wait before the first retry of a notification the webhook refused; doubled at each
    /// further try, up to an hour.
    #[serde(default = "default_retry_after", with = "humantime_serde")]
    pub retry_after: Duration,
}

fn default_check_interval() -> Duration {
    Duration::from_secs(300)
}

fn default_retry_after() -> Duration {
    Duration::from_secs(30)
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook: None,
            check_interval: default_check_interval(),
            retry_after: default_retry_after(),
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative paths are relative to the working directory), or
    /// `postgres://USER@HOST:PORT/DATABASE` (never with a password in it).
    #[serde(default = "default_store_url")]
    pub url: String,
    /// The PostgreSQL password: `{ env = "NAME" }` or `{ file = "PATH" }`; without it,
    /// `PGPASSWORD` (or none, for trust or peer authentication).
    #[serde(default)]
    pub password: Option<leadsync_salesforce::SecretSource>,
}

fn default_store_url() -> String {
    "sqlite://data/leadsync.db".into()
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: default_store_url(),
            password: None,
        }
    }
}

/// `[admin]`: the admin HTTP surface (health, metrics, status).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// A bearer token for `/api/v1/*` and `/metrics` (`/healthz` and `/readyz` stay open for
    /// probes): `{ env = "NAME" }` or `{ file = "PATH" }`. Required to listen beyond loopback.
    #[serde(default)]
    pub token: Option<TokenSource>,
    /// A CRM record's address in the CRM's own pages, per connector id, with `{id}` where the
    /// record id goes: the dashboard's person page links each record there.
    #[serde(default)]
    pub record_links: std::collections::BTreeMap<String, String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_listen(),
            token: None,
            record_links: Default::default(),
        }
    }
}

/// `[daemon]`: how `leadsync run` drains the outbox and stops.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// How long a stop (SIGTERM, SIGINT) waits for the cycle or push batch in flight before it
    /// abandons it: an abandoned page or batch is rolled back and stays queued for the next start.
    #[serde(default = "default_shutdown_timeout", with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// How often the outbox is checked for stage pushes between cycles.
    #[serde(default = "default_push_interval", with = "humantime_serde")]
    pub push_interval: Duration,
    /// When every person is qualified again (cron with seconds, UTC), for rules on facts that
    /// change with time alone: temperature, days since created or since last activity.
    #[serde(default = "default_requalify")]
    pub requalify: String,
    /// This replica's name in `/api/v1/status` and `/metrics`; by default `HOSTNAME-PID`.
    #[serde(default)]
    pub replica_id: Option<String>,
    /// How long a replica's leases last without renewal (renewed every third of it): a replica
    /// that dies or is paused for longer loses its connectors to another, and writes nothing
    /// more. Outbox claims last twice as long.
    #[serde(default = "default_lease_ttl", with = "humantime_serde")]
    pub lease_ttl: Duration,
}

fn default_lease_ttl() -> Duration {
    Duration::from_secs(30)
}

fn default_requalify() -> String {
    "0 30 3 * * *".into()
}

fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_push_interval() -> Duration {
    Duration::from_secs(5)
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            shutdown_timeout: default_shutdown_timeout(),
            push_interval: default_push_interval(),
            requalify: default_requalify(),
            replica_id: None,
            lease_ttl: default_lease_ttl(),
        }
    }
}

/// `[rules]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// The rules file (tiers, scoring). Without it, tiers come from CRM stages and from the
    /// fields present (email only: subscriber; name, email and phone: lead).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// `[identity]`: how records are recognised as the same person.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Region (ISO 3166 alpha-2) assumed for phone numbers written without a country code,
    /// when the record has no country of its own.
    #[serde(default = "default_region")]
    pub default_region: String,
    /// Mail domains that ignore everything after `+` in the local part.
    #[serde(default = "default_plus_domains")]
    pub plus_folding_domains: Vec<String>,
    /// Mail domains that ignore dots in the local part.
    #[serde(default = "default_dot_domains")]
    pub dot_folding_domains: Vec<String>,
    /// `[identity.matching]`: probabilistic matching after the exact keys.
    #[serde(default)]
    pub matching: MatchingConfig,
}

/// `[identity.matching]`: persons no exact key joins, linked when enough of their fields agree
/// (Fellegi–Sunter weights), or put to a reviewer when the score is in between.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatchingConfig {
    /// Off by default: exact keys only.
    #[serde(default)]
    pub enabled: bool,
    /// At or above this match probability, two persons are merged automatically.
    #[serde(default = "default_link_at")]
    pub link_at: f64,
    /// At or above this (and below `link_at`), the pair goes to the review queue.
    #[serde(default = "default_review_at")]
    pub review_at: f64,
    /// The compared fields, each with its comparison (and optionally its `m`/`u` per level).
    #[serde(default = "default_match_fields")]
    pub fields: Vec<MatchField>,
    /// Blocking rules: only persons sharing the key of some rule are compared.
    #[serde(default = "default_blocking")]
    pub blocking: Vec<BlockingConfig>,
}

/// `[[identity.matching.fields]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatchField {
    /// A built-in field (`first_name`) or a custom one (`custom.postcode`).
    pub field: Field,
    /// `exact`, `name`, `text`, `email`, `phone` or `digits`.
    pub compare: crate::model::matching::Comparator,
    /// P(level | match), per level; with `u`, this field is not trained.
    #[serde(default)]
    pub m: Option<Vec<f64>>,
    /// P(level | non-match), per level.
    #[serde(default)]
    pub u: Option<Vec<f64>>,
}

/// `[[identity.matching.blocking]]`: `keys = ["last_name:prefix3", "first_name:soundex"]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlockingConfig {
    pub keys: Vec<BlockKey>,
}

/// One part of a blocking key: a field and what of its value counts (`whole`, `prefixN`,
/// `soundex`, `domain` for an email's domain).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockKey {
    pub field: Field,
    pub part: crate::model::matching::KeyPart,
}

impl<'de> Deserialize<'de> for BlockKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for BlockKey {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        use crate::model::matching::KeyPart;
        let (field, part) = text.split_once(':').unwrap_or((text, "whole"));
        let field: Field = field.parse().map_err(|e| format!("`{text}`: {e}"))?;
        let part = match part {
            "whole" => KeyPart::Whole,
            "soundex" => KeyPart::Soundex,
            "domain" => KeyPart::Domain,
            p => match p
                .strip_prefix("prefix")
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(n) if n > 0 => KeyPart::Prefix(n),
                _ => {
                    return Err(format!(
                        "`{text}`: the part after `:` is one of whole, prefixN (e.g. prefix3), soundex, domain"
                    ));
                }
            },
        };
        Ok(BlockKey { field, part })
    }
}

fn default_link_at() -> f64 {
    0.95
}

fn default_review_at() -> f64 {
    0.60
}

fn default_match_fields() -> Vec<MatchField> {
    use crate::model::matching::Comparator;
    let field = |field: Field, compare| MatchField {
        field,
        compare,
        m: None,
        u: None,
    };
    vec![
        field(Field::FirstName, Comparator::Name),
        field(Field::LastName, Comparator::Name),
        field(Field::Email, Comparator::Email),
        field(Field::Phone, Comparator::Phone),
        field(Field::Company, Comparator::Text),
    ]
}

fn default_blocking() -> Vec<BlockingConfig> {
    let rule = |keys: &[&str]| BlockingConfig {
        keys: keys
            .iter()
            .map(|k| k.parse().expect("built-in key"))
            .collect(),
    };
    vec![
        rule(&["last_name:soundex", "first_name:prefix3"]),
        rule(&["first_name:soundex", "last_name:prefix3"]),
        rule(&["email"]),
        rule(&["phone"]),
    ]
}

impl Default for MatchingConfig {
    fn default() -> Self {
        MatchingConfig {
            enabled: false,
            link_at: default_link_at(),
            review_at: default_review_at(),
            fields: default_match_fields(),
            blocking: default_blocking(),
        }
    }
}

impl MatchingConfig {
    fn check(&self) -> Result<(), String> {
        let at = "key identity.matching";
        if !(self.review_at > 0.0 && self.review_at <= self.link_at && self.link_at < 1.0) {
            return Err(format!(
                "{at}: thresholds must satisfy 0 < review_at <= link_at < 1 (review_at = {}, link_at = {})",
                self.review_at, self.link_at
            ));
        }
        if self.fields.is_empty() {
            return Err(format!("{at}.fields: list at least one field to compare"));
        }
        for (i, f) in self.fields.iter().enumerate() {
            let levels = f.compare.levels();
            for (name, given) in [("m", &f.m), ("u", &f.u)] {
                let Some(p) = given else { continue };
                let sum: f64 = p.iter().sum();
                if p.len() != levels
                    || p.iter().any(|x| !(*x > 0.0 && *x <= 1.0))
                    || (sum - 1.0).abs() > 0.01
                {
                    return Err(format!(
                        "{at}.fields[{i}] ({}): `{name}` must hold {levels} probabilities above 0 that sum to 1, one per level of `{:?}`",
                        f.field, f.compare
                    ));
                }
            }
            if f.m.is_some() != f.u.is_some() {
                return Err(format!(
                    "{at}.fields[{i}] ({}): set both `m` and `u`, or neither (then `leadsync identity train` estimates them)",
                    f.field
                ));
            }
        }
        if self.blocking.is_empty() || self.blocking.iter().any(|b| b.keys.is_empty()) {
            return Err(format!(
                "{at}.blocking: list at least one rule, each with at least one key"
            ));
        }
        Ok(())
    }
}

fn default_region() -> String {
    "US".into()
}

fn default_plus_domains() -> Vec<String> {
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "me.com",
        "fastmail.com",
        "protonmail.com",
        "proton.me",
    ]
    .map(String::from)
    .to_vec()
}

fn default_dot_domains() -> Vec<String> {
    ["gmail.com", "googlemail.com"].map(String::from).to_vec()
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            default_region: default_region(),
            plus_folding_domains: default_plus_domains(),
            dot_folding_domains: default_dot_domains(),
            matching: MatchingConfig::default(),
        }
    }
}

/// How the golden record picks a value when sources disagree.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum MergePolicy {
    /// The connector listed first in `source_priority` wins; ties go to the newest value.
    SourcePriority,
    /// The most recently observed value wins.
    LastWriteWins,
    /// The first value ever seen stays; later ones only fill a gap.
    FillEmpty,
    /// The highest value wins (stages by funnel order, dates by time, numbers by size).
    Maximum,
}

/// `[merge]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MergeConfig {
    /// Connector ids, most trusted first, for the `source_priority` policy.
    #[serde(default)]
    pub source_priority: Vec<String>,
    /// The policy for fields not listed in `fields`.
    #[serde(default = "default_policy")]
    pub default_policy: MergePolicy,
    /// Per-field policy, by field name (`job_title = "source_priority"`).
    #[serde(default)]
    pub fields: BTreeMap<String, MergePolicy>,
}

impl MergePolicy {
    const NAMES: [(&'static str, MergePolicy); 4] = [
        ("source_priority", MergePolicy::SourcePriority),
        ("last_write_wins", MergePolicy::LastWriteWins),
        ("fill_empty", MergePolicy::FillEmpty),
        ("maximum", MergePolicy::Maximum),
    ];
}

impl TryFrom<String> for MergePolicy {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        MergePolicy::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                format!("`{name}` is not a merge policy; use source_priority, last_write_wins, fill_empty or maximum")
            })
    }
}

fn default_policy() -> MergePolicy {
    MergePolicy::LastWriteWins
}

impl Default for MergeConfig {
    fn default() -> Self {
        MergeConfig {
            source_priority: Vec::new(),
            default_policy: default_policy(),
            fields: BTreeMap::new(),
        }
    }
}

impl MergeConfig {
    /// The policy for one field: configured, else the built-in one for stages and times, else
    /// the default.
    pub fn policy(&self, field: &Field) -> MergePolicy {
        if let Some(p) = self.fields.get(field.as_str()) {
            return *p;
        }
        match field {
            Field::CrmStage | Field::LastActivityAt => MergePolicy::Maximum,
            Field::CreatedAt => MergePolicy::FillEmpty,
            _ => self.default_policy,
        }
    }
}

/// `[connectors.ID]`, told apart by `type`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ConnectorConfig {
    Spreadsheet(SpreadsheetConfig),
    Hubspot(HubspotConfig),
    Salesforce(leadsync_salesforce::SalesforceConfig),
}

impl ConnectorConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorConfig::Spreadsheet(_) => "spreadsheet",
            ConnectorConfig::Hubspot(_) => "hubspot",
            ConnectorConfig::Salesforce(_) => "salesforce",
        }
    }

    /// Whether this is a CRM (its records have ids a file may carry, and it may take pushes).
    pub fn is_crm(&self) -> bool {
        !matches!(self, ConnectorConfig::Spreadsheet(_))
    }

    pub fn schedule(&self) -> Option<&str> {
        match self {
            ConnectorConfig::Spreadsheet(c) => c.schedule.as_deref(),
            ConnectorConfig::Hubspot(c) => c.schedule.as_deref(),
            ConnectorConfig::Salesforce(c) => c.schedule.as_deref(),
        }
    }
}

/// A config that cannot be used; the message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} not found (pass --config PATH or set LEADSYNC_CONFIG)")]
    NotFound { path: PathBuf },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// The file alone is fine; an `LEADSYNC__…` override is not.
    #[error("environment variable {var} (overriding config file {path}): {message}")]
    Env {
        var: String,
        path: PathBuf,
        message: String,
    },
}

/// Picks the config path: the explicit one (from `--config` or `$LEADSYNC_CONFIG`), else the
/// default.
pub fn config_path(explicit: Option<&Path>) -> PathBuf {
    explicit.map_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH), Path::to_path_buf)
}

/// Loads the file at `path`, applies `LEADSYNC__…` environment overrides and checks every value
/// that can be checked without I/O.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError::NotFound {
            path: path.to_path_buf(),
        });
    }
    match load_from(path, true) {
        Ok(settings) => Ok(settings),
        Err(message) => {
            // Blame an override only when the file alone is fine: then the variable is the
            // one thing to fix.
            let var = overriding_var(&message).filter(|_| load_from(path, false).is_ok());
            Err(match var {
                Some(var) => ConfigError::Env {
                    var,
                    path: path.to_path_buf(),
                    message,
                },
                None => ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message,
                },
            })
        }
    }
}

fn load_from(path: &Path, with_env: bool) -> Result<Settings, String> {
    let mut builder = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml));
    if with_env {
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("identity.plus_folding_domains")
                .with_list_parse_key("identity.dot_folding_domains")
                .with_list_parse_key("merge.source_priority")
                .try_parsing(true),
        );
    }
    let layered = builder.build().map_err(|e| e.to_string())?;
    // Connectors' settings name tiers: the rules file's ladder is made current before they are
    // read. A rules file that cannot be read or has no valid ladder is reported when the rules
    // are loaded; until then the current ladder stays.
    let rules_file = layered.get_string("rules.file").ok().map(PathBuf::from);
    if let Ok(ladder) =
        crate::rules::RulesSource::from_config(rules_file.as_deref()).and_then(|s| s.ladder())
    {
        ladder.install().map_err(|e| e.to_string())?;
    }
    let settings: Settings = layered.clone().try_deserialize().map_err(|e| {
        let message = e.to_string();
        let message = connector_of(&message)
            .and_then(|id| diagnose_connector(&layered, id))
            .unwrap_or(message);
        if message.contains("expected a duration") {
            format!(
                "{message}; write a number with a unit, e.g. \"500ms\", \"5s\", \"2m\" or \"1h\""
            )
        } else {
            message
        }
    })?;
    check(&settings)?;
    Ok(settings)
}

/// The connector id when an error names only its table (`… for key `connectors.ID``): serde
/// reads a `type`-tagged table as a whole, so the key inside it is lost.
fn connector_of(message: &str) -> Option<&str> {
    let key = message.strip_suffix('`')?.rsplit_once("for key `")?.1;
    key.strip_prefix("connectors.")
        .filter(|id| !id.contains('.'))
}

/// Reads `[connectors.ID]` again as its own type, to name the key inside it that is wrong.
fn diagnose_connector(layered: &config::Config, id: &str) -> Option<String> {
    let mut table = layered.get_table(&format!("connectors.{id}")).ok()?;
    let kind = table.remove("type")?.into_string().ok()?;
    let value = config::Value::new(None, config::ValueKind::Table(table));
    let error = match kind.as_str() {
        "spreadsheet" => value.try_deserialize::<SpreadsheetConfig>().err()?,
        "hubspot" => value.try_deserialize::<HubspotConfig>().err()?,
        _ => return None,
    };
    let message = error.to_string();
    Some(
        match message
            .strip_suffix('`')
            .and_then(|m| m.rsplit_once("for key `"))
        {
            Some((what, key)) => format!("{what}for key `connectors.{id}.{key}`"),
            None => format!("{message} for key `connectors.{id}`"),
        },
    )
}

/// The `LEADSYNC__…` variable that sets the key an error names (`for key `K`` or `key K:`).
fn overriding_var(message: &str) -> Option<String> {
    let key = message
        .rsplit_once("for key `")
        .and_then(|(_, rest)| rest.split('`').next())
        .or_else(|| message.strip_prefix("key ")?.split(':').next())?
        .to_ascii_lowercase();
    let prefix = format!("{ENV_PREFIX}__");
    std::env::vars().map(|(name, _)| name).find(|name| {
        let Some(rest) = name.strip_prefix(&prefix) else {
            return false;
        };
        let var_key = rest.to_ascii_lowercase().replace("__", ".");
        var_key == key
            || var_key.starts_with(&format!("{key}."))
            || key.starts_with(&format!("{var_key}."))
    })
}

/// Value checks that serde cannot express.
fn check(s: &Settings) -> Result<(), String> {
    match &s.admin.token {
        Some(token) => token.check().map_err(|e| format!("key admin.token: {e}"))?,
        None if !s.admin.listen.ip().is_loopback() => {
            return Err(format!(
                "key admin.listen: {} is beyond loopback; set admin.token (a bearer token for the API) to listen there",
                s.admin.listen
            ));
        }
        None => {}
    }
    for (id, link) in &s.admin.record_links {
        if !s.connectors.contains_key(id) {
            return Err(format!(
                "key admin.record_links.{id}: no connector `{id}` is configured"
            ));
        }
        if !link.contains("{id}") || !(link.starts_with("https://") || link.starts_with("http://"))
        {
            return Err(format!(
                "key admin.record_links.{id}: `{link}` is not an http:// or https:// address with {{id}} where the record id goes"
            ));
        }
    }
    if s.daemon.lease_ttl < Duration::from_secs(1) {
        return Err("key daemon.lease_ttl: must be at least 1s".into());
    }
    if s.daemon
        .replica_id
        .as_deref()
        .is_some_and(|id| id.trim().is_empty())
    {
        return Err("key daemon.replica_id: must not be empty".into());
    }
    if s.daemon.push_interval.is_zero() {
        return Err("key daemon.push_interval: must be longer than 0s".into());
    }
    check_cron(&s.daemon.requalify).map_err(|e| format!("key daemon.requalify: {e}"))?;
    if let Some(url) = &s.notify.webhook
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!(
            "key notify.webhook: `{url}` is not an http:// or https:// address"
        ));
    }
    if s.notify.check_interval.is_zero() || s.notify.retry_after.is_zero() {
        return Err("key notify.check_interval, notify.retry_after: must be longer than 0s".into());
    }
    s.identity.matching.check()?;
    if crate::model::region::region(&s.identity.default_region).is_none() {
        return Err(format!(
            "key identity.default_region: `{}` is not a known ISO 3166 region code (e.g. US, GB, DE)",
            s.identity.default_region
        ));
    }
    for name in s.merge.fields.keys() {
        name.parse::<Field>()
            .map_err(|e| format!("key merge.fields.{name}: {e}"))?;
    }
    for id in &s.merge.source_priority {
        if !s.connectors.contains_key(id) {
            return Err(format!(
                "key merge.source_priority: `{id}` is not a configured connector"
            ));
        }
    }
    check_store(&s.store)?;
    for (id, c) in &s.connectors {
        check_connector_id(id)?;
        if let Some(expr) = c.schedule() {
            check_cron(expr).map_err(|e| format!("key connectors.{id}.schedule: {e}"))?;
        }
        match c {
            ConnectorConfig::Spreadsheet(sheet) => {
                leadsync_spreadsheet::mapping::check_columns(&sheet.columns)
                    .map_err(|e| format!("key connectors.{id}.columns: {e}"))?;
                if let Some(ids) = &sheet.crm_ids {
                    if !s
                        .connectors
                        .get(&ids.connector)
                        .is_some_and(ConnectorConfig::is_crm)
                    {
                        let crms: Vec<&str> = s
                            .connectors
                            .iter()
                            .filter(|(_, c)| c.is_crm())
                            .map(|(id, _)| id.as_str())
                            .collect();
                        return Err(format!(
                            "key connectors.{id}.crm_ids.connector: `{}` is not a configured CRM connector (configured: {})",
                            ids.connector,
                            if crms.is_empty() {
                                "none".to_string()
                            } else {
                                crms.join(", ")
                            }
                        ));
                    }
                    if let Some(field) = leadsync_spreadsheet::mapping::builtin(&ids.column) {
                        return Err(format!(
                            "key connectors.{id}.crm_ids.column: `{}` is read as the field `{field}`, not as record ids",
                            ids.column
                        ));
                    }
                }
            }
            ConnectorConfig::Hubspot(hub) => {
                hub.token
                    .check()
                    .map_err(|e| format!("key connectors.{id}.token: {e}"))?;
                hub.rate_limit
                    .zone()
                    .map_err(|e| format!("key connectors.{id}.rate_limit.time_zone: {e}"))?;
                if hub.rate_limit.window.is_zero() {
                    return Err(format!(
                        "key connectors.{id}.rate_limit.window: must be longer than 0s"
                    ));
                }
                if hub.respect_downgrades && hub.allow_downgrade {
                    return Err(format!(
                        "key connectors.{id}.respect_downgrades: cannot be combined with allow_downgrade (leadsync's tier is then the authority for stages); set one of the two"
                    ));
                }
            }
            ConnectorConfig::Salesforce(sf) => {
                sf.check()
                    .map_err(|e| format!("key connectors.{id}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// Reads every secret the config names (the admin token, each HubSpot token) without keeping
/// or printing any: the number read, or one line per secret that cannot be read, naming its key.
pub fn resolve_secrets(s: &Settings) -> Result<usize, Vec<String>> {
    let mut sources: Vec<(String, &TokenSource)> = Vec::new();
    if let Some(token) = &s.admin.token {
        sources.push(("admin.token".into(), token));
    }
    for (id, c) in &s.connectors {
        if let ConnectorConfig::Hubspot(hub) = c {
            sources.push((format!("connectors.{id}.token"), &hub.token));
        }
    }
    let mut problems: Vec<String> = sources
        .iter()
        .filter_map(|(key, source)| source.load().err().map(|e| format!("key {key}: {e}")))
        .collect();
    let mut read = sources.len();
    if let Some(password) = &s.store.password {
        match password.load("store.password") {
            Ok(_) => read += 1,
            Err(e) => problems.push(format!(
                "key store.password: {}",
                e.trim_start_matches("`store.password`: ")
            )),
        }
    }
    for (id, c) in &s.connectors {
        if let ConnectorConfig::Salesforce(sf) = c {
            for (key, source) in [
                ("client_id", &sf.client_id),
                ("client_secret", &sf.client_secret),
            ] {
                match source.load(key) {
                    Ok(_) => read += 1,
                    Err(e) => {
                        let why = e.strip_prefix(&format!("`{key}`: ")).unwrap_or(&e);
                        problems.push(format!("key connectors.{id}.{key}: {why}"));
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(read)
    } else {
        Err(problems)
    }
}

/// `store.url` names a backend leadsync has; a password sits in `store.password`, not the URL.
fn check_store(store: &StoreConfig) -> Result<(), String> {
    let url = store.url.as_str();
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err("key store.url: `sqlite://` names no file; write sqlite://PATH".into());
        }
        if store.password.is_some() {
            return Err("key store.password: only a postgres:// store takes a password".into());
        }
        return Ok(());
    }
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let userinfo = rest.split_once('@').map(|(u, _)| u).unwrap_or("");
        if userinfo.contains(':') {
            return Err("key store.url: the URL holds a password; write it as `store.password = { env = \"NAME\" }` or `{ file = \"PATH\" }` (or set PGPASSWORD) and take it out of the URL".into());
        }
        if let Some(p) = &store.password {
            p.check("store.password")?;
        }
        return Ok(());
    }
    Err(format!(
        "key store.url: `{url}` is not a store leadsync knows; write sqlite://PATH or postgres://USER@HOST:PORT/DATABASE"
    ))
}

fn check_connector_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "key connectors.{id}: connector ids use lowercase letters, digits, `_` and `-` only"
        ))
    }
}

/// Checks a cron expression the way the scheduler reads it: six fields, seconds first.
pub fn check_cron(expr: &str) -> Result<croner::Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields != 6 {
        return Err(format!(
            "`{expr}` has {fields} fields; write six, seconds first (e.g. \"0 */15 * * * *\" for every 15 minutes)"
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        // As tokio-cron-scheduler reads it: day-of-month AND day-of-week must both match.
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .map_err(|e| format!("`{expr}` is not a valid cron expression: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(toml: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(toml.as_bytes()).unwrap();
        f
    }

    #[test]
    fn an_empty_file_gives_every_default() {
        let f = write("");
        let s = load(f.path()).unwrap();
        assert_eq!(s.store.url, "sqlite://data/leadsync.db");
        assert_eq!(s.admin.listen.to_string(), "127.0.0.1:9464");
        assert_eq!(s.identity.default_region, "US");
        assert!(s.connectors.is_empty());
    }

    #[test]
    fn connectors_are_told_apart_by_type() {
        let f = write(
            "[connectors.sheets]\ntype = \"spreadsheet\"\ninbox = \"/tmp/in\"\nsettle = \"500ms\"\n[connectors.sheets.columns]\nemail = [\"Work E-mail\", \"Home E-mail\"]\n",
        );
        let s = load(f.path()).unwrap();
        let ConnectorConfig::Spreadsheet(c) = &s.connectors["sheets"] else {
            panic!("a spreadsheet connector")
        };
        assert_eq!(c.settle, std::time::Duration::from_millis(500));
        let headers: Vec<&str> = c.columns["email"].iter().collect();
        assert_eq!(headers, ["Work E-mail", "Home E-mail"]);
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let f = write("[store]\nurl = \"sqlite://x.db\"\nurll = 1\n");
        let msg = load(f.path()).unwrap_err().to_string();
        assert!(msg.contains(&f.path().display().to_string()), "{msg}");
        assert!(msg.contains("urll"), "{msg}");

        let f = write("[connectors.s]\ntype = \"spreadsheet\"\ninbox = \"/x\"\ninbx = \"/y\"\n");
        let msg = load(f.path()).unwrap_err().to_string();
        assert!(msg.contains("inbx"), "{msg}");

        let f = write(
            "[connectors.s]\ntype = \"spreadsheet\"\ninbox = \"/x\"\nschedule = \"*/5 * * * *\"\n",
        );
        let msg = load(f.path()).unwrap_err().to_string();
        assert!(
            msg.contains("connectors.s.schedule") && msg.contains("six"),
            "{msg}"
        );

        let f = write("[identity]\ndefault_region = \"XX\"\n");
        let msg = load(f.path()).unwrap_err().to_string();
        assert!(msg.contains("identity.default_region"), "{msg}");

        let f = write("[merge.fields]\nemial = \"maximum\"\n");
        let msg = load(f.path()).unwrap_err().to_string();
        assert!(msg.contains("merge.fields.emial"), "{msg}");
    }

    #[test]
    fn crm_ids_name_a_crm_connector_and_a_column_that_is_no_field() {
        let hubspot = "[connectors.hubspot]\ntype = \"hubspot\"\ntoken = { env = \"X\" }\n";
        let drops = "[connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"/x\"\n";
        let f = write(&format!(
            "{hubspot}{drops}crm_ids = {{ connector = \"hubspot\" }}\n"
        ));
        let s = load(f.path()).unwrap();
        let ConnectorConfig::Spreadsheet(c) = &s.connectors["drops"] else {
            panic!("a spreadsheet connector")
        };
        let ids = c.crm_ids.as_ref().unwrap();
        assert_eq!(
            (ids.connector.as_str(), ids.column.as_str()),
            ("hubspot", "Record ID")
        );

        for (ids, key) in [
            ("connector = \"hubspto\"", "(configured: hubspot)"),
            ("connector = \"drops\"", "crm_ids.connector"),
            (
                "connector = \"hubspot\", column = \"Email\"",
                "crm_ids.column",
            ),
            ("connector = \"hubspot\", colum = \"ID\"", "colum"),
        ] {
            let f = write(&format!("{hubspot}{drops}crm_ids = {{ {ids} }}\n"));
            let msg = load(f.path()).unwrap_err().to_string();
            assert!(msg.contains(key), "{ids}: {msg}");
        }
    }

    #[test]
    fn the_admin_api_listens_beyond_loopback_only_with_a_token() {
        let f = write("[admin]\nlisten = \"0.0.0.0:9464\"\n");
        let msg = load(f.path()).unwrap_err().to_string();
        assert!(
            msg.contains("admin.listen") && msg.contains("admin.token"),
            "{msg}"
        );

        let f = write("[admin]\nlisten = \"0.0.0.0:9464\"\ntoken = { env = \"ADMIN_TOKEN\" }\n");
        let s = load(f.path()).unwrap();
        assert_eq!(
            s.admin.token.and_then(|t| t.env).as_deref(),
            Some("ADMIN_TOKEN")
        );

        let f = write("[admin]\ntoken = { env = \"A\", file = \"/b\" }\n");
        let msg = load(f.path()).unwrap_err().to_string();
        assert!(msg.contains("admin.token"), "{msg}");

        let f = write("[daemon]\nshutdown_timeout = \"90s\"\npush_interval = \"0s\"\n");
        let msg = load(f.path()).unwrap_err().to_string();
        assert!(msg.contains("daemon.push_interval"), "{msg}");

        // A record link names a configured connector and holds `{id}`.
        for (links, wrong) in [
            (
                "{ crm = \"https://crm.example/{id}\" }",
                "no connector `crm`",
            ),
            ("{ drops = \"https://crm.example/record\" }", "{id}"),
            ("{ drops = \"javascript:alert('{id}')\" }", "http://"),
        ] {
            let f = write(&format!(
                "[admin]\nrecord_links = {links}\n[connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"/tmp\"\n"
            ));
            let msg = load(f.path()).unwrap_err().to_string();
            assert!(
                msg.contains("admin.record_links.") && msg.contains(wrong),
                "{msg}"
            );
        }
    }

    #[test]
    fn environment_overrides_use_double_underscores() {
        // The test binary runs tests in threads; this is the only test touching this variable.
        let f = write("[store]\nurl = \"sqlite://from-file.db\"\n");
        unsafe { std::env::set_var("LEADSYNC__STORE__URL", "sqlite://from-env.db") };
        let s = load(f.path());
        unsafe { std::env::remove_var("LEADSYNC__STORE__URL") };
        assert_eq!(s.unwrap().store.url, "sqlite://from-env.db");
    }
}
