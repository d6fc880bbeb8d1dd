//! The cost of one connect's decision: today's `[[network.rules]]` / `egress` check against
//! a task role's `wasmgate:` policies, memoised per task (issue 12, item 5).
//!
//! The decision as `TaskNetwork` makes it on every connect/send (`Policy::connect` and
//! `Policy::connect_governed`), over an in-memory `Environment` (peer lookup, "is something
//! bound there") so that what is timed is the decision, not the `/proc/net/tcp` read both
//! paths share. Cases:
//! - rules: another task's address allowed by the 4th of 4 `[[network.rules]]` entries (one
//!   naming a family, which looks the peer up); an off-host address allowed by the 4th of
//!   4 `egress_allow` ranges (`egress = "deny"`);
//! - role, memoised: the same destinations under a role with 3 policies × 3 statements
//!   (IpAddress, StringEquals on family/service, NumericLessThan on the port, ARN
//!   patterns), each answer found in the task's memo;
//! - role, evaluated: the same, evaluated every time (a miss: the first connect to a
//!   destination, or the first after IAM changed).
//!
//! Calls are timed in batches of `BATCH`; p50/p99 are over batches, per call.
//!
//! `cargo bench --bench netpolicy` (prints Markdown for BENCHMARKS.md).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmgate::config::{Egress, NetworkConfig, NetworkRuleConfig};
use wasmgate::iam::network::RoleNetworkPolicy;
use wasmgate::runtime::net::{
    Environment, NetAction, NetRequest, NetworkAuthority, PeerInfo, Policy, Proto, RoleGate,
    TaskAuthority,
};

const BATCH: usize = 1000;
const BATCHES: usize = 2000;
const WARMUP: usize = 200;

const OWN: Ipv4Addr = Ipv4Addr::new(127, 42, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(127, 42, 0, 9);

/// The machine as the decision sees it: the peer is a task of family `cache`, every
/// destination has a listener.
struct Env {
    peer: Arc<PeerInfo>,
}

impl Environment for Env {
    fn own_port_open(&self, _: Proto, _: u16) -> bool {
        false
    }
    fn bound_exactly(&self, _: Proto, _: SocketAddrV4) -> bool {
        true
    }
    fn peer(&self, ip: Ipv4Addr) -> Option<Arc<PeerInfo>> {
        (ip == PEER).then(|| self.peer.clone())
    }
    fn is_host_address(&self, _: IpAddr) -> bool {
        false
    }
}

fn host_policy() -> Policy {
    let rule = |allow: Option<&str>, family: Option<&str>, ports: Vec<u16>| NetworkRuleConfig {
        allow: allow.map(Into::into),
        family: family.map(Into::into),
        service: None,
        ports,
    };
    Policy::from_config(&NetworkConfig {
        egress: Egress::Deny,
        egress_allow: vec![
            "10.0.0.0/8".into(),
            "172.16.0.0/12".into(),
            "192.168.0.0/16".into(),
            "203.0.113.0/24".into(),
        ],
        rules: vec![
            rule(Some("127.42.1.0/24"), None, vec![80]),
            rule(None, Some("web"), vec![]),
            rule(Some("127.42.2.0/24"), Some("db"), vec![5432]),
            rule(None, Some("cache"), vec![6379]),
        ],
        ..NetworkConfig::default()
    })
    .expect("valid network config")
}

fn role() -> RoleNetworkPolicy {
    let docs = [
        r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "NoDb", "Effect": "Deny", "Action": "wasmgate:NetworkConnect", "Resource": "*",
   "Condition": {"StringEquals": {"wasmgate:DestinationService": "db"}}},
  {"Sid": "NoVault", "Effect": "Deny", "Action": "wasmgate:*", "Resource": "*",
   "Condition": {"StringEquals": {"wasmgate:DestinationFamily": ["vault", "secrets"]}}},
  {"Sid": "Web", "Effect": "Allow", "Action": "wasmgate:HttpRequest", "Resource": "*",
   "Condition": {"StringLike": {"wasmgate:DestinationHost": "*.example.com"}}}]}"#,
        r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "Listen", "Effect": "Allow", "Action": "wasmgate:NetworkListen",
   "Resource": "arn:wasmgate:network:*:*:listener/9*"},
  {"Sid": "Private", "Effect": "Allow", "Action": "wasmgate:NetworkConnect",
   "Resource": "arn:wasmgate:network:*:*:destination/10.*",
   "Condition": {"NumericLessThan": {"wasmgate:DestinationPort": "1024"}}},
  {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}"#,
        r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "Pool", "Effect": "Allow", "Action": "wasmgate:NetworkConnect",
   "Resource": "arn:wasmgate:network:us-east-1:000000000000:destination/127.42.*",
   "Condition": {"IpAddress": {"wasmgate:DestinationCidr": "127.42.0.0/16"}}},
  {"Sid": "Partner", "Effect": "Allow", "Action": "wasmgate:NetworkConnect", "Resource": "*",
   "Condition": {"IpAddress": {"wasmgate:DestinationCidr": ["198.51.100.0/24", "203.0.113.0/24"]},
                 "NumericEquals": {"wasmgate:DestinationPort": ["443", "8443"]}}},
  {"Sid": "Ecs", "Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]}"#,
    ];
    let named: Vec<(String, String)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("p{i}"), (*d).to_owned()))
        .collect();
    RoleNetworkPolicy::from_documents(
        "arn:aws:iam::000000000000:role/web",
        "us-east-1",
        "000000000000",
        &named,
    )
    .expect("policies parse")
    .expect("names wasmgate actions")
}

/// Per-call times of `BATCHES` batches of `f`.
fn measure(mut f: impl FnMut() -> bool) -> Vec<Duration> {
    let mut times = Vec::with_capacity(BATCHES);
    for b in 0..WARMUP + BATCHES {
        let start = Instant::now();
        for _ in 0..BATCH {
            assert!(black_box(f()), "the case must be allowed");
        }
        if b >= WARMUP {
            times.push(start.elapsed() / BATCH as u32);
        }
    }
    times.sort();
    times
}

fn row(case: &str, times: &[Duration]) {
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "| {case} | {} | {} | {} |",
        pct(0.5).as_nanos(),
        pct(0.99).as_nanos(),
        mean.as_nanos()
    );
}

fn main() {
    let policy = host_policy();
    let env = Env {
        peer: Arc::new(PeerInfo {
            task_id: "9f2c0c1e5d2a4b7c8e1f0a3b5c7d9e11".into(),
            family: "cache".into(),
            service: Some("cache".into()),
            cluster: Some("arn:aws:ecs:us-east-1:000000000000:cluster/default".into()),
        }),
    };
    let to_task = SocketAddr::from((PEER, 6379));
    let off_host = SocketAddr::from(([203, 0, 113, 7], 443));
    let role = Arc::new(role());
    let memo = TaskAuthority::new(role.clone() as Arc<dyn NetworkAuthority>);
    let gate = RoleGate {
        authority: &memo,
        action: NetAction::Connect,
        proto: Proto::Tcp,
        host: None,
    };
    let (policy, env, gate) = (&policy, &env, &gate);
    let rules = |dest: SocketAddr| {
        move || {
            policy
                .connect(OWN, black_box(dest), Proto::Tcp, env)
                .is_ok()
        }
    };
    let memoised = |dest: SocketAddr| {
        move || {
            policy
                .connect_governed(OWN, black_box(dest), Proto::Tcp, env, Some(gate))
                .is_ok()
        }
    };
    let evaluated = |dest: SocketAddr, peer: Option<&Arc<PeerInfo>>| {
        let request = NetRequest {
            action: NetAction::Connect,
            dest,
            proto: Proto::Tcp,
            peer,
            host: None,
        };
        measure(|| role.evaluate(black_box(&request)).allowed)
    };

    let cases = [
        (
            "rules: another task (4th rule, by family)",
            measure(rules(to_task)),
        ),
        (
            "rules: off host (egress_allow, 4th range)",
            measure(rules(off_host)),
        ),
        ("role, memoised: another task", measure(memoised(to_task))),
        ("role, memoised: off host", measure(memoised(off_host))),
        (
            "role, evaluated (memo miss): another task",
            evaluated(to_task, Some(&env.peer)),
        ),
        (
            "role, evaluated (memo miss): off host",
            evaluated(off_host, None),
        ),
    ];
    println!("Connect decision, {BATCHES} batches of {BATCH} calls per case (per call, ns):\n");
    println!("| case | p50 ns | p99 ns | mean ns |");
    println!("|---|---|---|---|");
    for (case, times) in &cases {
        row(case, times);
    }
    println!("\nanswers memoised: {}", memo.cached());
}
