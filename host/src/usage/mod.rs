//! Metering and cost (issue 14, item 5): a usage record per task in the state store
//! (`record`), written by the meter `serve` runs (`meter`), and the bill over them
//! (`bill`): provisioned vCPU- and GB-seconds, billed per second with a one-minute
//! minimum, beside what was really used (CPU seconds, fuel, memory, storage, requests);
//! and the feed of `wasmgate stats` (`stats`), from the same once-a-second reading of
//! `Runtime::live_tasks`.

pub mod bill;
pub mod meter;
pub mod record;
pub mod stats;

pub use bill::{GroupBy, Prices, Query, Report, Usage, billed_ms};
pub use meter::{Finals, Meter, TaskReading, heartbeat, records, recover};
pub use record::{Closed, Heartbeat, UsageRecord};

use crate::runtime::live::LiveTask;
use crate::util::sync::lock;
use crate::util::time::now_ms;
use stats::Publisher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often running tasks are read (memory's average is integrated over readings, the
/// stats feed's rates are per reading).
pub const SAMPLE: Duration = Duration::from_secs(1);

/// Where the host's live tasks are read from (`Runtime::live_tasks`).
pub type LiveSource = Arc<dyn Fn() -> Vec<LiveTask> + Send + Sync>;

/// A live task's cumulative meters as the meter counts them. Peak memory is the sum of
/// its containers' peaks (exact for one container, an upper bound for several); requests
/// are the instances of its HTTP containers (one per request).
pub fn reading(t: &LiveTask) -> TaskReading {
    TaskReading {
        task_id: t.task_id.clone(),
        cpu_ns: t.cpu_time_ns(),
        fuel: t.containers.iter().map(|c| c.fuel_consumed).sum(),
        memory_bytes: t.memory_bytes,
        memory_peak_bytes: t.containers.iter().map(|c| c.memory_peak_bytes).sum(),
        memory_byte_seconds: t.memory_byte_seconds,
        memory_ms: t.memory_ms,
        storage_bytes: t.storage_used_bytes,
        storage_read_bytes: t.storage_read_bytes,
        storage_write_bytes: t.storage_write_bytes,
        requests: t
            .containers
            .iter()
            .filter(|c| c.http)
            .map(|c| c.instances)
            .sum(),
    }
}

/// The background loop; [`finish`](Self::finish) syncs the meter a last time. Dropping it
/// stops the loop.
pub struct MeterHandle {
    meter: Option<Arc<Mutex<Meter>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Every [`SAMPLE`]: reads `source`, feeds the meter (if any) and the stats feed; every
/// `heartbeat`, syncs the meter with the store. Must be called within a tokio runtime.
pub fn spawn(
    meter: Option<Meter>,
    mut feed: Publisher,
    source: LiveSource,
    heartbeat: Duration,
) -> MeterHandle {
    let meter = meter.map(|m| Arc::new(Mutex::new(m)));
    let m = meter.clone();
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SAMPLE);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sync: Option<tokio::time::Instant> = None;
        loop {
            ticks.tick().await;
            let tasks = source();
            let now = now_ms();
            feed.publish(&tasks, now);
            let Some(m) = &m else { continue };
            let readings: Vec<TaskReading> = tasks.iter().map(reading).collect();
            // While a sync holds the meter (store writes), this reading is skipped: the
            // next one integrates over the gap.
            match m.try_lock() {
                Ok(mut meter) => meter.sample(now, &readings),
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().sample(now, &readings),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if last_sync.is_some_and(|t| t.elapsed() < heartbeat) {
                continue;
            }
            last_sync = Some(tokio::time::Instant::now());
            sync(m).await;
        }
    });
    MeterHandle { meter, task }
}

async fn sync(meter: &Arc<Mutex<Meter>>) {
    let m = meter.clone();
    match tokio::task::spawn_blocking(move || lock(&m).sync(now_ms())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("usage meter: {e}"),
        Err(e) => tracing::warn!("usage meter: {e}"),
    }
}

impl MeterHandle {
    /// Stops the loop and writes every record once more (tasks stopped by a shutdown
    /// close at their STOPPED).
    pub async fn finish(self) {
        self.task.abort();
        if let Some(m) = &self.meter {
            sync(m).await;
        }
    }
}

impl Drop for MeterHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
