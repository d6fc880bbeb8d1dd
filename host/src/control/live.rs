//! Tasks this host runs: their handles, and the watcher that writes every change of a
//! task's snapshot to the store until it is STOPPED.

use super::Core;
use super::error::Result;
use super::recovery;
use super::shape::{self, StopRequest, TaskMeta};
use crate::runtime::{StopCode, TaskHandle, TaskStatus};
use crate::util::sync::lock;
use crate::util::time::now_ms;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the driver ending without a STOPPED snapshot is recorded as.
const DRIVER_LOST: &str = "Host error: the task's driver ended unexpectedly";

pub(crate) struct LiveTask {
    pub meta: TaskMeta,
    pub handle: TaskHandle,
    /// A stop asked for through the API, shown at once even before the runtime acts on it.
    stop: Mutex<Option<StopRequest>>,
    /// Serialises writes of this task so that versions only ever increase.
    writer: tokio::sync::Mutex<Written>,
}

#[derive(Default)]
struct Written {
    version: u64,
    /// Whether the last write was durable (a progress write may not be yet).
    durable: bool,
    /// The last shape written (with its version), as JSON text: enough to tell whether
    /// anything changed, at a tenth of the memory of a `Value` tree, of which an idle
    /// host would otherwise hold one per task.
    text: Option<Box<str>>,
}

impl LiveTask {
    pub fn new(meta: TaskMeta, mut handle: TaskHandle) -> Self {
        // The snapshot says all the control plane needs; an unread event stream would
        // only hold memory.
        drop(handle.take_events());
        Self {
            meta,
            handle,
            stop: Mutex::new(None),
            writer: tokio::sync::Mutex::new(Written::default()),
        }
    }

    pub fn stop_request(&self) -> Option<StopRequest> {
        lock(&self.stop).clone()
    }

    /// Asks the runtime to stop the task. The first stop asked for is the one reported;
    /// a task already stopping keeps its reason.
    pub fn request_stop(&self, code: StopCode, reason: String) {
        {
            let mut stop = lock(&self.stop);
            if stop.is_some() || self.handle.snapshot().desired_status == TaskStatus::Stopped {
                return;
            }
            *stop = Some(StopRequest {
                code,
                reason: reason.clone(),
            });
        }
        self.handle.stop(code, reason);
    }
}

/// How durable a write of a task must be when `persist` returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Durability {
    /// About to be answered to a caller (RunTask, StopTask) or final (STOPPED): on disk.
    Acknowledged,
    /// A transition the watcher saw and nobody was told of: visible to readers at once,
    /// durable with the next acknowledged write (see `StateStore::put_task_progress`).
    Progress,
}

/// Writes the task's current shape to the store if it changed since the last write
/// (bumping `version`), or if it is the same but must now be durable; returns the shape
/// as written.
pub async fn persist(core: &Core, task: &LiveTask, durability: Durability) -> Result<Value> {
    let mut written = task.writer.lock().await;
    let snap = task.handle.snapshot();
    let stop = task.stop_request();
    let shape_at =
        |version| shape::task_json(&core.arns, &task.meta, &snap, stop.as_ref(), version);
    let acknowledged = durability == Durability::Acknowledged;
    let unchanged = shape_at(written.version);
    if written.text.as_deref() == Some(unchanged.to_string().as_str()) {
        if acknowledged && !written.durable {
            // Written by the watcher without an fsync: write it again, durably.
            let record = shape::record(&task.meta, &snap, unchanged.clone());
            core.db(move |s| s.put_task(&record)).await?;
            written.durable = true;
        }
        return Ok(unchanged);
    }
    let version = written.version + 1;
    let current = shape_at(version);
    let record = shape::record(&task.meta, &snap, current.clone());
    if acknowledged {
        core.db(move |s| s.put_task(&record)).await?;
    } else {
        core.db(move |s| s.put_task_progress(&record)).await?;
    }
    written.durable = acknowledged;
    written.version = version;
    written.text = Some(current.to_string().into());
    Ok(current)
}

/// Watches `task` until it is STOPPED, writing each change, then drops it from `live`.
pub fn spawn_watcher(core: Arc<Core>, task: Arc<LiveTask>) {
    let mut rx = task.handle.watch();
    let by = task
        .meta
        .started_by
        .as_deref()
        .map(|b| format!(" by {b}"))
        .unwrap_or_default();
    tracing::info!(
        "task {} ({}:{}) started{by}",
        task.meta.task_id,
        task.meta.family,
        task.meta.revision
    );
    tokio::spawn(async move {
        loop {
            let stopped = rx.borrow_and_update().last_status == TaskStatus::Stopped;
            if stopped {
                persist_final(&core, &task).await;
                log_stopped(&task);
                break;
            }
            if let Err(e) = persist(&core, &task, Durability::Progress).await {
                tracing::warn!("cannot record task {}: {e}", task.meta.task_id);
            }
            if rx.changed().await.is_err() {
                // The driver is gone. Its last word may still be STOPPED; if it is not,
                // the task is lost and is recorded so.
                if task.handle.snapshot().last_status == TaskStatus::Stopped {
                    persist_final(&core, &task).await;
                } else {
                    record_lost(&core, &task).await;
                }
                break;
            }
        }
        core.live().remove(&task.meta.task_id);
        core.live_changed.notify_waiters();
    });
}

/// The host's own line for a stopped task (serve logs starts and stops at info).
fn log_stopped(task: &LiveTask) {
    let s = task.handle.snapshot();
    let code = s.stop_code.map_or("", |c| c.as_str());
    let reason = s.stopped_reason.as_deref().unwrap_or("");
    tracing::info!(
        "task {} ({}:{}) stopped: {code}: {reason}",
        task.meta.task_id,
        task.meta.family,
        task.meta.revision
    );
}

/// The STOPPED write must not be lost to a passing store error: it is retried.
async fn persist_final(core: &Core, task: &LiveTask) {
    for attempt in 1..=5u32 {
        match persist(core, task, Durability::Acknowledged).await {
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(
                    "cannot record that task {} stopped (attempt {attempt}): {e}",
                    task.meta.task_id
                );
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
        }
    }
}

async fn record_lost(core: &Core, task: &LiveTask) {
    let _ = persist(core, task, Durability::Progress).await;
    let id = task.meta.task_id.clone();
    let result = core
        .db(move |s| {
            if let Some(mut record) = s.get_task(&id)? {
                recovery::mark_lost(&mut record, now_ms(), DRIVER_LOST);
                s.put_task(&record)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!("cannot record task {} as lost: {e}", task.meta.task_id);
    }
}
