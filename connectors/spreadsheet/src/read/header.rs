//! Header row detection. Report-style exports put titles, dates and blank rows above the real
//! header; this finds the header among the first non-empty rows.

/// How many non-empty rows are inspected to find the header.
pub(super) const SAMPLE_ROWS: usize = 30;

/// Whether every cell is empty or whitespace (such rows are never yielded).
pub(super) fn is_blank<S: AsRef<str>>(cells: &[S]) -> bool {
    cells.iter().all(|c| c.as_ref().trim().is_empty())
}

fn filled<S: AsRef<str>>(cells: &[S]) -> usize {
    cells
        .iter()
        .filter(|c| !c.as_ref().trim().is_empty())
        .count()
}

/// Picks the header among `rows` (the sampled non-empty rows, in file order) and returns its
/// index.
///
/// Candidates have at least 2 non-empty cells (1 when no sampled row has 2, i.e. a
/// single-column file). The candidate with the most cells the caller knows as header names
/// wins (first on ties). Without any known name, the first candidate about as full as the
/// typical row wins: at least the modal non-empty count minus a quarter. The quarter allows
/// for the empty corner cell of cross-tab headers (`;1985;1993;…`), which would otherwise lose
/// to the first data row. Failing all that, the first row.
pub(super) fn choose(rows: &[&[String]], is_known: &dyn Fn(&str) -> bool) -> Option<usize> {
    if rows.is_empty() {
        return None;
    }
    let counts: &[usize] = &rows.iter().map(|r| filled(r)).collect::<Vec<_>>();
    let min_cells = if counts.iter().any(|&n| n >= 2) { 2 } else { 1 };
    let candidates = || (0..rows.len()).filter(move |&i| counts[i] >= min_cells);

    let mut best: Option<(usize, usize)> = None;
    for i in candidates() {
        let known = rows[i]
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty() && is_known(c))
            .count();
        if known > 0 && best.is_none_or(|(score, _)| known > score) {
            best = Some((known, i));
        }
    }
    if let Some((_, i)) = best {
        return Some(i);
    }

    let typical = modal(counts);
    let threshold = typical - typical / 4;
    candidates()
        .find(|&i| counts[i] >= threshold)
        .or_else(|| candidates().next())
        .or(Some(0))
}

/// The most common value; ties go to the larger value (the table, not the title rows).
fn modal(values: &[usize]) -> usize {
    let mut freq: Vec<(usize, usize)> = Vec::new();
    for &v in values {
        match freq.iter_mut().find(|(x, _)| *x == v) {
            Some((_, n)) => *n += 1,
            None => freq.push((v, 1)),
        }
    }
    freq.iter()
        .map(|&(v, n)| (n, v))
        .max()
        .map_or(0, |(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }

    fn choose(rows: &[Vec<String>], is_known: &dyn Fn(&str) -> bool) -> Option<usize> {
        let slices: Vec<&[String]> = rows.iter().map(Vec::as_slice).collect();
        super::choose(&slices, is_known)
    }

    const NONE: &dyn Fn(&str) -> bool = &|_| false;

    #[test]
    fn skips_title_rows() {
        let r = rows("Contacts export,,\nGenerated 2024-01-01,,\nname,email,phone\na,b,c\nd,e,f");
        assert_eq!(choose(&r, NONE), Some(2));
    }

    #[test]
    fn known_headers_win_over_width() {
        let r = rows("Report,Q1,x,y\nEmail,First Name,,\na,b,c,d\ne,f,g,h");
        let known = |h: &str| ["email", "first name"].contains(&h.to_lowercase().as_str());
        assert_eq!(choose(&r, &known), Some(1));
        assert_eq!(choose(&r, NONE), Some(0));
    }

    #[test]
    fn cross_tab_header_with_empty_corner() {
        let r = rows("Title,,,,\nRegion:,DE,,,\n,1985,1993,2000,2005\nA,1,2,3,4\nB,1,2,3,4");
        assert_eq!(choose(&r, NONE), Some(2));
    }

    #[test]
    fn single_column_and_empty() {
        assert_eq!(choose(&rows("email\na@x\nb@x"), NONE), Some(0));
        assert_eq!(choose(&[], NONE), None);
        assert!(is_blank(&["", " \u{a0}", "\t"]));
    }
}
