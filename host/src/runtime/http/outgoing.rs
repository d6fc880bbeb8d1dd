//! Outgoing `wasi:http` requests: the only way a guest's request leaves its store.
//!
//! wasmtime-wasi-http's default `send_request` connects wherever the URL says, with the
//! host's DNS and the host's loopback, bypassing the sockets rules. Every request goes
//! through [`OutgoingHooks::send_request`] instead:
//!
//! 1. `localhost`, `127.0.0.1` (any address the task sees as itself) or the task's own
//!    address, on a port a sibling HTTP container serves, plain `http`: handled in-process
//!    by that sibling, the same code path as a request from the network. No socket.
//! 2. Anything else: the destination is translated the way wasi:sockets translates it
//!    (the guest's loopback is the task's address, never the host's), names are resolved
//!    and every candidate address must pass the task's egress rules; the host then connects
//!    to exactly the address that passed (the authority is rewritten to it, the `Host`
//!    header keeps what the guest wrote).
//!
//! A refused request fails in the guest with `destination-ip-prohibited`; the task's network
//! logs it once per destination (the same log as a denied socket).

use super::TaskHttp;
use super::instance::Failure;
use crate::runtime::net::{GATEWAY_NAME, Proto};
use http::uri::{Authority, Scheme};
use http_body_util::BodyExt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The future `send_request` hands back for the connection's I/O.
type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

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
        mut req: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
        let uri = req.uri();
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = Host::parse(authority.host());

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
            Host::Name(name) => tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|_| Error::DnsError {
                    rcode: Some("no such name".into()),
                    info_code: None,
                })?
                .collect(),
        };
        let mut allowed = None;
        let mut denied = None;
        for guest_addr in candidates {
            match self.egress(container, guest_addr) {
                Ok(host_addr) => {
                    allowed.get_or_insert(host_addr);
                }
                Err(why) => {
                    denied.get_or_insert(why);
                }
            }
        }
        // An https name is verified against its certificate, so the connection must be made
        // by name (resolved again): only allow it when every address it resolves to passes.
        let pinned = !(https && matches!(host, Host::Name(_)));
        let Some(host_addr) = allowed.filter(|_| pinned || denied.is_none()) else {
            return Err(Error::DestinationIpProhibited);
        };
        if pinned {
            let mut parts = req.uri().clone().into_parts();
            parts.authority = Some(
                Authority::try_from(host_addr.to_string())
                    .map_err(|_| Error::HttpRequestUriInvalid)?,
            );
            *req.uri_mut() =
                http::Uri::from_parts(parts).map_err(|_| Error::HttpRequestUriInvalid)?;
        }
        let (resp, io) = wasmtime_wasi_http::default_send_request(req, options).await?;
        Ok((resp.map(BodyExt::boxed_unsync), Box::new(io)))
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
    fn egress(&self, container: &str, guest_addr: SocketAddr) -> Result<SocketAddr, String> {
        self.net
            .outgoing(container, guest_addr, Proto::Tcp)
            .map_err(|denial| denial.to_string())
    }
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
