//! Security-group-like rules: which host-side addresses a task may bind, connect and send to.
//!
//! Decided on host-side addresses (after [`super::map::AddrMap`]), so a guest cannot dodge a
//! rule by spelling an address differently. What a task may reach:
//! - its own address, but only on ports a container of the task listens on: the kernel
//!   would otherwise hand the connection to a host service bound to `0.0.0.0`;
//! - another task's address where a `[[network.rules]]` entry allows it, and only where a
//!   socket is bound to exactly that address (again, never a host wildcard listener);
//! - a `[[network.gateway]]` target (the host's own services, opt-in per port);
//! - non-loopback addresses per `egress` / `egress_allow`, except the host's own interfaces.
//!
//! Never: 127.0.0.1 and the rest of 127/8 outside the pool, `::1`, unallocated pool
//! addresses without a listener, an explicit IPv6 bind (task networking is IPv4: `[::]`
//! would listen on every IPv6 address of the host).
//!
//! Inbound (datagrams received, connections accepted) and name lookups follow the same
//! rules: a source or an answer off loopback must be one egress lets the task reach. Rules by `family` match tasks of this host process; rules by
//! `service` need the control plane to say which service a task belongs to and match nothing
//! yet.
//!
//! A task whose role's policies name `wasmgate:` actions brings a [`Governor`]: it replaces
//! the `[[network.rules]]` and `egress` decisions (which other tasks and which off-host
//! addresses), never the floor above (own address, gateway, host loopback, host interfaces,
//! an address nothing listens on exactly).

use super::cidr::Cidr;
use super::map::{AddrMap, GatewayRoute};
use crate::config::{Egress, NetworkConfig};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// What a rule can know about a destination task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerInfo {
    pub task_id: String,
    pub family: String,
    /// The ECS service that started the task, if one did (the control plane says so).
    pub service: Option<String>,
    /// The ARN of the task's cluster: service names are unique only within a cluster.
    pub cluster: Option<String>,
}

/// The live facts a decision needs, kept out of [`Policy`] so it can be tested alone.
pub trait Environment {
    /// A container of the connecting task listens (TCP) or is bound (UDP) on this port of
    /// its own address.
    fn own_port_open(&self, proto: Proto, port: u16) -> bool;
    /// Some socket on this machine is bound to exactly `addr` (not a wildcard address).
    fn bound_exactly(&self, proto: Proto, addr: SocketAddrV4) -> bool;
    /// The task holding `ip`, if it runs in this process.
    fn peer(&self, ip: Ipv4Addr) -> Option<Arc<PeerInfo>>;
    /// `ip` is assigned to one of the host's network interfaces.
    fn is_host_address(&self, ip: IpAddr) -> bool;
}

/// Why an address was refused; the guest sees `access-denied`, the host log this text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// Binding anything but the task's own address.
    Bind(SocketAddr),
    /// An explicit IPv6 bind: no IPv6 address can be given to one task.
    Ipv6Bind(SocketAddr),
    /// The task's own address, on a port none of its containers listens on.
    NotListeningOwn(u16),
    /// Another task's address, on a port nothing is bound to specifically.
    NotListening(SocketAddrV4),
    OtherTask(Ipv4Addr),
    GatewayPort(u16),
    HostLoopback(IpAddr),
    Ipv6Loopback,
    HostAddress(IpAddr),
    Egress(IpAddr),
    /// A name lookup while nothing off loopback may be reached: the query itself would
    /// leave the host.
    NameLookup,
    /// The task role's policies: the `wasmgate:` action and the statement that decided
    /// (or that none allows).
    Role {
        action: &'static str,
        by: std::sync::Arc<str>,
    },
}

/// A task role's policies, where they replace the `[[network.rules]]` / `egress` decision.
pub trait Governor {
    /// Whether the task may reach `dest` (`peer`: the task holding it, if one of this
    /// process does); `None` leaves the decision to the host's rules.
    fn reach(&self, dest: SocketAddr, peer: Option<&Arc<PeerInfo>>) -> Option<Result<(), Denial>>;
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::Bind(a) => write!(f, "a task may only bind its own address, not {a}"),
            Denial::Ipv6Bind(a) => write!(
                f,
                "task networking is IPv4: bind 0.0.0.0 or 127.0.0.1 (the task's address), not {a}"
            ),
            Denial::NotListeningOwn(p) => write!(
                f,
                "no container of the task listens on port {p} (a host service may; host ports are reachable only through host.wasmgate.internal and a [[network.gateway]] rule)"
            ),
            Denial::NotListening(a) => write!(f, "no task listens on {a}"),
            Denial::OtherTask(ip) => write!(
                f,
                "{ip} belongs to another task and no [[network.rules]] entry allows it"
            ),
            Denial::GatewayPort(p) => write!(
                f,
                "host.wasmgate.internal:{p} has no [[network.gateway]] rule for port {p}"
            ),
            Denial::HostLoopback(ip) => write!(
                f,
                "{ip} is the host's loopback; reach host services through host.wasmgate.internal and a [[network.gateway]] rule"
            ),
            Denial::Ipv6Loopback => write!(
                f,
                "IPv6 loopback cannot be given to one task; use 127.0.0.1 or localhost"
            ),
            Denial::HostAddress(ip) => write!(f, "{ip} is one of the host's own addresses"),
            Denial::Egress(ip) => write!(
                f,
                "egress is denied ([network] egress = \"deny\") and {ip} is not in egress_allow"
            ),
            Denial::Role { action, by } => {
                write!(f, "the task role's policies do not allow {action}: {by}")
            }
            Denial::NameLookup => write!(
                f,
                "egress is denied ([network] egress = \"deny\", no egress_allow): names other than localhost and host.wasmgate.internal are not looked up"
            ),
        }
    }
}

/// A config value that makes no sense; names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

fn config_err(field: impl Into<String>, message: impl fmt::Display) -> PolicyError {
    PolicyError {
        field: field.into(),
        message: message.to_string(),
    }
}

/// One compiled `[[network.rules]]` entry; every criterion given must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: Option<Cidr>,
    pub family: Option<String>,
    pub service: Option<String>,
    pub ports: Vec<u16>,
}

impl Rule {
    fn matches(&self, dest: SocketAddrV4, peer: impl FnOnce() -> Option<Arc<PeerInfo>>) -> bool {
        if let Some(range) = &self.allow
            && !range.contains(IpAddr::V4(*dest.ip()))
        {
            return false;
        }
        if !self.ports.is_empty() && !self.ports.contains(&dest.port()) {
            return false;
        }
        if self.service.is_some() {
            // Needs the control plane's task → service mapping; until then, no match.
            return false;
        }
        match &self.family {
            Some(family) => peer().is_some_and(|p| &p.family == family),
            None => true,
        }
    }
}

/// The host's network rules, shared by all its tasks.
#[derive(Debug, Clone)]
pub struct Policy {
    pool: Cidr,
    gateway: Ipv4Addr,
    routes: Arc<[GatewayRoute]>,
    rules: Vec<Rule>,
    egress: Egress,
    egress_allow: Vec<Cidr>,
}

const LOOPBACK_NET: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 0);

impl Policy {
    pub fn from_config(c: &NetworkConfig) -> Result<Self, PolicyError> {
        let pool: Cidr = c.pool.parse().map_err(|e| config_err("network.pool", e))?;
        let loopback = Cidr::new(IpAddr::V4(LOOPBACK_NET), 8).expect("valid /8");
        if !pool.is_within(&loopback) {
            return Err(config_err(
                "network.pool",
                format!("{pool} must be inside 127.0.0.0/8 (Linux routes it to loopback)"),
            ));
        }
        if !(8..=30).contains(&pool.prefix()) {
            return Err(config_err(
                "network.pool",
                format!("{pool}: the prefix length must be between 8 and 30"),
            ));
        }
        let gateway = match &c.gateway_address {
            Some(text) => text.parse::<Ipv4Addr>().map_err(|_| {
                config_err(
                    "network.gateway_address",
                    format!("{text:?} is not an IPv4 address"),
                )
            })?,
            None => {
                let (_, last) = pool.v4_bounds().expect("an IPv4 pool");
                Ipv4Addr::from(last - 1)
            }
        };
        if !gateway.is_loopback() || gateway == Ipv4Addr::LOCALHOST {
            return Err(config_err(
                "network.gateway_address",
                format!("{gateway} must be inside 127.0.0.0/8 and not 127.0.0.1"),
            ));
        }
        let mut routes = Vec::with_capacity(c.gateway.len());
        for (i, g) in c.gateway.iter().enumerate() {
            if g.port == 0 {
                return Err(config_err(
                    format!("network.gateway[{i}].port"),
                    "must be between 1 and 65535",
                ));
            }
            if routes.iter().any(|r: &GatewayRoute| r.port == g.port) {
                return Err(config_err(
                    format!("network.gateway[{i}].port"),
                    format!("port {} is listed twice", g.port),
                ));
            }
            routes.push(GatewayRoute {
                port: g.port,
                target: g
                    .target
                    .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, g.port))),
            });
        }
        let mut rules = Vec::with_capacity(c.rules.len());
        for (i, r) in c.rules.iter().enumerate() {
            let field = format!("network.rules[{i}]");
            if r.allow.is_none() && r.family.is_none() && r.service.is_none() {
                return Err(config_err(
                    field,
                    "a rule needs at least one of allow, family, service",
                ));
            }
            let allow = match &r.allow {
                Some(text) => {
                    let range: Cidr = text
                        .parse()
                        .map_err(|e| config_err(format!("{field}.allow"), e))?;
                    if !range.base().is_ipv4() {
                        return Err(config_err(
                            format!("{field}.allow"),
                            "task addresses are IPv4; give an IPv4 range",
                        ));
                    }
                    Some(range)
                }
                None => None,
            };
            if r.service.is_some() {
                tracing::warn!(
                    "{field}.service is not enforced yet (it needs the control plane): the rule allows nothing"
                );
            }
            rules.push(Rule {
                allow,
                family: r.family.clone(),
                service: r.service.clone(),
                ports: r.ports.clone(),
            });
        }
        let egress_allow = c
            .egress_allow
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.parse::<Cidr>()
                    .map_err(|e| config_err(format!("network.egress_allow[{i}]"), e))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            pool,
            gateway,
            routes: routes.into(),
            rules,
            egress: c.egress,
            egress_allow,
        })
    }

    pub fn pool(&self) -> Cidr {
        self.pool
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    pub fn addr_map(&self, task: Ipv4Addr) -> AddrMap {
        AddrMap::new(task, self.pool, self.gateway, self.routes.clone())
    }

    /// Binds: the task's own address; or the wildcard with port 0, which is how wasmtime
    /// announces an implicit bind by the kernel (connect/send on an unbound socket: the
    /// shadow binds loopback-bound sockets to the task address itself first).
    pub fn bind(&self, own: Ipv4Addr, addr: SocketAddr) -> Result<(), Denial> {
        let ip = addr.ip().to_canonical();
        if ip == IpAddr::V4(own) || (ip.is_unspecified() && addr.port() == 0) {
            Ok(())
        } else {
            Err(Denial::Bind(addr))
        }
    }

    /// A bind the guest asked for (not one the kernel makes when an unbound socket connects
    /// or sends): never IPv6, IPv4-mapped addresses included. Its IPv4 address is then
    /// mapped and checked by [`Self::bind`].
    pub fn explicit_bind(&self, addr: SocketAddr) -> Result<(), Denial> {
        match addr {
            SocketAddr::V4(_) => Ok(()),
            SocketAddr::V6(_) => Err(Denial::Ipv6Bind(addr)),
        }
    }

    /// Inbound datagrams and connections, by source. Loopback sources (the host, the
    /// task's siblings, other tasks) were decided on their side; anything else must be an
    /// address egress lets the task reach, so that a socket bound to an IPv6 wildcard by a
    /// send cannot hear every network.
    pub fn receive(&self, src: SocketAddr) -> Result<(), Denial> {
        self.receive_governed(src, None)
    }

    /// [`Self::receive`]; under a role's policies a source off loopback is one the task
    /// may connect to.
    pub fn receive_governed(
        &self,
        src: SocketAddr,
        gov: Option<&dyn Governor>,
    ) -> Result<(), Denial> {
        match src.ip().to_canonical() {
            IpAddr::V4(v4) if v4.is_loopback() => Ok(()),
            ip if ip.is_loopback() || ip.is_unspecified() => Err(Denial::Ipv6Loopback),
            ip => match gov.and_then(|g| g.reach(src, None)) {
                Some(verdict) => verdict,
                None => self.egress_rule(ip),
            },
        }
    }

    /// Whether the host's resolver may be asked for names at all: a query leaves the host,
    /// so with `egress = "deny"` only when `egress_allow` names networks to reach.
    pub fn resolves_names(&self) -> bool {
        self.egress == Egress::Allow || !self.egress_allow.is_empty()
    }

    /// Whether a name lookup may answer `ip`: loopback answers are checked when used (like
    /// any address); others only if egress lets the task reach them.
    pub fn answer(&self, ip: IpAddr) -> Result<(), Denial> {
        self.answer_governed(ip, false)
    }

    /// [`Self::answer`]; under a role's policies (`governed`) every answer off loopback
    /// passes: the port is not known yet, the connect is checked when it happens.
    pub fn answer_governed(&self, ip: IpAddr, governed: bool) -> Result<(), Denial> {
        match ip.to_canonical() {
            IpAddr::V4(v4) if v4.is_loopback() || v4.is_unspecified() => Ok(()),
            ip if ip.is_loopback() || ip.is_unspecified() => Err(Denial::Ipv6Loopback),
            _ if governed => Ok(()),
            ip => self.egress_rule(ip),
        }
    }

    /// Listens: the task's own address only.
    pub fn listen(&self, own: Ipv4Addr, addr: SocketAddr) -> Result<(), Denial> {
        match addr.ip().to_canonical() {
            IpAddr::V4(ip) if ip == own => Ok(()),
            _ => Err(Denial::Bind(addr)),
        }
    }

    /// Connects (TCP) and sends (UDP) to a host-side destination.
    pub fn connect(
        &self,
        own: Ipv4Addr,
        dest: SocketAddr,
        proto: Proto,
        env: &impl Environment,
    ) -> Result<(), Denial> {
        self.connect_governed(own, dest, proto, env, None)
    }

    /// [`Self::connect`], with a task role's policies in place of the rules and egress
    /// settings where `gov` governs.
    pub fn connect_governed(
        &self,
        own: Ipv4Addr,
        dest: SocketAddr,
        proto: Proto,
        env: &impl Environment,
        gov: Option<&dyn Governor>,
    ) -> Result<(), Denial> {
        let ip = dest.ip().to_canonical();
        let IpAddr::V4(v4) = ip else {
            if ip.is_loopback() || ip.is_unspecified() {
                return Err(Denial::Ipv6Loopback);
            }
            return self.egress(ip, dest, env, gov);
        };
        let dest4 = SocketAddrV4::new(v4, dest.port());
        if v4 == own {
            return if env.own_port_open(proto, dest.port()) || env.bound_exactly(proto, dest4) {
                Ok(())
            } else {
                Err(Denial::NotListeningOwn(dest.port()))
            };
        }
        if self
            .routes
            .iter()
            .any(|r| r.target.ip().to_canonical() == ip && r.target.port() == dest.port())
        {
            return Ok(());
        }
        if v4 == self.gateway {
            return Err(Denial::GatewayPort(dest.port()));
        }
        if self.pool.contains(ip) {
            let governed = gov.and_then(|g| g.reach(dest, env.peer(v4).as_ref()));
            match governed {
                Some(verdict) => verdict?,
                None if !self.rules.iter().any(|r| r.matches(dest4, || env.peer(v4))) => {
                    return Err(Denial::OtherTask(v4));
                }
                None => {}
            }
            return if env.bound_exactly(proto, dest4) {
                Ok(())
            } else {
                Err(Denial::NotListening(dest4))
            };
        }
        if v4.is_loopback() || v4.is_unspecified() {
            return Err(Denial::HostLoopback(ip));
        }
        self.egress(ip, dest, env, gov)
    }

    fn egress(
        &self,
        ip: IpAddr,
        dest: SocketAddr,
        env: &impl Environment,
        gov: Option<&dyn Governor>,
    ) -> Result<(), Denial> {
        if env.is_host_address(ip) {
            return Err(Denial::HostAddress(ip));
        }
        match gov.and_then(|g| g.reach(dest, None)) {
            Some(verdict) => verdict,
            None => self.egress_rule(ip),
        }
    }

    /// `egress` / `egress_allow` alone.
    fn egress_rule(&self, ip: IpAddr) -> Result<(), Denial> {
        match self.egress {
            Egress::Allow => Ok(()),
            Egress::Deny if self.egress_allow.iter().any(|c| c.contains(ip)) => Ok(()),
            Egress::Deny => Err(Denial::Egress(ip)),
        }
    }
}
