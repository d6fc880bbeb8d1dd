//! HTTP components: containers whose component exports `wasi:http/incoming-handler`.
//!
//! Such a container does not "run": the host serves it (hyper, HTTP/1.1) on
//! `<task address>:<containerPort>` for each of its tcp `portMappings` until the task stops,
//! and makes a fresh instance per request from the pre-instantiated component (the pooling
//! allocator makes that ~tens of µs). Every request instance gets what a command container
//! gets (args, env, preopens, stdout/stderr) and is charged to the container: its fuel
//! meter, its `memory` limit (shared by its concurrent requests, see
//! `limits::ContainerLimiter::pooled`), the task's memory budget, and its CPU share (one
//! `cpu::CpuBucket` for all its requests). A request that traps gets a 500; the container
//! keeps serving. When the task stops, the listeners close, in-flight requests finish
//! (bounded by `stopTimeout`), and the container exits with 0.
//!
//! Outgoing `wasi:http` requests of every container (commands too) go through
//! [`OutgoingHooks`]: `localhost:<port>` of a sibling HTTP container is served in-process by
//! that sibling (the same code path as a request from the network); everything else must
//! pass the task's egress rules before the host opens a connection.
//!
//! Nobody who can reach a port may take the host down: a container runs at most
//! `[http] max_concurrent_requests` instances with a bounded queue (then 503 with
//! `Retry-After`), a task's requests hold at most its share of the pool and never the reserve
//! kept for command containers (`admission`); connections per port, header and body reads
//! are bounded too (`server`).
//!
//! - `server`: listeners, connections (capped, with read timeouts), draining.
//! - `admission`: a request's place among the container's concurrent requests and its slot
//!   in the host's instance pool.
//! - `instance`: one request in one instance (fresh, or reused when the container opts in).
//! - `reuse`: the `wasmgate.instance-reuse` label and a container's idle instances.
//! - `outgoing`: the hooks: sibling routing and egress.
//! - `local`: the in-process entry the load balancer of this process calls.

mod admission;
mod instance;
mod local;
mod outgoing;
mod reuse;
mod server;

pub use outgoing::OutgoingHooks;
pub use reuse::InstanceReuse;
pub(super) use reuse::not_http_error;
pub(super) use server::serve;

use super::artifacts::Prepared;
use super::cpu::CpuBucket;
use super::fsquota::StorageQuota;
use super::launch::{Launch, Meters};
use super::limits::TaskMemory;
use super::net::TaskNetwork;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{Notify, watch};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::guest_state::GuestState;
use crate::util::sync::{read, write};

/// What the HTTP side of a task shares: its network (address, address map, rules) and
/// which ports its HTTP containers serve (for in-process sibling calls).
pub struct TaskHttp {
    net: Arc<TaskNetwork>,
    services: RwLock<HashMap<u16, Arc<HttpService>>>,
    /// Request instances of all the task's HTTP containers alive now (its share of the
    /// host's pool is counted on it).
    instances: Arc<AtomicUsize>,
    /// The task's metadata and credentials endpoints, answered in-process.
    endpoints: std::sync::OnceLock<Arc<super::endpoints::TaskEndpoints>>,
}

impl TaskHttp {
    pub fn new(net: Arc<TaskNetwork>) -> Arc<Self> {
        Arc::new(Self {
            net,
            services: RwLock::default(),
            instances: Arc::default(),
            endpoints: std::sync::OnceLock::new(),
        })
    }

    /// Answers the task's requests to its endpoints' port with `endpoints` from now on.
    pub fn serve_endpoints(&self, endpoints: Arc<super::endpoints::TaskEndpoints>) {
        let _ = self.endpoints.set(endpoints);
    }

    /// Where the task's HTTP containers listen: the task's own address.
    pub fn address(&self) -> IpAddr {
        IpAddr::V4(self.net.address())
    }

    /// The hooks for one store of container `container`.
    pub fn hooks(self: &Arc<Self>, container: Arc<str>) -> OutgoingHooks {
        OutgoingHooks::new(self.clone(), container)
    }

    /// The HTTP container serving `port` of this task, if one does and still accepts requests.
    fn sibling(&self, port: u16) -> Option<Arc<HttpService>> {
        read(&self.services)
            .get(&port)
            .filter(|s| !s.in_flight.is_closed())
            .cloned()
    }

    fn register(&self, svc: &Arc<HttpService>) {
        let mut map = write(&self.services);
        for &p in &svc.ports {
            map.insert(p, svc.clone());
        }
    }

    fn deregister(&self, svc: &HttpService) {
        let mut map = write(&self.services);
        for p in &svc.ports {
            if map.get(p).is_some_and(|s| std::ptr::eq(&**s, svc)) {
                map.remove(p);
            }
        }
    }
}

/// One HTTP container while it serves: everything a request instance is made from.
pub(super) struct HttpService {
    pub(super) launch: Launch,
    /// The component as the container started on it...
    pub(super) pre: ProxyPre<GuestState>,
    /// ...and, on a Winch start (tiered), where Cranelift's arrives: each request's
    /// instance takes the best there is when it starts.
    pub(super) upgrade: Option<super::artifacts::Upgrade>,
    pub(super) fuel: bool,
    pub(super) ports: Vec<u16>,
    pub(super) task_memory: Arc<TaskMemory>,
    /// The container's `memory` limit, shared by its concurrent request instances.
    pub(super) memory: Arc<TaskMemory>,
    pub(super) quota: Arc<StorageQuota>,
    pub(super) meters: Arc<Meters>,
    pub(super) cpu: Arc<CpuBucket>,
    pub(super) in_flight: Arc<InFlight>,
    /// Places among the container's concurrent requests and slots in the pool.
    admission: admission::Admission,
    /// Instances waiting for their next request (only with instance reuse on).
    idle: reuse::IdleInstances,
    /// `[http]` limits this container is served with.
    limits: crate::config::HttpConfig,
    /// Set when a request used up the container's fuel budget: the container must end.
    pub(super) fatal: watch::Sender<Option<String>>,
    /// Set when the container ends: connections and request instances still running are
    /// dropped with it (after a drain there are none left).
    pub(super) ended: watch::Sender<bool>,
}

impl HttpService {
    pub(super) fn name(&self) -> &Arc<str> {
        &self.launch.name
    }

    /// Runs `fut` on its own tokio task until it completes or the container ends (then
    /// it is dropped, with the store it holds, and the task yields `None`).
    pub(super) fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut ended = self.ended.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                out = fut => Some(out),
                _ = ended.wait_for(|&e| e) => None,
            }
        })
    }

    /// What a new request instance is made from: Cranelift's code once it is ready.
    pub(super) fn request_pre(&self) -> ProxyPre<GuestState> {
        match self.upgrade.as_ref().and_then(|u| u.get()) {
            Some(super::artifacts::Entry::Http(pre)) => pre.clone(),
            _ => self.pre.clone(),
        }
    }

    fn set_fatal(&self, reason: String) {
        self.fatal.send_if_modified(|f| {
            let first = f.is_none();
            f.get_or_insert(reason);
            first
        });
    }
}

/// The ports an HTTP container serves: its tcp `portMappings`.
pub(super) fn tcp_ports(def: &crate::taskdef::ContainerDefinition) -> Vec<u16> {
    def.port_mappings
        .iter()
        .filter(|m| m.protocol().eq_ignore_ascii_case("tcp"))
        .filter_map(|m| u16::try_from(m.container_port).ok())
        .collect()
}

/// Whether a prepared component is served rather than run.
pub(super) fn is_http(p: &Prepared) -> bool {
    matches!(p.entry, super::artifacts::Entry::Http(_))
}

/// The error a task gets when an HTTP container has nowhere to be served.
pub(super) fn no_ports_error(i: usize, name: &str) -> String {
    format!(
        "CannotStartContainerError: containerDefinitions[{i}].portMappings: container {name:?} \
         is a wasi:http component (it exports wasi:http/incoming-handler) and needs at least \
         one tcp containerPort to be served on"
    )
}

/// Requests being handled by one container; closing refuses new ones.
#[derive(Default)]
pub(super) struct InFlight {
    count: AtomicUsize,
    closed: AtomicBool,
    idle: Notify,
}

pub(super) struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    pub(super) fn enter(self: &Arc<Self>) -> Option<InFlightGuard> {
        self.count.fetch_add(1, Ordering::AcqRel);
        let guard = InFlightGuard(self.clone());
        (!self.closed.load(Ordering::Acquire)).then_some(guard)
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(super) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Resolves once no request is in flight.
    pub(super) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}
