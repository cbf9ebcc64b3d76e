//! `io::Read` adapters between the file and the CSV parser.

use std::io::{self, Read};

use encoding_rs::{CoderResult, Decoder, Encoding};

const BUF_LEN: usize = 64 * 1024;

/// A record larger than this is almost always an unbalanced quote swallowing the rest of the
/// file; stopping there keeps memory bounded whatever the file size.
pub(super) const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// Transcodes UTF-16 (or any encoding_rs encoding) to UTF-8 while streaming, so a large
/// UTF-16 export is never loaded whole. Malformed sequences become U+FFFD.
pub(super) struct Transcode<R> {
    inner: R,
    decoder: Decoder,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
    input_done: bool,
    finished: bool,
}

impl<R: Read> Transcode<R> {
    /// `inner` must start after any BOM.
    pub(super) fn new(inner: R, encoding: &'static Encoding) -> Self {
        Transcode {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            input: vec![0; BUF_LEN].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            output: vec![0; BUF_LEN].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            input_done: false,
            finished: false,
        }
    }
}

impl<R: Read> Read for Transcode<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.out_start == self.out_end && !self.finished {
            if self.in_start == self.in_end && !self.input_done {
                self.in_start = 0;
                self.in_end = self.inner.read(&mut self.input)?;
                self.input_done = self.in_end == 0;
            }
            let src = &self.input[self.in_start..self.in_end];
            let (result, read, written, _) =
                self.decoder
                    .decode_to_utf8(src, &mut self.output, self.input_done);
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.input_done && result == CoderResult::InputEmpty {
                self.finished = true;
            }
        }
        let n = out.len().min(self.out_end - self.out_start);
        out[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

/// Rewrites every line break (CRLF, bare CR as in old Mac Excel exports, LF) as a single
/// `\n`, and refuses to feed a record past [`MAX_RECORD_BYTES`].
///
/// The csv crate counts lines by `\n` only, so without this a bare-CR file reports every row
/// as line 1; with a single terminator byte the start line of each record can be computed
/// exactly (see `delimited`). Line breaks inside quoted cells become `\n` too.
pub(super) struct Normalize<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    pending_cr: bool,
    eof: bool,
    /// Bytes handed out so far (the csv crate's byte positions count the same bytes).
    produced: u64,
    last: u8,
    /// Byte position where the record being parsed began; set by the reader of records.
    record_start: u64,
}

impl<R: Read> Normalize<R> {
    pub(super) fn new(inner: R) -> Self {
        Normalize {
            inner,
            buf: vec![0; BUF_LEN].into_boxed_slice(),
            start: 0,
            end: 0,
            pending_cr: false,
            eof: false,
            produced: 0,
            last: b'\n',
            record_start: 0,
        }
    }

    /// Tells the guard that the parser has consumed everything before `pos`.
    pub(super) fn set_record_start(&mut self, pos: u64) {
        self.record_start = pos;
    }

    /// Whether the stream is exhausted at `pos` and its last byte was not a line break, i.e.
    /// the final record ended at end of file rather than with a terminator.
    pub(super) fn ended_without_newline_at(&self, pos: u64) -> bool {
        self.eof && !self.pending_cr && pos == self.produced && self.last != b'\n'
    }
}

impl<R: Read> Read for Normalize<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.produced.saturating_sub(self.record_start) > MAX_RECORD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "record longer than {} MiB, probably an unclosed quote; \
                     the rest of the file was not read",
                    MAX_RECORD_BYTES >> 20
                ),
            ));
        }
        let mut n = 0;
        while n < out.len() {
            if self.start == self.end {
                if self.eof || n > 0 {
                    break;
                }
                self.start = 0;
                self.end = self.inner.read(&mut self.buf)?;
                self.eof = self.end == 0;
                if self.eof && self.pending_cr {
                    self.pending_cr = false;
                    out[n] = b'\n';
                    n += 1;
                }
                continue;
            }
            if self.pending_cr {
                // A CR ends a line whether or not an LF follows; a following LF is dropped.
                self.pending_cr = false;
                out[n] = b'\n';
                n += 1;
                if self.buf[self.start] == b'\n' {
                    self.start += 1;
                }
                continue;
            }
            let avail = &self.buf[self.start..self.end];
            if avail[0] == b'\r' {
                self.pending_cr = true;
                self.start += 1;
                continue;
            }
            let run = avail
                .iter()
                .position(|&b| b == b'\r')
                .unwrap_or(avail.len());
            let k = run.min(out.len() - n);
            out[n..n + k].copy_from_slice(&avail[..k]);
            n += k;
            self.start += k;
        }
        if n > 0 {
            self.produced += n as u64;
            self.last = out[n - 1];
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads through a reader that hands out `chunk` bytes at a time, to cross buffer ends.
    fn read_all(mut r: impl Read, chunk: usize) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn normalizes_every_line_break() {
        for chunk in [1, 2, 3, 1024] {
            let got = read_all(Normalize::new(&b"a\r\nb\rc\nd\r\r\ne\r"[..]), chunk);
            assert_eq!(got, b"a\nb\nc\nd\n\ne\n", "chunk {chunk}");
        }
    }

    #[test]
    fn transcodes_utf16_across_small_reads() {
        let utf16: Vec<u8> = "naïve,€\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        for chunk in [1, 5, 1024] {
            let got = read_all(Transcode::new(&utf16[..], encoding_rs::UTF_16BE), chunk);
            assert_eq!(String::from_utf8(got).ok().as_deref(), Some("naïve,€\n"));
        }
    }
}
