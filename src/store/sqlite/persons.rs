//! Persons, identity keys, tier history and conflicts in SQLite.

use super::SqliteStore;
use super::codec::{
    ROWS_PER_STATEMENT, insert_rows, json, parse_tier, parse_ts, placeholders, query_all, to_json,
    ts,
};
use super::tx::SqliteTx;
use crate::model::{Key, KeyMap, Person, PersonId};
use crate::store::codec::person_from;
use crate::store::keyfilter::KeyFilter;
use crate::store::{Conflict, PersonStore, PersonTx, StoreError, TierChange};
use rusqlite::{Connection, OptionalExtension, ToSql, params, params_from_iter};
use std::collections::BTreeMap;

/// A person's ids of one CRM. The range repeats the condition of the partial index
/// `identity_keys_crm_person`: that is how SQLite knows it may use the index.
pub(super) const CRM_IDS_OF: &str = "SELECT value FROM identity_keys WHERE person_id = ?1 \
     AND kind = ?2 AND kind >= 'crm:' AND kind < 'crm;'";

/// Every CRM id a person holds, as `(kind, value)`, through the same partial index.
pub(super) const CRM_IDS_OF_ANY: &str = "SELECT kind, value FROM identity_keys WHERE person_id = ?1 \
     AND kind >= 'crm:' AND kind < 'crm;'";

fn read_person(conn: &Connection, id: PersonId) -> Result<Option<Person>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT golden, rules_version FROM persons WHERE id = ?1")?;
    let row: Option<(String, Option<String>)> = stmt
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(golden, version)| person_from(&golden, version))
        .transpose()
}

impl PersonStore for SqliteStore {
    fn person(&mut self, id: PersonId) -> Result<Option<Person>, StoreError> {
        read_person(&self.conn, id)
    }

    fn persons_after(
        &mut self,
        after: PersonId,
        limit: usize,
        stale_for: Option<&str>,
    ) -> Result<Vec<Person>, StoreError> {
        query_all(
            &self.conn,
            "SELECT golden, rules_version FROM persons WHERE id > ?1
               AND (?3 IS NULL OR rules_version IS NULL OR rules_version != ?3)
             ORDER BY id LIMIT ?2",
            params![after, limit as i64, stale_for],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
            |(golden, version)| person_from(&golden, version),
        )
    }

    fn person_by_key(&mut self, kind: &str, value: &str) -> Result<Option<PersonId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT person_id FROM identity_keys WHERE kind = ?1 AND value = ?2")?;
        Ok(stmt
            .query_row(params![kind, value], |r| r.get(0))
            .optional()?)
    }

    fn tier_history(&mut self, person: PersonId) -> Result<Vec<TierChange>, StoreError> {
        query_all(
            &self.conn,
            "SELECT person_id, from_tier, to_tier, rule, rules_version, evidence, at
             FROM tier_history WHERE person_id = ?1 ORDER BY id",
            [person],
            |r| {
                let row: (
                    PersonId,
                    Option<String>,
                    String,
                    String,
                    String,
                    String,
                    String,
                ) = (
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                );
                Ok(row)
            },
            |(person, from, to, rule, rules_version, evidence, at)| {
                Ok(TierChange {
                    person,
                    from: parse_tier(from)?,
                    to: parse_tier(Some(to))?.expect("some in, some out"),
                    rule,
                    rules_version,
                    evidence: json(&evidence)?,
                    at: parse_ts(&at)?,
                })
            },
        )
    }

    fn conflicts_of(&mut self, person: PersonId) -> Result<Vec<Conflict>, StoreError> {
        query_all(
            &self.conn,
            "SELECT connector, locator, key_kind, key_value, person_id, other_person_id, reason, created_at
             FROM conflicts WHERE (person_id = ?1 OR other_person_id = ?1) AND resolved_at IS NULL ORDER BY id",
            [person],
            |r| {
                let row: (String, String, String, String, PersonId, PersonId, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
                Ok(row)
            },
            |(connector, locator, key_kind, key_value, person, other_person, reason, at)| {
                let at = parse_ts(&at)?;
                Ok(Conflict { connector, locator, key_kind, key_value, person, other_person, reason, at })
            },
        )
    }
}

impl PersonTx for SqliteTx<'_> {
    fn find_keys(&mut self, keys: &[Key]) -> Result<KeyMap<PersonId>, StoreError> {
        if self.keys.filter.as_ref().is_none_or(KeyFilter::is_full) {
            self.keys.filter = Some(build_filter(&self.tx)?);
        }
        let filter = self.keys.filter.as_ref().expect("built above");
        let mut by_kind: BTreeMap<&'static str, Vec<&str>> = BTreeMap::new();
        // Only keys the store may hold are looked up.
        for k in keys.iter().filter(|k| filter.may_contain(k.kind, &k.value)) {
            by_kind.entry(k.kind).or_default().push(&k.value);
        }
        let mut found = KeyMap::with_capacity_and_hasher(keys.len(), Default::default());
        for (kind, values) in by_kind {
            for chunk in values.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "SELECT value, person_id FROM identity_keys WHERE kind = ? AND value IN ({})",
                    placeholders(chunk.len())
                );
                let mut stmt = self.tx.prepare_cached(&sql)?;
                let params = std::iter::once(&kind).chain(chunk.iter());
                let mut rows = stmt.query(params_from_iter(params))?;
                while let Some(row) = rows.next()? {
                    let key = Key {
                        kind,
                        value: row.get(0)?,
                    };
                    found.insert(key, row.get(1)?);
                }
            }
        }
        Ok(found)
    }

    fn insert_keys(&mut self, keys: &[(Key, PersonId)]) -> Result<(), StoreError> {
        if let Some(filter) = &mut self.keys.filter {
            for (key, _) in keys {
                filter.insert(key.kind, &key.value);
            }
        }
        insert_rows(
            &self.tx,
            "INSERT OR FAIL INTO identity_keys (kind, value, person_id)",
            "",
            keys,
            |_| (),
            |(key, person), ()| [&key.kind, &key.value, person],
        )
    }

    fn crm_ids_of(&mut self, person: PersonId, kind: &str) -> Result<Vec<String>, StoreError> {
        debug_assert!(kind.starts_with("crm:"), "{kind} is not a CRM key kind");
        let mut stmt = self.tx.prepare_cached(CRM_IDS_OF)?;
        let rows = stmt.query_map(params![person, kind], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn next_person_id(&mut self) -> Result<PersonId, StoreError> {
        let next = match self.next_id {
            Some(n) => n,
            None => {
                self.tx
                    .query_row("SELECT coalesce(max(id), 0) FROM persons", [], |r| {
                        r.get::<_, i64>(0)
                    })?
                    + 1
            }
        };
        self.next_id = Some(next + 1);
        Ok(next)
    }

    fn load_persons(&mut self, ids: &[PersonId]) -> Result<Vec<Person>, StoreError> {
        goldens_of(&self.tx, ids, person_from)
    }

    fn save_persons(&mut self, persons: &[&Person]) -> Result<(), StoreError> {
        insert_rows(
            &self.tx,
            "INSERT OR FAIL INTO persons (id, golden, tier, created_at, updated_at, rules_version)",
            "ON CONFLICT (id) DO UPDATE SET golden = excluded.golden, tier = excluded.tier,
               updated_at = excluded.updated_at, rules_version = excluded.rules_version",
            persons,
            |p| {
                (
                    crate::model::json::person(p),
                    p.tier.map(|t| t.as_str()),
                    ts(&p.created_at),
                    ts(&p.updated_at),
                )
            },
            |p, (golden, tier, created, updated)| {
                [&p.id, golden, tier, created, updated, &p.rules_version]
            },
        )
    }

    fn mark_qualified(&mut self, ids: &[PersonId], version: &str) -> Result<(), StoreError> {
        for chunk in ids.chunks(ROWS_PER_STATEMENT * 5) {
            let sql = format!(
                "UPDATE persons SET rules_version = ? WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let params = std::iter::once(&version as &dyn ToSql)
                .chain(chunk.iter().map(|id| id as &dyn ToSql));
            self.tx
                .prepare_cached(&sql)?
                .execute(params_from_iter(params))?;
        }
        Ok(())
    }

    fn add_tier_changes(&mut self, changes: &[TierChange]) -> Result<(), StoreError> {
        insert_rows(
            &self.tx,
            "INSERT OR FAIL INTO tier_history (person_id, from_tier, to_tier, rule, rules_version, evidence, at)",
            "",
            changes,
            |c| {
                (
                    c.from.map(|t| t.as_str()),
                    c.to.as_str(),
                    to_json(&c.evidence),
                    ts(&c.at),
                )
            },
            |c, (from, to, evidence, at)| {
                [&c.person, from, to, &c.rule, &c.rules_version, evidence, at]
            },
        )
    }

    fn add_conflict(&mut self, c: &Conflict) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO conflicts (connector, locator, key_kind, key_value, person_id, other_person_id, reason, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (connector, locator, key_kind, key_value) DO NOTHING",
        )?;
        stmt.execute(params![
            c.connector,
            c.locator,
            c.key_kind,
            c.key_value,
            c.person,
            c.other_person,
            c.reason,
            ts(&c.at)
        ])?;
        Ok(())
    }
}

/// A filter of every key in `identity_keys`, sized for twice as many.
fn build_filter(tx: &rusqlite::Transaction<'_>) -> Result<KeyFilter, StoreError> {
    let stored: i64 = tx.query_row("SELECT count(*) FROM identity_keys", [], |r| r.get(0))?;
    let mut filter = KeyFilter::with_capacity(2 * stored as usize);
    let mut stmt = tx.prepare("SELECT kind, value FROM identity_keys")?;
    let mut rows = stmt.query([])?;
    let text = |e: rusqlite::types::FromSqlError| StoreError::Corrupt(format!("identity key: {e}"));
    while let Some(row) = rows.next()? {
        let kind = row.get_ref(0)?.as_str().map_err(text)?;
        filter.insert(kind, row.get_ref(1)?.as_str().map_err(text)?);
    }
    Ok(filter)
}

/// The persons of `ids` that exist, each decoded from its golden JSON and `rules_version`.
pub(super) fn goldens_of<T>(
    tx: &rusqlite::Transaction<'_>,
    ids: &[PersonId],
    decode: impl Fn(&str, Option<String>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT golden, rules_version FROM persons WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(chunk.iter()))?;
        while let Some(row) = rows.next()? {
            out.push(decode(&row.get::<_, String>(0)?, row.get(1)?)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::*;

    fn email(v: &str) -> crate::model::Key {
        crate::model::Key {
            kind: "email",
            value: v.into(),
        }
    }
    #[test]
    fn crm_ids_are_found_by_person_through_the_partial_index_and_other_keys_are_not_in_it() {
        use crate::model::Key;
        let key = |kind: &'static str, v: &str| Key {
            kind,
            value: v.into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let mut tx = store.begin().unwrap();
        tx.insert_keys(&[
            (key("crm:hubspot", "101"), 7),
            (key("crm:hubspot", "102"), 7),
            (key("crm:other", "5"), 7),
            (key("email", "a@x.io"), 7),
            (key("crm:hubspot", "201"), 8),
        ])
        .unwrap();
        let mut ids = tx.crm_ids_of(7, "crm:hubspot").unwrap();
        ids.sort();
        assert_eq!(ids, ["101", "102"]);
        assert_eq!(
            tx.crm_ids_of(9, "crm:hubspot").unwrap(),
            Vec::<String>::new()
        );
        tx.commit().unwrap();
        drop(store);

        let conn = Connection::open(&path).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", CRM_IDS_OF))
            .unwrap()
            .query_map(params![7, "crm:hubspot"], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("identity_keys_crm_person")),
            "{plan:?}"
        );
        // The only index of keys by person is partial (CRM kinds only, so emails and phones
        // pay no second entry).
        let by_person: Vec<(String, bool)> = conn
            .prepare(
                "SELECT name, partial FROM pragma_index_list('identity_keys') WHERE origin = 'c'",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(by_person, [("identity_keys_crm_person".to_string(), true)]);
    }

    #[test]
    fn keys_another_connection_commits_are_found_although_this_ones_filter_was_built_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut daemon = SqliteStore::open(&path).unwrap();
        let mut tx = daemon.begin().unwrap();
        tx.insert_keys(&[(email("a@x.io"), 1)]).unwrap();
        // The filter is built here, and learns what this connection inserts.
        assert_eq!(tx.find_keys(&[email("a@x.io")]).unwrap().len(), 1);
        tx.commit().unwrap();

        // A `leadsync sync --once` run beside the daemon, say.
        let mut other = SqliteStore::open(&path).unwrap();
        let mut tx = other.begin().unwrap();
        tx.insert_keys(&[(email("b@x.io"), 2)]).unwrap();
        tx.commit().unwrap();

        let mut tx = daemon.begin().unwrap();
        let found = tx.find_keys(&[email("a@x.io"), email("b@x.io"), email("c@x.io")]);
        assert_eq!(
            found.unwrap().into_iter().collect::<BTreeMap<_, _>>(),
            BTreeMap::from([(email("a@x.io"), 1), (email("b@x.io"), 2)])
        );
    }

    #[test]
    fn a_filter_that_fills_up_is_built_again_bigger_and_loses_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let n = crate::store::keyfilter::MIN_KEYS + 1_000;
        let keys: Vec<_> = (0..n).map(|i| email(&format!("p{i}@x.io"))).collect();
        let mut tx = store.begin().unwrap();
        assert!(tx.find_keys(&keys[..1]).unwrap().is_empty()); // builds the filter
        let rows: Vec<_> = keys.iter().map(|k| (k.clone(), 1)).collect();
        tx.insert_keys(&rows).unwrap();
        assert_eq!(tx.find_keys(&keys).unwrap().len(), n);
        tx.commit().unwrap();
        assert!(store.keys.filter.as_ref().is_some_and(|f| !f.is_full()));
    }
}
