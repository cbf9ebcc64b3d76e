//! The funnel's facts, kept in memory for the dashboard: one compact row per person (source,
//! tier, side tier, when created, when each tier was first reached) and the overdue follow-ups,
//! built in one pass over the store and rebuilt when the store's change mark moves. A page
//! then answers from memory whatever its filters, with the same code as `report funnel`.

use crate::report::{Funnel, FunnelBuilder, FunnelOptions, reached_at};
use crate::rules::{ClockState, Rules};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use leadsync_connector_core::{Ladder, Tier};

/// A tier never reached, in [`Facts::reached`].
const NEVER: i64 = i64::MIN;

/// Every person's funnel facts, column by column.
pub(super) struct Facts {
    /// The store's change mark when these were read.
    pub(super) mark: String,
    pub(super) built_at: DateTime<Utc>,
    /// How long reading them took.
    pub(super) took: std::time::Duration,
    /// Source names; a person's `source` indexes it (0: no source).
    sources: Vec<Option<String>>,
    source: Vec<u32>,
    tier: Vec<Option<Tier>>,
    side: Vec<Option<Tier>>,
    created: Vec<i64>,
    /// `rungs` seconds per person: when each tier of the ladder was first reached.
    reached: Vec<i64>,
    rungs: usize,
    /// Persons overdue on a commitment now, longest overdue first.
    pub(super) overdue: Vec<Overdue>,
}

/// A person past a commitment's deadline with no follow-up.
#[derive(Debug, Clone)]
pub(super) struct Overdue {
    pub(super) person: i64,
    pub(super) name: String,
    pub(super) owner: Option<String>,
    pub(super) sla: String,
    pub(super) tier: Tier,
    pub(super) due_at: Option<DateTime<Utc>>,
}

/// What a funnel page asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Filter {
    pub(super) source: Option<String>,
    pub(super) since: Option<NaiveDate>,
}

/// A funnel page's figures: the funnel (overall, or the filtered source's), every source's,
/// and the weekly trend.
pub(super) struct FunnelView {
    pub(super) funnel: Funnel,
    pub(super) by_source: std::collections::BTreeMap<String, Funnel>,
    pub(super) weeks: Vec<Week>,
}

/// One week (Monday to Sunday, UTC) of the trend.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Week {
    pub(super) monday: NaiveDate,
    /// Persons created that week, by their tier now (ladder order; `None` last).
    pub(super) new_by_tier: Vec<(Option<Tier>, u64)>,
    /// Persons who first reached lead that week, and of those who have reached mql and sql.
    pub(super) leads: u64,
    pub(super) to_mql: u64,
    pub(super) to_sql: u64,
}

/// Weeks the trend shows.
pub(super) const TREND_WEEKS: usize = 12;

impl Facts {
    /// Reads every person's facts (and, when the rules hold commitments, the overdue clocks).
    pub(super) fn build(
        store: &mut dyn Store,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Facts, StoreError> {
        let started = std::time::Instant::now();
        let mark = store.change_mark()?;
        let rungs = Ladder::current().tiers().len();
        let mut facts = Facts {
            mark,
            built_at: now,
            took: std::time::Duration::ZERO,
            sources: vec![None],
            source: Vec::new(),
            tier: Vec::new(),
            side: Vec::new(),
            created: Vec::new(),
            reached: Vec::new(),
            rungs,
            overdue: Vec::new(),
        };
        let mut index = std::collections::HashMap::<String, u32>::new();
        store.funnel_facts(&mut |fact| {
            let source = match fact.source {
                None => 0,
                Some(s) => *index.entry(s).or_insert_with_key(|s| {
                    facts.sources.push(Some(s.clone()));
                    (facts.sources.len() - 1) as u32
                }),
            };
            facts.source.push(source);
            facts.tier.push(fact.tier);
            facts.side.push(fact.side);
            facts.created.push(fact.created_at.timestamp());
            facts.reached.extend(
                reached_at(&fact.moved_to)
                    .into_iter()
                    .map(|at| at.map_or(NEVER, |t| t.timestamp())),
            );
        })?;
        if let Some(follow_up) = rules.commitments() {
            crate::report::visit_clocks(store, follow_up, now, &mut |person, clocks| {
                for clock in clocks {
                    if clock.state == ClockState::Overdue {
                        facts.overdue.push(Overdue {
                            person: person.id,
                            name: person.display_name(),
                            owner: follow_up.owner(person).map(str::to_string),
                            sla: clock.sla,
                            tier: clock.tier,
                            due_at: clock.due_at,
                        });
                    }
                }
            })?;
            facts.overdue.sort_by_key(|o| (o.due_at, o.person));
        }
        facts.took = started.elapsed();
        Ok(facts)
    }

    pub(super) fn persons(&self) -> usize {
        self.source.len()
    }

    /// Source names, most persons first.
    pub(super) fn source_names(&self) -> Vec<String> {
        let mut counts = vec![0u64; self.sources.len()];
        for s in &self.source {
            counts[*s as usize] += 1;
        }
        let mut named: Vec<(u64, String)> = self
            .sources
            .iter()
            .zip(counts)
            .map(|(name, n)| {
                (
                    n,
                    name.clone()
                        .unwrap_or_else(|| crate::report::NO_SOURCE.into()),
                )
            })
            .collect();
        named.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        named.into_iter().map(|(_, name)| name).collect()
    }

    /// The funnel page's figures for `filter`, as `report funnel --by source [--since]` counts
    /// them, and the trend of the `TREND_WEEKS` weeks up to `now`.
    pub(super) fn view(&self, filter: &Filter, now: DateTime<Utc>) -> FunnelView {
        let mut builder = FunnelBuilder::new(FunnelOptions {
            by_source: true,
            since: filter.since,
        });
        let ladder = Ladder::current();
        let tiers: Vec<Tier> = ladder.tiers().collect();
        let wanted: Option<u32> = filter.source.as_deref().map(|name| {
            self.sources
                .iter()
                .position(|s| s.as_deref().unwrap_or(crate::report::NO_SOURCE) == name)
                .map_or(u32::MAX, |i| i as u32)
        });
        let this_monday = monday_of(now.date_naive());
        let first_monday = this_monday - Duration::weeks(TREND_WEEKS as i64 - 1);
        let first = first_monday
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp();
        let rank = |t: Option<Tier>| t.and_then(|t| tiers.iter().position(|x| *x == t));
        let mut new_by_tier = vec![vec![0u64; tiers.len() + 1]; TREND_WEEKS];
        let mut leads = vec![[0u64; 3]; TREND_WEEKS];
        let at = |rung: Option<usize>, row: &[i64]| rung.map_or(NEVER, |r| row[r]);
        let (lead, mql, sql) = (
            rank(Some(Tier::LEAD)),
            rank(Some(Tier::MQL)),
            rank(Some(Tier::SQL)),
        );
        let mut reached = vec![None; self.rungs];
        for i in 0..self.source.len() {
            let source = self.source[i];
            let row = &self.reached[i * self.rungs..(i + 1) * self.rungs];
            if builder.wants_reached() {
                for (slot, t) in reached.iter_mut().zip(row) {
                    *slot = (*t != NEVER)
                        .then(|| DateTime::from_timestamp(*t, 0))
                        .flatten();
                }
            }
            builder.add_reached(
                self.sources[source as usize].as_deref(),
                self.tier[i],
                self.side[i],
                builder.wants_reached().then_some(&reached),
            );
            if wanted.is_some_and(|w| w != source) {
                continue;
            }
            if self.created[i] >= first {
                let week = ((self.created[i] - first) / (7 * 86_400)) as usize;
                if week < TREND_WEEKS {
                    let slot = rank(self.tier[i]).unwrap_or(tiers.len());
                    new_by_tier[week][slot] += 1;
                }
            }
            let lead_at = at(lead, row);
            if lead_at != NEVER && lead_at >= first {
                let week = ((lead_at - first) / (7 * 86_400)) as usize;
                if week < TREND_WEEKS {
                    leads[week][0] += 1;
                    leads[week][1] += u64::from(at(mql, row) != NEVER);
                    leads[week][2] += u64::from(at(sql, row) != NEVER);
                }
            }
        }
        let mut all = builder.finish();
        let by_source = all.by_source.take().unwrap_or_default();
        let funnel = match &filter.source {
            None => all,
            Some(name) => by_source.get(name).cloned().unwrap_or_else(|| {
                FunnelBuilder::new(FunnelOptions {
                    by_source: false,
                    since: filter.since,
                })
                .finish()
            }),
        };
        let weeks = (0..TREND_WEEKS)
            .map(|w| Week {
                monday: first_monday + Duration::weeks(w as i64),
                new_by_tier: tiers
                    .iter()
                    .map(|t| Some(*t))
                    .chain([None])
                    .zip(new_by_tier[w].iter().copied())
                    .collect(),
                leads: leads[w][0],
                to_mql: leads[w][1],
                to_sql: leads[w][2],
            })
            .collect();
        FunnelView {
            funnel,
            by_source,
            weeks,
        }
    }
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}
