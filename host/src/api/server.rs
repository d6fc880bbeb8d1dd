//! The HTTP/1.1 listener: the transport in front of a [`protocol::Router`], which picks the
//! service, protocol and operation from the request head and answers in that protocol's
//! shape (today every service speaks AWS JSON 1.1: `POST /` with `X-Amz-Target`).
//!
//! What a request goes through, in order (each step answers with the protocol's error
//! shape, through [`Routed::reject`]):
//! 1. Routing: a path or method no service answers is refused at once (404 / 405, with
//!    `Allow`), before authentication.
//! 2. SigV4 headers: `Authorization` form, access key, credential scope (the signing name
//!    of the routed service, the host's region), `X-Amz-Date` within 15 minutes, the
//!    signed headers present. Nothing of the body has been read so far: a request that
//!    fails here is answered at once and its connection closed, so a client without a
//!    key cannot make the host buffer anything.
//! 3. The body is read within the body timeout, at most [`MAX_BODY_BYTES`] of it kept,
//!    against a budget of body bytes in flight over all connections; past the limit the
//!    rest is read and thrown away (up to [`MAX_DRAIN_BYTES`]) so the error reaches the
//!    client before the connection closes.
//! 4. Body size, then the signature over the body.
//! 5. [`Routed::call`]: the operation must exist; `Content-Type` and the body must fit the
//!    protocol; the service runs the operation. A panic in it is caught and answered 500
//!    `ServerException`; the server keeps serving.
//!
//! Connections are capped and stalled ones closed (`lb::conns`, [`ServeLimits`]).
//!
//! Every response carries `x-amzn-RequestId` and the protocol's `Content-Type`; JSON
//! errors also `x-amzn-ErrorType` and the body `{"__type": code, "message": msg}`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::{Auth, PendingAuth, auth_error_for};
use super::sigv4::{Presented, RequestHead};
use crate::config::ApiConfig;
use crate::lb::conns::{ConnLimits, Conns};
use crate::protocol::{ApiError, Peer, Routed, Router, RouterBuilder};

/// Largest request body accepted: 1 MiB. ECS itself caps RegisterTaskDefinition at about
/// 64 KiB and every other ECS and Logs request is smaller, except a full 1 MiB PutLogEvents
/// batch (whose JSON encoding is slightly larger: such batches must be split). Larger bodies
/// get 400 `RequestEntityTooLargeException` naming the limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Past the limit the rest of a body is read and discarded up to this many bytes in all,
/// so the client sees the error instead of a reset; beyond it the connection is closed.
pub const MAX_DRAIN_BYTES: u64 = 16 * 1024 * 1024;
/// Read buffer per connection (and so the largest request head): AWS JSON requests have
/// small headers; the body is read through it in pieces.
const MAX_BUF: usize = 64 * 1024;
/// On shutdown, in-flight requests get this long to finish before connections are dropped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What one client may hold of the server: connections, time, and body bytes (`[api]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Open connections; past it the quietest is closed for a new one (`lb::conns`).
    pub max_connections: usize,
    /// A request's headers must arrive within this time of the connection opening (or of
    /// the previous response).
    pub header_read_timeout: Duration,
    /// An authenticated request's body must arrive within this time.
    pub body_read_timeout: Duration,
    /// A connection over which nothing moved either way for this long is closed.
    pub idle_timeout: Duration,
    /// Request body bytes buffered at once over all connections.
    pub max_body_in_flight: usize,
}

/// An `[api]` limit that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("api.{field}: {value} is outside {range}")]
pub struct LimitsError {
    pub field: &'static str,
    pub value: u64,
    pub range: &'static str,
}

impl ServeLimits {
    /// The limits of `[api]`, checked.
    pub fn from_config(api: &ApiConfig) -> Result<Self, LimitsError> {
        let check = |field, value: u64, lo: u64, hi: u64, range| {
            if (lo..=hi).contains(&value) {
                Ok(value)
            } else {
                Err(LimitsError {
                    field,
                    value,
                    range,
                })
            }
        };
        let conns = u64::try_from(api.max_connections).unwrap_or(u64::MAX);
        let max_connections = check("max_connections", conns, 1, 65_536, "1..=65536")?;
        let secs = |field, v| check(field, v, 1, 3600, "1..=3600").map(Duration::from_secs);
        // At least one whole body must fit.
        let mib = check(
            "max_body_in_flight_mib",
            api.max_body_in_flight_mib,
            1,
            65_536,
            "1..=65536",
        )?;
        Ok(Self {
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            header_read_timeout: secs(
                "header_read_timeout_seconds",
                api.header_read_timeout_seconds,
            )?,
            body_read_timeout: secs("body_read_timeout_seconds", api.body_read_timeout_seconds)?,
            idle_timeout: secs("idle_timeout_seconds", api.idle_timeout_seconds)?,
            max_body_in_flight: usize::try_from(mib << 20).unwrap_or(usize::MAX),
        })
    }
}

impl Default for ServeLimits {
    fn default() -> Self {
        let api = ApiConfig::default();
        Self {
            max_connections: api.max_connections,
            header_read_timeout: Duration::from_secs(api.header_read_timeout_seconds),
            body_read_timeout: Duration::from_secs(api.body_read_timeout_seconds),
            idle_timeout: Duration::from_secs(api.idle_timeout_seconds),
            max_body_in_flight: usize::try_from(api.max_body_in_flight_mib << 20)
                .unwrap_or(usize::MAX),
        }
    }
}

/// [`serve_with`] under the default limits.
pub async fn serve<F>(
    listener: TcpListener,
    services: RouterBuilder,
    auth: Auth,
    shutdown: F,
) -> io::Result<()>
where
    F: Future,
{
    serve_with(listener, services, auth, ServeLimits::default(), shutdown).await
}

/// Serves AWS JSON requests on `listener` until `shutdown` completes, then stops accepting,
/// lets in-flight requests finish (closing idle keep-alive connections at once) and returns.
///
/// `services` is the list of services (`Router::builder().service(a).service(b)`); fails
/// only if they do not fit together (two share a target prefix, a route is malformed, …).
pub async fn serve_with<F>(
    listener: TcpListener,
    services: RouterBuilder,
    auth: Auth,
    limits: ServeLimits,
    shutdown: F,
) -> io::Result<()>
where
    F: Future,
{
    let front = Arc::new(Front::new(services, auth, limits)?);
    let graceful = GracefulShutdown::new();
    let conns = Conns::new(ConnLimits {
        max_connections: limits.max_connections,
        header_timeout: limits.header_read_timeout,
        idle_timeout: limits.idle_timeout,
    });
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors, a connection reset before accept, …:
                        // nothing to do for that one connection; keep serving the others.
                        tracing::warn!("api: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // At the cap with every connection busy: closed at once (dropped).
                let Some(conn) = conns.admit("api") else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let front = front.clone();
                let tracker = conn.tracker();
                let svc = service_fn(move |req| {
                    let front = front.clone();
                    let guard = tracker.request();
                    async move {
                        let resp = front.handle(req, peer).await;
                        Ok::<_, Infallible>(resp.map(|body| {
                            body.map_frame(move |f| {
                                let _ = &guard;
                                f
                            })
                            .boxed()
                        }))
                    }
                });
                let served = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .max_buf_size(MAX_BUF)
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(conn.io(stream)), svc);
                let served = graceful.watch(served);
                tokio::spawn(async move {
                    match conn.run(served).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!("api: connection from {peer}: {e}"),
                        Err(closed) => tracing::debug!("api: connection from {peer} {closed}"),
                    }
                });
            }
        }
    }
    drop(listener);
    let open = graceful.count();
    if open > 0 {
        tracing::info!("api: waiting for {open} connection(s) to finish");
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "api: requests still running after {}s; closing their connections",
            DRAIN_TIMEOUT.as_secs()
        );
    }
    Ok(())
}

/// The protocol router over the services, the key store, and the budget of body bytes.
struct Front {
    router: Router,
    auth: Auth,
    body_timeout: Duration,
    /// One permit per body byte buffered (or reserved for a body being read).
    body_budget: Arc<Semaphore>,
}

/// A request body as read.
enum ReadBody {
    Complete(Bytes),
    /// Over the limit; `drained` when the rest was read to its end.
    TooLarge {
        drained: bool,
    },
    /// The client stopped sending (or was too slow).
    Failed(String),
    /// The budget of body bytes in flight stayed exhausted for the whole body timeout.
    Throttled,
}

impl Front {
    fn new(services: RouterBuilder, auth: Auth, limits: ServeLimits) -> io::Result<Self> {
        let router = services
            .max_body_bytes(MAX_BODY_BYTES)
            .build()
            .map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("API services: {e}"))
            })?;
        Ok(Self {
            router,
            auth,
            body_timeout: limits.body_read_timeout,
            body_budget: Arc::new(Semaphore::new(
                limits.max_body_in_flight.min(Semaphore::MAX_PERMITS),
            )),
        })
    }

    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let (mut parts, body) = req.into_parts();
        // `aws:SourceIp` for the authorisation step. The API listener is plain HTTP.
        parts.extensions.insert(Peer {
            ip: peer.ip(),
            secure: false,
        });
        // The credential scope's service picks among services that share a protocol
        // without a header of their own (awsQuery, restJson1); unsigned requests have none.
        let scope = Presented::parse(&parts.headers).ok().map(|p| p.service);
        let routed = self.router.route(&parts, scope.as_deref());
        let operation = routed.describe();
        let served = AssertUnwindSafe(self.serve(&routed, &parts, body, &request_id));
        let (response, close) = match served.catch_unwind().await {
            Ok(r) => r,
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                tracing::error!(%request_id, %operation, "api: request handler panicked: {what}");
                let e = ApiError::server("The server encountered an internal error.");
                (routed.reject(&request_id, &e), false)
            }
        };
        let mut response = response.map(Full::new);
        if close {
            let h = response.headers_mut();
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let status = response.status().as_u16();
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if let Some(o) = self.router.observer() {
            o.observe(&operation, status, ms / 1e3);
        }
        if status >= 500 {
            tracing::warn!(%request_id, %operation, status, ms, "api request failed");
        } else {
            tracing::debug!(%request_id, %operation, status, ms, "api request");
        }
        response
    }

    /// The response, and whether to close the connection after it (the body was not read
    /// to its end).
    async fn serve(
        &self,
        routed: &Routed<'_>,
        parts: &http::request::Parts,
        body: Incoming,
        request_id: &str,
    ) -> (Response<Bytes>, bool) {
        // Refused before its body is read: close the connection (the body is still coming,
        // or never will), unless there is none.
        let unread = !body.is_end_stream();
        if let Some(e) = routed.misdirected() {
            return (routed.reject(request_id, e), unread);
        }
        let pending = match self.auth.begin(&parts.headers, routed.signing_name()) {
            Ok(p) => p,
            Err(e) => {
                let e = auth_error_for(routed.protocol(), e);
                return (routed.reject(request_id, &e), unread);
            }
        };
        // The headers authenticate as far as they can without the body: read it.
        let (body, _budget) = self.read_body(body, &parts.headers).await;
        let close = !matches!(
            body,
            ReadBody::Complete(_) | ReadBody::TooLarge { drained: true }
        );
        let response = self
            .authenticated(routed, parts, pending, body, request_id)
            .await;
        (response, close)
    }

    async fn authenticated(
        &self,
        routed: &Routed<'_>,
        parts: &http::request::Parts,
        pending: PendingAuth,
        body: ReadBody,
        request_id: &str,
    ) -> Response<Bytes> {
        let refused = match body {
            ReadBody::Complete(bytes) => match pending.finish(RequestHead::from(parts), &bytes) {
                Ok(principal) => {
                    return self.call(routed, parts, principal, bytes, request_id).await;
                }
                Err(e) => e,
            },
            ReadBody::TooLarge { .. } => ApiError::new(
                "RequestEntityTooLargeException",
                format!(
                    "The request body is larger than this host's limit of {MAX_BODY_BYTES} \
                     bytes (1 MiB)."
                ),
            ),
            ReadBody::Failed(why) => ApiError::serialization(why),
            ReadBody::Throttled => ApiError::new(
                "ThrottlingException",
                format!(
                    "Rate exceeded: too many request bodies are being received at once \
                     (api.max_body_in_flight_mib); none could be accepted within {}s. \
                     Retry later.",
                    self.body_timeout.as_secs()
                ),
            ),
        };
        routed.reject(request_id, &refused)
    }

    /// The routed call, a panic in it answered 500 `ServerException`.
    async fn call(
        &self,
        routed: &Routed<'_>,
        parts: &http::request::Parts,
        principal: crate::protocol::Principal,
        bytes: Bytes,
        request_id: &str,
    ) -> Response<Bytes> {
        let call = routed.call(principal, request_id, parts, bytes);
        match AssertUnwindSafe(call).catch_unwind().await {
            Ok(response) => response,
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                let operation = routed.describe();
                tracing::error!(%request_id, %operation, "api: service panicked: {what}");
                let e = ApiError::server(
                    "The server encountered an internal error while processing the request.",
                );
                routed.reject(request_id, &e)
            }
        }
    }
}

impl Front {
    /// Reads the body within the body timeout, keeping at most [`MAX_BODY_BYTES`], after
    /// reserving its size (the declared one, else the limit) from the budget of body bytes
    /// in flight; the reservation is returned with the body and held while it is in use.
    async fn read_body(
        &self,
        body: Incoming,
        headers: &HeaderMap,
    ) -> (ReadBody, Option<OwnedSemaphorePermit>) {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_DRAIN_BYTES) {
            // Not worth reading: answer and close.
            return (ReadBody::TooLarge { drained: false }, None);
        }
        let deadline = tokio::time::Instant::now() + self.body_timeout;
        let timed_out = || {
            ReadBody::Failed(format!(
                "The request body was not received within {}s",
                self.body_timeout.as_secs()
            ))
        };
        let max = MAX_BODY_BYTES as u64;
        if declared.is_some_and(|n| n > max) {
            // Known to be too large: read and discarded, nothing kept, nothing reserved.
            return match tokio::time::timeout_at(deadline, read_limited(body, 0)).await {
                Ok(r) => (r, None),
                Err(_) => (timed_out(), None),
            };
        }
        let reserve = u32::try_from(declared.unwrap_or(max).min(max)).unwrap_or(u32::MAX);
        let permit = if reserve == 0 {
            None
        } else {
            let budget = self.body_budget.clone();
            match tokio::time::timeout_at(deadline, budget.acquire_many_owned(reserve)).await {
                Ok(Ok(p)) => Some(p),
                // Timed out (or, never, closed): nothing was read.
                _ => return (ReadBody::Throttled, None),
            }
        };
        match tokio::time::timeout_at(deadline, read_limited(body, MAX_BODY_BYTES)).await {
            Ok(r) => (r, permit),
            Err(_) => (timed_out(), None),
        }
    }
}

/// Reads `body` to its end, keeping up to `keep` bytes; a longer body is read and
/// discarded (up to [`MAX_DRAIN_BYTES`] in all).
async fn read_limited(mut body: Incoming, keep: usize) -> ReadBody {
    let mut buf = BytesMut::new();
    let mut total: u64 = 0;
    let mut too_large = false;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return ReadBody::Failed(format!("The request body could not be read: {e}")),
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len() as u64);
        if too_large || buf.len() + data.len() > keep {
            too_large = true;
            buf = BytesMut::new();
            if total > MAX_DRAIN_BYTES {
                return ReadBody::TooLarge { drained: false };
            }
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if too_large {
        ReadBody::TooLarge { drained: true }
    } else {
        ReadBody::Complete(buf.freeze())
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_owned()
    }
}

#[cfg(test)]
mod tests;
