//! The stored JSON of golden records and source values, written directly.
//!
//! Every pulled record writes its person's golden record and its own values as JSON; through
//! serde_json's generic serializer that was about a tenth of a pull's CPU. These writers append
//! the very bytes `serde_json::to_string` writes for the same values (the tests hold them to it),
//! so what is stored, and everything that reads it, is unchanged.

use super::person::{Demotion, FieldValue, Person, Provenance};
use super::time::rfc3339_into;
use chrono::SecondsFormat;
use leadsync_connector_core::{Field, Tier};

/// `serde_json::to_string(person)`.
pub fn person(p: &Person) -> String {
    // Measurement only: serde_json itself, to re-measure this copy's gain
    // (docs/hand-written-copies.md).
    if crate_path() {
        return serde_json::to_string(p).expect("a person serialises");
    }
    let mut out = String::with_capacity(256 + 64 * p.fields.len() + 96 * p.sources.len());
    out.push_str("{\"id\":");
    out.push_str(itoa::Buffer::new().format(p.id));
    out.push_str(",\"fields\":{");
    for (i, (field, values)) in p.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field_name(&mut out, field);
        out.push_str(":[");
        for (j, FieldValue { value, source }) in values.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"v\":");
            string(&mut out, value);
            out.push_str(",\"s\":");
            out.push_str(itoa::Buffer::new().format(*source));
            out.push('}');
        }
        out.push(']');
    }
    out.push_str("},\"sources\":[");
    for (i, s) in p.sources.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        provenance(&mut out, s);
    }
    out.push_str("],\"tier\":");
    tier(&mut out, p.tier);
    if let Some(side) = p.side {
        out.push_str(",\"side\":");
        tier(&mut out, Some(side));
    }
    out.push_str(",\"rules_version\":");
    match &p.rules_version {
        Some(v) => string(&mut out, v),
        None => out.push_str("null"),
    }
    out.push_str(",\"demotion\":");
    match &p.demotion {
        Some(d) => demotion(&mut out, d),
        None => out.push_str("null"),
    }
    out.push_str(",\"created_at\":");
    time(&mut out, &p.created_at);
    out.push_str(",\"updated_at\":");
    time(&mut out, &p.updated_at);
    out.push('}');
    out
}

/// `serde_json::to_string(values)` for a source record's values.
pub fn values(values: &[(Field, String)]) -> String {
    if crate_path() {
        return serde_json::to_string(values).expect("values serialise");
    }
    let mut out =
        String::with_capacity(2 + values.iter().map(|(_, v)| v.len() + 24).sum::<usize>());
    out.push('[');
    for (i, (field, value)) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        field_name(&mut out, field);
        out.push(',');
        string(&mut out, value);
        out.push(']');
    }
    out.push(']');
    out
}

/// Measurement only (feature `compare-copies`): `LEADSYNC_COMPARE=serde-json`, read once.
fn crate_path() -> bool {
    #[cfg(feature = "compare-copies")]
    {
        static SERDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *SERDE.get_or_init(|| std::env::var("LEADSYNC_COMPARE").is_ok_and(|v| v == "serde-json"))
    }
    #[cfg(not(feature = "compare-copies"))]
    {
        false
    }
}

fn provenance(out: &mut String, s: &Provenance) {
    out.push_str("{\"connector\":");
    string(out, &s.connector);
    out.push_str(",\"locator\":");
    string(out, &s.locator);
    out.push_str(",\"observed_at\":");
    time(out, &s.observed_at);
    out.push('}');
}

fn demotion(out: &mut String, d: &Demotion) {
    out.push_str("{\"from\":");
    tier(out, Some(d.from));
    out.push_str(",\"to\":");
    tier(out, d.to);
    out.push_str(",\"rules_version\":");
    string(out, &d.rules_version);
    out.push_str(",\"at\":");
    time(out, &d.at);
    out.push('}');
}

fn tier(out: &mut String, t: Option<Tier>) {
    match t {
        // Tier names are lower-case ASCII words: nothing to escape.
        Some(t) => {
            out.push('"');
            out.push_str(t.as_str());
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

fn time(out: &mut String, t: &chrono::DateTime<chrono::Utc>) {
    // RFC 3339 is digits and separators: nothing to escape.
    out.push('"');
    rfc3339_into(out, t, SecondsFormat::AutoSi);
    out.push('"');
}

fn field_name(out: &mut String, field: &Field) {
    match field {
        Field::Custom(name) => {
            out.push_str("\"custom.");
            escaped(out, name);
            out.push('"');
        }
        // The standard names are lower-case words and underscores: nothing to escape.
        standard => {
            debug_assert!(
                standard
                    .as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            out.push('"');
            out.push_str(standard.as_str());
            out.push('"');
        }
    }
}

/// A JSON string, quoted and escaped as serde_json escapes it.
fn string(out: &mut String, s: &str) {
    out.push('"');
    escaped(out, s);
    out.push('"');
}

/// serde_json's escapes: `\"`, `\\`, the five short control escapes, other control characters
/// as `\u00XX` (lower-case hex); everything else, non-ASCII included, as it is.
fn escaped(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // Most values need no escape: one branch-free pass over the bytes (it vectorises) tells.
    let plain = !bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        // Every byte that needs escaping is ASCII, so `start..i` is whole characters.
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0c => out.push_str("\\f"),
            0x0d => out.push_str("\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn text() -> impl Strategy<Value = String> {
        // Control characters, quotes, backslashes, DEL, non-ASCII and astral characters.
        prop_oneof![
            "[a-z@. ]{0,12}",
            proptest::collection::vec(
                prop_oneof![
                    (0u32..0x80).prop_map(|c| char::from_u32(c).unwrap()),
                    Just('"'),
                    Just('\\'),
                    Just('é'),
                    Just('\u{2028}'),
                    Just('😀'),
                ],
                0..16
            )
            .prop_map(|cs| cs.into_iter().collect()),
        ]
    }

    fn when() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..4_000_000_000, 0u32..4).prop_flat_map(|(secs, form)| {
            let nanos = match form {
                0 => Just(0u32).boxed(),
                1 => (0u32..1000).prop_map(|n| n * 1_000_000).boxed(),
                2 => (0u32..1_000_000).prop_map(|n| n * 1000).boxed(),
                _ => (0u32..1_000_000_000).boxed(),
            };
            nanos.prop_map(move |n| Utc.timestamp_opt(secs, n).unwrap())
        })
    }

    fn any_field() -> impl Strategy<Value = Field> {
        prop_oneof![
            proptest::sample::select(Field::BUILT_IN.to_vec()),
            text().prop_map(Field::Custom),
        ]
    }

    fn any_tier() -> impl Strategy<Value = Option<Tier>> {
        proptest::option::of(proptest::sample::select(Tier::STANDARD.to_vec()))
    }

    fn any_person() -> impl Strategy<Value = Person> {
        let fields = proptest::collection::btree_map(
            any_field(),
            proptest::collection::vec(
                (text(), 0u32..5).prop_map(|(value, source)| FieldValue { value, source }),
                0..3,
            ),
            0..8,
        );
        let sources = proptest::collection::vec(
            (text(), text(), when()).prop_map(|(connector, locator, observed_at)| Provenance {
                connector,
                locator,
                observed_at,
            }),
            0..3,
        );
        let demotion = proptest::option::of(
            (
                proptest::sample::select(Tier::STANDARD.to_vec()),
                any_tier(),
                text(),
                when(),
            )
                .prop_map(|(from, to, rules_version, at)| Demotion {
                    from,
                    to,
                    rules_version,
                    at,
                }),
        );
        (
            any::<i64>(),
            fields,
            sources,
            (any_tier(), any_tier()),
            proptest::option::of(text()),
            demotion,
            when(),
            when(),
        )
            .prop_map(
                |(
                    id,
                    fields,
                    sources,
                    (tier, side),
                    rules_version,
                    demotion,
                    created_at,
                    updated_at,
                )| {
                    Person {
                        id,
                        fields,
                        sources,
                        tier,
                        side,
                        rules_version,
                        demotion,
                        created_at,
                        updated_at,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn a_person_is_written_as_serde_json_writes_it(p in any_person()) {
            prop_assert_eq!(person(&p), serde_json::to_string(&p).unwrap());
        }

        #[test]
        fn values_are_written_as_serde_json_writes_them(
            v in proptest::collection::vec((any_field(), text()), 0..10)
        ) {
            prop_assert_eq!(values(&v), serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn every_control_character_is_escaped_as_serde_json_escapes_it() {
        let all: String = (0u32..0x80).map(|c| char::from_u32(c).unwrap()).collect();
        let p = Person {
            fields: BTreeMap::from([(
                Field::Custom(all.clone()),
                vec![FieldValue {
                    value: all.clone(),
                    source: 0,
                }],
            )]),
            ..Person::new(7, Utc.timestamp_opt(0, 0).unwrap())
        };
        assert_eq!(person(&p), serde_json::to_string(&p).unwrap());
        let v = vec![(Field::Email, all)];
        assert_eq!(values(&v), serde_json::to_string(&v).unwrap());
    }
}
