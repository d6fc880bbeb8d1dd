//! The per-container state the socket shadows work on, and their registration.

use super::tasknet::{PortGuard, TaskNetwork};
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::{ip_name_lookup, network, tcp, udp};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

/// One container's view of its task's network; lives in the container's store.
pub struct ContainerNet {
    pub(super) task: Arc<TaskNetwork>,
    /// Ports of the task address this container's sockets hold open, by resource rep.
    /// Dropping the store drops the guards, so a killed container frees its ports too.
    pub(super) held: HashMap<u32, PortGuard>,
}

impl ContainerNet {
    pub fn new(task: Arc<TaskNetwork>) -> Self {
        Self {
            task,
            held: HashMap::new(),
        }
    }

    pub fn task(&self) -> &Arc<TaskNetwork> {
        &self.task
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

/// Registers the shadowing `wasi:sockets/{tcp,udp,ip-name-lookup}`. Call after
/// `wasmtime_wasi::p2::add_to_linker_async`, which it overrides for these interfaces only:
/// socket resources stay wasmtime-wasi's, so `tcp-create-socket`, `network` and the streams
/// keep working on the same table. Leaves shadowing disabled afterwards.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> TaskNetView<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = tcp::add_to_linker::<T, TaskNet>(linker, get)
        .and_then(|()| udp::add_to_linker::<T, TaskNet>(linker, get))
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
