//! The shadowing `wasi:sockets/ip-name-lookup` host: a few names mean something inside a
//! task, everything else goes to the host's resolver, within the task's rules.
//!
//! - `localhost` (and `*.localhost`) is `127.0.0.1` only: the task's loopback. `::1` cannot
//!   be made per-task, so it is never offered (and connects to it are denied).
//! - `host.wasmgate.internal` is the gateway address, where `[[network.gateway]]` ports
//!   reach the host's services.
//! - Any other name is a query that leaves the host: refused (`access-denied`) when egress
//!   is closed with no `egress_allow`, and its answers off loopback are only those egress
//!   lets the task reach (none left: `access-denied`).
//! - A container may have `[network] max_lookups_per_container` lookups open at once (each
//!   holds a host thread until answered); past it `temporary-resolver-failure`. A lookup is
//!   open until its answers are read to the end or its stream is dropped.
//!
//! wasmtime-wasi's resolve stream cannot be built outside the crate, so a special name is
//! resolved by handing its address, as text, to the delegate: literals never touch DNS.

use super::view::TaskNetView;
use std::net::IpAddr;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, HostResolveAddressStream, IpAddress, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, Network};
use wasmtime_wasi::p2::{DynPollable, SocketResult};

/// The name of the host, as Docker Desktop spells its `host.docker.internal`.
pub const GATEWAY_NAME: &str = "host.wasmgate.internal";

/// What a lookup of a real name has answered so far.
#[derive(Debug)]
pub struct Answers {
    name: String,
    /// Some answer reached the guest.
    given: bool,
    /// Some answer was withheld by the rules.
    withheld: bool,
}

/// A name that needs no resolver: its address as text, for the delegate.
fn literal(name: &str, gateway: std::net::Ipv4Addr) -> Option<String> {
    let normalized = name.trim_end_matches('.').to_ascii_lowercase();
    if normalized == "localhost" || normalized.ends_with(".localhost") {
        return Some("127.0.0.1".to_owned());
    }
    if normalized == GATEWAY_NAME {
        return Some(gateway.to_string());
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok().then(|| name.to_owned())
}

impl ip_name_lookup::Host for TaskNetView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        if let Some(text) = literal(&name, self.net.task.map().gateway()) {
            return ip_name_lookup::Host::resolve_addresses(&mut self.inner, network, text);
        }
        if self.net.task.may_look_up(&self.net.name, &name).is_err() {
            return Err(ErrorCode::AccessDenied.into());
        }
        let permit = self.net.budget.lookup().map_err(|why| {
            self.net.task.refused(&self.net.name, &self.net.budget, why);
            ErrorCode::TemporaryResolverFailure
        })?;
        let stream =
            ip_name_lookup::Host::resolve_addresses(&mut self.inner, network, name.clone())?;
        let answers = Answers {
            name,
            given: false,
            withheld: false,
        };
        self.net.lookups.insert(stream.rep(), (permit, answers));
        Ok(stream)
    }
}

impl HostResolveAddressStream for TaskNetView<'_> {
    fn resolve_next_address(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        let rep = this.rep();
        loop {
            let next = match HostResolveAddressStream::resolve_next_address(
                &mut self.inner,
                Resource::new_borrow(rep),
            ) {
                Ok(next) => next,
                Err(e) => {
                    if e.downcast_ref() != Some(&ErrorCode::WouldBlock) {
                        self.net.lookups.remove(&rep); // answered: no longer open
                    }
                    return Err(e);
                }
            };
            let Some(address) = next else {
                let Some((_, answers)) = self.net.lookups.remove(&rep) else {
                    return Ok(None);
                };
                return if answers.withheld && !answers.given {
                    Err(ErrorCode::AccessDenied.into())
                } else {
                    Ok(None)
                };
            };
            // A host name that resolves to ::1 too (e.g. via /etc/hosts) keeps its IPv4.
            if matches!(address, IpAddress::Ipv6((0, 0, 0, 0, 0, 0, 0, 1))) {
                continue;
            }
            let Some((_, answers)) = self.net.lookups.get_mut(&rep) else {
                return Ok(Some(address)); // a literal
            };
            let ip = ip_of(address);
            if self
                .net
                .task
                .answer(&self.net.name, &answers.name, ip)
                .is_ok()
            {
                answers.given = true;
                return Ok(Some(address));
            }
            answers.withheld = true;
        }
    }

    fn subscribe(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostResolveAddressStream::subscribe(&mut self.inner, this)
    }

    fn drop(&mut self, this: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.net.lookups.remove(&this.rep());
        HostResolveAddressStream::drop(&mut self.inner, this)
    }
}

fn ip_of(address: IpAddress) -> IpAddr {
    match address {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::from([a, b, c, d]),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => IpAddr::from([a, b, c, d, e, f, g, h]),
    }
}
