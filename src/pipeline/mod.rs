//! The steps of the flow, one file each: the connectors (dispatch and push targets), ingest (a
//! page into stored, linked, merged and qualified persons), qualify (THE one place a tier is
//! decided, applied, recorded and its pushes planned), the outbox (plan, drain) and the cycle
//! that runs them. `plan` is the report of what qualifying did or would do.

pub mod connectors;
pub mod cycle;
pub mod ingest;
pub mod matcher;
pub mod outbox;
pub mod plan;
pub mod qualify;

pub use connectors::{AnyConnector, PushTarget, crm_id_columns, push_targets, select};
pub use cycle::{ConnectorRun, Cycle, pull_cycle, push_all, run_once};
pub use ingest::{PageIngest, PageStats, Progress, StoreSink};
pub use outbox::{DrainError, PushStats};
pub use plan::{Moves, Plan, kept_downgrades};
pub use qualify::requalify;
