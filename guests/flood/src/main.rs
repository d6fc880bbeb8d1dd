//! `flood [<n>]`: writes `line <i> xxxx...` lines (100 characters before the newline) to
//! stdout as fast as it can, for i in 1..=n (forever if n is absent). Exits 0 when done,
//! 1 if stdout fails.

use std::io::Write;

const LEN: usize = 100;

fn main() {
    let limit: Option<u64> = std::env::args().nth(1).map(|n| {
        n.parse().unwrap_or_else(|_| {
            eprintln!("flood: expected a line count, got {n:?}");
            std::process::exit(1)
        })
    });
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut line = String::with_capacity(LEN + 1);
    let mut i: u64 = 1;
    while limit.is_none_or(|n| i <= n) {
        line.clear();
        line.push_str("line ");
        line.push_str(&i.to_string());
        line.push(' ');
        while line.len() < LEN {
            line.push('x');
        }
        line.push('\n');
        if out.write_all(line.as_bytes()).is_err() {
            std::process::exit(1);
        }
        i += 1;
    }
    if out.flush().is_err() {
        std::process::exit(1);
    }
}
