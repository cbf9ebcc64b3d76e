//! Acceptance: every messy fixture dropped, each with its expected outcome.
//!
//! The fixtures (connectors/spreadsheet/tests/fixtures/messy, see SOURCES.md) are real files
//! from the test suites of CSV and spreadsheet libraries. None holds contact data, so with the
//! default header mapping most have no email, phone or name column: those must land in
//! `failed/` with a note that says so, the few with a `name` or `first`/`last` header must be
//! ingested, and nothing dropped may be lost, altered or left behind.

mod common;

use common::Env;
use leadsync::connector::{Field, Locator};
use leadsync::model::Person;
use leadsync::store::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/connectors/spreadsheet/tests/fixtures/messy"
);

/// What the note in `failed/` says when no header maps to an email, phone or name.
const NO_IDENTITY: &str = "no column holds an email, phone or name";

/// What must become of one dropped file.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// In `processed/`; `rows` data rows stored as records, `rejects` (row, reason) in its
    /// `.rejects.csv`.
    Ingested {
        rows: usize,
        rejects: &'static [(u64, &'static str)],
    },
    /// In `failed/` because no header is an email, phone or name. The note lists the headers
    /// as read (decoded, split on the right delimiter, found past title rows); `headers` is the
    /// start of that list, "" where the header row of a non-table is anybody's guess.
    NoIdentity { headers: &'static str },
    /// In `failed/`, the note saying `because`.
    Failed { because: &'static str },
    /// In `processed/` with a `.duplicate.txt` naming the file with the same content.
    Duplicate { of: &'static str },
}

use Outcome::{Duplicate, Failed, Ingested, NoIdentity};

const NONE: &[(u64, &str)] = &[];

const fn ingested(rows: usize) -> Outcome {
    Ingested {
        rows,
        rejects: NONE,
    }
}

const fn no_id(headers: &'static str) -> Outcome {
    NoIdentity { headers }
}

/// Every fixture with the default mapping, and why.
#[rustfmt::skip]
const EXPECTED: &[(&str, Outcome)] = &[
    // `first`,`last` are built-in names: John Doe, his quoted "Anytown, WW" one cell.
    ("comma_in_quotes.csv", ingested(1)),
    // csv-spectrum: headers a,b,c / key,val identify nobody (the *_crlf files are stored
    // with LF, byte for byte their siblings; failed files are not deduplicated).
    ("empty.csv", no_id("`a`, `b`, `c`)")),
    ("empty_crlf.csv", no_id("`a`, `b`, `c`)")),
    ("escaped_quotes.csv", no_id("`a`, `b`)")),
    ("json.csv", no_id("`key`, `val`)")),
    ("newlines.csv", no_id("`a`, `b`, `c`)")),
    ("newlines_crlf.csv", no_id("`a`, `b`, `c`)")),
    ("quotes_and_newlines.csv", no_id("`a`, `b`)")),
    ("simple.csv", no_id("`a`, `b`, `c`)")),
    ("simple_crlf.csv", no_id("`a`, `b`, `c`)")),
    ("utf8.csv", no_id("`a`, `b`, `c`)")),
    // French charging stations, `;`-separated, UTF-8 `accessibilité`: no person column.
    ("frictionless_accent.csv", no_id(
        "`n_amenageur`, `n_operateur`, `n_enseigne`, `id_station`, `n_station`, `ad_station`, \
         `code_insee`, `Xlongitude`, `Ylatitude`, `nbre_pdc`, `id_pdc`, `puiss_max`, \
         `type_prise`, `acces_recharge`, `accessibilité`, `observations`, `date_maj`)",
    )),
    // `name` behind a UTF-8 BOM: "english" and "中国人".
    ("frictionless_bom.csv", ingested(2)),
    // `name`: 507 organisations, all filled, all distinct; `email` is empty in every row.
    ("frictionless_encoding-issue-274.csv", ingested(507)),
    // `fieldNameA;fieldNameB`.
    ("frictionless_issue-1009-semicolon.csv", no_id("`fieldNameA`, `fieldNameB`)")),
    // `name` in windows-1252: "english" and "©" (byte A9).
    ("frictionless_latin1.csv", ingested(2)),
    // One cell "data" merged over A1:B3.
    ("frictionless_merged-cells.xlsx", no_id("`data`")),
    // Header merged over five rows; its first row is the widest; none names a person.
    ("frictionless_multiline-headers.xlsx", no_id("`Region`, `Caloric contribution`, ")),
    // Three sheets `id,name`; the first non-empty one is read (README: `sheet`): 1, london.
    ("frictionless_sheets.xlsx", ingested(1)),
    // A "Table 1" title above the header A,B.
    ("frictionless_skip-rows.xlsx", no_id("`A`, `B`)")),
    // Dutch budget cross-tab: which row is "the header" is anybody's guess; none is a person's.
    ("messytables_begrotingsanalyse-2011.csv", no_id("")),
    // Big5, so not UTF-8, so read as windows-1252: only `id` stays legible.
    ("messytables_characters.csv", no_id("`id`, ")),
    // `date, another date, temperature, place`, trimmed.
    ("messytables_complex.csv", no_id("`date`, `another date`, `temperature`, `place`)")),
    // Two title lines and a blank one above `Year,2000,…,2007`.
    ("messytables_excel_pasting.csv", no_id("`Year`, `2000`, `2001`, ")),
    // A workbook whose only sheet has no cell.
    ("messytables_libreoffice.xlsx", Failed { because: "no header row found" }),
    // Bare-CR line ends; two title lines, a blank one, then `Year,Jan,Feb,…`.
    ("messytables_mixedGLB.csv", no_id("`Year`, `Jan`, `Feb`, ")),
    // No header at all: the first data row stands in for it.
    ("messytables_null.csv", no_id("`1`, `null`, `0`, `0`)")),
    // House prices, `|`-separated, CRLF.
    ("messytables_simple.psv", no_id("`Year`, `New dwellings`, `Other dwellings`, ")),
    // Temperatures per place, as SSV, XLS and XLSX: `place` is a town, not a person.
    ("messytables_simple.ssv", no_id("`date`, `temperature`, `place`)")),
    ("messytables_simple.xls", no_id("`date`, `temperature`, `place`)")),
    ("messytables_simple.xlsx", no_id("`date`, `temperature`, `place`)")),
    // windows-1252 Mexican budget: `Descripción` decoded.
    ("messytables_spanish_chars.csv", no_id(
        "`GF_ID`, `FN_ID`, `SF_ID`, `GF`, `F`, `SF`, `Gasto total 2011`, `Descripción`)",
    )),
    // Tweets: `screen_name` is a handle, not a person's name.
    ("messytables_sw_gen.xlsx", no_id("`id_str`, `tweet_url`, `created_at`, ")),
    // UTF-16LE with BOM, transcoded: no BOM or NULs in the first header.
    ("messytables_utf-16le_encoded.csv", no_id("`Organisation_code`, `Organisation_name`, ")),
    // A BOM and a header, no data row.
    ("messytables_utf8bom.csv", no_id("`kitten`, `win`)")),
    // German cross-tab: eleven title lines, then the year row with its empty corner cell.
    ("messytables_weird_head_padding.csv", no_id("``, `1985`, `1993`, ")),
];

// ---- helpers ----

fn fixture(name: &str) -> Vec<u8> {
    fs::read(Path::new(FIXTURES).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every fixture file (not SOURCES.md), sorted.
fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "SOURCES.md")
        .collect();
    names.sort();
    names
}

/// The file in `dir` that was dropped as `name`: `<stamp>_<name>` exactly (so `newlines.csv`
/// does not find `<stamp>_quotes_and_newlines.csv`).
fn moved_as(dir: &Path, name: &str) -> Vec<PathBuf> {
    Env::files_in(dir)
        .into_iter()
        .filter(|p| {
            let file = p.file_name().unwrap().to_string_lossy();
            file.split_once('_').is_some_and(|(_, rest)| rest == name)
        })
        .collect()
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn is_note(path: &Path) -> bool {
    let name = path.to_string_lossy();
    [".rejects.csv", ".error.txt", ".duplicate.txt"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// Every person in the store (ids are handed out 1, 2, 3, …).
fn persons(env: &Env) -> Vec<Person> {
    let mut store = env.store();
    let n = store.person_count().unwrap() as i64;
    (1..=n)
        .map(|id| {
            store
                .person(id)
                .unwrap()
                .unwrap_or_else(|| panic!("person {id} missing"))
        })
        .collect()
}

/// The rows stored as records, per dropped file name.
fn stored_rows(env: &Env) -> BTreeMap<String, Vec<u64>> {
    let mut store = env.store();
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for p in persons(env) {
        for r in store.records_of(p.id).unwrap() {
            if let Locator::File { name, row, .. } = r.locator {
                out.entry(name).or_default().push(row);
            }
        }
    }
    out
}

fn get<'a>(p: &'a Person, field: &str) -> Option<&'a str> {
    let field = match field.strip_prefix("custom.") {
        Some(name) => Field::Custom(name.to_string()),
        None => field.parse().unwrap(),
    };
    p.get(&field)
}

/// The one person whose record came from `file` row `row`.
fn person_from(env: &Env, file: &str, row: u64) -> Person {
    let mut store = env.store();
    let found: Vec<Person> = persons(env)
        .into_iter()
        .filter(|p| {
            let records = store.records_of(p.id).unwrap();
            records.into_iter().any(|r| match r.locator {
                Locator::File { name, row: n, .. } => name == file && n == row,
                Locator::Crm { .. } => false,
            })
        })
        .collect();
    assert_eq!(found.len(), 1, "{file} row {row}: {found:?}");
    found.into_iter().next().unwrap()
}

/// Whether a JSON document holds the string `s` anywhere.
fn holds(v: &serde_json::Value, s: &str) -> bool {
    match v {
        serde_json::Value::String(x) => x == s,
        serde_json::Value::Array(a) => a.iter().any(|v| holds(v, s)),
        serde_json::Value::Object(o) => o.values().any(|v| holds(v, s)),
        _ => false,
    }
}

/// Drops `files` (fixture name, name to drop it under) in that order.
fn drop_fixtures(env: &Env, files: &[(&str, &str)]) {
    for (fixture_name, as_name) in files {
        env.drop_file(as_name, &fixture(fixture_name));
    }
}

/// (fixture, dropped as, outcome) for fixtures dropped under their own names.
fn as_dropped<'a>(outcomes: &[(&'a str, Outcome)]) -> Vec<(&'a str, &'a str, Outcome)> {
    outcomes.iter().map(|&(n, o)| (n, n, o)).collect()
}

/// Checks that each dropped file met its outcome and that its bytes are, unaltered, in exactly
/// one place: `processed/` or `failed/`.
fn assert_outcomes(env: &Env, expected: &[(&str, &str, Outcome)]) {
    let rows = stored_rows(env);
    let mut problems = Vec::new();
    for (fixture_name, name, outcome) in expected {
        let processed = moved_as(&env.processed_dir(), name);
        let failed = moved_as(&env.failed_dir(), name);
        let (want_dir, moved, other) = match outcome {
            Ingested { .. } | Duplicate { .. } => ("processed", &processed, &failed),
            NoIdentity { .. } | Failed { .. } => ("failed", &failed, &processed),
        };
        if moved.len() != 1 || !other.is_empty() {
            let found = format!("processed {processed:?}, failed {failed:?}");
            problems.push(format!(
                "{name}: expected once in {want_dir}/, found {found}"
            ));
            continue;
        }
        let moved = &moved[0];
        if fs::read(moved).unwrap() != fixture(fixture_name) {
            problems.push(format!(
                "{name}: {} differs from what was dropped",
                moved.display()
            ));
        }
        let note = |suffix| fs::read_to_string(sidecar(moved, suffix)).ok();
        let stored = rows.get(*name).map_or(0, Vec::len);
        match outcome {
            Ingested { rows: n, rejects } => {
                if stored != *n {
                    problems.push(format!("{name}: {stored} rows stored, expected {n}"));
                }
                let got = Env::rejects_of(moved);
                let want: Vec<(u64, String)> = rejects
                    .iter()
                    .map(|(r, why)| (*r, why.to_string()))
                    .collect();
                if got != want {
                    problems.push(format!("{name}: rejects {got:?}, expected {want:?}"));
                }
                if let Some(d) = note(".duplicate.txt") {
                    problems.push(format!("{name}: unexpected duplicate note: {d}"));
                }
            }
            Duplicate { of } => {
                match note(".duplicate.txt") {
                    Some(d) if d.contains(of) => {}
                    other => problems.push(format!(
                        "{name}: expected a .duplicate.txt naming {of}, got {other:?}"
                    )),
                }
                if stored != 0 {
                    problems.push(format!("{name}: a duplicate had {stored} rows stored"));
                }
            }
            NoIdentity { .. } | Failed { .. } => {
                let because = match outcome {
                    NoIdentity { headers } => format!("{NO_IDENTITY} (headers: {headers}"),
                    Failed { because } => because.to_string(),
                    _ => unreachable!(),
                };
                // A missing column is fixed in the config: the note says where.
                let hint = match outcome {
                    NoIdentity { .. } => "[connectors.drops]",
                    _ => "",
                };
                match note(".error.txt") {
                    Some(t) if t.contains(name) && t.contains(&because) && t.contains(hint) => {}
                    other => problems.push(format!(
                        "{name}: expected a .error.txt naming the file and saying {because:?} \
                         and {hint:?}, got {other:?}"
                    )),
                }
                if stored != 0 {
                    problems.push(format!("{name}: failed, yet {stored} rows stored"));
                }
                if sidecar(moved, ".rejects.csv").exists() {
                    problems.push(format!("{name}: failed, yet a rejects file"));
                }
            }
        }
    }
    // Nothing left behind, nothing else produced.
    let left: Vec<PathBuf> = Env::files_in(&env.inbox);
    if !left.is_empty() {
        problems.push(format!("left in the inbox: {left:?}"));
    }
    let mut moved: Vec<PathBuf> = Env::files_in(&env.processed_dir());
    moved.extend(Env::files_in(&env.failed_dir()));
    moved.retain(|p| !is_note(p));
    if moved.len() != expected.len() {
        problems.push(format!(
            "{} files in processed/ and failed/ for {} dropped: {moved:#?}",
            moved.len(),
            expected.len()
        ));
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

// ---- the acceptance test ----

#[test]
fn every_messy_fixture_has_its_expected_outcome() {
    // GIVEN every messy fixture in one inbox, with the default header mapping
    let names = fixture_names();
    let mut table: Vec<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    table.sort();
    assert_eq!(names, table, "the table names every fixture once");
    let env = Env::new("");
    for name in &names {
        env.drop_file(name, &fixture(name));
    }

    // WHEN one cycle runs
    env.sync();

    // THEN each file met its outcome, none is left in the inbox, none lost or altered
    assert_outcomes(&env, &as_dropped(EXPECTED));

    // AND no two ingested rows are one person: no row has an email or a phone (the email column
    // of frictionless_encoding-issue-274 is empty throughout), and names are not identity keys
    let ingested: usize = EXPECTED
        .iter()
        .map(|(_, o)| match o {
            Ingested { rows, .. } => *rows,
            _ => 0,
        })
        .sum();
    assert_eq!(ingested, 513);
    let mut store = env.store();
    assert_eq!(store.person_count().unwrap(), 513);
    assert_eq!(store.reject_count().unwrap(), 0);
    let failed_events = store
        .events("drops", 1000)
        .unwrap()
        .iter()
        .filter(|e| e.kind == "failed")
        .count();
    let failed_files = EXPECTED
        .iter()
        .filter(|(_, o)| matches!(o, NoIdentity { .. } | Failed { .. }))
        .count();
    assert_eq!(
        failed_events, failed_files,
        "one `failed` event per failed file"
    );

    // AND the values arrived decoded and whole
    let all = persons(&env);
    let named = |first: &str| -> Vec<&Person> {
        all.iter()
            .filter(|p| get(p, "first_name") == Some(first))
            .collect()
    };
    let john = named("John");
    assert_eq!(john.len(), 1);
    assert_eq!(get(john[0], "last_name"), Some("Doe"));
    assert_eq!(get(john[0], "custom.city"), Some("Anytown, WW"));
    assert_eq!(
        get(john[0], "custom.zip"),
        Some("08123"),
        "leading zero kept"
    );
    assert_eq!(
        named("english").len(),
        2,
        "one per file: names do not merge"
    );
    assert_eq!(named("中国人").len(), 1, "UTF-8 behind a BOM");
    assert_eq!(named("©").len(), 1, "windows-1252 byte A9");
    let london = named("london");
    assert_eq!(london.len(), 1);
    assert_eq!(
        get(london[0], "custom.id"),
        Some("1"),
        "a whole number, not 1.0"
    );
    let maori = all
        .iter()
        .filter(|p| p.display_name() == "Te Whare Wānanga o Awanuiārangi")
        .count();
    assert_eq!(maori, 1, "macrons intact");
}

// ---- a mapping makes them persons ----

#[test]
fn messy_fixtures_with_a_column_mapping_are_ingested() {
    // GIVEN `place` (and `kitten`) mapped to full_name, and the same table as SSV, XLS and XLSX
    let env = Env::new("[connectors.drops.columns]\nfull_name = [\"place\", \"kitten\"]");
    let files = [
        "messytables_simple.ssv",
        "messytables_simple.xls",
        "messytables_simple.xlsx",
        "messytables_complex.csv",
        "messytables_utf8bom.csv",
    ];
    drop_fixtures(&env, &files.map(|f| (f, f)));

    // WHEN one cycle runs
    env.sync();

    // THEN every row with a place is a person; a row without one, or with cells beyond the
    // header, is rejected with the reason
    let complex = Ingested {
        rows: 1,
        rejects: &[
            // `2011-01-01, 24 October 2011, 0,`: the place is empty
            (2, "no email, phone or name"),
            // `2011-01-03, , "6,000,000",Galway`: a quote after a space is text (RFC 4180, and
            // Excel), so the number splits into three cells
            (4, "row has 6 cells but the header has 4"),
        ],
    };
    assert_outcomes(
        &env,
        &as_dropped(&[
            ("messytables_simple.ssv", ingested(6)),
            ("messytables_simple.xls", ingested(6)),
            ("messytables_simple.xlsx", ingested(6)),
            ("messytables_complex.csv", complex),
            // The header alone: read, nothing to store.
            ("messytables_utf8bom.csv", ingested(0)),
        ]),
    );
    assert_eq!(env.person_count(), 19);

    // AND the three formats of one table give the same persons (XLS uses the 1904 date system)
    let values = |file: &str| -> Vec<[String; 3]> {
        (2..=7)
            .map(|row| {
                let p = person_from(&env, file, row);
                ["first_name", "custom.date", "custom.temperature"]
                    .map(|f| get(&p, f).unwrap_or_default().to_string())
            })
            .collect()
    };
    let ssv = values("messytables_simple.ssv");
    assert_eq!(ssv[0], ["Galway", "2011-01-01", "1"]);
    assert_eq!(ssv[5], ["Berkeley", "2011-01-03", "5"]);
    assert_eq!(values("messytables_simple.xls"), ssv);
    assert_eq!(values("messytables_simple.xlsx"), ssv);

    // AND `explain` shows the golden record and where each value came from
    let id = person_from(&env, "messytables_simple.ssv", 3).id;
    let out = env.run(&["explain", &id.to_string(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // (the JSON layout of a person is being reworked elsewhere: look for the strings only)
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in ["Galway", "-1", "2011-01-02", "messytables_simple.ssv row 3"] {
        assert!(holds(&view, s), "explain --json lacks {s:?}: {view:#}");
    }
    let complex = person_from(&env, "messytables_complex.csv", 3);
    assert_eq!(complex.display_name(), "Galway and more");
}

#[test]
fn generic_headers_mapped_to_first_and_last_name() {
    // GIVEN a → first_name, b → last_name, and the csv-spectrum files with quoted line breaks
    // (newlines_crlf.csv has exactly the bytes of newlines.csv)
    let env = Env::new("[connectors.drops.columns]\nfirst_name = \"a\"\nlast_name = \"b\"");
    let files = [
        "newlines.csv",
        "newlines_crlf.csv",
        "quotes_and_newlines.csv",
        "escaped_quotes.csv",
        "utf8.csv",
    ];
    drop_fixtures(&env, &files.map(|f| (f, f)));

    // WHEN one cycle runs
    env.sync();

    // THEN each record is a person, and the same content dropped twice counts once
    assert_outcomes(
        &env,
        &as_dropped(&[
            ("newlines.csv", ingested(3)),
            ("newlines_crlf.csv", Duplicate { of: "newlines.csv" }),
            ("quotes_and_newlines.csv", ingested(2)),
            ("escaped_quotes.csv", ingested(2)),
            ("utf8.csv", ingested(2)),
        ]),
    );
    assert_eq!(env.person_count(), 9);

    // AND a name typed over two lines is one name, found at the line its record starts on
    let once = person_from(&env, "newlines.csv", 3);
    assert_eq!(get(&once, "first_name"), Some("Once upon a time"));
    assert_eq!(get(&once, "last_name"), Some("5"));
    let ha = person_from(&env, "quotes_and_newlines.csv", 2);
    assert_eq!(get(&ha, "last_name"), Some("ha \"ha\" ha"));
    let escaped = person_from(&env, "escaped_quotes.csv", 2);
    assert_eq!(get(&escaped, "last_name"), Some("ha \"ha\" ha"));
    let utf8 = person_from(&env, "utf8.csv", 3);
    assert_eq!(get(&utf8, "custom.c"), Some("ʤ"));
}

// ---- the same drop twice ----

#[test]
fn a_dropped_file_twice_is_recorded_not_reingested() {
    // GIVEN frictionless_bom.csv dropped and synced
    let env = Env::new("");
    drop_fixtures(&env, &[("frictionless_bom.csv", "frictionless_bom.csv")]);
    env.sync();
    assert_eq!(env.person_count(), 2);

    // WHEN the same bytes are dropped again under another name
    drop_fixtures(&env, &[("frictionless_bom.csv", "bom again.csv")]);
    env.sync();

    // THEN nobody is added, the second file sits in processed/ beside a note, and an event says so
    assert_eq!(env.person_count(), 2);
    let bom = "frictionless_bom.csv";
    assert_outcomes(
        &env,
        &[
            (bom, bom, ingested(2)),
            (bom, "bom again.csv", Duplicate { of: bom }),
        ],
    );
    let events = env.store().events("drops", 10).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "duplicate" && e.detail.contains("bom again.csv")),
        "{events:#?}"
    );
}

// ---- files nobody can read ----

/// Deterministic noise (xorshift), the bytes of a file that only pretends to be a workbook.
fn noise(len: usize) -> Vec<u8> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn an_unreadable_file_is_moved_to_failed_with_a_note_and_never_deleted() {
    // GIVEN random bytes named .xlsx, an empty file and a PDF dropped by mistake
    let env = Env::new("");
    let junk = noise(4096);
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    let files: [(&str, &[u8]); 3] = [
        ("leads.xlsx", &junk),
        ("empty.csv", b""),
        ("brochure.pdf", &pdf),
    ];
    for (name, bytes) in &files {
        env.drop_file(name, bytes);
    }

    // WHEN one cycle runs
    env.sync();

    // THEN each is in failed/, byte for byte, beside a note that says why
    let because = [
        "not a spreadsheet or CSV file",
        "no header row found",
        "it looks like a PDF document",
    ];
    for ((name, bytes), because) in files.iter().zip(because) {
        let moved = moved_as(&env.failed_dir(), name);
        assert_eq!(moved.len(), 1, "{name}");
        assert_eq!(&fs::read(&moved[0]).unwrap(), bytes, "{name} unaltered");
        let note = fs::read_to_string(sidecar(&moved[0], ".error.txt")).unwrap();
        assert!(
            note.contains(name) && note.contains(because),
            "{name}: {note}"
        );
    }
    assert!(Env::files_in(&env.inbox).is_empty());
    assert!(Env::files_in(&env.processed_dir()).is_empty());
    assert_eq!(env.person_count(), 0);
}

#[test]
fn a_truncated_workbook_is_failed_as_a_damaged_workbook() {
    // GIVEN an XLSX whose upload stopped after 1000 bytes (it starts as an XLSX does)
    let env = Env::new("");
    let whole = fixture("messytables_simple.xlsx");
    env.drop_file("upload.xlsx", &whole[..1000]);

    // WHEN one cycle runs
    env.sync();

    // THEN it is in failed/, unaltered, and the note does not tell the admin it is no Excel
    // file: it is one, cut short
    let moved = moved_as(&env.failed_dir(), "upload.xlsx");
    assert_eq!(moved.len(), 1);
    assert_eq!(fs::read(&moved[0]).unwrap(), &whole[..1000]);
    let note = fs::read_to_string(sidecar(&moved[0], ".error.txt")).unwrap();
    assert!(note.contains("upload.xlsx"), "{note}");
    assert!(!note.contains("not an Excel"), "misleading note: {note}");
}

#[test]
fn other_sheets_with_data_are_named_not_skipped_silently() {
    // GIVEN a workbook whose three sheets all hold rows, and no `sheet` configured
    let env = Env::new("");
    env.drop_file("cities.xlsx", &fixture("frictionless_sheets.xlsx"));

    // WHEN one cycle runs
    env.sync();

    // THEN the first sheet is read, and an event tells the operator which sheets were not
    let mut store = env.store();
    assert_eq!(store.person_count().unwrap(), 1);
    let events = store.events("drops", 10).unwrap();
    let note = events
        .iter()
        .find(|e| e.kind == "sheets_not_read")
        .expect("a sheets_not_read event");
    assert!(
        note.detail.contains("`Sheet1`") && note.detail.contains("`Sheet2`, `Sheet3`"),
        "{}",
        note.detail
    );

    // AND naming a sheet reads that one, with no such event
    let env = Env::new("sheet = \"Sheet3\"");
    env.drop_file("cities.xlsx", &fixture("frictionless_sheets.xlsx"));
    env.sync();
    let mut store = env.store();
    assert_eq!(store.person_count().unwrap(), 1);
    assert!(
        store
            .events("drops", 10)
            .unwrap()
            .iter()
            .all(|e| e.kind != "sheets_not_read")
    );
    let person = store.person(1).unwrap().unwrap();
    assert_eq!(person.get(&Field::FirstName), Some("rome"));
}

/// Deterministic byte mutations (and truncations) of real files: each one dropped ends in
/// `processed/` or in `failed/` with a note giving the reason, and a file the reader refuses is
/// in `failed/` with the reader's own words; nothing panics, nothing is lost or left behind.
#[test]
fn corrupted_files_end_in_processed_or_in_failed_with_the_reason() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let env = Env::new("");
    let scratch = tempfile::tempdir().unwrap();
    // GIVEN mutated copies of five real files, each content once (a repeat would be a duplicate)
    let mut seen = std::collections::HashSet::new();
    let mut dropped: Vec<(String, Option<String>)> = Vec::new();
    for name in [
        "messytables_simple.xls",
        "frictionless_skip-rows.xlsx",
        "messytables_utf-16le_encoded.csv",
        "messytables_excel_pasting.csv",
        "quotes_and_newlines.csv",
    ] {
        let original = fs::read(Path::new(FIXTURES).join(name)).unwrap();
        for round in 0..12 {
            let mut bytes = original.clone();
            for _ in 0..1 + round % 8 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            if round % 5 == 4 {
                bytes.truncate((next() % bytes.len() as u64) as usize);
            }
            if !seen.insert(bytes.clone()) {
                continue;
            }
            let file = format!("r{round:02}-{name}");
            // What the reader alone says of it: a refusal must reach the note word for word.
            let probe = scratch.path().join(&file);
            fs::write(&probe, &bytes).unwrap();
            let refusal = leadsync_spreadsheet::read::open(&probe, &Default::default())
                .err()
                .map(|e| e.to_string());
            env.drop_file(&file, &bytes);
            dropped.push((file, refusal));
        }
    }
    assert!(
        dropped.iter().any(|(_, r)| r.is_some()),
        "some files are refused"
    );

    // WHEN one cycle takes them all
    let out = env.run(&["sync", "--once"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // THEN the run succeeds and every file ends in exactly one place, a failed one with its reason
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(Env::files_in(&env.inbox).is_empty(), "left behind: {all}");
    for (file, refusal) in &dropped {
        let processed = moved_as(&env.processed_dir(), file);
        let failed = moved_as(&env.failed_dir(), file);
        assert_eq!(
            processed.len() + failed.len(),
            1,
            "{file}: {processed:?} {failed:?}"
        );
        if let Some(reason) = refusal {
            assert_eq!(failed.len(), 1, "{file} is refused by the reader: {reason}");
        }
        if let Some(path) = failed.first() {
            let note = fs::read_to_string(sidecar(path, ".error.txt")).unwrap();
            let why = note
                .lines()
                .find_map(|l| l.strip_prefix("Why: "))
                .unwrap_or_default();
            assert!(
                note.contains(file.as_str()) && !why.trim().is_empty(),
                "{file}: {note}"
            );
            if let Some(reason) = refusal {
                assert!(
                    why.contains(reason.as_str()),
                    "{file}: {why:?} lacks {reason:?}"
                );
            }
        }
    }
}
