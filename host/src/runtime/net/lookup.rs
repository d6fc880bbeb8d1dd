//! The shadowing `wasi:sockets/ip-name-lookup` host: a few names mean something inside a
//! task, everything else goes to the host's resolver.
//!
//! - `localhost` (and `*.localhost`) is `127.0.0.1` only: the task's loopback. `::1` cannot
//!   be made per-task, so it is never offered (and connects to it are denied).
//! - `host.wasmgate.internal` is the gateway address, where `[[network.gateway]]` ports
//!   reach the host's services.
//!
//! wasmtime-wasi's resolve stream cannot be built outside the crate, so a special name is
//! resolved by handing its address, as text, to the delegate: literals never touch DNS.

use super::view::TaskNetView;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, HostResolveAddressStream, IpAddress, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::Network;
use wasmtime_wasi::p2::{DynPollable, SocketResult};

/// The name of the host, as Docker Desktop spells its `host.docker.internal`.
pub const GATEWAY_NAME: &str = "host.wasmgate.internal";

impl ip_name_lookup::Host for TaskNetView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        let normalized = name.trim_end_matches('.').to_ascii_lowercase();
        let name = if normalized == "localhost" || normalized.ends_with(".localhost") {
            "127.0.0.1".to_owned()
        } else if normalized == GATEWAY_NAME {
            self.net.task.map().gateway().to_string()
        } else {
            name
        };
        ip_name_lookup::Host::resolve_addresses(&mut self.inner, network, name)
    }
}

impl HostResolveAddressStream for TaskNetView<'_> {
    fn resolve_next_address(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        loop {
            let next = HostResolveAddressStream::resolve_next_address(
                &mut self.inner,
                Resource::new_borrow(this.rep()),
            )?;
            // A host name that resolves to ::1 too (e.g. via /etc/hosts) keeps its IPv4.
            if !matches!(next, Some(IpAddress::Ipv6((0, 0, 0, 0, 0, 0, 0, 1)))) {
                return Ok(next);
            }
        }
    }

    fn subscribe(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostResolveAddressStream::subscribe(&mut self.inner, this)
    }

    fn drop(&mut self, this: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        HostResolveAddressStream::drop(&mut self.inner, this)
    }
}
