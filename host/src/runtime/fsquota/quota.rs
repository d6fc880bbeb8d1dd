//! The task-wide byte budget and its on-demand re-measurement.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::paths::PathLimits;
use super::tree;
use crate::util::sync::lock;

/// Allocation granularity assumed for charges: file systems allocate whole blocks, so
/// charging raw byte counts would let sparse one-byte writes use 4096 times their charge.
pub(crate) const BLOCK: u64 = 4096;

const MIB: u64 = 1 << 20;

/// A re-measure is host work the guest does not pay for: after a walk that took `t`, the
/// task's next one waits until `PACE * t` has passed (the writer that needs it waits), so
/// one task's walks use at most 1/(PACE+1) of a host thread however it writes and deletes.
const PACE: u32 = 4;

/// What a task's file system may hold and how the host checks it (`[storage]` config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsLimits {
    /// How deep and long the guest's paths may get.
    pub paths: PathLimits,
    /// Entries a re-measure walks at most; past them the write that needed it is refused.
    pub measure_max_entries: u64,
}

impl FsLimits {
    /// The limits the operator configured in `[storage]`.
    pub fn from_config(c: &crate::config::StorageConfig) -> Self {
        Self {
            paths: PathLimits {
                max_depth: c.max_path_depth.get(),
                max_bytes: c.max_path_bytes.get(),
            },
            measure_max_entries: c.measure_max_entries.get(),
        }
    }
}

impl Default for FsLimits {
    fn default() -> Self {
        Self {
            paths: PathLimits::default(),
            measure_max_entries: 1_000_000,
        }
    }
}

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
///
/// The estimate only goes down after a complete walk that no rename or link overlapped: a
/// walk that fails (an unreadable directory, too many entries) leaves it as it was, so the
/// write that needed the walk is refused; one that a guest may have raced by moving files
/// from unwalked to walked directories can only raise it.
pub struct StorageQuota {
    limit_bytes: u64,
    root: PathBuf,
    /// `root` as the kernel names it, to place open directories below it.
    canonical_root: PathBuf,
    limits: FsLimits,
    ledger: Mutex<Ledger>,
    /// Completed re-measures, so writers that queued behind one reuse its result.
    measures: AtomicU64,
    /// Serialises walks of `root` (one at a time bounds the I/O they cost) and paces them.
    measure_lock: tokio::sync::Mutex<Pace>,
    /// Bumped before and after every rename and link a guest makes.
    moves: AtomicU64,
    /// Whether a path past the caps was refused yet (the operator is told once).
    path_refused: AtomicBool,
    exceeded: watch::Sender<bool>,
    /// Bytes the task's containers read from and wrote to their files (any preopen),
    /// as ContainerInsights' `StorageReadBytes` / `StorageWriteBytes` count them.
    read_bytes: AtomicU64,
    written_bytes: AtomicU64,
}

/// When the next walk may start.
#[derive(Default)]
struct Pace {
    not_before: Option<Instant>,
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
        Self::with_limits(root, limit_bytes, FsLimits::default())
    }

    /// A budget with these path caps and walk bounds.
    pub fn with_limits(root: PathBuf, limit_bytes: u64, limits: FsLimits) -> Arc<Self> {
        let canonical_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
        Arc::new(Self {
            limit_bytes,
            root,
            canonical_root,
            limits,
            ledger: Mutex::new(Ledger::default()),
            measures: AtomicU64::new(0),
            measure_lock: tokio::sync::Mutex::new(Pace::default()),
            moves: AtomicU64::new(0),
            path_refused: AtomicBool::new(false),
            exceeded: watch::Sender::new(false),
            read_bytes: AtomicU64::new(0),
            written_bytes: AtomicU64::new(0),
        })
    }

    pub fn limits(&self) -> &FsLimits {
        &self.limits
    }

    /// The task directory as the kernel names it (symlinks resolved).
    pub(crate) fn canonical_root(&self) -> &Path {
        &self.canonical_root
    }

    /// Tells the operator, once per task, that a guest went past the path caps.
    pub(crate) fn note_path_refused(&self, what: &str) {
        if !self.path_refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                root = %self.root.display(),
                max_depth = self.limits.paths.max_depth,
                max_bytes = self.limits.paths.max_bytes,
                "{what}: a guest path past the caps on directory depth or path length was \
                 refused with name-too-long (storage.max_path_depth, storage.max_path_bytes)"
            );
        }
    }

    /// Call before and after a rename or link: a walk overlapping it must not lower the
    /// estimate, since what moved may have been missed.
    pub(crate) fn note_move(&self) {
        self.moves.fetch_add(1, Ordering::AcqRel);
    }

    /// Current estimate: at least the real usage, pessimistic until the next re-measure.
    pub fn used_bytes(&self) -> u64 {
        self.ledger().used
    }

    pub fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    /// Counts `n` bytes a guest read from a file.
    pub(crate) fn note_read(&self, n: u64) {
        self.read_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` bytes a guest wrote to a file.
    pub(crate) fn note_written(&self, n: u64) {
        self.written_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes read from files since the task started.
    pub fn read_bytes(&self) -> u64 {
        self.read_bytes.load(Ordering::Relaxed)
    }

    /// Bytes written to files since the task started (what the guest wrote, not the
    /// blocks charged).
    pub fn written_bytes(&self) -> u64 {
        self.written_bytes.load(Ordering::Relaxed)
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
        let mut pace = self.measure_lock.lock().await;
        self.walk_and_reset(&mut pace).await
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
            let mut walking = self.measure_lock.lock().await;
            // Someone else re-measured while we queued: their result is fresh enough.
            if self.measures.load(Ordering::Acquire) == seen
                && let Err(e) = self.walk_and_reset(&mut walking).await
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

    /// Caller holds `measure_lock` (whose guard is `pace`).
    async fn walk_and_reset(&self, pace: &mut Pace) -> io::Result<u64> {
        if let Some(at) = pace.not_before {
            tokio::time::sleep_until(at).await;
        }
        let moves_at_start = self.moves.load(Ordering::Acquire);
        let in_flight_at_start = {
            let mut ledger = self.ledger();
            ledger.reserved_since_walk = 0;
            ledger.in_flight
        };
        let (root, max_entries) = (self.root.clone(), self.limits.measure_max_entries);
        let started = Instant::now();
        let walked = tokio::task::spawn_blocking(move || tree::measure(&root, max_entries))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r);
        let took = started.elapsed();
        pace.not_before = Some(Instant::now() + took.saturating_mul(PACE));
        self.measures.fetch_add(1, Ordering::AcqRel);
        if took > Duration::from_secs(1) {
            tracing::info!(root = %self.root.display(), ?took, "slow storage re-measure");
        }
        let on_disk = walked?;
        let raced = self.moves.load(Ordering::Acquire) != moves_at_start;
        let mut ledger = self.ledger();
        // Writes in flight at the start or reserved since may be missing from the walk;
        // counting them again is pessimistic but never lets usage slip under the radar.
        let measured = on_disk
            .saturating_add(in_flight_at_start)
            .saturating_add(ledger.reserved_since_walk);
        ledger.used = match raced {
            true => ledger.used.max(measured),
            false => measured,
        };
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
        lock(&self.ledger)
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
/// followed, hard links count once, other file systems mounted inside are skipped, and
/// every entry counts at least a block. Walks by descriptors, so no depth hides anything.
#[cfg(test)]
pub(crate) fn disk_usage(root: &Path) -> io::Result<u64> {
    tree::measure(root, u64::MAX)
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
