//! The contract between leadsync's core and its connectors, and the record types they exchange.
//!
//! This crate does no I/O. A connector (HubSpot, spreadsheet drops, …) turns its source into
//! [`Page`]s of [`SourceRecord`]s and a [`Cursor`]; the core stores each page and its cursor in one
//! transaction, resolves identities, qualifies persons and hands stage changes back to the
//! connectors as [`PushItem`]s.
#![deny(unreachable_pub)]

mod connector;
mod cursor;
pub mod email;
mod field;
mod record;
mod tier;

pub use connector::{
    Connector, ConnectorError, ConnectorErrorKind, Health, PageSink, PullStats, PushItem,
    PushOutcome,
};
pub use cursor::{Cursor, CursorPosition};
pub use field::{Field, FieldParseError};
pub use record::{Locator, Page, RecordReject, SourceRecord};
pub use tier::{Ladder, LadderError, Rung, RungSpec, Stage, Tier, TierParseError};
