//! The HTTP/1.1 listener: AWS JSON 1.1 requests (`POST /`) routed by `X-Amz-Target` to the
//! [`Service`] with that prefix, after SigV4 verification.
//!
//! What a request goes through, in order (each step answers with the AWS error shape):
//! 1. The body is read, at most [`MAX_BODY_BYTES`] of it kept; anything beyond is read
//!    and thrown away (up to [`MAX_DRAIN_BYTES`]) so the error reaches the client before
//!    the connection closes.
//! 2. Path `/` and method `POST` (404 / 405 otherwise).
//! 3. SigV4 headers: `Authorization` form, access key, credential scope (the signing name
//!    of the target's service, the host's region), `X-Amz-Date` within 15 minutes.
//! 4. Body size, then the signature over the body.
//! 5. `X-Amz-Target` names a known service and an operation; `Content-Type`; the body is a
//!    JSON object.
//! 6. The service runs the operation. A panic in it is caught and answered 500
//!    `ServerException`; the server keeps serving.
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
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::auth::Auth;
use super::service::{ApiError, Service};
use super::sigv4::RequestHead;

/// Largest request body accepted: 1 MiB. ECS itself caps RegisterTaskDefinition at about
/// 64 KiB and every other ECS and Logs request is smaller, except a full 1 MiB PutLogEvents
/// batch (whose JSON encoding is slightly larger: such batches must be split). Larger bodies
/// get 400 `RequestEntityTooLargeException` naming the limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Past the limit the rest of a body is read and discarded up to this many bytes in all,
/// so the client sees the error instead of a reset; beyond it the connection is closed.
pub const MAX_DRAIN_BYTES: u64 = 16 * 1024 * 1024;
/// A client must send a request's headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// ... and its body within this time.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// On shutdown, in-flight requests get this long to finish before connections are dropped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The content type of every response.
pub const JSON_1_1: &str = "application/x-amz-json-1.1";
const JSON_1_0: &str = "application/x-amz-json-1.0";

/// Serves AWS JSON requests on `listener` until `shutdown` completes, then stops accepting,
/// lets in-flight requests finish (closing idle keep-alive connections at once) and returns.
///
/// Fails only if two services share a target prefix.
pub async fn serve<F>(
    listener: TcpListener,
    services: Vec<Arc<dyn Service>>,
    auth: Auth,
    shutdown: F,
) -> io::Result<()>
where
    F: Future,
{
    let router = Arc::new(Router::new(services, auth)?);
    let graceful = GracefulShutdown::new();
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
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let svc = service_fn(move |req| {
                    let router = router.clone();
                    async move { Ok::<_, Infallible>(router.handle(req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("api: connection from {peer}: {e}");
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

/// The services by target prefix, and the key store.
struct Router {
    services: HashMap<&'static str, Arc<dyn Service>>,
    auth: Auth,
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
}

impl Router {
    fn new(services: Vec<Arc<dyn Service>>, auth: Auth) -> io::Result<Self> {
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
        let body = read_body(body, &parts.headers).await;
        let close = !matches!(
            body,
            ReadBody::Complete(_) | ReadBody::TooLarge { drained: true }
        );
        let mut outcome = self.route(&parts, body).await;
        outcome.close |= close;
        outcome
    }

    async fn route(&self, parts: &http::request::Parts, body: ReadBody) -> Outcome {
        if parts.uri.path() != "/" {
            return ApiError {
                code: "UnknownOperationException".into(),
                message: format!(
                    "No resource at {}: this API answers POST / only (AWS JSON 1.1)",
                    parts.uri.path()
                ),
                status: 404,
            }
            .into();
        }
        if parts.method != Method::POST {
            return ApiError {
                code: "UnknownOperationException".into(),
                message: format!(
                    "Method {} is not allowed: this API answers POST / only (AWS JSON 1.1)",
                    parts.method
                ),
                status: 405,
            }
            .into();
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
            Err(e) => return e.into(),
        };
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

/// Reads the body, keeping at most [`MAX_BODY_BYTES`].
async fn read_body(body: Incoming, headers: &HeaderMap) -> ReadBody {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_DRAIN_BYTES) {
        // Not worth reading: answer and close.
        return ReadBody::TooLarge { drained: false };
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, read_limited(body)).await {
        Ok(r) => r,
        Err(_) => ReadBody::Failed(format!(
            "The request body was not received within {}s",
            BODY_READ_TIMEOUT.as_secs()
        )),
    }
}

async fn read_limited(mut body: Incoming) -> ReadBody {
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
        if too_large || buf.len() + data.len() > MAX_BODY_BYTES {
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
