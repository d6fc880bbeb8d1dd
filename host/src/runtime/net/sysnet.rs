//! What the kernel knows about the machine's sockets and addresses (Linux).
//!
//! Used for destinations the task itself does not track: whether another task really has a
//! socket on `ip:port` (rather than a host service bound to the wildcard address answering
//! for it), and whether an address belongs to one of the host's interfaces.

use super::policy::Proto;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};

/// TCP state LISTEN in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";

/// Whether a socket is bound to exactly `addr` (TCP: listening). Errors read as "no": the
/// caller then denies, which is the safe side.
pub fn bound_exactly(proto: Proto, addr: SocketAddrV4) -> bool {
    let path = match proto {
        Proto::Tcp => "/proc/net/tcp",
        Proto::Udp => "/proc/net/udp",
    };
    match std::fs::read_to_string(path) {
        Ok(table) => table_has(&table, proto, addr),
        Err(e) => {
            tracing::warn!("cannot read {path}: {e}; denying connections to other tasks");
            false
        }
    }
}

/// Whether a `/proc/net/{tcp,udp}` table lists a socket bound to exactly `addr`.
pub fn table_has(table: &str, proto: Proto, addr: SocketAddrV4) -> bool {
    table.lines().skip(1).any(|line| {
        let mut cols = line.split_whitespace();
        let (Some(_slot), Some(local), Some(_remote), Some(state)) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            return false;
        };
        if proto == Proto::Tcp && state != TCP_LISTEN {
            return false;
        }
        parse_v4(local) == Some(addr)
    })
}

/// `0100007F:1F90` → 127.0.0.1:8080: the address is the raw (network-order) word printed
/// as a native integer, the port a plain number.
fn parse_v4(text: &str) -> Option<SocketAddrV4> {
    let (ip, port) = text.split_once(':')?;
    if ip.len() != 8 {
        return None;
    }
    let raw = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(raw.to_ne_bytes()), port))
}

/// Whether `ip` is assigned to one of this machine's interfaces (so a host service bound to
/// the wildcard address would answer on it).
pub fn is_interface_address(ip: IpAddr) -> bool {
    match interface_addresses() {
        Ok(addrs) => addrs.contains(&ip),
        Err(e) => {
            tracing::warn!("cannot list the host's addresses: {e}");
            false
        }
    }
}

fn interface_addresses() -> io::Result<Vec<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*cur };
        if !entry.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family field says its real type.
            let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: AF_INET addresses are sockaddr_in.
                let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::V4(Ipv4Addr::from(
                    sin.sin_addr.s_addr.to_ne_bytes(),
                )));
            } else if family == libc::AF_INET6 {
                // SAFETY: AF_INET6 addresses are sockaddr_in6.
                let sin6 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
        }
        cur = entry.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}
