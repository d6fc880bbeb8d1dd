//! The metadata documents, shaped as AWS documents them for Fargate (v4): `${uri}` (the
//! container), `${uri}/task` and `${uri}/taskWithTags`. Read live from the task's snapshot
//! on every request: statuses, image digests and storage use change while the task runs.

use super::TaskEndpoints;
use super::time::iso8601;
use crate::runtime::status::{ContainerStatus, TaskSnapshot, TaskStatus};
use serde_json::{Map, Value, json};

/// `${ECS_CONTAINER_METADATA_URI_V4}`: container `i`.
pub(super) fn container(ep: &TaskEndpoints, i: usize) -> Value {
    let snap = ep.live.snapshot.borrow();
    container_doc(ep, &snap, i)
}

/// `${uri}/task`, and with `tags` `${uri}/taskWithTags`.
pub(super) fn task(ep: &TaskEndpoints, tags: bool) -> Value {
    let snap = ep.live.snapshot.borrow();
    let mut doc = Map::new();
    doc.insert("Cluster".into(), json!(ep.identity.cluster_arn));
    doc.insert("TaskARN".into(), json!(ep.identity.task_arn));
    doc.insert("Family".into(), json!(ep.family));
    doc.insert("Revision".into(), json!(ep.identity.revision));
    if let Some(service) = &ep.identity.service_name {
        doc.insert("ServiceName".into(), json!(service));
    }
    doc.insert(
        "DesiredStatus".into(),
        json!(desired_task_status(snap.desired_status)),
    );
    doc.insert("KnownStatus".into(), json!(snap.last_status.as_str()));
    doc.insert(
        "Limits".into(),
        json!({
            "CPU": f64::from(ep.cpu) / f64::from(crate::runtime::UNITS_PER_VCPU),
            "Memory": ep.memory_mib,
        }),
    );
    if let Some(t) = snap.pull_started_at {
        doc.insert("PullStartedAt".into(), json!(iso8601(t)));
    }
    if let Some(t) = snap.pull_stopped_at {
        doc.insert("PullStoppedAt".into(), json!(iso8601(t)));
    }
    doc.insert(
        "AvailabilityZone".into(),
        json!(ep.identity.availability_zone),
    );
    doc.insert("LaunchType".into(), json!("FARGATE"));
    let quota = &ep.live.quota;
    doc.insert(
        "EphemeralStorageMetrics".into(),
        json!({
            "Utilized": quota.used_bytes() / MIB,
            "Reserved": quota.limit_bytes() / MIB,
        }),
    );
    let containers: Vec<Value> = (0..ep.containers.len())
        .map(|i| container_doc(ep, &snap, i))
        .collect();
    doc.insert("Containers".into(), Value::Array(containers));
    if tags {
        let tags: Map<String, Value> = ep
            .identity
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        doc.insert("TaskTags".into(), Value::Object(tags));
    }
    Value::Object(doc)
}

const MIB: u64 = 1 << 20;

fn container_doc(ep: &TaskEndpoints, snap: &TaskSnapshot, i: usize) -> Value {
    let facts = &ep.containers[i];
    let live = snap.containers.get(i);
    let mut known = live.map_or(ContainerStatus::Pending, |c| c.last_status);
    // The task hears of a start a moment after the guest runs, and a guest may ask at
    // once: one that has used CPU is running, whatever the snapshot says yet.
    let ran = ep
        .live
        .meters
        .get(i)
        .is_some_and(|m| !m.cpu.used().is_zero());
    if known == ContainerStatus::Pending && ran {
        known = ContainerStatus::Running;
    }
    let mut doc = Map::new();
    doc.insert("DockerId".into(), json!(facts.docker_id));
    doc.insert("Name".into(), json!(facts.name));
    doc.insert("DockerName".into(), json!(facts.name));
    doc.insert("Image".into(), json!(facts.image));
    doc.insert(
        "ImageID".into(),
        json!(
            live.and_then(|c| c.image_digest.clone())
                .unwrap_or_default()
        ),
    );
    doc.insert("Labels".into(), json!(facts.labels));
    let desired = if snap.desired_status == TaskStatus::Stopped {
        "STOPPED"
    } else {
        "RUNNING"
    };
    doc.insert("DesiredStatus".into(), json!(desired));
    doc.insert("KnownStatus".into(), json!(known.as_str()));
    if let Some(code) = live.and_then(|c| c.exit_code) {
        doc.insert("ExitCode".into(), json!(code));
    }
    let mut limits = Map::new();
    limits.insert("CPU".into(), json!(facts.cpu_units));
    limits.insert(
        "Memory".into(),
        json!(facts.memory_mib.unwrap_or(ep.memory_mib)),
    );
    doc.insert("Limits".into(), Value::Object(limits));
    doc.insert("CreatedAt".into(), json!(iso8601(snap.created_at)));
    // Containers start once the images are ready; the task is RUNNING a moment later.
    if known != ContainerStatus::Pending
        && let Some(t) = snap.started_at.or(snap.pull_stopped_at)
    {
        doc.insert("StartedAt".into(), json!(iso8601(t)));
    }
    if known == ContainerStatus::Stopped
        && let Some(t) = snap.stopped_at.or(snap.stopping_at)
    {
        doc.insert("FinishedAt".into(), json!(iso8601(t)));
    }
    doc.insert("Type".into(), json!("NORMAL"));
    if let Some(driver) = &facts.log_driver {
        doc.insert("LogDriver".into(), json!(driver));
        doc.insert("LogOptions".into(), json!(facts.log_options));
    }
    doc.insert("ContainerARN".into(), json!(facts.arn));
    let address = ep.address();
    let subnet = ep.live.network.pool_cidr();
    doc.insert(
        "Networks".into(),
        json!([{
            "NetworkMode": "awsvpc",
            "IPv4Addresses": [address.to_string()],
            "AttachmentIndex": 0,
            "IPv4SubnetCIDRBlock": subnet,
            "PrivateDNSName": "localhost",
            "DomainNameServers": [],
            "DomainNameSearchList": [],
            "SubnetGatewayIpv4Address": format!("{}/{}", ep.live.network.map().gateway(), subnet.rsplit('/').next().unwrap_or("32")),
        }]),
    );
    doc.insert("Snapshotter".into(), json!("overlayfs"));
    Value::Object(doc)
}

/// A task's desired status is RUNNING until a stop is asked for.
fn desired_task_status(s: TaskStatus) -> &'static str {
    if s == TaskStatus::Stopped {
        "STOPPED"
    } else {
        "RUNNING"
    }
}
