//! The end-to-end tests: one binary, a module per area (as wasmtime's `tests/all`). Each
//! drives the real `wasmgate` binary and real clients (boto3, the AWS CLI, curl-like HTTP,
//! Debian's docker-registry); the helpers are in [`common`], by concern.
//!
//! Run one area with `cargo test --test e2e -- hostile::` (or any test-name filter).

// Test scaffolding: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod common;

mod api_clients;
mod api_protocol;
mod api_state;
mod authz;
mod capacity;
mod cloudwatch;
mod cloudwatch_host;
mod example;
mod first_hour;
mod hostile;
mod http;
mod iam;
mod js_sdk;
mod lb;
mod lifecycle;
mod limits;
mod logs;
mod metadata;
mod network;
mod network_policy;
mod prometheus;
mod protocols;
mod readme;
mod registry;
mod secrets;
mod services;
mod signals;
mod storage;
mod task_role;
mod taskdefs;
mod usage;
