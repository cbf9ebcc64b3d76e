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
pub use pull::{CURSOR_VERSION, PAGE_ROWS};

use leadsync_connector_core::{
    Connector, ConnectorError, ConnectorErrorKind, Health, PageSink, PullStats, PushItem,
    PushOutcome,
};

pub struct SpreadsheetConnector {
    id: String,
    cfg: SpreadsheetConfig,
}

impl SpreadsheetConnector {
    pub fn new(id: impl Into<String>, cfg: SpreadsheetConfig) -> Self {
        SpreadsheetConnector { id: id.into(), cfg }
    }

    pub fn config(&self) -> &SpreadsheetConfig {
        &self.cfg
    }

    /// The pull, as the blocking file work it is (callers on an async runtime run it on a
    /// blocking thread).
    pub fn pull_blocking(&mut self, sink: &mut dyn PageSink) -> Result<PullStats, ConnectorError> {
        pull::pull(&self.id, &self.cfg, sink)
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
        let waiting = inbox::list(inbox).map(|f| f.len()).unwrap_or(0);
        Ok(Health {
            detail: format!("inbox {} ready, {waiting} file(s) waiting", inbox.display()),
        })
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
