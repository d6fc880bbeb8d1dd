//! `hostile-handle-flood`: creates handles that cost the host memory but no descriptor
//! (timer pollables, two table entries each: the timer and its pollable) in a loop and
//! keeps them all, printing `holding <n> handles` every 1024. It never ends by itself: the
//! host must stop it.
//!
//! The attack: a resource table grown until the host runs out of memory.

use wasip2::clocks::monotonic_clock::subscribe_duration;

fn main() {
    let mut held = Vec::new();
    loop {
        held.push(subscribe_duration(3_600_000_000_000));
        if held.len() % 1024 == 0 {
            println!("holding {} handles", held.len());
        }
    }
}
