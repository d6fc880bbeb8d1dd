//! `producer`: writes the numbers 1..=COUNT (env `COUNT`, default 100), one per line, to
//! `$DATA_DIR/numbers.txt` (env `DATA_DIR`, default `/data`) and prints
//! `producer: wrote <n> numbers to <path>`. Exits 1 with a message on stderr on error.

fn main() {
    let dir = std::env::var("DATA_DIR").unwrap_or_else(|_| "/data".to_owned());
    let count: u64 = match std::env::var("COUNT") {
        Ok(c) => c
            .parse()
            .unwrap_or_else(|_| fail(&format!("COUNT is not a number: {c:?}"))),
        Err(_) => 100,
    };
    let path = format!("{}/numbers.txt", dir.trim_end_matches('/'));
    let mut text = String::new();
    for n in 1..=count {
        text.push_str(&n.to_string());
        text.push('\n');
    }
    if let Err(e) = std::fs::write(&path, text) {
        fail(&format!("cannot write {path}: {e}"));
    }
    println!("producer: wrote {count} numbers to {path}");
}

fn fail(msg: &str) -> ! {
    eprintln!("producer: {msg}");
    std::process::exit(1)
}
