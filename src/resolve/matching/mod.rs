//! Probabilistic matching (Fellegi–Sunter), after the exact keys: records that no key joins but
//! that agree on enough fields, weighted by how telling each agreement is.
//!
//! - A [`Model`] lists the compared fields, each with a [`Comparator`] and, per level, `m` (how
//!   often true matches compare at that level) and `u` (how often random pairs do). A level's
//!   weight is `log2(m/u)`; a pair's match weight is the prior's `log2(λ/(1−λ))` plus the
//!   weights of its fields (a field missing on either side adds nothing); its probability is
//!   `2^w / (1 + 2^w)`.
//! - [`candidate_pairs`] keeps the comparisons near-linear: only records sharing a blocking key
//!   are compared.
//! - [`Model::train`] estimates `u` from random pairs and `m` and λ by expectation–maximisation
//!   over each blocking rule's pairs, from the records alone.
//! - [`clusters`] links the pairs at or above a threshold, transitively.
//!
//! This module knows records as field maps only: which fields a store's persons offer, and what
//! is done with a link, is decided by its caller.

pub mod compare;

pub use crate::model::matching::KeyPart;
pub use compare::{Comparator, soundex};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A record as matching sees it: normalised values by field name (absent: missing).
pub type Fields = BTreeMap<String, String>;

/// One compared field, and what its levels weigh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldModel {
    pub field: String,
    pub comparator: Comparator,
    /// P(level | match), per level.
    pub m: Vec<f64>,
    /// P(level | non-match), per level.
    pub u: Vec<f64>,
}

impl FieldModel {
    /// A field with untrained, plausible starting values: matches mostly equal, random pairs
    /// mostly different.
    pub fn new(field: &str, comparator: Comparator) -> FieldModel {
        let n = comparator.levels();
        let m = (0..n)
            .map(|l| if l == 0 { 0.85 } else { 0.15 / (n - 1) as f64 })
            .collect();
        let u = (0..n)
            .map(|l| {
                if l == n - 1 {
                    0.95
                } else {
                    0.05 / (n - 1) as f64
                }
            })
            .collect();
        FieldModel {
            field: field.to_string(),
            comparator,
            m,
            u,
        }
    }

    /// The level at which a pair compares on this field (`None` where a side misses it).
    pub fn level_of(&self, a: &Fields, b: &Fields) -> Option<usize> {
        match (a.get(&self.field), b.get(&self.field)) {
            (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => {
                Some(self.comparator.level(x, y))
            }
            _ => None,
        }
    }

    /// The weight of a level, `log2(m/u)`.
    pub fn weight(&self, level: usize) -> f64 {
        (self.m[level] / self.u[level]).log2()
    }
}

/// How one field of a pair compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldScore {
    pub field: String,
    /// `None`: missing on a side.
    pub level: Option<usize>,
    pub weight: f64,
}

/// A pair's score: its match weight, probability and every field's part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub weight: f64,
    pub probability: f64,
    pub fields: Vec<FieldScore>,
}

/// The matching model: the prior and the compared fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// λ: the chance that two records taken at random are a match.
    pub prior: f64,
    pub fields: Vec<FieldModel>,
}

/// Smallest probability a level may have (so no weight is infinite).
const FLOOR: f64 = 1e-4;

impl Model {
    pub fn new(fields: Vec<FieldModel>) -> Model {
        Model {
            prior: 0.01,
            fields,
        }
    }

    /// Each field's level for a pair (`None` where a side misses it).
    fn levels(&self, a: &Fields, b: &Fields) -> Vec<Option<usize>> {
        self.fields.iter().map(|f| f.level_of(a, b)).collect()
    }

    fn weight_of(&self, levels: &[Option<usize>]) -> f64 {
        let prior = (self.prior / (1.0 - self.prior)).log2();
        prior
            + self
                .fields
                .iter()
                .zip(levels)
                .filter_map(|(f, l)| l.map(|l| f.weight(l)))
                .sum::<f64>()
    }

    /// The match probability of a pair (what [`Model::score`] answers, without the parts).
    pub fn probability(&self, a: &Fields, b: &Fields) -> f64 {
        probability(self.weight_of(&self.levels(a, b)))
    }

    /// The score of a pair, with every field's part.
    pub fn score(&self, a: &Fields, b: &Fields) -> Score {
        let levels = self.levels(a, b);
        let weight = self.weight_of(&levels);
        Score {
            weight,
            probability: probability(weight),
            fields: self
                .fields
                .iter()
                .zip(&levels)
                .map(|(f, l)| FieldScore {
                    field: f.field.clone(),
                    level: *l,
                    weight: l.map_or(0.0, |l| f.weight(l)),
                })
                .collect(),
        }
    }

    /// Estimates `u` from `samples` random pairs of `records` (nearly all non-matches); then
    /// `m` by expectation–maximisation, once per blocking rule over that rule's pairs, `u` held
    /// fixed, each field's `m` taken only from the rules that do not block on it (pairs blocked
    /// on a field agree on it by construction, matches or not: Splink's way); then the prior
    /// over all candidate pairs. Deterministic for a seed.
    pub fn train(&mut self, records: &[Fields], rules: &[BlockingRule], samples: usize, seed: u64) {
        if records.len() < 2 {
            return;
        }
        self.estimate_u(records, samples, seed);
        let mut estimates: Vec<Vec<Vec<f64>>> = vec![Vec::new(); self.fields.len()];
        for rule in rules {
            let blocked: HashSet<&str> = rule.0.iter().map(|(f, _)| f.as_str()).collect();
            let free: Vec<bool> = self
                .fields
                .iter()
                .map(|f| !blocked.contains(f.field.as_str()))
                .collect();
            let levels = self.pair_levels(
                records,
                &candidate_pairs(records, std::slice::from_ref(rule)),
            );
            if levels.is_empty() {
                continue;
            }
            let mut trial = self.clone();
            trial.em(&levels, &free, 25);
            for (i, f) in trial.fields.iter().enumerate().filter(|(i, _)| free[*i]) {
                estimates[i].push(f.m.clone());
            }
        }
        for (f, found) in self.fields.iter_mut().zip(&estimates) {
            if found.is_empty() {
                continue;
            }
            let mut mean = vec![0.0; f.m.len()];
            for m in found {
                for (a, b) in mean.iter_mut().zip(m) {
                    *a += b / found.len() as f64;
                }
            }
            f.m = mean;
        }
        self.estimate_prior(records, rules);
    }

    /// The prior: the chance that two records taken at random are a match (Splink's λ), from
    /// the candidate pairs whose fields alone favour a match, among all pairs. Blocking only
    /// chose which pairs to score; it must not make a pair likelier.
    pub fn estimate_prior(&mut self, records: &[Fields], rules: &[BlockingRule]) {
        if records.len() < 2 {
            return;
        }
        self.prior = 0.5;
        let likely = self
            .pair_levels(records, &candidate_pairs(records, rules))
            .iter()
            .filter(|ls| self.weight_of(ls) > 0.0)
            .count();
        let n = records.len() as f64;
        self.prior = (likely.max(1) as f64 / (n * (n - 1.0) / 2.0)).clamp(1e-12, 0.5);
    }

    /// Sets `m` from pairs known to be matches (labels), for each field compared in at least
    /// `min` of them: each pair is `(a, b, skip)`, `skip` naming fields that must not count
    /// (those the pair is known to match on by construction). Answers the fields set.
    pub fn estimate_m_from_matches(
        &mut self,
        pairs: &[(Fields, Fields, Vec<String>)],
        min: usize,
    ) -> Vec<String> {
        let mut set = Vec::new();
        for f in &mut self.fields {
            let mut counts = vec![0.0; f.m.len()];
            let mut n = 0;
            for (a, b, skip) in pairs {
                if skip.contains(&f.field) {
                    continue;
                }
                if let Some(l) = f.level_of(a, b) {
                    counts[l] += 1.0;
                    n += 1;
                }
            }
            if n >= min {
                f.m = normalised(&counts);
                set.push(f.field.clone());
            }
        }
        set
    }

    fn estimate_u(&mut self, records: &[Fields], samples: usize, seed: u64) {
        let mut state = seed | 1;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut counts: Vec<Vec<f64>> = self.fields.iter().map(|f| vec![0.0; f.u.len()]).collect();
        for _ in 0..samples {
            let (i, j) = (next(records.len()), next(records.len()));
            if i == j {
                continue;
            }
            for (c, l) in counts.iter_mut().zip(self.levels(&records[i], &records[j])) {
                if let Some(l) = l {
                    c[l] += 1.0;
                }
            }
        }
        for (f, c) in self.fields.iter_mut().zip(&counts) {
            f.u = normalised(c);
        }
    }

    fn pair_levels(&self, records: &[Fields], pairs: &[(usize, usize)]) -> Vec<Vec<Option<usize>>> {
        pairs
            .iter()
            .map(|&(i, j)| self.levels(&records[i], &records[j]))
            .collect()
    }

    /// `rounds` of EM over pairs' levels: the posterior of each pair from the fields (all of
    /// them), then `m` of the fields marked in `learn` and the prior from the posteriors.
    fn em(&mut self, levels: &[Vec<Option<usize>>], learn: &[bool], rounds: usize) {
        for _ in 0..rounds {
            let mut sums: Vec<Vec<f64>> =
                self.fields.iter().map(|f| vec![0.0; f.m.len()]).collect();
            let mut total = 0.0;
            for ls in levels {
                // Fields not learnt here (blocked on) say nothing about the pair.
                let counted: Vec<Option<usize>> = ls
                    .iter()
                    .zip(learn)
                    .map(|(l, &on)| {
                        if on || learn.iter().all(|x| !x) {
                            *l
                        } else {
                            None
                        }
                    })
                    .collect();
                let p = probability(self.weight_of(&counted));
                total += p;
                for (s, l) in sums.iter_mut().zip(ls) {
                    if let Some(l) = l {
                        s[*l] += p;
                    }
                }
            }
            for ((f, s), &on) in self.fields.iter_mut().zip(&sums).zip(learn) {
                if on {
                    f.m = normalised(s);
                }
            }
            self.prior = (total / levels.len() as f64).clamp(FLOOR, 1.0 - FLOOR);
        }
    }
}

fn normalised(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return vec![1.0 / counts.len() as f64; counts.len()];
    }
    let raw: Vec<f64> = counts.iter().map(|c| (c / total).max(FLOOR)).collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|r| r / sum).collect()
}

/// A model laid out for scoring many pairs against one threshold: the fields in the order
/// they can move a weight most, and after each the most the rest can add, so a pair that
/// cannot reach the threshold is known after a field or two.
pub struct Scorer<'m> {
    model: &'m Model,
    order: Vec<usize>,
    weights: Vec<Vec<f64>>,
    /// `rest[k]`: the most the fields after position `k` of `order` can add.
    rest: Vec<f64>,
    /// The weight a pair needs to reach the threshold (`None`: no bound, every pair scored).
    need: Option<f64>,
    at: f64,
    prior: f64,
}

impl<'m> Scorer<'m> {
    /// A scorer of `model` against the probability `at`.
    pub fn new(model: &'m Model, at: f64) -> Scorer<'m> {
        let weights: Vec<Vec<f64>> = model
            .fields
            .iter()
            .map(|f| (0..f.m.len()).map(|l| f.weight(l)).collect())
            .collect();
        let spread = |w: &Vec<f64>| {
            let max = w.iter().copied().fold(f64::MIN, f64::max);
            let min = w.iter().copied().fold(f64::MAX, f64::min);
            max - min
        };
        let mut order: Vec<usize> = (0..weights.len()).collect();
        order.sort_by(|&x, &y| spread(&weights[y]).total_cmp(&spread(&weights[x])));
        let mut rest = vec![0.0; order.len()];
        for k in (0..order.len().saturating_sub(1)).rev() {
            let next = &weights[order[k + 1]];
            rest[k] = rest[k + 1] + next.iter().copied().fold(0.0, f64::max);
        }
        let need = (at > 0.0 && at < 1.0).then(|| (at / (1.0 - at)).log2());
        Scorer {
            model,
            order,
            weights,
            rest,
            need,
            at,
            prior: (model.prior / (1.0 - model.prior)).log2(),
        }
    }

    /// The pair's probability (as [`Model::probability`] answers it) when it is at least the
    /// scorer's threshold, else `None`.
    pub fn at_least(&self, a: &Fields, b: &Fields) -> Option<f64> {
        if let Some(need) = self.need {
            let mut weight = self.prior;
            for (k, &i) in self.order.iter().enumerate() {
                if let Some(l) = self.model.fields[i].level_of(a, b) {
                    weight += self.weights[i][l];
                }
                // A margin for the rounding of another summing order.
                if weight + self.rest[k] < need - 1e-9 {
                    return None;
                }
            }
        }
        let p = self.model.probability(a, b);
        (p >= self.at).then_some(p)
    }
}

/// `2^w / (1 + 2^w)`.
pub fn probability(weight: f64) -> f64 {
    let x = weight.exp2();
    if x.is_infinite() { 1.0 } else { x / (1.0 + x) }
}

/// A blocking rule: the fields whose values, joined, make a record's key (a record missing any
/// has none); `Prefix(n)` keeps a value's first `n` characters, `Soundex` its Soundex code,
/// `Domain` what follows the last `@` (an email's domain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingRule(pub Vec<(String, KeyPart)>);

impl BlockingRule {
    /// The key of `record` (`None` when it lacks a field of the rule).
    pub fn key(&self, record: &Fields) -> Option<String> {
        let mut key = String::new();
        for (field, part) in &self.0 {
            let value = record.get(field).filter(|v| !v.is_empty())?;
            match part {
                KeyPart::Whole => key.push_str(value),
                KeyPart::Prefix(n) => key.extend(value.chars().take(*n)),
                KeyPart::Soundex => key.push_str(&soundex(value)?),
                KeyPart::Domain => key.push_str(value.rsplit_once('@')?.1),
            }
            key.push('\u{1f}');
        }
        Some(key)
    }
}

/// Blocks larger than this are skipped (a key shared by that many records tells nothing, and
/// comparing all its pairs would be quadratic).
pub const MAX_BLOCK: usize = 100;

/// The pairs `(i, j)`, `i < j`, of records sharing a key of any rule, each once.
pub fn candidate_pairs(records: &[Fields], rules: &[BlockingRule]) -> Vec<(usize, usize)> {
    let mut pairs = HashSet::new();
    for rule in rules {
        let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let Some(k) = rule.key(r) {
                blocks.entry(k).or_default().push(i);
            }
        }
        for members in blocks.values().filter(|m| m.len() <= MAX_BLOCK) {
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    pairs.insert((i.min(j), i.max(j)));
                }
            }
        }
    }
    let mut pairs: Vec<_> = pairs.into_iter().collect();
    pairs.sort_unstable();
    pairs
}

/// The clusters of records linked, transitively, by the pairs scoring at least `threshold`:
/// each record's cluster number (the smallest record index in it).
pub fn clusters(
    records: &[Fields],
    pairs: &[(usize, usize)],
    model: &Model,
    threshold: f64,
) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..records.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &(i, j) in pairs {
        if model.score(&records[i], &records[j]).probability >= threshold {
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            parent[a.max(b)] = a.min(b);
        }
    }
    (0..records.len()).map(|i| root(&mut parent, i)).collect()
}

/// Precision and recall of the linked pairs (every pair within a cluster) against the true
/// pairs (records with the same `truth`).
pub fn pair_quality(cluster: &[usize], truth: &[String]) -> (f64, f64) {
    let pairs_of = |group: &dyn Fn(usize) -> String| -> HashSet<(usize, usize)> {
        let mut by: HashMap<String, Vec<usize>> = HashMap::new();
        for i in 0..truth.len() {
            by.entry(group(i)).or_default().push(i);
        }
        let mut out = HashSet::new();
        for members in by.values() {
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    out.insert((i.min(j), i.max(j)));
                }
            }
        }
        out
    };
    let linked = pairs_of(&|i| cluster[i].to_string());
    let true_pairs = pairs_of(&|i| truth[i].clone());
    let right = linked.intersection(&true_pairs).count() as f64;
    let precision = if linked.is_empty() {
        1.0
    } else {
        right / linked.len() as f64
    };
    let recall = if true_pairs.is_empty() {
        1.0
    } else {
        right / true_pairs.len() as f64
    };
    (precision, recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_pairs_probability_is_its_scores() {
        let model = Model::new(vec![
            FieldModel::new("first_name", Comparator::Name),
            FieldModel::new("email", Comparator::Email),
            FieldModel::new("phone", Comparator::Phone),
        ]);
        let a = fields(&[("first_name", "jon"), ("email", "jon@acme.io")]);
        let pairs = [
            fields(&[("first_name", "jon"), ("email", "jon@acme.io")]),
            fields(&[("first_name", "jonathan"), ("email", "jon@acme.io")]),
            fields(&[("first_name", "ana"), ("phone", "4420")]),
            fields(&[("email", "")]),
            fields(&[]),
        ];
        for b in &pairs {
            let score = model.score(&a, b);
            assert_eq!(model.probability(&a, b), score.probability, "{b:?}");
            // The scorer stops early only for pairs that fall short.
            for at in [0.0, 1e-9, 0.01, 0.5, 0.6, 0.95, 0.999_999, 1.0] {
                let scorer = Scorer::new(&model, at);
                let want = (score.probability >= at).then_some(score.probability);
                assert_eq!(scorer.at_least(&a, b), want, "{b:?} at {at}");
            }
        }
    }
}
