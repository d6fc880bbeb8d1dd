//! wasmgate: Fargate for WebAssembly.
//!
//! Modules, in the direction of their dependencies (see ARCHITECTURE.md):
//! `cli` → `api` → `control` → `runtime` / `state` / `logs` → `taskdef`, `config`.

pub mod api;
pub mod config;
pub mod control;
pub mod images;
pub mod lb;
pub mod logs;
pub mod runtime;
pub mod state;
pub mod taskdef;
