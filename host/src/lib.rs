//! wasmgate: Fargate for WebAssembly.
//!
//! Modules, in the direction of their dependencies (see ARCHITECTURE.md):
//! `cli` → `api` → `protocol` ← `control`, `logs`, `secrets`; `control` → `runtime` / `state` / `logs`
//! → `taskdef`, `config`; `secrets` → `state`. `protocol` (the AWS wire protocols and the service trait) sits
//! under both the transport (`api`) and the services.

pub mod api;
pub mod config;
pub mod control;
pub mod iam;
pub mod images;
pub mod lb;
pub mod logs;
pub mod metrics;
pub mod protocol;
pub mod runtime;
pub mod secrets;
pub mod state;
pub mod sts;
pub mod taskdef;
pub mod usage;
pub mod util;
