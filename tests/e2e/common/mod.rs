//! Shared helpers for the end-to-end tests, by concern. Everything is re-exported here, so a
//! test module says `use crate::common::{Host, Server, …}`.
//!
//! - [`host`]: the `wasmgate` binary, guests, the repository, a private [`Host`] per test;
//! - [`live`]: a running `wasmgate` whose output lines are collected as they come;
//! - [`clients`]: `wasmgate serve` on an ephemeral port and the boto3/AWS CLI venv;
//! - [`sigv4`]: raw signed API requests with a signer that shares no code with the host;
//! - [`http`]: a small HTTP/1.1 client for task ports;
//! - [`registry`]: Debian's `docker-registry` and a scriptable fake registry.

pub mod clients;
pub mod host;
pub mod http;
pub mod live;
pub mod registry;
pub mod sigv4;

pub use clients::*;
pub use host::*;
pub use http::*;
pub use live::*;
pub use sigv4::*;
