//! `spin`: prints `spinning`, then computes forever without calling the host.
//! Only epoch interruption or a fuel budget can stop it.

use std::hint::black_box;
use std::io::Write;

fn main() {
    println!("spinning");
    let _ = std::io::stdout().flush();
    let mut x: u64 = black_box(1);
    loop {
        x = black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        );
    }
}
