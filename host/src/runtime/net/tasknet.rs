//! One task's network: its address, its address map, the ports its containers listen on,
//! and the address check every one of its sockets goes through.

use super::authority::{NetAction, RoleGate, TaskAuthority};
use super::budget::{ContainerBudget, NetLimits, Refusal};
use super::map::AddrMap;
use super::policy::{Denial, Environment, Governor, PeerInfo, Policy, Proto};
use super::pool::LiveTasks;
use super::sysnet;
use crate::util::sync::lock;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use wasmtime_wasi::sockets::SocketAddrUse;

/// A server the host runs on a port of the task's address, opened only when one of the
/// task's containers first connects to that port (the endpoints' listener): a task that
/// never asks holds no descriptor for it.
pub trait OnDemandServer: Send + Sync {
    /// A container is connecting to the port: listen on it now if not listening yet. Runs
    /// before the connection's address check, which then finds the port open.
    fn wanted(&self);
}

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
    denied: Mutex<HashSet<(&'static str, String)>>,
    limits: NetLimits,
    /// Each container's sockets and lookups, shared by all its stores.
    budgets: Mutex<HashMap<Arc<str>, Arc<ContainerBudget>>>,
    /// Bytes and packets the task's containers moved (its stats).
    counters: Arc<super::NetCounters>,
    /// The task role's `wasmgate:` policies, when its role has any.
    authority: Option<TaskAuthority>,
    /// The task's portMappings (container ports, either protocol): listening on these
    /// needs no `wasmgate:NetworkListen`.
    declared: Vec<(Proto, u16)>,
    /// The TCP port served on demand and its server (weak: the server holds this network).
    on_demand: OnceLock<(u16, Weak<dyn OnDemandServer>)>,
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

impl TaskNetwork {
    pub(super) fn new(
        task: &super::TaskNetSpec,
        address: Ipv4Addr,
        policy: Arc<Policy>,
        live: Arc<LiveTasks>,
        limits: NetLimits,
    ) -> Self {
        Self {
            authority: task.authority.clone().map(TaskAuthority::new),
            declared: task.declared_ports.clone(),
            task_id: task.task_id.clone(),
            map: policy.addr_map(address),
            policy,
            live,
            ports: Mutex::default(),
            denied: Mutex::default(),
            limits,
            budgets: Mutex::default(),
            counters: Arc::default(),
            on_demand: OnceLock::new(),
        }
    }

    /// Registers the server opened on the first connection to TCP `port` of the task's
    /// address (one per task; a second registration is ignored).
    pub fn serve_on_demand(&self, port: u16, server: Weak<dyn OnDemandServer>) {
        let _ = self.on_demand.set((port, server));
    }

    /// A container's TCP socket is about to connect to or bind `dest` (host side): opens the
    /// on-demand server first if that is its port, so a connect reaches it and a bind finds
    /// the port taken, as when the server listened from the start.
    pub(super) fn before_tcp_use(&self, dest: SocketAddr) {
        let Some((port, server)) = self.on_demand.get() else {
            return;
        };
        if dest.port() != *port || dest.ip() != IpAddr::V4(self.address()) {
            return;
        }
        if self.port_open(Proto::Tcp, *port) {
            return;
        }
        if let Some(server) = server.upgrade() {
            server.wanted();
        }
    }

    /// The pool the task's address comes from (its "subnet"), as text.
    pub fn pool_cidr(&self) -> String {
        self.policy.pool().to_string()
    }

    /// What the task's containers sent and received over the network so far.
    pub fn counters(&self) -> &Arc<super::NetCounters> {
        &self.counters
    }

    /// The budget of one container of the task (created on first use).
    pub fn budget(&self, container: &str) -> Arc<ContainerBudget> {
        let mut budgets = lock(&self.budgets);
        if let Some(b) = budgets.get(container) {
            return b.clone();
        }
        let b = Arc::new(ContainerBudget::new(&self.limits));
        budgets.insert(Arc::from(container), b.clone());
        b
    }

    /// Logs a refused socket or lookup, once per container and kind.
    pub fn refused(&self, container: &str, budget: &ContainerBudget, why: Refusal) {
        if budget.first(why) {
            tracing::warn!("task {} container {container}: {why}", self.short_id());
        }
    }

    fn short_id(&self) -> &str {
        &self.task_id[..self.task_id.len().min(8)]
    }

    /// An explicit bind the guest asked for (see [`Policy::explicit_bind`]).
    pub fn explicit_bind(&self, container: &str, addr: SocketAddr) -> Result<(), Denial> {
        self.policy.explicit_bind(addr).inspect_err(|denial| {
            self.log_denial(container, "bind to", addr.to_string(), denial);
        })
    }

    /// Whether a name may be looked up at all (see [`Policy::resolves_names`]).
    pub fn may_look_up(&self, container: &str, name: &str) -> Result<(), Denial> {
        if self.policy.resolves_names() || self.governed() {
            return Ok(());
        }
        let denial = Denial::NameLookup;
        self.log_denial(container, "lookup of", name.to_owned(), &denial);
        Err(denial)
    }

    /// Whether a lookup of `name` may answer `ip` (see [`Policy::answer`]).
    pub fn answer(&self, container: &str, name: &str, ip: IpAddr) -> Result<(), Denial> {
        let governed = self.governed();
        self.policy
            .answer_governed(ip, governed)
            .inspect_err(|denial| {
                self.log_denial(container, "lookup answer", format!("{name} = {ip}"), denial);
            })
    }

    /// Whether the task role's policies decide its reach now (rather than the host's rules).
    fn governed(&self) -> bool {
        self.authority.as_ref().is_some_and(TaskAuthority::governs)
    }

    /// The question to the task's role for one use, if it has policies.
    fn gate<'a>(
        &'a self,
        action: NetAction,
        proto: Proto,
        host: Option<&'a str>,
    ) -> Option<RoleGate<'a>> {
        self.authority.as_ref().map(|authority| RoleGate {
            authority,
            action,
            proto,
            host,
        })
    }

    /// A listen or bind on `addr` (already the task's own address): ports of the task's
    /// portMappings always; others as the role's `wasmgate:NetworkListen` says (no role
    /// policy: as today, any).
    fn listen_beyond_mappings(&self, addr: SocketAddr, proto: Proto) -> Result<(), Denial> {
        let port = addr.port();
        if port == 0 || self.declared.contains(&(proto, port)) {
            return Ok(());
        }
        match self.gate(NetAction::Listen, proto, None) {
            Some(gate) => gate.reach(addr, None).unwrap_or(Ok(())),
            None => Ok(()),
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

    /// A TCP connect to the task's own address on a port none of its containers listens
    /// on: the guest is refused, as loopback refuses a closed port (so a client that
    /// retries until its sibling listens works), and nothing is passed on to whatever host
    /// service may be bound to that port.
    pub fn own_port_closed(&self, dest: SocketAddr) -> bool {
        dest.ip() == IpAddr::V4(self.address()) && !self.port_open(Proto::Tcp, dest.port())
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
            SocketAddrUse::TcpBind => ("tcp bind to", self.policy.bind(own, addr)),
            SocketAddrUse::UdpBind => (
                "udp bind to",
                self.policy
                    .bind(own, addr)
                    .and_then(|()| self.listen_beyond_mappings(addr, Proto::Udp)),
            ),
            SocketAddrUse::TcpListen => (
                "tcp listen on",
                self.policy
                    .listen(own, addr)
                    .and_then(|()| self.listen_beyond_mappings(addr, Proto::Tcp)),
            ),
            SocketAddrUse::TcpConnect => (
                "tcp connect to",
                self.decide(addr, Proto::Tcp, NetAction::Connect, None),
            ),
            SocketAddrUse::UdpSend => (
                "udp send to",
                self.decide(addr, Proto::Udp, NetAction::Connect, None),
            ),
            SocketAddrUse::TcpAccept | SocketAddrUse::UdpReceive => {
                let what = if matches!(use_, SocketAddrUse::TcpAccept) {
                    "tcp accept from"
                } else {
                    "udp receive from"
                };
                let proto = if matches!(use_, SocketAddrUse::TcpAccept) {
                    Proto::Tcp
                } else {
                    Proto::Udp
                };
                let gate = self.gate(NetAction::Connect, proto, None);
                let gov = gate.as_ref().map(|g| g as &dyn Governor);
                // One line per source address, whatever port a flood comes from.
                return match self.policy.receive_governed(addr, gov) {
                    Ok(()) => true,
                    Err(denial) => {
                        self.log_denial(container, what, addr.ip().to_string(), &denial);
                        false
                    }
                };
            }
        };
        match verdict {
            Ok(()) => true,
            Err(denial) => {
                self.log_denial(container, what, addr.to_string(), &denial);
                false
            }
        }
    }

    /// Where a guest's HTTP request to `host` (as the guest wrote it, lower case) at
    /// `guest_addr` goes on the host, if the rules allow it: the same translation and
    /// rules as wasi:sockets, for connections the host opens on a guest's behalf; a role's
    /// policies are asked `wasmgate:HttpRequest` instead of `wasmgate:NetworkConnect`.
    pub fn outgoing(
        &self,
        container: &str,
        guest_addr: SocketAddr,
        host: &str,
    ) -> Result<SocketAddr, Denial> {
        let host_addr = self.map.remote_to_host(guest_addr);
        match self.decide(host_addr, Proto::Tcp, NetAction::HttpRequest, Some(host)) {
            Ok(()) => Ok(host_addr),
            Err(denial) => {
                self.log_denial(container, "connect to", host_addr.to_string(), &denial);
                Err(denial)
            }
        }
    }

    fn decide(
        &self,
        dest: SocketAddr,
        proto: Proto,
        action: NetAction,
        host: Option<&str>,
    ) -> Result<(), Denial> {
        let gate = self.gate(action, proto, host);
        let gov = gate.as_ref().map(|g| g as &dyn Governor);
        self.policy
            .connect_governed(self.address(), dest, proto, &LiveEnv(self), gov)
    }

    fn log_denial(&self, container: &str, what: &'static str, target: String, why: &Denial) {
        let mut seen = lock(&self.denied);
        if seen.len() >= MAX_LOGGED_DENIALS || !seen.insert((what, target.clone())) {
            return;
        }
        drop(seen);
        let short = self.short_id();
        tracing::warn!("task {short} container {container}: {what} {target} denied: {why}");
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

    fn peer(&self, ip: Ipv4Addr) -> Option<Arc<PeerInfo>> {
        self.0.live.get(ip)
    }

    fn is_host_address(&self, ip: IpAddr) -> bool {
        sysnet::is_interface_address(ip)
    }
}
