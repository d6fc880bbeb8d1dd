//! Listeners: a hyper server per listener (HTTP/1.1 and h2c) forwarding to a target group.
//!
//! Nothing here collects a body: requests and responses stream through with hyper's
//! backpressure, and a health check reads at most [`HEALTH_BODY_MAX`] bytes of its answer.

use super::TargetGroup;
use super::conns::{ConnLimits, Conns};
use super::pool::Pool;
use crate::util::inproc::{self, LocalBody, body_error};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Bodies both ways: the listener's requests, the targets' answers (over TCP or in-process).
pub(super) type ProxyBody = LocalBody;

/// How long connections get to finish their requests once the load balancer stops.
const GRACE: Duration = Duration::from_secs(5);
/// A health check reads at most this much of the target's body (the status decides; the
/// rest is only read so the connection can be reused).
pub(super) const HEALTH_BODY_MAX: usize = 4 * 1024;
/// HTTP/1 read buffer per connection, either side (it also bounds a request's or a
/// response's headers).
pub(super) const MAX_BUF: usize = 64 * 1024;
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
                    .boxed_unsync()
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
    // Targets get the origin form (`/path?query`), as from an HTTP/1.1 client.
    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        let origin = parts
            .uri
            .path_and_query()
            .map_or_else(|| http::uri::PathAndQuery::from_static("/"), Clone::clone);
        parts.uri = Uri::from(origin);
    }
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
        // The last attempt takes the request's parts; one that may be retried copies them.
        let out_body = match body.take() {
            Some(b) if !retriable => b.map_err(body_error).boxed_unsync(),
            _ => empty(),
        };
        let mut out = Request::new(out_body);
        *out.method_mut() = parts.method.clone();
        if retriable && excluded.is_none() {
            *out.uri_mut() = parts.uri.clone();
            *out.headers_mut() = parts.headers.clone();
        } else {
            *out.uri_mut() = std::mem::take(&mut parts.uri);
            *out.headers_mut() = std::mem::take(&mut parts.headers);
        }
        // An HTTP/1.0 client may send none; the target needs one.
        if !out.headers().contains_key(header::HOST)
            && let Ok(v) = HeaderValue::from_str(&target.addr.to_string())
        {
            out.headers_mut().insert(header::HOST, v);
        }
        let sent = tokio::time::Instant::now();
        let answer = match group
            .in_process
            .then(|| inproc::server(target.addr))
            .flatten()
        {
            // An HTTP container of this host: handed over in-process, no socket.
            Some(local) => local
                .serve(out)
                .await
                .ok_or_else(|| "the target is stopping (it takes no new request)".to_owned()),
            None => target.pool.request(out).await,
        };
        match answer {
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
                    .boxed_unsync();
                return (Response::from_parts(rparts, rbody), Some(took));
            }
            // No response came: the connection could not be made, a pooled one was
            // closed by the target under us, or the in-process target is stopping. Safe to
            // send again only when idempotent.
            Err(e) if retriable && excluded.is_none() => {
                tracing::warn!(target_group = group.name(), target = %target.addr,
                    "no response from target, retrying elsewhere: {e}");
                excluded = Some(target.addr);
            }
            Err(e) => {
                tracing::warn!(target_group = group.name(), target = %target.addr,
                    "target request failed: {e}");
                let resp = text(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "bad gateway: target {} of target group {}: {e}\n",
                        target.addr,
                        group.name(),
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
pub(super) async fn health_get(pool: &Arc<Pool>, path: &str) -> Option<u16> {
    let req = Request::get(path)
        .header(header::USER_AGENT, "ELB-HealthChecker/2.0")
        .body(empty())
        .ok()?;
    let resp = pool.request(req).await.ok()?;
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
    Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync()
}

fn text(status: StatusCode, body: String) -> Response<ProxyBody> {
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::super::{LoadBalancer, TargetHealth};
    use super::*;
    use crate::util::inproc::{LocalAnswer, LocalServer};
    use std::time::Instant;

    /// An in-process server that answers `local host=… xff=…`, or refuses (stopping).
    struct Fake {
        stopping: bool,
    }

    impl LocalServer for Fake {
        fn serve(&self, req: Request<ProxyBody>) -> LocalAnswer {
            let h = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_owned()
            };
            let answer = format!(
                "local {} host={} xff={}",
                req.uri(),
                h("host"),
                h("x-forwarded-for")
            );
            let stopping = self.stopping;
            Box::pin(async move { (!stopping).then(|| text(StatusCode::OK, answer)) })
        }
    }

    /// A TCP target on 127.0.0.1 answering `tcp` (and its health checks).
    async fn tcp_target() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    service_fn(|_req| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"tcp"))))
                    }),
                ));
            }
        });
        addr
    }

    async fn lb_with(target: SocketAddr, in_process: bool) -> (LoadBalancer, SocketAddr) {
        let cfg: crate::config::LbConfig = toml::from_str(&format!(
            "in_process = {in_process}\n[[target_groups]]\nname = \"web\"\n\
             health_check = {{ interval_seconds = 1, timeout_seconds = 1, healthy_threshold = 1 }}\n\
             [[listeners]]\nport = 0\ntarget_group = \"web\"\n"
        ))
        .expect("config");
        let lb = LoadBalancer::from_config(&cfg, "r", "1").expect("lb");
        lb.start().await.expect("start");
        lb.register_target("web", target).expect("register");
        let deadline = Instant::now() + Duration::from_secs(20);
        while lb.target_health("web") != vec![(target, TargetHealth::Healthy)] {
            assert!(Instant::now() < deadline, "{:?}", lb.target_health("web"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let listener = lb.listener_addrs()[0];
        (lb, listener)
    }

    async fn get(listener: SocketAddr, path: &str) -> (u16, String) {
        let stream = tokio::net::TcpStream::connect(listener)
            .await
            .expect("connect");
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let req = Request::get(path)
            .header(header::HOST, "lb.example")
            .body(Empty::<Bytes>::new())
            .expect("request");
        let resp = send.send_request(req).await.expect("response");
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_target_served_in_process_gets_the_request_without_a_socket() {
        let target = tcp_target().await;
        let _local = inproc::serve(target, Arc::new(Fake { stopping: false }));
        let (lb, listener) = lb_with(target, true).await;
        let (status, body) = get(listener, "/a?b=1").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, "local /a?b=1 host=lb.example xff=127.0.0.1");
        let totals = lb.readings()[0].totals;
        assert_eq!((totals.requests, totals.target_2xx), (1, 1), "{totals:?}");
        lb.shutdown().await;

        // Switched off: the same target over TCP.
        let (lb, listener) = lb_with(target, false).await;
        assert_eq!(get(listener, "/a").await, (200, "tcp".to_owned()));
        lb.shutdown().await;
    }

    #[tokio::test]
    async fn an_in_process_target_that_is_stopping_is_a_502() {
        let target = tcp_target().await;
        let _local = inproc::serve(target, Arc::new(Fake { stopping: true }));
        let (lb, listener) = lb_with(target, true).await;
        let (status, body) = get(listener, "/").await;
        assert_eq!(status, 502, "{body}");
        // A GET is first retried elsewhere; there is no other target.
        assert!(body.contains("no response from target"), "{body}");
        lb.shutdown().await;
    }
}
