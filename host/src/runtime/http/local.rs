//! The in-process entry of an HTTP container: while a port listens, `<task address>:<port>`
//! is registered in `util::inproc`, so the load balancer of this process hands requests to
//! the container without a loopback connection. The request takes the same path as one
//! from the network (`HttpService::try_handle`: admission, a fresh instance charged to the
//! container's CPU share, memory and fuel), with the same body read timeout.

use super::HttpService;
use super::instance::Failure;
use super::server::TimedBody;
use crate::util::inproc::{BodyError, LocalAnswer, LocalBody, LocalServer, body_error};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;

/// One container's in-process entry (registered per port).
pub(super) struct Local(pub(super) Arc<HttpService>);

impl LocalServer for Local {
    fn serve(&self, req: hyper::Request<LocalBody>) -> LocalAnswer {
        let svc = self.0.clone();
        let timeout = Duration::from_secs(svc.limits.body_read_timeout_seconds.max(1));
        Box::pin(async move {
            let req = req.map(|b| TimedBody::new(b.map_err(wasi_error), timeout));
            let resp = match svc.try_handle(req).await {
                Ok(resp) => resp,
                // Stopping: as if the connection was refused (the caller may go elsewhere).
                Err(Failure::Closed) => return None,
                Err(f) => f.response(),
            };
            Some(resp.map(|b| b.map_err(body_error).boxed_unsync()))
        })
    }
}

fn wasi_error(e: BodyError) -> wasmtime_wasi_http::Error {
    match e.0.downcast::<hyper::Error>() {
        Ok(h) => wasmtime_wasi_http::Error::Hyper(*h),
        Err(other) => wasmtime_wasi_http::Error::InternalError(Some(other.to_string())),
    }
}
