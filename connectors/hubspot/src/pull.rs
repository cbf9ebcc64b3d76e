//! Pulling contacts: a backfill by list paging, then incremental search on
//! `(lastmodifieddate, hs_object_id)`.
//!
//! Each round of the incremental pull asks for the next 200 contacts modified after the cursor's
//! time, sorted by time. Every contact of that page modified *before* the page's last time is
//! complete (the sort puts all of a time before the next). The last time is then walked by id
//! (`lastmodifieddate = t AND hs_object_id > id`, sorted by id), re-querying before the 10,000
//! result cap, so any number of contacts sharing one time is read exactly once, without a loop.
//! Each pull starts `overlap` before the cursor (search shows recent changes late) and skips
//! what is stored already, so a pull with no changes writes nothing.

use crate::client::Client;
use crate::config::HubspotConfig;
use crate::error::ApiError;
use crate::map::{properties, stage_tiers, to_record};
use crate::wire::{ApiContact, Filter, FilterGroup, Page, Search, Sort};
use leadsync_connector_core::Tier;
use leadsync_connector_core::{
    ConnectorError, ConnectorErrorKind, Cursor, CursorPosition, PageSink, PullStats, SourceRecord,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The one stream of this connector.
pub(crate) const STREAM: &str = "contacts";
/// The format of [`State`] in cursors.
pub(crate) const CURSOR_VERSION: u32 = 1;
const SEARCH_PAGE: u32 = 200;
/// Re-query before the 10,000-result cap of one search.
const SEARCH_CAP: u32 = 10_000;
/// A backfill step reads `2 × scale` list pages (100 contacts each) and `scale` search pages (200
/// each), and is stored in one transaction with its cursor: the bigger the step, the fewer index
/// pages each contact rewrites (email keys land at random places in the key index). The scale
/// starts at 1 and follows how long a step takes to fetch: doubled below a quarter second (up to
/// `MAX_SCALE`), halved above a second. At HubSpot's default limits it settles at 2 (800 contacts,
/// about 0.4 s a step, so a stop waits no longer than that); with generous limits it grows.
const MAX_SCALE: usize = 10;

fn next_scale(scale: usize, took: Duration) -> usize {
    if took < Duration::from_millis(250) {
        (scale * 2).min(MAX_SCALE)
    } else if took > Duration::from_secs(1) {
        (scale / 2).max(1)
    } else {
        scale
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum State {
    /// Reading every contact in two lanes that meet in the middle: the list pages up by id
    /// (`after` is its paging token, `list_last` the last id it stored), search pages down by id
    /// (`search_low`: every id at or above it is stored; `None` before it starts).
    /// `onto_empty`: nothing of this connector was stored when the backfill began, so no contact
    /// it reads can be stored before it reads it (each lane drops what the other has stored):
    /// it skips the check for stored contacts.
    Backfill {
        after: Option<String>,
        started_ms: u64,
        #[serde(default)]
        list_last: u64,
        #[serde(default)]
        search_low: Option<u64>,
        #[serde(default)]
        onto_empty: bool,
    },
    /// Every contact modified up to `(ts, id)` is stored; archived contacts were last looked for
    /// at `archived_scan_ms`.
    Incremental {
        ts: u64,
        id: u64,
        #[serde(default)]
        archived_scan_ms: u64,
    },
}

impl State {
    fn position(&self, last_id: u64) -> CursorPosition {
        match self {
            State::Backfill { list_last, .. } => CursorPosition(0, (*list_last).max(last_id)),
            State::Incremental { ts, id, .. } => CursorPosition(*ts, *id),
        }
    }
}

fn api_error(e: ApiError) -> ConnectorError {
    let kind = if e.is_auth() {
        ConnectorErrorKind::Config
    } else if matches!(e, ApiError::Status { status, .. } if (400..500).contains(&status) && status != 429)
    {
        ConnectorErrorKind::Permanent
    } else {
        ConnectorErrorKind::Transient
    };
    ConnectorError::with_source(kind, format!("hubspot: {e}"), e)
}

fn now_ms() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

/// One step of the backfill: pages from each lane, fetched at the same time (each lane has its
/// own limit), and the state they lead to. When the lanes meet, or either runs out, the backfill
/// is done: changes made meanwhile are caught by the incremental pull, which starts `overlap`
/// before the backfill did.
async fn backfill_step(
    client: &Client,
    properties: &[String],
    state: &State,
    overlap_ms: u64,
    scale: usize,
) -> Result<(Vec<ApiContact>, State, u64), ConnectorError> {
    let State::Backfill {
        after,
        started_ms,
        list_last,
        search_low,
        onto_empty,
    } = state
    else {
        return Ok((Vec::new(), state.clone(), 0));
    };
    // Two list pages of 100 for each search page of 200: at HubSpot's default limits (95
    // requests / 10 s, 4.76 searches / s with the margin) both lanes take as long, so each keeps
    // busy.
    let list = async {
        let mut page = client.list(after.as_deref(), properties, false).await?;
        for _ in 1..2 * scale {
            let Some(next) = page.next_after() else {
                break;
            };
            let more = client.list(Some(next), properties, false).await?;
            page.results.extend(more.results);
            page.paging = more.paging;
        }
        Ok::<Page, ApiError>(page)
    };
    let search = async {
        let mut results: Vec<ApiContact> = Vec::new();
        let mut below = search_low.unwrap_or(u64::MAX / 2);
        let mut exhausted = false;
        for _ in 0..scale {
            let body = search_body(
                properties,
                vec![Filter::new("hs_object_id", "LT", below)],
                "hs_object_id",
                "DESCENDING",
                None,
            );
            let page = client.search(&body).await?.results;
            let full = page.len() as u32 == SEARCH_PAGE;
            below = page.iter().map(ApiContact::numeric_id).min().unwrap_or(0);
            results.extend(page);
            // A short page is the end; at or below the list lane's last id, the lanes met.
            exhausted = !full;
            if !full || below <= *list_last {
                break;
            }
        }
        Ok::<_, ApiError>((results, exhausted))
    };
    let (list, search) = tokio::join!(list, search);
    let list: Page = list.map_err(api_error)?;
    let (search, search_exhausted) = search.map_err(api_error)?;

    let (list_last_before, search_low_before) = (list_last, *search_low);
    let list_last = list
        .results
        .last()
        .map_or(*list_last, ApiContact::numeric_id)
        .max(*list_last);
    let search_low = search
        .iter()
        .map(ApiContact::numeric_id)
        .min()
        .or(*search_low);
    let met = search_low.is_some_and(|low| list_last >= low);
    let next = if list.next_after().is_none() || search_exhausted || met {
        // The backfill read every live contact: only contacts archived since it started can be
        // records to mark, so the first archived scan is due one `archived_scan` after the start.
        State::Incremental {
            ts: started_ms.saturating_sub(overlap_ms),
            id: 0,
            archived_scan_ms: *started_ms,
        }
    } else {
        State::Backfill {
            after: list.next_after().map(str::to_string),
            started_ms: *started_ms,
            list_last,
            search_low,
            onto_empty: *onto_empty,
        }
    };
    // Where the lanes meet, each may read contacts the other stored in an earlier step: those
    // are dropped (a change since is read by the incremental pass that follows the backfill).
    let above_list = |c: &ApiContact| c.numeric_id() > *list_last_before;
    let below_search = |c: &ApiContact| search_low_before.is_none_or(|low| c.numeric_id() < low);
    let mut contacts: Vec<ApiContact> = list.results.into_iter().filter(below_search).collect();
    contacts.extend(search.into_iter().filter(above_list));
    Ok((contacts, next, list_last))
}

fn search_body(
    properties: &[String],
    filters: Vec<Filter>,
    sort: &str,
    direction: &str,
    after: Option<String>,
) -> Search {
    Search {
        filter_groups: vec![FilterGroup { filters }],
        sorts: vec![Sort {
            property: sort.into(),
            direction: direction.into(),
        }],
        properties: properties.to_vec(),
        limit: SEARCH_PAGE,
        after,
    }
}

pub(crate) struct Puller<'a> {
    pub(crate) cfg: &'a HubspotConfig,
    pub(crate) client: &'a Arc<Client>,
    pub(crate) sink: &'a mut dyn PageSink,
    pub(crate) stats: PullStats,
    properties: Vec<String>,
    /// The committed cursor and its state: a cursor is never offered lower.
    committed: (CursorPosition, State),
    /// What each of the account's lifecycle stages means as a tier.
    stages: HashMap<String, Tier>,
}

impl<'a> Puller<'a> {
    pub(crate) fn new(
        cfg: &'a HubspotConfig,
        client: &'a Arc<Client>,
        sink: &'a mut dyn PageSink,
    ) -> Self {
        let start = State::Backfill {
            after: None,
            started_ms: now_ms(),
            list_last: 0,
            search_low: None,
            onto_empty: false,
        };
        Puller {
            cfg,
            client,
            sink,
            stats: PullStats::default(),
            properties: properties(cfg),
            committed: (CursorPosition::default(), start),
            stages: HashMap::new(),
        }
    }

    pub(crate) async fn run(mut self) -> Result<PullStats, ConnectorError> {
        // The account's own stage order tells what its custom stages mean.
        let ordered: Vec<String> = match self.client.stage_options().await {
            Ok(options) => options.into_iter().map(|o| o.value).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the lifecycle stages; using the configured mapping only.");
                Vec::new()
            }
        };
        self.stages = stage_tiers(self.cfg, &ordered);
        // No cursor, or one of an older format: start over (stored records are skipped).
        if let Some(c) = self.sink.cursor(STREAM)?
            && c.version == CURSOR_VERSION
        {
            let state: State = serde_json::from_str(&c.state).map_err(|e| {
                ConnectorError::with_source(
                    ConnectorErrorKind::Permanent,
                    "hubspot: stored cursor is unreadable",
                    e,
                )
            })?;
            self.committed = (c.position, state);
        } else if let State::Backfill { onto_empty, .. } = &mut self.committed.1 {
            *onto_empty = !self.sink.holds_records()?;
        }
        let mut state = self.committed.1.clone();
        // Checking for stored contacts is needed unless this backfill began onto nothing.
        let check = !matches!(
            state,
            State::Backfill {
                onto_empty: true,
                ..
            }
        );
        // Each step's pages are stored while the next step's are fetched, by a task of its own:
        // storing is synchronous, and the requests must keep moving meanwhile.
        let mut fetched: Option<(Vec<ApiContact>, State, u64)> = None;
        let mut scale = 1;
        while let State::Backfill { .. } = state {
            let (client, properties, overlap) = (
                Arc::clone(self.client),
                self.properties.clone(),
                self.overlap_ms(),
            );
            let step = state.clone();
            let fetch = tokio::spawn(async move {
                let started = Instant::now();
                let step = backfill_step(&client, &properties, &step, overlap, scale).await;
                (step, started.elapsed())
            });
            if let Some((contacts, progress, last)) = fetched.take()
                && let Err(e) = self.commit(&contacts, &progress, last, check)
            {
                fetch.abort();
                return Err(e);
            }
            if !self.sink.keep_going() {
                fetch.abort(); // its pages are fetched again by the next pull
                return Ok(self.stats);
            }
            let (next, took) = fetch.await.map_err(|e| {
                ConnectorError::new(
                    ConnectorErrorKind::Transient,
                    format!("hubspot: a backfill step stopped: {e}"),
                )
            })?;
            let next = next?;
            scale = next_scale(scale, took);
            state = next.1.clone();
            fetched = Some(next);
        }
        if let Some((contacts, progress, last)) = fetched {
            self.commit(&contacts, &progress, last, check)?;
        }
        let State::Incremental {
            ts,
            id,
            archived_scan_ms,
        } = state
        else {
            unreachable!("backfill ends above")
        };
        // Re-read the overlap window: search shows recent changes late.
        let start = if self.overlap_ms() > 0 {
            (ts.saturating_sub(self.overlap_ms()), 0)
        } else {
            (ts, id)
        };
        self.incremental(start.0, start.1).await?;
        if !self.sink.keep_going() {
            return Ok(self.stats);
        }
        if now_ms().saturating_sub(archived_scan_ms) >= self.cfg.archived_scan.as_millis() as u64 {
            self.archived().await?;
        }
        Ok(self.stats)
    }

    /// Lists archived contacts and stores them as tombstones, then records when this was done.
    async fn archived(&mut self) -> Result<(), ConnectorError> {
        let started = now_ms();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .client
                .list(after.as_deref(), &self.properties, true)
                .await
                .map_err(api_error)?;
            let progress = self.committed.1.clone();
            self.commit(&page.results, &progress, 0, true)?;
            match page.next_after() {
                Some(a) => after = Some(a.to_string()),
                None => break,
            }
        }
        let (position, state) = self.committed.clone();
        if let State::Incremental { ts, id, .. } = state {
            self.write(
                position,
                State::Incremental {
                    ts,
                    id,
                    archived_scan_ms: started,
                },
                Vec::new(),
            )?;
        }
        Ok(())
    }

    /// When archived contacts were last looked for, as committed.
    fn scan_ms(&self) -> u64 {
        match &self.committed.1 {
            State::Incremental {
                archived_scan_ms, ..
            } => *archived_scan_ms,
            State::Backfill { .. } => 0,
        }
    }

    fn overlap_ms(&self) -> u64 {
        self.cfg.overlap.as_millis() as u64
    }

    /// Every contact modified after `(ts, id)`, by time. A page that is not full holds every
    /// contact left, those sharing its last time included, so it ends the pass: a cycle with
    /// few changes costs one search. A full page is stored up to its last time, which is then
    /// walked by id before the next page (any number of contacts may share one time).
    async fn incremental(&mut self, mut ts: u64, mut id: u64) -> Result<(), ConnectorError> {
        // Resuming inside a time: the rest of that time first, by id.
        if id > 0 {
            self.walk(ts, id).await?;
        }
        // From the start of a time (`id == 0`), that time is included.
        let mut op = if id == 0 { "GTE" } else { "GT" };
        loop {
            if !self.sink.keep_going() {
                return Ok(());
            }
            let page = self
                .search(
                    vec![Filter::new("lastmodifieddate", op, ts)],
                    "lastmodifieddate",
                    None,
                )
                .await?;
            let Some(last_ts) = page.last().map(ApiContact::modified_ms) else {
                return Ok(());
            };
            if (page.len() as u32) < SEARCH_PAGE {
                let last_id = page
                    .iter()
                    .filter(|c| c.modified_ms() == last_ts)
                    .map(ApiContact::numeric_id)
                    .max()
                    .unwrap_or(0);
                let progress = State::Incremental {
                    ts: last_ts,
                    id: last_id,
                    archived_scan_ms: self.scan_ms(),
                };
                return self.commit(&page, &progress, 0, true);
            }
            let complete: Vec<ApiContact> = page
                .into_iter()
                .filter(|c| c.modified_ms() < last_ts)
                .collect();
            let done_to = complete
                .last()
                .map_or((ts, id), |c| (c.modified_ms(), c.numeric_id()));
            let progress = State::Incremental {
                ts: done_to.0,
                id: done_to.1,
                archived_scan_ms: self.scan_ms(),
            };
            self.commit(&complete, &progress, 0, true)?;
            if !self.sink.keep_going() {
                return Ok(());
            }
            self.walk(last_ts, 0).await?;
            (ts, id, op) = (last_ts, 0, "GT");
        }
    }

    /// Every contact modified exactly at `ts` with an id above `id`, by id.
    async fn walk(&mut self, ts: u64, mut id: u64) -> Result<(), ConnectorError> {
        loop {
            // One query, paged up to the result cap; then a new query above the last id.
            let mut offset = 0u32;
            loop {
                let filters = vec![
                    Filter::new("lastmodifieddate", "EQ", ts),
                    Filter::new("hs_object_id", "GT", id),
                ];
                let page = self
                    .search(
                        filters,
                        "hs_object_id",
                        (offset > 0).then(|| offset.to_string()),
                    )
                    .await?;
                let Some(last_id) = page.last().map(ApiContact::numeric_id) else {
                    return Ok(());
                };
                let full = page.len() as u32 == SEARCH_PAGE;
                let progress = State::Incremental {
                    ts,
                    id: last_id,
                    archived_scan_ms: self.scan_ms(),
                };
                self.commit(&page, &progress, 0, true)?;
                if !full || !self.sink.keep_going() {
                    return Ok(());
                }
                offset += SEARCH_PAGE;
                if offset + SEARCH_PAGE > SEARCH_CAP {
                    id = last_id;
                    break;
                }
            }
        }
    }

    async fn search(
        &mut self,
        filters: Vec<Filter>,
        sort: &str,
        after: Option<String>,
    ) -> Result<Vec<ApiContact>, ConnectorError> {
        let body = search_body(&self.properties, filters, sort, "ASCENDING", after);
        Ok(self.client.search(&body).await.map_err(api_error)?.results)
    }

    /// Stores the contacts not stored already (all of them, unchecked, when `check` is off),
    /// with the cursor of `progress` — or the committed one while re-reading behind it. Nothing
    /// new and no progress: nothing is written.
    fn commit(
        &mut self,
        contacts: &[ApiContact],
        progress: &State,
        last_id: u64,
        check: bool,
    ) -> Result<(), ConnectorError> {
        // A contact can appear twice in one page (where the backfill lanes meet): keep one.
        let mut seen = std::collections::HashSet::new();
        let records: Vec<_> = contacts
            .iter()
            .filter(|c| seen.insert(c.id.as_str()))
            .map(|c| to_record(c, self.cfg, &self.stages))
            .collect();
        let unchanged = if check {
            self.sink.unchanged(&records)?
        } else {
            vec![false; records.len()]
        };
        let fresh: Vec<_> = records
            .into_iter()
            .zip(unchanged)
            .filter(|(_, same)| !same)
            .map(|(r, _)| r)
            .collect();
        let offered = progress.position(last_id);
        // At or past the committed cursor, the new state (a lane's progress may move the
        // state without moving the position); behind it (the overlap re-read), the committed one.
        let (position, state) = if offered >= self.committed.0 {
            (offered, progress.clone())
        } else {
            self.committed.clone()
        };
        if fresh.is_empty() && (position, &state) == (self.committed.0, &self.committed.1) {
            return Ok(());
        }
        self.write(position, state, fresh)
    }

    fn write(
        &mut self,
        position: CursorPosition,
        state: State,
        fresh: Vec<SourceRecord>,
    ) -> Result<(), ConnectorError> {
        self.stats.records += fresh.len() as u64;
        let cursor = Cursor {
            stream: STREAM.into(),
            version: CURSOR_VERSION,
            position,
            finished: false,
            state: serde_json::to_string(&state).expect("state serialises"),
        };
        self.sink.commit(leadsync_connector_core::Page {
            records: fresh,
            rejects: Vec::new(),
            cursor,
        })?;
        self.sink.progress(STREAM, self.stats.records, 0);
        self.committed = (position, state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backfill_step_grows_while_fetching_is_quick_and_shrinks_when_it_is_slow() {
        let ms = Duration::from_millis;
        // Quick steps double, up to the cap.
        let mut scale = 1;
        let mut seen = vec![scale];
        for _ in 0..6 {
            scale = next_scale(scale, ms(40));
            seen.push(scale);
        }
        assert_eq!(seen, [1, 2, 4, 8, 10, 10, 10]);
        // About half a second (HubSpot's default limits at scale 2): kept.
        assert_eq!(next_scale(2, ms(420)), 2);
        assert_eq!(next_scale(2, ms(250)), 2);
        assert_eq!(next_scale(2, ms(1000)), 2);
        // Slow steps (a limit, 429s, a slow account) halve, down to one.
        assert_eq!(next_scale(10, ms(2100)), 5);
        assert_eq!(next_scale(5, ms(1050)), 2);
        assert_eq!(next_scale(1, ms(5000)), 1);
    }
}
