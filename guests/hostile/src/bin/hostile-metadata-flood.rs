//! Floods its task's metadata endpoint over wasi:http for `SECONDS` (argument 1, default 5)
//! as fast as the host answers, then prints how the host answered:
//! `flood done ok=<n> limited=<n> other=<n>` (`limited`: 429 Too Many Requests).
//! Prints `flooding` first, so a test knows the attack is under way.

use std::io::Write;
use std::time::{Duration, Instant};

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let base = std::env::var("ECS_CONTAINER_METADATA_URI_V4").unwrap_or_default();
    let url = format!("{base}/task");
    println!("flooding {url}");
    let _ = std::io::stdout().flush();
    let (mut ok, mut limited, mut other) = (0u64, 0u64, 0u64);
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        match http_kit::get(&url) {
            Ok(r) if r.status == 200 => ok += 1,
            Ok(r) if r.status == 429 => limited += 1,
            _ => other += 1,
        }
    }
    println!("flood done ok={ok} limited={limited} other={other}");
}
