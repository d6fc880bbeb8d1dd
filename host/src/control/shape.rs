//! The ECS `Task` shape, built from what the control plane knows about a task it started
//! (`TaskMeta`) and the runtime's latest snapshot of it.

use super::arn::Arns;
use crate::runtime::{StopCode, TaskSnapshot, TaskStatus};
use crate::state::TaskRecord;
use crate::util::time::{epoch_secs, secs, to_ms};
use serde::Serialize;
use serde_json::{Value, json};

/// ECS reports Fargate tasks on platform 1.4.0; wasmgate claims that behaviour.
pub const PLATFORM_VERSION: &str = "1.4.0";
pub const LAUNCH_TYPE: &str = "FARGATE";

/// `networkConfiguration.awsvpcConfiguration` as RunTask was given it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkConfig {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
}

/// What RunTask decided about a task; fixed for its whole life.
#[derive(Debug, Clone)]
pub struct TaskMeta {
    pub task_id: String,
    pub cluster: String,
    pub family: String,
    pub revision: u32,
    pub started_by: Option<String>,
    pub group: String,
    /// The service whose scheduler started the task (never from the request).
    pub service: Option<String>,
    /// The request's `overrides`, as ECS echoes them.
    pub overrides: Value,
    /// One id per container, in definition order (the last part of its ARN).
    pub container_ids: Vec<String>,
    pub ephemeral_storage_gib: u32,
    /// Kept for the `ElasticNetworkInterface` attachment (see [`attachments`]).
    pub network: Option<NetworkConfig>,
    /// `FARGATE` or `FARGATE_SPOT` when RunTask was given a capacity provider strategy.
    pub capacity_provider_name: Option<String>,
}

/// A stop the control plane asked for and the runtime may not have taken up yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRequest {
    pub code: StopCode,
    pub reason: String,
}

/// ECS `Task`, as the control plane reports it (`tags` are added when asked for).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskShape<'a> {
    task_arn: &'a str,
    cluster_arn: String,
    task_definition_arn: String,
    last_status: &'static str,
    desired_status: &'static str,
    cpu: String,
    memory: String,
    containers: Vec<ContainerShape<'a>>,
    created_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_started_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_stopped_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopping_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_stopped_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_by: Option<&'a str>,
    group: &'a str,
    launch_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_provider_name: Option<&'a str>,
    platform_version: &'static str,
    overrides: &'a Value,
    attachments: Vec<Attachment>,
    version: u64,
    connectivity: &'static str,
    connectivity_at: f64,
    health_status: &'static str,
    availability_zone: String,
    enable_execute_command: bool,
    ephemeral_storage: EphemeralStorageShape,
}

/// ECS `Container` in a task.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerShape<'a> {
    container_arn: String,
    task_arn: &'a str,
    name: &'a str,
    image: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_digest: Option<&'a str>,
    last_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    cpu: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
    network_bindings: &'static [Value],
    network_interfaces: Vec<NetworkInterface>,
    health_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EphemeralStorageShape {
    #[serde(rename = "sizeInGiB")]
    size_in_gib: u32,
}

/// ECS `Attachment`: the task's ENI.
#[derive(Serialize)]
struct Attachment {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    details: Vec<KeyValue>,
}

#[derive(Serialize)]
struct KeyValue {
    name: &'static str,
    value: String,
}

/// ECS `NetworkInterface` of a container.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NetworkInterface {
    attachment_id: String,
    private_ipv4_address: String,
}

/// The `Task` shape (without `tags`, which are added when asked for) at `version`.
pub fn task_json(
    arns: &Arns,
    meta: &TaskMeta,
    snap: &TaskSnapshot,
    stop: Option<&StopRequest>,
    version: u64,
) -> Value {
    let task_arn = arns.task(&meta.cluster, &meta.task_id);
    let (desired, stop_code, stopped_reason) = if snap.desired_status == TaskStatus::Stopped {
        (
            TaskStatus::Stopped,
            snap.stop_code.map(StopCode::as_str),
            snap.stopped_reason.clone(),
        )
    } else if let Some(stop) = stop {
        (
            TaskStatus::Stopped,
            Some(stop.code.as_str()),
            Some(stop.reason.clone()),
        )
    } else {
        (TaskStatus::Running, None, None)
    };
    let containers = snap
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let id = meta.container_ids.get(i).map_or("", String::as_str);
            ContainerShape {
                container_arn: arns.container(&meta.cluster, &meta.task_id, id),
                task_arn: &task_arn,
                name: &c.name,
                image: &c.image,
                image_digest: c.image_digest.as_deref(),
                last_status: c.last_status.as_str(),
                exit_code: c.exit_code,
                reason: c.reason.as_deref(),
                cpu: c.cpu_units.to_string(),
                memory: c.memory_limit_mib.map(|m| m.to_string()),
                network_bindings: &[],
                network_interfaces: network_interfaces(meta, snap),
                health_status: c.health_status.map_or("UNKNOWN", |h| h.as_str()),
            }
        })
        .collect();
    let created_at = epoch_secs(snap.created_at);
    let shape = TaskShape {
        task_arn: &task_arn,
        cluster_arn: arns.cluster(&meta.cluster),
        task_definition_arn: arns.task_definition(&meta.family, meta.revision),
        last_status: snap.last_status.as_str(),
        desired_status: desired.as_str(),
        cpu: snap.cpu.to_string(),
        memory: snap.memory.to_string(),
        containers,
        created_at,
        pull_started_at: snap.pull_started_at.map(epoch_secs),
        pull_stopped_at: snap.pull_stopped_at.map(epoch_secs),
        started_at: snap.started_at.map(epoch_secs),
        stopping_at: snap.stopping_at.map(epoch_secs),
        stopped_at: snap.stopped_at.map(epoch_secs),
        execution_stopped_at: snap.stopped_at.map(epoch_secs),
        stop_code,
        stopped_reason,
        started_by: meta.started_by.as_deref(),
        group: &meta.group,
        launch_type: LAUNCH_TYPE,
        capacity_provider_name: meta.capacity_provider_name.as_deref(),
        platform_version: PLATFORM_VERSION,
        overrides: &meta.overrides,
        attachments: attachments(meta, snap),
        version,
        connectivity: "CONNECTED",
        connectivity_at: created_at,
        health_status: snap.health_status.as_str(),
        availability_zone: format!("{}a", arns.region()),
        enable_execute_command: false,
        ephemeral_storage: EphemeralStorageShape {
            size_in_gib: meta.ephemeral_storage_gib,
        },
    };
    // Serializing these plain structs into a `Value` cannot fail (string keys, no
    // custom serializers); the fallback only keeps this function total.
    serde_json::to_value(&shape).unwrap_or_else(|e| {
        tracing::error!("cannot shape task {}: {e}", meta.task_id);
        Value::Null
    })
}

/// The task's `attachments`: for awsvpc, one `ElasticNetworkInterface` carrying the task's
/// loopback address as `privateIPv4Address`, as ECS reports a Fargate task's ENI.
fn attachments(meta: &TaskMeta, snap: &TaskSnapshot) -> Vec<Attachment> {
    let Some(ip) = &snap.private_ipv4_address else {
        return Vec::new();
    };
    let subnet = meta
        .network
        .as_ref()
        .and_then(|n| n.subnets.first().cloned())
        .unwrap_or_else(|| "subnet-wasmgate".into());
    let status = if snap.last_status == TaskStatus::Stopped {
        "DELETED"
    } else {
        "ATTACHED"
    };
    let eni = format!("eni-{}", meta.task_id.get(..17).unwrap_or(&meta.task_id));
    let detail = |name, value| KeyValue { name, value };
    vec![Attachment {
        id: attachment_id(meta),
        kind: "ElasticNetworkInterface",
        status,
        details: vec![
            detail("subnetId", subnet),
            detail("networkInterfaceId", eni),
            detail("macAddress", mac_address(ip)),
            detail("privateIPv4Address", ip.clone()),
        ],
    }]
}

/// A container's `networkInterfaces`: the task's ENI, shared by all its containers.
fn network_interfaces(meta: &TaskMeta, snap: &TaskSnapshot) -> Vec<NetworkInterface> {
    snap.private_ipv4_address
        .iter()
        .map(|ip| NetworkInterface {
            attachment_id: attachment_id(meta),
            private_ipv4_address: ip.clone(),
        })
        .collect()
}

/// The attachment id, a UUID-shaped rendering of the task id (stable across describes).
fn attachment_id(meta: &TaskMeta) -> String {
    let id = &meta.task_id;
    if id.len() == 32 && id.is_ascii() {
        format!(
            "{}-{}-{}-{}-{}",
            &id[..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..]
        )
    } else {
        id.clone()
    }
}

/// A locally administered MAC made from the address, so each task's ENI has its own.
fn mac_address(ip: &str) -> String {
    let octets: Vec<u8> = ip.split('.').filter_map(|p| p.parse().ok()).collect();
    let mut mac = vec![0x02u8, 0x42];
    mac.extend(octets.iter().copied().chain(std::iter::repeat(0)).take(4));
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The store's row for a task whose shape is `task`.
pub fn record(meta: &TaskMeta, snap: &TaskSnapshot, task: Value) -> TaskRecord {
    let desired = task
        .get("desiredStatus")
        .and_then(Value::as_str)
        .unwrap_or(TaskStatus::Running.as_str())
        .to_owned();
    TaskRecord {
        task_id: meta.task_id.clone(),
        cluster: meta.cluster.clone(),
        task_definition: format!("{}:{}", meta.family, meta.revision),
        family: meta.family.clone(),
        last_status: snap.last_status.as_str().to_owned(),
        desired_status: desired,
        started_by: meta.started_by.clone(),
        group: Some(meta.group.clone()),
        service: meta.service.clone(),
        created_at_ms: to_ms(snap.created_at),
        stopped_at_ms: snap.stopped_at.map(to_ms),
        task,
    }
}

/// Epoch seconds of a stored millisecond time, as a JSON number.
pub fn secs_json(ms: i64) -> Value {
    json!(secs(ms))
}
