use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `[connectors.ID]` with `type = "spreadsheet"`: a folder where people drop CSV/XLSX/XLS/ODS
/// exports.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpreadsheetConfig {
    /// The folder to take drops from. Only files directly in it are read; sub-folders are not.
    pub inbox: PathBuf,
    /// Where read files go, under a timestamped name, with their rejects beside them.
    /// Default: `<inbox>/processed`.
    #[serde(default)]
    pub processed_dir: Option<PathBuf>,
    /// Where files that cannot be read at all go, with a `.error.txt` note beside them.
    /// Default: `<inbox>/failed`.
    #[serde(default)]
    pub failed_dir: Option<PathBuf>,
    /// How long a file's size and modification time must stay unchanged before it is taken, so a
    /// file still being copied is never read half-way.
    #[serde(default = "default_settle", with = "humantime_serde")]
    pub settle: Duration,
    /// Worksheet to read in workbooks; default the first non-empty sheet.
    #[serde(default)]
    pub sheet: Option<String>,
    /// Extra column mapping: built-in field name (`email`, `first_name`, `job_title`, …) →
    /// header name(s) as they appear in the file. Takes precedence over the built-in recognition
    /// of CRM export headers. Columns that map to no field are kept as custom fields named after
    /// their header in snake_case.
    #[serde(default)]
    pub columns: BTreeMap<String, HeaderNames>,
    /// Headers whose columns should be ignored entirely.
    #[serde(default)]
    pub ignore_columns: Vec<String>,
    /// Source/channel recorded for rows that have none (`"Trade show 2026"`).
    #[serde(default)]
    pub default_source: Option<String>,
    /// Form kind recorded for rows that have none (`"newsletter"` for a newsletter export).
    #[serde(default)]
    pub default_form_kind: Option<String>,
    /// Optional cron expression (six fields, with seconds) to scan the inbox on a schedule, in
    /// addition to watching it.
    #[serde(default)]
    pub schedule: Option<String>,
    /// A column holding a CRM connector's record ids (a HubSpot export's `Record ID`): rows are
    /// then linked to that connector's records by id, before emails and phones.
    #[serde(default)]
    pub crm_ids: Option<CrmIds>,
}

/// `crm_ids = { connector = "hubspot" }`: which connector's ids, in which column.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CrmIds {
    /// The id of a configured CRM connector (`[connectors.hubspot]`).
    pub connector: String,
    /// The header of the id column; default `Record ID` (HubSpot's exports).
    #[serde(default = "default_crm_id_column")]
    pub column: String,
}

fn default_crm_id_column() -> String {
    "Record ID".into()
}

/// One header name or several (`email = ["Work E-mail", "Private E-mail"]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum HeaderNames {
    One(String),
    Many(Vec<String>),
}

impl HeaderNames {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let v: Vec<&str> = match self {
            HeaderNames::One(s) => vec![s.as_str()],
            HeaderNames::Many(v) => v.iter().map(String::as_str).collect(),
        };
        v.into_iter()
    }
}

fn default_settle() -> Duration {
    Duration::from_secs(2)
}

impl SpreadsheetConfig {
    pub fn processed_dir(&self) -> PathBuf {
        self.processed_dir
            .clone()
            .unwrap_or_else(|| self.inbox.join("processed"))
    }

    pub fn failed_dir(&self) -> PathBuf {
        self.failed_dir
            .clone()
            .unwrap_or_else(|| self.inbox.join("failed"))
    }

    /// Settings that work but are probably a mistake, each as a sentence saying what to do.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.settle.is_zero() {
            warnings.push(
                "settle = \"0s\" takes a file the moment it appears, so a copy still in progress is read half-way (even at 0 bytes); set settle to a few seconds unless every drop is moved into the inbox whole".to_string(),
            );
        }
        warnings
    }

    /// A config for `inbox` with every default.
    pub fn for_inbox(inbox: &Path) -> Self {
        SpreadsheetConfig {
            inbox: inbox.to_path_buf(),
            processed_dir: None,
            failed_dir: None,
            settle: default_settle(),
            sheet: None,
            columns: BTreeMap::new(),
            ignore_columns: Vec::new(),
            default_source: None,
            default_form_kind: None,
            schedule: None,
            crm_ids: None,
        }
    }
}
