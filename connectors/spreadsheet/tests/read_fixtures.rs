//! The spreadsheet reader against real-world messy files (tests/fixtures/messy, see
//! SOURCES.md there) and generated edge cases. Expected values were worked out by reading the
//! files (hexdump, Python's csv module, openpyxl/xlrd), not by echoing the reader's output.

use std::path::{Path, PathBuf};

use leadsync_spreadsheet::read::{Format, RawRow, ReadError, ReadOptions, Table, open};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/messy")
        .join(name)
}

fn open_fixture(name: &str) -> Table {
    open(&fixture(name), &ReadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn rows(table: &mut Table) -> Vec<RawRow> {
    table
        .rows()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn csv(delimiter: u8, encoding: &'static str) -> Format {
    Format::Csv {
        delimiter,
        encoding,
    }
}

/// Opens a fixture and checks what every test checks: format, header row, the first header
/// cells and the number of data rows. Returns the rows for further checks.
fn check(name: &str, format: Format, header_row: u64, headers: &[&str], n: usize) -> Vec<RawRow> {
    let mut t = open_fixture(name);
    assert_eq!(t.format, format, "{name}: format");
    assert_eq!(t.header_row, header_row, "{name}: header row");
    assert_eq!(&t.headers[..headers.len()], headers, "{name}: headers");
    let rows = rows(&mut t);
    assert_eq!(rows.len(), n, "{name}: data rows");
    rows
}

fn cells(row: &RawRow) -> Vec<&str> {
    row.cells.iter().map(String::as_str).collect()
}

#[test]
fn csv_spectrum_files() {
    let r = check(
        "comma_in_quotes.csv",
        csv(b',', "UTF-8"),
        1,
        &["first", "last", "address"],
        1,
    );
    assert_eq!(
        cells(&r[0]),
        ["John", "Doe", "120 any st.", "Anytown, WW", "08123"]
    );

    for name in ["empty.csv", "empty_crlf.csv"] {
        let r = check(name, csv(b',', "UTF-8"), 1, &["a", "b", "c"], 2);
        assert_eq!(cells(&r[0]), ["1", "", ""]);
        assert_eq!((r[1].number, cells(&r[1])), (3, vec!["2", "3", "4"]));
    }

    let r = check("escaped_quotes.csv", csv(b',', "UTF-8"), 1, &["a", "b"], 2);
    assert_eq!(cells(&r[0]), ["1", "ha \"ha\" ha"]);

    let r = check("json.csv", csv(b',', "UTF-8"), 1, &["key", "val"], 1);
    assert_eq!(
        r[0].cells[1],
        r#"{"type": "Point", "coordinates": [102.0, 0.5]}"#
    );

    for name in ["newlines.csv", "newlines_crlf.csv"] {
        let r = check(name, csv(b',', "UTF-8"), 1, &["a", "b", "c"], 3);
        assert_eq!(
            (r[1].number, cells(&r[1])),
            (3, vec!["Once upon \na time", "5", "6"])
        );
        assert_eq!((r[2].number, cells(&r[2])), (5, vec!["7", "8", "9"]));
    }

    let r = check(
        "quotes_and_newlines.csv",
        csv(b',', "UTF-8"),
        1,
        &["a", "b"],
        2,
    );
    assert_eq!(cells(&r[0]), ["1", "ha \n\"ha\" \nha"]);
    assert_eq!((r[1].number, cells(&r[1])), (5, vec!["3", "4"]));

    for name in ["simple.csv", "simple_crlf.csv"] {
        let r = check(name, csv(b',', "UTF-8"), 1, &["a", "b", "c"], 1);
        assert_eq!((r[0].number, cells(&r[0])), (2, vec!["1", "2", "3"]));
    }

    let r = check("utf8.csv", csv(b',', "UTF-8"), 1, &["a", "b", "c"], 2);
    assert_eq!(cells(&r[1]), ["4", "5", "ʤ"]);
}

#[test]
fn frictionless_csv_files() {
    let r = check(
        "frictionless_accent.csv",
        csv(b';', "UTF-8"),
        1,
        &["n_amenageur", "n_operateur"],
        2,
    );
    assert_eq!(r[0].cells.len(), 17);
    assert_eq!(
        &cells(&r[0])[..7],
        [
            "XXX",
            "YYY",
            "ZZZ",
            "FR*A17*P*ZZZ*3*_*_*_",
            "Parking 1",
            "D109A",
            "06090"
        ]
    );

    let r = check(
        "frictionless_bom.csv",
        csv(b',', "UTF-8"),
        1,
        &["id", "name"],
        2,
    );
    assert_eq!(cells(&r[1]), ["2", "中国人"]);

    let r = check(
        "frictionless_encoding-issue-274.csv",
        csv(b',', "UTF-8"),
        1,
        &["id", "name", "abbreviation"],
        507,
    );
    assert_eq!(
        &cells(&r[0])[..3],
        ["nz/a2f", "Asia New Zealand Foundation", "A2F"]
    );
    assert_eq!(r[506].number, 508);
    assert!(r.iter().all(|row| row.cells.len() == 17));

    let r = check(
        "frictionless_issue-1009-semicolon.csv",
        csv(b';', "UTF-8"),
        1,
        &["fieldNameA", "fieldNameB"],
        1,
    );
    assert_eq!(
        cells(&r[0]),
        ["0123", "c"],
        "leading zero kept: cells are text"
    );

    let r = check(
        "frictionless_latin1.csv",
        csv(b',', "windows-1252"),
        1,
        &["id", "name"],
        2,
    );
    assert_eq!((r[1].number, cells(&r[1])), (3, vec!["2", "©"]));
}

#[test]
fn messytables_csv_files() {
    // Cross-tab report: two title rows, a blank row, a three-row header; the first row that
    // is as full as the table ("provincie" × 12 from column C) is taken.
    let r = check(
        "messytables_begrotingsanalyse-2011.csv",
        csv(b',', "UTF-8"),
        4,
        &["", "", "provincie"],
        39,
    );
    assert_eq!(&cells(&r[0])[2..4], ["A", "B"]);
    assert_eq!(
        (r[2].number, &cells(&r[2])[..2]),
        (7, &["NR.", "Cluster"][..])
    );
    assert_eq!(
        (r[4].number, &cells(&r[4])[..3]),
        (9, &["1", "Onroerendezaakbelastingen", "208"][..])
    );

    let r = check(
        "messytables_complex.csv",
        csv(b',', "UTF-8"),
        1,
        &["date", "another date", "temperature", "place"],
        3,
    );
    assert_eq!(
        cells(&r[0]),
        ["2011-01-01", " 24 October 2011", " 0", ""],
        "cells are not trimmed"
    );
    // `"6,000,000"` preceded by a space is not a quoted field: the row is wider than the header.
    assert_eq!(
        cells(&r[2]),
        ["2011-01-03", " ", " \"6", "000", "000\"", "Galway"]
    );

    let r = check(
        "messytables_excel_pasting.csv",
        csv(b',', "UTF-8"),
        4,
        &["Year", "2000", "2001", "2002"],
        16,
    );
    assert_eq!(
        (r[0].number, &cells(&r[0])[..3]),
        (5, &["Timber", "2,666", "2,274"][..])
    );
    assert_eq!(r[15].number, 24);

    // No header at all: the first row is taken as the header, as a user would see it.
    let r = check(
        "messytables_null.csv",
        csv(b',', "UTF-8"),
        1,
        &["1", "null", "0", "0"],
        9,
    );
    assert_eq!(cells(&r[1]), ["3", "null", "", ""]);

    let r = check(
        "messytables_simple.psv",
        csv(b'|', "UTF-8"),
        1,
        &["Year", "New dwellings", "Other dwellings"],
        28,
    );
    assert_eq!(
        cells(&r[0]),
        ["1986", "44000", "35000", "36000", "27000", "45000"]
    );

    let r = check(
        "messytables_simple.ssv",
        csv(b';', "UTF-8"),
        1,
        &["date", "temperature", "place"],
        6,
    );
    assert_eq!(cells(&r[5]), ["2011-01-03", "5", "Berkeley"]);

    let r = check(
        "messytables_spanish_chars.csv",
        csv(b',', "windows-1252"),
        1,
        &["GF_ID", "FN_ID", "SF_ID"],
        115,
    );
    assert_eq!(
        open_fixture("messytables_spanish_chars.csv").headers[7],
        "Descripción"
    );
    assert_eq!(r[1].cells[4], "Legislación");
    assert_eq!(r[0].cells[6], "229,932.50");

    let r = check(
        "messytables_utf-16le_encoded.csv",
        csv(b',', "UTF-16LE"),
        1,
        &["Organisation_code", "Organisation_name"],
        327,
    );
    assert_eq!(&cells(&r[0])[..2], ["5C1", "Enfield PCT"]);
    assert_eq!(
        r[0].cells[2],
        format!("{:<50}", "NHS Facilities"),
        "padding kept: not trimmed"
    );
    assert_eq!(r[0].cells[3], "2010-11");
    assert_eq!(r[326].number, 328);

    let r = check(
        "messytables_utf8bom.csv",
        csv(b',', "UTF-8"),
        1,
        &["kitten", "win"],
        0,
    );
    assert!(r.is_empty());

    // Two blank lines, a title, a row of asterisks, key/value lines, then the year header
    // whose first (corner) cell is empty. Footnote rows of width 1 and 2 follow the table.
    let r = check(
        "messytables_weird_head_padding.csv",
        csv(b';', "UTF-8"),
        12,
        &["", "1985", "1993", "2000"],
        76,
    );
    assert_eq!(r[0].number, 13);
    assert_eq!(r[0].cells[0], "   Chirurgie (ohne Orthopädie) ...");
    assert_eq!(r[1].cells[0], "      Gefäßchirurgie");
}

#[test]
fn big5_file_falls_back_to_windows_1252() {
    // messytables_characters.csv is Big5 (Traditional Chinese), not Latin-1 as SOURCES.md
    // suggests. Without a charset detector it decodes as windows-1252 mojibake, but the
    // structure (18 columns, multi-line cells, 382 records) is intact.
    let r = check(
        "messytables_characters.csv",
        csv(b',', "windows-1252"),
        1,
        &["id", "´ºÂI½s¸¹"],
        382,
    );
    assert!(r.iter().all(|row| row.cells.len() == 18));
    assert_eq!(&cells(&r[0])[..2], ["v_1", "C1_395000000A_000001"]);
    assert_eq!((r[0].number, r[381].number), (2, 865));
}

#[test]
fn bare_cr_file_opens_with_correct_line_numbers() {
    // Lines end with bare CR (old Mac Excel). Contrary to SOURCES.md, every line has 19
    // fields: no field contains a line break, so widths do not vary.
    let mut t = open_fixture("messytables_mixedGLB.csv");
    assert_eq!(t.format, csv(b',', "UTF-8"));
    assert_eq!(t.header_row, 4);
    assert_eq!(&t.headers[..4], ["Year", "Jan", "Feb", "Mar"]);
    let r = rows(&mut t);
    assert_eq!(r.len(), 133);
    assert_eq!(
        (r[0].number, &cells(&r[0])[..3]),
        (5, &["1880", "-43", "-27"][..])
    );
    assert_eq!(r[132].number, 137);
    assert_eq!(&cells(&r[132])[5..7], ["61", "*****"]);
    assert!(r.iter().all(|row| row.cells.len() == 19));
}

#[test]
fn xlsx_fixtures() {
    // Numbers stored as floats come back without ".0"; the header "id " is trimmed.
    let r = check(
        "frictionless_sheets.xlsx",
        Format::Xlsx,
        1,
        &["id", "name"],
        1,
    );
    assert_eq!((r[0].number, cells(&r[0])), (2, vec!["1", "london"]));
    assert_eq!(
        open_fixture("frictionless_sheets.xlsx").sheet.as_deref(),
        Some("Sheet1")
    );

    // A merged title row "Table 1" above the header.
    let r = check(
        "frictionless_skip-rows.xlsx",
        Format::Xlsx,
        2,
        &["A", "B"],
        2,
    );
    assert_eq!((r[0].number, cells(&r[0])), (3, vec!["8", "9"]));
    assert_eq!((r[1].number, cells(&r[1])), (4, vec!["", "TOTAL"]));

    // Merged header cells: calamine gives the value in the top-left cell only.
    let r = check(
        "frictionless_multiline-headers.xlsx",
        Format::Xlsx,
        1,
        &[
            "Region",
            "Caloric contribution",
            "Cumulative impact of changes on cost of food basket",
            "",
        ],
        3,
    );
    assert_eq!(
        (r[0].number, cells(&r[0])),
        (
            4,
            vec!["", "", "from previous quarter", "from baseline (%)"]
        )
    );
    assert_eq!((r[2].number, cells(&r[2])), (6, vec!["A", "B", "C", "D"]));

    // A1:B3 merged, holding "data": a one-cell table with no data rows.
    let mut t = open_fixture("frictionless_merged-cells.xlsx");
    assert_eq!(
        (t.header_row, t.headers[0].as_str(), t.sheet.as_deref()),
        (1, "data", Some("Лист1"))
    );
    assert!(rows(&mut t).is_empty());

    let r = check(
        "messytables_simple.xlsx",
        Format::Xlsx,
        1,
        &["date", "temperature", "place"],
        6,
    );
    assert_eq!(cells(&r[0]), ["2011-01-01", "1", "Galway"]);
    assert_eq!(cells(&r[5]), ["2011-01-03", "5", "Berkeley"]);

    // Long numeric ids stored as text stay exact.
    let r = check(
        "messytables_sw_gen.xlsx",
        Format::Xlsx,
        1,
        &["id_str", "tweet_url", "created_at"],
        15,
    );
    assert_eq!(
        &cells(&r[0])[..3],
        [
            "474939423470395392",
            "https://twitter.com/frabcus/status/474939423470395392",
            "2014-06-06 15:42:37+00:00"
        ]
    );
    assert_eq!(&cells(&r[0])[5..8], ["0", "0", "frabcus"]);
    assert_eq!(
        (r[14].number, r[14].cells[0].as_str()),
        (16, "474534250407264256")
    );
}

#[test]
fn empty_libreoffice_sheet_has_no_header() {
    let err = open(
        &fixture("messytables_libreoffice.xlsx"),
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ReadError::Empty), "{err}");
    assert!(err.to_string().contains("no header row found"));
}

#[test]
fn legacy_xls_with_1904_dates() {
    // The workbook uses the 1904 date system: serial 39082 is 2011-01-01, not 2007-01-01.
    let mut t = open_fixture("messytables_simple.xls");
    assert_eq!(
        (t.format, t.sheet.as_deref(), t.header_row),
        (Format::Xls, Some("simple.csv"), 1)
    );
    assert_eq!(t.headers, ["date", "temperature", "place"]);
    let r = rows(&mut t);
    assert_eq!(r.len(), 6);
    assert_eq!(
        (r[0].number, cells(&r[0])),
        (2, vec!["2011-01-01", "1", "Galway"])
    );
    assert_eq!(cells(&r[1]), ["2011-01-02", "-1", "Galway"]);
}

#[test]
fn sheet_selection_by_name() {
    let opts = |sheet| ReadOptions {
        sheet: Some(sheet),
        ..ReadOptions::default()
    };
    let mut t = open(&fixture("frictionless_sheets.xlsx"), &opts("Sheet2")).unwrap();
    assert_eq!(t.sheet.as_deref(), Some("Sheet2"));
    assert_eq!(cells(&rows(&mut t)[0]), ["2", "paris"]);
    let mut t = open(&fixture("frictionless_sheets.xlsx"), &opts("sheet3")).unwrap();
    assert_eq!(
        (t.sheet.as_deref(), t.headers.clone()),
        (Some("Sheet3"), vec!["id".to_string(), "name".into()])
    );
    assert_eq!(cells(&rows(&mut t)[0]), ["3", "rome"]);

    let err = open(&fixture("frictionless_sheets.xlsx"), &opts("Leads")).unwrap_err();
    match &err {
        ReadError::SheetNotFound {
            requested,
            available,
        } => {
            assert_eq!(requested, "Leads");
            assert_eq!(available, &["Sheet1", "Sheet2", "Sheet3"]);
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        err.to_string(),
        r#"sheet "Leads" not found; available sheets: "Sheet1", "Sheet2", "Sheet3""#
    );
}

#[test]
fn every_fixture_opens_without_panic_and_is_left_untouched() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messy");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let before = std::fs::read(&path).unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        if let Ok(mut t) = open(&path, &ReadOptions::default()) {
            for row in t.rows() {
                row.unwrap();
            }
        }
        assert_eq!(std::fs::read(&path).unwrap(), before, "{}", path.display());
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );
        seen += 1;
    }
    assert_eq!(seen, 37, "36 fixtures + SOURCES.md");
}

// ---- generated files ----

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn open_bytes(name: &str, bytes: &[u8]) -> Result<Table, ReadError> {
    let dir = tempfile::tempdir().unwrap();
    open(&write(&dir, name, bytes), &ReadOptions::default())
}

fn unsupported_message(name: &str, bytes: &[u8]) -> String {
    match open_bytes(name, bytes) {
        Err(ReadError::Unsupported(msg)) => msg,
        other => panic!("{name}: expected Unsupported, got {other:?}"),
    }
}

#[test]
fn junk_files_are_unsupported() {
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    assert!(unsupported_message("leads.csv", pdf).contains("PDF"));
    let png = b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR\0\0\0\x10";
    assert!(unsupported_message("leads.xlsx", png).contains("PNG"));
    let mut nuls = b"name,email\n".to_vec();
    nuls.extend(std::iter::repeat_n(0u8, 500));
    assert!(unsupported_message("leads.csv", &nuls).contains("binary"));
    let html = b"<!DOCTYPE html><html><body><table><tr><td>a</td></tr></table>";
    assert!(unsupported_message("export.xls", html).contains("HTML"));
    let zip = b"PK\x03\x04\x14\0\0\0\0\0junk that is no workbook";
    assert!(unsupported_message("leads.xlsx", zip).contains("ZIP"));
}

#[test]
fn empty_files_have_no_header() {
    for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n\r\n\n", b" , ,\n,,\n\t\n"] {
        let result = open_bytes("empty.csv", bytes);
        assert!(
            matches!(result, Err(ReadError::Empty)),
            "{bytes:?}: {result:?}"
        );
    }
}

#[test]
fn truncated_workbooks_fail_cleanly() {
    for name in [
        "messytables_simple.xlsx",
        "messytables_simple.xls",
        "frictionless_sheets.xlsx",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for len in [8, 100, 1000, bytes.len() / 2] {
            assert!(
                open_bytes(name, &bytes[..len]).is_err(),
                "{name} cut at {len}"
            );
        }
    }
}

#[test]
fn content_wins_over_extension() {
    let bytes = std::fs::read(fixture("frictionless_sheets.xlsx")).unwrap();
    let t = open_bytes("export.csv", &bytes).unwrap();
    assert_eq!(
        (t.format, t.headers.clone()),
        (Format::Xlsx, vec!["id".to_string(), "name".into()])
    );
    let t = open_bytes("export.xlsx", b"a;b\n1;2\n").unwrap();
    assert_eq!(t.format, csv(b';', "UTF-8"));
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut units: Vec<u16> = if bom { vec![0xFEFF] } else { vec![] };
    units.extend(text.encode_utf16());
    units
        .iter()
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

#[test]
fn utf16_files() {
    let text = "Name;E-mail;Ville\r\nJosé;jose@example.com;Zürich\r\n\"Ünal\r\nSr.\";u@example.com;Köln\r\n";
    for (be, bom, enc) in [
        (true, true, "UTF-16BE"),
        (false, false, "UTF-16LE"),
        (true, false, "UTF-16BE"),
    ] {
        let mut t = open_bytes("contacts.csv", &utf16(text, be, bom)).unwrap();
        assert_eq!(t.format, csv(b';', enc));
        assert_eq!(t.headers, ["Name", "E-mail", "Ville"]);
        let r = rows(&mut t);
        assert_eq!(
            (r[0].number, cells(&r[0])),
            (2, vec!["José", "jose@example.com", "Zürich"])
        );
        assert_eq!(
            (r[1].number, cells(&r[1])),
            (3, vec!["Ünal\nSr.", "u@example.com", "Köln"])
        );
    }
}

#[test]
fn title_rows_above_header_are_skipped() {
    let text = b"Contacts export,,\nGenerated 2024-05-01 by admin,,\n\nEmail,First Name,Phone\na@x.com,Ann,4155550123\n,,\nb@x.com,Bob,\n";
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "export.csv", text);
    let known = |h: &str| ["email", "first name", "phone"].contains(&h.to_lowercase().as_str());
    for opts in [
        ReadOptions::default(),
        ReadOptions {
            sheet: None,
            is_known_header: &known,
        },
    ] {
        let mut t = open(&path, &opts).unwrap();
        assert_eq!(
            (t.header_row, t.headers.clone()),
            (4, vec!["Email".into(), "First Name".into(), "Phone".into()])
        );
        let r = rows(&mut t);
        assert_eq!(
            r.iter().map(|r| r.number).collect::<Vec<_>>(),
            [5, 7],
            "blank row 6 skipped"
        );
    }
}

#[test]
fn known_headers_choose_between_full_rows() {
    // Both rows are equally full; only the caller's mapping can tell the header apart.
    let text = b"Report,Q2,2024\nemail,name,phone\na@x,A,1\n";
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "r.csv", text);
    let known = |h: &str| h == "email" || h == "phone";
    let t = open(
        &path,
        &ReadOptions {
            sheet: None,
            is_known_header: &known,
        },
    )
    .unwrap();
    assert_eq!(t.header_row, 2);
    assert_eq!(open(&path, &ReadOptions::default()).unwrap().header_row, 1);
}

#[test]
fn line_numbers_with_bare_cr_blank_lines_and_no_final_newline() {
    let mut t = open_bytes("cr.csv", b"\r\na,b\r1,2\r\r\"x\ry\",3\r\n4,5").unwrap();
    assert_eq!(t.header_row, 2);
    let r = rows(&mut t);
    let got: Vec<_> = r.iter().map(|r| (r.number, cells(r))).collect();
    assert_eq!(
        got,
        [
            (3, vec!["1", "2"]),
            (5, vec!["x\ny", "3"]),
            (7, vec!["4", "5"])
        ]
    );
}

#[test]
fn tsv_extension_breaks_ties_toward_tab() {
    let t = open_bytes("x.tsv", b"a\tb,c\n1\t2,3\n").unwrap();
    assert_eq!(t.format, csv(b'\t', "UTF-8"));
    let t = open_bytes("x.csv", b"a\tb,c\n1\t2,3\n").unwrap();
    assert_eq!(t.format, csv(b',', "UTF-8"));
}

#[test]
fn latin1_field_after_the_sniffed_megabyte() {
    let mut bytes = b"name,city\n".to_vec();
    while bytes.len() < 1_100_000 {
        bytes.extend_from_slice("Zoë,Zürich\n".as_bytes());
    }
    bytes.extend_from_slice(b"Ren\xE9,Montr\xE9al\n");
    let mut t = open_bytes("big.csv", &bytes).unwrap();
    assert_eq!(t.format, csv(b',', "UTF-8"));
    let last = rows(&mut t).pop().unwrap();
    assert_eq!(cells(&last), ["René", "Montréal"]);
}

#[test]
fn unclosed_quote_is_one_row_error_not_unbounded_memory() {
    let mut bytes = b"name,notes\nann,ok\nbob,\"never closed\n".to_vec();
    bytes.resize(bytes.len() + 17 * 1024 * 1024, b'x');
    let mut t = open_bytes("q.csv", &bytes).unwrap();
    let first = t.next().unwrap().unwrap();
    assert_eq!(cells(&first), ["ann", "ok"]);
    let err = t.next().unwrap().unwrap_err();
    assert!(err.reason.contains("unclosed quote"), "{err}");
    assert!(t.next().is_none());
}

#[test]
fn streams_200k_rows_with_reused_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut text = String::from("email;first_name;last_name;phone\n");
    for i in 0..200_000 {
        text.push_str(&format!(
            "user{i}@example.com;First{i};Last;+1415555{i:04}\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    let mut t = open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(t.format, csv(b';', "UTF-8"));
    let mut row = RawRow::default();
    let mut n = 0u64;
    while let Some(result) = t.next_into(&mut row) {
        result.unwrap();
        n += 1;
        assert_eq!(row.number, n + 1);
        assert_eq!(row.cells.len(), 4);
    }
    assert_eq!(n, 200_000);
    assert_eq!(row.cells[0], "user199999@example.com");
}

// ---- hand-built workbooks (no XLSX/ODS writer among the dependencies) ----

/// A ZIP archive with stored (uncompressed) entries, enough for calamine.
fn stored_zip(entries: &[(&str, &str)]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in entries {
        let (name, data) = (name.as_bytes(), data.as_bytes());
        let offset = out.len() as u32;
        let sizes = [crc32(data), data.len() as u32, data.len() as u32];
        // version, flags, method (stored), time, date (1980-01-01)
        let common: Vec<u8> = [20u16, 0, 0, 0, 0x21]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let sizes: Vec<u8> = sizes.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(&common);
        out.extend(&sizes);
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name);
        out.extend(data);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes());
        central.extend(&common);
        central.extend(&sizes);
        central.extend((name.len() as u16).to_le_bytes());
        central.extend([0u8; 12]); // extra, comment, disk, internal and external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name);
    }
    let (cd_offset, cd_len, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(n.to_le_bytes());
    out.extend(n.to_le_bytes());
    out.extend(cd_len.to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// An XLSX with an empty first sheet and a "Leads" sheet whose used range starts at B2:
/// a title in B2, a blank row 3, the header in row 4, typed values below.
fn leads_xlsx() -> Vec<u8> {
    let s = |r: &str, t: &str| format!(r#"<c r="{r}" t="inlineStr"><is><t>{t}</t></is></c>"#);
    let n = |r: &str, style: u8, v: &str| format!(r#"<c r="{r}" s="{style}"><v>{v}</v></c>"#);
    let header: String = [
        "Email",
        "Phone",
        "Signed up",
        "Last seen",
        "Opted in",
        "Score",
    ]
    .iter()
    .zip(["B4", "C4", "D4", "E4", "F4", "G4"])
    .map(|(t, r)| s(r, t))
    .collect();
    let row5 = [
        s("B5", "ann@example.com"),
        n("C5", 0, "4155550123"),
        n("D5", 1, "45943"),
        n("E5", 2, "45943.5"),
        r#"<c r="F5" t="b"><v>1</v></c>"#.to_string(),
        r##"<c r="G5" t="e"><v>#N/A</v></c>"##.to_string(),
    ]
    .concat();
    let row7 = [
        s("B7", "bob@example.com"),
        n("C7", 0, "0.25"),
        n("G7", 0, "-3"),
    ]
    .concat();
    let sheet2 = format!(
        r#"<worksheet xmlns="{MAIN_NS}"><sheetData><row r="2">{}</row><row r="4">{header}</row><row r="5">{row5}</row><row r="6">{}</row><row r="7">{row7}</row></sheetData></worksheet>"#,
        s("B2", "Leads export, May 2024"),
        s("C6", "  "),
    );
    let ct = "application/vnd.openxmlformats-officedocument.spreadsheetml";
    stored_zip(&[
        (
            "[Content_Types].xml",
            &format!(
                r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/><Override PartName="/xl/worksheets/sheet2.xml" ContentType="{ct}.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/></Types>"#
            ),
        ),
        (
            "_rels/.rels",
            &format!(
                r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/workbook.xml",
            &format!(
                r#"<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets><sheet name="Notes" sheetId="1" r:id="rId1"/><sheet name="Leads" sheetId="2" r:id="rId2"/></sheets></workbook>"#
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            &format!(
                r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL_NS}/worksheet" Target="worksheets/sheet2.xml"/><Relationship Id="rId3" Type="{REL_NS}/styles" Target="styles.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/styles.xml",
            &format!(
                r#"<styleSheet xmlns="{MAIN_NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>"#
            ),
        ),
        (
            "xl/worksheets/sheet1.xml",
            &format!(r#"<worksheet xmlns="{MAIN_NS}"><sheetData/></worksheet>"#),
        ),
        ("xl/worksheets/sheet2.xml", &sheet2),
    ])
}

#[test]
fn xlsx_offsets_types_and_first_non_empty_sheet() {
    let mut t = open_bytes("leads.xlsx", &leads_xlsx()).unwrap();
    assert_eq!(
        (t.format, t.sheet.as_deref(), t.header_row),
        (Format::Xlsx, Some("Leads"), 4)
    );
    assert_eq!(
        t.headers,
        [
            "Email",
            "Phone",
            "Signed up",
            "Last seen",
            "Opted in",
            "Score"
        ]
    );
    let r = rows(&mut t);
    let got: Vec<_> = r.iter().map(|r| (r.number, cells(r))).collect();
    assert_eq!(
        got,
        [
            (
                5,
                vec![
                    "ann@example.com",
                    "4155550123",
                    "2025-10-13",
                    "2025-10-13T12:00:00",
                    "true",
                    ""
                ]
            ),
            (7, vec!["bob@example.com", "0.25", "", "", "", "-3"]),
        ]
    );
}

#[test]
fn ods_detected_by_mimetype() {
    let cell = |v: &str| {
        format!(
            r#"<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>"#
        )
    };
    let content = format!(
        r#"<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Contacts"><table:table-row>{}{}{}</table:table-row><table:table-row>{}<table:table-cell office:value-type="float" office:value="4155550123"><text:p>4155550123</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="2024-02-29"><text:p>02/29/24</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#,
        cell("Email"),
        cell("Phone"),
        cell("Since"),
        cell("zoë@example.com"),
    );
    let manifest = r#"<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let ods = stored_zip(&[
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        ("content.xml", &content),
        ("META-INF/manifest.xml", manifest),
    ]);
    // Named .xlsx on purpose: the mimetype decides.
    let mut t = open_bytes("contacts.xlsx", &ods).unwrap();
    assert_eq!(
        (t.format, t.sheet.as_deref(), t.header_row),
        (Format::Ods, Some("Contacts"), 1)
    );
    assert_eq!(t.headers, ["Email", "Phone", "Since"]);
    let r = rows(&mut t);
    assert_eq!((r.len(), r[0].number), (1, 2));
    assert_eq!(
        cells(&r[0]),
        ["zoë@example.com", "4155550123", "2024-02-29"]
    );
}

#[test]
fn table_can_move_to_a_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Table>();
    assert_send::<ReadError>();
    let mut t = open_fixture("simple.csv");
    let rows = std::thread::spawn(move || t.rows().count()).join().unwrap();
    assert_eq!(rows, 1);
}
