//! Identity resolution and the golden-record merge: records linked to persons and merged into
//! their golden records. Qualifying them is the pipeline's (`pipeline::qualify`).

mod country;
mod keys;
pub mod matching;
mod merge;
mod normalize;
pub mod phone;
mod resolver;
mod values;

pub use keys::{EMAIL, EmailFolder, Key, PHONE, crm_kind};
pub use merge::Merger;
pub use normalize::{Normalized, Normalizer};
pub use resolver::{ResolveStats, ResolvedPage, Resolver};
pub use values::source_key;
