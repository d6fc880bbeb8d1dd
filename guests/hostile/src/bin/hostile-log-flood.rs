//! `hostile-log-flood [lines|endless] [<mib>]`: floods stdout as fast as it can, through the
//! ordinary std writer (so it respects the write permit; only the volume is hostile).
//! `lines` (default) writes 1000-byte lines; `endless` writes one line that never ends (no
//! newline at all). Stops after `<mib>` MiB and exits 0, or never without it. Exits 1 if
//! stdout fails.

use std::io::Write;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "lines".into());
    let limit: Option<u64> = std::env::args().nth(2).map(|n| {
        n.parse::<u64>().map(|m| m << 20).unwrap_or_else(|_| {
            eprintln!("log-flood: expected a size in MiB, got {n:?}");
            std::process::exit(2)
        })
    });
    let chunk: Vec<u8> = match mode.as_str() {
        "lines" => {
            let line = [vec![b'L'; 999], vec![b'\n']].concat();
            line.repeat(64)
        }
        "endless" => vec![b'E'; 64 * 1000],
        other => {
            eprintln!("log-flood: mode must be lines or endless, not {other:?}");
            std::process::exit(2)
        }
    };
    let mut out = std::io::stdout().lock();
    let mut written: u64 = 0;
    while limit.is_none_or(|l| written < l) {
        if out.write_all(&chunk).is_err() {
            std::process::exit(1);
        }
        written += chunk.len() as u64;
    }
    if out.flush().is_err() {
        std::process::exit(1);
    }
}
