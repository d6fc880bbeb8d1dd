//! The HTTP front end: the transport only. One listener, SigV4-verified, every request
//! handed to a [`protocol::Router`](crate::protocol::Router) built from the services
//! `wasmgate serve` passes (ECS: `control::EcsService`; Logs: `logs::LogsService`).
//!
//! - [`server::serve`] accepts connections, authenticates the headers, reads the body
//!   within its budget, checks the signature and lets the router call the service;
//! - [`sigv4`] is the signature check, [`auth`] the configured access keys.

pub mod auth;
#[cfg(test)]
mod coverage;
pub mod server;
pub mod sigv4;

pub use auth::{Auth, AuthConfigError, auth_error_for};
pub use server::{MAX_BODY_BYTES, serve};
