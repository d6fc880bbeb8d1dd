//! `hostile-socket-flood [tcp|udp|mixed] [MAX]`: opens sockets in a loop (TCP created, UDP
//! created and bound to `0.0.0.0:0`; `mixed`, the default, alternates) until one is refused
//! or MAX (default 100000) are open. Prints
//! `opened <n> sockets (tcp <t>, udp <u>), then <wasi error-code or "nothing">` and
//! `holding`, then holds every socket until it is stopped.
//!
//! The attack: one tenant taking the host's descriptors, so that the API, the listeners
//! and other tasks can no longer accept or start.

use std::time::Duration;
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Network,
};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;
use wasip2::sockets::udp::UdpSocket;
use wasip2::sockets::udp_create_socket::create_udp_socket;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "mixed".into());
    let max: usize = hostile::arg_or(2, 100_000);
    let network = instance_network();
    let (mut tcp, mut udp) = (Vec::new(), Vec::new());
    let mut refused = None;
    for i in 0..max {
        let want_tcp = match mode.as_str() {
            "tcp" => true,
            "udp" => false,
            _ => i % 2 == 0,
        };
        let opened = if want_tcp {
            create_tcp_socket(IpAddressFamily::Ipv4).map(|s| tcp.push(s))
        } else {
            open_udp(&network).map(|s| udp.push(s))
        };
        if let Err(e) = opened {
            refused = Some(e);
            break;
        }
    }
    println!(
        "opened {} sockets (tcp {}, udp {}), then {}",
        tcp.len() + udp.len(),
        tcp.len(),
        udp.len(),
        refused.map_or("nothing", |e| e.name())
    );
    println!("holding");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn open_udp(network: &Network) -> Result<UdpSocket, ErrorCode> {
    let socket = create_udp_socket(IpAddressFamily::Ipv4)?;
    let any = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: 0,
        address: (0, 0, 0, 0),
    });
    socket.start_bind(network, any)?;
    loop {
        match socket.finish_bind() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            done => return done.map(|()| socket),
        }
    }
}
