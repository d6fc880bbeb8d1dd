//! Listeners: a hyper server per listener (HTTP/1.1 and h2c) forwarding to a target group.
//!
//! Nothing here collects a body: requests and responses stream through with hyper's
//! backpressure, and a health check reads at most [`HEALTH_BODY_MAX`] bytes of its answer.

use super::TargetGroup;
use super::conns::{ConnLimits, Conns};
use super::served;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub(super) type ProxyBody = BoxBody<Bytes, hyper::Error>;
/// A pooled HTTP/1.1 client; each target has its own.
pub(super) type Client = legacy::Client<ServedOnly, ProxyBody>;

/// How long connections get to finish their requests once the load balancer stops.
const GRACE: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A health check reads at most this much of the target's body (the status decides; the
/// rest is only read so the connection can be reused).
pub(super) const HEALTH_BODY_MAX: usize = 4 * 1024;
/// HTTP/1 read buffer per connection, either side (it also bounds a request's or a
/// response's headers).
const MAX_BUF: usize = 64 * 1024;
/// h2c: streams at once per client connection (ALB allows 128) and header block size.
const MAX_H2_STREAMS: u32 = 128;
const MAX_H2_HEADER_LIST: u32 = 64 * 1024;

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// The connector of every target client: it connects only to an address a socket listens
/// on exactly (`served`), checked for each new connection, since the task may have
/// stopped serving the port since it was registered.
#[derive(Clone)]
pub(super) struct ServedOnly(HttpConnector);

/// A connection the load balancer refused to make.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NotServed(String);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Uri> for ServedOnly {
    type Response = <HttpConnector as tower_service::Service<Uri>>::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut inner = self.0.clone();
        Box::pin(async move {
            let addr = uri
                .authority()
                .and_then(|a| a.as_str().parse::<SocketAddr>().ok())
                .ok_or_else(|| NotServed(format!("target {uri} is not an address and port")))?;
            // A small read of /proc, but still a file read: off the async workers.
            tokio::task::spawn_blocking(move || served::check(addr))
                .await
                .map_err(|e| NotServed(format!("checking target {addr}: {e}")))?
                .map_err(NotServed)?;
            inner.call(uri).await.map_err(Into::into)
        })
    }
}

pub(super) fn client() -> Client {
    let mut conn = HttpConnector::new();
    conn.set_connect_timeout(Some(CONNECT_TIMEOUT));
    conn.set_nodelay(true);
    legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .http1_max_buf_size(MAX_BUF)
        .build(ServedOnly(conn))
}

/// Accepts connections until `stop`, then lets open ones finish (bounded by `GRACE`).
/// `limits` caps the open connections and closes stalled ones (`conns`).
pub(super) async fn serve(
    listener: TcpListener,
    local: SocketAddr,
    group: Arc<TargetGroup>,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let conns = Conns::new(limits);
    let what = format!("load balancer listener {local}");
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_header_list_size(MAX_H2_HEADER_LIST);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(%local, "load balancer accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        // At the cap with every connection busy: closed at once (dropped).
        let Some(conn) = conns.admit(&what) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let group = group.clone();
        let open = group.counters.connection();
        let tracker = conn.tracker();
        let svc = service_fn(move |req| {
            // In progress until its response body was sent.
            let guard = tracker.request();
            let answer = handle(group.clone(), local.port(), peer, req);
            async move {
                let resp = match answer.await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(resp.map(|body| {
                    body.map_frame(move |f| {
                        let _ = &guard;
                        f
                    })
                    .boxed()
                }))
            }
        });
        let served = builder
            .serve_connection(TokioIo::new(conn.io(stream)), svc)
            .into_owned();
        let served = graceful.watch(served);
        tokio::spawn(async move {
            let _open = open;
            match conn.run(served).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, "load balancer connection: {e}"),
                Err(closed) => tracing::debug!(%peer, "load balancer connection {closed}"),
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
}

/// One request through the group, counted for its metrics: every request, then either the
/// target's answer (class and time to its headers) or the load balancer's own.
async fn handle(
    group: Arc<TargetGroup>,
    listener_port: u16,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    group.counters.request();
    let (resp, by_target) = forward(&group, listener_port, peer, req).await;
    match by_target {
        Some(took) => group.counters.target_answered(resp.status().as_u16(), took),
        None => group.counters.elb_answered(resp.status().as_u16()),
    }
    Ok(resp)
}

/// The response, and how long the target took when a target gave it.
async fn forward(
    group: &Arc<TargetGroup>,
    listener_port: u16,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> (Response<ProxyBody>, Option<Duration>) {
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    add_forwarded(&mut parts.headers, peer, listener_port);
    // An h2 request carries its host in `:authority`; HTTP/1.1 targets want `Host`.
    if !parts.headers.contains_key(header::HOST)
        && let Some(v) = parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        parts.headers.insert(header::HOST, v);
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    // Only a request that can be sent again as it was may be retried: no body.
    let retriable = is_idempotent(&parts.method) && body.is_end_stream();
    let mut body = Some(body);
    let mut excluded = None;
    loop {
        let Some(in_flight) = group.pick(excluded) else {
            let resp = match excluded {
                Some(addr) => text(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "bad gateway: no response from target {addr} of target group {}, \
                         and no other target is available\n",
                        group.name()
                    ),
                ),
                None => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("no healthy targets in target group {}\n", group.name()),
                ),
            };
            return (resp, None);
        };
        let target = in_flight.target();
        let Ok(uri) = Uri::try_from(format!("http://{}{}", target.addr, path)) else {
            return (
                text(StatusCode::BAD_REQUEST, "bad request target\n".into()),
                None,
            );
        };
        let out_body = match body.take() {
            Some(b) if !retriable => b.boxed(),
            _ => empty(),
        };
        let mut out = Request::new(out_body);
        *out.method_mut() = parts.method.clone();
        *out.uri_mut() = uri;
        *out.headers_mut() = parts.headers.clone();
        let sent = tokio::time::Instant::now();
        match target.client.request(out).await {
            Ok(resp) => {
                let took = sent.elapsed();
                let (mut rparts, rbody) = resp.into_parts();
                strip_hop_by_hop(&mut rparts.headers);
                rparts.version = http::Version::default();
                // The request counts as in flight until its response body is sent.
                let rbody = rbody
                    .map_frame(move |f| {
                        let _ = &in_flight;
                        f
                    })
                    .boxed();
                return (Response::from_parts(rparts, rbody), Some(took));
            }
            // No response came: the connection could not be made, or a pooled one was
            // closed by the target under us. Safe to send again only when idempotent.
            Err(e) if retriable && excluded.is_none() => {
                tracing::warn!(target_group = group.name(), target = %target.addr,
                    "no response from target, retrying elsewhere: {}", chain(&e));
                excluded = Some(target.addr);
            }
            Err(e) => {
                tracing::warn!(target_group = group.name(), target = %target.addr,
                    "target request failed: {}", chain(&e));
                let resp = text(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "bad gateway: target {} of target group {}: {}\n",
                        target.addr,
                        group.name(),
                        chain(&e)
                    ),
                );
                return (resp, None);
            }
        }
    }
}

/// GET `path` on `addr`; the status, or `None` when no response came. Reads at most
/// [`HEALTH_BODY_MAX`] bytes of the body: a longer one (or one that never ends) is dropped
/// with its connection instead of being read.
pub(super) async fn health_get(client: &Client, addr: SocketAddr, path: &str) -> Option<u16> {
    let uri = Uri::try_from(format!("http://{addr}{path}")).ok()?;
    let req = Request::get(uri)
        .header(header::USER_AGENT, "ELB-HealthChecker/2.0")
        .body(empty())
        .ok()?;
    let resp = client.request(req).await.ok()?;
    let status = resp.status().as_u16();
    // Read a short body to its end so the connection can be reused.
    let mut body = resp.into_body();
    let mut read = 0usize;
    while read <= HEALTH_BODY_MAX {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            Some(Err(_)) | None => break,
        }
    }
    Some(status)
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
}

fn add_forwarded(h: &mut HeaderMap, peer: SocketAddr, port: u16) {
    let client_ip = peer.ip().to_string();
    let xff = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {client_ip}"),
        _ => client_ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        h.insert("x-forwarded-for", v);
    }
    h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    h.insert("x-forwarded-port", HeaderValue::from(port));
}

fn empty() -> ProxyBody {
    Empty::<Bytes>::new().map_err(|e| match e {}).boxed()
}

fn text(status: StatusCode, body: String) -> Response<ProxyBody> {
    let mut r = Response::new(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// An error with its causes: the legacy client's own message says little.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
