//! The per-container state the socket shadows work on, and their registration.

use super::budget::{ContainerBudget, LookupPermit};
use super::lookup::Answers;
use super::tasknet::{PortGuard, TaskNetwork};
use crate::runtime::descriptors::Descriptor;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode;
use wasmtime_wasi::p2::bindings::sockets::{
    ip_name_lookup, network, tcp, tcp_create_socket, udp, udp_create_socket,
};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

/// One container's view of its task's network; lives in the container's store. Everything
/// it holds is keyed by resource rep and dropped with the store, so a killed container
/// frees its ports, descriptors and lookups too.
pub struct ContainerNet {
    pub(super) task: Arc<TaskNetwork>,
    pub(super) name: Arc<str>,
    pub(super) budget: Arc<ContainerBudget>,
    /// Ports of the task address this container's sockets hold open.
    pub(super) held: HashMap<u32, PortGuard>,
    /// Listening TCP sockets on the task address, as this process's record of exact binds
    /// (the load balancer's check that a target is served, without reading /proc).
    pub(super) listening: HashMap<u32, crate::util::inproc::Listening>,
    /// The descriptor each open socket counts against the container and the host.
    pub(super) sockets: HashMap<u32, Descriptor>,
    /// Lookups whose answers were not read to the end yet.
    pub(super) lookups: HashMap<u32, (LookupPermit, Answers)>,
}

impl ContainerNet {
    pub fn new(task: Arc<TaskNetwork>, name: Arc<str>) -> Self {
        let budget = task.budget(&name);
        Self {
            task,
            name,
            budget,
            held: HashMap::new(),
            listening: HashMap::new(),
            sockets: HashMap::new(),
            lookups: HashMap::new(),
        }
    }

    pub fn task(&self) -> &Arc<TaskNetwork> {
        &self.task
    }

    /// A descriptor for a new socket, or `new-socket-limit` (logged once).
    pub(super) fn take_socket(&self) -> Result<Descriptor, SocketError> {
        self.budget.socket().map_err(|why| {
            self.task.refused(&self.name, &self.budget, why);
            ErrorCode::NewSocketLimit.into()
        })
    }

    /// Forgets a dropped socket: its descriptor and any port it held.
    pub(super) fn socket_dropped(&mut self, rep: u32) {
        self.held.remove(&rep);
        self.listening.remove(&rep);
        self.sockets.remove(&rep);
    }
}

/// wasmtime-wasi's sockets view plus the task's network.
pub struct TaskNetView<'a> {
    pub inner: WasiSocketsCtxView<'a>,
    pub net: &'a mut ContainerNet,
}

/// [`HasData`] marker for registering [`TaskNetView`] in a linker.
pub struct TaskNet;

impl HasData for TaskNet {
    type Data<'a> = TaskNetView<'a>;
}

/// Registers the shadowing `wasi:sockets/{tcp,udp,tcp-create-socket,udp-create-socket,
/// ip-name-lookup}`. Call after `wasmtime_wasi::p2::add_to_linker_async`, which it overrides
/// for these interfaces only: socket resources stay wasmtime-wasi's, so `network` and the
/// streams keep working on the same table. Leaves shadowing disabled afterwards.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> TaskNetView<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = tcp::add_to_linker::<T, TaskNet>(linker, get)
        .and_then(|()| udp::add_to_linker::<T, TaskNet>(linker, get))
        .and_then(|()| tcp_create_socket::add_to_linker::<T, TaskNet>(linker, get))
        .and_then(|()| udp_create_socket::add_to_linker::<T, TaskNet>(linker, get))
        .and_then(|()| ip_name_lookup::add_to_linker::<T, TaskNet>(linker, get));
    linker.allow_shadowing(false);
    added
}

/// A second handle to a resource the guest lent us, for delegating more than one call.
pub(super) fn again<T: 'static>(r: &Resource<T>) -> Resource<T> {
    Resource::new_borrow(r.rep())
}

impl network::Host for TaskNetView<'_> {
    fn convert_error_code(&mut self, err: SocketError) -> wasmtime::Result<network::ErrorCode> {
        network::Host::convert_error_code(&mut self.inner, err)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<network::ErrorCode>> {
        network::Host::network_error_code(&mut self.inner, err)
    }
}

impl network::HostNetwork for TaskNetView<'_> {
    fn drop(&mut self, this: Resource<network::Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.inner, this)
    }
}

/// Converts a socket address of the bindings.
pub(super) fn sa(a: network::IpSocketAddress) -> std::net::SocketAddr {
    a.into()
}
