//! `exit-code [<code>|trap|panic]`: ends the way it is told.
//!
//! - `<code>` (0..=255, default 0): prints `exit-code: exiting with <code>` and exits with
//!   exactly that code through `wasi:cli/exit#exit-with-code`.
//! - `trap`: prints `exit-code: trapping` and executes `unreachable`.
//! - `panic`: panics with `exit-code: panicking on request` (panic=abort, so it traps too).
//! - anything else: a usage message on stderr, exit code 2.

use std::io::Write;

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "0".to_owned());
    match arg.as_str() {
        "trap" => {
            println!("exit-code: trapping");
            core::arch::wasm32::unreachable()
        }
        "panic" => panic!("exit-code: panicking on request"),
        _ => match arg.parse::<u8>() {
            Ok(code) => {
                println!("exit-code: exiting with {code}");
                exit(code)
            }
            Err(_) => {
                eprintln!("exit-code: expected a code 0..=255, `trap` or `panic`, got {arg:?}");
                exit(2)
            }
        },
    }
}

fn exit(code: u8) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    wasip2::cli::exit::exit_with_code(code);
    unreachable!("exit-with-code returned")
}
