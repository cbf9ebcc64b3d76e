//! One pass over the inbox: every settled file is read, page by page, each page committed with a
//! cursor that says how far into the file it got; then the file moves out, with its rejects.
//!
//! A drop is identified by its content hash, so a process killed half-way resumes the same file
//! after its last committed row, and the same content dropped twice is recorded, not re-read.

use crate::config::SpreadsheetConfig;
use crate::inbox;
use crate::mapping::{self, ColumnMap};
use crate::read::{self, ReadOptions};
use crate::rows::{RowContext, row_to_record};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{
    ConnectorError, ConnectorErrorKind, Cursor, CursorPosition, Page, PageSink, PullStats,
    RecordReject, SourceRecord,
};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Rows per page (one transaction each).
pub const PAGE_ROWS: usize = 5_000;
/// The format of [`FileState`] in cursors.
pub const CURSOR_VERSION: u32 = 1;

/// What a file's cursor remembers beside the row it reached.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileState {
    /// The name the file was dropped under.
    name: String,
    /// The file's modification time: when the export was made, as far as we can know.
    observed_at: DateTime<Utc>,
    headers: Vec<String>,
    /// Where the file goes once read; chosen before the last commit so a restart finishes the
    /// same move.
    target: Option<PathBuf>,
    /// Set once the file has been moved out of the inbox.
    moved: bool,
}

/// A taken file as its cursor's state tells it: for the operator's views of the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct TakenFile {
    /// The name the file was dropped under.
    pub name: String,
    /// The file's modification time when it was taken.
    pub observed_at: DateTime<Utc>,
    pub headers: Vec<String>,
    /// Where it went once read (`processed/…`), when it was moved.
    pub moved_to: Option<PathBuf>,
}

impl TakenFile {
    /// The file a drop connector's cursor state describes; `None` for another connector's.
    pub fn from_state(state: &str) -> Option<TakenFile> {
        let s: FileState = serde_json::from_str(state).ok()?;
        Some(TakenFile {
            moved_to: s.target.filter(|_| s.moved),
            name: s.name,
            observed_at: s.observed_at,
            headers: s.headers,
        })
    }
}

fn io_error(what: String, e: std::io::Error) -> ConnectorError {
    ConnectorError::with_source(ConnectorErrorKind::Transient, format!("{what}: {e}"), e)
}

/// What the connector remembers between passes: how each file looked (so a file still being
/// written is left for a later pass instead of waited for), which skipped files were reported
/// already (each is logged once), and what the last pass saw.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    settling: inbox::Settling,
    reported: HashSet<inbox::Skipped>,
    pub(crate) status: InboxStatus,
}

/// What the inbox held at the last pass: files not taken yet and files skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InboxStatus {
    /// Files left for a later pass: still being written, or after a stop.
    pub waiting: u64,
    /// Files that are not taken as they are; each says what to do.
    pub skipped: Vec<inbox::Skipped>,
}

/// Reads every settled file of the inbox. Nothing here waits: a file still being written is
/// left for a later pass, and `recheck_after` says when it may be ready.
pub(crate) fn pull(
    connector: &str,
    cfg: &SpreadsheetConfig,
    memory: &mut Memory,
    sink: &mut dyn PageSink,
) -> Result<PullStats, ConnectorError> {
    if !cfg.inbox.is_dir() {
        return Err(ConnectorError::new(
            ConnectorErrorKind::Config,
            format!(
                "connector {connector}: inbox folder {} does not exist",
                cfg.inbox.display()
            ),
        ));
    }
    let listing = inbox::list(&cfg.inbox)
        .map_err(|e| io_error(format!("cannot list {}", cfg.inbox.display()), e))?;
    memory.settling.retain(&listing.files);
    let mut stats = PullStats::default();
    let mut skipped = listing.skipped;
    let mut waiting = 0;
    let mut outcome = Ok(());
    for path in &listing.files {
        if outcome.is_err() || !sink.keep_going() {
            waiting += 1;
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        // Each file looked at is progress: the host's keep-alives continue.
        sink.progress(&name, 0, 0);
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                skipped.push(inbox::Skipped {
                    file: name.into_owned(),
                    reason: format!("cannot be looked at: {e}"),
                });
                continue;
            }
        };
        if let inbox::Readiness::NotYet(after) = memory.settling.check(path, &meta, cfg.settle) {
            tracing::debug!(connector, file = %name, recheck_s = after.as_secs_f64(), "File still changing; left for a later pass.");
            waiting += 1;
            stats.recheck_after = Some(stats.recheck_after.map_or(after, |r| r.min(after)));
            continue;
        }
        let mut file = DroppedFile {
            connector,
            cfg,
            sink: &mut *sink,
            path,
            mode: note_mode(&meta),
            stats: &mut stats,
            skipped: &mut skipped,
        };
        outcome = file.process();
    }
    report_skipped(connector, memory, &skipped);
    stats.skipped = skipped.len() as u64;
    memory.status = InboxStatus { waiting, skipped };
    outcome
        .map(|()| stats.clone())
        .map_err(|e| e.with_partial(stats))
}

/// Logs each skipped file once (not on every pass) and forgets those gone.
fn report_skipped(connector: &str, memory: &mut Memory, skipped: &[inbox::Skipped]) {
    memory.reported.retain(|s| skipped.contains(s));
    for s in skipped {
        if memory.reported.insert(s.clone()) {
            tracing::warn!(connector, file = %s.file, reason = %s.reason, "File in the inbox skipped; it stays there until fixed.");
        }
    }
}

/// The permission bits for a drop's notes: the drop's own (its reader can read why), but always
/// readable and writable by leadsync.
fn note_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    (meta.permissions().mode() & 0o666) | 0o600
}

/// One file being processed.
struct DroppedFile<'a> {
    connector: &'a str,
    cfg: &'a SpreadsheetConfig,
    sink: &'a mut dyn PageSink,
    path: &'a Path,
    /// The permission bits of the notes written about it.
    mode: u32,
    stats: &'a mut PullStats,
    skipped: &'a mut Vec<inbox::Skipped>,
}

impl DroppedFile<'_> {
    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn process(&mut self) -> Result<(), ConnectorError> {
        let hash = match inbox::content_hash(self.path) {
            Ok(h) => h,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()), // taken away
            Err(e) => return self.unreadable(&e),
        };
        match self.sink.cursor(&hash)? {
            Some(c) if c.finished => {
                let state = parse_state(&c)?;
                if state.moved {
                    self.duplicate(&hash, &state)
                } else {
                    // A restart between the last commit and the move: finish the same move.
                    self.finish(c, state)
                }
            }
            prior => self.ingest(&hash, prior),
        }
    }

    fn ingest(&mut self, hash: &str, prior: Option<Cursor>) -> Result<(), ConnectorError> {
        let known = |h: &str| {
            mapping::builtin(h).is_some()
                || self.cfg.columns.values().any(|names| {
                    names
                        .iter()
                        .any(|n| n.trim().eq_ignore_ascii_case(h.trim()))
                })
        };
        let opts = ReadOptions {
            sheet: self.cfg.sheet.as_deref(),
            is_known_header: &known,
        };
        let mut table = match read::open(self.path, &opts) {
            Ok(t) => t,
            Err(e) => return self.fail(hash, &e.to_string()),
        };
        if !table.other_sheets.is_empty() {
            let detail = format!(
                "{}: read sheet `{}`; sheet(s) {} also hold data and were not read (set `sheet` in [connectors.{}] or split the workbook)",
                self.name(),
                table.sheet.as_deref().unwrap_or_default(),
                table
                    .other_sheets
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.connector
            );
            tracing::warn!(connector = self.connector, file = %self.name(), "Workbook has other sheets with data; only the first was read.");
            self.sink.note(hash, "sheets_not_read", &detail)?;
        }
        let map = ColumnMap::new(&table.headers, self.cfg);
        if !map.has_identity() {
            let reason = format!(
                "no column holds an email, phone or name (headers: {}); map one with `columns` in [connectors.{}]",
                table
                    .headers
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.connector
            );
            return self.fail(hash, &reason);
        }
        let mut state = match &prior {
            Some(c) => parse_state(c)?,
            None => FileState {
                name: self.name(),
                observed_at: modified(self.path),
                headers: table.headers.clone(),
                target: None,
                moved: false,
            },
        };
        let from_row = prior.as_ref().map_or(0, |c| c.position.0);
        let ctx = RowContext {
            hash: hash.to_string(),
            name: state.name.clone(),
            observed_at: state.observed_at,
            headers: table.headers.clone(),
            default_source: self.cfg.default_source.clone(),
            default_form_kind: self.cfg.default_form_kind.clone(),
        };
        let name = state.name.clone();
        let mut last_row = from_row;
        let mut commit_error = None;
        let mut stopped = false;
        // Reading and mapping on one thread, storing on this one: the two halves of a drop
        // overlap on two cores, and at most two pages wait in between (bounded memory).
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<Batch>(2);
            let reader = scope.spawn(move || read_batches(&mut table, &map, &ctx, from_row, tx));
            for batch in rx {
                last_row = batch.last_row;
                let cursor = cursor(hash, last_row, false, &state);
                let page = Page {
                    records: batch.records,
                    rejects: batch.rejects,
                    cursor,
                };
                if let Err(e) = self.sink.commit(page) {
                    commit_error = Some(e);
                    break; // dropping rx stops the reader
                }
                self.stats.records += batch.n_records;
                self.stats.rejects += batch.n_rejects;
                self.sink.progress(&format!("rows of {name}"), last_row, 0);
                if !self.sink.keep_going() {
                    stopped = true;
                    break; // the cursor holds row `last_row`: the next pull resumes there
                }
            }
            reader.join().expect("the reader thread does not panic");
        });
        if let Some(e) = commit_error {
            return Err(e);
        }
        if stopped {
            tracing::info!(connector = self.connector, file = %name, row = last_row, "Stopping inside a drop; the next pull resumes after this row.");
            return Ok(());
        }
        state.target = Some(inbox::timestamped_target(
            &self.cfg.processed_dir(),
            &state.name,
            Utc::now(),
        ));
        let done = cursor(hash, last_row, true, &state);
        self.sink.commit(Page {
            records: Vec::new(),
            rejects: Vec::new(),
            cursor: done.clone(),
        })?;
        self.finish(done, state)
    }

    /// Writes the rejects beside the file's new place, moves it there and records the move.
    fn finish(&mut self, done: Cursor, mut state: FileState) -> Result<(), ConnectorError> {
        let target = state.target.clone().unwrap_or_else(|| {
            inbox::timestamped_target(&self.cfg.processed_dir(), &state.name, Utc::now())
        });
        let rejects = self.sink.rejects(&done.stream)?;
        if !rejects.is_empty() {
            let path = inbox::sidecar(&target, ".rejects.csv");
            let bytes = rejects_csv(&state.headers, &rejects);
            inbox::write_atomically(&path, &bytes, self.mode)
                .map_err(|e| io_error(format!("cannot write {}", path.display()), e))?;
        }
        inbox::move_file(self.path, &target).map_err(|e| {
            io_error(
                format!(
                    "cannot move {} to {}",
                    self.path.display(),
                    target.display()
                ),
                e,
            )
        })?;
        state.moved = true;
        state.target = Some(target.clone());
        let moved = cursor(&done.stream, done.position.0, true, &state);
        self.sink.commit(Page {
            records: Vec::new(),
            rejects: Vec::new(),
            cursor: moved,
        })?;
        self.stats.streams_finished += 1;
        tracing::info!(connector = self.connector, file = %state.name, to = %target.display(), rejects = rejects.len(), "Drop processed.");
        Ok(())
    }

    fn duplicate(&mut self, hash: &str, first: &FileState) -> Result<(), ConnectorError> {
        let name = self.name();
        let target = inbox::timestamped_target(&self.cfg.processed_dir(), &name, Utc::now());
        let detail = format!(
            "{name}: same content as {} (ingested before, now at {}); not ingested again, moved to {}",
            first.name,
            first.target.as_deref().unwrap_or(Path::new("?")).display(),
            target.display()
        );
        let note = inbox::sidecar(&target, ".duplicate.txt");
        inbox::write_atomically(&note, format!("{detail}\n").as_bytes(), self.mode)
            .map_err(|e| io_error(format!("cannot write {}", note.display()), e))?;
        inbox::move_file(self.path, &target)
            .map_err(|e| io_error(format!("cannot move {}", self.path.display()), e))?;
        self.sink.note(hash, "duplicate", &detail)?;
        self.stats.duplicates += 1;
        tracing::info!(connector = self.connector, file = %name, "Duplicate drop skipped.");
        Ok(())
    }

    /// Moves a file that cannot be read at all to `failed/`, with a note saying why.
    fn fail(&mut self, hash: &str, reason: &str) -> Result<(), ConnectorError> {
        let name = self.name();
        let target = inbox::timestamped_target(&self.cfg.failed_dir(), &name, Utc::now());
        let note = inbox::sidecar(&target, ".error.txt");
        let text = format!(
            "leadsync could not read {name}.\n\nWhy: {reason}\n\nNothing from this file was stored. Fix the file (or the connector's `columns`) and drop it into the inbox again.\n"
        );
        inbox::write_atomically(&note, text.as_bytes(), self.mode)
            .map_err(|e| io_error(format!("cannot write {}", note.display()), e))?;
        inbox::move_file(self.path, &target)
            .map_err(|e| io_error(format!("cannot move {}", self.path.display()), e))?;
        self.sink
            .note(hash, "failed", &format!("{name}: {reason}"))?;
        self.stats.failed += 1;
        tracing::warn!(connector = self.connector, file = %name, reason, "Drop could not be read; moved to failed/.");
        Ok(())
    }

    /// A file leadsync may not read (its mode, its owner): moved to `failed/` with a note when
    /// the inbox lets it be moved, else left where it is with a note beside it, and skipped.
    fn unreadable(&mut self, e: &std::io::Error) -> Result<(), ConnectorError> {
        let name = self.name();
        let why = format!(
            "leadsync cannot read it: {e}. Give the user leadsync runs as read access (e.g. chmod a+r) and drop it again."
        );
        let text = format!(
            "leadsync could not read {name}.\n\nWhy: {why}\n\nNothing from this file was stored.\n"
        );
        let target = inbox::timestamped_target(&self.cfg.failed_dir(), &name, Utc::now());
        let note = inbox::sidecar(&target, ".error.txt");
        let moved = inbox::write_atomically(&note, text.as_bytes(), self.mode).and_then(|()| {
            inbox::move_file(self.path, &target).inspect_err(|_| {
                let _ = std::fs::remove_file(&note);
            })
        });
        match moved {
            Ok(()) => {
                self.sink.note(
                    &format!("unreadable:{name}"),
                    "failed",
                    &format!("{name}: {why}"),
                )?;
                self.stats.failed += 1;
                tracing::warn!(connector = self.connector, file = %name, error = %e, "Drop cannot be read; moved to failed/.");
            }
            Err(move_error) => {
                // Best effort: an inbox that takes no note still gets the skip logged.
                let beside = inbox::sidecar(self.path, ".error.txt");
                if !beside.exists() {
                    let _ = inbox::write_atomically(&beside, text.as_bytes(), self.mode);
                }
                self.skipped.push(inbox::Skipped {
                    file: name,
                    reason: format!("{why} (it cannot be moved to failed/ either: {move_error})"),
                });
            }
        }
        Ok(())
    }
}

/// A page's worth of mapped rows, produced by the reader thread.
struct Batch {
    records: Vec<SourceRecord>,
    rejects: Vec<RecordReject>,
    n_records: u64,
    n_rejects: u64,
    last_row: u64,
}

fn read_batches(
    table: &mut read::Table,
    map: &ColumnMap,
    ctx: &RowContext,
    from_row: u64,
    tx: mpsc::SyncSender<Batch>,
) {
    let mut batch = Batch {
        records: Vec::new(),
        rejects: Vec::new(),
        n_records: 0,
        n_rejects: 0,
        last_row: from_row,
    };
    for row in table.rows() {
        let (number, outcome) = match row {
            Ok(raw) => (raw.number, row_to_record(&raw, map, ctx)),
            Err(e) => (e.number, Err(ctx.reject(e.number, e.reason, Vec::new()))),
        };
        if number <= from_row {
            continue; // committed before a restart
        }
        match outcome {
            Ok(r) => batch.records.push(r),
            Err(r) => batch.rejects.push(r),
        }
        batch.last_row = number;
        if batch.records.len() + batch.rejects.len() >= PAGE_ROWS {
            let next = Batch {
                records: Vec::new(),
                rejects: Vec::new(),
                n_records: 0,
                n_rejects: 0,
                last_row: number,
            };
            let full = std::mem::replace(&mut batch, next);
            if send(&tx, full).is_err() {
                return;
            }
        }
    }
    if !batch.records.is_empty() || !batch.rejects.is_empty() {
        let _ = send(&tx, batch);
    }
}

fn send(tx: &mpsc::SyncSender<Batch>, mut b: Batch) -> Result<(), mpsc::SendError<Batch>> {
    b.n_records = b.records.len() as u64;
    b.n_rejects = b.rejects.len() as u64;
    tx.send(b)
}

fn cursor(hash: &str, row: u64, finished: bool, state: &FileState) -> Cursor {
    Cursor {
        stream: hash.to_string(),
        version: CURSOR_VERSION,
        position: CursorPosition(row, 0),
        finished,
        state: serde_json::to_string(state).expect("file state serialises"),
    }
}

fn parse_state(c: &Cursor) -> Result<FileState, ConnectorError> {
    serde_json::from_str(&c.state).map_err(|e| {
        ConnectorError::with_source(
            ConnectorErrorKind::Permanent,
            format!("stored cursor for drop {} is unreadable", c.stream),
            e,
        )
    })
}

fn modified(path: &Path) -> DateTime<Utc> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now())
}

/// `row,reason,<the file's own headers>`: fix the cells, drop the first two columns, drop the
/// file again.
pub fn rejects_csv(headers: &[String], rejects: &[RecordReject]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut head = vec!["row".to_string(), "reason".to_string()];
    head.extend(headers.iter().cloned());
    let mut rows = vec![head];
    for r in rejects {
        let row = match &r.locator {
            leadsync_connector_core::Locator::File { row, .. } => row.to_string(),
            other => other.key(),
        };
        let mut line = vec![row, r.reason.clone()];
        line.extend(r.cells.iter().cloned());
        rows.push(line);
    }
    for row in rows {
        // Writing to a Vec cannot fail; flexible widths are fine for a rejects file.
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}
