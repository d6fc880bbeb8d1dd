//! `sleep [<ms>]`: sleeps for `ms` milliseconds (default 1000), prints `slept <ms>`, exits 0.

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "1000".to_owned());
    let Ok(ms) = arg.parse::<u64>() else {
        eprintln!("sleep: expected milliseconds, got {arg:?}");
        std::process::exit(1)
    };
    std::thread::sleep(std::time::Duration::from_millis(ms));
    println!("slept {ms}");
}
