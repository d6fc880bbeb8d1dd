//! The periodic pass that deletes expired events and brings the store back under its cap
//! (a cap lowered in the config, or eviction a single write left unfinished).
//!
//! A plain thread, so the store needs no async runtime; it holds the store weakly and ends
//! as soon as the last handle to the store is dropped.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use super::LogStore;
use crate::util::sync::lock;

impl LogStore {
    /// Sweeps now and then every `every`, until the store is dropped. A second call
    /// replaces the first sweeper.
    pub fn start_sweeper(&self, every: Duration) {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        *lock(&self.inner().sweeper_stop) = Some(stop_tx);
        let weak = Arc::downgrade(self.inner());
        let spawned = std::thread::Builder::new()
            .name("log-sweeper".into())
            .spawn(move || {
                loop {
                    let Some(inner) = weak.upgrade() else { return };
                    LogStore::from_inner(inner).sweep_once();
                    match stop_rx.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => {}
                        // The store is gone (or a newer sweeper took over).
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the log retention sweeper: {e}");
        }
    }

    /// One pass: expired events, then the cap. Errors are logged and retried next pass.
    pub fn sweep_once(&self) {
        match self.sweep_expired() {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "log retention: deleted expired events"),
            Err(e) => tracing::error!("log retention sweep failed: {e}"),
        }
        if let Err(e) = self.enforce_max_bytes() {
            tracing::error!("log store cap enforcement failed: {e}");
        }
    }
}
