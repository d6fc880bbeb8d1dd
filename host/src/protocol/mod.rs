//! One AWS protocol layer for every service (issue 10).
//!
//! Both sides point down to this module: the HTTP front end (`api/`) hands it requests,
//! and each AWS service implements [`Service`] over typed inputs and outputs. Nothing here
//! knows about hyper, SigV4 or any one service.
//!
//! - [`Service`]: name, signing name, [`Protocol`]s (JSON target prefix, query version,
//!   rpc-v2 service name, REST [`Route`]s) and an operation table of [`op!`](crate::op)
//!   rows, each a `serde` input → `serde` output handler;
//! - [`value`]: the neutral [`Node`](value::Node) tree every codec decodes to and encodes
//!   from, with [`Timestamp`] and [`Blob`]; field-path errors (`serde_path_to_error`) and
//!   unknown-member reports (`serde_ignored`);
//! - codecs, one per protocol: [`json`] (awsJson1_0/1_1), [`query`] (awsQuery, XML out),
//!   [`rest_json`] (restJson1), [`cbor`] (smithy-rpc-v2-cbor);
//! - [`Router`]: request head → (service, protocol, operation); body → typed call →
//!   response, errors in each protocol's shape.
//!
//! # Wiring into `api/server.rs`
//!
//! Build the router once from the services (instead of the prefix map):
//!
//! ```ignore
//! let router = protocol::Router::builder()
//!     .service(ecs)            // Arc<impl protocol::Service>
//!     .service(logs)
//!     .max_body_bytes(MAX_BODY_BYTES)
//!     .build()?;               // RouterError: clashing prefixes, bad routes, …
//! ```
//!
//! and per request, in `Router::route` of `server.rs` (replacing the path/method/target
//! checks, `check_content_type`, `parse_body`, `respond`):
//!
//! ```ignore
//! let scope = sigv4::Presented::parse(&parts.headers).ok().map(|p| p.service);
//! let routed = router.route(&parts, scope.as_deref());
//! let pending = match auth.begin(&parts.headers, routed.signing_name()) {
//!     Ok(p) => p,
//!     Err(e) => return routed.reject(&request_id, &e),
//! };
//! let bytes = match body { ReadBody::Complete(b) => b, /* too large, failed: */
//!     _ => return routed.reject(&request_id, &ApiError::new("RequestEntityTooLargeException", …)) };
//! let principal = match pending.finish(RequestHead::from(&parts), &bytes) {
//!     Ok(p) => p,
//!     Err(e) => return routed.reject(&request_id, &e),
//! };
//! // Keep the catch_unwind around it; on a panic answer
//! // routed.reject(&request_id, &ApiError::server(…)).
//! let response: http::Response<Bytes> = routed.call(principal, &request_id, &parts, bytes).await;
//! response.map(Full::new) // then add `Connection: close` when the body was not drained
//! ```
//!
//! The response already carries `Content-Type`, `x-amzn-RequestId`, error headers and, for
//! a 405, `Allow`. `routed.describe()` (`ecs.ListClusters`) is for the log line.
//!
//! `api::service::{ApiError, Principal}` become re-exports of this module's (the struct
//! literals in `server.rs` and `sigv4.rs` need the new `sender_fault` field, or
//! [`ApiError::with_status`]). A JSON-`Value` service like today's ECS and Logs plugs in
//! without a rewrite: its operation table maps each name to one handler taking and
//! returning `serde_json::Value` that forwards `ctx.operation` to the old `call`.

mod authorize;
pub mod cbor;
mod context;
mod credentials;
mod encoding;
mod error;
pub mod json;
pub mod query;
mod reply;
pub mod rest_json;
mod router;
mod service;
pub mod value;

#[cfg(test)]
mod fuzz_tests;

pub use authorize::{AuthorizeRequest, Authorizer, Peer, Refusal};
pub use context::{Context, Principal, PrincipalKind, ProtocolKind};
pub use credentials::{Credential, CredentialSource};
pub use error::ApiError;
pub use router::{
    DEFAULT_MAX_BODY_BYTES, RequestObserver, Routed, Router, RouterBuilder, RouterError,
};
pub use service::{
    BoxFuture, Handler, Operation, Protocol, Request, Route, Service, ValueService, encode,
    forwarding,
};
pub use value::{Blob, Timestamp};
