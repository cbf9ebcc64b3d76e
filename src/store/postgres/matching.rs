//! Matching state in PostgreSQL: blocking keys, merges, the review queue, models. Lookups of
//! many keys are one statement over arrays.

use super::PgStore;
use super::tx::PgTx;
use crate::model::{Key, PersonId};
use crate::store::codec::{json, parse_ts, to_json, ts, values_from};
use crate::store::matching::{
    MatchStore, MatchTx, Merge, PersonValues, ReviewDraft, ReviewItem, ReviewStatus,
};
use crate::store::{StoreError, StoredRecord};
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

const REVIEW_COLUMNS: &str = "id, a, b, score, detail, fingerprint, status, ever_rejected, \
     created_at, decided_at";

fn review_from(r: &Row) -> Result<ReviewItem, StoreError> {
    let id: i64 = r.get(0);
    let status: &str = r.get(6);
    Ok(ReviewItem {
        id,
        a: r.get(1),
        b: r.get(2),
        score: r.get(3),
        detail: json(r.get(4))?,
        fingerprint: r.get(5),
        status: ReviewStatus::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("review item {id}: status `{status}`")))?,
        ever_rejected: r.get(7),
        created_at: parse_ts(r.get(8))?,
        decided_at: r.get::<_, Option<&str>>(9).map(parse_ts).transpose()?,
    })
}

const MERGE_COLUMNS: &str = "person_id, into_id, how, score, detail, before, at, split_at";

fn merge_from(r: &Row) -> Result<Merge, StoreError> {
    Ok(Merge {
        person: r.get(0),
        into: r.get(1),
        how: r.get(2),
        score: r.get(3),
        detail: json(r.get(4))?,
        before: json(r.get(5))?,
        at: parse_ts(r.get(6))?,
        split_at: r.get::<_, Option<&str>>(7).map(parse_ts).transpose()?,
    })
}

fn record_from(r: &Row, at: usize) -> Result<StoredRecord, StoreError> {
    Ok(StoredRecord {
        connector: r.get(at),
        locator: json(r.get(at + 1))?,
        observed_at: parse_ts(r.get(at + 2))?,
        archived: r.get(at + 3),
        values: json(r.get(at + 4))?,
    })
}

impl MatchStore for PgStore {
    fn match_model(&mut self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .db
            .query_opt(
                "SELECT version, model FROM match_models ORDER BY version DESC LIMIT 1",
                &[],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn merged_into(&mut self, person: PersonId) -> Result<Option<PersonId>, StoreError> {
        let mut at = person;
        for _ in 0..10_000 {
            let next = self.db.query_opt(
                "SELECT into_id FROM merges WHERE person_id = $1 AND split_at IS NULL
                 ORDER BY id DESC LIMIT 1",
                &[&at],
            )?;
            match next {
                Some(r) => at = r.get(0),
                None => return Ok((at != person).then_some(at)),
            }
        }
        Err(StoreError::Corrupt(format!(
            "person {person}: its merges form a loop"
        )))
    }

    fn merges_into(&mut self, survivor: PersonId) -> Result<Vec<Merge>, StoreError> {
        self.db
            .query(
                &format!(
                    "SELECT {MERGE_COLUMNS} FROM merges WHERE into_id = $1 AND split_at IS NULL ORDER BY id"
                ),
                &[&survivor],
            )?
            .iter()
            .map(merge_from)
            .collect()
    }

    fn merges(&mut self) -> Result<Vec<Merge>, StoreError> {
        self.db
            .query(
                &format!("SELECT {MERGE_COLUMNS} FROM merges WHERE split_at IS NULL ORDER BY id"),
                &[],
            )?
            .iter()
            .map(merge_from)
            .collect()
    }

    fn active_merge(&mut self, person: PersonId) -> Result<Option<Merge>, StoreError> {
        self.db
            .query_opt(
                &format!(
                    "SELECT {MERGE_COLUMNS} FROM merges WHERE person_id = $1 AND split_at IS NULL
                     ORDER BY id DESC LIMIT 1"
                ),
                &[&person],
            )?
            .as_ref()
            .map(merge_from)
            .transpose()
    }

    fn reviews(&mut self, status: Option<ReviewStatus>) -> Result<Vec<ReviewItem>, StoreError> {
        let status = status.map(|s| s.as_str());
        self.db
            .query(
                &format!(
                    "SELECT {REVIEW_COLUMNS} FROM review_items WHERE $1::text IS NULL OR status = $1 ORDER BY id"
                ),
                &[&status],
            )?
            .iter()
            .map(review_from)
            .collect()
    }

    fn review(&mut self, id: i64) -> Result<Option<ReviewItem>, StoreError> {
        self.db
            .query_opt(
                &format!("SELECT {REVIEW_COLUMNS} FROM review_items WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(review_from)
            .transpose()
    }

    fn records_after(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PersonId, StoredRecord)>, StoreError> {
        self.db
            .query(
                "SELECT id, person_id, connector, locator, observed_at, archived, fields
                 FROM source_records WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &(limit as i64)],
            )?
            .iter()
            .map(|r| Ok((r.get(0), r.get(1), record_from(r, 2)?)))
            .collect()
    }
}

impl MatchTx for PgTx<'_> {
    fn match_candidates(
        &mut self,
        blocks: &[i64],
        limit: usize,
    ) -> Result<Vec<(i64, PersonId)>, StoreError> {
        if blocks.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .db
            .query(
                "SELECT q.block, m.person_id FROM unnest($1::bigint[]) AS q(block)
                 CROSS JOIN LATERAL (SELECT person_id FROM match_blocks
                                     WHERE block = q.block LIMIT $2) m",
                &[&blocks, &(limit as i64)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn person_values(
        &mut self,
        ids: &[PersonId],
    ) -> Result<Vec<(PersonId, PersonValues)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.db
            .query("SELECT golden FROM persons WHERE id = ANY($1)", &[&ids])?
            .iter()
            .map(|r| values_from(r.get(0)))
            .collect()
    }

    fn add_match_blocks(&mut self, persons: &[(PersonId, Vec<i64>)]) -> Result<(), StoreError> {
        if persons.is_empty() {
            return Ok(());
        }
        let (mut owners, mut blocks) = (Vec::new(), Vec::new());
        for (person, keys) in persons {
            for block in keys {
                owners.push(*person);
                blocks.push(*block);
            }
        }
        self.db.execute(
            "INSERT INTO match_blocks (block, person_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])
             ON CONFLICT DO NOTHING",
            &[&blocks, &owners],
        )?;
        Ok(())
    }

    fn person_records(&mut self, person: PersonId) -> Result<Vec<StoredRecord>, StoreError> {
        self.db
            .query(
                "SELECT connector, locator, observed_at, archived, fields FROM source_records
                 WHERE person_id = $1 ORDER BY observed_at, id",
                &[&person],
            )?
            .iter()
            .map(|r| record_from(r, 0))
            .collect()
    }

    fn crm_keys_of(
        &mut self,
        persons: &[PersonId],
    ) -> Result<Vec<(PersonId, String, String)>, StoreError> {
        if persons.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .db
            .query(
                "SELECT person_id, kind, value FROM identity_keys
                 WHERE person_id = ANY($1) AND kind >= 'crm:' AND kind < 'crm;'",
                &[&persons],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn pushed_persons(&mut self, persons: &[PersonId]) -> Result<Vec<PersonId>, StoreError> {
        if persons.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .db
            .query(
                "SELECT DISTINCT person_id FROM source_records
                   WHERE person_id = ANY($1) AND pushed_tier IS NOT NULL
                 UNION SELECT DISTINCT person_id FROM outbox
                   WHERE person_id = ANY($1) AND status = 'done'",
                &[&persons],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn rejected_pairs(
        &mut self,
        pairs: &[(PersonId, PersonId)],
    ) -> Result<Vec<(PersonId, PersonId)>, StoreError> {
        let mut out = Vec::new();
        for &(a, b) in pairs {
            // Each side with every person merged into it, transitively: a rejection made
            // before a merge still holds after it.
            let rejected: bool = self
                .db
                .query_one(
                    "WITH RECURSIVE
                       sx(id) AS (SELECT $1::bigint UNION SELECT m.person_id FROM merges m
                                  JOIN sx ON m.into_id = sx.id WHERE m.split_at IS NULL),
                       sy(id) AS (SELECT $2::bigint UNION SELECT m.person_id FROM merges m
                                  JOIN sy ON m.into_id = sy.id WHERE m.split_at IS NULL)
                     SELECT EXISTS (SELECT 1 FROM review_items r WHERE r.ever_rejected
                       AND ((r.a IN (SELECT id FROM sx) AND r.b IN (SELECT id FROM sy))
                         OR (r.a IN (SELECT id FROM sy) AND r.b IN (SELECT id FROM sx))))",
                    &[&a, &b],
                )?
                .get(0);
            if rejected {
                out.push((a, b));
            }
        }
        Ok(out)
    }

    fn merge_persons(&mut self, merge: &Merge, keys: &[Key]) -> Result<(), StoreError> {
        let (from, into) = (merge.person, merge.into);
        let db = self.db;
        let records: Vec<(String, String)> = db
            .query(
                "UPDATE source_records SET person_id = $2 WHERE person_id = $1
                 RETURNING connector, locator_key",
                &[&from, &into],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let kinds: Vec<&str> = keys.iter().map(|k| k.kind).collect();
        let values: Vec<&str> = keys.iter().map(|k| k.value.as_str()).collect();
        // The keys the records brought, and every CRM id (indexed by person).
        let moved_keys: Vec<(String, String)> = db
            .query(
                "UPDATE identity_keys k SET person_id = $2
                 WHERE k.person_id = $1 AND (
                   (k.kind, k.value) IN (SELECT * FROM unnest($3::text[], $4::text[]))
                   OR (k.kind >= 'crm:' AND k.kind < 'crm;'))
                 RETURNING k.kind, k.value",
                &[&from, &into, &kinds, &values],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let history: Vec<i64> = db
            .query(
                "UPDATE tier_history SET person_id = $2 WHERE person_id = $1 RETURNING id",
                &[&from, &into],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let now = ts(&merge.at);
        for sql in [
            "UPDATE outbox SET person_id = $2 WHERE person_id = $1",
            "UPDATE conflicts SET person_id = $2 WHERE person_id = $1",
            "UPDATE conflicts SET other_person_id = $2 WHERE other_person_id = $1",
        ] {
            db.execute(sql, &[&from, &into])?;
        }
        // A conflict between the two is settled by the merge.
        db.execute(
            "UPDATE conflicts SET resolved_at = $2
             WHERE person_id = $1 AND other_person_id = $1 AND resolved_at IS NULL",
            &[&into, &now],
        )?;
        db.execute("DELETE FROM persons WHERE id = $1", &[&from])?;
        self.new_ids.remove(&from);
        db.execute(
            "INSERT INTO merges (person_id, into_id, how, score, detail, before, records, keys, history, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &from,
                &into,
                &merge.how,
                &merge.score,
                &to_json(&merge.detail),
                &to_json(&merge.before),
                &to_json(&records),
                &to_json(&moved_keys),
                &to_json(&history),
                &now,
            ],
        )?;
        Ok(())
    }

    fn split_merge(&mut self, merge: &Merge, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (person, into) = (merge.person, merge.into);
        let db = self.db;
        let Some(row) = db.query_opt(
            "SELECT id, records, keys, history FROM merges
             WHERE person_id = $1 AND split_at IS NULL ORDER BY id DESC LIMIT 1",
            &[&person],
        )?
        else {
            return Err(StoreError::Corrupt(format!(
                "person {person} is not merged into another"
            )));
        };
        let id: i64 = row.get(0);
        let records: Vec<(String, String)> = json(row.get(1))?;
        let keys: Vec<(String, String)> = json(row.get(2))?;
        let history: Vec<i64> = json(row.get(3))?;
        let (connectors, locators): (Vec<String>, Vec<String>) = records.into_iter().unzip();
        db.execute(
            "UPDATE source_records SET person_id = $1 WHERE person_id = $2
               AND (connector, locator_key) IN (SELECT * FROM unnest($3::text[], $4::text[]))",
            &[&person, &into, &connectors, &locators],
        )?;
        let (kinds, values): (Vec<String>, Vec<String>) = keys.into_iter().unzip();
        db.execute(
            "UPDATE identity_keys SET person_id = $1 WHERE person_id = $2
               AND (kind, value) IN (SELECT * FROM unnest($3::text[], $4::text[]))",
            &[&person, &into, &kinds, &values],
        )?;
        db.execute(
            "UPDATE tier_history SET person_id = $1 WHERE person_id = $2 AND id = ANY($3)",
            &[&person, &into, &history],
        )?;
        db.execute(
            "UPDATE merges SET split_at = $2 WHERE id = $1",
            &[&id, &ts(&at)],
        )?;
        Ok(())
    }

    fn raise_review(
        &mut self,
        draft: &ReviewDraft,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let known = self.db.query_opt(
            "SELECT id, fingerprint FROM review_items WHERE a = $1 AND b = $2",
            &[&draft.a, &draft.b],
        )?;
        let detail = to_json(&draft.detail);
        match known {
            Some(r) if r.get::<_, &str>(1) == draft.fingerprint => Ok(false),
            Some(r) => {
                let id: i64 = r.get(0);
                self.db.execute(
                    "UPDATE review_items SET score = $2, detail = $3, fingerprint = $4,
                     status = 'pending', decided_at = NULL WHERE id = $1",
                    &[&id, &draft.score, &detail, &draft.fingerprint],
                )?;
                Ok(true)
            }
            None => {
                self.db.execute(
                    "INSERT INTO review_items (a, b, score, detail, fingerprint, status, created_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
                    &[
                        &draft.a,
                        &draft.b,
                        &draft.score,
                        &detail,
                        &draft.fingerprint,
                        &ts(&now),
                    ],
                )?;
                Ok(true)
            }
        }
    }

    fn review_of(&mut self, a: PersonId, b: PersonId) -> Result<Option<i64>, StoreError> {
        Ok(self
            .db
            .query_opt(
                "SELECT id FROM review_items WHERE a = $1 AND b = $2",
                &[&a, &b],
            )?
            .map(|r| r.get(0)))
    }

    fn decide_review(
        &mut self,
        id: i64,
        status: ReviewStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let changed = self.db.execute(
            "UPDATE review_items SET status = $2, decided_at = $3,
             ever_rejected = ever_rejected OR $2 = 'rejected' WHERE id = $1",
            &[&id, &status.as_str(), &ts(&now)],
        )?;
        if changed == 0 {
            return Err(StoreError::Corrupt(format!("no review item {id}")));
        }
        Ok(())
    }

    fn save_match_model(&mut self, model: &str, now: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(self
            .db
            .query_one(
                "INSERT INTO match_models (model, trained_at) VALUES ($1, $2) RETURNING version",
                &[&model, &ts(&now)],
            )?
            .get(0))
    }
}
