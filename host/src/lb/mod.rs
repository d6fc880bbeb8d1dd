//! The built-in HTTP load balancer: ALB-like target groups (IP targets = task address +
//! container port) with health checks and draining, and listeners on host ports.
//!
//! - `LoadBalancer::from_config` checks `[lb]` (every error names its field);
//!   `start` binds the listeners and starts the health checkers.
//! - Listeners speak HTTP/1.1 and h2c (prior knowledge); requests go to the group's healthy
//!   targets over HTTP/1.1 (keep-alive connections pooled per target, `pool`), round robin or least outstanding
//!   requests, with `X-Forwarded-For/-Proto/-Port` added and hop-by-hop headers removed.
//! - No healthy target: `503` (`no healthy targets in target group <name>`). Like ALB the
//!   group *fails open*: when every registered target is unhealthy, all of them get traffic.
//!   Targets still in `Initial` get none.
//! - A target that cannot be connected to (or drops a pooled connection before answering):
//!   `502`; an idempotent request without a body is retried once on another target first.
//! - A target that is an HTTP container of this host (the runtime registered it in
//!   `util::inproc`) gets its requests handed over in-process: no loopback connection,
//!   the same admission, instance and meters as a request on its port (`[lb] in_process`,
//!   on by default; health checks still go over TCP to the port itself).
//! - `deregister_target` drains: no new request from that moment, returns once the
//!   in-flight ones finished or the deregistration delay passed.
//! - Targets must really be served: `register_target` refuses, and every new connection
//!   to a target is refused, unless a socket listens on exactly that address and port
//!   (`served`), so a target never reaches a host service on the wildcard address.
//! - Listeners cap their connections and close stalled ones (`conns`); bodies stream
//!   through, and a health check reads at most a few KiB of its answer.

pub(crate) mod conns;
mod counters;
mod health;
mod pool;
mod proxy;
mod served;

pub use counters::{CounterTotals, Times};

use crate::config::{LbAlgorithm, LbConfig, TargetGroupConfig};
use crate::util::sync::lock;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Errors of the load balancer's configuration and start.
#[derive(Debug, thiserror::Error)]
pub enum LbError {
    /// An `[lb]` entry is invalid; `field` is its path, e.g. `lb.listeners[0].target_group`.
    #[error("{field}: {message}")]
    Config { field: String, message: String },
    #[error("target group {0} does not exist")]
    UnknownTargetGroup(String),
    #[error("lb.listeners[{index}]: cannot listen on {addr}: {source}")]
    Bind {
        index: usize,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the load balancer was shut down")]
    ShutDown,
    /// The target's port is not one its task serves (nothing listens on exactly it).
    #[error("target {addr} refused: {reason}")]
    NotServed { addr: SocketAddr, reason: String },
}

/// Health of one registered target, as ELBv2's `TargetHealth.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetHealth {
    /// Registered, not yet passed `healthy_threshold` checks: gets no traffic.
    Initial,
    Healthy,
    /// Failed `unhealthy_threshold` checks in a row: no traffic (unless all are unhealthy).
    Unhealthy,
    /// Deregistered, finishing its in-flight requests: no new traffic.
    Draining,
}

impl TargetHealth {
    /// ELBv2's spelling (`initial`, `healthy`, `unhealthy`, `draining`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Draining => "draining",
        }
    }
}

impl std::fmt::Display for TargetHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller may know about a target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupInfo {
    pub arn: String,
    pub name: String,
    pub protocol: String,
    pub algorithm: LbAlgorithm,
    pub deregistration_delay: Duration,
    pub health_check: HealthCheckInfo,
}

/// A target group's health check, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckInfo {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// The matcher as configured (`200-399`).
    pub matcher: String,
    ranges: Vec<(u16, u16)>,
}

impl HealthCheckInfo {
    /// Whether `status` counts as a successful check.
    pub fn matches(&self, status: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

/// One target group's figures for CloudWatch and Prometheus (`AWS/ApplicationELB`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReading {
    pub name: String,
    pub arn: String,
    /// The `TargetGroup` dimension: `targetgroup/<name>/<id>`, the ARN's suffix.
    pub dimension: String,
    pub totals: CounterTotals,
    pub healthy: u64,
    pub unhealthy: u64,
    /// Registered targets not draining (what `RequestCountPerTarget` divides by).
    pub targets: u64,
}

/// A configured listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// The configured address (port 0 until started, when it asked for a free port).
    pub addr: SocketAddr,
    pub target_group: String,
}

/// The load balancer: cheap to clone, shared by the listeners, the health checkers and the
/// control plane (which registers service tasks).
#[derive(Clone)]
pub struct LoadBalancer {
    inner: Arc<Inner>,
}

struct Inner {
    groups: Vec<Arc<TargetGroup>>,
    /// `app/wasmgate/<id>`: the `LoadBalancer` dimension of its metrics.
    dimension: String,
    listeners: Vec<ListenerInfo>,
    limits: conns::ConnLimits,
    state: Mutex<RunState>,
    stop: watch::Sender<bool>,
}

#[derive(Default)]
struct RunState {
    started: bool,
    shut_down: bool,
    /// The runtime health checkers of targets registered after `start` are spawned on.
    handle: Option<tokio::runtime::Handle>,
    bound: Vec<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

pub(crate) struct TargetGroup {
    info: TargetGroupInfo,
    counters: Arc<counters::GroupCounters>,
    targets: Mutex<Vec<Arc<Target>>>,
    next: AtomicUsize,
    /// `[lb] in_process`: hand requests to an HTTP container of this host without a socket.
    in_process: bool,
}

pub(crate) struct Target {
    addr: SocketAddr,
    /// Keep-alive connections to it (TCP targets and health checks).
    pool: Arc<pool::Pool>,
    health: Mutex<HealthState>,
    outstanding: AtomicUsize,
    /// Woken whenever `outstanding` drops to 0 (draining waits for it).
    idle: Notify,
    /// Out of the group: the health checker stops.
    removed: AtomicBool,
}

#[derive(Debug, Clone, Copy)]
struct HealthState {
    state: TargetHealth,
    successes: u32,
    failures: u32,
}

impl LoadBalancer {
    /// Builds the target groups and listeners of `[lb]`. Nothing is bound yet.
    pub fn from_config(cfg: &LbConfig, region: &str, account_id: &str) -> Result<Self, LbError> {
        let mut groups: Vec<Arc<TargetGroup>> = Vec::new();
        for (i, tg) in cfg.target_groups.iter().enumerate() {
            let info = group_info(i, tg, region, account_id)?;
            if groups.iter().any(|g| g.info.name == info.name) {
                return Err(config_err(
                    format!("lb.target_groups[{i}].name"),
                    format!("duplicate target group name {:?}", info.name),
                ));
            }
            groups.push(Arc::new(TargetGroup {
                info,
                counters: Arc::default(),
                targets: Mutex::new(Vec::new()),
                next: AtomicUsize::new(0),
                in_process: cfg.in_process,
            }));
        }
        let mut listeners: Vec<ListenerInfo> = Vec::new();
        for (i, l) in cfg.listeners.iter().enumerate() {
            if !groups.iter().any(|g| g.info.name == l.target_group) {
                return Err(config_err(
                    format!("lb.listeners[{i}].target_group"),
                    format!(
                        "no target group named {:?} in [[lb.target_groups]]",
                        l.target_group
                    ),
                ));
            }
            let addr =
                SocketAddr::new(l.address.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), l.port);
            if l.port != 0 && listeners.iter().any(|o| o.addr == addr) {
                return Err(config_err(
                    format!("lb.listeners[{i}].port"),
                    format!("another listener already uses {addr}"),
                ));
            }
            listeners.push(ListenerInfo {
                addr,
                target_group: l.target_group.clone(),
            });
        }
        let limits = conn_limits(cfg)?;
        let (stop, _) = watch::channel(false);
        Ok(Self {
            inner: Arc::new(Inner {
                groups,
                dimension: {
                    let digest = Sha256::digest(format!("{region}:{account_id}").as_bytes());
                    format!("app/wasmgate/{}", hex::encode(&digest[..8]))
                },
                listeners,
                limits,
                state: Mutex::new(RunState::default()),
                stop,
            }),
        })
    }

    /// Binds every listener and starts the health checkers. Calling it again does nothing.
    pub async fn start(&self) -> Result<(), LbError> {
        {
            let st = lock(&self.inner.state);
            if st.shut_down {
                return Err(LbError::ShutDown);
            }
            if st.started {
                return Ok(());
            }
        }
        let mut bound = Vec::new();
        for (index, l) in self.inner.listeners.iter().enumerate() {
            let listener = tokio::net::TcpListener::bind(l.addr)
                .await
                .map_err(|source| LbError::Bind {
                    index,
                    addr: l.addr,
                    source,
                })?;
            let addr = listener.local_addr().map_err(|source| LbError::Bind {
                index,
                addr: l.addr,
                source,
            })?;
            let group = self
                .group(&l.target_group)
                .ok_or_else(|| LbError::UnknownTargetGroup(l.target_group.clone()))?;
            bound.push((listener, addr, group));
        }
        let mut st = lock(&self.inner.state);
        if st.started {
            return Ok(());
        }
        st.started = true;
        st.handle = Some(tokio::runtime::Handle::current());
        for (listener, addr, group) in bound {
            st.bound.push(addr);
            let stop = self.inner.stop.subscribe();
            st.tasks.push(tokio::spawn(proxy::serve(
                listener,
                addr,
                group,
                self.inner.limits,
                stop,
            )));
        }
        for g in &self.inner.groups {
            for t in lock(&g.targets).iter() {
                let task = health::spawn(g.clone(), t, self.inner.stop.subscribe());
                st.tasks.push(task);
            }
        }
        Ok(())
    }

    /// The addresses the listeners are bound to, in config order (empty before `start`).
    pub fn listener_addrs(&self) -> Vec<SocketAddr> {
        lock(&self.inner.state).bound.clone()
    }

    /// The configured listeners, in config order.
    pub fn listeners(&self) -> Vec<ListenerInfo> {
        self.inner.listeners.clone()
    }

    /// Every target group, in config order.
    pub fn target_groups(&self) -> Vec<TargetGroupInfo> {
        self.inner.groups.iter().map(|g| g.info.clone()).collect()
    }

    /// The `LoadBalancer` dimension of the built-in load balancer, as ALB's ARN suffix
    /// `app/<name>/<id>`: `app/wasmgate/<16 hex of region and account>`.
    pub fn dimension(&self) -> String {
        self.inner.dimension.clone()
    }

    /// Every group's counters and target health now, in config order.
    pub fn readings(&self) -> Vec<GroupReading> {
        self.inner
            .groups
            .iter()
            .map(|g| {
                let targets = lock(&g.targets);
                let states: Vec<TargetHealth> =
                    targets.iter().map(|t| lock(&t.health).state).collect();
                let count = |s: TargetHealth| states.iter().filter(|&&h| h == s).count() as u64;
                GroupReading {
                    name: g.info.name.clone(),
                    arn: g.info.arn.clone(),
                    dimension: g
                        .info
                        .arn
                        .split_once(":targetgroup/")
                        .map_or_else(|| g.info.name.clone(), |(_, s)| format!("targetgroup/{s}")),
                    totals: g.counters.totals(),
                    healthy: count(TargetHealth::Healthy),
                    unhealthy: count(TargetHealth::Unhealthy),
                    targets: states
                        .iter()
                        .filter(|&&h| h != TargetHealth::Draining)
                        .count() as u64,
                }
            })
            .collect()
    }

    /// The target response times of each group since the last call, in config order (one
    /// reader: the metrics publisher, which turns them into 1-second statistic sets).
    pub fn take_response_times(&self) -> Vec<Times> {
        self.inner
            .groups
            .iter()
            .map(|g| g.counters.take_times())
            .collect()
    }

    /// A target group by ARN or name.
    pub fn target_group(&self, arn_or_name: &str) -> Option<TargetGroupInfo> {
        self.group(arn_or_name).map(|g| g.info.clone())
    }

    fn group(&self, arn_or_name: &str) -> Option<Arc<TargetGroup>> {
        self.inner
            .groups
            .iter()
            .find(|g| g.info.arn == arn_or_name || g.info.name == arn_or_name)
            .cloned()
    }

    /// Registers `addr` (task address + container port) in a target group (ARN or name).
    /// It starts `Initial` and gets traffic once it passed `healthy_threshold` checks.
    /// Registering a registered target does nothing; a draining one is taken back.
    ///
    /// Refused ([`LbError::NotServed`]) unless a socket listens on exactly `addr`: the
    /// task's own listener, or the runtime's server for its HTTP container. A port the task
    /// does not serve would reach whatever host process listens on `0.0.0.0:<port>`.
    pub fn register_target(&self, tg: &str, addr: SocketAddr) -> Result<(), LbError> {
        let group = self
            .group(tg)
            .ok_or_else(|| LbError::UnknownTargetGroup(tg.to_owned()))?;
        served::check(addr).map_err(|reason| LbError::NotServed { addr, reason })?;
        let target = {
            let mut targets = lock(&group.targets);
            if let Some(t) = targets.iter().find(|t| t.addr == addr) {
                let mut h = lock(&t.health);
                if h.state == TargetHealth::Draining {
                    *h = HealthState::initial();
                }
                return Ok(());
            }
            let t = Arc::new(Target {
                addr,
                pool: pool::Pool::new(addr),
                health: Mutex::new(HealthState::initial()),
                outstanding: AtomicUsize::new(0),
                idle: Notify::new(),
                removed: AtomicBool::new(false),
            });
            targets.push(t.clone());
            t
        };
        let mut st = lock(&self.inner.state);
        if st.started
            && !st.shut_down
            && let Some(handle) = st.handle.clone()
        {
            let _guard = handle.enter();
            let task = health::spawn(group, &target, self.inner.stop.subscribe());
            st.tasks.push(task);
        }
        Ok(())
    }

    /// Deregisters a target: it gets no new request from now on; returns once its in-flight
    /// requests finished or the group's deregistration delay passed. Unknown group or target:
    /// returns at once.
    pub async fn deregister_target(&self, tg: &str, addr: SocketAddr) {
        let Some(group) = self.group(tg) else { return };
        let Some(target) = lock(&group.targets)
            .iter()
            .find(|t| t.addr == addr)
            .cloned()
        else {
            return;
        };
        {
            // Under the group's lock: `pick` counts a request in flight under it too, so
            // either it sees `Draining` or its request is counted before the wait below.
            let _targets = lock(&group.targets);
            lock(&target.health).state = TargetHealth::Draining;
        }
        let deadline = tokio::time::Instant::now() + group.info.deregistration_delay;
        loop {
            let idle = target.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if target.outstanding.load(Ordering::Acquire) == 0 {
                break;
            }
            tokio::select! {
                _ = idle => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let mut targets = lock(&group.targets);
        // Registered again while draining: it stays.
        if lock(&target.health).state == TargetHealth::Draining {
            targets.retain(|t| !Arc::ptr_eq(t, &target));
            target.removed.store(true, Ordering::Release);
        }
    }

    /// Every registered target of a group with its health (empty for an unknown group).
    pub fn target_health(&self, tg: &str) -> Vec<(SocketAddr, TargetHealth)> {
        let Some(group) = self.group(tg) else {
            return Vec::new();
        };
        let targets = lock(&group.targets);
        targets
            .iter()
            .map(|t| (t.addr, lock(&t.health).state))
            .collect()
    }

    /// Stops accepting connections and health checks; requests in flight get a few seconds
    /// to finish.
    pub async fn shutdown(&self) {
        let tasks = {
            let mut st = lock(&self.inner.state);
            st.shut_down = true;
            std::mem::take(&mut st.tasks)
        };
        self.inner.stop.send_replace(true);
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl HealthState {
    fn initial() -> Self {
        Self {
            state: TargetHealth::Initial,
            successes: 0,
            failures: 0,
        }
    }
}

fn config_err(field: String, message: String) -> LbError {
    LbError::Config { field, message }
}

/// The listeners' connection limits of `[lb]`.
fn conn_limits(cfg: &LbConfig) -> Result<conns::ConnLimits, LbError> {
    if !(1..=65_536).contains(&cfg.max_connections) {
        return Err(config_err(
            "lb.max_connections".into(),
            format!("{} is outside 1..=65536", cfg.max_connections),
        ));
    }
    for (f, v) in [
        (
            "header_read_timeout_seconds",
            cfg.header_read_timeout_seconds,
        ),
        ("idle_timeout_seconds", cfg.idle_timeout_seconds),
    ] {
        if !(1..=4000).contains(&v) {
            return Err(config_err(
                format!("lb.{f}"),
                format!("{v} is outside 1..=4000"),
            ));
        }
    }
    Ok(conns::ConnLimits {
        max_connections: cfg.max_connections,
        header_timeout: Duration::from_secs(cfg.header_read_timeout_seconds),
        idle_timeout: Duration::from_secs(cfg.idle_timeout_seconds),
    })
}

/// `arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}/{16 hex}`, the
/// suffix derived from the name so it is the same on every start.
pub fn target_group_arn(region: &str, account_id: &str, name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let id = hex::encode(&digest[..8]);
    format!("arn:aws:elasticloadbalancing:{region}:{account_id}:targetgroup/{name}/{id}")
}

fn group_info(
    i: usize,
    tg: &TargetGroupConfig,
    region: &str,
    account_id: &str,
) -> Result<TargetGroupInfo, LbError> {
    let field = |f: &str| format!("lb.target_groups[{i}].{f}");
    let name = &tg.name;
    let valid_name = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid_name {
        return Err(config_err(
            field("name"),
            format!(
                "{name:?} is not a valid target group name (1-32 letters, digits or hyphens, \
                 not beginning or ending with a hyphen)"
            ),
        ));
    }
    if tg.protocol != "HTTP" {
        return Err(config_err(
            field("protocol"),
            format!("{:?} is not supported (only \"HTTP\")", tg.protocol),
        ));
    }
    let hc = &tg.health_check;
    if !hc.path.starts_with('/') {
        return Err(config_err(
            field("health_check.path"),
            format!("{:?} must begin with /", hc.path),
        ));
    }
    if !(1..=300).contains(&hc.interval_seconds) {
        return Err(config_err(
            field("health_check.interval_seconds"),
            format!("{} is outside 1..=300", hc.interval_seconds),
        ));
    }
    if !(1..=120).contains(&hc.timeout_seconds) || hc.timeout_seconds > hc.interval_seconds {
        return Err(config_err(
            field("health_check.timeout_seconds"),
            format!(
                "{} must be in 1..=120 and not above interval_seconds ({})",
                hc.timeout_seconds, hc.interval_seconds
            ),
        ));
    }
    for (f, v) in [
        ("healthy_threshold", hc.healthy_threshold),
        ("unhealthy_threshold", hc.unhealthy_threshold),
    ] {
        if !(1..=10).contains(&v) {
            return Err(config_err(
                field(&format!("health_check.{f}")),
                format!("{v} is outside 1..=10"),
            ));
        }
    }
    let ranges =
        parse_matcher(&hc.matcher).map_err(|m| config_err(field("health_check.matcher"), m))?;
    if tg.deregistration_delay_seconds > 3600 {
        return Err(config_err(
            field("deregistration_delay_seconds"),
            format!("{} is outside 0..=3600", tg.deregistration_delay_seconds),
        ));
    }
    Ok(TargetGroupInfo {
        arn: target_group_arn(region, account_id, name),
        name: name.clone(),
        protocol: tg.protocol.clone(),
        algorithm: tg.algorithm,
        deregistration_delay: Duration::from_secs(tg.deregistration_delay_seconds),
        health_check: HealthCheckInfo {
            path: hc.path.clone(),
            interval: Duration::from_secs(hc.interval_seconds),
            timeout: Duration::from_secs(hc.timeout_seconds),
            healthy_threshold: hc.healthy_threshold,
            unhealthy_threshold: hc.unhealthy_threshold,
            matcher: hc.matcher.clone(),
            ranges,
        },
    })
}

/// `"200"`, `"200,202"`, `"200-399"` (ELBv2's HttpCode forms), codes 100..=599.
fn parse_matcher(m: &str) -> Result<Vec<(u16, u16)>, String> {
    let bad = || {
        format!(
            "{m:?} is not a list of HTTP codes or ranges such as \"200\", \"200,202\" or \"200-399\""
        )
    };
    let code = |s: &str| -> Result<u16, String> {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(bad)
    };
    let mut out = Vec::new();
    for part in m.split(',') {
        let range = match part.split_once('-') {
            Some((lo, hi)) => (code(lo)?, code(hi)?),
            None => {
                let c = code(part)?;
                (c, c)
            }
        };
        if range.0 > range.1 {
            return Err(bad());
        }
        out.push(range);
    }
    Ok(out)
}

impl TargetGroup {
    pub(crate) fn name(&self) -> &str {
        &self.info.name
    }

    /// The target for the next request (counted in flight at once), skipping `exclude`: healthy ones by the group's
    /// algorithm; when every registered (non-draining) target is unhealthy, any of them
    /// (fail open, like ALB); `None` when there is none or some are still `Initial`.
    pub(crate) fn pick(&self, exclude: Option<SocketAddr>) -> Option<InFlight> {
        let targets = lock(&self.targets);
        let mut active: Vec<(&Arc<Target>, TargetHealth)> = targets
            .iter()
            .filter(|t| Some(t.addr) != exclude)
            .map(|t| (t, lock(&t.health).state))
            .filter(|(_, s)| *s != TargetHealth::Draining)
            .collect();
        let any_healthy = active.iter().any(|(_, s)| *s == TargetHealth::Healthy);
        if any_healthy {
            active.retain(|(_, s)| *s == TargetHealth::Healthy);
        } else if !active.iter().all(|(_, s)| *s == TargetHealth::Unhealthy) {
            return None;
        }
        if active.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = active.len();
        let chosen = match self.info.algorithm {
            LbAlgorithm::RoundRobin => active[start % n].0,
            LbAlgorithm::LeastOutstandingRequests => (0..n)
                .map(|k| active[(start + k) % n].0)
                .min_by_key(|t| t.outstanding.load(Ordering::Acquire))
                .unwrap_or(active[start % n].0),
        };
        Some(InFlight::new(chosen.clone()))
    }
}

/// One request in flight to a target: counted while alive.
pub(crate) struct InFlight(Arc<Target>);

impl InFlight {
    fn new(target: Arc<Target>) -> Self {
        target.outstanding.fetch_add(1, Ordering::AcqRel);
        Self(target)
    }

    pub(crate) fn target(&self) -> &Target {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(toml_text: &str) -> LbConfig {
        toml::from_str(toml_text).expect("lb config")
    }

    #[test]
    fn arn_is_stable_and_shaped_like_elbv2() {
        let a = target_group_arn("us-east-1", "000000000000", "web");
        assert_eq!(a, target_group_arn("us-east-1", "000000000000", "web"));
        let id = a
            .strip_prefix("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/")
            .expect("prefix");
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn listener_naming_an_unknown_group_is_an_error_naming_the_field() {
        let c = cfg(
            "[[target_groups]]\nname = \"web\"\n[[listeners]]\nport = 0\ntarget_group = \"api\"\n",
        );
        let e = LoadBalancer::from_config(&c, "us-east-1", "000000000000")
            .err()
            .expect("error");
        let msg = e.to_string();
        assert!(msg.contains("lb.listeners[0].target_group"), "{msg}");
        assert!(msg.contains("api"), "{msg}");
    }

    #[test]
    fn bad_values_name_their_fields() {
        for (text, field) in [
            ("name = \"-x\"", "lb.target_groups[0].name"),
            (
                "name = \"x\"\nprotocol = \"HTTPS\"",
                "lb.target_groups[0].protocol",
            ),
            (
                "name = \"x\"\nhealth_check = { matcher = \"2xx\" }",
                "health_check.matcher",
            ),
            (
                "name = \"x\"\nhealth_check = { path = \"health\" }",
                "health_check.path",
            ),
            (
                "name = \"x\"\nhealth_check = { interval_seconds = 2, timeout_seconds = 3 }",
                "health_check.timeout_seconds",
            ),
        ] {
            let c = cfg(&format!("[[target_groups]]\n{text}\n"));
            let e = LoadBalancer::from_config(&c, "r", "1")
                .err()
                .expect("error");
            assert!(e.to_string().contains(field), "{text}: {e}");
        }
    }

    #[test]
    fn listener_limits_name_their_fields() {
        for (text, field) in [
            ("max_connections = 0", "lb.max_connections"),
            (
                "header_read_timeout_seconds = 0",
                "lb.header_read_timeout_seconds",
            ),
            ("idle_timeout_seconds = 0", "lb.idle_timeout_seconds"),
        ] {
            let e = LoadBalancer::from_config(&cfg(text), "r", "1")
                .err()
                .expect("error");
            assert!(e.to_string().contains(field), "{text}: {e}");
        }
    }

    /// A host service on the wildcard address answers on every address's port; a target
    /// on such a port is not the task's, and is refused.
    #[test]
    fn a_target_nothing_listens_on_exactly_is_refused() {
        let lb = LoadBalancer::from_config(&cfg("[[target_groups]]\nname = \"web\"\n"), "r", "1")
            .expect("lb");
        let wild = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
        let port = wild.local_addr().expect("addr").port();
        let addr = SocketAddr::from(([127, 42, 0, 9], port));
        let e = lb.register_target("web", addr).unwrap_err();
        assert!(matches!(e, LbError::NotServed { .. }), "{e}");
        assert!(e.to_string().contains(&addr.to_string()), "{e}");
        assert!(lb.target_health("web").is_empty());
        let exact = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = exact.local_addr().expect("addr");
        lb.register_target("web", addr)
            .expect("an exact listener serves");
        assert_eq!(lb.target_health("web"), vec![(addr, TargetHealth::Initial)]);
    }

    #[test]
    fn matcher_forms() {
        assert_eq!(parse_matcher("200").unwrap(), vec![(200, 200)]);
        assert_eq!(
            parse_matcher("200,202").unwrap(),
            vec![(200, 200), (202, 202)]
        );
        assert_eq!(parse_matcher("200-399").unwrap(), vec![(200, 399)]);
        assert!(parse_matcher("399-200").is_err());
        assert!(parse_matcher("").is_err());
    }

    #[test]
    fn defaults() {
        let c = cfg("[[target_groups]]\nname = \"web\"\n");
        let lb = LoadBalancer::from_config(&c, "eu-west-1", "123456789012").unwrap();
        let tg = lb.target_group("web").unwrap();
        assert_eq!(lb.target_group(&tg.arn).unwrap().name, "web");
        assert_eq!(tg.algorithm, LbAlgorithm::RoundRobin);
        assert_eq!(tg.deregistration_delay, Duration::from_secs(30));
        assert_eq!(tg.health_check.interval, Duration::from_secs(5));
        assert!(tg.health_check.matches(302) && !tg.health_check.matches(404));
    }
}
