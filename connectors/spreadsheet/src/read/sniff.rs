//! Content sniffing: what a file is, judged by its first bytes rather than its name. Users
//! rename files freely (an XLSX saved as `.csv`, an HTML table saved as `.xls`), so the
//! extension is never trusted for the format.

use std::io::{self, Read};

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::ReadError;

/// How much of the file is inspected up front. It is kept and replayed in front of the rest
/// of the file, so the CSV stream never reads a byte twice.
pub(super) const HEAD_LEN: usize = 1 << 20;

/// How much of the head the NUL / control-byte statistics look at.
const PROBE_LEN: usize = 4096;

const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
const ODS_MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

/// What the head says the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text(TextEncoding),
    /// A ZIP container: XLSX/XLSB, or ODS when its `mimetype` entry says so.
    Zip {
        ods: bool,
    },
    /// An OLE compound file: legacy XLS (or another legacy Office document).
    Ole,
}

/// The encoding of a delimited text file and the length of its byte-order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TextEncoding {
    pub(super) encoding: &'static Encoding,
    pub(super) bom_len: usize,
}

/// Reads up to [`HEAD_LEN`] bytes from the start of `file`.
pub(super) fn read_head(file: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    file.by_ref().take(HEAD_LEN as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Decides what the file is from its head.
pub(super) fn classify(head: &[u8]) -> Result<Kind, ReadError> {
    if head.is_empty() {
        return Err(ReadError::Empty);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Kind::Zip { ods: is_ods(head) });
    }
    if head.starts_with(b"PK\x05\x06") {
        return Err(unsupported("an empty ZIP archive"));
    }
    if head.starts_with(OLE_MAGIC) {
        return Ok(Kind::Ole);
    }
    if let Some((encoding, bom_len)) = Encoding::for_bom(head) {
        if encoding == UTF_8 {
            check_markup(&head[bom_len..])?;
        }
        return Ok(Kind::Text(TextEncoding { encoding, bom_len }));
    }
    if let Some(what) = known_binary(head) {
        return Err(unsupported(what));
    }
    if let Some(encoding) = utf16_by_nuls(head) {
        return Ok(Kind::Text(TextEncoding {
            encoding,
            bom_len: 0,
        }));
    }
    check_markup(head)?;
    let probe = &head[..head.len().min(PROBE_LEN)];
    let controls = probe.iter().filter(|&&b| is_binary_control(b)).count();
    // Text exports never contain these bytes; a stray one (a bad export) is tolerated.
    if controls * 100 > probe.len() {
        return Err(unsupported(&format!(
            "binary data ({controls} control or NUL bytes in the first {} bytes)",
            probe.len()
        )));
    }
    let encoding = if is_utf8(head) { UTF_8 } else { WINDOWS_1252 };
    Ok(Kind::Text(TextEncoding {
        encoding,
        bom_len: 0,
    }))
}

fn unsupported(what: &str) -> ReadError {
    ReadError::Unsupported(format!(
        "it looks like {what}, not a spreadsheet or CSV file"
    ))
}

/// ODS files store an uncompressed `mimetype` entry first, so its content is visible in the
/// local file header of the first entry.
fn is_ods(head: &[u8]) -> bool {
    head.get(30..38) == Some(b"mimetype")
        && head
            .get(38..head.len().min(38 + 128))
            .is_some_and(|rest| rest.windows(ODS_MIMETYPE.len()).any(|w| w == ODS_MIMETYPE))
}

/// Files people drop by mistake, recognised by their magic numbers.
fn known_binary(head: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"\x89PNG\r\n\x1A\n", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"Rar!\x1A\x07", "a RAR archive"),
        (b"7z\xBC\xAF\x27\x1C", "a 7-Zip archive"),
        (b"\x7FELF", "an executable program"),
        (b"{\\rtf", "an RTF document"),
    ];
    MAGIC
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|&(_, what)| what)
}

/// HTML and XML files are text, so they would otherwise be parsed as a one-column CSV.
/// Several CRMs export "Excel" files that are really HTML tables or Excel 2003 XML.
fn check_markup(head: &[u8]) -> Result<(), ReadError> {
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let lead = head[start..head.len().min(start + 64)].to_ascii_lowercase();
    let is = |p: &[u8]| lead.starts_with(p);
    if is(b"<!doctype html") || is(b"<html") || is(b"<table") {
        return Err(unsupported(
            "an HTML page (some tools save HTML tables with an .xls name; re-save it as XLSX or CSV)",
        ));
    }
    if is(b"<?xml") {
        let probe = &head[..head.len().min(PROBE_LEN)];
        let ns = b"urn:schemas-microsoft-com:office:spreadsheet";
        if probe.windows(ns.len()).any(|w| w == ns) {
            return Err(unsupported(
                "an Excel 2003 XML spreadsheet (re-save it as XLSX or CSV)",
            ));
        }
        return Err(unsupported("an XML document"));
    }
    Ok(())
}

/// UTF-16 without a BOM: ASCII text then has a NUL in every other byte. Little-endian puts
/// the NUL second.
fn utf16_by_nuls(head: &[u8]) -> Option<&'static Encoding> {
    let probe = &head[..head.len().min(PROBE_LEN) & !1];
    let pairs = probe.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even, mut odd) = (0, 0);
    for pair in probe.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    let mostly = |n: usize| n * 10 >= pairs * 4;
    let rarely = |n: usize| n * 10 <= pairs;
    if mostly(odd) && rarely(even) {
        Some(UTF_16LE)
    } else if mostly(even) && rarely(odd) {
        Some(UTF_16BE)
    } else {
        None
    }
}

fn is_binary_control(b: u8) -> bool {
    // Tab, LF, VT, FF, CR, SUB (DOS end-of-file) and ESC do occur in text exports.
    b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | 0x1A | 0x1B)
}

/// Whether the head is UTF-8. A character cut off at the end of the head is fine.
fn is_utf8(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(head: &[u8]) -> &'static str {
        match classify(head) {
            Ok(Kind::Text(t)) => t.encoding.name(),
            other => panic!("not text: {other:?}"),
        }
    }

    #[test]
    fn utf8_cut_mid_character_is_still_utf8() {
        assert_eq!(text(b"a,b\n1,\xC3"), "UTF-8");
        assert_eq!(text(b"a,b\n1,\xE9\n"), "windows-1252");
    }

    #[test]
    fn utf16_without_bom_by_nul_pattern() {
        assert_eq!(text(b"a\0,\0b\0\n\0"), "UTF-16LE");
        assert_eq!(text(b"\0a\0,\0b\0\n"), "UTF-16BE");
    }

    #[test]
    fn binary_and_markup_are_unsupported() {
        for head in [
            &b"\0\0\0\x01\x02junk"[..],
            b"%PDF-1.7",
            b"  <html><table>",
            b"<?xml ?>",
        ] {
            assert!(
                matches!(classify(head), Err(ReadError::Unsupported(_))),
                "{head:?}"
            );
        }
    }

    #[test]
    fn containers() {
        let mut ods = b"PK\x03\x04".to_vec();
        ods.resize(30, 0);
        ods.extend_from_slice(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheetPK");
        assert_eq!(classify(&ods).ok(), Some(Kind::Zip { ods: true }));
        assert_eq!(
            classify(b"PK\x03\x04rest").ok(),
            Some(Kind::Zip { ods: false })
        );
        assert_eq!(classify(OLE_MAGIC).ok(), Some(Kind::Ole));
    }
}
