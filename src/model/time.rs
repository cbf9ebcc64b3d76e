//! Timestamps as text: read from the spellings real exports use, and written exactly as chrono
//! spells them, without going through `fmt`.
//!
//! Every stored person carries several timestamps and every stored row at least one: through
//! chrono's `Display` (and serde_json's escaping writer) each costs about as much as the rest of
//! a small row. These write the same bytes directly; `tests` hold them to chrono.

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc,
};

/// Parses the date and time spellings real exports use, into UTC. Ambiguous `a/b/yy` dates are
/// read month first (US CRMs), unless the first number cannot be a month.
pub fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // Epoch milliseconds (HubSpot on the wire) or seconds.
    if s.len() >= 9 && s.len() <= 13 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return if s.len() == 13 {
            Utc.timestamp_millis_opt(n).single()
        } else {
            Utc.timestamp_opt(n, 0).single()
        };
    }
    const DATETIMES: &[&str] = &[
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        // Two-digit years first: `%Y` would read `24` as the year 24.
        "%m/%d/%y %H:%M:%S",
        "%m/%d/%y %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        "%d/%m/%y %H:%M",
        "%d/%m/%Y %H:%M",
        "%d-%m-%Y %H:%M",
        "%d.%m.%Y %H:%M",
        "%d %b, %Y %H:%M:%S",
        "%d %b %Y %H:%M:%S",
        "%b %d, %Y %H:%M",
    ];
    for f in DATETIMES {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    const DATES: &[&str] = &[
        "%Y-%m-%d",
        "%m/%d/%y",
        "%m/%d/%Y",
        "%d/%m/%y",
        "%d/%m/%Y",
        "%d-%m-%Y",
        "%d.%m.%Y",
        "%d %b, %Y",
        "%d %b %Y",
        "%b %d, %Y",
        "%B %d, %Y",
        "%d %B %Y",
    ];
    for f in DATES {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

/// `t.to_rfc3339_opts(form, true)` for `Secs`, `Millis` and `AutoSi` (chrono's serde spelling);
/// other forms, years outside 0–9999 and leap seconds are left to chrono.
pub fn rfc3339(t: &DateTime<Utc>, form: SecondsFormat) -> String {
    let mut out = String::with_capacity(30);
    rfc3339_into(&mut out, t, form);
    out
}

/// [`rfc3339`], appended to `out`.
pub fn rfc3339_into(out: &mut String, t: &DateTime<Utc>, form: SecondsFormat) {
    // UTC's local time is the naive time: read the fields there (each accessor of the zoned
    // value would apply the offset again).
    let n = t.naive_utc();
    let year = n.year();
    let nano = n.nanosecond();
    if !(0..=9999).contains(&year)
        || nano >= 1_000_000_000
        || !matches!(
            form,
            SecondsFormat::Secs | SecondsFormat::Millis | SecondsFormat::AutoSi
        )
    {
        out.push_str(&t.to_rfc3339_opts(form, true));
        return;
    }
    let mut b = [0u8; 30];
    let digits = |b: &mut [u8], mut v: u32| {
        for slot in b.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut b[0..4], year as u32);
    b[4] = b'-';
    digits(&mut b[5..7], n.month());
    b[7] = b'-';
    digits(&mut b[8..10], n.day());
    b[10] = b'T';
    digits(&mut b[11..13], n.hour());
    b[13] = b':';
    digits(&mut b[14..16], n.minute());
    b[16] = b':';
    digits(&mut b[17..19], n.second());
    let (fraction, width) = match form {
        SecondsFormat::Secs => (0, 0),
        SecondsFormat::Millis => (nano / 1_000_000, 3),
        _ if nano == 0 => (0, 0),
        _ if nano.is_multiple_of(1_000_000) => (nano / 1_000_000, 3),
        _ if nano.is_multiple_of(1_000) => (nano / 1_000, 6),
        _ => (nano, 9),
    };
    let mut end = 19;
    if width > 0 {
        b[19] = b'.';
        digits(&mut b[20..20 + width], fraction);
        end = 20 + width;
    }
    b[end] = b'Z';
    out.push_str(std::str::from_utf8(&b[..=end]).expect("ASCII digits and separators"));
}

/// Serialises as chrono's `Serialize` does (RFC 3339, `AutoSi`, `Z`): for `serialize_with`.
pub fn serialize<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(t, SecondsFormat::AutoSi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn spelled_as_chrono_spells_them() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut times: Vec<DateTime<Utc>> = vec![
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            // A leap second.
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap(),
        ];
        for _ in 0..20_000 {
            let secs = (next() % 400_000_000_000) as i64 - 62_000_000_000;
            // Whole seconds, millis, micros and nanos in turn.
            let nanos = match next() % 4 {
                0 => 0,
                1 => (next() % 1000) as u32 * 1_000_000,
                2 => (next() % 1_000_000) as u32 * 1000,
                _ => (next() % 1_000_000_000) as u32,
            };
            times.push(Utc.timestamp_opt(secs, nanos).unwrap());
        }
        for t in &times {
            for form in [
                SecondsFormat::Secs,
                SecondsFormat::Millis,
                SecondsFormat::AutoSi,
                SecondsFormat::Micros,
            ] {
                assert_eq!(rfc3339(t, form), t.to_rfc3339_opts(form, true), "{t:?}");
            }
            let ours = serde_json::to_string(&Wrapped(*t)).unwrap();
            assert_eq!(ours, serde_json::to_string(t).unwrap());
        }
    }

    #[derive(serde::Serialize)]
    struct Wrapped(#[serde(serialize_with = "serialize")] DateTime<Utc>);
}
