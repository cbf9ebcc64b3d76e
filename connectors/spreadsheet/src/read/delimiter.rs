//! Delimiter detection. European Excel writes `;`, some tools write tabs or pipes, and the
//! extension rarely says which, so the first lines are sampled.

/// Candidates in tie-break order: comma wins ties unless the extension suggests otherwise.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
const SAMPLE_LINES: usize = 50;

/// The delimiter an extension suggests; used only to break ties.
pub(super) fn hint_from_extension(ext: &str) -> Option<u8> {
    match ext {
        "tsv" | "tab" => Some(b'\t'),
        "psv" => Some(b'|'),
        "ssv" => Some(b';'),
        _ => None,
    }
}

/// Picks the delimiter whose per-line count (outside quotes) is most consistent and non-zero
/// over the first non-blank lines of `sample` (ASCII-compatible text). `complete` says whether
/// the sample is the whole file, so that its last line is not a fragment.
pub(super) fn detect(sample: &[u8], complete: bool, hint: Option<u8>) -> u8 {
    let lines = line_counts(sample, complete);
    let mut order: Vec<u8> = hint.into_iter().collect();
    order.extend(CANDIDATES.iter().copied().filter(|&d| Some(d) != hint));
    let mut best = (0usize, b',');
    for d in order {
        let Some(slot) = CANDIDATES.iter().position(|&c| c == d) else {
            continue;
        };
        let score = consistency(lines.iter().map(|counts| counts[slot]));
        if score > best.0 {
            best = (score, d);
        }
    }
    best.1
}

/// Number of lines that have the modal non-zero count (ties in the mode go to the larger
/// count); 0 when the delimiter never occurs.
fn consistency(counts: impl Iterator<Item = u32>) -> usize {
    let mut freq: Vec<(u32, usize)> = Vec::new();
    for c in counts.filter(|&c| c > 0) {
        match freq.iter_mut().find(|(v, _)| *v == c) {
            Some((_, n)) => *n += 1,
            None => freq.push((c, 1)),
        }
    }
    freq.iter()
        .map(|&(v, n)| (n, v))
        .max()
        .map_or(0, |(n, _)| n)
}

/// Per-line counts of each candidate outside quoted fields, for up to [`SAMPLE_LINES`]
/// non-blank lines. A quote opens a quoted field only at the start of a field, so a stray
/// inch mark in `5" floppy` does not hide the rest of the sample.
fn line_counts(sample: &[u8], complete: bool) -> Vec<[u32; 4]> {
    let mut lines = Vec::new();
    let mut counts = [0u32; 4];
    let mut blank = true;
    let mut in_quotes = false;
    let mut field_start = true;
    let mut i = 0;
    while i < sample.len() && lines.len() < SAMPLE_LINES {
        let b = sample[i];
        i += 1;
        if in_quotes {
            if b == b'"' {
                if sample.get(i) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
            continue;
        }
        match b {
            b'\n' | b'\r' => {
                if b == b'\r' && sample.get(i) == Some(&b'\n') {
                    i += 1;
                }
                if !blank {
                    lines.push(counts);
                }
                (counts, blank, field_start) = ([0; 4], true, true);
            }
            b'"' if field_start => (in_quotes, blank, field_start) = (true, false, false),
            _ => {
                if let Some(slot) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[slot] += 1;
                    field_start = true;
                } else if !b.is_ascii_whitespace() {
                    blank = false;
                    field_start = false;
                }
            }
        }
    }
    // The last line counts if the file ends there, or if it is all there is.
    if !blank && (complete || lines.is_empty()) && lines.len() < SAMPLE_LINES {
        lines.push(counts);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_consistent_delimiter() {
        assert_eq!(detect(b"a;b;c\n1;2,5;3\n4;5;6\n", true, None), b';');
        assert_eq!(detect(b"a\tb\n1\t2\n", true, None), b'\t');
        assert_eq!(detect(b"a|b|c\n1|2|3", true, None), b'|');
        assert_eq!(detect(b"\"x;y;z\",b\n\"1;2\",3\n", true, None), b',');
        assert_eq!(detect(b"5\" floppy,3\nsmall,4\n", true, None), b',');
    }

    #[test]
    fn ties_go_to_comma_or_the_extension_hint() {
        assert_eq!(detect(b"a;b,c\n1;2,3\n", true, None), b',');
        assert_eq!(detect(b"a\tb,c\n1\t2,3\n", true, Some(b'\t')), b'\t');
        assert_eq!(detect(b"single column\nvalue\n", true, None), b',');
        assert_eq!(detect(b"", true, None), b',');
    }

    #[test]
    fn title_lines_do_not_decide() {
        let text = b"Report, generated today\n\nname;email;phone\na;b;c\nd;e;f\n";
        assert_eq!(detect(text, true, None), b';');
    }
}
