//! The parts the fake CRMs share, written once so a fix to one fake reaches the other.
//!
//! Each fake keeps what is its own (routes, store, fault kinds, the fields it seeds); this crate
//! holds what is the same in both: the connection a handler can cut ([`conn`]) and the server that
//! serves over it ([`server`]), the queue of scripted faults ([`faults`], generic over each fake's
//! fault enum), the word lists and generator for sample people ([`seed`]), and the hand-written
//! flag parsing of the stand-alone binaries ([`cli`]). Nothing here names a CRM.

#![deny(unreachable_pub)]

pub mod cli;
pub mod conn;
pub mod faults;
pub mod seed;
pub mod server;
