//! Outgoing `wasi:http` requests: the only way a guest's request leaves its store.
//!
//! wasmtime-wasi-http's default `send_request` connects wherever the URL says, with the
//! host's DNS and the host's loopback, bypassing the sockets rules. Every request goes
//! through [`OutgoingHooks::send_request`] instead:
//!
//! 0. The task's own address (or loopback) on the endpoints' port: the task's metadata
//!    and credentials endpoints answer in-process (`runtime::endpoints`).
//! 1. `localhost`, `127.0.0.1` (any address the task sees as itself) or the task's own
//!    address, on a port a sibling HTTP container serves, plain `http`: handled in-process
//!    by that sibling, the same code path as a request from the network. No socket.
//! 2. Anything else: the destination is translated the way wasi:sockets translates it
//!    (the guest's loopback is the task's address, never the host's), names are resolved
//!    under the same rules and lookup budget as wasi:sockets lookups, and the first address
//!    that passes the task's egress rules is the one the host connects to ([`send`]: never
//!    resolved again, TLS verified against the name the guest wrote). The connection
//!    counts against the container's sockets while it lasts.
//!
//! With a task role whose policies name `wasmgate:` actions, step 2 asks them
//! `wasmgate:HttpRequest` (with `wasmgate:DestinationHost`) instead of the egress rules.
//!
//! A refused request fails in the guest with `destination-ip-prohibited` (a name that may
//! not be looked up too), `connection-limit-reached` past the container's sockets, and a
//! DNS error past its lookups; the task's network logs it once per destination (the same
//! log as a denied socket).

mod send;

use super::TaskHttp;
use super::instance::Failure;
use crate::runtime::net::{GATEWAY_NAME, NetCounters};
use http::uri::Scheme;
use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use send::IoFuture;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The wasi:http hooks of one store (one container instance).
pub struct OutgoingHooks {
    task: Arc<TaskHttp>,
    container: Arc<str>,
}

impl OutgoingHooks {
    pub(super) fn new(task: Arc<TaskHttp>, container: Arc<str>) -> Self {
        Self { task, container }
    }
}

impl WasiHttpHooks for OutgoingHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send> {
        let task = self.task.clone();
        let container = self.container.clone();
        Box::new(async move { task.send(&container, request, options).await })
    }
}

/// Where the guest's authority points, before any translation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// The task itself: `localhost`, `*.localhost`.
    Localhost,
    /// `host.wasmgate.internal`: the host, where `[[network.gateway]]` rules open ports.
    Gateway,
    Ip(IpAddr),
    Name(String),
}

impl Host {
    fn parse(host: &str) -> Self {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Host::Ip(ip);
        }
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            Host::Localhost
        } else if name == GATEWAY_NAME {
            Host::Gateway
        } else {
            Host::Name(name)
        }
    }
}

impl TaskHttp {
    async fn send(
        self: &Arc<Self>,
        container: &str,
        req: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
        let uri = req.uri();
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = Host::parse(authority.host());

        // 0. The task's own endpoints (metadata, credentials), in-process.
        if !https
            && port == crate::runtime::endpoints::PORT
            && self.is_own(&host)
            && let Some(endpoints) = self.endpoints.get()
        {
            let path = uri.path().to_owned();
            let resp = endpoints.respond(req.method(), &path, req.headers());
            let resp = resp.map(|body| body.map_err(|never| match never {}).boxed_unsync());
            return Ok((resp, Box::new(async { Ok(()) })));
        }

        // 1. A sibling HTTP container, in-process.
        if !https
            && self.is_own(&host)
            && let Some(sibling) = self.sibling(port)
        {
            return match sibling.try_handle(req).await {
                Ok(resp) => Ok((resp, Box::new(async { Ok(()) }))),
                Err(Failure::Closed) => Err(Error::ConnectionRefused),
                Err(f) => Ok((f.response(), Box::new(async { Ok(()) }))),
            };
        }

        // 2. The network, through the egress rules.
        let candidates: Vec<SocketAddr> = match &host {
            Host::Localhost => vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)],
            Host::Gateway => vec![SocketAddr::new(IpAddr::V4(self.net.map().gateway()), port)],
            Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
            Host::Name(name) => self.resolve(container, name, port).await?,
        };
        // What a role's `wasmgate:DestinationHost` is matched against: the name as written
        // (lower case, no brackets or trailing dot).
        let host_name = match &host {
            Host::Localhost => "localhost".to_owned(),
            Host::Gateway => GATEWAY_NAME.to_owned(),
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        };
        let Some(host_addr) = candidates
            .into_iter()
            .find_map(|guest_addr| self.egress(container, guest_addr, &host_name).ok())
        else {
            return Err(Error::DestinationIpProhibited);
        };
        let server_name = if https {
            let bare = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            Some(ServerName::try_from(bare.to_owned()).map_err(Error::InvalidDnsNameError)?)
        } else {
            None
        };
        let budget = self.net.budget(container);
        let descriptor = budget.socket().map_err(|why| {
            self.net.refused(container, &budget, why);
            Error::ConnectionLimitReached
        })?;
        // The task's stats count what its requests move over the network.
        let counters = self.net.counters().clone();
        let req = req.map(|body| counted(body, counters.clone(), NetCounters::sent));
        let (resp, io) = send::send_to(req, host_addr, server_name, options, descriptor).await?;
        Ok((
            resp.map(|body| counted(body, counters, NetCounters::received)),
            io,
        ))
    }

    /// Looks a name up for a guest's request, under the task's rules and the container's
    /// lookup budget (as wasi:sockets lookups are).
    async fn resolve(
        &self,
        container: &str,
        name: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, Error> {
        if self.net.may_look_up(container, name).is_err() {
            return Err(Error::DestinationIpProhibited);
        }
        let budget = self.net.budget(container);
        let _lookup = budget.lookup().map_err(|why| {
            self.net.refused(container, &budget, why);
            Error::DnsError {
                rcode: Some("too many lookups at once".into()),
                info_code: None,
            }
        })?;
        let found = tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| Error::DnsError {
                rcode: Some("no such name".into()),
                info_code: None,
            })?;
        Ok(found.collect())
    }

    /// Whether `host` names this task (the guest's loopback, or the task's own address).
    fn is_own(&self, host: &Host) -> bool {
        match host {
            Host::Localhost => true,
            // The task's address map decides what the guest's loopback is (the same
            // translation as its sockets get).
            Host::Ip(ip) => {
                let probe = SocketAddr::new(*ip, 0);
                self.net.map().remote_to_host(probe).ip() == self.address()
            }
            Host::Gateway | Host::Name(_) => false,
        }
    }

    /// The task's rules for a connection the host opens on a guest's behalf (the same as
    /// for its sockets): the guest's address in, the host-side address to connect to out.
    fn egress(
        &self,
        container: &str,
        guest_addr: SocketAddr,
        host: &str,
    ) -> Result<SocketAddr, String> {
        self.net
            .outgoing(container, guest_addr, host)
            .map_err(|denial| denial.to_string())
    }
}

/// `body`, each data frame told to `count` as it passes.
fn counted(body: WasiBody, counters: Arc<NetCounters>, count: fn(&NetCounters, usize)) -> WasiBody {
    body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            count(&counters, data.len());
        }
        frame
    })
    .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_classified() {
        assert_eq!(Host::parse("localhost"), Host::Localhost);
        assert_eq!(Host::parse("LocalHost."), Host::Localhost);
        assert_eq!(Host::parse("api.localhost"), Host::Localhost);
        assert_eq!(
            Host::parse("127.0.0.1"),
            Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(Host::parse("[::1]"), Host::Ip("::1".parse().unwrap()));
        assert_eq!(Host::parse("Example.COM"), Host::Name("example.com".into()));
        assert_eq!(Host::parse("host.wasmgate.internal"), Host::Gateway);
    }
}
