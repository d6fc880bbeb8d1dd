//! What a container is started from ([`Launch`]), what it is watched by ([`Meters`]) and
//! how the task ends it ([`Kill`]). Shared by command containers and HTTP containers, so
//! neither path imports the other.

use super::artifacts::Prepared;
use super::cpu::{CpuMeter, CpuShare};
use super::fsquota::OpenFiles;
use super::net::TaskNetwork;
use super::stdio::GuestOutput;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::sync::watch;

/// A directory the container sees at `guest_path`.
#[derive(Debug, Clone)]
pub struct Mount {
    pub host_path: PathBuf,
    pub guest_path: String,
    pub read_only: bool,
}

/// Everything needed to start one container; built by the task from its definition.
pub struct Launch {
    pub prepared: Prepared,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    pub share: CpuShare,
    pub memory_limit_bytes: Option<u64>,
    pub fuel_budget: Option<u64>,
    /// Whether an HTTP component's instances serve several requests (its label).
    pub instance_reuse: super::http::InstanceReuse,
    pub stdout: GuestOutput,
    pub stderr: GuestOutput,
    /// The container's name (its stores' outgoing HTTP hooks say who is asking).
    pub name: Arc<str>,
    /// The task's HTTP side: where outgoing wasi:http requests go, where HTTP containers
    /// listen and register for their siblings.
    pub http: Arc<super::http::TaskHttp>,
    /// tcp `portMappings` containerPorts: where an HTTP component is served.
    pub ports: Vec<u16>,
    /// The task's network: its address, address map and socket rules.
    pub network: Arc<TaskNetwork>,
    /// `[limits] max_handles_per_instance`: the cap on each store's resource table.
    pub max_handles: usize,
    /// The container's cap on open files, shared by all its stores.
    pub open_files: Arc<OpenFiles>,
}

/// Live meters of a running container, readable from outside its store.
#[derive(Debug, Default)]
pub struct Meters {
    pub cpu: Arc<CpuMeter>,
    pub fuel: AtomicU64,
    pub memory_peak: AtomicU64,
    /// Linear memory its live instances hold now (the limiter keeps it current).
    pub memory_now: Arc<AtomicU64>,
    /// Stores built for it: 1 for a command, one per request for an HTTP component.
    pub instances: AtomicU64,
}

/// Why the host ends a container before it exits by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kill {
    /// Keep running.
    No,
    /// The task is stopping: finish what is in flight and exit. HTTP containers drain;
    /// commands have no way to hear it (WASI has no signals) and run on until `Now`.
    Stopping,
    /// Drop the instance now, with this reason.
    Now(String),
}

/// Resolves when the task kills the container (its stopTimeout ran out), with the reason.
pub(super) async fn killed(kill: &mut watch::Receiver<Kill>) -> String {
    loop {
        if let Kill::Now(reason) = &*kill.borrow_and_update() {
            return reason.clone();
        }
        if kill.changed().await.is_err() {
            // The task dropped its sender: it is gone, nothing will ever kill us.
            return std::future::pending().await;
        }
    }
}
