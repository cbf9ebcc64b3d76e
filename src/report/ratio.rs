/// A ratio rounded to four decimals, as every report shows and serialises it.
pub(super) fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
