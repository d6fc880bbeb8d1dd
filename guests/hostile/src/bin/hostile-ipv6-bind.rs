//! `hostile-ipv6-bind`: binds UDP and TCP sockets to `[::]:0` (every IPv6 address of the
//! host) and to `[::ffff:127.0.0.1]:0` (the host's loopback, spelt as IPv6), then a UDP
//! socket to `0.0.0.0:0` as a well-behaved guest would. Prints one line per attempt,
//! `<proto> <address> bound <local address>` or `<proto> <address> <wasi error-code>`,
//! then `holding` and keeps whatever it got until it is stopped.
//!
//! The attack: a socket on an IPv6 wildcard hears every network the host is on, whatever
//! the task's egress rules say.

use std::time::Duration;
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress, Network,
};
use wasip2::sockets::tcp::TcpSocket;
use wasip2::sockets::tcp_create_socket::create_tcp_socket;
use wasip2::sockets::udp::UdpSocket;
use wasip2::sockets::udp_create_socket::create_udp_socket;

/// A socket of either kind, kept open while the guest holds.
enum Held {
    Tcp(TcpSocket),
    Udp(UdpSocket),
}

fn main() {
    let network = instance_network();
    let v6 = |address| {
        IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port: 0,
            flow_info: 0,
            address,
            scope_id: 0,
        })
    };
    let any6 = v6((0, 0, 0, 0, 0, 0, 0, 0));
    let mapped = v6((0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001));
    let any4 = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: 0,
        address: (0, 0, 0, 0),
    });
    let attempts = [
        ("udp", "[::]:0", IpAddressFamily::Ipv6, any6),
        ("tcp", "[::]:0", IpAddressFamily::Ipv6, any6),
        ("udp", "[::ffff:127.0.0.1]:0", IpAddressFamily::Ipv6, mapped),
        ("tcp", "[::ffff:127.0.0.1]:0", IpAddressFamily::Ipv6, mapped),
        ("udp", "0.0.0.0:0", IpAddressFamily::Ipv4, any4),
    ];
    let mut held = Vec::new();
    for (proto, text, family, address) in attempts {
        let bound = if proto == "udp" {
            bind_udp(&network, family, address).map(|(s, local)| (Held::Udp(s), local))
        } else {
            bind_tcp(&network, family, address).map(|(s, local)| (Held::Tcp(s), local))
        };
        match bound {
            Ok((socket, local)) => {
                println!("{proto} {text} bound {}", show(local));
                held.push(socket);
            }
            Err(e) => println!("{proto} {text} {}", e.name()),
        }
    }
    println!("holding");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn bind_udp(
    network: &Network,
    family: IpAddressFamily,
    address: IpSocketAddress,
) -> Result<(UdpSocket, IpSocketAddress), ErrorCode> {
    let socket = create_udp_socket(family)?;
    socket.start_bind(network, address)?;
    loop {
        match socket.finish_bind() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            Err(e) => return Err(e),
            Ok(()) => break,
        }
    }
    let local = socket.local_address()?;
    Ok((socket, local))
}

fn bind_tcp(
    network: &Network,
    family: IpAddressFamily,
    address: IpSocketAddress,
) -> Result<(TcpSocket, IpSocketAddress), ErrorCode> {
    let socket = create_tcp_socket(family)?;
    socket.start_bind(network, address)?;
    loop {
        match socket.finish_bind() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            Err(e) => return Err(e),
            Ok(()) => break,
        }
    }
    let local = socket.local_address()?;
    Ok((socket, local))
}

fn show(address: IpSocketAddress) -> String {
    match address {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            format!("{x}.{y}.{z}.{w}:{}", a.port)
        }
        IpSocketAddress::Ipv6(a) => {
            let (p, q, r, s, t, u, v, w) = a.address;
            let ip = std::net::Ipv6Addr::new(p, q, r, s, t, u, v, w);
            format!("[{ip}]:{}", a.port)
        }
    }
}
