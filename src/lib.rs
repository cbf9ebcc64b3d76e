//! leadsync: pulls contacts from CRMs and spreadsheet drops, reconciles them into one canonical
//! record per person, qualifies each person into funnel tiers and pushes the stages back.
#![deny(unreachable_pub)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod explain;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod store;

pub use leadsync_connector_core as connector;

/// mimalloc instead of the system allocator, for every binary that links leadsync (the daemon,
/// tests and benchmarks alike): the ingest path allocates and frees many small strings per
/// record, where glibc's free lists and consolidation cost measurable CPU. It is built without
/// transparent huge pages (`no_thp`): each huge page mimalloc touches afresh is 2 MiB the kernel
/// must clear, which cost the HubSpot pull a fifth of its system time (and varied from run to
/// run with the kernel's memory fragmentation).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mimalloc.h` (v3), which the Rust bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long memory mimalloc no longer uses stays mapped before it is returned to the kernel, in
/// milliseconds (mimalloc's default is 1 s).
pub const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Tunes the allocator for a long-running sync: memory freed between one page and the next is
/// kept for [`PURGE_DELAY_MS`] instead of 1 s, so a pull reuses it instead of handing it back
/// to the kernel and faulting it in afresh (each fault a page the kernel must clear). An idle
/// daemon still returns it after the delay. Call first thing in `main`: mimalloc's option
/// setter is not thread safe.
pub fn tune_allocator() {
    // SAFETY: sets a plain integer option; called before other threads exist.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tune_allocator_sets_mimallocs_purge_delay() {
        // SAFETY: reads an integer option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        // The option is the one mimalloc v3 documents as `purge_delay`, 1,000 ms by default...
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(), 1_000);
        }
        // ...and tuning sets it.
        super::tune_allocator();
        assert_eq!(get(), super::PURGE_DELAY_MS);
    }
}
