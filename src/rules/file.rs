//! The rules file: named rules per tier (CEL conditions), scoring and thresholds, owned by the
//! admins. See `config/rules.toml` for the documented default.

use leadsync_connector_core::{Ladder, RungSpec, Tier};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The rules shipped with leadsync, used when `[rules] file` is not set.
pub const DEFAULT_RULES: &str = include_str!("../../config/rules.toml");

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// The tiers, lowest first; the six standard ones when absent.
    #[serde(default)]
    pub ladder: Option<LadderConfig>,
    #[serde(default)]
    pub temperature: TemperatureConfig,
    /// Numbers usable in conditions as `thresholds.NAME`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// Lists of (lower-case) words usable in conditions as `lists.NAME`.
    #[serde(default)]
    pub lists: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub scoring: ScoringConfig,
    /// Tier rules: a person is in the highest tier one of whose rules holds.
    #[serde(default)]
    pub rules: Vec<RuleDef>,
    /// Follow-up commitments between the tiers, and the business hours they run on.
    #[serde(default)]
    pub follow_up: Option<super::follow_up::FollowUpConfig>,
}

/// `[ladder]`: the admins' tiers.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LadderConfig {
    /// Lowest first: `{ name = "sal", label = "Sales accepted lead", description = "…" }`.
    pub tiers: Vec<RungSpec>,
    /// `[ladder.renamed]`: old name → new name.
    #[serde(default)]
    pub renamed: BTreeMap<String, String>,
    /// `[ladder.removed]`: a tier no longer on the ladder → the tier it now counts as.
    #[serde(default)]
    pub removed: BTreeMap<String, String>,
}

/// Hot, warm or cold, by days since the last activity.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TemperatureConfig {
    /// Active within this many days: hot.
    #[serde(default = "default_hot")]
    pub hot_days: u32,
    /// Active within this many days (and not hot): warm. Otherwise, or never active: cold.
    #[serde(default = "default_warm")]
    pub warm_days: u32,
}

fn default_hot() -> u32 {
    7
}

fn default_warm() -> u32 {
    30
}

impl Default for TemperatureConfig {
    fn default() -> Self {
        TemperatureConfig {
            hot_days: default_hot(),
            warm_days: default_warm(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// How well the person fits the ideal customer (role, industry, size).
    #[serde(default)]
    pub fit: ScoreGroup,
    /// How engaged the person is (forms, activity); may decay with inactivity.
    #[serde(default)]
    pub engagement: ScoreGroup,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScoreGroup {
    /// The group's score never exceeds this.
    #[serde(default)]
    pub cap: Option<u32>,
    /// Linear decay: the group's points shrink to zero over this many days without activity
    /// (a person with no known activity gets the full decay).
    #[serde(default)]
    pub decay_days: Option<u32>,
    #[serde(default)]
    pub points: Vec<PointsDef>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PointsDef {
    pub name: String,
    /// A CEL condition; when true the points are added.
    pub when: String,
    pub points: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub name: String,
    pub tier: Tier,
    /// A CEL condition over the person's facts.
    pub when: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// Where rules come from, and their text.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesSource {
    /// `None` for the built-in default rules.
    pub path: Option<PathBuf>,
    pub text: String,
}

impl RulesSource {
    pub fn builtin() -> Self {
        RulesSource {
            path: None,
            text: DEFAULT_RULES.to_string(),
        }
    }

    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("rules file {}: {e}", path.display()))?;
        Ok(RulesSource {
            path: Some(path.to_path_buf()),
            text,
        })
    }

    /// The configured file, or the built-in rules.
    pub fn from_config(file: Option<&Path>) -> Result<Self, String> {
        file.map_or_else(|| Ok(RulesSource::builtin()), RulesSource::read)
    }

    /// `config/rules.toml`, or `built-in rules`, for messages.
    pub fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "built-in rules".to_string(), |p| p.display().to_string())
    }

    /// The rules version: a content hash, so the same rules give the same version anywhere.
    pub fn version(&self) -> String {
        let digest = Sha256::digest(self.text.as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    /// The file's ladder (`[ladder] tiers`; the standard one when it has none), read apart from
    /// the rest: the rules and the connectors' settings name its tiers, so it is current
    /// before they are read.
    pub fn ladder(&self) -> Result<Ladder, String> {
        #[derive(Deserialize)]
        struct LadderOnly {
            #[serde(default)]
            ladder: Option<LadderConfig>,
        }
        let only: LadderOnly =
            toml::from_str(&self.text).map_err(|e| format!("{}: {e}", self.name()))?;
        match only.ladder {
            None => Ok(Ladder::standard()),
            Some(l) => Ladder::new(&l.tiers)
                .and_then(|ladder| ladder.with_aliases(&l.renamed, &l.removed))
                .map_err(|e| format!("{}: [ladder]: {e}", self.name())),
        }
    }

    /// Parses the file; its tiers are read on the current ladder (see [`RulesSource::ladder`]).
    pub fn parse(&self) -> Result<RulesFile, String> {
        toml::from_str(&self.text).map_err(|e| format!("{}: {e}", self.name()))
    }
}
