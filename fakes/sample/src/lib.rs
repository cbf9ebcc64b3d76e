//! Deterministic sample contacts and the messy exports people drop: a HubSpot contacts export, a
//! Salesforce lead report (semicolons, every field quoted, line breaks in cells) and a Pipedrive
//! XLSX. Used by `leadsync demo`, the tests and the benchmarks.
//!
//! Every row knows which sample person it came from (`truth`), so a test can count the persons
//! it expects without asking the code under test.

mod febrl;
pub use febrl::{CRM_FIELDS, FIELDS as FEBRL_FIELDS, FebrlRecord, crm_set, febrl_set};

use std::io::{self, Write};
use std::path::Path;

/// A small deterministic generator (SplitMix64): the same seed gives the same data everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Mateo", "Sofia", "Lucas", "Mia", "Amelia", "Ethan",
    "Isla", "Hugo", "Chloé", "Zoë", "Jürgen", "Siobhan", "Priya", "Wei", "Kenji", "Fatima", "Omar",
    "Ingrid", "Lars", "Ana", "João", "Élodie", "Marek", "Aisha", "Diego",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "García",
    "Müller",
    "Rossi",
    "Nguyen",
    "O'Brien",
    "Kowalski",
    "Dubois",
    "Tanaka",
    "Patel",
    "Kim",
    "Silva",
    "Jensen",
    "Novak",
    "van der Berg",
    "López",
    "Chen",
    "Brown",
    "Wilson",
    "Haddad",
    "Ivanova",
    "Costa",
    "Andersson",
    "Murphy",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "acme.com",
    "globex.io",
    "initech.net",
    "outlook.com",
    "umbrella.co",
    "hooli.com",
];
const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Wonka",
    "Soylent",
    "Tyrell",
];
const TITLES: &[&str] = &[
    "CEO",
    "Owner",
    "VP Marketing",
    "Marketing Manager",
    "Sales Rep",
    "Engineer",
    "Analyst",
    "CFO",
    "Founder",
    "Intern",
];
const INDUSTRIES: &[&str] = &[
    "Software",
    "Retail",
    "Manufacturing",
    "Healthcare",
    "Finance",
    "Education",
];
const SIZES: &[&str] = &["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"];
const FORMS: &[&str] = &[
    "newsletter",
    "ebook",
    "contact-us",
    "demo request",
    "webinar",
    "",
];
const SOURCES: &[&str] = &[
    "Organic Search",
    "Paid Social",
    "Referral",
    "Trade show",
    "google",
    "Google",
    "Email Marketing",
];
const STAGES: &[&str] = &[
    "Subscriber",
    "Lead",
    "Marketing Qualified Lead",
    "Sales Qualified Lead",
    "Opportunity",
    "Customer",
];
/// Real US area codes, so every number is valid in the numbering plan.
const AREAS: &[u32] = &[
    212, 415, 646, 312, 617, 206, 303, 512, 404, 305, 213, 702, 503, 615, 919, 720, 480, 612, 214,
    713,
];
const EXCHANGES: &[u32] = &[
    234, 245, 256, 267, 278, 289, 346, 357, 368, 379, 432, 443, 454, 465, 476, 487, 523, 534, 545,
    556, 567, 578, 623, 634, 645, 656, 667, 678, 723, 734, 745, 756, 767, 778, 823, 834, 845, 856,
    867, 878,
];

/// One sample human. Its email and phone are unique to it, by construction.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePerson {
    pub index: usize,
    pub first: String,
    pub last: String,
    pub email: String,
    /// Ten national digits (NANP), if the person gave a phone.
    pub phone: Option<String>,
    pub company: &'static str,
    pub title: &'static str,
    pub industry: &'static str,
    pub company_size: &'static str,
    /// The form they converted on (empty when unknown).
    pub form: &'static str,
    pub source: &'static str,
    /// A CRM stage display name, when the export carries one.
    pub stage: Option<&'static str>,
}

/// The sample person number `i`: a pure function of `(seed, i)`.
pub fn person(seed: u64, i: usize) -> SamplePerson {
    let mut r = Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let first = r.pick(FIRST).to_string();
    let last = r.pick(LAST).to_string();
    let domain = r.pick(DOMAINS);
    let local: String = format!("{}.{}.{i}", ascii(&first), ascii(&last)).to_lowercase();
    let email = format!("{local}@{domain}");
    let phone = r.chance(0.8).then(|| {
        let rest = i / AREAS.len();
        let area = AREAS[i % AREAS.len()];
        let exchange = EXCHANGES[(rest / 10_000) % EXCHANGES.len()];
        format!("{area}{exchange}{:04}", rest % 10_000)
    });
    SamplePerson {
        index: i,
        first,
        last,
        email,
        phone,
        company: r.pick_str(COMPANIES),
        title: r.pick_str(TITLES),
        industry: r.pick_str(INDUSTRIES),
        company_size: r.pick_str(SIZES),
        form: r.pick_str(FORMS),
        source: r.pick_str(SOURCES),
        stage: r.chance(0.4).then(|| *r.pick(STAGES)),
    }
}

fn ascii(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphabetic()).collect()
}

/// One row of an export, with the sample person it came from (`None` for a deliberately bad
/// row that must be rejected).
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    pub truth: Option<usize>,
    pub first: String,
    pub last: String,
    pub email: String,
    pub phone: String,
    pub company: String,
    pub title: String,
    pub industry: String,
    pub company_size: String,
    pub form: String,
    pub source: String,
    pub stage: String,
}

impl SampleRow {
    /// The person's own row, as their first sign-up wrote it.
    pub fn original(p: &SamplePerson) -> Self {
        SampleRow {
            truth: Some(p.index),
            first: p.first.clone(),
            last: p.last.clone(),
            email: p.email.clone(),
            phone: p
                .phone
                .as_deref()
                .map(|d| format_phone(d, 0))
                .unwrap_or_default(),
            company: p.company.into(),
            title: p.title.into(),
            industry: p.industry.into(),
            company_size: p.company_size.into(),
            form: p.form.into(),
            source: p.source.into(),
            stage: p.stage.unwrap_or_default().into(),
        }
    }

    /// The same person typed differently: the email in another case, padded, plus-addressed
    /// or de-dotted where the provider ignores that; the phone in another format; sometimes
    /// only the phone.
    pub fn variant(p: &SamplePerson, r: &mut Rng) -> Self {
        let mut row = SampleRow::original(p);
        if let Some(digits) = &p.phone {
            row.phone = format_phone(digits, 1 + r.below(5));
        }
        let (local, domain) = p.email.split_once('@').expect("sample emails have an @");
        row.email = match r.below(5) {
            0 => p.email.to_uppercase(),
            1 => format!("  {}\t", p.email),
            2 if domain == "gmail.com" || domain == "outlook.com" => {
                format!("{local}+promo{}@{domain}", r.below(100))
            }
            3 if domain == "gmail.com" => format!("{}@{domain}", local.replace('.', "")),
            _ => format!("{}@{}", capitalise(local), domain.to_uppercase()),
        };
        if p.phone.is_some() && r.chance(0.25) {
            row.email.clear(); // known only by phone and name
        }
        row.stage.clear();
        row
    }

    /// A row that cannot be a person: an invalid email, or nothing that identifies anyone.
    pub fn bad(r: &mut Rng) -> Self {
        let mut row = SampleRow {
            truth: None,
            first: String::new(),
            last: String::new(),
            email: String::new(),
            phone: String::new(),
            company: (*r.pick(COMPANIES)).into(),
            title: (*r.pick(TITLES)).into(),
            industry: String::new(),
            company_size: String::new(),
            form: String::new(),
            source: "null".into(),
            stage: String::new(),
        };
        if r.chance(0.5) {
            row.email = "jane.doe at example.com".into();
            row.first = "Jane".into();
        }
        row
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A NANP number in one of the ways people write it.
pub fn format_phone(d: &str, style: usize) -> String {
    let (a, e, l) = (&d[0..3], &d[3..6], &d[6..10]);
    match style % 6 {
        0 => format!("({a}) {e}-{l}"),
        1 => format!("{a}.{e}.{l}"),
        2 => format!("+1 {a} {e} {l}"),
        3 => format!("001-{a}-{e}-{l}"),
        4 => format!("{a}{e}{l}"),
        _ => format!("1-{a}-{e}-{l}"),
    }
}

/// Rows for `persons` people split over `files` exports, plus `dup_rate` of extra rows that
/// repeat someone and one bad row in `bad_every`. Each person's original row comes before any
/// of their variants (in the same file, or an earlier one), as it would in real life.
pub fn drop_rows(
    seed: u64,
    persons: usize,
    files: usize,
    dup_rate: f64,
    bad_every: usize,
) -> Vec<Vec<SampleRow>> {
    let mut r = Rng::new(seed);
    let mut out: Vec<Vec<SampleRow>> = vec![Vec::new(); files];
    let per_file = persons.div_ceil(files);
    for i in 0..persons {
        out[i / per_file].push(SampleRow::original(&person(seed, i)));
    }
    let dups = (persons as f64 * dup_rate / (1.0 - dup_rate)).round() as usize;
    for _ in 0..dups {
        let i = r.below(persons);
        let file = i / per_file + r.below(files - i / per_file);
        out[file].push(SampleRow::variant(&person(seed, i), &mut r));
    }
    for rows in out.iter_mut() {
        let n = rows.len();
        for k in (0..n / bad_every.max(1)).rev() {
            let at = n - k * bad_every.max(1);
            rows.insert(at.min(rows.len()), SampleRow::bad(&mut r));
        }
    }
    out
}

/// `rows` rows, generated lazily (constant memory): mostly new people, a `dup_rate` share of
/// variants of someone seen earlier. `truth` is always set.
pub fn stream_rows(seed: u64, rows: usize, dup_rate: f64) -> impl Iterator<Item = SampleRow> {
    let mut r = Rng::new(seed);
    let mut people = 0usize;
    (0..rows).map(move |_| {
        if people > 0 && r.chance(dup_rate) {
            let i = r.below(people);
            SampleRow::variant(&person(seed, i), &mut r)
        } else {
            people += 1;
            SampleRow::original(&person(seed, people - 1))
        }
    })
}

/// A HubSpot contacts-with-company export: a repeated `Phone Number` header (the second is the
/// company's switchboard) and display-name stages.
pub fn write_hubspot_csv(
    w: impl Write,
    rows: impl IntoIterator<Item = SampleRow>,
) -> io::Result<()> {
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record([
        "Record ID",
        "First Name",
        "Last Name",
        "Email",
        "Phone Number",
        "Company Name",
        "Job Title",
        "Industry",
        "Number of Employees",
        "First Conversion",
        "Lifecycle Stage",
        "Create Date",
        "Original Source",
        "Phone Number",
    ])?;
    for (n, row) in rows.into_iter().enumerate() {
        let switchboard = format!("(212) 999-{:04}", company_index(&row.company));
        csv.write_record([
            &format!("{}", 1000 + n),
            &row.first,
            &row.last,
            &row.email,
            &row.phone,
            &row.company,
            &row.title,
            &row.industry,
            &row.company_size,
            &row.form,
            &row.stage,
            "2/5/24 1:51",
            &row.source,
            &switchboard,
        ])?;
    }
    csv.flush()
}

/// A Salesforce lead report: semicolons, every field quoted, a street with a line break.
pub fn write_salesforce_csv(
    w: impl Write,
    rows: impl IntoIterator<Item = SampleRow>,
) -> io::Result<()> {
    let mut csv = csv::WriterBuilder::new()
        .delimiter(b';')
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(w);
    csv.write_record([
        "First Name",
        "Last Name",
        "Title",
        "Company / Account",
        "Email",
        "Lead Source",
        "Street",
        "Lead Owner",
        "Lead Status",
        "Create Date",
        "Country",
        "Lead owner",
        "Phone",
    ])?;
    for (n, row) in rows.into_iter().enumerate() {
        let street = format!("{} Main Street\nSuite {}", 10 + n % 90, n % 7);
        let country = ["United States", "USA", "US", "united states"][n % 4];
        csv.write_record([
            &row.first,
            &row.last,
            &row.title,
            &row.company,
            &row.email,
            &row.source,
            &street,
            "Sam Seller",
            "Open - Not Contacted",
            "28-6-2018",
            country,
            "sam.seller",
            &row.phone,
        ])?;
    }
    csv.flush()
}

/// A Pipedrive people export as XLSX, with a title row above the header and phones stored as
/// numbers where they are plain digits.
pub fn write_pipedrive_xlsx(
    path: &Path,
    rows: &[SampleRow],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("People")?;
    sheet.write_string(0, 0, "People export")?;
    let headers = [
        "Person - Name",
        "Person - Organization",
        "Person - Email - Work",
        "Person - Phone - Work",
        "Person - Labels",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(2, c as u16, *h)?;
    }
    for (n, row) in rows.iter().enumerate() {
        let r = 3 + n as u32;
        sheet.write_string(r, 0, format!("{} {}", row.first, row.last).trim())?;
        sheet.write_string(r, 1, &row.company)?;
        sheet.write_string(r, 2, &row.email)?;
        match row.phone.parse::<u64>() {
            Ok(digits) => sheet.write_number(r, 3, digits as f64)?,
            Err(_) => sheet.write_string(r, 3, &row.phone)?,
        };
        sheet.write_string(r, 4, "")?;
    }
    book.save(path)
}

fn company_index(name: &str) -> usize {
    COMPANIES.iter().position(|c| *c == name).unwrap_or(0)
}

/// Puts two sample persons in three (`i % 3 != 2`) into a (fake) HubSpot account, as their first
/// sign-up wrote them; drops then add what other forms learned. Answers how many were added.
pub fn seed_hubspot(fake: &leadsync_fake_hubspot::FakeHubSpot, seed: u64, persons: usize) -> usize {
    let mut n = 0;
    for i in (0..persons).filter(|i| i % 3 != 2) {
        fake.insert(hubspot_properties(&person(seed, i)));
        n += 1;
    }
    n
}

/// The Lead Status picklist of the sample Salesforce org, with its sort order and whether a
/// value counts as converted.
pub const SALESFORCE_STATUSES: &[(&str, i64, bool)] = &[
    ("Open - Not Contacted", 1, false),
    ("Working - Contacted", 2, false),
    ("Marketing Qualified", 3, false),
    ("Sales Qualified", 4, false),
    ("Closed - Converted", 5, true),
    ("Closed - Not Converted", 6, false),
];

/// What a Salesforce org holds of the sample: sales works every person not numbered `0 mod 3`
/// (so a third of them are in HubSpot too: `seed_hubspot` leaves out `2 mod 3`). Each is a
/// lead whose status follows the person's stage; every seventh was converted to a contact with
/// an opportunity, every other one of those won.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SalesforceSeed {
    pub leads: usize,
    pub converted: usize,
    pub won: usize,
}

pub fn seed_salesforce(
    fake: &leadsync_fake_salesforce::FakeSalesforce,
    seed: u64,
    persons: usize,
) -> SalesforceSeed {
    use leadsync_connector_core::{Stage, Tier};
    use leadsync_fake_salesforce::SObject;
    use serde_json::json;
    fake.set_lead_statuses(SALESFORCE_STATUSES);
    let mut out = SalesforceSeed::default();
    for (n, i) in (0..persons).filter(|i| i % 3 != 0).enumerate() {
        let p = person(seed, i);
        let status = match p.stage.and_then(|s| Stage::parse(s).tier()) {
            None | Some(Tier::SUBSCRIBER) => "Open - Not Contacted",
            Some(Tier::LEAD) => "Working - Contacted",
            Some(Tier::MQL) => "Marketing Qualified",
            Some(_) => "Sales Qualified",
        };
        let mut fields = std::collections::BTreeMap::from([
            ("FirstName".to_string(), json!(p.first)),
            ("LastName".to_string(), json!(p.last)),
            ("Email".to_string(), json!(p.email)),
            ("Company".to_string(), json!(p.company)),
            ("Title".to_string(), json!(p.title)),
            ("Industry".to_string(), json!(p.industry)),
            ("LeadSource".to_string(), json!(p.source)),
            ("Status".to_string(), json!(status)),
        ]);
        if let Some(phone) = &p.phone {
            fields.insert("Phone".into(), json!(format_phone(phone, 1)));
        }
        let id = fake.insert(SObject::Lead, fields);
        out.leads += 1;
        if n % 7 == 3 {
            let won = out.converted % 2 == 1;
            let stage = if won { "Closed Won" } else { "Prospecting" };
            fake.convert_lead(&id, Some((stage, won, won)));
            out.converted += 1;
            out.won += usize::from(won);
        }
    }
    out
}

/// A sample person as a HubSpot contact: the standard properties and an internal stage name.
pub fn hubspot_properties(p: &SamplePerson) -> std::collections::BTreeMap<String, String> {
    use leadsync_connector_core::{Stage, Tier};
    let mut props = std::collections::BTreeMap::from([
        ("email".to_string(), p.email.clone()),
        ("firstname".to_string(), p.first.clone()),
        ("lastname".to_string(), p.last.clone()),
        ("company".to_string(), p.company.to_string()),
        ("jobtitle".to_string(), p.title.to_string()),
        ("industry".to_string(), p.industry.to_string()),
    ]);
    if let Some(phone) = &p.phone {
        props.insert("phone".into(), format_phone(phone, 2));
    }
    let stage = match p.stage {
        Some(s) => Stage::parse(s).tier().map(|t| match t {
            Tier::MQL => "marketingqualifiedlead",
            Tier::SQL => "salesqualifiedlead",
            other => other.as_str(),
        }),
        None => Some("subscriber"),
    };
    if let Some(stage) = stage {
        props.insert("lifecyclestage".into(), stage.to_string());
    }
    props
}

/// Drops for `persons` sample persons into `inbox`: a HubSpot CSV, a Salesforce CSV and a
/// Pipedrive XLSX that overlap (15% repeated rows, one bad row in 150), plus a file nobody can
/// read. Answers the paths written.
pub fn write_drops(inbox: &Path, seed: u64, persons: usize) -> io::Result<Vec<std::path::PathBuf>> {
    let files = drop_rows(seed, persons, 3, 0.15, 150);
    let hubspot = inbox.join("hubspot-contacts-export.csv");
    write_hubspot_csv(std::fs::File::create(&hubspot)?, files[0].clone())?;
    let salesforce = inbox.join("salesforce-leads-report.csv");
    write_salesforce_csv(std::fs::File::create(&salesforce)?, files[1].clone())?;
    let pipedrive = inbox.join("pipedrive-people.xlsx");
    write_pipedrive_xlsx(&pipedrive, &files[2]).map_err(io::Error::other)?;
    let broken = inbox.join("scanned-business-cards.pdf");
    std::fs::write(
        &broken,
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
    )?;
    Ok(vec![hubspot, salesforce, pipedrive, broken])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn people_are_deterministic_and_unique() {
        assert_eq!(person(7, 42), person(7, 42));
        let mut emails = HashSet::new();
        let mut phones = HashSet::new();
        for i in 0..20_000 {
            let p = person(7, i);
            assert!(emails.insert(p.email.clone()));
            if let Some(ph) = p.phone {
                assert!(phones.insert(ph));
            }
        }
    }

    #[test]
    fn originals_precede_variants_and_bad_rows_are_marked() {
        let files = drop_rows(1, 900, 3, 0.15, 100);
        let mut originals_seen = HashSet::new();
        let (mut total, mut bad) = (0, 0);
        for row in files.iter().flatten() {
            total += 1;
            match row.truth {
                None => bad += 1,
                Some(t) if *row == SampleRow::original(&person(1, t)) => {
                    originals_seen.insert(t);
                }
                Some(t) => assert!(
                    originals_seen.contains(&t),
                    "variant of {t} before its original"
                ),
            }
        }
        assert_eq!(originals_seen.len(), 900);
        // 900 originals, 159 variants (15% of all good rows), about one bad row per 100.
        assert_eq!(total - bad, 900 + 159);
        assert!((9..=12).contains(&bad), "{bad}");
    }
}
