//! The backfill against the fake HubSpot over loopback, into a sink that remembers what it was
//! given: where its two lanes meet, and whether it asks which contacts are stored already.

use std::collections::HashMap;

use leadsync_connector_core::{
    Connector, ConnectorError, Cursor, Page, PageSink, RecordReject, SourceRecord,
};
use leadsync_fake_hubspot::{FakeConfig, FakeHubSpot};
use leadsync_hubspot::HubspotConnector;

/// Records by locator key (observed at, in ms, and archived), how often each was committed,
/// and how many records were asked about while the stored cursor was still a backfill's.
#[derive(Default)]
struct MemorySink {
    stored: HashMap<String, (i64, bool)>,
    commits: HashMap<String, u32>,
    cursor: Option<Cursor>,
    asked: usize,
    asked_in_backfill: usize,
}

fn seen(r: &SourceRecord) -> (i64, bool) {
    (r.observed_at.timestamp_millis(), r.archived)
}

impl PageSink for MemorySink {
    fn cursor(&mut self, _stream: &str) -> Result<Option<Cursor>, ConnectorError> {
        Ok(self.cursor.clone())
    }

    fn commit(&mut self, page: Page) -> Result<(), ConnectorError> {
        for r in &page.records {
            *self.commits.entry(r.locator.key()).or_default() += 1;
            self.stored.insert(r.locator.key(), seen(r));
        }
        self.cursor = Some(page.cursor);
        Ok(())
    }

    fn unchanged(&mut self, records: &[SourceRecord]) -> Result<Vec<bool>, ConnectorError> {
        self.asked += records.len();
        let in_backfill = self
            .cursor
            .as_ref()
            .is_none_or(|c| c.state.contains(r#""phase":"backfill""#));
        if in_backfill {
            self.asked_in_backfill += records.len();
        }
        Ok(records
            .iter()
            .map(|r| self.stored.get(&r.locator.key()) == Some(&seen(r)))
            .collect())
    }

    fn holds_records(&mut self) -> Result<bool, ConnectorError> {
        Ok(!self.stored.is_empty())
    }

    fn rejects(&mut self, _stream: &str) -> Result<Vec<RecordReject>, ConnectorError> {
        Ok(Vec::new())
    }

    fn note(&mut self, _stream: &str, _kind: &str, _detail: &str) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// Pulls `contacts` seeded contacts (no limits) into `sink`.
async fn backfill(contacts: usize, sink: &mut MemorySink) {
    let fake = FakeHubSpot::new(FakeConfig {
        requests_per_window: 0,
        daily_limit: 0,
        search_per_second: 0,
        ..FakeConfig::default()
    });
    fake.seed(contacts, 3);
    let server = fake.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "fake-token").unwrap();
    let cfg = toml::from_str(&format!(
        "base_url = \"{}\"\ntoken = {{ file = \"{}\" }}\n",
        server.base_url,
        token.display()
    ))
    .unwrap();
    let mut hubspot = HubspotConnector::new("hubspot", cfg).unwrap();
    hubspot.pull(sink).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_first_backfill_onto_nothing_stores_each_contact_once_without_asking_what_is_stored() {
    let mut sink = MemorySink::default();
    backfill(3_000, &mut sink).await;
    assert_eq!(sink.stored.len(), 3_000);
    // The lanes met in the middle; neither handed over what the other had stored.
    let twice: Vec<_> = sink.commits.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "committed more than once: {twice:?}");
    assert_eq!(sink.asked_in_backfill, 0);
}

#[tokio::test]
async fn a_backfill_onto_stored_records_asks_and_still_stores_each_contact_once() {
    let mut sink = MemorySink::default();
    // A record stored before (a backfill whose cursor format changed, say).
    sink.stored.insert("1".into(), (0, false));
    backfill(3_000, &mut sink).await;
    assert_eq!(sink.stored.len(), 3_000);
    assert!(sink.commits.values().all(|n| *n == 1));
    assert!(
        sink.asked_in_backfill >= 3_000,
        "{}",
        sink.asked_in_backfill
    );
}
