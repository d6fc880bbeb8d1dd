//! `hostile-dns-flood [NAME] [COUNT] [EXTERNAL]`: starts COUNT (default 64) lookups of NAME
//! (default `localhost.invalid`) at once without reading them, prints
//! `started <n> lookups, then <wasi error-code or "nothing">`; drops them, then resolves
//! EXTERNAL (default `example.com`) and `localhost` and prints `<name>: <addresses>` or
//! `<name>: <wasi error-code>` for each. Exits 0.
//!
//! The attack: every lookup holds a host thread until it is answered, and a lookup is a
//! query that leaves the host even when the task's egress is closed.

use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::{IpAddress, resolve_addresses};
use wasip2::sockets::network::{ErrorCode, Network};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("localhost.invalid", String::as_str);
    let count: usize = hostile::arg_or(2, 64);
    let external = args.get(3).map_or("example.com", String::as_str);
    let network = instance_network();

    let mut open = Vec::new();
    let mut refused = None;
    for _ in 0..count {
        match resolve_addresses(&network, name) {
            Ok(stream) => open.push(stream),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    println!(
        "started {} lookups, then {}",
        open.len(),
        refused.map_or("nothing", |e| e.name())
    );
    drop(open);

    for name in [external, "localhost"] {
        match resolve(&network, name) {
            Ok(addrs) => println!("{name}: {}", addrs.join(" ")),
            Err(e) => println!("{name}: {}", e.name()),
        }
    }
}

fn resolve(network: &Network, name: &str) -> Result<Vec<String>, ErrorCode> {
    let stream = resolve_addresses(network, name)?;
    let mut found = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(IpAddress::Ipv4((a, b, c, d)))) => found.push(format!("{a}.{b}.{c}.{d}")),
            Ok(Some(IpAddress::Ipv6((a, b, c, d, e, f, g, h)))) => {
                found.push(std::net::Ipv6Addr::new(a, b, c, d, e, f, g, h).to_string())
            }
            Ok(None) => return Ok(found),
            Err(ErrorCode::WouldBlock) => stream.subscribe().block(),
            Err(e) => return Err(e),
        }
    }
}
