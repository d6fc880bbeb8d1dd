//! What the host publishes by itself into the metrics store: every second it reads the
//! live tasks ([`Runtime::live_tasks`]) and the load balancer's counters and turns the
//! differences since the last second into 1-second data points, written at once (ten
//! seconds of them held back would cost an idle host ~10 KB per task); every
//! [`PUBLISH_EVERY`] it adds the services' counts from the state store. Namespaces and
//! names as AWS publishes them:
//!
//! - `AWS/ECS` `CPUUtilization`, `MemoryUtilization`: one value per running task (percent
//!   of the task's reservation), under `ClusterName` and `ClusterName, ServiceName`, so
//!   Average / Minimum / Maximum are ECS's "average, least and most used task".
//! - `ECS/ContainerInsights` ([`insights`]): sums over running tasks at cluster, service,
//!   family and task level.
//! - `AWS/ApplicationELB` ([`elb`]): per target group and for the load balancer.
//! - `wasmgate`: per container, what only a Wasm host measures.
//!
//! CPU "units used" is the CPU meter's time over wall time, times 1024: a task of 512
//! units spinning at its share reads 512 units, 100 %.

mod elb;
mod insights;
mod keys;
#[cfg(test)]
mod tests;

use keys::Keys;

use super::store::{Agg, Datum, FastMap, MetricStore, SeriesKey, Values};
use crate::lb::LoadBalancer;
use crate::runtime::Runtime;
use crate::runtime::live::LiveTask;
use crate::state::StateStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the services' counts are read from the state store and published.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(10);
/// How often the meters are read (the points' resolution).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

const MIB: f64 = (1u64 << 20) as f64;
const GIB: f64 = (1u64 << 30) as f64;

/// One data point before it goes into the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Shared with the publisher's key cache: the same series' points share one key.
    pub key: Arc<SeriesKey>,
    pub timestamp: i64,
    pub values: Vec<f64>,
    /// A statistic set instead of values (no percentiles for it).
    pub set: Option<Agg>,
    pub unit: &'static str,
    /// Kept at 1 s (else only in 1-minute aggregates: see [`Sampler::task_resolution`]).
    pub high_resolution: bool,
}

/// Points keyed by series while one second is being assembled: values of one series
/// (one per task) go into one datum.
#[derive(Default)]
pub(crate) struct Batch {
    points: Vec<Point>,
    /// Where each series' point is, by the address of its interned key.
    index: FastMap<usize, usize>,
    keys: Keys,
    /// Whether per-task and per-container series are kept at 1 s.
    task_high_resolution: bool,
}

impl Batch {
    pub(crate) fn add(
        &mut self,
        ns: &str,
        name: &str,
        dims: &[(&str, &str)],
        ts: i64,
        value: f64,
        unit: &'static str,
    ) {
        self.add_at(ns, name, dims, ts, value, unit, true);
    }

    /// A per-task or per-container series: at the tasks' resolution.
    pub(crate) fn add_task(
        &mut self,
        ns: &str,
        name: &str,
        dims: &[(&str, &str)],
        ts: i64,
        value: f64,
        unit: &'static str,
    ) {
        let high = self.task_high_resolution;
        self.add_at(ns, name, dims, ts, value, unit, high);
    }

    #[allow(clippy::too_many_arguments)]
    fn add_at(
        &mut self,
        ns: &str,
        name: &str,
        dims: &[(&str, &str)],
        ts: i64,
        value: f64,
        unit: &'static str,
        high_resolution: bool,
    ) {
        let key = self.keys.get(ns, name, dims);
        match self.index.entry(Arc::as_ptr(&key) as usize) {
            std::collections::hash_map::Entry::Occupied(at) => {
                self.points[*at.get()].values.push(value);
            }
            std::collections::hash_map::Entry::Vacant(at) => {
                at.insert(self.points.len());
                self.points.push(Point {
                    key,
                    timestamp: ts,
                    values: vec![value],
                    set: None,
                    unit,
                    high_resolution,
                });
            }
        }
    }

    /// A statistic set (one per series and second).
    pub(crate) fn add_set(
        &mut self,
        ns: &str,
        name: &str,
        dims: &[(&str, &str)],
        ts: i64,
        times: &crate::lb::Times,
        unit: &'static str,
    ) {
        let key = self.keys.get(ns, name, dims);
        self.points.push(Point {
            key,
            timestamp: ts,
            values: Vec::new(),
            set: Some(Agg {
                count: times.count as f64,
                sum: times.sum,
                min: times.min,
                max: times.max,
            }),
            unit,
            high_resolution: true,
        });
    }

    pub(crate) fn into_points(self) -> Vec<Point> {
        self.points
    }

    /// The points, and the key cache back for the next second.
    fn finish(self) -> (Vec<Point>, Keys) {
        (self.points, self.keys)
    }
}

/// Counters of one task at the last reading.
#[derive(Debug, Clone)]
struct Previous {
    cpu_ns: Vec<u64>,
    throttled_ns: Vec<u64>,
    fuel: Vec<u64>,
    instances: Vec<u64>,
    rx: u64,
    tx: u64,
    storage_read: u64,
    storage_write: u64,
}

impl Previous {
    fn of(t: &LiveTask) -> Self {
        Self {
            cpu_ns: t.containers.iter().map(|c| c.cpu_time_ns).collect(),
            throttled_ns: t.containers.iter().map(|c| c.throttled_ns).collect(),
            fuel: t.containers.iter().map(|c| c.fuel_consumed).collect(),
            instances: t.containers.iter().map(|c| c.instances).collect(),
            rx: t.network.rx_bytes,
            tx: t.network.tx_bytes,
            storage_read: t.storage_read_bytes,
            storage_write: t.storage_write_bytes,
        }
    }
}

/// What one task did over the last second.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaskRates {
    /// CPU units used (1024 per vCPU), per container.
    pub cpu_units: Vec<f64>,
    pub throttled_ms: Vec<f64>,
    pub fuel: Vec<f64>,
    pub instances_per_sec: Vec<f64>,
    pub rx_per_sec: f64,
    pub tx_per_sec: f64,
    /// File bytes read and written over the interval (not a rate: ContainerInsights'
    /// `StorageReadBytes` / `StorageWriteBytes` are byte counts, summed over a period).
    pub storage_read_bytes: f64,
    pub storage_write_bytes: f64,
}

impl TaskRates {
    pub(crate) fn cpu_units_total(&self) -> f64 {
        self.cpu_units.iter().sum()
    }
}

/// Turns successive readings into per-second rates; pure, so tests drive it with made-up
/// readings and times.
#[derive(Default)]
pub struct Sampler {
    tasks: FastMap<String, Previous>,
    /// Series keys from one second to the next.
    keys: Keys,
    lb: Vec<crate::lb::CounterTotals>,
    compile_hits: Option<u64>,
    /// Per-task and per-container series only as 1-minute aggregates.
    task_minutes: bool,
}

impl Sampler {
    /// The resolution of the per-task (`TaskId`) and per-container series: 1 (each second)
    /// or 60 (standard resolution, as Container Insights publishes them; the store keeps
    /// the raw values either way). Cluster, service and family series are always 1 s.
    #[must_use]
    pub fn task_resolution(mut self, seconds: u32) -> Self {
        self.task_minutes = seconds >= 60;
        self
    }

    /// The points of one second ending at `ts` (epoch seconds), `elapsed` after the last
    /// reading.
    pub fn sample(
        &mut self,
        ts: i64,
        elapsed: Duration,
        tasks: &[LiveTask],
        lb: Option<(&str, &[crate::lb::GroupReading], &[crate::lb::Times])>,
        compile_hits: u64,
    ) -> Vec<Point> {
        let secs = elapsed.as_secs_f64().max(1e-3);
        let mut batch = Batch {
            task_high_resolution: !self.task_minutes,
            keys: std::mem::take(&mut self.keys),
            ..Batch::default()
        };
        let mut seen = FastMap::with_capacity_and_hasher(tasks.len(), Default::default());
        let mut rated: Vec<(&LiveTask, TaskRates)> = Vec::with_capacity(tasks.len());
        for t in tasks {
            let mut now = Previous::of(t);
            // A task seen for the first time has no rate yet: it counts from the next second.
            // Its file bytes so far (a guest may write before its first reading) go into that
            // second: they are counts, not rates, and would be lost otherwise.
            match self.tasks.get(&t.task_id) {
                Some(prev) => rated.push((t, rates(prev, &now, secs))),
                None => (now.storage_read, now.storage_write) = (0, 0),
            }
            seen.insert(t.task_id.clone(), now);
        }
        self.tasks = seen;
        ecs(&mut batch, ts, &rated);
        insights::publish(&mut batch, ts, tasks, &rated);
        wasmgate(&mut batch, ts, &rated);
        if let Some((lb_dim, groups, times)) = lb {
            elb::publish(&mut batch, ts, lb_dim, groups, times, &self.lb, secs);
            self.lb = groups.iter().map(|g| g.totals).collect();
        }
        let hits = compile_hits.saturating_sub(self.compile_hits.unwrap_or(compile_hits));
        self.compile_hits = Some(compile_hits);
        batch.add(
            "wasmgate",
            "CompileCacheHits",
            &[],
            ts,
            hits as f64,
            "Count",
        );
        let (points, mut keys) = batch.finish();
        keys.end_round();
        self.keys = keys;
        points
    }
}

fn rates(prev: &Previous, now: &Previous, secs: f64) -> TaskRates {
    let per = |a: &[u64], b: &[u64], scale: f64| -> Vec<f64> {
        b.iter()
            .enumerate()
            .map(|(i, &v)| v.saturating_sub(a.get(i).copied().unwrap_or(0)) as f64 * scale / secs)
            .collect()
    };
    TaskRates {
        cpu_units: per(
            &prev.cpu_ns,
            &now.cpu_ns,
            f64::from(crate::runtime::UNITS_PER_VCPU) / 1e9,
        ),
        throttled_ms: per(&prev.throttled_ns, &now.throttled_ns, 1e-6),
        fuel: per(&prev.fuel, &now.fuel, 1.0),
        instances_per_sec: per(&prev.instances, &now.instances, 1.0),
        rx_per_sec: now.rx.saturating_sub(prev.rx) as f64 / secs,
        tx_per_sec: now.tx.saturating_sub(prev.tx) as f64 / secs,
        storage_read_bytes: now.storage_read.saturating_sub(prev.storage_read) as f64,
        storage_write_bytes: now.storage_write.saturating_sub(prev.storage_write) as f64,
    }
}

/// `AWS/ECS`: one utilisation value per running task, per cluster and per service.
fn ecs(batch: &mut Batch, ts: i64, rated: &[(&LiveTask, TaskRates)]) {
    for (t, r) in rated.iter().filter(|(t, _)| t.is_running()) {
        let cpu = if t.cpu_units > 0 {
            r.cpu_units_total() * 100.0 / f64::from(t.cpu_units)
        } else {
            0.0
        };
        let mem = if t.memory_mib > 0 {
            t.memory_bytes as f64 * 100.0 / (t.memory_mib as f64 * MIB)
        } else {
            0.0
        };
        let mut sets: Vec<Vec<(&str, &str)>> = vec![vec![("ClusterName", t.cluster.as_str())]];
        if let Some(s) = &t.service {
            sets.push(vec![
                ("ClusterName", t.cluster.as_str()),
                ("ServiceName", s.as_str()),
            ]);
        }
        for dims in &sets {
            batch.add("AWS/ECS", "CPUUtilization", dims, ts, cpu, "Percent");
            batch.add("AWS/ECS", "MemoryUtilization", dims, ts, mem, "Percent");
        }
    }
}

/// `wasmgate`: per container (`ClusterName, TaskDefinitionFamily, TaskId, ContainerName`)
/// and summed per service (`ClusterName, ServiceName`).
fn wasmgate(batch: &mut Batch, ts: i64, rated: &[(&LiveTask, TaskRates)]) {
    for (t, r) in rated {
        for (i, c) in t.containers.iter().enumerate() {
            let dims = [
                ("ClusterName", t.cluster.as_str()),
                ("TaskDefinitionFamily", t.family.as_str()),
                ("TaskId", t.task_id.as_str()),
                ("ContainerName", c.name.as_str()),
            ];
            let at = |v: &[f64]| v.get(i).copied().unwrap_or(0.0);
            // Only a container that counts fuel has a figure (0 would be a false one).
            if c.counts_fuel {
                batch.add_task("wasmgate", "FuelConsumed", &dims, ts, at(&r.fuel), "Count");
            }
            batch.add_task(
                "wasmgate",
                "CpuThrottledTime",
                &dims,
                ts,
                at(&r.throttled_ms),
                "Milliseconds",
            );
            batch.add_task(
                "wasmgate",
                "LinearMemoryBytes",
                &dims,
                ts,
                c.memory_bytes as f64,
                "Bytes",
            );
            if c.http {
                batch.add_task(
                    "wasmgate",
                    "InstancesPerSecond",
                    &dims,
                    ts,
                    at(&r.instances_per_sec),
                    "Count/Second",
                );
            }
        }
        if let Some(s) = &t.service {
            let dims = [
                ("ClusterName", t.cluster.as_str()),
                ("ServiceName", s.as_str()),
            ];
            let fuel: f64 = r.fuel.iter().sum();
            let throttled: f64 = r.throttled_ms.iter().sum();
            if t.containers.iter().any(|c| c.counts_fuel) {
                batch.add("wasmgate", "FuelConsumed", &dims, ts, fuel, "Count");
            }
            batch.add(
                "wasmgate",
                "CpuThrottledTime",
                &dims,
                ts,
                throttled,
                "Milliseconds",
            );
        }
    }
}

/// Writes `points` in one batch; a refusal (the store's caps) is logged, never fatal.
pub fn write(store: &MetricStore, points: &[Point]) {
    if points.is_empty() {
        return;
    }
    let data: Vec<Datum<'_>> = points
        .iter()
        .map(|p| Datum {
            key: &p.key,
            timestamp: p.timestamp,
            values: match (p.set, p.values.as_slice()) {
                (Some(set), _) => Values::Set(set),
                (None, [one]) => Values::One(*one),
                (None, many) => Values::Many {
                    values: many,
                    counts: &[],
                },
            },
            unit: p.unit,
            high_resolution: p.high_resolution,
        })
        .collect();
    // The store bounds one request to an eighth of its size: large hosts write in parts.
    for chunk in data.chunks(4096) {
        if let Err(e) = store.insert(chunk) {
            tracing::warn!("metrics publisher: {e}");
        }
    }
}

/// The background publisher of `serve`.
pub struct Publisher {
    pub store: MetricStore,
    pub runtime: Runtime,
    pub lb: Option<LoadBalancer>,
    pub state: Arc<dyn StateStore>,
    /// `[metrics] task_resolution_seconds` (see [`Sampler::task_resolution`]).
    pub task_resolution_seconds: u32,
}

impl Publisher {
    /// Samples and writes every second, with the services' counts every
    /// [`PUBLISH_EVERY`], until the runtime ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut sampler = Sampler::default().task_resolution(self.task_resolution_seconds);
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last = Instant::now();
            let mut last_counts = Instant::now();
            loop {
                tick.tick().await;
                let now = Instant::now();
                let ts = super::store::now_secs();
                let tasks = self.runtime.live_tasks();
                let lb = self
                    .lb
                    .as_ref()
                    .map(|lb| (lb.dimension(), lb.readings(), lb.take_response_times()));
                let mut points = sampler.sample(
                    ts,
                    now - last,
                    &tasks,
                    lb.as_ref()
                        .map(|(d, g, t)| (d.as_str(), g.as_slice(), t.as_slice())),
                    self.runtime.compile_cache_hits(),
                );
                drop((tasks, lb));
                last = now;
                if now - last_counts >= PUBLISH_EVERY {
                    last_counts = now;
                    let state = self.state.clone();
                    let counts =
                        tokio::task::spawn_blocking(move || insights::service_counts(&*state, ts))
                            .await
                            .unwrap_or_default();
                    points.extend(counts);
                }
                let store = self.store.clone();
                let _ = tokio::task::spawn_blocking(move || write(&store, &points)).await;
            }
        })
    }
}

pub(crate) fn gib(bytes: u64) -> f64 {
    bytes as f64 / GIB
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}
