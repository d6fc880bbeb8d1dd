//! The task lifecycle as ECS names it, and the snapshot a task publishes as it moves.

use serde::{Deserialize, Serialize};
use std::time::SystemTime;

use crate::util::time::epoch_secs;

/// ECS task statuses, in order; a task only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Provisioning => "PROVISIONING",
            TaskStatus::Pending => "PENDING",
            TaskStatus::Activating => "ACTIVATING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Deactivating => "DEACTIVATING",
            TaskStatus::Stopping => "STOPPING",
            TaskStatus::Deprovisioning => "DEPROVISIONING",
            TaskStatus::Stopped => "STOPPED",
        }
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ECS container statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerStatus {
    Pending,
    Running,
    Stopped,
}

impl ContainerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::Pending => "PENDING",
            ContainerStatus::Running => "RUNNING",
            ContainerStatus::Stopped => "STOPPED",
        }
    }
}

/// ECS `stopCode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StopCode {
    TaskFailedToStart,
    EssentialContainerExited,
    UserInitiated,
    /// A service's scheduler stopped the task (scale-in, a deployment replacing it).
    ServiceSchedulerInitiated,
    /// The host itself ended the task (a limit the task broke, or the host shutting down).
    TerminationNotice,
}

impl StopCode {
    pub fn as_str(self) -> &'static str {
        match self {
            StopCode::TaskFailedToStart => "TaskFailedToStart",
            StopCode::EssentialContainerExited => "EssentialContainerExited",
            StopCode::UserInitiated => "UserInitiated",
            StopCode::ServiceSchedulerInitiated => "ServiceSchedulerInitiated",
            StopCode::TerminationNotice => "TerminationNotice",
        }
    }
}

/// What ECS reports per container, plus wasmgate's meters.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSnapshot {
    pub name: String,
    pub image: String,
    pub image_digest: Option<String>,
    pub essential: bool,
    pub last_status: ContainerStatus,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub cpu_units: u32,
    pub memory_limit_mib: Option<u64>,
    /// Fuel consumed (None when fuel metering is off).
    pub fuel_consumed: Option<u64>,
    pub cpu_time_ms: u64,
    /// Wall time the container was parked for having used its CPU share.
    pub cpu_throttled_ms: u64,
    pub memory_peak_bytes: u64,
    /// ECS `healthStatus`; None when the container has no `healthCheck`.
    pub health_status: Option<super::HealthStatus>,
}

/// The whole task's state: what DescribeTasks and `wasmgate run` show.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSnapshot {
    pub task_id: String,
    pub family: String,
    pub last_status: TaskStatus,
    pub desired_status: TaskStatus,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    pub cpu: u32,
    pub memory: u64,
    #[serde(serialize_with = "epoch_seconds")]
    pub created_at: SystemTime,
    #[serde(serialize_with = "opt_epoch_seconds")]
    pub started_at: Option<SystemTime>,
    #[serde(serialize_with = "opt_epoch_seconds")]
    pub stopping_at: Option<SystemTime>,
    #[serde(serialize_with = "opt_epoch_seconds")]
    pub stopped_at: Option<SystemTime>,
    /// When the task began and finished getting its images (pulls, verification, compiles).
    #[serde(serialize_with = "opt_epoch_seconds")]
    pub pull_started_at: Option<SystemTime>,
    #[serde(serialize_with = "opt_epoch_seconds")]
    pub pull_stopped_at: Option<SystemTime>,
    pub containers: Vec<ContainerSnapshot>,
    /// Index of the essential container whose exit ended the task.
    pub ended_by: Option<usize>,
    /// Lines of output (and their message bytes) dropped for being over the task's log
    /// budget (`[logs] task_budget_mib`); set when the task stops.
    pub log_lines_dropped: u64,
    pub log_bytes_dropped: u64,
    /// The task's loopback address (ECS: the ENI's `privateIPv4Address`), once provisioned;
    /// kept after STOPPED as ECS does, though by then it may belong to another task.
    pub private_ipv4_address: Option<String>,
    /// UNHEALTHY if an essential container is, HEALTHY once every essential container
    /// with a health check is, else UNKNOWN.
    pub health_status: super::HealthStatus,
}

/// A change a watcher can see, in order.
#[derive(Debug, Clone)]
pub enum TaskEvent {
    Task {
        status: TaskStatus,
    },
    Container {
        name: String,
        status: ContainerStatus,
        exit_code: Option<i32>,
        reason: Option<String>,
    },
    /// A host-side message about the task (compiling, a denied limit, …).
    Notice(String),
    /// Bytes of a container's image fetched so far (a progress bar's feed).
    PullProgress {
        container: String,
        done: u64,
        total: u64,
    },
    /// A container's component is taking more than a moment to load: it is being compiled.
    /// A `Notice` saying how long it took follows when it is done.
    Compiling {
        container: String,
    },
}

/// Times print as ECS prints them: epoch seconds with a millisecond fraction.
fn epoch_seconds<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(epoch_secs(*t))
}

fn opt_epoch_seconds<S: serde::Serializer>(
    t: &Option<SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_f64(epoch_secs(*t)),
        None => s.serialize_none(),
    }
}
