//! `ECS/ContainerInsights`, with the names, units and dimension sets AWS documents:
//! - resource metrics (`CpuUtilized`, `CpuReserved`, `MemoryUtilized`, `MemoryReserved`,
//!   `NetworkRxBytes`, `NetworkTxBytes`, `StorageReadBytes`, `StorageWriteBytes`,
//!   `EphemeralStorageUtilized`, `EphemeralStorageReserved`) summed over running tasks under `ClusterName`;
//!   `ClusterName, ServiceName`; `ClusterName, TaskDefinitionFamily`; and per task
//!   (enhanced observability) `ClusterName, TaskDefinitionFamily, TaskId`;
//! - counts: `RunningTaskCount`, `PendingTaskCount` under `ClusterName` and
//!   `ClusterName, ServiceName`; `TaskCount` under `ClusterName` and
//!   `ClusterName, TaskDefinitionFamily`; from the state store every publish:
//!   `DesiredTaskCount`, `DeploymentCount` (`ClusterName, ServiceName`), `ServiceCount`
//!   (`ClusterName`).
//!
//! `StorageReadBytes` / `StorageWriteBytes` are the file bytes the containers read and
//! wrote in each second (the storage quota's shadow of `wasi:filesystem` sees every file
//! read and write, on volumes and the root alike); their `Sum` over a period is the
//! period's traffic.

use super::{Batch, Point, TaskRates, gib, mib};
use crate::runtime::live::LiveTask;
use crate::state::StateStore;
use std::collections::BTreeMap;

const NS: &str = "ECS/ContainerInsights";

/// The resource figures of one task or a sum of tasks.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    cpu_utilized: f64,
    cpu_reserved: f64,
    memory_utilized: f64,
    memory_reserved: f64,
    rx: f64,
    tx: f64,
    storage_read: f64,
    storage_write: f64,
    storage_utilized: f64,
    storage_reserved: f64,
}

impl Figures {
    fn of(t: &LiveTask, r: &TaskRates) -> Self {
        Self {
            cpu_utilized: r.cpu_units_total(),
            cpu_reserved: f64::from(t.cpu_units),
            memory_utilized: mib(t.memory_bytes),
            memory_reserved: t.memory_mib as f64,
            rx: r.rx_per_sec,
            tx: r.tx_per_sec,
            storage_read: r.storage_read_bytes,
            storage_write: r.storage_write_bytes,
            storage_utilized: gib(t.storage_used_bytes),
            storage_reserved: f64::from(t.ephemeral_storage_gib),
        }
    }

    fn add(&mut self, o: &Figures) {
        self.cpu_utilized += o.cpu_utilized;
        self.cpu_reserved += o.cpu_reserved;
        self.memory_utilized += o.memory_utilized;
        self.memory_reserved += o.memory_reserved;
        self.rx += o.rx;
        self.tx += o.tx;
        self.storage_read += o.storage_read;
        self.storage_write += o.storage_write;
        self.storage_utilized += o.storage_utilized;
        self.storage_reserved += o.storage_reserved;
    }

    fn publish(&self, batch: &mut Batch, dims: &[(&str, &str)], ts: i64, per_task: bool) {
        for (name, value, unit) in [
            ("CpuUtilized", self.cpu_utilized, "None"),
            ("CpuReserved", self.cpu_reserved, "None"),
            ("MemoryUtilized", self.memory_utilized, "Megabytes"),
            ("MemoryReserved", self.memory_reserved, "Megabytes"),
            ("NetworkRxBytes", self.rx, "Bytes/Second"),
            ("NetworkTxBytes", self.tx, "Bytes/Second"),
            ("StorageReadBytes", self.storage_read, "Bytes"),
            ("StorageWriteBytes", self.storage_write, "Bytes"),
            (
                "EphemeralStorageUtilized",
                self.storage_utilized,
                "Gigabytes",
            ),
            (
                "EphemeralStorageReserved",
                self.storage_reserved,
                "Gigabytes",
            ),
        ] {
            match per_task {
                true => batch.add_task(NS, name, dims, ts, value, unit),
                false => batch.add(NS, name, dims, ts, value, unit),
            }
        }
    }
}

/// Groups by (cluster, second key) in a stable order.
type Groups<'a> = BTreeMap<(&'a str, &'a str), Figures>;

pub(super) fn publish(
    batch: &mut Batch,
    ts: i64,
    tasks: &[LiveTask],
    rated: &[(&LiveTask, TaskRates)],
) {
    let mut clusters: BTreeMap<&str, Figures> = BTreeMap::new();
    let mut services: Groups<'_> = BTreeMap::new();
    let mut families: Groups<'_> = BTreeMap::new();
    for (t, r) in rated.iter().filter(|(t, _)| t.is_running()) {
        let f = Figures::of(t, r);
        f.publish(
            batch,
            &[
                ("ClusterName", t.cluster.as_str()),
                ("TaskDefinitionFamily", t.family.as_str()),
                ("TaskId", t.task_id.as_str()),
            ],
            ts,
            true,
        );
        clusters.entry(&t.cluster).or_default().add(&f);
        families.entry((&t.cluster, &t.family)).or_default().add(&f);
        if let Some(s) = &t.service {
            services.entry((&t.cluster, s)).or_default().add(&f);
        }
    }
    for (c, f) in &clusters {
        f.publish(batch, &[("ClusterName", c)], ts, false);
    }
    for ((c, s), f) in &services {
        f.publish(batch, &[("ClusterName", c), ("ServiceName", s)], ts, false);
    }
    for ((c, fam), f) in &families {
        f.publish(
            batch,
            &[("ClusterName", c), ("TaskDefinitionFamily", fam)],
            ts,
            false,
        );
    }
    counts(batch, ts, tasks);
}

/// Running and pending tasks per cluster and service, all tasks per cluster and family.
fn counts(batch: &mut Batch, ts: i64, tasks: &[LiveTask]) {
    let mut by_cluster: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    let mut by_service: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    let mut by_family: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for t in tasks {
        let (running, pending) = (u64::from(t.is_running()), u64::from(t.is_pending()));
        let c = by_cluster.entry(&t.cluster).or_default();
        c.0 += running;
        c.1 += pending;
        c.2 += 1;
        *by_family.entry((&t.cluster, &t.family)).or_default() += 1;
        if let Some(s) = &t.service {
            let e = by_service.entry((&t.cluster, s)).or_default();
            e.0 += running;
            e.1 += pending;
        }
    }
    for (c, (running, pending, all)) in by_cluster {
        let dims = [("ClusterName", c)];
        batch.add(NS, "RunningTaskCount", &dims, ts, running as f64, "Count");
        batch.add(NS, "PendingTaskCount", &dims, ts, pending as f64, "Count");
        batch.add(NS, "TaskCount", &dims, ts, all as f64, "Count");
    }
    for ((c, s), (running, pending)) in by_service {
        let dims = [("ClusterName", c), ("ServiceName", s)];
        batch.add(NS, "RunningTaskCount", &dims, ts, running as f64, "Count");
        batch.add(NS, "PendingTaskCount", &dims, ts, pending as f64, "Count");
    }
    for ((c, f), n) in by_family {
        let dims = [("ClusterName", c), ("TaskDefinitionFamily", f)];
        batch.add(NS, "TaskCount", &dims, ts, n as f64, "Count");
    }
}

/// `DesiredTaskCount` and `DeploymentCount` per active service, `ServiceCount` per
/// cluster, from the services' stored shapes.
pub(super) fn service_counts(state: &dyn StateStore, ts: i64) -> Vec<Point> {
    let records = match state.list_services(Some("ACTIVE")) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("metrics publisher: cannot list services: {e}");
            return Vec::new();
        }
    };
    let mut batch = Batch::default();
    let mut per_cluster: BTreeMap<String, u64> = BTreeMap::new();
    for r in &records {
        let cluster = r
            .cluster
            .rsplit('/')
            .next()
            .unwrap_or(&r.cluster)
            .to_owned();
        let desired = r.service["desiredCount"].as_f64().unwrap_or(0.0);
        let deployments = r.service["deployments"].as_array().map_or(0, |d| d.len()) as f64;
        let dims = [
            ("ClusterName", cluster.as_str()),
            ("ServiceName", r.name.as_str()),
        ];
        batch.add(NS, "DesiredTaskCount", &dims, ts, desired, "Count");
        batch.add(NS, "DeploymentCount", &dims, ts, deployments, "Count");
        *per_cluster.entry(cluster).or_default() += 1;
    }
    for (c, n) in &per_cluster {
        batch.add(
            NS,
            "ServiceCount",
            &[("ClusterName", c)],
            ts,
            *n as f64,
            "Count",
        );
    }
    batch.into_points()
}
