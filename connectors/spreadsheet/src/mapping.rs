//! Which column is which field: the export headers of HubSpot, Salesforce, Zoho, Mailchimp and
//! Pipedrive are recognised without configuration; `columns` in the connector config adds or
//! overrides names.

use crate::config::{HeaderNames, SpreadsheetConfig};
use leadsync_connector_core::Field;
use std::collections::{BTreeMap, HashSet};

/// Header spellings (lower-cased, letters and digits only) and the field they hold.
const BUILT_IN: &[(&str, Field)] = &[
    ("email", Field::Email),
    ("emailaddress", Field::Email),
    ("personemailwork", Field::Email),
    ("personemailhome", Field::Email),
    ("personemailother", Field::Email),
    ("personemail", Field::Email),
    ("workemail", Field::Email),
    ("businessemail", Field::Email),
    ("primaryemail", Field::Email),
    ("homeemail", Field::Email),
    ("privateemail", Field::Email),
    ("contactemail", Field::Email),
    ("mail", Field::Email),
    ("firstname", Field::FirstName),
    ("first", Field::FirstName),
    ("givenname", Field::FirstName),
    ("personfirstname", Field::FirstName),
    ("fname", Field::FirstName),
    ("forename", Field::FirstName),
    ("lastname", Field::LastName),
    ("last", Field::LastName),
    ("surname", Field::LastName),
    ("familyname", Field::LastName),
    ("personlastname", Field::LastName),
    ("lname", Field::LastName),
    ("name", Field::FullName),
    ("fullname", Field::FullName),
    ("personname", Field::FullName),
    ("contactname", Field::FullName),
    ("phone", Field::Phone),
    ("phonenumber", Field::Phone),
    ("telephone", Field::Phone),
    ("tel", Field::Phone),
    ("personphonework", Field::Phone),
    ("personphonehome", Field::Phone),
    ("personphoneother", Field::Phone),
    ("personphonemobile", Field::Phone),
    ("personphone", Field::Phone),
    ("workphone", Field::Phone),
    ("businessphone", Field::Phone),
    ("officephone", Field::Phone),
    ("directphone", Field::Phone),
    ("mobile", Field::Phone),
    ("mobilephone", Field::Phone),
    ("mobilephonenumber", Field::Phone),
    ("mobilenumber", Field::Phone),
    ("cell", Field::Phone),
    ("cellphone", Field::Phone),
    ("company", Field::Company),
    ("companyname", Field::Company),
    ("companyaccount", Field::Company),
    ("organization", Field::Company),
    ("organisation", Field::Company),
    ("personorganization", Field::Company),
    ("accountname", Field::Company),
    ("employer", Field::Company),
    ("jobtitle", Field::JobTitle),
    ("title", Field::JobTitle),
    ("position", Field::JobTitle),
    ("designation", Field::JobTitle),
    ("role", Field::Role),
    ("jobrole", Field::Role),
    ("jobfunction", Field::Role),
    ("persona", Field::Role),
    ("buyingrole", Field::Role),
    ("industry", Field::Industry),
    ("sector", Field::Industry),
    ("vertical", Field::Industry),
    ("companysize", Field::CompanySize),
    ("numberofemployees", Field::CompanySize),
    ("employees", Field::CompanySize),
    ("employeecount", Field::CompanySize),
    ("headcount", Field::CompanySize),
    ("noofemployees", Field::CompanySize),
    ("countryregion", Field::Country),
    ("country", Field::Country),
    ("countryname", Field::Country),
    ("originalsource", Field::Source),
    ("leadsource", Field::Source),
    ("source", Field::Source),
    ("channel", Field::Source),
    ("utmsource", Field::Source),
    ("formkind", Field::FormKind),
    ("form", Field::FormKind),
    ("formtype", Field::FormKind),
    ("formname", Field::FormKind),
    ("signupform", Field::FormKind),
    ("firstconversion", Field::FormKind),
    ("consent", Field::Consent),
    ("optin", Field::Consent),
    ("optintime", Field::Consent),
    ("emailoptin", Field::Consent),
    ("marketingconsent", Field::Consent),
    ("gdprconsent", Field::Consent),
    ("subscribed", Field::Consent),
    ("createdate", Field::CreatedAt),
    ("createddate", Field::CreatedAt),
    ("createdtime", Field::CreatedAt),
    ("createdat", Field::CreatedAt),
    ("datecreated", Field::CreatedAt),
    ("createdon", Field::CreatedAt),
    ("lastactivitydate", Field::LastActivityAt),
    ("lastactivity", Field::LastActivityAt),
    ("lastactivitytime", Field::LastActivityAt),
    ("lastengagementdate", Field::LastActivityAt),
    ("lifecyclestage", Field::CrmStage),
    ("stage", Field::CrmStage),
    ("leadstage", Field::CrmStage),
    ("lifecycle", Field::CrmStage),
    ("contactstage", Field::CrmStage),
    ("leadstatus", Field::LeadStatus),
    ("status", Field::LeadStatus),
    ("hsleadstatus", Field::LeadStatus),
];

/// Cells that mean "no answer" in real exports.
const PLACEHOLDERS: &[&str] = &[
    "null",
    "nil",
    "n/a",
    "#n/a",
    "select",
    "-",
    "--",
    "undefined",
    "(blank)",
];

fn header_key(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The built-in field for a header, if any.
pub fn builtin(header: &str) -> Option<Field> {
    let key = header_key(header);
    BUILT_IN
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, f)| f.clone())
}

/// Whether a cell is empty or a "no answer" placeholder.
pub fn is_blank(cell: &str) -> bool {
    let t = cell.trim();
    t.is_empty() || PLACEHOLDERS.iter().any(|p| t.eq_ignore_ascii_case(p))
}

/// Checks the `columns` table of a connector: keys must be built-in field names.
pub fn check_columns(columns: &BTreeMap<String, HeaderNames>) -> Result<(), String> {
    for (name, headers) in columns {
        let field: Field = name.parse().map_err(|e| format!("{e}"))?;
        if matches!(field, Field::Custom(_)) {
            return Err(format!(
                "`{name}`: map headers to built-in fields only; other columns are kept as custom fields automatically"
            ));
        }
        if headers.iter().any(|h| h.trim().is_empty()) {
            return Err(format!("`{name}`: a header name is empty"));
        }
    }
    Ok(())
}

/// The field of each column of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    pub fields: Vec<Option<Field>>,
}

impl ColumnMap {
    /// Maps `headers`: configured names first, then built-in names. A header repeated verbatim
    /// (a contacts-with-company export repeats `Phone Number` for the company) keeps its field
    /// only at its first occurrence; the repeats become custom fields, so a company's phone never
    /// becomes a person's identity. A single-valued field claimed by two headers keeps the first.
    pub fn new(headers: &[String], cfg: &SpreadsheetConfig) -> Self {
        let configured = configured(cfg);
        let ignored: HashSet<String> = cfg.ignore_columns.iter().map(|h| header_key(h)).collect();
        let mut seen_headers = HashSet::new();
        let mut taken: HashSet<Field> = HashSet::new();
        let mut custom_names = HashSet::new();
        let fields = headers
            .iter()
            .enumerate()
            .map(|(i, header)| {
                let key = header_key(header);
                if ignored.contains(&key) {
                    return None;
                }
                let first_time = seen_headers.insert(key.clone());
                let field = configured.get(&key).cloned().or_else(|| builtin(header));
                match field {
                    Some(f) if first_time && (f.is_multi_valued() || taken.insert(f.clone())) => {
                        Some(f)
                    }
                    _ => Some(Field::Custom(custom_name(header, i, &mut custom_names))),
                }
            })
            .collect();
        ColumnMap { fields }
    }

    pub fn has(&self, field: &Field) -> bool {
        self.fields.iter().any(|f| f.as_ref() == Some(field))
    }

    /// Whether any column can identify a person (email, phone or a name).
    pub fn has_identity(&self) -> bool {
        [
            Field::Email,
            Field::Phone,
            Field::FirstName,
            Field::LastName,
            Field::FullName,
        ]
        .iter()
        .any(|f| self.has(f))
    }
}

fn configured(cfg: &SpreadsheetConfig) -> BTreeMap<String, Field> {
    let mut out = BTreeMap::new();
    for (name, headers) in &cfg.columns {
        if let Ok(field) = name.parse::<Field>() {
            for h in headers.iter() {
                out.insert(header_key(h), field.clone());
            }
        }
    }
    out
}

/// The custom field a column that is no built-in field becomes: `Record ID` → `record_id` (its
/// first occurrence in a file).
pub fn custom_field(header: &str) -> Field {
    Field::Custom(custom_name(header, 0, &mut HashSet::new()))
}

/// `Lead Owner` → `lead_owner`; unique within the file (`phone_number_2` for a repeat).
fn custom_name(header: &str, index: usize, used: &mut HashSet<String>) -> String {
    let mut base = String::new();
    for c in header.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            base.push(c);
        } else if !base.ends_with('_') && !base.is_empty() {
            base.push('_');
        }
    }
    let base = base.trim_end_matches('_').to_string();
    let base = if base.is_empty() {
        format!("column_{}", index + 1)
    } else {
        base
    };
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn map(headers: &[&str]) -> Vec<Option<Field>> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        ColumnMap::new(&headers, &SpreadsheetConfig::for_inbox(Path::new("/x"))).fields
    }

    fn custom(s: &str) -> Option<Field> {
        Some(Field::Custom(s.into()))
    }

    #[test]
    fn hubspot_contacts_with_company_export() {
        let f = map(&[
            "Record ID",
            "First Name",
            "Email",
            "Phone Number",
            "Lifecycle Stage",
            "Create Date",
            "Phone Number",
            "Create Date",
        ]);
        assert_eq!(
            f,
            vec![
                custom("record_id"),
                Some(Field::FirstName),
                Some(Field::Email),
                Some(Field::Phone),
                Some(Field::CrmStage),
                Some(Field::CreatedAt),
                custom("phone_number"),
                custom("create_date"),
            ]
        );
    }

    #[test]
    fn salesforce_zoho_mailchimp_pipedrive() {
        assert_eq!(
            map(&["Company / Account", "Lead Owner", "Lead owner"])[0],
            Some(Field::Company)
        );
        let f = map(&["Lead Owner", "Lead owner"]);
        assert_eq!(f, vec![custom("lead_owner"), custom("lead_owner_2")]);
        assert_eq!(
            map(&["LEADID", "Mobile", "Created Time"]),
            vec![custom("leadid"), Some(Field::Phone), Some(Field::CreatedAt)]
        );
        assert_eq!(
            map(&["Email Address", "OPTIN_TIME"]),
            vec![Some(Field::Email), Some(Field::Consent)]
        );
        let f = map(&[
            "Person - Email - Work",
            "Person - Email - Home",
            "Person - Phone - Mobile",
        ]);
        assert_eq!(
            f,
            vec![Some(Field::Email), Some(Field::Email), Some(Field::Phone)]
        );
    }

    #[test]
    fn configured_names_win_and_ignored_columns_vanish() {
        let mut cfg = SpreadsheetConfig::for_inbox(Path::new("/x"));
        cfg.columns
            .insert("email".into(), HeaderNames::One("Contact".into()));
        cfg.ignore_columns.push("Notes".into());
        let headers: Vec<String> = ["Contact", "Notes", "Email"].map(String::from).to_vec();
        let f = ColumnMap::new(&headers, &cfg).fields;
        assert_eq!(f, vec![Some(Field::Email), None, Some(Field::Email)]);
        assert!(check_columns(&cfg.columns).is_ok());
        cfg.columns
            .insert("emial".into(), HeaderNames::One("X".into()));
        assert!(check_columns(&cfg.columns).unwrap_err().contains("emial"));
    }

    #[test]
    fn placeholders_are_blank() {
        for c in ["", "  ", "null", "NULL", "Select", "N/A", "-"] {
            assert!(is_blank(c), "{c:?}");
        }
        assert!(!is_blank("0") && !is_blank("Jane"));
    }
}
