//! Phone normalisation: 20,000 numbers in the shapes a pull meets, to E.164, after the
//! numbering plan is loaded and the patterns they need are compiled (as in a running daemon).
//!
//!     cargo bench --bench phone
//!
//! Prints the plan's load time and the cost per number. Under callgrind, count the timed pass
//! alone: `--collect-atstart=no --toggle-collect='*bench_pass*'`.

use leadsync::resolve::phone::{load_metadata, region, to_e164};
use phonenumber::country::Id;

fn main() {
    let start = std::time::Instant::now();
    load_metadata();
    println!("plan built in {:?}", start.elapsed());
    let (us, gb) = (region("US").unwrap(), region("GB").unwrap());
    let inputs: Vec<(String, Id)> = (0..20_000u32)
        .map(|i| {
            let n = i % 10_000;
            match i % 5 {
                0 => (format!("+1 415 555 {n:04}"), us),
                1 => (format!("(415) 555-{n:04}"), us),
                2 => (format!("+44 20 7946 {n:04}"), us),
                3 => (format!("020 7946 {n:04}"), gb),
                _ => (format!("+1 555 01{:02} {n:04}", n % 100), us),
            }
        })
        .collect();
    // Compile the patterns these need once, as a running daemon has.
    for (raw, r) in &inputs {
        std::hint::black_box(to_e164(raw, *r));
    }
    let start = std::time::Instant::now();
    let valid = bench_pass(&inputs);
    let elapsed = start.elapsed();
    println!(
        "{} numbers, {valid} valid: {:.0} ns per number",
        inputs.len(),
        elapsed.as_nanos() as f64 / inputs.len() as f64
    );
}

/// The timed pass, a function of its own so that callgrind can count it alone.
#[inline(never)]
fn bench_pass(inputs: &[(String, Id)]) -> usize {
    inputs
        .iter()
        .filter(|(raw, r)| std::hint::black_box(to_e164(raw, *r)).is_some())
        .count()
}
