//! Which targets the load balancer may connect to: an address and port that a socket on
//! this machine listens on *exactly*.
//!
//! A target is `<task address>:<port>`. The task's own listeners, and the servers the
//! runtime runs for its HTTP containers, are bound to exactly that address. A connection to
//! a port the task does not serve would still be accepted by any host process listening on
//! the wildcard address (`0.0.0.0:<port>`, or `[::]:<port>` dual-stack): a host service,
//! not the task. So a target (and every new connection to it) needs a listening socket
//! bound to exactly its address; the kernel's socket tables (`/proc/net/tcp`, `tcp6`) say
//! which are, and the most specific bind is also the one the kernel delivers to.
//!
//! The runtime of this process records its exact binds (`util::inproc`): for a task of
//! this host the check is a map lookup; the tables are read only for other listeners.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// TCP state LISTEN in `/proc/net/tcp{,6}`.
const TCP_LISTEN: &str = "0A";

/// Ok when something listens on exactly `addr`; the error says why the target is refused.
pub(super) fn check(addr: SocketAddr) -> Result<(), String> {
    if crate::util::inproc::is_listening(addr) {
        return Ok(());
    }
    proc_check(addr)
}

/// Whether this process holds an exact listening bind on `addr` (its runtime's task
/// listeners and HTTP servers record theirs): no file to read.
pub(super) fn known(addr: SocketAddr) -> bool {
    crate::util::inproc::is_listening(addr)
}

/// The kernel's socket tables, for a listener that is not this process's runtime's.
pub(super) fn proc_check(addr: SocketAddr) -> Result<(), String> {
    let mut unreadable = None;
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        match std::fs::read_to_string(path) {
            Ok(table) if table_listens_on(&table, addr) => return Ok(()),
            Ok(_) => {}
            // No IPv6 on this machine: no tcp6 table, nothing listens there.
            Err(e) if path.ends_with('6') && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => unreadable = Some(format!("cannot read {path}: {e}")),
        }
    }
    Err(match unreadable {
        // Unknown is refused: the safe side.
        Some(why) => format!("cannot tell whether a task serves {addr} ({why})"),
        None => format!(
            "nothing listens on exactly {addr}: the task does not serve port {} (a listener \
             on the wildcard address would be a host service, not the task)",
            addr.port()
        ),
    })
}

/// Whether a `/proc/net/tcp{,6}` table lists a listening socket bound to exactly `addr`
/// (an IPv6 socket bound to the IPv4-mapped form of an IPv4 `addr` counts too).
fn table_listens_on(table: &str, addr: SocketAddr) -> bool {
    let want = canonical(addr.ip());
    table.lines().skip(1).any(|line| {
        let mut cols = line.split_whitespace();
        let (Some(_slot), Some(local), Some(_remote), Some(state)) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            return false;
        };
        state == TCP_LISTEN
            && parse_local(local)
                .is_some_and(|(ip, port)| port == addr.port() && canonical(ip) == want)
    })
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// `0100007F:1F90` → 127.0.0.1:8080 (the address is the raw network-order words printed
/// as native integers; the port a plain hex number). 32 hex digits are an IPv6 address.
fn parse_local(text: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex4(ip: Ipv4Addr) -> String {
        format!("{:08X}", u32::from_ne_bytes(ip.octets()))
    }

    fn hex6(ip: Ipv6Addr) -> String {
        ip.octets()
            .chunks(4)
            .map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
            .collect()
    }

    fn table(rows: &[(String, u16, &str)]) -> String {
        let mut t = String::from("  sl  local_address rem_address   st\n");
        for (i, (ip, port, st)) in rows.iter().enumerate() {
            t.push_str(&format!(
                "  {i}: {ip}:{port:04X} 00000000:0000 {st} 00000000:00000000\n"
            ));
        }
        t
    }

    #[test]
    fn only_an_exact_listener_serves_a_target() {
        let task = Ipv4Addr::new(127, 42, 0, 5);
        let t = table(&[
            (hex4(Ipv4Addr::UNSPECIFIED), 9000, "0A"),
            (hex4(task), 8080, "0A"),
            (hex4(task), 7000, "01"),
        ]);
        assert!(table_listens_on(&t, SocketAddr::from((task, 8080))));
        // A host service on 0.0.0.0:9000 does not make the task serve 9000.
        assert!(!table_listens_on(&t, SocketAddr::from((task, 9000))));
        // An established connection is not a listener.
        assert!(!table_listens_on(&t, SocketAddr::from((task, 7000))));
        assert!(!table_listens_on(
            &t,
            SocketAddr::from((Ipv4Addr::new(127, 42, 0, 6), 8080))
        ));
    }

    #[test]
    fn ipv6_tables_and_mapped_addresses() {
        let task = Ipv4Addr::new(127, 42, 0, 5);
        let t = table(&[
            (hex6(Ipv6Addr::UNSPECIFIED), 9000, "0A"),
            (hex6(task.to_ipv6_mapped()), 8080, "0A"),
            (hex6(Ipv6Addr::LOCALHOST), 7000, "0A"),
        ]);
        assert!(table_listens_on(&t, SocketAddr::from((task, 8080))));
        assert!(!table_listens_on(&t, SocketAddr::from((task, 9000))));
        assert!(table_listens_on(
            &t,
            SocketAddr::from((Ipv6Addr::LOCALHOST, 7000))
        ));
    }

    #[test]
    fn live_sockets() {
        let exact = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = exact.local_addr().expect("addr");
        assert_eq!(check(addr), Ok(()));
        let wild = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
        let port = wild.local_addr().expect("addr").port();
        let e = check(SocketAddr::from((Ipv4Addr::new(127, 42, 0, 5), port))).unwrap_err();
        assert!(e.contains("does not serve port"), "{e}");
    }
}
