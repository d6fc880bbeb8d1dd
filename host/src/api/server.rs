//! The HTTP/1.1 listener: AWS JSON 1.1 requests (`POST /`) routed by `X-Amz-Target` to the
//! [`Service`] with that prefix, after SigV4 verification.
//!
//! What a request goes through, in order (each step answers with the AWS error shape):
//! 1. Path `/` and method `POST` (404 / 405 otherwise).
//! 2. SigV4 headers: `Authorization` form, access key, credential scope (the signing name
//!    of the target's service, the host's region), `X-Amz-Date` within 15 minutes, the
//!    signed headers present. Nothing of the body has been read so far: a request that
//!    fails here is answered at once and its connection closed, so a client without a
//!    key cannot make the host buffer anything.
//! 3. The body is read within the body timeout, at most [`MAX_BODY_BYTES`] of it kept,
//!    against a budget of body bytes in flight over all connections; past the limit the
//!    rest is read and thrown away (up to [`MAX_DRAIN_BYTES`]) so the error reaches the
//!    client before the connection closes.
//! 4. Body size, then the signature over the body.
//! 5. `X-Amz-Target` names a known service and an operation; `Content-Type`; the body is a
//!    JSON object.
//! 6. The service runs the operation. A panic in it is caught and answered 500
//!    `ServerException`; the server keeps serving.
//!
//! Connections are capped and stalled ones closed (`lb::conns`, [`ServeLimits`]).
//!
//! Every response carries `x-amzn-RequestId` and `Content-Type: application/x-amz-json-1.1`;
//! errors also `x-amzn-ErrorType` and the body `{"__type": code, "message": msg}`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::Auth;
use super::service::{ApiError, Service};
use super::sigv4::RequestHead;
use crate::config::ApiConfig;
use crate::lb::conns::{ConnLimits, Conns};

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

/// The content type of every response.
pub const JSON_1_1: &str = "application/x-amz-json-1.1";
const JSON_1_0: &str = "application/x-amz-json-1.0";

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
    services: Vec<Arc<dyn Service>>,
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
/// Fails only if two services share a target prefix.
pub async fn serve_with<F>(
    listener: TcpListener,
    services: Vec<Arc<dyn Service>>,
    auth: Auth,
    limits: ServeLimits,
    shutdown: F,
) -> io::Result<()>
where
    F: Future,
{
    let router = Arc::new(Router::new(services, auth, limits)?);
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
                let router = router.clone();
                let tracker = conn.tracker();
                let svc = service_fn(move |req| {
                    let router = router.clone();
                    let guard = tracker.request();
                    async move {
                        let resp = router.handle(req).await;
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

/// The services by target prefix, the key store, and the budget of body bytes.
struct Router {
    services: HashMap<&'static str, Arc<dyn Service>>,
    auth: Auth,
    body_timeout: Duration,
    /// One permit per body byte buffered (or reserved for a body being read).
    body_budget: Arc<Semaphore>,
}

/// What the pipeline produced, before it becomes an HTTP response.
struct Outcome {
    result: Result<Value, ApiError>,
    /// Close the connection after answering (the body was not read to its end).
    close: bool,
}

impl From<Result<Value, ApiError>> for Outcome {
    fn from(result: Result<Value, ApiError>) -> Self {
        Self {
            result,
            close: false,
        }
    }
}

impl From<ApiError> for Outcome {
    fn from(e: ApiError) -> Self {
        Err(e).into()
    }
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

impl Router {
    fn new(services: Vec<Arc<dyn Service>>, auth: Auth, limits: ServeLimits) -> io::Result<Self> {
        let mut map: HashMap<&'static str, Arc<dyn Service>> = HashMap::new();
        for s in services {
            let prefix = s.target_prefix();
            if map.insert(prefix, s).is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("two API services use the target prefix {prefix:?}"),
                ));
            }
        }
        Ok(Self {
            services: map,
            auth,
            body_timeout: limits.body_read_timeout,
            body_budget: Arc::new(Semaphore::new(
                limits.max_body_in_flight.min(Semaphore::MAX_PERMITS),
            )),
        })
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let outcome = match AssertUnwindSafe(self.dispatch(req)).catch_unwind().await {
            Ok(o) => o,
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                tracing::error!(%request_id, %target, "api: request handler panicked: {what}");
                ApiError::server("The server encountered an internal error.").into()
            }
        };
        let response = respond(&request_id, outcome);
        let status = response.status().as_u16();
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if status >= 500 {
            tracing::warn!(%request_id, %target, status, ms, "api request failed");
        } else {
            tracing::debug!(%request_id, %target, status, ms, "api request");
        }
        response
    }

    async fn dispatch(&self, req: Request<Incoming>) -> Outcome {
        let (parts, body) = req.into_parts();
        self.route(&parts, body).await
    }

    async fn route(&self, parts: &http::request::Parts, body: Incoming) -> Outcome {
        // Refused before its body is read: close the connection (the body is still coming,
        // or never will), unless there is none.
        let unread = !body.is_end_stream();
        let refuse = |e: ApiError| Outcome {
            result: Err(e),
            close: unread,
        };
        if parts.uri.path() != "/" {
            return refuse(ApiError {
                code: "UnknownOperationException".into(),
                message: format!(
                    "No resource at {}: this API answers POST / only (AWS JSON 1.1)",
                    parts.uri.path()
                ),
                status: 404,
            });
        }
        if parts.method != Method::POST {
            return refuse(ApiError {
                code: "UnknownOperationException".into(),
                message: format!(
                    "Method {} is not allowed: this API answers POST / only (AWS JSON 1.1)",
                    parts.method
                ),
                status: 405,
            });
        }
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok());
        let route = target.and_then(|t| {
            let (prefix, op) = t.split_once('.')?;
            Some((self.services.get(prefix)?, op))
        });

        let pending = match self
            .auth
            .begin(&parts.headers, route.map(|(s, _)| s.signing_name()))
        {
            Ok(p) => p,
            Err(e) => return refuse(e),
        };
        // The headers authenticate as far as they can without the body: read it.
        let (body, _budget) = self.read_body(body, &parts.headers).await;
        let close = !matches!(
            body,
            ReadBody::Complete(_) | ReadBody::TooLarge { drained: true }
        );
        let mut outcome = self
            .authenticated(parts, target, route, pending, body)
            .await;
        outcome.close |= close;
        outcome
    }

    async fn authenticated(
        &self,
        parts: &http::request::Parts,
        target: Option<&str>,
        route: Option<(&Arc<dyn Service>, &str)>,
        pending: super::auth::PendingAuth<'_>,
        body: ReadBody,
    ) -> Outcome {
        let bytes = match body {
            ReadBody::Complete(b) => b,
            ReadBody::TooLarge { .. } => {
                return ApiError::new(
                    "RequestEntityTooLargeException",
                    format!(
                        "The request body is larger than this host's limit of {MAX_BODY_BYTES} \
                         bytes (1 MiB)."
                    ),
                )
                .into();
            }
            ReadBody::Failed(why) => return ApiError::new("SerializationException", why).into(),
            ReadBody::Throttled => {
                return ApiError::new(
                    "ThrottlingException",
                    format!(
                        "Rate exceeded: too many request bodies are being received at once \
                         (api.max_body_in_flight_mib); none could be accepted within {}s. \
                         Retry later.",
                        self.body_timeout.as_secs()
                    ),
                )
                .into();
            }
        };
        let principal = match pending.finish(RequestHead::from(parts), &bytes) {
            Ok(p) => p,
            Err(e) => return e.into(),
        };

        let Some((service, op)) = route.filter(|(_, op)| !op.is_empty()) else {
            return unknown_operation(target).into();
        };
        if let Err(e) = check_content_type(&parts.headers) {
            return e.into();
        }
        let input = match parse_body(&bytes) {
            Ok(v) => v,
            Err(e) => return e.into(),
        };
        let call = async { service.call(&principal, op, input).await };
        match AssertUnwindSafe(call).catch_unwind().await {
            Ok(result) => result.into(),
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                tracing::error!(
                    target = target.unwrap_or("-"),
                    "api: service panicked in {op}: {what}"
                );
                ApiError::server(
                    "The server encountered an internal error while processing the request.",
                )
                .into()
            }
        }
    }
}

fn unknown_operation(target: Option<&str>) -> ApiError {
    let message = match target {
        None => "Missing X-Amz-Target header: expected <service prefix>.<Operation>".to_owned(),
        Some(t) => format!("Unknown operation or service: X-Amz-Target {t:?}"),
    };
    ApiError::new("UnknownOperationException", message)
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = value.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case(JSON_1_1) || mime.eq_ignore_ascii_case(JSON_1_0) {
        return Ok(());
    }
    let got = if value.is_empty() {
        "none".to_owned()
    } else {
        format!("{value:?}")
    };
    Err(ApiError::new(
        "SerializationException",
        format!("Content-Type must be {JSON_1_1} (or {JSON_1_0}); got {got}"),
    ))
}

/// The body as a JSON object; an empty body counts as `{}`.
fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            "SerializationException",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        let kind = match &value {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(ApiError::new(
            "SerializationException",
            format!("The request body must be a JSON object, not {kind}"),
        ));
    }
    Ok(value)
}

impl Router {
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

fn respond(request_id: &str, outcome: Outcome) -> Response<Full<Bytes>> {
    let (status, body, error_code) = match outcome.result {
        Ok(value) => (StatusCode::OK, value, None),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"__type": e.code, "message": e.message});
            (status, body, Some(e.code))
        }
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_1_1));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(code) = error_code.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert("x-amzn-errortype", code);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        h.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if outcome.close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
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
