//! `tcp-client`: connects, sends one line, prints the reply (wasi:sockets through Rust std).
//!
//! Usage: `tcp-client ADDR [MESSAGE]`, e.g. `tcp-client localhost:7000 hello`. A refused
//! connection is retried (the server may not listen yet) up to `RETRIES` times (default 100),
//! `RETRY_MS` apart (default 50); any other error is final.
//!
//! stdout: `local <addr>`, `peer <addr>`, `reply <line>`, exit 0; on a failure
//! `error kind=<io::ErrorKind> <message>` and exit 1.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        println!("error kind=InvalidInput usage: tcp-client ADDR [MESSAGE]");
        std::process::exit(2);
    };
    let message = args.next().unwrap_or_else(|| "hello".into());
    let env_num = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let retries = env_num("RETRIES", 100);
    let delay = Duration::from_millis(env_num("RETRY_MS", 50));

    let mut attempt = 0;
    let stream = loop {
        match connect(&addr) {
            Ok(s) => break s,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused && attempt < retries => {
                attempt += 1;
                std::thread::sleep(delay);
            }
            Err(e) => fail(&e),
        }
    };
    if let Err(e) = talk(stream, &message) {
        fail(&e);
    }
}

/// Connects; a connection whose peer cannot be read was never made (on wasip2 std may
/// report success for a refused connection).
fn connect(addr: &str) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    match stream.peer_addr() {
        Ok(_) => Ok(stream),
        Err(e) if e.kind() == ErrorKind::NotConnected => {
            Err(std::io::Error::new(ErrorKind::ConnectionRefused, e))
        }
        Err(e) => Err(e),
    }
}

fn talk(stream: TcpStream, message: &str) -> std::io::Result<()> {
    println!("local {}", stream.local_addr()?);
    println!("peer {}", stream.peer_addr()?);
    // `&TcpStream` reads and writes: wasip2 has no `try_clone`.
    let mut out = &stream;
    writeln!(out, "{message}")?;
    out.flush()?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply)?;
    println!("reply {}", reply.trim_end());
    Ok(())
}

fn fail(e: &std::io::Error) -> ! {
    println!("error kind={:?} {e}", e.kind());
    std::process::exit(1)
}
