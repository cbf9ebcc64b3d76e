//! Watching spreadsheet inboxes, so a drop is taken within seconds of landing instead of at the
//! next scheduled scan. The connector still waits for each file to settle before reading it.

use crate::config::{ConnectorConfig, Settings};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Due;

/// One watcher per inbox; dropping them stops watching. An inbox that cannot be watched is
/// logged and left to its schedule.
pub(super) fn inboxes(settings: &Settings, due: &mpsc::Sender<Due>) -> Vec<RecommendedWatcher> {
    let mut watchers = Vec::new();
    for (id, cfg) in &settings.connectors {
        let ConnectorConfig::Spreadsheet(sheet) = cfg else {
            continue;
        };
        let (tx, connector) = (due.clone(), id.clone());
        let handler = move |event: notify::Result<notify::Event>| {
            if let Ok(e) = event
                && matches!(e.kind, EventKind::Create(_) | EventKind::Modify(_))
            {
                // A full queue already holds this connector's turn.
                let _ = tx.try_send(Due::Connector(connector.clone()));
            }
        };
        let watched = notify::recommended_watcher(handler).and_then(|mut w| {
            w.watch(&sheet.inbox, RecursiveMode::NonRecursive)
                .map(|()| w)
        });
        match watched {
            Ok(w) => {
                tracing::info!(connector = %id, inbox = %sheet.inbox.display(), "Watching the inbox.");
                watchers.push(w);
            }
            Err(e) => {
                tracing::warn!(connector = %id, error = %e, "Cannot watch the inbox; relying on the schedule.")
            }
        }
    }
    watchers
}
