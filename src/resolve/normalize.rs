//! From a source record as stated to canonical values and identity keys.

use super::keys::{EMAIL, EmailFolder, Key, PHONE, crm_kind};
use super::{country, phone, values};
use crate::config::IdentityConfig;
use leadsync_connector_core::{Field, Locator, SourceRecord, Stage, email};
use phonenumber::country::Id;
use std::collections::HashMap;

/// A record's canonical values and its identity keys, strongest key first: the CRM id, then
/// emails, then phones.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub values: Vec<(Field, String)>,
    pub keys: Vec<Key>,
}

/// The custom fields CRM connectors fill with the ids of other records of the same person
/// (`;`-separated): HubSpot's ids merged into a contact; Salesforce's merged-away records and a
/// converted lead's contact (or a contact's converted leads).
pub(super) const LINKED_IDS: [&str; 2] = ["hs_merged_object_ids", leadsync_salesforce::LINKED_IDS];

pub struct Normalizer {
    folder: EmailFolder,
    region: Id,
    /// Per connector whose files carry CRM record ids: the ids' key kind and their field.
    crm_ids: HashMap<String, (&'static str, Field)>,
}

impl Normalizer {
    /// `cfg` has been checked at load, so its region is known.
    pub fn new(cfg: &IdentityConfig) -> Self {
        Normalizer {
            folder: EmailFolder::new(cfg),
            region: phone::region(&cfg.default_region).unwrap_or(Id::US),
            crm_ids: HashMap::new(),
        }
    }

    /// Reads CRM record ids from file rows: for each connector (a spreadsheet inbox), the CRM
    /// connector whose ids its files carry and the field holding them.
    pub fn with_crm_ids(mut self, columns: HashMap<String, (String, Field)>) -> Self {
        self.crm_ids = columns
            .into_iter()
            .map(|(drops, (crm, field))| (drops, (crm_kind(&crm), field)))
            .collect();
        self
    }

    pub fn normalize(&self, connector: &str, rec: &SourceRecord) -> Normalized {
        let mut out = Normalized {
            values: Vec::with_capacity(rec.values.len()),
            keys: Vec::new(),
        };
        if let Locator::Crm { id } = &rec.locator {
            let kind = crm_kind(connector);
            out.keys.push(Key {
                kind,
                value: id.clone(),
            });
            // A CRM merge gives the survivor a new id and lists the old ones: they are keys of
            // the same person, so the person's link moves to the survivor. (Matched by name
            // rather than `rec.all`, which would need a `Field::Custom` built for every record.)
            let merged_ids = rec.values.iter().filter(
                |(f, _)| matches!(f, Field::Custom(name) if LINKED_IDS.contains(&name.as_str())),
            );
            for (_, merged) in merged_ids {
                for old in merged
                    .split(';')
                    .map(str::trim)
                    .filter(|v| !v.is_empty() && v != id)
                {
                    out.keys.push(Key {
                        kind,
                        value: old.to_string(),
                    });
                }
            }
        }
        // A file row's CRM record id (a HubSpot export's `Record ID`): the strongest key it has.
        if let Locator::File { .. } = &rec.locator
            && let Some((kind, field)) = self.crm_ids.get(connector)
        {
            for id in rec.all(field).map(str::trim) {
                if !id.is_empty()
                    && !id.contains(char::is_whitespace)
                    && !out.keys.iter().any(|k| k.kind == *kind && k.value == id)
                {
                    out.keys.push(Key {
                        kind,
                        value: id.to_string(),
                    });
                }
            }
        }
        let region = rec
            .get(&Field::Country)
            .and_then(country::code)
            .and_then(phone::region)
            .unwrap_or(self.region);
        let mut phones = Vec::new();
        let mut full_name = None;
        for (field, raw) in &rec.values {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            match field {
                Field::Email => self.push_email(&mut out, raw),
                Field::FirstName | Field::LastName if email::looks_like_email(raw) => {
                    // An address typed into a name field is an address, not a name.
                    self.push_email(&mut out, raw);
                }
                Field::FullName if email::looks_like_email(raw) => self.push_email(&mut out, raw),
                Field::FullName => full_name = Some(raw),
                Field::Phone => match phone::to_e164(raw, region) {
                    Some(e164) => {
                        if !phones.contains(&e164) {
                            out.keys.push(Key {
                                kind: PHONE,
                                value: e164.clone(),
                            });
                            phones.push(e164.clone());
                            out.values.push((Field::Phone, e164));
                        }
                    }
                    None => out
                        .values
                        .push((Field::Custom("phone_unparsed".into()), raw.to_string())),
                },
                Field::Country => {
                    let v =
                        country::code(raw).map_or_else(|| values::collapse(raw), str::to_string);
                    out.values.push((Field::Country, v));
                }
                Field::CreatedAt | Field::LastActivityAt => {
                    let v = crate::model::time::parse_datetime(raw)
                        .map(|t| crate::model::time::rfc3339(&t, chrono::SecondsFormat::Secs));
                    match v {
                        Some(v) => out.values.push((field.clone(), v)),
                        None => out
                            .values
                            .push((Field::Custom(format!("{field}_unparsed")), raw.to_string())),
                    }
                }
                Field::Consent => {
                    if let Some(c) = values::parse_consent(raw) {
                        out.values.push((Field::Consent, c.to_string()));
                    }
                }
                Field::CrmStage => {
                    let v = match Stage::parse(raw) {
                        Stage::Tier(t) => t.as_str().to_string(),
                        Stage::Other(o) => o,
                    };
                    out.values.push((Field::CrmStage, v));
                }
                Field::Source => out.values.push((Field::Source, values::source_key(raw))),
                other => out.values.push((other.clone(), values::collapse(raw))),
            }
        }
        let has = |f: &Field, out: &Normalized| out.values.iter().any(|(g, _)| g == f);
        if let Some(full) = full_name
            && !has(&Field::FirstName, &out)
            && !has(&Field::LastName, &out)
        {
            let (first, last) = values::split_name(full);
            out.values.extend(first.map(|f| (Field::FirstName, f)));
            out.values.extend(last.map(|l| (Field::LastName, l)));
        }
        out
    }

    fn push_email(&self, out: &mut Normalized, raw: &str) {
        match email::normalize(raw) {
            Ok(canonical) => {
                let key = self.folder.fold(&canonical);
                if !out.keys.iter().any(|k| k.kind == EMAIL && k.value == key) {
                    out.keys.push(Key {
                        kind: EMAIL,
                        value: key,
                    });
                    out.values.push((Field::Email, canonical));
                }
            }
            Err(_) => out
                .values
                .push((Field::Custom("email_invalid".into()), raw.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn record(values: &[(Field, &str)]) -> SourceRecord {
        SourceRecord {
            locator: Locator::File {
                hash: "h".into(),
                name: "f.csv".into(),
                row: 2,
            },
            observed_at: Utc::now(),
            values: values
                .iter()
                .map(|(f, v)| (f.clone(), v.to_string()))
                .collect(),
            archived: false,
        }
    }

    #[test]
    fn variants_of_one_person_give_the_same_keys() {
        let n = Normalizer::new(&IdentityConfig::default());
        let a = n.normalize(
            "s",
            &record(&[
                (Field::Email, " Jane.Doe+promo@GMail.com"),
                (Field::Phone, "(415) 555-0123"),
            ]),
        );
        let b = n.normalize(
            "s",
            &record(&[
                (Field::Email, "janedoe@gmail.com"),
                (Field::Phone, "+1 415 555 0123"),
            ]),
        );
        assert_eq!(a.keys, b.keys);
        assert_eq!(
            a.keys[0],
            Key {
                kind: EMAIL,
                value: "janedoe@gmail.com".into()
            }
        );
        // The value keeps the address as written (canonical case), the key is folded.
        assert_eq!(
            a.values[0],
            (Field::Email, "jane.doe+promo@gmail.com".into())
        );
    }

    #[test]
    fn the_record_country_decides_how_a_national_phone_reads() {
        let n = Normalizer::new(&IdentityConfig::default());
        let r = n.normalize(
            "s",
            &record(&[
                (Field::Phone, "020 7946 0018"),
                (Field::Country, "United Kingdom"),
            ]),
        );
        assert_eq!(
            r.keys,
            vec![Key {
                kind: PHONE,
                value: "+442079460018".into()
            }]
        );
        assert!(r.values.contains(&(Field::Country, "GB".into())));
    }

    #[test]
    fn crm_ids_come_first_and_names_are_tidied() {
        let n = Normalizer::new(&IdentityConfig::default());
        let mut rec = record(&[
            (Field::FullName, "Doe, Jane"),
            (Field::FirstName, "jane@acme.io"),
            (Field::CrmStage, "Marketing Qualified Lead"),
        ]);
        rec.locator = Locator::Crm { id: "901".into() };
        let r = n.normalize("hubspot", &rec);
        assert_eq!(
            r.keys[0],
            Key {
                kind: "crm:hubspot",
                value: "901".into()
            }
        );
        assert_eq!(
            r.keys[1],
            Key {
                kind: EMAIL,
                value: "jane@acme.io".into()
            }
        );
        assert!(r.values.contains(&(Field::FirstName, "Jane".into())));
        assert!(r.values.contains(&(Field::LastName, "Doe".into())));
        assert!(r.values.contains(&(Field::CrmStage, "mql".into())));
    }
}
