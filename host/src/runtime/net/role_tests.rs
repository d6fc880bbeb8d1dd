//! A task whose role's policies govern its network: they replace `[[network.rules]]` and
//! `egress`, never the floor (host loopback, host interfaces, addresses nothing listens on).

use super::authority::{NetAction, NetRequest, NetVerdict, NetworkAuthority};
use super::policy::{Denial, Proto};
use super::{NetworkHost, TaskNetSpec, TaskNetwork};
use crate::config::{Egress, LimitsConfig, NetworkConfig};
use crate::runtime::descriptors::HostDescriptors;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use wasmtime_wasi::sockets::SocketAddrUse;

/// Allows everything but port 81 and listens on 9001; governs unless `off`.
struct Stub {
    off: bool,
}

impl NetworkAuthority for Stub {
    fn decide(&self, r: &NetRequest<'_>) -> Option<NetVerdict> {
        if self.off {
            return None;
        }
        let denied =
            r.dest.port() == 81 || (r.action == NetAction::Listen && r.dest.port() == 9001);
        Some(NetVerdict {
            allowed: !denied,
            by: "statement 0 (Sid \"Stub\") of test".into(),
        })
    }

    fn governs(&self) -> bool {
        !self.off
    }
}

fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn governed(dir: &std::path::Path, off: bool) -> (super::TaskLease, Arc<TaskNetwork>) {
    let limits = LimitsConfig::default();
    let descriptors = Arc::new(HostDescriptors::new(1000, &limits).unwrap());
    let host = NetworkHost::new(
        &NetworkConfig {
            lock_dir: dir.to_owned(),
            pool: "127.97.0.0/24".into(),
            egress: Egress::Deny,
            ..NetworkConfig::default()
        },
        &limits,
        descriptors,
    )
    .unwrap();
    let lease = host
        .provision_task(&TaskNetSpec {
            task_id: "0123456789abcdef".into(),
            family: "web".into(),
            service: Some("web".into()),
            cluster: None,
            authority: Some(Arc::new(Stub { off })),
            declared_ports: vec![(Proto::Tcp, 8080)],
        })
        .unwrap();
    let net = lease.network().clone();
    (lease, net)
}

#[test]
fn the_role_replaces_egress_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (_lease, net) = governed(dir.path(), false);
    let check = |a: &str| net.allows("c", sock(a), SocketAddrUse::TcpConnect);
    // egress = "deny", yet the role allows it.
    assert!(check("203.0.113.1:80"));
    assert!(!check("203.0.113.1:81"));
    // No [[network.rules]] entry, yet the role allows another pool address, where a
    // socket is bound exactly.
    let other = TcpListener::bind("127.97.0.77:0").unwrap();
    let other_addr = other.local_addr().unwrap();
    assert!(net.allows("c", other_addr, SocketAddrUse::TcpConnect));
    // Name lookups are the governed task's to make; answers are checked when used.
    assert!(net.may_look_up("c", "example.com").is_ok());
    assert!(
        net.answer("c", "example.com", "203.0.113.1".parse().unwrap())
            .is_ok()
    );
    // Inbound sources off loopback: as the role lets the task connect to them.
    assert!(net.allows("c", sock("203.0.113.1:80"), SocketAddrUse::UdpReceive));
    assert!(!net.allows("c", sock("203.0.113.1:81"), SocketAddrUse::UdpReceive));
}

#[test]
fn the_floor_stays_whatever_the_role_allows() {
    let dir = tempfile::tempdir().unwrap();
    let (_lease, net) = governed(dir.path(), false);
    let host = net.map().remote_to_host(sock("127.0.0.1:80"));
    assert_eq!(
        host.ip(),
        std::net::IpAddr::V4(net.address()),
        "guest loopback is the task"
    );
    // The host's loopback (outside the pool), unallocated pool addresses, IPv6 loopback.
    assert!(!net.allows("c", sock("127.0.0.1:80"), SocketAddrUse::TcpConnect));
    assert!(!net.allows("c", sock("127.97.0.200:80"), SocketAddrUse::TcpConnect));
    assert!(!net.allows("c", sock("[::1]:80"), SocketAddrUse::TcpConnect));
    // The task's own address on a port nothing listens on.
    let own = SocketAddr::from((net.address(), 80));
    assert!(!net.allows("c", own, SocketAddrUse::TcpConnect));
}

#[test]
fn listens_beyond_the_port_mappings_ask_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let (_lease, net) = governed(dir.path(), false);
    let own = |port: u16| SocketAddr::from((net.address(), port));
    assert!(net.allows("c", own(8080), SocketAddrUse::TcpListen));
    assert!(net.allows("c", own(9000), SocketAddrUse::TcpListen));
    assert!(!net.allows("c", own(9001), SocketAddrUse::TcpListen));
    assert!(!net.allows("c", own(9001), SocketAddrUse::UdpBind));
    // Port 0: the kernel picks, as on every connect of an unbound socket.
    assert!(net.allows("c", own(0), SocketAddrUse::UdpBind));
}

#[test]
fn a_denial_names_the_statement() {
    let dir = tempfile::tempdir().unwrap();
    let (_lease, net) = governed(dir.path(), false);
    let denial = net
        .outgoing("c", sock("203.0.113.1:81"), "example.com")
        .unwrap_err();
    assert_eq!(
        denial,
        Denial::Role {
            action: "wasmgate:HttpRequest",
            by: "statement 0 (Sid \"Stub\") of test".into()
        }
    );
}

#[test]
fn a_role_without_wasmgate_policies_keeps_the_hosts_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (_lease, net) = governed(dir.path(), true);
    // egress = "deny": refused, as for a task without a role.
    assert!(!net.allows("c", sock("203.0.113.1:80"), SocketAddrUse::TcpConnect));
    assert!(net.may_look_up("c", "example.com").is_err());
    // Listening anywhere on the own address, as today.
    let own = SocketAddr::from((net.address(), 9001));
    assert!(net.allows("c", own, SocketAddrUse::TcpListen));
}
