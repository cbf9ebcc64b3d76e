//! Matching state in SQLite: blocking keys, merges, the review queue, models.

use super::SqliteStore;
use super::codec::{json, parse_ts, query_all, to_json, ts};
use super::tx::SqliteTx;
use crate::model::{Key, PersonId};
use crate::store::codec::values_from;
use crate::store::matching::{
    MatchStore, MatchTx, Merge, PersonValues, ReviewDraft, ReviewItem, ReviewStatus,
};
use crate::store::{StoreError, StoredRecord};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

const REVIEW_COLUMNS: &str = "id, a, b, score, detail, fingerprint, status, ever_rejected, \
     created_at, decided_at";

type ReviewRow = (
    i64,
    PersonId,
    PersonId,
    f64,
    String,
    String,
    String,
    bool,
    String,
    Option<String>,
);

fn read_review(r: &Row<'_>) -> rusqlite::Result<ReviewRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn build_review(row: ReviewRow) -> Result<ReviewItem, StoreError> {
    let (id, a, b, score, detail, fingerprint, status, ever_rejected, created_at, decided_at) = row;
    Ok(ReviewItem {
        id,
        a,
        b,
        score,
        detail: json(&detail)?,
        fingerprint,
        status: ReviewStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("review item {id}: status `{status}`")))?,
        ever_rejected,
        created_at: parse_ts(&created_at)?,
        decided_at: decided_at.as_deref().map(parse_ts).transpose()?,
    })
}

const MERGE_COLUMNS: &str = "person_id, into_id, how, score, detail, before, at, split_at";

type MergeRow = (
    PersonId,
    PersonId,
    String,
    f64,
    String,
    String,
    String,
    Option<String>,
);

fn read_merge(r: &Row<'_>) -> rusqlite::Result<MergeRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn build_merge(row: MergeRow) -> Result<Merge, StoreError> {
    let (person, into, how, score, detail, before, at, split_at) = row;
    Ok(Merge {
        person,
        into,
        how,
        score,
        detail: json(&detail)?,
        before: json(&before)?,
        at: parse_ts(&at)?,
        split_at: split_at.as_deref().map(parse_ts).transpose()?,
    })
}

fn merged_into(conn: &Connection, person: PersonId) -> Result<Option<PersonId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT into_id FROM merges WHERE person_id = ?1 AND split_at IS NULL ORDER BY id DESC LIMIT 1",
    )?;
    let mut at = person;
    let mut seen = 0;
    while let Some(next) = stmt.query_row([at], |r| r.get(0)).optional()? {
        at = next;
        seen += 1;
        if seen > 10_000 {
            return Err(StoreError::Corrupt(format!(
                "person {person}: its merges form a loop"
            )));
        }
    }
    Ok((at != person).then_some(at))
}

impl MatchStore for SqliteStore {
    fn match_model(&mut self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT version, model FROM match_models ORDER BY version DESC LIMIT 1",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn merged_into(&mut self, person: PersonId) -> Result<Option<PersonId>, StoreError> {
        merged_into(&self.conn, person)
    }

    fn merges_into(&mut self, survivor: PersonId) -> Result<Vec<Merge>, StoreError> {
        query_all(
            &self.conn,
            &format!(
                "SELECT {MERGE_COLUMNS} FROM merges WHERE into_id = ?1 AND split_at IS NULL ORDER BY id"
            ),
            [survivor],
            read_merge,
            build_merge,
        )
    }

    fn merges(&mut self) -> Result<Vec<Merge>, StoreError> {
        query_all(
            &self.conn,
            &format!("SELECT {MERGE_COLUMNS} FROM merges WHERE split_at IS NULL ORDER BY id"),
            [],
            read_merge,
            build_merge,
        )
    }

    fn active_merge(&mut self, person: PersonId) -> Result<Option<Merge>, StoreError> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MERGE_COLUMNS} FROM merges WHERE person_id = ?1 AND split_at IS NULL
                 ORDER BY id DESC LIMIT 1"
            ))?
            .query_row([person], read_merge)
            .optional()?;
        row.map(build_merge).transpose()
    }

    fn reviews(&mut self, status: Option<ReviewStatus>) -> Result<Vec<ReviewItem>, StoreError> {
        query_all(
            &self.conn,
            &format!(
                "SELECT {REVIEW_COLUMNS} FROM review_items WHERE ?1 IS NULL OR status = ?1 ORDER BY id"
            ),
            [status.map(|s| s.as_str())],
            read_review,
            build_review,
        )
    }

    fn review(&mut self, id: i64) -> Result<Option<ReviewItem>, StoreError> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {REVIEW_COLUMNS} FROM review_items WHERE id = ?1"
            ))?
            .query_row([id], read_review)
            .optional()?;
        row.map(build_review).transpose()
    }

    fn records_after(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PersonId, StoredRecord)>, StoreError> {
        query_all(
            &self.conn,
            "SELECT id, person_id, connector, locator, observed_at, archived, fields
             FROM source_records WHERE id > ?1 ORDER BY id LIMIT ?2",
            params![after, limit as i64],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, PersonId>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
            |(id, person, connector, locator, observed_at, archived, fields)| {
                Ok((
                    id,
                    person,
                    StoredRecord {
                        connector,
                        locator: json(&locator)?,
                        observed_at: parse_ts(&observed_at)?,
                        archived,
                        values: json(&fields)?,
                    },
                ))
            },
        )
    }
}

impl MatchTx for SqliteTx<'_> {
    fn match_candidates(
        &mut self,
        blocks: &[i64],
        limit: usize,
    ) -> Result<Vec<(i64, PersonId)>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT person_id FROM match_blocks WHERE block = ?1 LIMIT ?2")?;
        let mut out = Vec::new();
        for block in blocks {
            let rows = stmt.query_map(params![block, limit as i64], |r| r.get::<_, PersonId>(0))?;
            for person in rows {
                out.push((*block, person?));
            }
        }
        Ok(out)
    }

    fn add_match_blocks(&mut self, persons: &[(PersonId, Vec<i64>)]) -> Result<(), StoreError> {
        let mut add = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO match_blocks (block, person_id) VALUES (?1, ?2)",
        )?;
        for (person, blocks) in persons {
            for block in blocks {
                add.execute(params![block, person])?;
            }
        }
        Ok(())
    }

    fn person_values(
        &mut self,
        ids: &[PersonId],
    ) -> Result<Vec<(PersonId, PersonValues)>, StoreError> {
        super::persons::goldens_of(&self.tx, ids, |golden, _| values_from(golden))
    }

    fn person_records(&mut self, person: PersonId) -> Result<Vec<StoredRecord>, StoreError> {
        super::records::records_of(&self.tx, person)
    }

    fn crm_keys_of(
        &mut self,
        persons: &[PersonId],
    ) -> Result<Vec<(PersonId, String, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(super::persons::CRM_IDS_OF_ANY)?;
        let mut out = Vec::new();
        for &p in persons {
            for row in stmt.query_map([p], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })? {
                let (kind, value) = row?;
                out.push((p, kind, value));
            }
        }
        Ok(out)
    }

    fn pushed_persons(&mut self, persons: &[PersonId]) -> Result<Vec<PersonId>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM source_records WHERE person_id = ?1 AND pushed_tier IS NOT NULL)
                 OR EXISTS (SELECT 1 FROM outbox WHERE person_id = ?1 AND status = 'done')",
        )?;
        let mut out = Vec::new();
        for &p in persons {
            if stmt.query_row([p], |r| r.get::<_, bool>(0))? {
                out.push(p);
            }
        }
        Ok(out)
    }

    fn rejected_pairs(
        &mut self,
        pairs: &[(PersonId, PersonId)],
    ) -> Result<Vec<(PersonId, PersonId)>, StoreError> {
        // Each side with every person merged into it, transitively: a rejection made before a
        // merge still holds after it.
        let mut stmt = self.tx.prepare_cached(
            "WITH RECURSIVE
               sx(id) AS (SELECT ?1 UNION SELECT m.person_id FROM merges m JOIN sx ON m.into_id = sx.id
                          WHERE m.split_at IS NULL),
               sy(id) AS (SELECT ?2 UNION SELECT m.person_id FROM merges m JOIN sy ON m.into_id = sy.id
                          WHERE m.split_at IS NULL)
             SELECT EXISTS (SELECT 1 FROM review_items r WHERE r.ever_rejected = 1
               AND ((r.a IN (SELECT id FROM sx) AND r.b IN (SELECT id FROM sy))
                 OR (r.a IN (SELECT id FROM sy) AND r.b IN (SELECT id FROM sx))))",
        )?;
        let mut out = Vec::new();
        for &(a, b) in pairs {
            if stmt.query_row(params![a, b], |r| r.get::<_, bool>(0))? {
                out.push((a, b));
            }
        }
        Ok(out)
    }

    fn merge_persons(&mut self, merge: &Merge, keys: &[Key]) -> Result<(), StoreError> {
        let (from, into) = (merge.person, merge.into);
        let tx = &self.tx;
        let records: Vec<(String, String)> = query_all(
            tx,
            "SELECT connector, locator_key FROM source_records WHERE person_id = ?1",
            [from],
            |r| Ok((r.get(0)?, r.get(1)?)),
            Ok,
        )?;
        tx.prepare_cached("UPDATE source_records SET person_id = ?2 WHERE person_id = ?1")?
            .execute([from, into])?;
        // The keys the records brought, and every CRM id (indexed by person).
        let mut candidates: Vec<(String, String)> = keys
            .iter()
            .map(|k| (k.kind.to_string(), k.value.clone()))
            .collect();
        candidates.extend(query_all(
            tx,
            super::persons::CRM_IDS_OF_ANY,
            [from],
            |r| Ok((r.get(0)?, r.get(1)?)),
            Ok,
        )?);
        candidates.sort();
        candidates.dedup();
        let mut moved_keys = Vec::new();
        let mut move_key = tx.prepare_cached(
            "UPDATE identity_keys SET person_id = ?4 WHERE kind = ?1 AND value = ?2 AND person_id = ?3",
        )?;
        for (kind, value) in candidates {
            if move_key.execute(params![kind, value, from, into])? > 0 {
                moved_keys.push((kind, value));
            }
        }
        let history: Vec<i64> = query_all(
            tx,
            "SELECT id FROM tier_history WHERE person_id = ?1",
            [from],
            |r| r.get(0),
            Ok,
        )?;
        let now = ts(&merge.at);
        for sql in [
            "UPDATE tier_history SET person_id = ?2 WHERE person_id = ?1",
            "UPDATE outbox SET person_id = ?2 WHERE person_id = ?1",
            "UPDATE conflicts SET person_id = ?2 WHERE person_id = ?1",
            "UPDATE conflicts SET other_person_id = ?2 WHERE other_person_id = ?1",
        ] {
            tx.prepare_cached(sql)?.execute([from, into])?;
        }
        // A conflict between the two is settled by the merge.
        tx.prepare_cached(
            "UPDATE conflicts SET resolved_at = ?2
             WHERE person_id = ?1 AND other_person_id = ?1 AND resolved_at IS NULL",
        )?
        .execute(params![into, now])?;
        tx.prepare_cached("DELETE FROM persons WHERE id = ?1")?
            .execute([from])?;
        tx.prepare_cached(
            "INSERT INTO merges (person_id, into_id, how, score, detail, before, records, keys, history, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            from,
            into,
            merge.how,
            merge.score,
            to_json(&merge.detail),
            to_json(&merge.before),
            to_json(&records),
            to_json(&moved_keys),
            to_json(&history),
            now
        ])?;
        Ok(())
    }

    fn split_merge(&mut self, merge: &Merge, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (person, into) = (merge.person, merge.into);
        let tx = &self.tx;
        let row: Option<(i64, String, String, String)> = tx
            .prepare_cached(
                "SELECT id, records, keys, history FROM merges
                 WHERE person_id = ?1 AND split_at IS NULL ORDER BY id DESC LIMIT 1",
            )?
            .query_row([person], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((id, records, keys, history)) = row else {
            return Err(StoreError::Corrupt(format!(
                "person {person} is not merged into another"
            )));
        };
        let records: Vec<(String, String)> = json(&records)?;
        let keys: Vec<(String, String)> = json(&keys)?;
        let history: Vec<i64> = json(&history)?;
        let mut back = tx.prepare_cached(
            "UPDATE source_records SET person_id = ?1 WHERE connector = ?2 AND locator_key = ?3 AND person_id = ?4",
        )?;
        for (connector, key) in &records {
            back.execute(params![person, connector, key, into])?;
        }
        let mut back = tx.prepare_cached(
            "UPDATE identity_keys SET person_id = ?1 WHERE kind = ?2 AND value = ?3 AND person_id = ?4",
        )?;
        for (kind, value) in &keys {
            back.execute(params![person, kind, value, into])?;
        }
        let mut back = tx.prepare_cached(
            "UPDATE tier_history SET person_id = ?1 WHERE id = ?2 AND person_id = ?3",
        )?;
        for h in &history {
            back.execute(params![person, h, into])?;
        }
        tx.prepare_cached("UPDATE merges SET split_at = ?2 WHERE id = ?1")?
            .execute(params![id, ts(&at)])?;
        Ok(())
    }

    fn raise_review(
        &mut self,
        draft: &ReviewDraft,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let known: Option<(i64, String)> = self
            .tx
            .prepare_cached("SELECT id, fingerprint FROM review_items WHERE a = ?1 AND b = ?2")?
            .query_row([draft.a, draft.b], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let detail = to_json(&draft.detail);
        match known {
            Some((_, fingerprint)) if fingerprint == draft.fingerprint => Ok(false),
            Some((id, _)) => {
                self.tx
                    .prepare_cached(
                        "UPDATE review_items SET score = ?2, detail = ?3, fingerprint = ?4,
                         status = 'pending', decided_at = NULL WHERE id = ?1",
                    )?
                    .execute(params![id, draft.score, detail, draft.fingerprint])?;
                Ok(true)
            }
            None => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO review_items (a, b, score, detail, fingerprint, status, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
                    )?
                    .execute(params![
                        draft.a,
                        draft.b,
                        draft.score,
                        detail,
                        draft.fingerprint,
                        ts(&now)
                    ])?;
                Ok(true)
            }
        }
    }

    fn review_of(&mut self, a: PersonId, b: PersonId) -> Result<Option<i64>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM review_items WHERE a = ?1 AND b = ?2")?
            .query_row([a, b], |r| r.get(0))
            .optional()?)
    }

    fn decide_review(
        &mut self,
        id: i64,
        status: ReviewStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE review_items SET status = ?2, decided_at = ?3,
                 ever_rejected = ever_rejected OR ?2 = 'rejected' WHERE id = ?1",
            )?
            .execute(params![id, status.as_str(), ts(&now)])?;
        if changed == 0 {
            return Err(StoreError::Corrupt(format!("no review item {id}")));
        }
        Ok(())
    }

    fn save_match_model(&mut self, model: &str, now: DateTime<Utc>) -> Result<i64, StoreError> {
        self.tx
            .prepare_cached("INSERT INTO match_models (model, trained_at) VALUES (?1, ?2)")?
            .execute(params![model, ts(&now)])?;
        Ok(self.tx.last_insert_rowid())
    }
}
