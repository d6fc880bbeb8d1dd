//! `oom`: allocates and touches 1 MiB chunks forever, printing `allocated <n> MiB` every
//! 8 MiB. It only ends when the host's memory limit makes an allocation fail (then it traps).

use std::hint::black_box;

const MIB: usize = 1 << 20;

fn main() {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; MIB];
        // Touch every page so the memory is really committed.
        for i in (0..MIB).step_by(4096) {
            chunk[i] = (chunks.len() as u8) | 1;
        }
        chunks.push(black_box(chunk));
        if chunks.len().is_multiple_of(8) {
            println!("allocated {} MiB", chunks.len());
        }
    }
}
