//! Guest ↔ host socket addresses: what makes one task's loopback look like a machine of its own.
//!
//! Inside a task, `127.0.0.1`, `0.0.0.0` and the rest of 127/8 mean the task itself, as in a
//! network namespace; on the host they become the task's own address. Addresses of the pool
//! (other tasks) pass through unchanged, so rules can allow them. The gateway address reaches
//! the host's `[[network.gateway]]` ports. On the way back, the task's address reads as
//! `127.0.0.1` and the host's loopback as the gateway. IPv6 is never rewritten: `::1` and
//! `::` cannot be made per-task, so the address check denies them. IPv4-mapped IPv6
//! addresses (`::ffff:127.0.0.1`) mean their IPv4 address, here as in the rules.

use super::cidr::Cidr;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

/// A `[[network.gateway]]` port: `gateway:port` in the guest is `target` on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayRoute {
    pub port: u16,
    pub target: SocketAddr,
}

/// The address translation of one task.
#[derive(Debug, Clone)]
pub struct AddrMap {
    task: Ipv4Addr,
    pool: Cidr,
    gateway: Ipv4Addr,
    routes: Arc<[GatewayRoute]>,
}

impl AddrMap {
    pub fn new(task: Ipv4Addr, pool: Cidr, gateway: Ipv4Addr, routes: Arc<[GatewayRoute]>) -> Self {
        Self {
            task,
            pool,
            gateway,
            routes,
        }
    }

    pub fn task(&self) -> Ipv4Addr {
        self.task
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// Whether the guest's `ip` names its own task (the guest-side loopback).
    fn is_own_v4(&self, ip: Ipv4Addr) -> bool {
        ip.is_unspecified() || (ip.is_loopback() && !self.pool.contains(IpAddr::V4(ip)))
    }

    /// A local address the guest binds.
    pub fn bind_to_host(&self, addr: SocketAddr) -> SocketAddr {
        match canonical(addr) {
            SocketAddr::V4(a) if self.is_own_v4(*a.ip()) => {
                SocketAddr::V4(SocketAddrV4::new(self.task, a.port()))
            }
            other => other,
        }
    }

    /// A remote address the guest connects or sends to. A gateway port without a route
    /// stays the gateway address, which the check denies.
    pub fn remote_to_host(&self, addr: SocketAddr) -> SocketAddr {
        let addr = canonical(addr);
        let SocketAddr::V4(a) = addr else {
            return addr;
        };
        if *a.ip() == self.gateway {
            return self
                .routes
                .iter()
                .find(|r| r.port == a.port())
                .map_or(addr, |r| r.target);
        }
        if self.is_own_v4(*a.ip()) {
            return SocketAddr::V4(SocketAddrV4::new(self.task, a.port()));
        }
        addr
    }

    /// A host address as the guest should read it.
    pub fn to_guest(&self, addr: SocketAddr) -> SocketAddr {
        let SocketAddr::V4(a) = addr else {
            return addr;
        };
        if *a.ip() == self.task {
            return SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, a.port()));
        }
        if let Some(r) = self.routes.iter().find(|r| r.target == addr) {
            return SocketAddr::V4(SocketAddrV4::new(self.gateway, r.port));
        }
        if *a.ip() == Ipv4Addr::LOCALHOST {
            // Only the host itself connects from 127.0.0.1: every guest socket on loopback
            // is bound to its task's address.
            return SocketAddr::V4(SocketAddrV4::new(self.gateway, a.port()));
        }
        addr
    }
}

/// `[::ffff:a.b.c.d]:p` is `a.b.c.d:p`; every other address stays as it is.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}
