//! Probabilistic matching in the pipeline: after a page's records are linked on exact keys,
//! each touched person is compared with the persons sharing a blocking key (stored or in the
//! page), and a pair is merged (at or above `link_at`), queued for review (at or above
//! `review_at`), or left apart. Runs inside the page's transaction, before qualifying, so the
//! survivor is qualified and its pushes planned with the page.
//!
//! Never automatically: a pair holding different ids of one CRM, a pair a reviewer rejected.
//! The survivor is the person already pushed to a CRM, else the older (smaller) id; the other
//! becomes a tombstone leading to it ([`crate::store::Merge`]).

use crate::config::MatchingConfig;
use crate::model::{Person, PersonId, TierChange};
use crate::resolve::Resolver;
use crate::resolve::matching::{BlockingRule, FieldModel, Fields, MAX_BLOCK, Model, Scorer};
use crate::store::{Merge, ReviewDraft, Store, StoreError, StoreTx};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, SourceRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

type FastMap<K, V> = foldhash::HashMap<K, V>;
type FastSet<K> = foldhash::HashSet<K>;

/// A trained model as stored: the fields it was trained for (so a config edit is noticed) and
/// the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredModel {
    pub trained_on: usize,
    pub model: Model,
}

/// The compared fields and blocking rules of a config, as matching sees them.
pub struct Matcher {
    pub model: Model,
    pub version: i64,
    link_at: f64,
    review_at: f64,
    fields: Vec<(String, Field)>,
    rules: Vec<BlockingRule>,
    /// Blocks seen holding more than [`MAX_BLOCK`] persons: never looked up again (blocks only
    /// grow), so a common name costs one lookup per process, not one per page.
    oversized: std::sync::Mutex<HashSet<i64>>,
}

/// What matching did to a page (or a pass).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MatchStats {
    pub compared: u64,
    pub merged: u64,
    pub queued: u64,
}

/// The name of a field in matching's records: `first_name`, `custom.postcode`.
pub fn field_key(field: &Field) -> String {
    match field {
        Field::Custom(name) => format!("custom.{name}"),
        other => other.as_str().to_string(),
    }
}

/// A value as compared: lower case, single spaces, no punctuation but what emails need; digits
/// only for digit comparisons.
fn normalise(value: &str, digits: bool) -> String {
    if digits {
        return value.chars().filter(char::is_ascii_digit).collect();
    }
    let mut out = String::with_capacity(value.len());
    let mut space = false;
    for c in value.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '_' | '-') {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else {
            space = true;
        }
    }
    out
}

impl Matcher {
    /// The untrained model of a config: every field at its starting weights (or its configured
    /// `m`/`u`).
    pub fn untrained(cfg: &MatchingConfig) -> Model {
        Model::new(
            cfg.fields
                .iter()
                .map(|f| {
                    let mut m = FieldModel::new(&field_key(&f.field), f.compare);
                    if let (Some(pm), Some(pu)) = (&f.m, &f.u) {
                        m.m = pm.clone();
                        m.u = pu.clone();
                    }
                    m
                })
                .collect(),
        )
    }

    /// Blocking rules of a config.
    pub fn blocking_rules(cfg: &MatchingConfig) -> Vec<BlockingRule> {
        cfg.blocking
            .iter()
            .map(|b| {
                BlockingRule(
                    b.keys
                        .iter()
                        .map(|k| (field_key(&k.field), k.part))
                        .collect(),
                )
            })
            .collect()
    }

    /// Matching as configured, with the stored model: `Ok(None)` when matching is off, or no
    /// model was trained yet (`leadsync identity train`), or the config's fields changed since
    /// (then a warning says so).
    pub fn load(
        cfg: &MatchingConfig,
        store: &mut dyn Store,
    ) -> Result<Option<Matcher>, StoreError> {
        if !cfg.enabled {
            return Ok(None);
        }
        let Some((version, json)) = store.match_model()? else {
            tracing::warn!(
                "Matching is enabled but no model is trained yet: run `leadsync identity train`; until then only exact keys link records."
            );
            return Ok(None);
        };
        let stored: StoredModel = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("match model {version}: {e}")))?;
        Ok(Matcher::with_model(cfg, stored.model, version))
    }

    /// Matching with `model`, if it compares the config's fields the config's way.
    pub fn with_model(cfg: &MatchingConfig, mut model: Model, version: i64) -> Option<Matcher> {
        let wanted = Matcher::untrained(cfg);
        let same = model.fields.len() == wanted.fields.len()
            && model
                .fields
                .iter()
                .zip(&wanted.fields)
                .all(|(a, b)| a.field == b.field && a.comparator == b.comparator);
        if !same {
            tracing::warn!(
                version,
                "The stored match model compares other fields than identity.matching lists: run `leadsync identity train` again; until then only exact keys link records."
            );
            return None;
        }
        // Configured m/u win over trained ones.
        for (f, c) in model.fields.iter_mut().zip(&cfg.fields) {
            if let (Some(m), Some(u)) = (&c.m, &c.u) {
                f.m = m.clone();
                f.u = u.clone();
            }
        }
        Some(Matcher {
            model,
            version,
            link_at: cfg.link_at,
            review_at: cfg.review_at,
            fields: cfg
                .fields
                .iter()
                .map(|f| (field_key(&f.field), f.field.clone()))
                .collect(),
            rules: Matcher::blocking_rules(cfg),
            oversized: std::sync::Mutex::new(HashSet::new()),
        })
    }

    /// A person as matching sees it: the preferred value of each compared field, normalised.
    pub fn profile(&self, person: &Person) -> Fields {
        profile(&self.model, &self.fields, |f| person.get(f))
    }

    /// A record's blocking keys, one per rule it has every field of, each the 64-bit FNV-1a
    /// hash of the rule's number and key (two keys sharing a hash only bring a candidate that
    /// scores for itself).
    pub fn blocks(&self, fields: &Fields) -> Vec<i64> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.key(fields).map(|k| block_hash(i, &k)))
            .collect()
    }

    /// Compares the persons of a page with each other and with the stored persons sharing a
    /// blocking key; merges and queues as the thresholds say. Merged-away persons leave
    /// `persons`; a stored survivor joins it (it is to be qualified and saved with the page).
    pub fn apply(
        &self,
        tx: &mut dyn StoreTx,
        resolver: &Resolver,
        persons: &mut Vec<Person>,
        now: DateTime<Utc>,
    ) -> Result<MatchStats, StoreError> {
        let mut stats = MatchStats::default();
        let mut profiles: FastMap<PersonId, Fields> = FastMap::default();
        let mut blocks_of: Vec<(PersonId, Vec<i64>)> = Vec::with_capacity(persons.len());
        let mut members: FastMap<i64, Vec<PersonId>> = FastMap::default();
        let mut oversized = self
            .oversized
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for p in persons.iter() {
            let fields = self.profile(p);
            // A block known to be oversized is neither looked up nor added to: it never brings
            // a candidate again.
            let mut blocks = self.blocks(&fields);
            blocks.retain(|b| !oversized.contains(b));
            for b in &blocks {
                members.entry(*b).or_default().push(p.id);
            }
            profiles.insert(p.id, fields);
            blocks_of.push((p.id, blocks));
        }
        let mut all: Vec<i64> = members.keys().copied().collect();
        all.sort_unstable();
        for (block, person) in tx.match_candidates(&all, MAX_BLOCK + 1)? {
            if let Some(ids) = members.get_mut(&block) {
                ids.push(person);
            }
        }
        members.retain(|block, ids| {
            ids.sort_unstable();
            ids.dedup();
            if ids.len() > MAX_BLOCK {
                oversized.insert(*block);
                return false;
            }
            ids.len() > 1
        });
        drop(oversized);
        // The pairs: a page person and anyone sharing a block not too large to tell anything.
        let page: FastSet<PersonId> = persons.iter().map(|p| p.id).collect();
        let mut pairs: Vec<(PersonId, PersonId)> = Vec::new();
        for ids in members.values() {
            for &a in ids.iter().filter(|a| page.contains(a)) {
                for &b in ids.iter().filter(|&&b| b != a) {
                    pairs.push((a.min(b), a.max(b)));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        if pairs.is_empty() {
            tx.add_match_blocks(&blocks_of)?;
            return Ok(stats);
        }
        // Scored from profiles: the page's at hand, stored persons' loaded a chunk at a time
        // and kept only where a pair of theirs scores, so memory is bounded by the chunk and
        // not by how many persons share the page's blocks.
        let scorer = Scorer::new(&self.model, self.review_at);
        let mut scored: Vec<(f64, PersonId, PersonId)> = Vec::new();
        // Pairs with a stored person, as (stored, page), in the order they are loaded.
        let mut by_stored: Vec<(PersonId, PersonId)> = Vec::new();
        for &(a, b) in &pairs {
            match (page.contains(&a), page.contains(&b)) {
                (true, true) => {
                    stats.compared += 1;
                    if let Some(p) = scorer.at_least(&profiles[&a], &profiles[&b]) {
                        scored.push((p, a, b));
                    }
                }
                (false, _) => by_stored.push((a, b)),
                (_, false) => by_stored.push((b, a)),
            }
        }
        drop(pairs);
        by_stored.sort_unstable();
        let mut keep: Vec<PersonId> = Vec::new();
        let mut at = 0;
        while at < by_stored.len() {
            let mut ids: Vec<PersonId> = Vec::new();
            let mut end = at;
            while let Some(&(s, _)) = by_stored.get(end) {
                if ids.last() != Some(&s) {
                    if ids.len() == LOAD_CHUNK {
                        break;
                    }
                    ids.push(s);
                }
                end += 1;
            }
            let mut loaded: FastMap<PersonId, Fields> = tx
                .person_values(&ids)?
                .into_iter()
                .map(|(id, values)| {
                    let fields = profile(&self.model, &self.fields, |f| {
                        values.get(f).map(String::as_str)
                    });
                    (id, fields)
                })
                .collect();
            let mut hits: Vec<PersonId> = Vec::new();
            for &(s, o) in &by_stored[at..end] {
                let Some(fs) = loaded.get(&s) else {
                    continue; // a stored block of a person merged away meanwhile
                };
                stats.compared += 1;
                if let Some(p) = scorer.at_least(fs, &profiles[&o]) {
                    scored.push((p, s.min(o), s.max(o)));
                    hits.push(s);
                }
            }
            for id in hits {
                if let Some(fields) = loaded.remove(&id) {
                    profiles.insert(id, fields);
                    keep.push(id);
                }
            }
            at = end;
        }
        // The stored persons of scoring pairs, whole: they may merge.
        keep.sort_unstable();
        let mut others: HashMap<PersonId, Person> = tx
            .load_persons(&keep)?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        // Strongest first, so a person joins the cluster it matches best.
        scored.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
        let involved: Vec<PersonId> = scored
            .iter()
            .flat_map(|s| [s.1, s.2])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut crm_ids: HashMap<PersonId, BTreeSet<(String, String)>> = HashMap::new();
        for (p, kind, value) in tx.crm_keys_of(&involved)? {
            crm_ids.entry(p).or_default().insert((kind, value));
        }
        let pushed: HashSet<PersonId> = tx.pushed_persons(&involved)?.into_iter().collect();
        let mut into: HashMap<PersonId, PersonId> = HashMap::new();
        let root = |into: &HashMap<PersonId, PersonId>, mut p: PersonId| {
            while let Some(&n) = into.get(&p) {
                p = n;
            }
            p
        };
        for (probability, a, b) in scored {
            let (ra, rb) = (root(&into, a), root(&into, b));
            if ra == rb {
                continue;
            }
            let fingerprint = fingerprint(&profiles[&a], &profiles[&b]);
            let score = self.model.score(&profiles[&a], &profiles[&b]);
            let detail = serde_json::to_value(&score).unwrap_or_default();
            let crm_clash = clash(crm_ids.get(&ra), crm_ids.get(&rb));
            let rejected = !tx.rejected_pairs(&[(ra.min(rb), ra.max(rb))])?.is_empty();
            if probability < self.link_at || crm_clash || rejected {
                let draft = ReviewDraft {
                    a,
                    b,
                    score: probability,
                    detail,
                    fingerprint,
                };
                if tx.raise_review(&draft, now)? {
                    stats.queued += 1;
                }
                continue;
            }
            let (keep, gone) = survivor_first(&pushed, ra, rb);
            merge_pair(
                tx,
                resolver,
                persons,
                &mut others,
                (keep, gone),
                format!("match:{probability:.3}"),
                probability,
                detail,
                now,
            )?;
            into.insert(gone, keep);
            let moved = crm_ids.remove(&gone).unwrap_or_default();
            crm_ids.entry(keep).or_default().extend(moved);
            stats.merged += 1;
        }
        // Blocking keys of the persons that remain: those computed above, the survivors' from
        // their merged records.
        let survivors: HashSet<PersonId> = into.values().copied().collect();
        let remaining: HashSet<PersonId> = persons.iter().map(|p| p.id).collect();
        let mut blocks: Vec<(PersonId, Vec<i64>)> = blocks_of
            .into_iter()
            .filter(|(id, _)| remaining.contains(id) && !survivors.contains(id))
            .collect();
        for p in persons.iter().filter(|p| survivors.contains(&p.id)) {
            blocks.push((p.id, self.blocks(&self.profile(p))));
        }
        tx.add_match_blocks(&blocks)?;
        Ok(stats)
    }
}

/// Merges `gone` into `keep`: the golden records folded, the tier the higher of the two (the
/// rise recorded), the store's rows moved, the tombstone written. Both persons are taken from
/// `persons` or `others`; the survivor ends in `persons`.
#[allow(clippy::too_many_arguments)]
pub fn merge_pair(
    tx: &mut dyn StoreTx,
    resolver: &Resolver,
    persons: &mut Vec<Person>,
    others: &mut HashMap<PersonId, Person>,
    (keep, gone): (PersonId, PersonId),
    how: String,
    score: f64,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let take = |persons: &mut Vec<Person>,
                others: &mut HashMap<PersonId, Person>,
                id: PersonId|
     -> Result<Person, StoreError> {
        if let Some(i) = persons.iter().position(|p| p.id == id) {
            return Ok(persons.swap_remove(i));
        }
        others
            .remove(&id)
            .ok_or_else(|| StoreError::Corrupt(format!("person {id} is matched but missing")))
    };
    let loser = take(persons, others, gone)?;
    let mut survivor = take(persons, others, keep)?;
    let keys: Vec<_> = tx
        .person_records(gone)?
        .into_iter()
        .flat_map(|r| {
            let record = SourceRecord {
                locator: r.locator,
                observed_at: r.observed_at,
                values: r.values,
                archived: r.archived,
            };
            resolver.keys_of(&r.connector, &record)
        })
        .collect();
    resolver.fold(&mut survivor, &loser);
    survivor.updated_at = now;
    if loser.tier > survivor.tier
        && let Some(to) = loser.tier
    {
        let evidence = BTreeMap::from([
            ("merged_person".to_string(), gone.to_string()),
            ("score".to_string(), format!("{score:.3}")),
        ]);
        tx.add_tier_changes(&[TierChange {
            person: keep,
            from: survivor.tier,
            to,
            rule: "merge".into(),
            rules_version: survivor
                .rules_version
                .clone()
                .unwrap_or_else(|| "builtin".into()),
            evidence,
            at: now,
        }])?;
        survivor.tier = Some(to);
    }
    let merge = Merge {
        person: gone,
        into: keep,
        how,
        score,
        detail,
        before: serde_json::to_value(&loser).unwrap_or_default(),
        at: now,
        split_at: None,
    };
    tx.merge_persons(&merge, &keys)?;
    persons.push(survivor);
    Ok(())
}

/// The profile for `model`'s fields of a person whose preferred values `get` answers.
fn profile<'a>(
    model: &Model,
    fields: &[(String, Field)],
    get: impl Fn(&Field) -> Option<&'a str>,
) -> Fields {
    let mut out = Fields::new();
    for ((key, field), fm) in fields.iter().zip(&model.fields) {
        let digits = matches!(
            fm.comparator,
            crate::resolve::matching::Comparator::Digits
                | crate::resolve::matching::Comparator::Phone
        );
        if let Some(v) = get(field) {
            let v = normalise(v, digits);
            if !v.is_empty() {
                out.insert(key.clone(), v);
            }
        }
    }
    out
}

/// The pair as (survivor, merged away): the one already pushed to a CRM, else the older id.
fn survivor_first(pushed: &HashSet<PersonId>, a: PersonId, b: PersonId) -> (PersonId, PersonId) {
    match (pushed.contains(&a), pushed.contains(&b)) {
        (false, true) => (b, a),
        (true, false) => (a, b),
        _ => (a.min(b), a.max(b)),
    }
}

/// The 64-bit FNV-1a hash of a blocking rule's number and key: stable across processes and
/// versions (it is stored).
fn block_hash(rule: usize, key: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in (rule as u32).to_le_bytes().iter().chain(key.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// Whether two persons hold different ids of one CRM.
fn clash(a: Option<&BTreeSet<(String, String)>>, b: Option<&BTreeSet<(String, String)>>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    a.iter()
        .any(|(kind, value)| b.iter().any(|(k, v)| k == kind && v != value))
}

/// A digest of the values a decision is made on (the pair's two profiles, in id order).
fn fingerprint(a: &Fields, b: &Fields) -> String {
    let mut h = Sha256::new();
    for side in [a, b] {
        for (k, v) in side {
            h.update(k.as_bytes());
            h.update([0x1f]);
            h.update(v.as_bytes());
            h.update([0x1e]);
        }
        h.update([0x1d]);
    }
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stored persons loaded at once to be scored against a page's.
const LOAD_CHUNK: usize = 2_000;

/// Profiles sampled for training at most: enough for stable weights, bounded memory.
const TRAIN_MAX: usize = 200_000;

/// Trains the model of `cfg` on the stored persons (their profiles in a canonical order, so
/// the model does not depend on the order records arrived in; above 200,000 persons an even
/// sample of them) and stores it; answers its version and the model.
pub fn train(
    cfg: &MatchingConfig,
    resolver: &Resolver,
    store: &mut dyn Store,
    now: DateTime<Utc>,
) -> Result<(i64, StoredModel), StoreError> {
    let mut model = Matcher::untrained(cfg);
    let fields: Vec<(String, Field)> = cfg
        .fields
        .iter()
        .map(|f| (field_key(&f.field), f.field.clone()))
        .collect();
    // Above TRAIN_MAX persons, an even sample by id (memory stays bounded); the profiles are
    // then put in a canonical order, so the model does not depend on arrival order.
    let step = (store.person_count()? as usize).div_ceil(TRAIN_MAX).max(1);
    let mut profiles = Vec::new();
    let mut after = 0;
    let mut seen = 0usize;
    loop {
        let batch = store.persons_after(after, 5_000, None)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for p in &batch {
            if seen.is_multiple_of(step) {
                profiles.push(profile(&model, &fields, |f| p.get(f)));
            }
            seen += 1;
        }
    }
    profiles.sort();
    let trained_on = profiles.len();
    let rules = Matcher::blocking_rules(cfg);
    model.train(&profiles, &rules, 200_000, 7);
    // Where exact keys already joined records of one person, those pairs are true matches:
    // `m` from them is sounder than EM's, which, on a store whose duplicates the keys already
    // joined, would take look-alikes (namesakes at one company) for the match class.
    let labels = labelled_pairs(store, resolver, &model, &fields, step)?;
    let labelled = model.estimate_m_from_matches(&labels, MIN_LABELS);
    // Key fields (emails, phones) without enough known matches keep their starting `m`: the
    // duplicates that shared them were joined by the keys, so what EM sees there are mostly
    // look-alikes.
    let start = Matcher::untrained(cfg);
    let mut reset = false;
    for (f, s) in model.fields.iter_mut().zip(&start.fields) {
        let key_field = matches!(
            f.comparator,
            crate::resolve::matching::Comparator::Email
                | crate::resolve::matching::Comparator::Phone
        );
        if key_field && !labelled.contains(&f.field) {
            f.m = s.m.clone();
            reset = true;
        }
    }
    if !labelled.is_empty() || reset {
        model.estimate_prior(&profiles, &rules);
    }
    let stored = StoredModel { trained_on, model };
    let json = serde_json::to_string(&stored).expect("models serialise");
    let mut tx = store.begin()?;
    let version = tx.save_match_model(&json, now)?;
    tx.commit()?;
    Ok((version, stored))
}

/// Fields compared in fewer known matches than this keep the `m` EM estimated.
const MIN_LABELS: usize = 30;
/// Known matches read at most.
const MAX_LABELS: usize = 20_000;

/// Pairs of source records that exact keys joined into one person (each person's records in
/// observation order, taken two by two), as profiles, each with the key fields it shares
/// (those agree by construction and must not count).
fn labelled_pairs(
    store: &mut dyn Store,
    resolver: &Resolver,
    model: &Model,
    fields: &[(String, Field)],
    step: usize,
) -> Result<Vec<(Fields, Fields, Vec<String>)>, StoreError> {
    let mut out = Vec::new();
    let mut after = 0;
    let mut seen = 0usize;
    'persons: loop {
        let batch = store.persons_after(after, 5_000, None)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for p in &batch {
            seen += 1;
            if p.sources.len() < 2 || !(seen - 1).is_multiple_of(step) {
                continue;
            }
            let records = store.records_of(p.id)?;
            let profiles: Vec<(Fields, Vec<crate::model::Key>)> = records
                .iter()
                .map(|r| {
                    let mut one = Person::new(p.id, r.observed_at);
                    for (field, value) in &r.values {
                        one.fields.entry(field.clone()).or_insert_with(|| {
                            vec![crate::model::FieldValue {
                                value: value.clone(),
                                source: 0,
                            }]
                        });
                    }
                    let record = SourceRecord {
                        locator: r.locator.clone(),
                        observed_at: r.observed_at,
                        values: r.values.clone(),
                        archived: r.archived,
                    };
                    (
                        profile(model, fields, |f| one.get(f)),
                        resolver.keys_of(&r.connector, &record),
                    )
                })
                .collect();
            for w in profiles.windows(2) {
                // The kinds of key the two share: the fields those keys come from agree (or
                // were folded to agree) by construction.
                let kinds: Vec<&str> = w[0]
                    .1
                    .iter()
                    .filter(|k| w[1].1.contains(k))
                    .map(|k| k.kind)
                    .collect();
                let shared: Vec<String> = model
                    .fields
                    .iter()
                    .filter(|f| match f.comparator {
                        crate::resolve::matching::Comparator::Email => {
                            kinds.contains(&crate::resolve::EMAIL)
                        }
                        crate::resolve::matching::Comparator::Phone => {
                            kinds.contains(&crate::resolve::PHONE)
                        }
                        _ => false,
                    })
                    .map(|f| f.field.clone())
                    .collect();
                let (a, b) = (w[0].0.clone(), w[1].0.clone());
                out.push((a, b, shared));
                if out.len() >= MAX_LABELS {
                    break 'persons;
                }
            }
        }
    }
    Ok(out)
}

/// Persons matched per transaction in a whole-store pass.
const PASS_BATCH: usize = 1_000;

/// Matches every stored person (after training): each batch of persons against everyone
/// stored before it, merged survivors qualified and their pushes planned.
pub fn match_all(
    matcher: &Matcher,
    ingest: &super::PageIngest,
    store: &mut dyn Store,
    progress: &dyn Fn(u64, MatchStats),
) -> Result<MatchStats, StoreError> {
    let mut total = MatchStats::default();
    let mut after = 0;
    let mut seen = 0u64;
    loop {
        let mut persons = store.persons_after(after, PASS_BATCH, None)?;
        let Some(last) = persons.last() else { break };
        after = last.id;
        seen += persons.len() as u64;
        let now = crate::clock::now();
        let mut tx = store.begin()?;
        let stats = matcher.apply(tx.as_mut(), ingest.resolver(), &mut persons, now)?;
        if stats.merged > 0 {
            let mut changed: Vec<Person> = persons
                .into_iter()
                .filter(|p| p.updated_at == now)
                .collect();
            ingest.qualify(tx.as_mut(), &mut changed, now)?;
        }
        tx.commit()?;
        total.compared += stats.compared;
        total.merged += stats.merged;
        total.queued += stats.queued;
        progress(seen, total);
    }
    Ok(total)
}

/// Carries out a reviewer's decision on a queued pair: `accept` merges the two (as they are
/// now, following earlier merges), `reject` remembers that they are different persons.
pub fn decide(
    store: &mut dyn Store,
    ingest: &super::PageIngest,
    id: i64,
    accept: bool,
) -> Result<Result<String, String>, StoreError> {
    let Some(item) = store.review(id)? else {
        return Ok(Err(format!(
            "no review item {id} (see `leadsync review list`)"
        )));
    };
    let now = crate::clock::now();
    let current = |store: &mut dyn Store, p: PersonId| -> Result<PersonId, StoreError> {
        Ok(store.merged_into(p)?.unwrap_or(p))
    };
    let (a, b) = (current(store, item.a)?, current(store, item.b)?);
    let mut tx = store.begin()?;
    if !accept {
        tx.decide_review(id, crate::store::ReviewStatus::Rejected, now)?;
        tx.commit()?;
        return Ok(Ok(format!(
            "review {id}: rejected; persons {} and {} stay apart and are never merged automatically",
            item.a, item.b
        )));
    }
    if a == b {
        tx.decide_review(id, crate::store::ReviewStatus::Accepted, now)?;
        tx.commit()?;
        return Ok(Ok(format!(
            "review {id}: accepted; already one person ({a})"
        )));
    }
    let mut persons = tx.load_persons(&[a, b])?;
    if persons.len() != 2 {
        return Ok(Err(format!(
            "review {id}: person {a} or {b} no longer exists"
        )));
    }
    let pushed: HashSet<PersonId> = tx.pushed_persons(&[a, b])?.into_iter().collect();
    let (keep, gone) = survivor_first(&pushed, a, b);
    merge_pair(
        tx.as_mut(),
        ingest.resolver(),
        &mut persons,
        &mut HashMap::new(),
        (keep, gone),
        "review".into(),
        item.score,
        item.detail.clone(),
        now,
    )?;
    ingest.qualify(tx.as_mut(), &mut persons, now)?;
    tx.decide_review(id, crate::store::ReviewStatus::Accepted, now)?;
    tx.commit()?;
    Ok(Ok(format!(
        "review {id}: accepted; person {gone} merged into {keep}"
    )))
}

/// Undoes the merge that took `person` away: its records, keys and history go back to it,
/// both golden records are built again from their own records, and the pair is remembered as
/// rejected, so it never merges automatically again. Tiers stay as they are (never lowered).
pub fn split(
    store: &mut dyn Store,
    ingest: &super::PageIngest,
    matcher: Option<&Matcher>,
    person: PersonId,
) -> Result<Result<String, String>, StoreError> {
    let Some(merge) = store.active_merge(person)? else {
        return Ok(Err(format!(
            "person {person} is not merged into another (see `leadsync explain {person}`)"
        )));
    };
    let now = crate::clock::now();
    let mut restored: Person = serde_json::from_value(merge.before.clone())
        .map_err(|e| StoreError::Corrupt(format!("merge of person {person}: {e}")))?;
    let mut tx = store.begin()?;
    tx.split_merge(&merge, now)?;
    let mut survivors = tx.load_persons(&[merge.into])?;
    let Some(mut survivor) = survivors.pop() else {
        return Ok(Err(format!(
            "person {} (that {person} was merged into) was itself merged away; split that first",
            merge.into
        )));
    };
    ingest
        .resolver()
        .rebuild(&mut restored, &tx.person_records(person)?);
    ingest
        .resolver()
        .rebuild(&mut survivor, &tx.person_records(merge.into)?);
    restored.updated_at = now;
    survivor.updated_at = now;
    let (a, b) = (person.min(merge.into), person.max(merge.into));
    let draft = ReviewDraft {
        a,
        b,
        score: merge.score,
        detail: merge.detail.clone(),
        fingerprint: format!("split {}", now.to_rfc3339()),
    };
    tx.raise_review(&draft, now)?;
    let item = tx
        .review_of(a, b)?
        .ok_or_else(|| StoreError::Corrupt(format!("review item of {a} and {b} vanished")))?;
    tx.decide_review(item, crate::store::ReviewStatus::Rejected, now)?;
    let mut persons = vec![restored, survivor];
    if let Some(m) = matcher {
        let blocks: Vec<(PersonId, Vec<i64>)> = persons
            .iter()
            .map(|p| (p.id, m.blocks(&m.profile(p))))
            .collect();
        tx.add_match_blocks(&blocks)?;
    }
    ingest.qualify(tx.as_mut(), &mut persons, now)?;
    tx.commit()?;
    Ok(Ok(format!(
        "person {person} split from {}: each has its own records again; the pair is remembered as rejected",
        merge.into
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_lower_case_without_punctuation() {
        assert_eq!(normalise("  O'Brien-Smith ", false), "o brien-smith");
        assert_eq!(normalise("Jon.Smyth@Acme.COM", false), "jon.smyth@acme.com");
        assert_eq!(normalise("1985-03-12", true), "19850312");
    }

    #[test]
    fn different_ids_of_one_crm_clash_and_other_crms_do_not() {
        let set = |v: &[(&str, &str)]| -> BTreeSet<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let a = set(&[("crm:hubspot", "1")]);
        assert!(clash(Some(&a), Some(&set(&[("crm:hubspot", "2")]))));
        assert!(!clash(Some(&a), Some(&set(&[("crm:salesforce", "9")]))));
        assert!(!clash(Some(&a), Some(&set(&[("crm:hubspot", "1")]))));
        assert!(!clash(Some(&a), None));
    }

    #[test]
    fn a_fingerprint_changes_with_the_values() {
        let f = |v: &str| Fields::from([("first_name".to_string(), v.to_string())]);
        assert_eq!(
            fingerprint(&f("jon"), &f("john")),
            fingerprint(&f("jon"), &f("john"))
        );
        assert_ne!(
            fingerprint(&f("jon"), &f("john")),
            fingerprint(&f("jon"), &f("joan"))
        );
    }
}
