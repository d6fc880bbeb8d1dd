//! The ECS `Task` shape, built from what the control plane knows about a task it started
//! (`TaskMeta`) and the runtime's latest snapshot of it.

use super::arn::Arns;
use super::time::{epoch_secs, secs, to_ms};
use crate::runtime::{StopCode, TaskSnapshot, TaskStatus};
use crate::state::TaskRecord;
use serde_json::{Map, Value, json};

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
    /// The request's `overrides`, as ECS echoes them.
    pub overrides: Value,
    /// One id per container, in definition order (the last part of its ARN).
    pub container_ids: Vec<String>,
    pub ephemeral_storage_gib: u32,
    /// Kept for the `ElasticNetworkInterface` attachment (see [`attachments`]).
    pub network: Option<NetworkConfig>,
}

/// A stop the control plane asked for and the runtime may not have taken up yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRequest {
    pub code: StopCode,
    pub reason: String,
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
    let containers: Vec<Value> = snap
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let id = meta.container_ids.get(i).map_or("", String::as_str);
            let mut o = Map::new();
            o.insert(
                "containerArn".into(),
                json!(arns.container(&meta.cluster, &meta.task_id, id)),
            );
            o.insert("taskArn".into(), json!(task_arn));
            o.insert("name".into(), json!(c.name));
            o.insert("image".into(), json!(c.image));
            put(
                &mut o,
                "imageDigest",
                c.image_digest.as_ref().map(|d| json!(d)),
            );
            o.insert("lastStatus".into(), json!(c.last_status.as_str()));
            put(&mut o, "exitCode", c.exit_code.map(|e| json!(e)));
            put(&mut o, "reason", c.reason.as_ref().map(|r| json!(r)));
            o.insert("cpu".into(), json!(c.cpu_units.to_string()));
            put(
                &mut o,
                "memory",
                c.memory_limit_mib.map(|m| json!(m.to_string())),
            );
            o.insert("networkBindings".into(), json!([]));
            o.insert("networkInterfaces".into(), network_interfaces(meta, snap));
            o.insert(
                "healthStatus".into(),
                json!(c.health_status.map_or("UNKNOWN", |h| h.as_str())),
            );
            Value::Object(o)
        })
        .collect();

    let created_at = epoch_secs(snap.created_at);
    let mut o = Map::new();
    o.insert("taskArn".into(), json!(task_arn));
    o.insert("clusterArn".into(), json!(arns.cluster(&meta.cluster)));
    o.insert(
        "taskDefinitionArn".into(),
        json!(arns.task_definition(&meta.family, meta.revision)),
    );
    o.insert("lastStatus".into(), json!(snap.last_status.as_str()));
    o.insert("desiredStatus".into(), json!(desired.as_str()));
    o.insert("cpu".into(), json!(snap.cpu.to_string()));
    o.insert("memory".into(), json!(snap.memory.to_string()));
    o.insert("containers".into(), Value::Array(containers));
    o.insert("createdAt".into(), json!(created_at));
    put(
        &mut o,
        "pullStartedAt",
        snap.pull_started_at.map(|t| json!(epoch_secs(t))),
    );
    put(
        &mut o,
        "pullStoppedAt",
        snap.pull_stopped_at.map(|t| json!(epoch_secs(t))),
    );
    put(
        &mut o,
        "startedAt",
        snap.started_at.map(|t| json!(epoch_secs(t))),
    );
    put(
        &mut o,
        "stoppingAt",
        snap.stopping_at.map(|t| json!(epoch_secs(t))),
    );
    put(
        &mut o,
        "stoppedAt",
        snap.stopped_at.map(|t| json!(epoch_secs(t))),
    );
    put(
        &mut o,
        "executionStoppedAt",
        snap.stopped_at.map(|t| json!(epoch_secs(t))),
    );
    put(&mut o, "stopCode", stop_code.map(|c| json!(c)));
    put(&mut o, "stoppedReason", stopped_reason.map(|r| json!(r)));
    put(
        &mut o,
        "startedBy",
        meta.started_by.as_ref().map(|s| json!(s)),
    );
    o.insert("group".into(), json!(meta.group));
    o.insert("launchType".into(), json!(LAUNCH_TYPE));
    o.insert("platformVersion".into(), json!(PLATFORM_VERSION));
    o.insert("overrides".into(), meta.overrides.clone());
    o.insert("attachments".into(), Value::Array(attachments(meta, snap)));
    o.insert("version".into(), json!(version));
    o.insert("connectivity".into(), json!("CONNECTED"));
    o.insert("connectivityAt".into(), json!(created_at));
    o.insert("healthStatus".into(), json!(snap.health_status.as_str()));
    o.insert(
        "availabilityZone".into(),
        json!(format!("{}a", arns.region())),
    );
    o.insert("enableExecuteCommand".into(), json!(false));
    o.insert(
        "ephemeralStorage".into(),
        json!({ "sizeInGiB": meta.ephemeral_storage_gib }),
    );
    Value::Object(o)
}

/// The task's `attachments`: for awsvpc, one `ElasticNetworkInterface` carrying the task's
/// loopback address as `privateIPv4Address`, as ECS reports a Fargate task's ENI.
pub fn attachments(meta: &TaskMeta, snap: &TaskSnapshot) -> Vec<Value> {
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
    vec![json!({
        "id": attachment_id(meta),
        "type": "ElasticNetworkInterface",
        "status": status,
        "details": [
            {"name": "subnetId", "value": subnet},
            {"name": "networkInterfaceId", "value": format!("eni-{}", &meta.task_id[..meta.task_id.len().min(17)])},
            {"name": "macAddress", "value": mac_address(ip)},
            {"name": "privateIPv4Address", "value": ip},
        ],
    })]
}

/// A container's `networkInterfaces`: the task's ENI, shared by all its containers.
fn network_interfaces(meta: &TaskMeta, snap: &TaskSnapshot) -> Value {
    match &snap.private_ipv4_address {
        Some(ip) => json!([{"attachmentId": attachment_id(meta), "privateIpv4Address": ip}]),
        None => json!([]),
    }
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
        created_at_ms: to_ms(snap.created_at),
        stopped_at_ms: snap.stopped_at.map(to_ms),
        task,
    }
}

fn put(o: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        o.insert(key.to_owned(), v);
    }
}

/// Epoch seconds of a stored millisecond time, as a JSON number.
pub fn secs_json(ms: i64) -> Value {
    json!(secs(ms))
}
