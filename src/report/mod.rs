//! Funnel and conversion reports.

mod funnel;

pub use funnel::Funnel;
