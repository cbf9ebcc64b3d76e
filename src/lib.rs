//! leadsync: pulls contacts from CRMs and spreadsheet drops, reconciles them into one canonical
//! record per person, qualifies each person into funnel tiers and pushes the stages back.
#![deny(unreachable_pub)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod explain;
pub mod ingest;
pub mod model;
pub mod plan;
pub mod push;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod sample;
pub mod store;
pub mod sync;

pub use leadsync_connector_core as connector;

/// mimalloc instead of the system allocator, for every binary that links leadsync (the daemon,
/// tests and benchmarks alike): the ingest path allocates and frees many small strings per
/// record, where glibc's free lists and consolidation cost measurable CPU. It is built without
/// transparent huge pages (`no_thp`): each huge page mimalloc touches afresh is 2 MiB the kernel
/// must clear, which cost the HubSpot pull a fifth of its system time (and varied from run to
/// run with the kernel's memory fragmentation).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
