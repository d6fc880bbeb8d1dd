//! The live reading of every task this host runs: who it is (cluster, service, family,
//! revision, group), what it reserved, and what its meters say now. One reader for the
//! whole host: the metadata endpoint's `/stats` ([`super::endpoints`]), the metrics
//! publisher, Prometheus' `/metrics`, `wasmgate stats` and usage metering all read
//! [`Runtime::live_tasks`](super::Runtime::live_tasks), so the figures agree everywhere.
//!
//! **Stable shape.** [`LiveTask`] and [`LiveContainer`] serialise (camelCase JSON) the same
//! way in every release of this session's API; counters are totals since the task (or
//! container) started, so a reader takes deltas between two readings for rates:
//! - CPU: `cpuTimeNs` (the CPU meter: thread CPU time the guest really used), and
//!   `throttledNs` (wall time parked over its share); the share is `cpuUnits` of 1024.
//! - Memory: `memoryBytes` now (linear memories and tables the limiter charged, of all the
//!   container's live instances), `memoryPeakBytes`, `memoryLimitBytes` (the container's
//!   `memory`, else the task's).
//! - `fuelConsumed` (0 when the host does not meter fuel), `instances` (stores built: 1 for
//!   a command, one per request for an HTTP component), `requests` (HTTP requests served).
//! - Task: `network` (bytes and packets, rx/tx, as the metadata stats count them),
//!   `storageUsedBytes` / `storageLimitBytes` (the quota meter), `storageReadBytes` /
//!   `storageWriteBytes` (file bytes the containers read and wrote, any volume or root).
//!
//! A task is listed from its first state (PROVISIONING) to STOPPED; until its containers
//! are set up (ACTIVATING) its meters read zero. Reading takes no lock a guest waits on:
//! atomics, a watch channel and one short registry lock.

use super::cpu::CpuMeter;
use super::endpoints::TaskIdentity;
use super::fsquota::StorageQuota;
use super::launch::Meters;
use super::limits::TaskMemory;
use super::net::{NetTotals, TaskNetwork};
use super::status::{TaskSnapshot, TaskStatus};
use crate::taskdef::TaskDefinition;
use crate::util::sync::lock;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

const MIB: u64 = 1 << 20;

/// One running (or starting, or stopping) task as read now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveTask {
    pub task_id: String,
    pub task_arn: String,
    pub cluster_arn: String,
    /// The cluster's name (the last part of its ARN).
    pub cluster: String,
    pub service: Option<String>,
    pub family: String,
    pub revision: String,
    /// ECS `group`: `service:NAME`, or `family:NAME`, or what RunTask was given.
    pub group: String,
    pub last_status: TaskStatus,
    /// Epoch milliseconds.
    pub created_at: u64,
    pub started_at: Option<u64>,
    /// Task-level `cpu` (units, 1024 per vCPU) and `memory` (MiB) reserved.
    pub cpu_units: u32,
    pub memory_mib: u64,
    /// `ephemeralStorage.sizeInGiB` (20 by default).
    pub ephemeral_storage_gib: u32,
    pub containers: Vec<LiveContainer>,
    pub network: LiveNetwork,
    pub storage_used_bytes: u64,
    /// The quota the host enforces (the reservation, capped by `[storage]`).
    pub storage_limit_bytes: u64,
    /// Bytes the task's containers read from and wrote to files since it started.
    #[serde(default)]
    pub storage_read_bytes: u64,
    #[serde(default)]
    pub storage_write_bytes: u64,
    /// Linear memory the task's containers hold now, in total (the task's budget meter).
    pub memory_bytes: u64,
    /// That memory integrated over time since the task's budget was set up (exact, not
    /// sampled: byte-seconds), and that time in ms. Their quotient is the average.
    #[serde(default)]
    pub memory_byte_seconds: f64,
    #[serde(default)]
    pub memory_ms: u64,
}

/// One container of a [`LiveTask`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveContainer {
    pub name: String,
    /// Its CPU share in units (1024 per vCPU).
    pub cpu_units: u32,
    pub cpu_time_ns: u64,
    pub throttled_ns: u64,
    /// Fuel it burned; 0 when it does not count fuel (see `counts_fuel`).
    pub fuel_consumed: u64,
    /// Whether it counts fuel (a fuel budget, or `[fuel] meter = "all"`).
    #[serde(default)]
    pub counts_fuel: bool,
    pub memory_bytes: u64,
    pub memory_peak_bytes: u64,
    pub memory_limit_bytes: u64,
    /// Stores (instances) built for it: 1 for a command, one per request for HTTP.
    pub instances: u64,
    /// Whether it is a wasi:http component (then `instances` counts requests served).
    pub http: bool,
}

/// A task's network counters (one interface per task, as an awsvpc ENI).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveNetwork {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

impl From<NetTotals> for LiveNetwork {
    fn from(t: NetTotals) -> Self {
        Self {
            rx_bytes: t.rx_bytes,
            rx_packets: t.rx_packets,
            tx_bytes: t.tx_bytes,
            tx_packets: t.tx_packets,
        }
    }
}

/// Where a task's live values are read from, once its containers are set up.
#[derive(Clone)]
pub(super) struct LiveSources {
    pub snapshot: watch::Receiver<TaskSnapshot>,
    /// Each container's meters, by its place in the definition.
    pub meters: Vec<Arc<Meters>>,
    pub task_memory: Arc<TaskMemory>,
    pub quota: Arc<StorageQuota>,
    pub network: Arc<TaskNetwork>,
}

/// One container's meters read at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct MeterReading {
    pub cpu_ns: u64,
    pub throttled_ns: u64,
    pub fuel: u64,
    pub memory_now: u64,
    pub memory_peak: u64,
    pub instances: u64,
}

impl MeterReading {
    pub fn of(meters: &Meters) -> Self {
        Self {
            cpu_ns: nanos(&meters.cpu, false),
            throttled_ns: nanos(&meters.cpu, true),
            fuel: meters.fuel.load(Ordering::Relaxed),
            memory_now: meters.memory_now.load(Ordering::Relaxed),
            memory_peak: meters.memory_peak.load(Ordering::Relaxed),
            instances: meters.instances.load(Ordering::Relaxed),
        }
    }
}

fn nanos(cpu: &CpuMeter, throttled: bool) -> u64 {
    let d = if throttled {
        cpu.throttled()
    } else {
        cpu.used()
    };
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl LiveSources {
    /// Container `i`'s meters now (zero for a container the task does not have).
    pub fn reading(&self, i: usize) -> MeterReading {
        self.meters
            .get(i)
            .map(|m| MeterReading::of(m))
            .unwrap_or_default()
    }

    /// A container's memory limit: its own `memory`, else the task's budget.
    pub fn memory_limit(&self, container_mib: Option<u64>) -> u64 {
        container_mib.map_or(self.task_memory.limit(), |m| m * MIB)
    }
}

/// What a task is, fixed when it starts.
#[derive(Debug, Clone)]
struct Facts {
    identity: TaskIdentity,
    family: String,
    group: String,
    cpu_units: u32,
    memory_mib: u64,
    ephemeral_storage_gib: u32,
    containers: Vec<ContainerFacts>,
}

#[derive(Debug, Clone)]
struct ContainerFacts {
    name: String,
    cpu_units: u32,
    memory_mib: Option<u64>,
    counts_fuel: bool,
}

/// One task in the registry: its facts, its snapshot, and its meters once they exist.
struct Entry {
    facts: Facts,
    snapshot: watch::Receiver<TaskSnapshot>,
    sources: OnceLock<LiveSources>,
    /// Which containers are wasi:http components (set with the sources).
    http: OnceLock<Vec<bool>>,
}

/// How long (and how many) final readings of ended tasks are kept for readers that
/// sample (the usage meter closes a record with its task's final reading).
const FINISHED_KEEP: Duration = Duration::from_secs(600);
const FINISHED_MAX: usize = 10_000;

/// Every task of this host, by id.
#[derive(Default)]
pub(crate) struct Registry {
    tasks: Mutex<BTreeMap<String, Arc<Entry>>>,
    /// Final readings of tasks that ended, oldest first.
    finished: Mutex<VecDeque<(Instant, LiveTask)>>,
}

/// A task's place in the registry; dropping it (when the task's driver ends) removes it.
pub(super) struct Registration {
    registry: Arc<Registry>,
    entry: Arc<Entry>,
}

impl Registry {
    /// Lists a task from its first state on.
    pub(super) fn register(
        self: &Arc<Self>,
        identity: &TaskIdentity,
        definition: &TaskDefinition,
        cpu_units: &[u32],
        counts_fuel: &[bool],
        snapshot: watch::Receiver<TaskSnapshot>,
    ) -> Registration {
        let group = identity.group.clone().unwrap_or_else(|| {
            identity.service_name.as_ref().map_or_else(
                || format!("family:{}", definition.family),
                |s| format!("service:{s}"),
            )
        });
        let facts = Facts {
            identity: identity.clone(),
            family: definition.family.clone(),
            group,
            cpu_units: definition.cpu,
            memory_mib: definition.memory,
            ephemeral_storage_gib: definition.ephemeral_storage_gib(),
            containers: definition
                .container_definitions
                .iter()
                .enumerate()
                .map(|(i, c)| ContainerFacts {
                    name: c.name.clone(),
                    cpu_units: cpu_units.get(i).copied().unwrap_or(0),
                    memory_mib: c.memory,
                    counts_fuel: counts_fuel.get(i).copied().unwrap_or(false),
                })
                .collect(),
        };
        let entry = Arc::new(Entry {
            facts,
            snapshot,
            sources: OnceLock::new(),
            http: OnceLock::new(),
        });
        lock(&self.tasks).insert(identity.task_id.clone(), entry.clone());
        Registration {
            registry: self.clone(),
            entry,
        }
    }

    /// Every listed task, read now, in task-id order.
    pub(super) fn read_all(&self) -> Vec<LiveTask> {
        let entries: Vec<Arc<Entry>> = lock(&self.tasks).values().cloned().collect();
        entries.iter().map(|e| e.read()).collect()
    }

    /// One task, read now.
    pub(super) fn read(&self, task_id: &str) -> Option<LiveTask> {
        let entry = lock(&self.tasks).get(task_id).cloned();
        entry.map(|e| e.read())
    }

    /// The final reading of a task that ended in the last [`FINISHED_KEEP`].
    pub(super) fn finished(&self, task_id: &str) -> Option<LiveTask> {
        lock(&self.finished)
            .iter()
            .rev()
            .find(|(_, t)| t.task_id == task_id)
            .map(|(_, t)| t.clone())
    }

    fn keep_finished(&self, task: LiveTask) {
        let now = Instant::now();
        let mut finished = lock(&self.finished);
        while finished
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > FINISHED_KEEP)
            || finished.len() >= FINISHED_MAX
        {
            finished.pop_front();
        }
        finished.push_back((now, task));
    }
}

impl Registration {
    /// The task's containers are set up: from now on its meters are read.
    pub(super) fn attach(&self, sources: LiveSources, http: Vec<bool>) {
        let _ = self.entry.sources.set(sources);
        let _ = self.entry.http.set(http);
    }
}

impl Registration {
    /// The task's containers are gone: keeps its meters' final reading (as STOPPED) for
    /// readers that sample once a second and would otherwise miss its last moments (a task
    /// shorter than a second has no sample at all). Call before STOPPED is reported.
    pub(super) fn finish(&self) {
        let mut last = self.entry.read();
        last.last_status = TaskStatus::Stopped;
        self.registry.keep_finished(last);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut tasks = lock(&self.registry.tasks);
        let id = &self.entry.facts.identity.task_id;
        if tasks.get(id).is_some_and(|e| Arc::ptr_eq(e, &self.entry)) {
            tasks.remove(id);
        }
    }
}

impl Entry {
    fn read(&self) -> LiveTask {
        let f = &self.facts;
        let snap = self.snapshot.borrow().clone();
        let sources = self.sources.get();
        let http = self.http.get();
        let containers = f
            .containers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let r = sources.map(|s| s.reading(i)).unwrap_or_default();
                LiveContainer {
                    name: c.name.clone(),
                    cpu_units: c.cpu_units,
                    cpu_time_ns: r.cpu_ns,
                    throttled_ns: r.throttled_ns,
                    fuel_consumed: r.fuel,
                    counts_fuel: c.counts_fuel,
                    memory_bytes: r.memory_now,
                    memory_peak_bytes: r.memory_peak,
                    memory_limit_bytes: sources.map_or_else(
                        || c.memory_mib.unwrap_or(f.memory_mib) * MIB,
                        |s| s.memory_limit(c.memory_mib),
                    ),
                    instances: r.instances,
                    http: http.and_then(|h| h.get(i).copied()).unwrap_or(false),
                }
            })
            .collect();
        let id = &f.identity;
        let integral = sources.map_or((0.0, 0), |s| s.task_memory.byte_seconds());
        LiveTask {
            task_id: id.task_id.clone(),
            task_arn: id.task_arn.clone(),
            cluster_arn: id.cluster_arn.clone(),
            cluster: id
                .cluster_arn
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            service: id.service_name.clone(),
            family: f.family.clone(),
            revision: id.revision.clone(),
            group: f.group.clone(),
            last_status: snap.last_status,
            created_at: epoch_millis(snap.created_at),
            started_at: snap.started_at.map(epoch_millis),
            cpu_units: f.cpu_units,
            memory_mib: f.memory_mib,
            ephemeral_storage_gib: f.ephemeral_storage_gib,
            containers,
            network: sources
                .map(|s| s.network.counters().totals().into())
                .unwrap_or_default(),
            storage_used_bytes: sources.map_or(0, |s| s.quota.used_bytes()),
            storage_limit_bytes: sources
                .map_or(u64::from(f.ephemeral_storage_gib) * 1024 * MIB, |s| {
                    s.quota.limit_bytes()
                }),
            storage_read_bytes: sources.map_or(0, |s| s.quota.read_bytes()),
            storage_write_bytes: sources.map_or(0, |s| s.quota.written_bytes()),
            memory_bytes: sources.map_or(0, |s| s.task_memory.used()),
            memory_byte_seconds: integral.0,
            memory_ms: integral.1,
        }
    }
}

fn epoch_millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl LiveTask {
    /// The task's CPU time over all its containers, in ns.
    pub fn cpu_time_ns(&self) -> u64 {
        self.containers.iter().map(|c| c.cpu_time_ns).sum()
    }

    /// Whether the task counts as running for ECS (`RunningTaskCount`).
    pub fn is_running(&self) -> bool {
        self.last_status == TaskStatus::Running
    }

    /// Whether it counts as pending (`PendingTaskCount`): provisioned, not running yet.
    pub fn is_pending(&self) -> bool {
        self.last_status < TaskStatus::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_task_json_shape_is_camel_case_and_round_trips() {
        let t = LiveTask {
            task_id: "t1".into(),
            task_arn: "arn:aws:ecs:r:1:task/c/t1".into(),
            cluster_arn: "arn:aws:ecs:r:1:cluster/c".into(),
            cluster: "c".into(),
            service: Some("web".into()),
            family: "f".into(),
            revision: "3".into(),
            group: "service:web".into(),
            last_status: TaskStatus::Running,
            created_at: 1,
            started_at: Some(2),
            cpu_units: 256,
            memory_mib: 512,
            ephemeral_storage_gib: 20,
            containers: vec![LiveContainer {
                name: "app".into(),
                cpu_units: 256,
                cpu_time_ns: 5,
                throttled_ns: 6,
                fuel_consumed: 7,
                counts_fuel: true,
                memory_bytes: 8,
                memory_peak_bytes: 9,
                memory_limit_bytes: 10,
                instances: 11,
                http: true,
            }],
            network: LiveNetwork::default(),
            storage_used_bytes: 0,
            storage_limit_bytes: 1,
            storage_read_bytes: 12,
            storage_write_bytes: 13,
            memory_bytes: 8,
            memory_byte_seconds: 0.5,
            memory_ms: 1000,
        };
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["containers"][0]["cpuTimeNs"], 5);
        assert_eq!(json["lastStatus"], "RUNNING");
        assert_eq!(json["storageWriteBytes"], 13);
        let back: LiveTask = serde_json::from_value(json).unwrap();
        assert_eq!(back, t);
    }
}
