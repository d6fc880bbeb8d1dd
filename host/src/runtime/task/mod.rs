//! Drives one task through the ECS lifecycle: provision storage, load images, start containers
//! in `dependsOn` order, stop the task when an essential container exits or a stop is asked
//! for, give containers `stopTimeout` to finish, then ship the last logs and clean up.
//!
//! - `plan`: the per-container plan, and the runtime's rules on a definition (one place).
//! - `images`: resolve, pull and prepare every container's component.
//! - `lifecycle`: the task's states from PROVISIONING to STOPPED, and each container's launch.
//! - `supervise`: start containers as dependencies allow, react to exits, health and stops.

mod images;
mod lifecycle;
mod plan;
mod supervise;

pub use plan::{DEFAULT_STOP_TIMEOUT, FUEL_LABEL, runtime_rules};
pub(super) use plan::{Plan, plan_containers};

use super::Shared;
use super::exit::Exit;
use super::launch::{Kill, Meters};
use super::logship::Console;
use super::status::{StopCode, TaskEvent, TaskSnapshot};
use crate::taskdef::TaskDefinition;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

const MIB: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Phase {
    Waiting,
    Starting,
    Running,
    Exited(Exit),
    /// Never started: its dependencies can no longer be met, or the task stopped first.
    Skipped(String),
}

impl Phase {
    pub(super) fn is_done(&self) -> bool {
        matches!(self, Phase::Exited(_) | Phase::Skipped(_))
    }
}

pub(super) struct Driver {
    pub shared: Arc<Shared>,
    pub definition: TaskDefinition,
    pub base_dir: PathBuf,
    pub plans: Vec<Plan>,
    pub console: Option<Arc<dyn Console>>,
    /// The task's ECS identity, for its metadata endpoint.
    pub identity: super::endpoints::TaskIdentity,
    pub snapshot: watch::Sender<TaskSnapshot>,
    pub events: broadcast::Sender<TaskEvent>,
    /// The first stop request, once there is one.
    pub stop_rx: watch::Receiver<Option<(StopCode, String)>>,
    /// The task's share of the host, given back as it becomes STOPPED.
    pub reservation: super::capacity::Reservation,
}

/// One container's running state, separate from the driver's inputs.
pub(super) struct ContainerSlot {
    pub phase: Phase,
    /// How the task ends it, while it runs.
    pub kill: Option<watch::Sender<Kill>>,
    pub meters: Arc<Meters>,
}

impl Default for ContainerSlot {
    fn default() -> Self {
        Self {
            phase: Phase::Waiting,
            kill: None,
            meters: Arc::default(),
        }
    }
}
