//! `[connectors.ID]` with `type = "salesforce"`. The key names are a contract: scripts write them.

use leadsync_connector_core::Tier;
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use url::Url;

/// `[connectors.ID]` with `type = "salesforce"`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SalesforceConfig {
    /// The org's base URL (`https://MyDomain.my.salesforce.com`); tests and the demo point it at
    /// a fake on 127.0.0.1. The token endpoint and the REST API are both under it.
    pub instance_url: Url,
    /// The REST API version in the paths (`/services/data/v66.0/...`).
    #[serde(default = "default_api_version")]
    pub api_version: ApiVersion,
    /// The connected app's consumer key: `{ env = "NAME" }` or `{ file = "PATH" }`.
    pub client_id: SecretSource,
    /// The connected app's consumer secret: `{ env = "NAME" }` or `{ file = "PATH" }`. Used with
    /// `client_id` for the OAuth 2.0 client-credentials flow; the value never appears in config
    /// files, logs or serialised state.
    pub client_secret: SecretSource,
    /// Push desired tiers back to Salesforce (Lead `Status`, and `contact_stage_field`).
    #[serde(default)]
    pub push: bool,
    /// Tier name → Lead `Status` API name (`mql = "Marketing Qualified"`). Read both ways: a
    /// lead's status is evidence of its tier, and a push sets the status of the desired tier.
    #[serde(default)]
    pub lead_status: BTreeMap<Tier, String>,
    /// A custom field on Contact (`Lifecycle_Stage__c`) read as evidence and pushed. Without it,
    /// contacts are pulled but never written.
    #[serde(default)]
    pub contact_stage_field: Option<String>,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Cron expression (six fields, with seconds) for the daemon.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Push statuses down as well as up: leadsync's tier becomes the authority for this org's
    /// lead statuses. Off by default: pushes only move a record forward.
    #[serde(default)]
    pub allow_downgrade: bool,
}

impl SalesforceConfig {
    /// Checks what the types cannot, without reading secrets or sending anything. The message
    /// names the key and what to write instead.
    pub fn check(&self) -> Result<(), String> {
        match self.instance_url.scheme() {
            "https" | "http" => {}
            other => {
                return Err(format!(
                    "`instance_url` must be an http(s) URL, not `{other}:`; write the org's base URL, e.g. https://MyDomain.my.salesforce.com"
                ));
            }
        }
        self.client_id
            .check("client_id")
            .and_then(|()| self.client_secret.check("client_secret"))?;
        let mut seen: BTreeMap<&str, Tier> = BTreeMap::new();
        for (tier, status) in &self.lead_status {
            if status.trim().is_empty() {
                return Err(format!(
                    "`lead_status.{tier}` is empty; write the Lead Status API name (Setup > Object Manager > Lead > Lead Status), or remove the line"
                ));
            }
            if let Some(first) = seen.insert(status.as_str(), *tier) {
                return Err(format!(
                    "`lead_status.{first}` and `lead_status.{tier}` are both \"{status}\"; a status can mean one tier only"
                ));
            }
        }
        if let Some(field) = &self.contact_stage_field
            && !is_api_name(field)
        {
            return Err(format!(
                "`contact_stage_field = \"{field}\"` is not a field API name; write it as Setup shows it, e.g. \"Lifecycle_Stage__c\""
            ));
        }
        Ok(())
    }

    /// The REST root: `{instance_url}/services/data/{api_version}/`.
    pub fn data_url(&self) -> Url {
        let base = self.instance_url.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/services/data/{}/", self.api_version))
            .expect("a valid base URL with a path appended")
    }

    /// The OAuth 2.0 token endpoint: `{instance_url}/services/oauth2/token`.
    pub fn token_url(&self) -> Url {
        let base = self.instance_url.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/services/oauth2/token"))
            .expect("a valid base URL with a path appended")
    }
}

/// Letters, digits and underscores, starting with a letter: what Salesforce allows in API names.
fn is_api_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A REST API version, `vNN.0`. Parsed when the config is read, so a bad value never reaches a
/// request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ApiVersion(String);

impl ApiVersion {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApiVersion {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let valid = raw
            .strip_prefix('v')
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(major, minor)| {
                !major.is_empty()
                    && major.len() <= 3
                    && major.bytes().all(|b| b.is_ascii_digit())
                    && minor == "0"
            });
        if valid {
            Ok(ApiVersion(raw))
        } else {
            Err(format!(
                "`{raw}` is not a Salesforce API version; write it as `vNN.0`, e.g. `{DEFAULT_API_VERSION}`"
            ))
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[connectors.ID.rate_limit]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests of the org's rolling 24-hour allocation left to other integrations: the
    /// connector stops when `Sforce-Limit-Info` says only this many are left.
    #[serde(default = "default_reserve")]
    pub daily_reserve: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            daily_reserve: default_reserve(),
        }
    }
}

/// Where a credential comes from. Exactly one of the two.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(
    deny_unknown_fields,
    expecting = "a table: { env = \"NAME\" } or { file = \"PATH\" }"
)]
pub struct SecretSource {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl SecretSource {
    /// Checks the shape without reading anything; `key` names it in the message.
    pub fn check(&self, key: &str) -> Result<(), String> {
        match (&self.env, &self.file) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(format!(
                "write exactly one of `{key} = {{ env = \"NAME\" }}` or `{key} = {{ file = \"PATH\" }}`"
            )),
        }
    }

    /// Reads the value. The message names the key and where it looked, never the value.
    pub fn load(&self, key: &str) -> Result<SecretString, String> {
        self.check(key)?;
        let value = match (&self.env, &self.file) {
            (Some(name), _) => std::env::var(name)
                .map_err(|_| format!("`{key}`: the variable `{name}` is not set"))?,
            (_, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| format!("`{key}`: cannot read {}: {e}", path.display()))?,
            _ => unreachable!("checked above"),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("`{key}` is empty"));
        }
        Ok(SecretString::from(value.to_string()))
    }
}

/// A recent API version (Spring '26).
const DEFAULT_API_VERSION: &str = "v66.0";

fn default_api_version() -> ApiVersion {
    ApiVersion(DEFAULT_API_VERSION.into())
}

/// A tenth of the smallest allocation (100,000 requests a day).
fn default_reserve() -> u64 {
    10_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const MINIMAL: &str = r#"
        instance_url = "http://127.0.0.1:8080"
        client_id = { env = "SF_ID" }
        client_secret = { file = "/run/secrets/sf" }
    "#;

    fn parse(toml_text: &str) -> Result<SalesforceConfig, String> {
        toml::from_str(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_minimal_table_takes_the_defaults() {
        let cfg = parse(MINIMAL).unwrap();
        assert_eq!(cfg.api_version.as_str(), "v66.0");
        assert!(!cfg.push);
        assert!(!cfg.allow_downgrade);
        assert!(cfg.lead_status.is_empty());
        assert_eq!(cfg.contact_stage_field, None);
        assert_eq!(cfg.rate_limit.daily_reserve, 10_000);
        assert_eq!(cfg.schedule, None);
        assert_eq!(cfg.client_id.env.as_deref(), Some("SF_ID"));
        assert_eq!(
            cfg.data_url().as_str(),
            "http://127.0.0.1:8080/services/data/v66.0/"
        );
        assert_eq!(
            cfg.token_url().as_str(),
            "http://127.0.0.1:8080/services/oauth2/token"
        );
        cfg.check().unwrap();
    }

    #[test]
    fn every_key_of_the_contract_parses() {
        let cfg = parse(
            r#"
            instance_url = "https://acme.my.salesforce.com/"
            api_version = "v61.0"
            client_id = { file = "/id" }
            client_secret = { env = "SF_SECRET" }
            push = true
            contact_stage_field = "Lifecycle_Stage__c"
            schedule = "0 */15 * * * *"
            allow_downgrade = true
            [lead_status]
            lead = "Open - Not Contacted"
            mql = "Marketing Qualified"
            sql = "Sales Qualified"
            [rate_limit]
            daily_reserve = 2500
            "#,
        )
        .unwrap();
        cfg.check().unwrap();
        assert_eq!(cfg.lead_status[&Tier::MQL], "Marketing Qualified");
        assert_eq!(cfg.lead_status.len(), 3);
        assert!(cfg.push && cfg.allow_downgrade);
        assert_eq!(cfg.rate_limit.daily_reserve, 2500);
        assert_eq!(
            cfg.data_url().as_str(),
            "https://acme.my.salesforce.com/services/data/v61.0/"
        );
    }

    #[test]
    fn mistakes_are_named_with_what_to_write() {
        let err = parse(&format!("{MINIMAL}\nclient_key = \"x\"")).unwrap_err();
        assert!(err.contains("unknown field `client_key`"), "{err}");

        let err = parse(&format!("{MINIMAL}\napi_version = \"66\"")).unwrap_err();
        assert!(
            err.contains("`66` is not a Salesforce API version"),
            "{err}"
        );
        assert!(err.contains("vNN.0"), "{err}");

        let err = parse(&format!("{MINIMAL}\n[lead_status]\nhot = \"Working\"")).unwrap_err();
        assert!(
            err.contains("`hot` is not a tier; expected one of subscriber, lead"),
            "{err}"
        );

        let err = parse(&format!("{MINIMAL}\n[rate_limit]\nreserve = 5")).unwrap_err();
        assert!(err.contains("unknown field `reserve`"), "{err}");

        let err = parse(&MINIMAL.replace("{ env = \"SF_ID\" }", "\"abc\"")).unwrap_err();
        assert!(
            err.contains("{ env = \"NAME\" } or { file = \"PATH\" }"),
            "{err}"
        );
    }

    #[test]
    fn checks_catch_what_the_types_cannot() {
        let mut cfg = parse(MINIMAL).unwrap();
        cfg.lead_status.insert(Tier::MQL, "Working".into());
        cfg.lead_status.insert(Tier::SQL, "Working".into());
        assert_eq!(
            cfg.check().unwrap_err(),
            "`lead_status.mql` and `lead_status.sql` are both \"Working\"; a status can mean one tier only"
        );

        let mut cfg = parse(MINIMAL).unwrap();
        cfg.contact_stage_field = Some("Lifecycle Stage".into());
        assert!(cfg.check().unwrap_err().contains("Lifecycle_Stage__c"));

        let mut cfg = parse(MINIMAL).unwrap();
        cfg.client_secret.env = Some("SF_SECRET".into());
        assert_eq!(
            cfg.check().unwrap_err(),
            "write exactly one of `client_secret = { env = \"NAME\" }` or `client_secret = { file = \"PATH\" }`"
        );

        let cfg = parse(&MINIMAL.replace("http://127.0.0.1:8080", "ftp://x")).unwrap();
        assert!(cfg.check().unwrap_err().contains("`instance_url`"));
    }

    #[test]
    fn secrets_come_from_one_place_and_are_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "sf-secret-value\n").unwrap();
        let source = SecretSource {
            env: None,
            file: Some(path),
        };
        let secret = source.load("client_secret").unwrap();
        assert_eq!(secret.expose_secret(), "sf-secret-value");
        assert!(!format!("{secret:?}").contains("sf-secret-value"));

        let missing = SecretSource {
            env: Some("LEADSYNC_TEST_NO_SUCH_SF_VAR".into()),
            file: None,
        }
        .load("client_id");
        assert_eq!(
            missing.unwrap_err(),
            "`client_id`: the variable `LEADSYNC_TEST_NO_SUCH_SF_VAR` is not set"
        );

        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let err = SecretSource {
            env: None,
            file: Some(empty),
        }
        .load("client_secret")
        .unwrap_err();
        assert_eq!(err, "`client_secret` is empty");
    }
}
