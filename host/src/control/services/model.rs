//! A service as the store keeps it, and its ECS `Service` shape.

use super::super::arn::Arns;
use super::super::capacity::Item;
use super::super::error::{ControlError, Result};
use super::super::shape::{LAUNCH_TYPE, PLATFORM_VERSION};
use crate::state::ServiceRecord;
use crate::util::time::secs;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Events kept per service, newest first.
const MAX_EVENTS: usize = 100;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Breaker {
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeployConfig {
    pub maximum_percent: u32,
    pub minimum_healthy_percent: u32,
    pub deployment_circuit_breaker: Breaker,
}

impl Default for DeployConfig {
    fn default() -> Self {
        Self {
            maximum_percent: 200,
            minimum_healthy_percent: 100,
            deployment_circuit_breaker: Breaker::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    pub target_group_arn: Option<String>,
    pub container_name: Option<String>,
    pub container_port: Option<i64>,
}

/// Whose tags the tasks of a service get (`propagateTags`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PropagateTags {
    #[default]
    None,
    Service,
    TaskDefinition,
}

impl PropagateTags {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Service => "SERVICE",
            Self::TaskDefinition => "TASK_DEFINITION",
        }
    }
}

/// A service's lifecycle (`status`); the store's record keeps the same text.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceStatus {
    Active,
    /// Deleted; its tasks are being stopped.
    Draining,
    Inactive,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Draining => "DRAINING",
            Self::Inactive => "INACTIVE",
        }
    }
}

/// A deployment's `status`: the PRIMARY one is the one the service rolls toward.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    Primary,
    Active,
    Inactive,
}

/// A deployment's `rolloutState`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    InProgress,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub status: DeploymentStatus,
    /// `family:revision`.
    pub task_definition: String,
    pub desired_count: u32,
    pub running_count: u32,
    pub pending_count: u32,
    pub failed_tasks: u32,
    pub rollout_state: RolloutState,
    pub rollout_state_reason: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Deployment {
    pub fn new(id: String, task_definition: &str, desired: u32, now: i64) -> Self {
        Self {
            rollout_state_reason: format!("ECS deployment {id} in progress."),
            id,
            status: DeploymentStatus::Primary,
            task_definition: task_definition.to_owned(),
            desired_count: desired,
            running_count: 0,
            pending_count: 0,
            failed_tasks: 0,
            rollout_state: RolloutState::InProgress,
            created_at_ms: now,
            updated_at_ms: now,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    pub created_at_ms: i64,
    pub message: String,
}

/// Everything the control plane knows of one service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    pub service_name: String,
    pub cluster: String,
    pub status: ServiceStatus,
    pub desired_count: u32,
    /// `family:revision` of the PRIMARY deployment.
    pub task_definition: String,
    pub created_at_ms: i64,
    pub deployment_configuration: DeployConfig,
    pub network_configuration: Option<Value>,
    pub load_balancers: Vec<LoadBalancer>,
    pub health_check_grace_period_seconds: Option<i64>,
    /// PRIMARY first.
    pub deployments: Vec<Deployment>,
    /// Newest first.
    pub events: Vec<Event>,
    /// The task definition of the last deployment that COMPLETED (what a rollback returns to).
    pub last_good: Option<String>,
    /// Whether "has reached a steady state" was said since the last change.
    pub steady: bool,
    /// Services stored before these existed read as NONE and false.
    #[serde(default)]
    pub propagate_tags: PropagateTags,
    /// Tasks get `aws:ecs:clusterName` and `aws:ecs:serviceName`.
    #[serde(default, rename = "enableECSManagedTags")]
    pub enable_ecs_managed_tags: bool,
    /// Given instead of a launch type: the service and its deployments show it (and no
    /// `launchType`), each task its `capacityProviderName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_strategy: Option<Vec<Item>>,
}

/// A new deployment id: `ecs-svc/` and 19 digits.
pub fn deployment_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut n = 0u64;
    for b in &bytes[..8] {
        n = (n << 8) | u64::from(*b);
    }
    format!(
        "ecs-svc/{}",
        1_000_000_000_000_000_000 + n % 8_000_000_000_000_000_000
    )
}

pub fn event(message: String, now: i64) -> Event {
    Event {
        id: uuid::Uuid::new_v4().to_string(),
        created_at_ms: now,
        message,
    }
}

impl ServiceState {
    pub fn from_record(record: &ServiceRecord) -> Result<Self> {
        serde_json::from_value(record.service.clone()).map_err(|e| {
            ControlError::Internal(format!(
                "stored service {}/{} cannot be read: {e}",
                record.cluster, record.name
            ))
        })
    }

    pub fn to_record(&self) -> Result<ServiceRecord> {
        Ok(ServiceRecord {
            cluster: self.cluster.clone(),
            name: self.service_name.clone(),
            status: self.status.as_str().to_owned(),
            created_at_ms: self.created_at_ms,
            service: serde_json::to_value(self)
                .map_err(|e| ControlError::Internal(format!("cannot encode a service: {e}")))?,
        })
    }

    /// Adds an event (newest first).
    pub fn say(&mut self, message: String, now: i64) {
        tracing::info!("{message}");
        self.events.insert(0, event(message, now));
        self.events.truncate(MAX_EVENTS);
    }

    /// A change worth a new "steady state" event once it settles.
    pub fn updated(&mut self, _now: i64) {
        self.steady = false;
    }

    /// Makes a new PRIMARY deployment of `task_definition`; the others become ACTIVE.
    pub fn start_deployment(&mut self, task_definition: &str, now: i64) -> String {
        for d in &mut self.deployments {
            d.status = DeploymentStatus::Active;
            d.updated_at_ms = now;
        }
        let id = deployment_id();
        self.deployments.insert(
            0,
            Deployment::new(id.clone(), task_definition, self.desired_count, now),
        );
        self.task_definition = task_definition.to_owned();
        self.steady = false;
        id
    }

    pub fn running_count(&self) -> u32 {
        self.deployments.iter().map(|d| d.running_count).sum()
    }

    pub fn pending_count(&self) -> u32 {
        self.deployments.iter().map(|d| d.pending_count).sum()
    }

    /// FARGATE, or none when the service places its tasks by capacity provider (ECS).
    fn launch_type(&self) -> Option<&'static str> {
        self.capacity_provider_strategy
            .is_none()
            .then_some(LAUNCH_TYPE)
    }

    fn td_arn(arns: &Arns, td: &str) -> String {
        match td.rsplit_once(':') {
            Some((family, rev)) => rev
                .parse()
                .map(|r| arns.task_definition(family, r))
                .unwrap_or_else(|_| td.to_owned()),
            None => td.to_owned(),
        }
    }

    /// The ECS `Service` shape.
    pub fn to_json(&self, arns: &Arns) -> Value {
        let network_configuration = self.network_configuration.as_ref();
        let deployments = self
            .deployments
            .iter()
            .map(|d| DeploymentShape {
                id: &d.id,
                status: &d.status,
                task_definition: Self::td_arn(arns, &d.task_definition),
                desired_count: d.desired_count,
                running_count: d.running_count,
                pending_count: d.pending_count,
                failed_tasks: d.failed_tasks,
                rollout_state: &d.rollout_state,
                rollout_state_reason: &d.rollout_state_reason,
                created_at: secs(d.created_at_ms),
                updated_at: secs(d.updated_at_ms),
                launch_type: self.launch_type(),
                capacity_provider_strategy: self.capacity_provider_strategy.as_deref(),
                platform_version: PLATFORM_VERSION,
                network_configuration,
            })
            .collect();
        let events = self
            .events
            .iter()
            .map(|e| EventShape {
                id: &e.id,
                created_at: secs(e.created_at_ms),
                message: &e.message,
            })
            .collect();
        let shape = ServiceShape {
            service_arn: arns.service(&self.cluster, &self.service_name),
            service_name: &self.service_name,
            cluster_arn: arns.cluster(&self.cluster),
            status: &self.status,
            desired_count: self.desired_count,
            running_count: self.running_count(),
            pending_count: self.pending_count(),
            launch_type: self.launch_type(),
            capacity_provider_strategy: self.capacity_provider_strategy.as_deref(),
            platform_version: PLATFORM_VERSION,
            task_definition: Self::td_arn(arns, &self.task_definition),
            deployment_configuration: &self.deployment_configuration,
            network_configuration,
            load_balancers: &self.load_balancers,
            service_registries: &[],
            deployments,
            events,
            created_at: secs(self.created_at_ms),
            placement_constraints: &[],
            placement_strategy: &[],
            scheduling_strategy: "REPLICA",
            health_check_grace_period_seconds: self.health_check_grace_period_seconds,
            enable_ecs_managed_tags: self.enable_ecs_managed_tags,
            propagate_tags: self.propagate_tags.as_str(),
            enable_execute_command: false,
        };
        // Plain structs with string keys: serializing into a `Value` cannot fail.
        serde_json::to_value(&shape).unwrap_or_else(|e| {
            tracing::error!("cannot shape service {}: {e}", self.service_name);
            Value::Null
        })
    }
}

/// ECS `Service`, as the control plane reports it (`tags` are added when asked for).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceShape<'a> {
    service_arn: String,
    service_name: &'a str,
    cluster_arn: String,
    status: &'a ServiceStatus,
    desired_count: u32,
    running_count: u32,
    pending_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    launch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_provider_strategy: Option<&'a [Item]>,
    platform_version: &'static str,
    task_definition: String,
    deployment_configuration: &'a DeployConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_configuration: Option<&'a Value>,
    load_balancers: &'a [LoadBalancer],
    service_registries: &'static [Value],
    deployments: Vec<DeploymentShape<'a>>,
    events: Vec<EventShape<'a>>,
    created_at: f64,
    placement_constraints: &'static [Value],
    placement_strategy: &'static [Value],
    scheduling_strategy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    health_check_grace_period_seconds: Option<i64>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: bool,
    propagate_tags: &'static str,
    enable_execute_command: bool,
}

/// ECS `Deployment`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentShape<'a> {
    id: &'a str,
    status: &'a DeploymentStatus,
    task_definition: String,
    desired_count: u32,
    running_count: u32,
    pending_count: u32,
    failed_tasks: u32,
    rollout_state: &'a RolloutState,
    rollout_state_reason: &'a str,
    created_at: f64,
    updated_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    launch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_provider_strategy: Option<&'a [Item]>,
    platform_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_configuration: Option<&'a Value>,
}

/// ECS `ServiceEvent`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventShape<'a> {
    id: &'a str,
    created_at: f64,
    message: &'a str,
}
