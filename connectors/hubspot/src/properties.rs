//! A contact's `properties` object, decoded without a string per name and value.
//!
//! A list page holds 100 contacts of ~18 properties each: as a map of owned strings that is
//! ~3,600 allocations a page. Here every name and value of a contact is appended to one buffer
//! and found again by its span.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Properties {
    text: String,
    /// Per property: where its name starts, where its name ends (and its value starts), and
    /// where its value ends. A `null` value is not kept.
    spans: Vec<(u32, u32, u32)>,
}

impl Properties {
    /// The value of `name`; `None` when absent or `null`. The first of repeated names wins.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every (name, value) in the order received; `null` values are not kept.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(a, b, c)| {
            (
                &self.text[a as usize..b as usize],
                &self.text[b as usize..c as usize],
            )
        })
    }

    pub(crate) fn insert(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        self.text.push_str(name);
        let mid = self.text.len();
        self.text.push_str(value);
        self.spans
            .push((start as u32, mid as u32, self.text.len() as u32));
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Properties {
    fn from(pairs: [(&str, &str); N]) -> Self {
        let mut p = Properties::default();
        for (name, value) in pairs {
            p.insert(name, value);
        }
        p
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PropertiesVisitor)
    }
}

struct PropertiesVisitor;

impl<'de> Visitor<'de> for PropertiesVisitor {
    type Value = Properties;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of contact properties")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Properties, A::Error> {
        let mut p = Properties {
            text: String::with_capacity(512),
            spans: Vec::with_capacity(map.size_hint().unwrap_or(20)),
        };
        loop {
            let start = p.text.len();
            if map.next_key_seed(Append(&mut p.text))?.is_none() {
                break;
            }
            let mid = p.text.len();
            if map.next_value_seed(Append(&mut p.text))? {
                p.spans
                    .push((span(start)?, span(mid)?, span(p.text.len())?));
            } else {
                p.text.truncate(start); // null: as if absent
            }
        }
        Ok(p)
    }
}

fn span<E: de::Error>(at: usize) -> Result<u32, E> {
    u32::try_from(at).map_err(|_| E::custom("contact properties larger than 4 GiB"))
}

/// Appends a string (or a scalar, as text) to the buffer; `false` for `null`.
struct Append<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for Append<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Append<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property name or value: text, a number, a boolean or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.0.push_str(v);
        Ok(true)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.visit_str(if v { "true" } else { "false" })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_nulls_and_escapes() {
        let p: Properties = serde_json::from_str(
            r#"{"email":"a@b.io","phone":null,"firstname":"Zo\u00eb \"Z\"","numemployees":250,
                "hs_is_contact":true,"score":1.5,"company":""}"#,
        )
        .unwrap();
        assert_eq!(p.get("email"), Some("a@b.io"));
        assert_eq!(p.get("phone"), None, "null is absent");
        assert_eq!(p.get("firstname"), Some("Zoë \"Z\""));
        assert_eq!(p.get("numemployees"), Some("250"));
        assert_eq!(p.get("hs_is_contact"), Some("true"));
        assert_eq!(p.get("score"), Some("1.5"));
        assert_eq!(p.get("company"), Some(""));
        assert_eq!(p.get("missing"), None);
        assert_eq!(p.spans.len(), 6, "the null is not kept");
    }

    #[test]
    fn a_nested_value_is_an_error_naming_what_was_expected() {
        let err = serde_json::from_str::<Properties>(r#"{"email":{"x":1}}"#).unwrap_err();
        assert!(
            err.to_string().contains("a property name or value"),
            "{err}"
        );
    }
}
