//! Regions as the phone numbering plan names them: read by the config's check and by identity.

use phonenumber::country::Id;
use std::str::FromStr;

/// The region for an ISO 3166 alpha-2 code, if the numbering plan knows it.
pub fn region(code: &str) -> Option<Id> {
    Id::from_str(&code.trim().to_ascii_uppercase()).ok()
}
