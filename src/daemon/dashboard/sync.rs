//! The sync page: each connector's last and next run, its recent runs with records, rejects and
//! errors, its request budget, its outbox, and for a drop the files it took (their rejects as a
//! download); the dead letters with a retry button; the replicas and their leases.

use super::layout::{count, when};
use crate::store::{Lease, OutboxEntry, RunSummary, Store, StoreError, StreamSummary};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use std::collections::BTreeMap;

/// Runs shown per connector.
const RUNS: usize = 8;
/// Files shown per drop.
const FILES: u32 = 20;
/// Dead letters shown.
const DEAD: u32 = 50;

/// What the page reads of the store, besides the daemon's live view.
pub(super) struct SyncData {
    pub(super) connectors: Vec<ConnectorData>,
    pub(super) dead: Vec<OutboxEntry>,
    pub(super) leases: Vec<Lease>,
    pub(super) instance: String,
    pub(super) now: DateTime<Utc>,
}

pub(super) struct ConnectorData {
    pub(super) live: super::super::live::ConnectorLive,
    pub(super) runs: Vec<RunSummary>,
    pub(super) outbox: BTreeMap<String, u64>,
    pub(super) files: Vec<StreamSummary>,
}

pub(super) fn read(
    store: &mut dyn Store,
    live: Vec<super::super::live::ConnectorLive>,
    instance: &str,
) -> Result<SyncData, StoreError> {
    let runs = store.last_runs(200)?;
    let now = Utc::now();
    let mut connectors = Vec::new();
    for c in live {
        let files = if c.kind == "spreadsheet" {
            store.streams(&c.id, FILES)?
        } else {
            Vec::new()
        };
        connectors.push(ConnectorData {
            runs: runs
                .iter()
                .filter(|r| r.connector == c.id)
                .take(RUNS)
                .cloned()
                .collect(),
            outbox: if c.pushes {
                store.outbox_counts(&c.id)?
            } else {
                BTreeMap::new()
            },
            files,
            live: c,
        });
    }
    Ok(SyncData {
        connectors,
        dead: store.dead_letters(DEAD)?,
        leases: super::super::admin::live_leases(store, now)?,
        instance: instance.to_string(),
        now,
    })
}

pub(super) fn body(data: &SyncData, csrf: &str, flash: Option<&str>) -> Markup {
    let replicas: Vec<&Lease> = data
        .leases
        .iter()
        .filter(|l| l.name.starts_with("replica:"))
        .collect();
    html! {
        h1 { "Sync" }
        @if let Some(flash) = flash { div.flash #flash { (flash) } }
        @for c in &data.connectors {
            (connector(c, data))
        }
        div.card.scroll #dead-letters {
            h2 { "Dead letters (" (count(data.dead.len() as u64)) ")" }
            @if data.dead.is_empty() {
                p.muted { "None: every push was taken or is still being tried." }
            } @else {
                p.note { "Pushes a CRM refused for good. Fix the cause (the record, the stage, the connector's rights), then retry: the push goes back to the outbox." }
                table {
                    thead { tr { th { "Connector" } th { "Record" } th { "Person" } th { "Tier" } th.n { "Attempts" } th { "Reason" } th { "Since" } th {} } }
                    tbody {
                        @for d in &data.dead {
                            tr data-dead=(d.id) {
                                td { (d.connector) }
                                td { (d.record_id) }
                                td { a href=(format!("/person/{}", d.person)) { (d.person) } }
                                td { (d.tier) }
                                td.n { (d.attempts) }
                                td style="white-space:normal" { (d.reason.as_deref().unwrap_or("")) }
                                td { (when(&d.updated_at)) }
                                td {
                                    form.inline method="post" action=(format!("/dead-letters/{}/retry", d.id)) {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button.quiet type="submit" { "Retry" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !replicas.is_empty() {
            div.card.scroll #replicas {
                h2 { "Replicas" }
                table {
                    thead { tr { th { "Replica" } th { "Instance" } th { "Leases" } th { "Until" } } }
                    tbody {
                        @for r in &replicas {
                            tr {
                                td { (r.holder) @if r.instance == data.instance { " (this one)" } }
                                td.muted { (r.instance) }
                                td {
                                    @for l in data.leases.iter().filter(|l| l.instance == r.instance && !l.name.starts_with("replica:")) {
                                        (l.name) " (epoch " (l.epoch) ") "
                                    }
                                }
                                td { (when(&r.expires_at)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn connector(c: &ConnectorData, data: &SyncData) -> Markup {
    let live = &c.live;
    let last = c.runs.first();
    let lease = data
        .leases
        .iter()
        .find(|l| super::super::cluster::lease_connector(&l.name) == Some(live.id.as_str()));
    html! {
        div.card.scroll data-connector=(live.id) {
            h2 { (live.id) " " span.muted { "(" (live.kind) ")" } }
            div.kpis {
                div.kpi {
                    @match last {
                        Some(r) => {
                            @let failed = r.stats.as_ref().is_some_and(|s| s.status == "failed");
                            b class=(if failed { "bad" } else if r.finished_at.is_none() { "warn" } else { "ok" }) {
                                @if r.finished_at.is_none() { "running" } @else if failed { "failed" } @else { "ok" }
                            }
                            span { "last run " (when(&r.started_at)) }
                        }
                        None => { b { "–" } span { "no run yet" } }
                    }
                }
                div.kpi {
                    b { (live.next_run(data.now).map_or("–".into(), |t| t.format("%H:%M:%S").to_string())) }
                    span { "next run (" (live.schedule) ")" }
                }
                @if let Some(b) = &live.rate_budget {
                    div.kpi {
                        b { (b.window_remaining.map_or("–".into(), count)) @if let Some(max) = b.window_max { " / " (count(max)) } }
                        span { "requests left in the window" }
                    }
                    div.kpi {
                        b { (b.daily_remaining.map_or("–".into(), count)) }
                        span { "left today" @if let Some(until) = &b.stopped_until { ", stopped until " (when(until)) } }
                    }
                    div.kpi { b { (count(b.rate_limited)) } span { "rate-limited answers" } }
                }
                @if live.pushes {
                    @for status in ["pending", "done", "dead", "kept"] {
                        div.kpi data-outbox=(status) {
                            b { (count(c.outbox.get(status).copied().unwrap_or(0))) }
                            span { "outbox " (status) }
                        }
                    }
                }
                @if let Some(l) = lease {
                    div.kpi { b { (l.holder) } span { "holds its lease" } }
                }
            }
            @if let Some(inbox) = &live.inbox {
                @if inbox.waiting > 0 || !inbox.skipped.is_empty() {
                    p.note { (inbox.waiting) " file(s) waiting" }
                    @for s in &inbox.skipped { p.error { (s.file) ": " (s.reason) } }
                }
            }
            @if !c.runs.is_empty() {
                table.runs {
                    thead { tr { th { "Run" } th { "Started" } th.n { "Records" } th.n { "Rejects" } th.n { "Files" } th { "Outcome" } } }
                    tbody {
                        @for r in &c.runs {
                            tr {
                                td { "#" (r.id) }
                                td { (when(&r.started_at)) }
                                @match &r.stats {
                                    Some(s) => {
                                        td.n { (count(s.records)) }
                                        td.n { (count(s.rejects)) }
                                        td.n { (count(s.files)) }
                                        td style="white-space:normal" class=[(s.status == "failed").then_some("bad")] {
                                            (s.status) @if let Some(e) = &s.error { ": " (e) }
                                        }
                                    }
                                    None => { td.n {} td.n {} td.n {} td.warn { "running or stopped" } }
                                }
                            }
                        }
                    }
                }
            }
            @if !c.files.is_empty() {
                h2 style="margin-top:1rem" { "Files taken" }
                table.files {
                    thead { tr { th { "File" } th { "Taken" } th.n { "Rows" } th.n { "Rejects" } th { "State" } } }
                    tbody {
                        @for f in &c.files {
                            @let file = leadsync_spreadsheet::TakenFile::from_state(&f.cursor.state);
                            tr data-stream=(f.cursor.stream) {
                                td { (file.as_ref().map_or(f.cursor.stream.as_str(), |t| t.name.as_str())) }
                                td { (when(&f.updated_at)) }
                                td.n { (count(f.cursor.position.0)) }
                                td.n {
                                    @if f.rejects > 0 {
                                        a href=(format!("/drops/{}/{}/rejects.csv", live.id, f.cursor.stream)) download { (count(f.rejects)) " (CSV)" }
                                    } @else { "0" }
                                }
                                td { @if f.cursor.finished { "read" } @else { "reading" } }
                            }
                        }
                    }
                }
            }
        }
    }
}
