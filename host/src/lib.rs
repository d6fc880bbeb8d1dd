//! wasmgate: Fargate for WebAssembly.
//!
//! Modules, in the direction of their dependencies (see ARCHITECTURE.md):
//! `cli` → `runtime` → `taskdef`, `logs`, `config`.

pub mod config;
pub mod logs;
pub mod runtime;
pub mod taskdef;
