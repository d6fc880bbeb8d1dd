//! One task's network: its address, its address map, the ports its containers listen on,
//! and the address check every one of its sockets goes through.

use super::map::AddrMap;
use super::policy::{Denial, Environment, PeerInfo, Policy, Proto};
use super::pool::LiveTasks;
use super::sysnet;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use wasmtime_wasi::sockets::SocketAddrUse;

/// Distinct denials logged per task; past this a scanning guest is not worth more lines.
const MAX_LOGGED_DENIALS: usize = 1024;

pub struct TaskNetwork {
    task_id: String,
    map: AddrMap,
    policy: Arc<Policy>,
    live: Arc<LiveTasks>,
    /// Open ports of the task's own address (TCP: listening, UDP: bound), with how many
    /// sockets hold each.
    ports: Mutex<HashMap<(Proto, u16), usize>>,
    /// What was already logged, so a retrying guest does not flood the host log.
    denied: Mutex<HashSet<(&'static str, SocketAddr)>>,
}

/// A port of the task's address some socket holds open; released on drop.
pub struct PortGuard {
    net: Arc<TaskNetwork>,
    key: (Proto, u16),
}

impl Drop for PortGuard {
    fn drop(&mut self) {
        let mut ports = lock(&self.net.ports);
        if let Some(n) = ports.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                ports.remove(&self.key);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind these locks stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TaskNetwork {
    pub(super) fn new(
        task_id: &str,
        address: Ipv4Addr,
        policy: Arc<Policy>,
        live: Arc<LiveTasks>,
    ) -> Self {
        Self {
            task_id: task_id.to_owned(),
            map: policy.addr_map(address),
            policy,
            live,
            ports: Mutex::default(),
            denied: Mutex::default(),
        }
    }

    /// The task's private address (ECS: the ENI's `privateIPv4Address`).
    pub fn address(&self) -> Ipv4Addr {
        self.map.task()
    }

    pub fn map(&self) -> &AddrMap {
        &self.map
    }

    /// Records that a socket of the task holds `port` of the task address open, so that
    /// siblings may connect to it. Servers the host runs for the task (HTTP components)
    /// register here too.
    pub fn open_port(self: &Arc<Self>, proto: Proto, port: u16) -> PortGuard {
        *lock(&self.ports).entry((proto, port)).or_default() += 1;
        PortGuard {
            net: self.clone(),
            key: (proto, port),
        }
    }

    fn port_open(&self, proto: Proto, port: u16) -> bool {
        lock(&self.ports).contains_key(&(proto, port))
    }

    /// The `socket_addr_check` for one container's WASI context: host-side addresses in,
    /// allow or deny out (resolved at once: the TCP shadow relies on that).
    pub fn socket_addr_check(
        self: &Arc<Self>,
        container: &str,
    ) -> impl Fn(SocketAddr, SocketAddrUse) -> Pin<Box<dyn Future<Output = bool> + Send + Sync>>
    + Send
    + Sync
    + 'static {
        let net = self.clone();
        let container: Arc<str> = Arc::from(container);
        move |addr, use_| {
            let allowed = net.allows(&container, addr, use_);
            Box::pin(std::future::ready(allowed))
        }
    }

    /// The decision behind [`Self::socket_addr_check`].
    pub fn allows(&self, container: &str, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        let own = self.address();
        let (what, verdict) = match use_ {
            SocketAddrUse::TcpBind => ("tcp bind", self.policy.bind(own, addr)),
            SocketAddrUse::UdpBind => ("udp bind", self.policy.bind(own, addr)),
            SocketAddrUse::TcpListen => ("tcp listen", self.policy.listen(own, addr)),
            SocketAddrUse::TcpConnect => ("tcp connect", self.decide(addr, Proto::Tcp)),
            SocketAddrUse::UdpSend => ("udp send", self.decide(addr, Proto::Udp)),
            // Inbound: whoever may connect was decided on their side.
            SocketAddrUse::TcpAccept | SocketAddrUse::UdpReceive => return true,
        };
        match verdict {
            Ok(()) => true,
            Err(denial) => {
                self.log_denial(container, what, addr, &denial);
                false
            }
        }
    }

    /// Where a guest's connection to `guest_addr` goes on the host, if the rules allow it:
    /// the same translation and rules as wasi:sockets, for connections the host opens on a
    /// guest's behalf (outgoing HTTP).
    pub fn outgoing(
        &self,
        container: &str,
        guest_addr: SocketAddr,
        proto: Proto,
    ) -> Result<SocketAddr, Denial> {
        let host_addr = self.map.remote_to_host(guest_addr);
        match self.decide(host_addr, proto) {
            Ok(()) => Ok(host_addr),
            Err(denial) => {
                self.log_denial(container, "connect", host_addr, &denial);
                Err(denial)
            }
        }
    }

    fn decide(&self, dest: SocketAddr, proto: Proto) -> Result<(), Denial> {
        self.policy
            .connect(self.address(), dest, proto, &LiveEnv(self))
    }

    fn log_denial(&self, container: &str, what: &'static str, addr: SocketAddr, why: &Denial) {
        let mut seen = lock(&self.denied);
        if seen.len() >= MAX_LOGGED_DENIALS || !seen.insert((what, addr)) {
            return;
        }
        drop(seen);
        let short = &self.task_id[..self.task_id.len().min(8)];
        tracing::warn!("task {short} container {container}: {what} to {addr} denied: {why}");
    }
}

/// The live machine, as the policy sees it.
struct LiveEnv<'a>(&'a TaskNetwork);

impl Environment for LiveEnv<'_> {
    fn own_port_open(&self, proto: Proto, port: u16) -> bool {
        self.0.port_open(proto, port)
    }

    fn bound_exactly(&self, proto: Proto, addr: SocketAddrV4) -> bool {
        sysnet::bound_exactly(proto, addr)
    }

    fn peer(&self, ip: Ipv4Addr) -> Option<PeerInfo> {
        self.0.live.get(ip)
    }

    fn is_host_address(&self, ip: IpAddr) -> bool {
        sysnet::is_interface_address(ip)
    }
}
