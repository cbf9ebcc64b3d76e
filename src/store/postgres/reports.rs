//! The reports' queries in PostgreSQL.

use super::PgStore;
use crate::model::PersonId;
use crate::store::codec::{parse_tier, parse_ts};
use crate::store::{FunnelFact, ReportStore, StoreError, StreamSummary, TierCounts};

impl ReportStore for PgStore {
    fn stored_tier_names(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = self
            .db
            .query(crate::store::reports::STORED_TIER_NAMES, &[])?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    fn change_mark(&mut self) -> Result<String, StoreError> {
        Ok(self
            .db
            .query(crate::store::reports::CHANGE_MARK, &[])?
            .first()
            .map(|r| r.get::<_, String>(0))
            .unwrap_or_default())
    }

    fn streams(&mut self, connector: &str, limit: u32) -> Result<Vec<StreamSummary>, StoreError> {
        self.db
            .query(
                crate::store::reports::STREAMS,
                &[&connector, &i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                Ok(StreamSummary {
                    cursor: super::records::cursor_at(r, r.get(0), 1),
                    updated_at: parse_ts(r.get(6))?,
                    rejects: r.get::<_, i64>(7) as u64,
                })
            })
            .collect()
    }

    fn tier_counts(&mut self) -> Result<TierCounts, StoreError> {
        let mut counts = TierCounts::default();
        // The side tier is read only when the ladder has side tiers (it is in the golden JSON).
        let sql = if leadsync_connector_core::Ladder::current().has_sides() {
            "SELECT tier, (golden::json) ->> 'side', count(*) FROM persons GROUP BY 1, 2"
        } else {
            "SELECT tier, NULL::text, count(*) FROM persons GROUP BY tier"
        };
        for row in self.db.query(sql, &[])? {
            let n: i64 = row.get(2);
            counts.add(parse_tier(row.get(0))?, parse_tier(row.get(1))?, n as u64);
        }
        Ok(counts)
    }

    /// One query, streamed row by row: each person with the first time its history reached each
    /// tier (`tier at` pairs), so memory does not grow with the number of persons.
    fn funnel_facts(&mut self, visit: &mut dyn FnMut(FunnelFact)) -> Result<(), StoreError> {
        let side = if leadsync_connector_core::Ladder::current().has_sides() {
            "(p.golden::json) ->> 'side'"
        } else {
            "NULL::text"
        };
        let sql = format!(
            "SELECT p.id, p.tier, (p.golden::json) #>> '{{fields,source,0,v}}', p.created_at, h.moves, {side}
             FROM persons p
             LEFT JOIN (
                 SELECT person_id, array_agg(to_tier || ' ' || first_at) AS moves
                 FROM (SELECT person_id, to_tier, min(at) AS first_at FROM tier_history
                       GROUP BY person_id, to_tier) firsts
                 GROUP BY person_id
             ) h ON h.person_id = p.id
             ORDER BY p.id"
        );
        self.db.stream(&sql, &mut |row| {
            let id: PersonId = row.get(0);
            let moves: Option<Vec<String>> = row.get(4);
            let mut moved_to = Vec::new();
            for m in moves.unwrap_or_default() {
                let (tier, at) = m
                    .split_once(' ')
                    .ok_or_else(|| StoreError::Corrupt(format!("bad tier move `{m}`")))?;
                let tier = parse_tier(Some(tier.to_string()))?.expect("some in, some out");
                moved_to.push((tier, parse_ts(at)?));
            }
            moved_to.sort();
            visit(FunnelFact {
                person: id,
                tier: parse_tier(row.get(1))?,
                side: parse_tier(row.get(5))?,
                source: row.get(2),
                created_at: parse_ts(row.get(3))?,
                moved_to,
            });
            Ok(())
        })
    }

    fn person_count(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self
            .db
            .query_one("SELECT count(*) FROM persons", &[])?
            .get(0);
        Ok(n as u64)
    }

    fn persons_in_both(&mut self, a: &str, b: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .db
            .query_one(
                "SELECT count(DISTINCT x.person_id) FROM source_records x
                 JOIN source_records y ON y.person_id = x.person_id
                 WHERE x.connector = $1 AND y.connector = $2 AND NOT x.archived AND NOT y.archived",
                &[&a, &b],
            )?
            .get(0);
        Ok(n as u64)
    }

    fn reject_count(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self
            .db
            .query_one("SELECT count(*) FROM rejects", &[])?
            .get(0);
        Ok(n as u64)
    }
}
