//! Countries as ISO 3166 alpha-2 codes, however a form spelled them.

/// Common spellings, lower-cased with punctuation removed, and their codes. Two-letter codes
/// that the phone numbering plan knows are accepted as they are.
const ALIASES: &[(&str, &str)] = &[
    ("us", "US"),
    ("usa", "US"),
    ("unitedstates", "US"),
    ("unitedstatesofamerica", "US"),
    ("america", "US"),
    ("estadosunidos", "US"),
    ("etatsunis", "US"),
    ("uk", "GB"),
    ("gb", "GB"),
    ("unitedkingdom", "GB"),
    ("greatbritain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("northernireland", "GB"),
    ("britain", "GB"),
    ("germany", "DE"),
    ("deutschland", "DE"),
    ("allemagne", "DE"),
    ("france", "FR"),
    ("spain", "ES"),
    ("espana", "ES"),
    ("españa", "ES"),
    ("italy", "IT"),
    ("italia", "IT"),
    ("netherlands", "NL"),
    ("thenetherlands", "NL"),
    ("holland", "NL"),
    ("nederland", "NL"),
    ("belgium", "BE"),
    ("belgie", "BE"),
    ("belgië", "BE"),
    ("belgique", "BE"),
    ("switzerland", "CH"),
    ("schweiz", "CH"),
    ("suisse", "CH"),
    ("austria", "AT"),
    ("osterreich", "AT"),
    ("österreich", "AT"),
    ("ireland", "IE"),
    ("portugal", "PT"),
    ("poland", "PL"),
    ("polska", "PL"),
    ("sweden", "SE"),
    ("sverige", "SE"),
    ("norway", "NO"),
    ("norge", "NO"),
    ("denmark", "DK"),
    ("danmark", "DK"),
    ("finland", "FI"),
    ("canada", "CA"),
    ("mexico", "MX"),
    ("méxico", "MX"),
    ("brazil", "BR"),
    ("brasil", "BR"),
    ("argentina", "AR"),
    ("chile", "CL"),
    ("colombia", "CO"),
    ("australia", "AU"),
    ("newzealand", "NZ"),
    ("india", "IN"),
    ("china", "CN"),
    ("japan", "JP"),
    ("singapore", "SG"),
    ("southkorea", "KR"),
    ("korea", "KR"),
    ("israel", "IL"),
    ("southafrica", "ZA"),
    ("unitedarabemirates", "AE"),
    ("uae", "AE"),
    ("turkey", "TR"),
    ("türkiye", "TR"),
];

/// The ISO code for a country as written, if it is recognised.
pub(super) fn code(raw: &str) -> Option<&'static str> {
    let key: String = raw
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if let Some((_, code)) = ALIASES.iter().find(|(alias, _)| *alias == key) {
        return Some(code);
    }
    if key.len() == 2 {
        let upper = key.to_ascii_uppercase();
        if super::phone::region(&upper).is_some() {
            return ALPHA2.iter().find(|c| **c == upper).copied();
        }
    }
    None
}

/// Codes we can hand out as `&'static str` for two-letter input.
const ALPHA2: &[&str] = &[
    "AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "AZ", "BA", "BB", "BD", "BE", "BG",
    "BH", "BO", "BR", "BS", "BY", "CA", "CH", "CL", "CN", "CO", "CR", "CY", "CZ", "DE", "DK", "DO",
    "DZ", "EC", "EE", "EG", "ES", "FI", "FR", "GB", "GE", "GH", "GR", "GT", "HK", "HN", "HR", "HU",
    "ID", "IE", "IL", "IN", "IQ", "IR", "IS", "IT", "JM", "JO", "JP", "KE", "KR", "KW", "KZ", "LB",
    "LK", "LT", "LU", "LV", "MA", "MT", "MX", "MY", "NG", "NL", "NO", "NP", "NZ", "OM", "PA", "PE",
    "PH", "PK", "PL", "PR", "PT", "PY", "QA", "RO", "RS", "RU", "SA", "SE", "SG", "SI", "SK", "SV",
    "TH", "TN", "TR", "TW", "UA", "UG", "US", "UY", "UZ", "VE", "VN", "ZA",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_spellings_one_country() {
        for raw in [
            "US",
            "usa",
            "U.S.A.",
            "United States",
            "united states of america",
            "America",
            " u.s. ",
            "Estados Unidos",
            "us",
        ] {
            assert_eq!(code(raw), Some("US"), "{raw}");
        }
        assert_eq!(code("Deutschland"), Some("DE"));
        assert_eq!(code("Select"), None);
        assert_eq!(code("Atlantis"), None);
    }
}
