//! `hostile-permit-writer [<mib>] [<times>]`: ignores `check-write` and calls
//! `output-stream.write` on its stdout directly with one `<mib>` MiB buffer (default 64) of
//! short lines, `<times>` times (default: forever). A host that accepts such writes queues
//! a million lines per call, outside the guest's memory limit and CPU share.
//!
//! Prints `permit-writer: start` first (through std, which asks for a permit properly) and
//! `permit-writer: write <i> accepted` after each write the host accepted; exits 3 if a
//! write fails with an error instead of trapping.

use hostile::arg_or;
use wasip2::cli::stdout::get_stdout;

fn main() {
    let mib: usize = arg_or(1, 64);
    let times: u64 = arg_or(2, u64::MAX);
    // 63 characters and a newline: as many lines per byte as a flood can reasonably make.
    let line = [[b'A'; 63].as_slice(), b"\n"].concat();
    let buf: Vec<u8> = line.iter().copied().cycle().take(mib << 20).collect();
    println!("permit-writer: start ({mib} MiB per write)");
    let out = get_stdout();
    let mut i = 0;
    while i < times {
        if let Err(e) = out.write(&buf) {
            eprintln!("permit-writer: write {i} failed: {e:?}");
            std::process::exit(3);
        }
        eprintln!("permit-writer: write {i} accepted");
        i += 1;
    }
}
