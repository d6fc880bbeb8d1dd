//! `tcp-echo`: a TCP echo server (wasi:sockets through Rust std).
//!
//! Usage: `tcp-echo [PORT] [COUNT]`; the environment may give `PORT`, `COUNT` and `BIND`
//! (the address to bind, default `0.0.0.0`) instead.
//!
//! stdout: `listening on <local addr>`, then per connection `peer <addr>`; each line a
//! client sends comes back as is. With COUNT, exits 0 after that many connections.
//! On a failure: `error kind=<io::ErrorKind> <message>` and exit 1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let setting = |i: usize, var: &str| args.get(i).cloned().or_else(|| std::env::var(var).ok());
    let port = setting(0, "PORT").unwrap_or_else(|| "7000".into());
    let count: Option<u64> = setting(1, "COUNT").and_then(|c| c.parse().ok());
    let bind = std::env::var("BIND").unwrap_or_else(|_| "0.0.0.0".into());

    let listener = match TcpListener::bind(format!("{bind}:{port}")) {
        Ok(l) => l,
        Err(e) => fail(&e),
    };
    match listener.local_addr() {
        Ok(a) => println!("listening on {a}"),
        Err(e) => fail(&e),
    }
    let mut served = 0;
    while count.is_none_or(|n| served < n) {
        match listener.accept() {
            Ok((stream, peer)) => {
                println!("peer {peer}");
                if let Err(e) = echo(stream) {
                    println!("connection error kind={:?} {e}", e.kind());
                }
                served += 1;
            }
            Err(e) => fail(&e),
        }
    }
}

/// Echoes lines until the client closes its side. (`&TcpStream` reads and writes: wasip2
/// has no `try_clone`.)
fn echo(stream: TcpStream) -> std::io::Result<()> {
    let mut out = &stream;
    for line in BufReader::new(&stream).lines() {
        let line = line?;
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

fn fail(e: &std::io::Error) -> ! {
    println!("error kind={:?} {e}", e.kind());
    std::process::exit(1)
}
