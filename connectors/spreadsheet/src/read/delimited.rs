//! Delimited text (CSV, TSV, semicolon and pipe files): a streaming reader with bounded
//! memory. The head read for sniffing is replayed in front of the rest of the file, the first
//! records are buffered to find the header, then records stream through one reused
//! `ByteRecord`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Cursor, Read};

use csv::{ByteRecord, ReaderBuilder};
use encoding_rs::{UTF_8, WINDOWS_1252};

use super::sniff::{HEAD_LEN, TextEncoding};
use super::stream::{Normalize, Transcode};
use super::{Format, RawRow, ReadError, ReadOptions, RowError, Rows, Table, delimiter, header};

type Source = Box<dyn Read + Send>;

/// How much decoded text the delimiter sniffer looks at (it stops after 50 lines anyway).
const DELIMITER_SAMPLE: usize = 64 * 1024;

/// Rows of a delimited file below its header.
pub(super) struct CsvRows {
    rdr: csv::Reader<Normalize<Source>>,
    record: ByteRecord,
    /// Sampled rows below the header (and a read error met while sampling), yielded before
    /// streaming resumes.
    pending: VecDeque<Result<RawRow, RowError>>,
    done: bool,
}

/// Opens a delimited file whose first bytes (`head`) were already read from `file`.
pub(super) fn open(
    head: Vec<u8>,
    file: File,
    enc: TextEncoding,
    ext: &str,
    opts: &ReadOptions,
) -> Result<Table, ReadError> {
    let delimiter = sniff_delimiter(&head, enc, ext);
    let mut replay = Cursor::new(head);
    replay.set_position(enc.bom_len as u64);
    let raw = replay.chain(file);
    // Everything but UTF-16 is ASCII-compatible and decoded field by field; UTF-16 is
    // transcoded to UTF-8 on the way in.
    let source: Source = if enc.encoding == UTF_8 || enc.encoding == WINDOWS_1252 {
        Box::new(raw)
    } else {
        Box::new(Transcode::new(raw, enc.encoding))
    };
    let rdr = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(64 * 1024)
        .from_reader(Normalize::new(source));
    let mut rows = CsvRows {
        rdr,
        record: ByteRecord::new(),
        pending: VecDeque::new(),
        done: false,
    };

    let mut sample: Vec<RawRow> = Vec::new();
    let mut sample_error = None;
    while sample.len() < header::SAMPLE_ROWS {
        let mut row = RawRow::default();
        match rows.read_record(&mut row) {
            None => break,
            Some(Ok(())) if header::is_blank(&row.cells) => {}
            Some(Ok(())) => sample.push(row),
            Some(Err(e)) => {
                sample_error = Some(e);
                break;
            }
        }
    }
    let cells: Vec<&[String]> = sample.iter().map(|r| r.cells.as_slice()).collect();
    let Some(h) = header::choose(&cells, opts.is_known_header) else {
        return Err(match sample_error {
            Some(e) => ReadError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            None => ReadError::Empty,
        });
    };
    let mut below = sample.split_off(h);
    let header = below.remove(0);
    rows.pending.extend(below.into_iter().map(Ok));
    rows.pending.extend(sample_error.map(Err));
    Ok(Table {
        format: Format::Csv {
            delimiter,
            encoding: enc.encoding.name(),
        },
        headers: header.cells.iter().map(|c| c.trim().to_string()).collect(),
        header_row: header.number,
        sheet: None,
        other_sheets: Vec::new(),
        rows: Rows::Delimited(Box::new(rows)),
    })
}

fn sniff_delimiter(head: &[u8], enc: TextEncoding, ext: &str) -> u8 {
    let hint = delimiter::hint_from_extension(ext);
    let body = head.get(enc.bom_len..).unwrap_or_default();
    let whole_file = head.len() < HEAD_LEN;
    if enc.encoding == UTF_8 || enc.encoding == WINDOWS_1252 {
        let n = body.len().min(DELIMITER_SAMPLE);
        delimiter::detect(&body[..n], whole_file && n == body.len(), hint)
    } else {
        let n = body.len().min(2 * DELIMITER_SAMPLE) & !1;
        let (text, _) = enc.encoding.decode_without_bom_handling(&body[..n]);
        delimiter::detect(text.as_bytes(), whole_file && n == body.len(), hint)
    }
}

impl CsvRows {
    /// The next non-blank row.
    pub(super) fn next_into(&mut self, row: &mut RawRow) -> Option<Result<(), RowError>> {
        if let Some(sampled) = self.pending.pop_front() {
            return Some(sampled.map(|r| *row = r));
        }
        loop {
            match self.read_record(row)? {
                Ok(()) if header::is_blank(&row.cells) => continue,
                other => return Some(other),
            }
        }
    }

    /// Reads one record (blank or not) into `row`. After a read error the stream ends: the
    /// parser cannot resynchronise after an I/O error or an oversized record.
    fn read_record(&mut self, row: &mut RawRow) -> Option<Result<(), RowError>> {
        if self.done {
            return None;
        }
        match self.rdr.read_byte_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                let number = self.rdr.position().line();
                let reason = match e.into_kind() {
                    csv::ErrorKind::Io(io) => io.to_string(),
                    other => format!("{other:?}"),
                };
                return Some(Err(RowError { number, reason }));
            }
        }
        // The parser reports the line *after* the record. Every line break reaching it is a
        // single `\n` (see `Normalize`), so the start line is that minus the breaks inside
        // quoted cells and the terminator (absent only for a last line without one). Blank
        // lines skipped before the record are thereby not counted against it.
        let (end_byte, end_line) = (self.rdr.position().byte(), self.rdr.position().line());
        let source = self.rdr.get_mut();
        let terminator = u64::from(!source.ended_without_newline_at(end_byte));
        source.set_record_start(end_byte);
        let inner = self
            .record
            .as_slice()
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        row.number = end_line.saturating_sub(inner + terminator).max(1);
        decode_record(&self.record, &mut row.cells);
        Some(Ok(()))
    }
}

/// Decodes each field into `cells`, reusing their allocations. A field that is valid UTF-8
/// is taken as such, anything else as windows-1252: this covers UTF-8 files with a stray
/// Latin-1 field further down than the sniffed head, and windows-1252 files (where valid
/// multi-byte UTF-8 sequences essentially never occur by accident).
fn decode_record(record: &ByteRecord, cells: &mut Vec<String>) {
    cells.truncate(record.len());
    for (i, field) in record.iter().enumerate() {
        if i == cells.len() {
            cells.push(String::new());
        }
        let cell = &mut cells[i];
        cell.clear();
        match std::str::from_utf8(field) {
            Ok(text) => cell.push_str(text),
            Err(_) => cell.push_str(&WINDOWS_1252.decode_without_bom_handling(field).0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_field_encodings() {
        let mut record = ByteRecord::new();
        record.push_field(b"caf\xC3\xA9");
        record.push_field(b"caf\xE9");
        record.push_field(b"\x80 5");
        let mut cells = vec!["old".to_string(); 5];
        decode_record(&record, &mut cells);
        assert_eq!(cells, ["café", "café", "€ 5"]);
    }
}
