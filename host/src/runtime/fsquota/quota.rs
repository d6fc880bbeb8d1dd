//! The task-wide byte budget and its on-demand re-measurement.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// Allocation granularity assumed for charges: file systems allocate whole blocks, so
/// charging raw byte counts would let sparse one-byte writes use 4096 times their charge.
pub(crate) const BLOCK: u64 = 4096;

const MIB: u64 = 1 << 20;

/// Counters that must change together; a mutex (held for a few instructions, never across
/// an await) keeps a reservation and a re-measure from interleaving half-way.
#[derive(Default)]
struct Ledger {
    /// Bytes believed to be on disk plus all outstanding reservations.
    used: u64,
    /// Reservations whose writes may still be landing on disk.
    in_flight: u64,
    /// Bytes reserved since the current re-measure began: the walk may have missed them.
    reserved_since_walk: u64,
}

/// Storage budget shared by all containers of one task.
///
/// Writes reserve space before they happen, so concurrent writers (in any container) cannot
/// race past the limit together. Charges never shrink on overwrite, truncation or deletion:
/// those are credited lazily, when a write would not fit and [`StorageQuota::remeasure`]
/// replaces the estimate with the real allocated size of `root`. Only `root` is walked:
/// writes to preopens outside it (operator-enabled host bind mounts) are charged, then
/// forgotten by the next re-measure.
pub struct StorageQuota {
    limit_bytes: u64,
    root: PathBuf,
    ledger: Mutex<Ledger>,
    /// Completed re-measures, so writers that queued behind one reuse its result.
    measures: AtomicU64,
    /// Serialises walks of `root`: one at a time is enough and bounds the I/O they cost.
    measure_lock: tokio::sync::Mutex<()>,
    exceeded: watch::Sender<bool>,
}

impl std::fmt::Debug for StorageQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageQuota")
            .field("root", &self.root)
            .field("limit_bytes", &self.limit_bytes)
            .field("used_bytes", &self.used_bytes())
            .field("exceeded", &self.is_exceeded())
            .finish()
    }
}

impl StorageQuota {
    /// A budget of `limit_bytes` for everything under `root` (the task directory). Starts
    /// at zero: call [`StorageQuota::remeasure`] if `root` already holds data to count.
    pub fn new(root: PathBuf, limit_bytes: u64) -> Arc<Self> {
        Arc::new(Self {
            limit_bytes,
            root,
            ledger: Mutex::new(Ledger::default()),
            measures: AtomicU64::new(0),
            measure_lock: tokio::sync::Mutex::new(()),
            exceeded: watch::Sender::new(false),
        })
    }

    /// Current estimate: at least the real usage, pessimistic until the next re-measure.
    pub fn used_bytes(&self) -> u64 {
        self.ledger().used
    }

    pub fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    /// The task directory whose contents are measured.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves once a write was refused for lack of quota (immediately if one already was),
    /// so the runtime can stop the task with [`StorageQuota::stop_reason`].
    pub async fn exceeded(&self) {
        let mut rx = self.exceeded.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|refused| *refused).await;
    }

    /// Whether a write has been refused for lack of quota.
    pub fn is_exceeded(&self) -> bool {
        *self.exceeded.borrow()
    }

    /// The reason a task that exceeded its quota is stopped with.
    pub fn stop_reason(&self) -> String {
        format!(
            "EphemeralStorageExceeded: task storage exceeded its limit of {} MiB",
            self.limit_bytes / MIB
        )
    }

    /// Walks `root` now and replaces the estimate with the allocated size found (plus
    /// writes still in flight). Returns the new estimate.
    pub async fn remeasure(&self) -> io::Result<u64> {
        let _walking = self.measure_lock.lock().await;
        self.walk_and_reset().await
    }

    /// Reserves `bytes` if they fit in the current estimate, without re-measuring.
    pub(crate) fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        if bytes > 0 {
            let mut ledger = self.ledger();
            let used = ledger.used.checked_add(bytes)?;
            if used > self.limit_bytes {
                return None;
            }
            ledger.used = used;
            ledger.in_flight += bytes;
            ledger.reserved_since_walk = ledger.reserved_since_walk.saturating_add(bytes);
        }
        Some(Reservation {
            quota: self.clone(),
            bytes,
        })
    }

    /// Reserves `bytes`, re-measuring once if the estimate says they do not fit. On refusal
    /// fires [`StorageQuota::exceeded`] and returns `None`.
    ///
    /// Once a write has been refused the task is being stopped, so later misses are refused
    /// without another walk: a guest retrying in a loop must not turn each retry into a scan
    /// of the whole task directory.
    pub(crate) async fn reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        let seen = self.measures.load(Ordering::Acquire);
        if let Some(reservation) = self.try_reserve(bytes) {
            return Some(reservation);
        }
        if bytes <= self.limit_bytes && !self.is_exceeded() {
            let walking = self.measure_lock.lock().await;
            // Someone else re-measured while we queued: their result is fresh enough.
            if self.measures.load(Ordering::Acquire) == seen
                && let Err(e) = self.walk_and_reset().await
            {
                tracing::warn!(root = %self.root.display(), "storage re-measure failed: {e}");
            }
            drop(walking);
            if let Some(reservation) = self.try_reserve(bytes) {
                return Some(reservation);
            }
        }
        if !self.exceeded.send_replace(true) {
            tracing::warn!(
                root = %self.root.display(),
                limit_bytes = self.limit_bytes,
                used_bytes = self.used_bytes(),
                refused_bytes = bytes,
                "task storage quota exceeded"
            );
        }
        None
    }

    /// Caller holds `measure_lock`.
    async fn walk_and_reset(&self) -> io::Result<u64> {
        let in_flight_at_start = {
            let mut ledger = self.ledger();
            ledger.reserved_since_walk = 0;
            ledger.in_flight
        };
        let root = self.root.clone();
        let walked = tokio::task::spawn_blocking(move || disk_usage(&root))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r);
        self.measures.fetch_add(1, Ordering::AcqRel);
        let on_disk = walked?;
        let mut ledger = self.ledger();
        // Writes in flight at the start or reserved since may be missing from the walk;
        // counting them again is pessimistic but never lets usage slip under the radar.
        ledger.used = on_disk
            .saturating_add(in_flight_at_start)
            .saturating_add(ledger.reserved_since_walk);
        Ok(ledger.used)
    }

    fn settle(&self, bytes: u64, keep: bool) {
        let mut ledger = self.ledger();
        ledger.in_flight = ledger.in_flight.saturating_sub(bytes);
        if !keep {
            ledger.used = ledger.used.saturating_sub(bytes);
        }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // Nothing panics while holding the lock, and the counters stay usable regardless.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Space set aside for one write. Dropping it keeps the charge (the write happened, or may
/// have partly happened); [`Reservation::release`] returns it when nothing was written.
#[must_use]
pub(crate) struct Reservation {
    quota: Arc<StorageQuota>,
    bytes: u64,
}

impl Reservation {
    pub(crate) fn release(mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        self.quota.settle(bytes, false);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.quota.settle(self.bytes, true);
        }
    }
}

/// Allocated bytes under `root` (not counting `root` itself), like `du -x`: symlinks are not
/// followed, hard links count once, other file systems mounted inside are skipped.
pub(crate) fn disk_usage(root: &Path) -> io::Result<u64> {
    let dev = std::fs::symlink_metadata(root)?.dev();
    let mut linked = HashSet::new();
    let mut total = 0u64;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if dir == root => return Err(e),
            // Removed or made unreadable mid-walk by a running guest: nothing to count.
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            // `DirEntry::metadata` does not follow symlinks.
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != dev {
                continue;
            }
            if !meta.is_dir() && meta.nlink() > 1 && !linked.insert(meta.ino()) {
                continue;
            }
            total = total.saturating_add(entry_bytes(&meta));
            if meta.is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    Ok(total)
}

/// At least one block per entry, matching the creation charge: otherwise empty files would
/// be credited back and a guest could exhaust inodes for free.
fn entry_bytes(meta: &std::fs::Metadata) -> u64 {
    meta.blocks().saturating_mul(512).max(BLOCK)
}

/// Bytes of whole blocks touched by writing `len` bytes at `offset`.
pub(crate) fn blocks_touched(offset: u64, len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    let first = offset / BLOCK;
    let last = offset.saturating_add(len - 1) / BLOCK;
    (last - first + 1).saturating_mul(BLOCK)
}

/// Bytes of new blocks needed to grow a file from `from` to `to` bytes.
pub(crate) fn growth(from: u64, to: u64) -> u64 {
    let blocks = |n: u64| n.div_ceil(BLOCK);
    blocks(to)
        .saturating_sub(blocks(from))
        .saturating_mul(BLOCK)
}
