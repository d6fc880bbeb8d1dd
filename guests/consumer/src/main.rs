//! `consumer`: reads `$DATA_DIR/numbers.txt` (env `DATA_DIR`, default `/data`), one integer
//! per line, and prints `consumer: sum of <n> numbers = <sum>`, exit 0.
//! Exits 2 if the file cannot be read, 1 if a line is not an integer (message on stderr).

use std::io::Write;

fn main() {
    let dir = std::env::var("DATA_DIR").unwrap_or_else(|_| "/data".to_owned());
    let path = format!("{}/numbers.txt", dir.trim_end_matches('/'));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => fail(2, &format!("cannot read {path}: {e}")),
    };
    let (mut count, mut sum) = (0u64, 0i128);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.parse::<i64>() {
            Ok(n) => {
                count += 1;
                sum += i128::from(n);
            }
            Err(_) => fail(1, &format!("{path}: not an integer: {line:?}")),
        }
    }
    println!("consumer: sum of {count} numbers = {sum}");
}

fn fail(code: u8, msg: &str) -> ! {
    eprintln!("consumer: {msg}");
    let _ = std::io::stderr().flush();
    wasip2::cli::exit::exit_with_code(code);
    unreachable!("exit-with-code returned")
}
