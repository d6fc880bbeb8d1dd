//! The HTTP front end: AWS JSON 1.1 over one listener, SigV4-verified.
//!
//! - [`server::serve`] accepts connections and routes `X-Amz-Target: <prefix>.<Op>` to the
//!   [`Service`] with that prefix, after [`Auth`] has verified the signature;
//! - [`sigv4`] is the signature check, [`auth`] the configured access keys;
//! - [`logs_service::LogsService`] is the CloudWatch Logs API over the embedded log store
//!   (the ECS API is `control::EcsService`);
//! - [`input`] reads typed request members with errors that name the member.

pub mod auth;
pub mod input;
pub mod logs_service;
pub mod server;
pub mod service;
pub mod sigv4;

pub use auth::{Auth, AuthConfigError};
pub use logs_service::LogsService;
pub use server::{MAX_BODY_BYTES, serve};
pub use service::{ApiError, Principal, Service, ServiceFuture};
