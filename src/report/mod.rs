//! Funnel and conversion reports: persons per tier, conversion between adjacent tiers, cohort
//! conversion since a date, and all of it per source.

mod by_source;
mod cohort;
mod funnel;
mod ratio;
mod sla;

pub use by_source::{FunnelBuilder, FunnelOptions, NO_SOURCE};
pub use cohort::{CohortStep, Cohorts, ReachedAt, reached_at};
pub use funnel::Funnel;
pub use sla::{SlaBy, SlaFigures, SlaReport, SlaSummary, sla_report, visit_clocks};
