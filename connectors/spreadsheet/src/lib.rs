//! The spreadsheet drop connector: CSV, XLSX, XLS and ODS exports dropped into a folder.
//!
//! A file is taken once it has settled, read page by page with a cursor per file (its content
//! hash), then moved to `processed/` with its rejects beside it, or to `failed/` with a note when
//! it cannot be read at all. Nothing dropped is ever deleted or overwritten.
#![deny(unreachable_pub)]

pub mod config;
pub mod inbox;
pub mod mapping;
mod pull;
pub mod read;
mod rows;

pub use config::{CrmIds, HeaderNames, SpreadsheetConfig};
pub use inbox::Skipped;
pub use pull::{CURSOR_VERSION, InboxStatus, PAGE_ROWS, TakenFile, rejects_csv};

use leadsync_connector_core::{
    Connector, ConnectorError, ConnectorErrorKind, Health, PageSink, PullStats, PushItem,
    PushOutcome,
};

pub struct SpreadsheetConnector {
    id: String,
    cfg: SpreadsheetConfig,
    /// Kept across pulls: the daemon holds one connector for its whole run.
    memory: pull::Memory,
}

impl SpreadsheetConnector {
    /// The connector; its config's warnings (see [`SpreadsheetConfig::warnings`]) are logged.
    pub fn new(id: impl Into<String>, cfg: SpreadsheetConfig) -> Self {
        let id = id.into();
        for warning in cfg.warnings() {
            tracing::warn!(connector = %id, "{warning}");
        }
        SpreadsheetConnector {
            id,
            cfg,
            memory: pull::Memory::default(),
        }
    }

    /// What the inbox held at the last pull.
    pub fn inbox_status(&self) -> &InboxStatus {
        &self.memory.status
    }

    pub fn config(&self) -> &SpreadsheetConfig {
        &self.cfg
    }

    /// The pull, as the blocking file work it is (callers on an async runtime run it on a
    /// blocking thread).
    pub fn pull_blocking(&mut self, sink: &mut dyn PageSink) -> Result<PullStats, ConnectorError> {
        pull::pull(&self.id, &self.cfg, &mut self.memory, sink)
    }

    /// The inbox exists, is a folder, and `processed/` and `failed/` can be created.
    pub fn check(&self) -> Result<Health, ConnectorError> {
        let inbox = &self.cfg.inbox;
        if !inbox.is_dir() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                format!(
                    "connector {}: inbox folder {} does not exist",
                    self.id,
                    inbox.display()
                ),
            ));
        }
        for dir in [self.cfg.processed_dir(), self.cfg.failed_dir()] {
            std::fs::create_dir_all(&dir).map_err(|e| {
                ConnectorError::with_source(
                    ConnectorErrorKind::Config,
                    format!(
                        "connector {}: cannot create {}: {e}",
                        self.id,
                        dir.display()
                    ),
                    e,
                )
            })?;
        }
        let listing = inbox::list(inbox).unwrap_or_default();
        let mut skipped = listing.skipped;
        for path in &listing.files {
            if let Err(e) = std::fs::File::open(path) {
                skipped.push(Skipped {
                    file: path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                    reason: format!("leadsync cannot read it: {e}"),
                });
            }
        }
        let waiting = listing.files.len() - skipped.len().min(listing.files.len());
        let mut detail = format!("inbox {} ready, {waiting} file(s) waiting", inbox.display());
        if !skipped.is_empty() {
            let list: Vec<String> = skipped
                .iter()
                .map(|s| format!("`{}` ({})", s.file, s.reason))
                .collect();
            detail.push_str(&format!(", {} skipped: {}", skipped.len(), list.join("; ")));
        }
        for warning in self.cfg.warnings() {
            detail.push_str(&format!("; warning: {warning}"));
        }
        Ok(Health { detail })
    }
}

impl Connector for SpreadsheetConnector {
    fn id(&self) -> &str {
        &self.id
    }

    async fn health(&self) -> Result<Health, ConnectorError> {
        self.check()
    }

    async fn pull(&mut self, sink: &mut dyn PageSink) -> Result<PullStats, ConnectorError> {
        self.pull_blocking(sink)
    }

    /// Drops are read-only sources: a stage push is refused per item.
    async fn push(&self, items: &[PushItem]) -> Result<Vec<PushOutcome>, ConnectorError> {
        Ok(items
            .iter()
            .map(|i| PushOutcome::Failed {
                outbox_id: i.outbox_id,
                reason: format!(
                    "connector {} is a spreadsheet inbox and takes no stage pushes",
                    self.id
                ),
            })
            .collect())
    }
}
