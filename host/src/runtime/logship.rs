//! Ships a task's output lines to where they belong: the console of `wasmgate run` and, for
//! containers with an `awslogs` log configuration, the embedded log store.
//!
//! Lines are written to the store in batches and only then released from their stream's
//! output budget, so a slow sink slows the guest instead of growing host memory. What a
//! task may log at all is capped before lines get here (`logbudget`).

use super::stdio::{LogLine, QueuedLine};
use crate::logs::{LogDestination, LogEvent, LogStore};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where `wasmgate run` prints lines; the API server has none.
pub trait Console: Send + Sync {
    fn line(&self, task_id: &str, line: &LogLine);
}

const BATCH: usize = 1024;
/// What the batch keeps between bursts: a full one is ~72 KiB, which every idle task held
/// (most of its host memory) when it was allocated up front.
const IDLE_CAPACITY: usize = 16;

pub struct LogShipper {
    pub task_id: String,
    pub rx: mpsc::Receiver<QueuedLine>,
    pub console: Option<Arc<dyn Console>>,
    pub store: LogStore,
    /// Store destinations by container name; containers without one go to the console only.
    pub destinations: HashMap<Arc<str>, LogDestination>,
}

impl LogShipper {
    /// Runs until every container's output handle is gone, then returns lines it could not store.
    pub async fn run(mut self) -> u64 {
        let mut failed = 0;
        // Grows with a burst and shrinks after it: a quiet task holds almost nothing.
        let mut batch = Vec::new();
        while let Some(first) = self.rx.recv().await {
            batch.push(first);
            while batch.len() < BATCH {
                match self.rx.try_recv() {
                    Ok(q) => batch.push(q),
                    Err(_) => break,
                }
            }
            if let Some(console) = &self.console {
                for q in &batch {
                    console.line(&self.task_id, &q.line);
                }
            }
            failed += self.store_batch(&batch).await;
            for q in batch.drain(..) {
                q.shipped();
            }
            batch.shrink_to(IDLE_CAPACITY);
        }
        failed
    }

    async fn store_batch(&self, batch: &[QueuedLine]) -> u64 {
        let mut by_dest: HashMap<(&str, &str), Vec<LogEvent>> = HashMap::new();
        for q in batch {
            if let Some(dest) = self.destinations.get(&q.line.container) {
                by_dest
                    .entry((dest.group.as_str(), dest.stream.as_str()))
                    .or_default()
                    .push(LogEvent {
                        timestamp_ms: q.line.timestamp_ms,
                        message: q.line.message.clone(),
                    });
            }
        }
        let mut failed = 0;
        for ((group, stream), events) in by_dest {
            let store = self.store.clone();
            let (group, stream) = (group.to_owned(), stream.to_owned());
            let n = events.len() as u64;
            let r = tokio::task::spawn_blocking(move || store.put_events(&group, &stream, &events))
                .await;
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!("cannot store {n} log lines: {e}");
                    failed += n;
                }
                Err(e) => {
                    tracing::error!("log writer failed: {e}");
                    failed += n;
                }
            }
        }
        failed
    }
}
