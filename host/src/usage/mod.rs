//! Metering and cost (issue 14, item 5): a usage record per task in the state store
//! (`record`), written by the meter `serve` runs (`meter`), and the bill over them
//! (`bill`): provisioned vCPU- and GB-seconds, billed per second with a one-minute
//! minimum, beside what was really used (CPU seconds, fuel, memory, storage, requests).

pub mod bill;
pub mod meter;
pub mod record;

pub use bill::{GroupBy, Prices, Query, Report, Usage, billed_ms};
pub use meter::{Meter, TaskReading, heartbeat, records, recover};
pub use record::{Closed, Heartbeat, UsageRecord};

use crate::util::sync::lock;
use crate::util::time::now_ms;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often running tasks are sampled (memory's average is integrated over samples).
pub const SAMPLE: Duration = Duration::from_secs(1);

/// Where the meter reads running tasks' meters from.
pub type ReadingSource = Arc<dyn Fn() -> Vec<TaskReading> + Send + Sync>;

/// The meter running in the background; [`finish`](Self::finish) syncs a last time.
pub struct MeterHandle {
    meter: Arc<Mutex<Meter>>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs `meter` until [`MeterHandle::finish`]: samples `source` every [`SAMPLE`], syncs
/// with the store every `heartbeat`. Must be called within a tokio runtime.
pub fn spawn(meter: Meter, source: ReadingSource, heartbeat: Duration) -> MeterHandle {
    let meter = Arc::new(Mutex::new(meter));
    let m = meter.clone();
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SAMPLE.min(heartbeat));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sync: Option<tokio::time::Instant> = None;
        loop {
            ticks.tick().await;
            let readings = source();
            // While a sync holds the meter (store writes), this sample is skipped: the
            // next one integrates over the gap.
            match m.try_lock() {
                Ok(mut meter) => meter.sample(now_ms(), &readings),
                Err(std::sync::TryLockError::Poisoned(p)) => {
                    p.into_inner().sample(now_ms(), &readings);
                }
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if last_sync.is_some_and(|t| t.elapsed() < heartbeat) {
                continue;
            }
            last_sync = Some(tokio::time::Instant::now());
            sync(&m).await;
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
    /// Stops sampling and writes every record once more (tasks stopped by a shutdown
    /// close at their STOPPED).
    pub async fn finish(self) {
        self.task.abort();
        sync(&self.meter).await;
    }
}
