//! Reader throughput: a generated ~150 MB, 1,000,000-row CSV read row by row.
//!
//!     cargo bench -p leadsync-spreadsheet --bench read
//!
//! Prints rows/s and the process's peak resident memory (VmHWM): the reader streams, so the
//! peak does not grow with the file.

use leadsync_spreadsheet::read::{ReadOptions, open};
use std::io::Write;

const ROWS: usize = 1_000_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        out,
        "Email,First Name,Last Name,Company,Phone,City,Country,Lead Source,Notes"
    )
    .unwrap();
    for i in 0..ROWS {
        writeln!(out, "someone.{i}@example-company.com,Firstname{i},Lastname,\"Example, Inc.\",+1 415 555 {:04},San Francisco,United States,Webinar,\"Asked about pricing; follow up\"", i % 10_000).unwrap();
    }
    drop(out);
    let size = std::fs::metadata(&path).unwrap().len();
    let start = std::time::Instant::now();
    let mut t = open(&path, &ReadOptions::default()).unwrap();
    let n = t.rows().filter(Result::is_ok).count();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, ROWS, "every generated row reads");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    println!(
        "{n} rows, {} MB in {secs:.2}s = {:.0} rows/s; {peak}",
        size >> 20,
        n as f64 / secs
    );
}
