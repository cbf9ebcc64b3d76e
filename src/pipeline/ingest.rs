//! The core's side of a pull: each page a connector hands over is stored — records linked and
//! merged into persons, the persons qualified, rejects, and the cursor — in one transaction.

use super::connectors::PushTarget;
use super::matcher::{MatchStats, Matcher};
use super::qualify;
use crate::config::{IdentityConfig, MergeConfig};
use crate::model::number::group;
use crate::resolve::Resolver;
use crate::rules::Rules;
use crate::store::{Store, StoreError, StoreEvent, StoreTx};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{
    ConnectorError, ConnectorErrorKind, Cursor, Field, Page, PageSink, RecordReject, SourceRecord,
};
use std::collections::HashMap;
use std::sync::Arc;

/// What storing a page (or a pull's pages) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageStats {
    pub records: u64,
    pub persons_created: u64,
    pub conflicts: u64,
    pub tier_changes: u64,
    /// Persons merged by probabilistic matching, and pairs queued for review.
    pub matched: u64,
    pub queued: u64,
}

/// A page's records into persons: linked and merged (the resolver), then qualified with their
/// stage pushes planned (the qualify step), all inside the page's transaction.
pub struct PageIngest {
    resolver: Resolver,
    rules: Arc<Rules>,
    /// Connectors whose linked records get stage pushes planned.
    push_targets: Vec<PushTarget>,
    /// Probabilistic matching, when enabled and trained.
    matcher: Option<Arc<Matcher>>,
}

impl PageIngest {
    pub fn new(identity: &IdentityConfig, merge: &MergeConfig, rules: Arc<Rules>) -> Self {
        PageIngest {
            resolver: Resolver::new(identity, merge),
            rules,
            push_targets: Vec::new(),
            matcher: None,
        }
    }

    /// Matches each page's persons with the stored ones after the exact keys.
    pub fn with_matcher(mut self, matcher: Option<Matcher>) -> Self {
        self.matcher = matcher.map(Arc::new);
        self
    }

    /// The resolver (for matching passes outside a page).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The rules and push targets persons are qualified with.
    pub fn qualify(
        &self,
        tx: &mut dyn StoreTx,
        persons: &mut [crate::model::Person],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        qualify::merged_persons(tx, &self.rules, &self.push_targets, persons, now)
    }

    /// Links file rows of these connectors by the CRM record ids in one of their fields:
    /// connector → (CRM connector, field).
    pub fn with_crm_ids(mut self, columns: HashMap<String, (String, Field)>) -> Self {
        self.resolver = self.resolver.with_crm_ids(columns);
        self
    }

    /// Plans stage pushes to the linked records of these connectors. The stage a target with
    /// `allow_downgrade` reports is kept on its record but not merged into the person, so it
    /// neither floors the tier nor feeds the rules.
    pub fn with_push_targets(mut self, targets: Vec<PushTarget>) -> Self {
        let authorities = targets
            .iter()
            .filter(|t| t.allow_downgrade)
            .map(|t| t.connector.clone())
            .collect();
        self.resolver = self.resolver.with_unmerged_stages(authorities);
        self.push_targets = targets;
        self
    }

    /// Links, stores and merges every record of a page inside `tx`, then qualifies and writes
    /// each touched person once, with its (never lowered) tier.
    pub fn apply_page(
        &self,
        tx: &mut dyn StoreTx,
        connector: &str,
        records: &[SourceRecord],
        now: DateTime<Utc>,
    ) -> Result<PageStats, StoreError> {
        let mut page = self.resolver.apply_page(tx, connector, records, now)?;
        let matched = match &self.matcher {
            Some(m) => m.apply(tx, &self.resolver, &mut page.persons, now)?,
            None => MatchStats::default(),
        };
        // Inputs changed: qualify, in the same transaction as the data that changed them.
        let tier_changes =
            qualify::merged_persons(tx, &self.rules, &self.push_targets, &mut page.persons, now)?;
        Ok(PageStats {
            records: page.stats.records,
            persons_created: page.stats.persons_created,
            conflicts: page.stats.conflicts,
            tier_changes,
            matched: matched.merged,
            queued: matched.queued,
        })
    }
}

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
    ingest: &'a PageIngest,
    connector: String,
    progress: Option<&'a dyn Progress>,
    /// Pages committed of the stream last committed to (a drop's file), for progress.
    pages: (String, u64),
    pub stats: PageStats,
}

impl<'a> StoreSink<'a> {
    pub fn new(store: &'a mut dyn Store, ingest: &'a PageIngest, connector: &str) -> Self {
        StoreSink {
            store,
            ingest,
            connector: connector.to_string(),
            progress: None,
            pages: (String::new(), 0),
            stats: PageStats::default(),
        }
    }

    pub fn with_progress(mut self, progress: &'a dyn Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    fn store_page(&mut self, page: &Page) -> Result<PageStats, StoreError> {
        let now = crate::clock::now();
        let mut tx = self.store.begin()?;
        for reject in &page.rejects {
            tx.add_reject(&self.connector, &page.cursor.stream, reject)?;
        }
        let stats = self
            .ingest
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
        self.stats.matched += stats.matched;
        self.stats.queued += stats.queued;
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
