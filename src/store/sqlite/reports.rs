//! The reports' queries in SQLite.

use super::SqliteStore;
use super::codec::{parse_tier, parse_ts};
use crate::model::PersonId;
use crate::store::{FunnelFact, ReportStore, StoreError, StreamSummary, TierCounts};

impl ReportStore for SqliteStore {
    fn stored_tier_names(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(crate::store::reports::STORED_TIER_NAMES)?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn change_mark(&mut self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row(crate::store::reports::CHANGE_MARK, [], |r| r.get(0))?)
    }

    fn streams(&mut self, connector: &str, limit: u32) -> Result<Vec<StreamSummary>, StoreError> {
        let mut stmt = self.conn.prepare_cached(crate::store::reports::STREAMS)?;
        let rows = stmt.query_map(rusqlite::params![connector, limit], |r| {
            Ok((
                super::records::cursor_at(r, r.get(0)?, 1)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?;
        rows.map(|row| {
            let (cursor, at, rejects) = row?;
            Ok(StreamSummary {
                cursor,
                updated_at: parse_ts(&at)?,
                rejects: rejects as u64,
            })
        })
        .collect()
    }

    fn tier_counts(&mut self) -> Result<TierCounts, StoreError> {
        // The side tier is read only when the ladder has side tiers (it is in the golden JSON).
        let mut stmt = self.conn.prepare_cached(
            if leadsync_connector_core::Ladder::current().has_sides() {
                "SELECT tier, json_extract(golden, '$.side'), count(*) FROM persons GROUP BY 1, 2"
            } else {
                "SELECT tier, NULL, count(*) FROM persons GROUP BY tier"
            },
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut counts = TierCounts::default();
        for row in rows {
            let (tier, side, n) = row?;
            counts.add(parse_tier(tier)?, parse_tier(side)?, n as u64);
        }
        Ok(counts)
    }

    fn funnel_facts(&mut self, visit: &mut dyn FnMut(FunnelFact)) -> Result<(), StoreError> {
        // Two ordered streams merged by person id: persons, and the first time each person's
        // history moved to each tier.
        let side = if leadsync_connector_core::Ladder::current().has_sides() {
            "json_extract(golden, '$.side')"
        } else {
            "NULL"
        };
        let mut persons = self.conn.prepare(&format!(
            "SELECT id, tier, json_extract(golden, '$.fields.source[0].v'), created_at, {side}
             FROM persons ORDER BY id"
        ))?;
        let mut history = self.conn.prepare(
            "SELECT person_id, to_tier, min(at) FROM tier_history
             GROUP BY person_id, to_tier ORDER BY person_id",
        )?;
        let mut moves = history.query([])?;
        let mut pending: Option<(PersonId, String, String)> = None;
        let mut rows = persons.query([])?;
        while let Some(row) = rows.next()? {
            let id: PersonId = row.get(0)?;
            let mut moved_to = Vec::new();
            loop {
                if pending.is_none() {
                    pending = match moves.next()? {
                        Some(m) => Some((m.get(0)?, m.get(1)?, m.get(2)?)),
                        None => break,
                    };
                }
                match &pending {
                    Some((p, _, _)) if *p < id => pending = None,
                    Some((p, tier, at)) if *p == id => {
                        let tier = parse_tier(Some(tier.clone()))?.expect("some in, some out");
                        moved_to.push((tier, parse_ts(at)?));
                        pending = None;
                    }
                    _ => break,
                }
            }
            moved_to.sort();
            visit(FunnelFact {
                person: id,
                tier: parse_tier(row.get(1)?)?,
                side: parse_tier(row.get(4)?)?,
                source: row.get(2)?,
                created_at: parse_ts(&row.get::<_, String>(3)?)?,
                moved_to,
            });
        }
        Ok(())
    }

    fn person_count(&mut self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM persons", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    fn persons_in_both(&mut self, a: &str, b: &str) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(DISTINCT x.person_id) FROM source_records x
             JOIN source_records y ON y.person_id = x.person_id
             WHERE x.connector = ?1 AND y.connector = ?2 AND NOT x.archived AND NOT y.archived",
            rusqlite::params![a, b],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    fn reject_count(&mut self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM rejects", [], |r| r.get::<_, i64>(0))?
            as u64)
    }
}
