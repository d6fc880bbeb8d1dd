//! `udp-echo`: a UDP echo server and client (wasi:sockets through Rust std).
//!
//! - `udp-echo serve PORT [COUNT]`: binds `0.0.0.0:PORT`, prints `listening on <addr>`, then
//!   per datagram `from <addr> <text>` and sends it back; exits 0 after COUNT datagrams.
//! - `udp-echo send ADDR MESSAGE`: binds `0.0.0.0:0`, prints `local <addr>`, sends MESSAGE
//!   until a reply comes (the server may not be bound yet; `RETRIES`, default 100, 100 ms
//!   apart), prints `reply <text> from <addr>`.
//!
//! On a failure: `error kind=<io::ErrorKind> <message>` and exit 1.

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let result = match arg(0) {
        Some("serve") => serve(
            arg(1).unwrap_or("7000"),
            arg(2).and_then(|c| c.parse().ok()),
        ),
        Some("send") => send(
            arg(1).unwrap_or("localhost:7000"),
            arg(2).unwrap_or("hello"),
        ),
        _ => Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "usage: udp-echo serve PORT [COUNT] | udp-echo send ADDR MESSAGE",
        )),
    };
    if let Err(e) = result {
        println!("error kind={:?} {e}", e.kind());
        std::process::exit(1);
    }
}

fn serve(port: &str, count: Option<u64>) -> std::io::Result<()> {
    let socket = UdpSocket::bind(format!("0.0.0.0:{port}"))?;
    println!("listening on {}", socket.local_addr()?);
    let mut buf = [0u8; 2048];
    let mut served = 0;
    while count.is_none_or(|n| served < n) {
        let (len, from) = socket.recv_from(&mut buf)?;
        println!("from {from} {}", String::from_utf8_lossy(&buf[..len]));
        socket.send_to(&buf[..len], from)?;
        served += 1;
    }
    Ok(())
}

fn send(addr: &str, message: &str) -> std::io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    println!("local {}", socket.local_addr()?);
    socket.set_nonblocking(true)?;
    let retries: u32 = std::env::var("RETRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut buf = [0u8; 2048];
    for attempt in 0..=retries {
        match socket.send_to(message.as_bytes(), addr) {
            Ok(_) => {}
            // A sibling started (dependsOn START) may not have bound its port yet, and
            // wasmgate refuses sends to a port of the task nobody holds: try again, as a
            // client waiting for a reply would. A port that stays closed still fails.
            Err(e) if e.kind() == ErrorKind::PermissionDenied && attempt < retries => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(e),
        }
        let deadline = Instant::now() + Duration::from_millis(100);
        while Instant::now() < deadline {
            match socket.recv_from(&mut buf) {
                Ok((len, from)) => {
                    println!("reply {} from {from}", String::from_utf8_lossy(&buf[..len]));
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                // A port nobody is bound to yet answers with ICMP: try again.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                Err(e) => return Err(e),
            }
        }
    }
    Err(std::io::Error::new(ErrorKind::TimedOut, "no reply"))
}
