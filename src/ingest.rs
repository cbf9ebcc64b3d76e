//! The core's side of a pull: each page a connector hands over is stored — records resolved into
//! persons, rejects, and the cursor — in one transaction.

use crate::resolve::{ResolveStats, Resolver};
use crate::store::{Store, StoreError, StoreEvent};
use chrono::Utc;
use leadsync_connector_core::{
    ConnectorError, ConnectorErrorKind, Cursor, Page, PageSink, RecordReject, SourceRecord,
};

/// Reports how far a pull got (a progress bar on a terminal, nothing otherwise).
pub trait Progress {
    /// `label` is a readable line (`hubspot: 12,400 contacts stored, 31 pages`); `done` of
    /// `total` (0 when unknown) are its count, for those who draw a bar.
    fn update(&self, label: &str, done: u64, total: u64);
    /// `false` once the pull should stop after the page it has committed.
    fn keep_going(&self) -> bool {
        true
    }
}

impl Progress for indicatif::ProgressBar {
    fn update(&self, label: &str, _done: u64, _total: u64) {
        self.set_message(label.to_string());
        self.tick();
    }
}

/// A [`PageSink`] writing into a [`Store`].
pub struct StoreSink<'a> {
    store: &'a mut dyn Store,
    resolver: &'a Resolver,
    connector: String,
    progress: Option<&'a dyn Progress>,
    /// Pages committed of the stream last committed to (a drop's file), for progress.
    pages: (String, u64),
    pub stats: ResolveStats,
}

impl<'a> StoreSink<'a> {
    pub fn new(store: &'a mut dyn Store, resolver: &'a Resolver, connector: &str) -> Self {
        StoreSink {
            store,
            resolver,
            connector: connector.to_string(),
            progress: None,
            pages: (String::new(), 0),
            stats: ResolveStats::default(),
        }
    }

    pub fn with_progress(mut self, progress: &'a dyn Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    fn store_page(&mut self, page: &Page) -> Result<ResolveStats, StoreError> {
        let now = Utc::now();
        let mut tx = self.store.begin()?;
        for reject in &page.rejects {
            tx.add_reject(&self.connector, &page.cursor.stream, reject)?;
        }
        let stats = self
            .resolver
            .apply_page(tx.as_mut(), &self.connector, &page.records, now)?;
        tx.put_cursor(&self.connector, &page.cursor)?;
        tx.commit()?;
        Ok(stats)
    }
}

fn to_connector_error(e: StoreError) -> ConnectorError {
    if let StoreError::CursorRegression { connector, .. } = &e {
        // Two runs on one store: the other committed further, so this one's page is behind.
        let message = format!(
            "another run holds connector {connector} or moved it on meanwhile; this run stopped without writing behind it (nothing is lost: the other run carries on)"
        );
        return ConnectorError::with_source(ConnectorErrorKind::Superseded, message, e);
    }
    let kind = match e.policy().retry {
        true => ConnectorErrorKind::Transient,
        false => ConnectorErrorKind::Permanent,
    };
    ConnectorError::with_source(kind, format!("store: {e}"), e)
}

impl PageSink for StoreSink<'_> {
    fn cursor(&mut self, stream: &str) -> Result<Option<Cursor>, ConnectorError> {
        self.store
            .cursor(&self.connector, stream)
            .map_err(to_connector_error)
    }

    fn commit(&mut self, page: Page) -> Result<(), ConnectorError> {
        let stats = self.store_page(&page).map_err(to_connector_error)?;
        if self.pages.0 != page.cursor.stream {
            self.pages = (page.cursor.stream.clone(), 0);
        }
        self.pages.1 += 1;
        self.stats.records += stats.records;
        self.stats.persons_created += stats.persons_created;
        self.stats.conflicts += stats.conflicts;
        self.stats.tier_changes += stats.tier_changes;
        Ok(())
    }

    fn unchanged(&mut self, records: &[SourceRecord]) -> Result<Vec<bool>, ConnectorError> {
        let keys: Vec<String> = records.iter().map(|r| r.locator.key()).collect();
        let stored = self
            .store
            .observed_at(&self.connector, &keys)
            .map_err(to_connector_error)?;
        // Stored times keep milliseconds: compare at that precision.
        let ms = |t: &chrono::DateTime<Utc>| t.timestamp_millis();
        Ok(records
            .iter()
            .zip(&keys)
            .map(|(r, k)| {
                stored.get(k).is_some_and(|(at, archived)| {
                    ms(at) == ms(&r.observed_at) && *archived == r.archived
                })
            })
            .collect())
    }

    fn holds_records(&mut self) -> Result<bool, ConnectorError> {
        self.store
            .holds_records(&self.connector)
            .map_err(to_connector_error)
    }

    fn rejects(&mut self, stream: &str) -> Result<Vec<RecordReject>, ConnectorError> {
        self.store
            .rejects(&self.connector, stream)
            .map_err(to_connector_error)
    }

    fn note(&mut self, stream: &str, kind: &str, detail: &str) -> Result<(), ConnectorError> {
        let event = StoreEvent {
            connector: self.connector.clone(),
            stream: stream.to_string(),
            kind: kind.to_string(),
            detail: detail.to_string(),
            at: Utc::now(),
        };
        let mut tx = self.store.begin().map_err(to_connector_error)?;
        tx.add_event(&event).map_err(to_connector_error)?;
        tx.commit().map_err(to_connector_error)
    }

    fn progress(&mut self, label: &str, done: u64, total: u64) {
        if let Some(p) = self.progress {
            let group = crate::plan::group;
            let count = match total {
                0 => group(done),
                _ => format!("{} of {}", group(done), group(total)),
            };
            let pages = match self.pages.1 {
                1 => "1 page".to_string(),
                n => format!("{} pages", group(n)),
            };
            let line = format!("{}: {count} {label} stored, {pages}", self.connector);
            p.update(&line, done, total);
        }
    }

    fn keep_going(&self) -> bool {
        self.progress.is_none_or(|p| p.keep_going())
    }
}
