use super::cidr::Cidr;
use super::map::{AddrMap, GatewayRoute};
use super::policy::{Denial, Environment, PeerInfo, Policy, Proto};
use super::pool::AddressPool;
use super::publish::{PublishError, PublishSpec};
use super::sysnet::table_has;
use super::{NetworkHost, TaskNetwork};
use crate::config::{Egress, GatewayConfig, LimitsConfig, NetworkConfig, NetworkRuleConfig};
use crate::runtime::descriptors::HostDescriptors;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use wasmtime_wasi::sockets::SocketAddrUse;

const TASK: Ipv4Addr = Ipv4Addr::new(127, 42, 0, 7);
const OTHER: Ipv4Addr = Ipv4Addr::new(127, 42, 0, 8);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 42, 255, 254);

fn sock(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn config() -> NetworkConfig {
    NetworkConfig {
        gateway: vec![
            GatewayConfig {
                port: 5432,
                target: None,
            },
            GatewayConfig {
                port: 6000,
                target: Some(sock("127.0.0.1:16000")),
            },
        ],
        ..NetworkConfig::default()
    }
}

fn map() -> AddrMap {
    Policy::from_config(&config()).unwrap().addr_map(TASK)
}

// ---- CIDR

#[test]
fn cidr_parses_and_contains() {
    let c: Cidr = "127.42.0.0/16".parse().unwrap();
    assert!(c.contains(IpAddr::V4(TASK)));
    assert!(!c.contains("127.43.0.1".parse().unwrap()));
    assert!(
        c.contains("::ffff:127.42.1.1".parse().unwrap()),
        "v4-mapped counts as v4"
    );
    assert_eq!(c.v4_bounds(), Some((0x7f2a_0000, 0x7f2a_ffff)));
    let host: Cidr = "10.1.2.3".parse().unwrap();
    assert_eq!(host.prefix(), 32);
    assert_eq!(
        "127.42.9.9/16".parse::<Cidr>().unwrap(),
        c,
        "host bits are cleared"
    );
    let v6: Cidr = "fd00::/8".parse().unwrap();
    assert!(v6.contains("fd12::1".parse().unwrap()));
    assert!(!v6.contains(IpAddr::V4(TASK)));
    assert!("127.42.0.0/33".parse::<Cidr>().is_err());
    assert!("localhost/8".parse::<Cidr>().is_err());
    let all: Cidr = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains("8.8.8.8".parse().unwrap()));
}

// ---- address map

#[test]
fn binds_to_loopback_and_wildcard_become_the_task_address() {
    let m = map();
    for guest in [
        "127.0.0.1:5000",
        "0.0.0.0:5000",
        "127.1.2.3:5000",
        "127.42.0.7:5000",
    ] {
        assert_eq!(
            m.bind_to_host(sock(guest)),
            sock("127.42.0.7:5000"),
            "{guest}"
        );
    }
    // Another task's address stays itself (and the check denies binding it).
    assert_eq!(
        m.bind_to_host(sock("127.42.0.8:5000")),
        sock("127.42.0.8:5000")
    );
    assert_eq!(m.bind_to_host(sock("[::1]:5000")), sock("[::1]:5000"));
    assert_eq!(m.bind_to_host(sock("10.0.0.1:5000")), sock("10.0.0.1:5000"));
}

#[test]
fn connects_to_loopback_reach_the_task_and_the_gateway_reaches_routes() {
    let m = map();
    assert_eq!(
        m.remote_to_host(sock("127.0.0.1:7000")),
        sock("127.42.0.7:7000")
    );
    assert_eq!(
        m.remote_to_host(sock("127.9.9.9:7000")),
        sock("127.42.0.7:7000")
    );
    assert_eq!(
        m.remote_to_host(sock("127.42.0.8:7000")),
        sock("127.42.0.8:7000")
    );
    assert_eq!(
        m.remote_to_host(sock("127.42.255.254:5432")),
        sock("127.0.0.1:5432")
    );
    assert_eq!(
        m.remote_to_host(sock("127.42.255.254:6000")),
        sock("127.0.0.1:16000")
    );
    assert_eq!(
        m.remote_to_host(sock("127.42.255.254:22")),
        sock("127.42.255.254:22"),
        "no route: stays the gateway, which the check denies"
    );
    assert_eq!(
        m.remote_to_host(sock("93.184.216.34:80")),
        sock("93.184.216.34:80")
    );
    assert_eq!(m.remote_to_host(sock("[::1]:80")), sock("[::1]:80"));
    // IPv4-mapped addresses are their IPv4 address: the guest's loopback, the task.
    assert_eq!(
        m.remote_to_host(sock("[::ffff:127.0.0.1]:7000")),
        sock("127.42.0.7:7000")
    );
    assert_eq!(
        m.remote_to_host(sock("[::ffff:93.184.216.34]:80")),
        sock("93.184.216.34:80")
    );
}

#[test]
fn the_guest_reads_its_own_address_as_loopback_and_the_host_as_the_gateway() {
    let m = map();
    assert_eq!(m.to_guest(sock("127.42.0.7:7000")), sock("127.0.0.1:7000"));
    assert_eq!(m.to_guest(sock("127.42.0.8:7000")), sock("127.42.0.8:7000"));
    assert_eq!(
        m.to_guest(sock("127.0.0.1:16000")),
        sock("127.42.255.254:6000")
    );
    assert_eq!(
        m.to_guest(sock("127.0.0.1:41000")),
        sock("127.42.255.254:41000")
    );
    assert_eq!(m.to_guest(sock("8.8.8.8:53")), sock("8.8.8.8:53"));
    // Round trip of what a guest connects to.
    for guest in ["127.0.0.1:80", "127.42.255.254:5432", "127.42.255.254:6000"] {
        assert_eq!(
            m.to_guest(m.remote_to_host(sock(guest))),
            sock(guest),
            "{guest}"
        );
    }
}

// ---- policy

#[derive(Default)]
struct FakeEnv {
    own_open: HashSet<(Proto, u16)>,
    bound: HashSet<(Proto, SocketAddrV4)>,
    peers: Vec<(Ipv4Addr, &'static str)>,
    host_addrs: Vec<IpAddr>,
}

impl Environment for FakeEnv {
    fn own_port_open(&self, proto: Proto, port: u16) -> bool {
        self.own_open.contains(&(proto, port))
    }
    fn bound_exactly(&self, proto: Proto, addr: SocketAddrV4) -> bool {
        self.bound.contains(&(proto, addr))
    }
    fn peer(&self, ip: Ipv4Addr) -> Option<Arc<PeerInfo>> {
        self.peers.iter().find(|(a, _)| *a == ip).map(|(_, f)| {
            Arc::new(PeerInfo {
                task_id: "t".into(),
                family: (*f).into(),
                service: None,
                cluster: None,
            })
        })
    }
    fn is_host_address(&self, ip: IpAddr) -> bool {
        self.host_addrs.contains(&ip)
    }
}

fn policy(c: NetworkConfig) -> Policy {
    Policy::from_config(&c).unwrap()
}

fn v4(text: &str) -> SocketAddrV4 {
    text.parse().unwrap()
}

#[test]
fn own_address_only_on_ports_the_task_listens_on() {
    let p = policy(config());
    let mut env = FakeEnv::default();
    let dest = sock("127.42.0.7:7000");
    assert_eq!(
        p.connect(TASK, dest, Proto::Tcp, &env),
        Err(Denial::NotListeningOwn(7000)),
        "a host service on 0.0.0.0:7000 would answer here"
    );
    env.own_open.insert((Proto::Tcp, 7000));
    assert_eq!(p.connect(TASK, dest, Proto::Tcp, &env), Ok(()));
    assert!(
        p.connect(TASK, dest, Proto::Udp, &env).is_err(),
        "per protocol"
    );
    // A server the host runs for the task on its address (found by the kernel).
    env.bound.insert((Proto::Udp, v4("127.42.0.7:7000")));
    assert_eq!(p.connect(TASK, dest, Proto::Udp, &env), Ok(()));
}

#[test]
fn host_loopback_and_ipv6_loopback_are_denied() {
    let p = policy(config());
    let env = FakeEnv::default();
    for dest in ["127.0.0.1:22", "127.0.0.53:53", "127.99.0.1:80"] {
        assert!(
            matches!(
                p.connect(TASK, sock(dest), Proto::Tcp, &env),
                Err(Denial::HostLoopback(_))
            ),
            "{dest}"
        );
    }
    assert_eq!(
        p.connect(TASK, sock("[::1]:22"), Proto::Tcp, &env),
        Err(Denial::Ipv6Loopback)
    );
}

#[test]
fn gateway_routes_are_the_only_way_to_the_host() {
    let p = policy(config());
    let env = FakeEnv::default();
    assert_eq!(
        p.connect(TASK, sock("127.0.0.1:5432"), Proto::Tcp, &env),
        Ok(())
    );
    assert_eq!(
        p.connect(TASK, sock("127.0.0.1:16000"), Proto::Tcp, &env),
        Ok(())
    );
    assert_eq!(
        p.connect(TASK, sock("127.42.255.254:22"), Proto::Tcp, &env),
        Err(Denial::GatewayPort(22))
    );
}

#[test]
fn other_tasks_need_a_rule_and_a_real_listener() {
    let env = FakeEnv {
        bound: [(Proto::Tcp, v4("127.42.0.8:7000"))].into(),
        peers: vec![(OTHER, "api")],
        ..Default::default()
    };
    let dest = sock("127.42.0.8:7000");
    assert_eq!(
        policy(config()).connect(TASK, dest, Proto::Tcp, &env),
        Err(Denial::OtherTask(OTHER))
    );
    let rule = |r: NetworkRuleConfig| {
        policy(NetworkConfig {
            rules: vec![r],
            ..config()
        })
    };
    let by_range = rule(NetworkRuleConfig {
        allow: Some("127.42.0.0/16".into()),
        ..Default::default()
    });
    assert_eq!(by_range.connect(TASK, dest, Proto::Tcp, &env), Ok(()));
    assert_eq!(
        by_range.connect(TASK, sock("127.42.0.8:7001"), Proto::Tcp, &env),
        Err(Denial::NotListening(v4("127.42.0.8:7001"))),
        "only a host wildcard listener could answer there"
    );
    assert_eq!(
        by_range.connect(TASK, sock("127.42.255.254:7000"), Proto::Tcp, &env),
        Err(Denial::GatewayPort(7000)),
        "the gateway is never another task"
    );
    let by_port = rule(NetworkRuleConfig {
        allow: Some("127.42.0.8".into()),
        ports: vec![80],
        ..Default::default()
    });
    assert!(by_port.connect(TASK, dest, Proto::Tcp, &env).is_err());
    let by_family = rule(NetworkRuleConfig {
        family: Some("api".into()),
        ..Default::default()
    });
    assert_eq!(by_family.connect(TASK, dest, Proto::Tcp, &env), Ok(()));
    let other_family = rule(NetworkRuleConfig {
        family: Some("db".into()),
        ..Default::default()
    });
    assert!(other_family.connect(TASK, dest, Proto::Tcp, &env).is_err());
    let by_service = rule(NetworkRuleConfig {
        service: Some("api".into()),
        ..Default::default()
    });
    assert!(
        by_service.connect(TASK, dest, Proto::Tcp, &env).is_err(),
        "service rules are not enforced yet: they allow nothing"
    );
}

#[test]
fn egress_is_open_by_default_and_can_be_closed() {
    let env = FakeEnv {
        host_addrs: vec!["10.0.0.5".parse().unwrap()],
        ..Default::default()
    };
    let open = policy(config());
    assert_eq!(
        open.connect(TASK, sock("93.184.216.34:443"), Proto::Tcp, &env),
        Ok(())
    );
    assert_eq!(
        open.connect(TASK, sock("[2001:db8::1]:443"), Proto::Tcp, &env),
        Ok(())
    );
    assert!(
        matches!(
            open.connect(TASK, sock("10.0.0.5:5432"), Proto::Tcp, &env),
            Err(Denial::HostAddress(_))
        ),
        "the host's own interfaces reach its wildcard listeners"
    );
    let closed = policy(NetworkConfig {
        egress: Egress::Deny,
        egress_allow: vec!["10.1.0.0/16".into()],
        ..config()
    });
    assert!(matches!(
        closed.connect(TASK, sock("93.184.216.34:443"), Proto::Tcp, &env),
        Err(Denial::Egress(_))
    ));
    assert_eq!(
        closed.connect(TASK, sock("10.1.2.3:443"), Proto::Udp, &env),
        Ok(())
    );
}

#[test]
fn binds_only_on_the_task_address() {
    let p = policy(config());
    assert_eq!(p.bind(TASK, sock("127.42.0.7:80")), Ok(()));
    assert_eq!(p.bind(TASK, sock("0.0.0.0:0")), Ok(()), "implicit bind");
    assert_eq!(p.bind(TASK, sock("[::]:0")), Ok(()), "implicit bind");
    for bad in [
        "127.42.0.8:80",
        "0.0.0.0:80",
        "127.0.0.1:80",
        "[::1]:80",
        "10.0.0.5:80",
    ] {
        assert!(p.bind(TASK, sock(bad)).is_err(), "{bad}");
    }
    assert_eq!(p.listen(TASK, sock("127.42.0.7:80")), Ok(()));
    assert!(p.listen(TASK, sock("0.0.0.0:80")).is_err());
}

#[test]
fn a_guest_never_binds_ipv6_itself() {
    let p = policy(config());
    assert_eq!(p.explicit_bind(sock("0.0.0.0:0")), Ok(()));
    assert_eq!(p.explicit_bind(sock("127.0.0.1:80")), Ok(()));
    for bad in ["[::]:0", "[::]:80", "[::1]:80", "[::ffff:127.0.0.1]:0"] {
        assert_eq!(
            p.explicit_bind(sock(bad)),
            Err(Denial::Ipv6Bind(sock(bad))),
            "{bad}"
        );
    }
    let why = p.explicit_bind(sock("[::]:0")).unwrap_err().to_string();
    assert!(why.contains("IPv4"), "{why}");
}

#[test]
fn inbound_sources_off_loopback_follow_egress() {
    let open = policy(config());
    assert_eq!(open.receive(sock("127.0.0.1:5353")), Ok(()));
    assert_eq!(open.receive(sock("127.42.0.8:5353")), Ok(()));
    assert_eq!(open.receive(sock("[::ffff:127.0.0.1]:1")), Ok(()));
    assert_eq!(open.receive(sock("[2001:db8::1]:53")), Ok(()));
    assert_eq!(open.receive(sock("[::1]:53")), Err(Denial::Ipv6Loopback));
    let closed = policy(NetworkConfig {
        egress: Egress::Deny,
        egress_allow: vec!["10.1.0.0/16".into()],
        ..config()
    });
    assert_eq!(closed.receive(sock("127.0.0.1:5353")), Ok(()));
    assert_eq!(closed.receive(sock("10.1.2.3:53")), Ok(()));
    assert!(matches!(
        closed.receive(sock("[2001:db8::1]:53")),
        Err(Denial::Egress(_))
    ));
    assert!(matches!(
        closed.receive(sock("[::ffff:93.184.216.34]:53")),
        Err(Denial::Egress(_))
    ));
}

#[test]
fn lookups_follow_egress() {
    let open = policy(config());
    assert!(open.resolves_names());
    assert_eq!(open.answer("93.184.216.34".parse().unwrap()), Ok(()));
    assert_eq!(
        open.answer("::1".parse().unwrap()),
        Err(Denial::Ipv6Loopback)
    );
    let sealed = policy(NetworkConfig {
        egress: Egress::Deny,
        ..config()
    });
    assert!(!sealed.resolves_names(), "a query would leave the host");
    let closed = policy(NetworkConfig {
        egress: Egress::Deny,
        egress_allow: vec!["10.1.0.0/16".into()],
        ..config()
    });
    assert!(closed.resolves_names());
    assert_eq!(closed.answer("10.1.0.9".parse().unwrap()), Ok(()));
    assert_eq!(
        closed.answer("127.0.0.1".parse().unwrap()),
        Ok(()),
        "loopback answers are checked when used"
    );
    assert!(matches!(
        closed.answer("93.184.216.34".parse().unwrap()),
        Err(Denial::Egress(_))
    ));
}

#[test]
fn bad_configs_name_their_key() {
    let err = |c: NetworkConfig| Policy::from_config(&c).unwrap_err().to_string();
    let e = err(NetworkConfig {
        pool: "10.0.0.0/16".into(),
        ..config()
    });
    assert!(e.starts_with("network.pool:"), "{e}");
    let e = err(NetworkConfig {
        pool: "127.42.0.0/31".into(),
        ..config()
    });
    assert!(e.starts_with("network.pool:"), "{e}");
    let e = err(NetworkConfig {
        rules: vec![NetworkRuleConfig::default()],
        ..config()
    });
    assert!(e.starts_with("network.rules[0]:"), "{e}");
    let e = err(NetworkConfig {
        rules: vec![NetworkRuleConfig {
            allow: Some("127.42.0.0/99".into()),
            ..Default::default()
        }],
        ..config()
    });
    assert!(e.starts_with("network.rules[0].allow:"), "{e}");
    let e = err(NetworkConfig {
        gateway_address: Some("127.0.0.1".into()),
        ..config()
    });
    assert!(e.starts_with("network.gateway_address:"), "{e}");
    let e = err(NetworkConfig {
        egress_allow: vec!["nope".into()],
        ..config()
    });
    assert!(e.starts_with("network.egress_allow[0]:"), "{e}");
    let mut dup = config();
    dup.gateway.push(GatewayConfig {
        port: 5432,
        target: None,
    });
    assert!(err(dup).starts_with("network.gateway[2].port:"));
}

#[test]
fn default_gateway_is_the_pools_last_address_but_one() {
    assert_eq!(policy(config()).gateway(), GATEWAY);
    let p = policy(NetworkConfig {
        pool: "127.77.1.0/24".into(),
        ..config()
    });
    assert_eq!(p.gateway(), Ipv4Addr::new(127, 77, 1, 254));
}

// ---- /proc/net tables

#[test]
fn proc_net_tables_are_read_exactly() {
    // 127.42.0.8:7000 listening; 0.0.0.0:5432 listening; 127.42.0.9:80 connected.
    let ip = |a: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(a));
    let table = format!(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
         0: {}:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1\n\
         1: {}:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2\n\
         2: {}:0050 {}:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 3\n",
        ip([127, 42, 0, 8]),
        ip([0, 0, 0, 0]),
        ip([127, 42, 0, 9]),
        ip([127, 0, 0, 1]),
    );
    assert!(table_has(&table, Proto::Tcp, v4("127.42.0.8:7000")));
    assert!(
        !table_has(&table, Proto::Tcp, v4("127.42.0.8:5432")),
        "wildcard only"
    );
    assert!(
        !table_has(&table, Proto::Tcp, v4("127.42.0.9:80")),
        "not listening"
    );
    assert!(
        table_has(&table, Proto::Udp, v4("127.42.0.9:80")),
        "UDP: any state"
    );
}

#[test]
fn the_kernel_table_sees_a_real_listener() {
    let l = std::net::TcpListener::bind("127.97.0.3:0").unwrap();
    let SocketAddr::V4(addr) = l.local_addr().unwrap() else {
        unreachable!()
    };
    assert!(super::sysnet::bound_exactly(Proto::Tcp, addr));
    drop(l);
    assert!(!super::sysnet::bound_exactly(Proto::Tcp, addr));
}

// ---- address pool

fn pool_in(dir: &std::path::Path, cidr: &str) -> AddressPool {
    let c: Cidr = cidr.parse().unwrap();
    AddressPool::new(
        c.to_string(),
        c.v4_bounds().unwrap(),
        vec![Ipv4Addr::new(127, 99, 0, 6)],
        dir.to_owned(),
    )
    .unwrap()
}

fn peer() -> PeerInfo {
    PeerInfo {
        task_id: "t".into(),
        family: "f".into(),
        service: None,
        cluster: None,
    }
}

#[test]
fn pool_skips_reserved_hosts_and_never_shares_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let locks = dir.path().join("net");
    // Two pools on one lock dir behave like two processes: flock is per open file.
    let a = pool_in(&locks, "127.99.0.0/29");
    let b = pool_in(&locks, "127.99.0.0/29");
    let mode = std::os::unix::fs::PermissionsExt::mode(&locks.metadata().unwrap().permissions());
    assert_eq!(mode & 0o7777, 0o1777);
    let mut held = Vec::new();
    for i in 0..5 {
        let pool = if i % 2 == 0 { &a } else { &b };
        held.push(pool.allocate(peer()).unwrap());
    }
    let mut got: Vec<_> = held.iter().map(|l| l.address().octets()[3]).collect();
    got.sort();
    // .0 is skipped, .6 is reserved (the gateway), .7 is not a .255 but the last: usable.
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    let sixth = a.allocate(peer()).unwrap();
    assert_eq!(sixth.address(), Ipv4Addr::new(127, 99, 0, 7));
    assert!(b.allocate(peer()).is_err(), "exhausted");
    // Release one: the other "process" can take it.
    let freed = held.remove(2).address();
    assert_eq!(b.allocate(peer()).unwrap().address(), freed);
}

#[test]
fn pool_skips_an_address_an_older_host_holds_by_its_lock_file() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let locks = dir.path().join("net");
    let p = pool_in(&locks, "127.99.0.0/29");
    // An older host holds .1 the way it did: a flock on `<ip>.lock`.
    let old = std::fs::File::create(locks.join("127.99.0.1.lock")).unwrap();
    // SAFETY: flock on a descriptor the test owns.
    assert_eq!(
        unsafe { libc::flock(old.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let lease = p.allocate(peer()).unwrap();
    assert_eq!(lease.address(), Ipv4Addr::new(127, 99, 0, 2));
    drop(old);
    drop(lease);
    // Released, and the stale file left behind blocks nothing: all six are handed out.
    let again: Vec<_> = (0..6).map(|_| p.allocate(peer()).unwrap()).collect();
    let mut got: Vec<_> = again.iter().map(|l| l.address().octets()[3]).collect();
    got.sort();
    assert_eq!(got, vec![1, 2, 3, 4, 5, 7]);
}

#[test]
fn pool_never_hands_out_127_0_0_1_or_dot_255() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool_in(dir.path(), "127.0.0.0/24");
    let mut held = Vec::new();
    while let Ok(lease) = p.allocate(peer()) {
        held.push(lease);
        assert!(held.len() <= 256, "an address was handed out twice");
    }
    assert_eq!(held.len(), 253, "256 minus .0, .1 (127.0.0.1) and .255");
    assert!(held.iter().all(|l| l.address() != Ipv4Addr::LOCALHOST));
}

// ---- a task's network

fn task_network(dir: &std::path::Path, c: NetworkConfig) -> (super::TaskLease, Arc<TaskNetwork>) {
    task_network_with(dir, c, LimitsConfig::default(), 1000)
}

fn task_network_with(
    dir: &std::path::Path,
    c: NetworkConfig,
    limits: LimitsConfig,
    open_file_limit: u64,
) -> (super::TaskLease, Arc<TaskNetwork>) {
    let descriptors = Arc::new(HostDescriptors::new(open_file_limit, &limits).unwrap());
    let host = NetworkHost::new(
        &NetworkConfig {
            lock_dir: dir.to_owned(),
            pool: "127.98.0.0/24".into(),
            ..c
        },
        &limits,
        descriptors,
    )
    .unwrap();
    let lease = host.provision("0123456789abcdef", "fam").unwrap();
    let net = lease.network().clone();
    (lease, net)
}

#[test]
fn the_check_tracks_open_ports_and_denies_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (_lease, net) = task_network(dir.path(), config());
    let own = net.address();
    assert_eq!(own, Ipv4Addr::new(127, 98, 0, 1));
    let check = |addr: SocketAddr, use_| net.allows("c", addr, use_);
    let dest = SocketAddr::from((own, 7000));
    assert!(check(dest, SocketAddrUse::TcpBind));
    assert!(check(dest, SocketAddrUse::TcpListen));
    assert!(!check(dest, SocketAddrUse::TcpConnect));
    let guard = net.open_port(Proto::Tcp, 7000);
    let second = net.open_port(Proto::Tcp, 7000);
    assert!(check(dest, SocketAddrUse::TcpConnect));
    drop(guard);
    assert!(
        check(dest, SocketAddrUse::TcpConnect),
        "still held by another socket"
    );
    drop(second);
    assert!(!check(dest, SocketAddrUse::TcpConnect));
    assert!(!check(sock("127.0.0.1:5432"), SocketAddrUse::UdpBind));
    assert!(
        check(sock("127.0.0.1:5432"), SocketAddrUse::TcpConnect),
        "gateway route"
    );
    assert!(check(sock("127.0.0.1:1"), SocketAddrUse::TcpAccept));
    assert!(check(sock("127.0.0.1:1"), SocketAddrUse::UdpReceive));
    assert!(!check(sock("[::1]:1"), SocketAddrUse::UdpReceive));
    // Outgoing connections the host makes for a guest go through the same rules.
    assert_eq!(
        net.outgoing("c", sock("127.98.0.254:5432"), "host.wasmgate.internal"),
        Ok(sock("127.0.0.1:5432"))
    );
    assert!(
        net.outgoing("c", sock("127.0.0.1:7000"), "localhost")
            .is_err()
    );
}

/// An on-demand server that opens its port when wanted, and counts how often it was.
struct Opener {
    net: std::sync::Weak<TaskNetwork>,
    guard: std::sync::Mutex<Option<super::PortGuard>>,
    asked: std::sync::atomic::AtomicUsize,
}

impl super::OnDemandServer for Opener {
    fn wanted(&self) {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(net) = self.net.upgrade() {
            *self.guard.lock().unwrap() = Some(net.open_port(Proto::Tcp, 51679));
        }
    }
}

#[test]
fn an_on_demand_port_opens_on_the_first_connect_to_it_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_lease, net) = task_network(dir.path(), config());
    let own = net.address();
    let opener = Arc::new(Opener {
        net: Arc::downgrade(&net),
        guard: std::sync::Mutex::default(),
        asked: Default::default(),
    });
    let weak: std::sync::Weak<dyn super::OnDemandServer> = Arc::downgrade(&opener) as _;
    net.serve_on_demand(51679, weak);
    let asked = || opener.asked.load(std::sync::atomic::Ordering::SeqCst);
    let endpoint = SocketAddr::from((own, 51679));
    assert!(!net.allows("c", endpoint, SocketAddrUse::TcpConnect));
    // Other ports of the task, and the port on other addresses, open nothing.
    net.before_tcp_use(SocketAddr::from((own, 51680)));
    net.before_tcp_use(SocketAddr::from((OTHER, 51679)));
    net.before_tcp_use(sock("127.0.0.1:51679"));
    assert_eq!(asked(), 0);
    net.before_tcp_use(endpoint);
    assert_eq!(asked(), 1);
    assert!(net.allows("c", endpoint, SocketAddrUse::TcpConnect));
    // Open already: not asked again.
    net.before_tcp_use(endpoint);
    assert_eq!(asked(), 1);
}

#[test]
fn a_containers_budget_is_shared_by_its_stores_and_bounded_by_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let limits = LimitsConfig {
        max_sockets_per_container: 3,
        descriptor_reserve_percent: 50,
        ..LimitsConfig::default()
    };
    let (_lease, net) = task_network_with(dir.path(), config(), limits, 10);
    let a = net.budget("a");
    assert!(
        Arc::ptr_eq(&a, &net.budget("a")),
        "one budget per container"
    );
    let held: Vec<_> = (0..3).map(|_| a.socket().unwrap()).collect();
    assert!(matches!(
        a.socket(),
        Err(super::Refusal::Sockets(
            crate::runtime::descriptors::Exhausted::Container { cap: 3, .. }
        ))
    ));
    // The host's budget is 5 of its 10 descriptors: b gets the last two.
    let b = net.budget("b");
    let more: Vec<_> = (0..2).map(|_| b.socket().unwrap()).collect();
    assert!(matches!(
        b.socket(),
        Err(super::Refusal::Sockets(
            crate::runtime::descriptors::Exhausted::Host { budget: 5, .. }
        ))
    ));
    drop(held);
    assert_eq!(a.sockets_in_use(), 0);
    assert!(b.socket().is_ok());
    drop(more);
}

#[test]
fn lookups_at_once_are_bounded_per_container() {
    let dir = tempfile::tempdir().unwrap();
    let c = NetworkConfig {
        max_lookups_per_container: 2,
        ..config()
    };
    let (_lease, net) = task_network(dir.path(), c);
    let budget = net.budget("c");
    let first = budget.lookup().unwrap();
    let _second = budget.lookup().unwrap();
    let refused = budget.lookup().unwrap_err();
    assert!(refused.to_string().contains("max_lookups_per_container"));
    drop(first);
    assert!(budget.lookup().is_ok());
    assert!(net.budget("other").lookup().is_ok(), "per container");
}

#[test]
fn a_lease_frees_its_address_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (lease, net) = task_network(dir.path(), config());
    let first = lease.address();
    drop(lease);
    // `net` may outlive the lease (a check left in a dying store): the address is free.
    let (again, _) = task_network(dir.path(), config());
    assert_eq!(again.address(), first);
    drop(net);
}

// ---- --publish

#[test]
fn publish_specs() {
    let p: PublishSpec = "8080:80".parse().unwrap();
    assert_eq!((p.host_port, p.container_port), (8080, 80));
    assert_eq!("0:80/tcp".parse::<PublishSpec>().unwrap().host_port, 0);
    assert!(matches!(
        "8080:80/udp".parse::<PublishSpec>(),
        Err(PublishError::Udp(_))
    ));
    for bad in ["8080", "a:80", "8080:0", "8080:80/sctp", "70000:80"] {
        assert!(
            matches!(bad.parse::<PublishSpec>(), Err(PublishError::Syntax(_))),
            "{bad}"
        );
    }
    let def: crate::taskdef::TaskDefinition = serde_json::from_value(serde_json::json!({
        "family": "f",
        "containerDefinitions": [{"name": "web", "image": "x.wasm",
            "portMappings": [{"containerPort": 80}, {"containerPort": 53, "protocol": "udp"}]}]
    }))
    .unwrap();
    assert!(p.check(&def).is_ok());
    let e = "8080:53"
        .parse::<PublishSpec>()
        .unwrap()
        .check(&def)
        .unwrap_err();
    assert!(e.to_string().contains("--publish 8080:53"), "{e}");
}

#[test]
fn guest_view_gateway_route_table() {
    let routes: Arc<[GatewayRoute]> = vec![GatewayRoute {
        port: 1,
        target: sock("10.0.0.1:2"),
    }]
    .into();
    let m = AddrMap::new(TASK, "127.42.0.0/16".parse().unwrap(), GATEWAY, routes);
    assert_eq!(
        m.remote_to_host(sock("127.42.255.254:1")),
        sock("10.0.0.1:2")
    );
    assert_eq!(m.to_guest(sock("10.0.0.1:2")), sock("127.42.255.254:1"));
}
