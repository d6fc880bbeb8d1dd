//! The hostile-guest suite: every binary in `src/bin/` (named `hostile-<attack>`) is one
//! attack a tenant could make on the host, built to `target/wasm/hostile-<attack>.wasm`.
//! `tests/e2e/hostile/` runs each one and shows the host unharmed and other tasks working.
//!
//! This library holds only what several attacks share.

/// Parse argument `n` (after the program name) as a number, or `default`.
pub fn arg_or<T: std::str::FromStr>(n: usize, default: T) -> T {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}
