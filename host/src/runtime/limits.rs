//! Memory limits: a hard cap per container and a hard budget shared by the whole task.
//!
//! `wasmtime::StoreLimits` caps each linear memory on its own, not a component's total, and
//! knows nothing of siblings; this limiter charges every memory and table growth of one
//! container against both its own limit and the task's shared budget.
//!
//! An HTTP container runs one instance (one `Store`) per request; its `memory` limit then
//! applies to the sum of its concurrent instances: each request's limiter charges a budget
//! shared by the container's instances ([`ContainerLimiter::pooled`]) as well as the task's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Why a growth was refused; the container is then killed like the kernel's OOM killer would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OomKilled {
    #[error("container memory limit of {limit} bytes reached (wanted {wanted} bytes)")]
    Container { limit: u64, wanted: u64 },
    #[error("task memory budget of {limit} bytes reached (wanted {wanted} more bytes)")]
    Task { limit: u64, wanted: u64 },
}

/// The task's memory budget, shared by all its containers.
#[derive(Debug)]
pub struct TaskMemory {
    limit: u64,
    used: AtomicU64,
    peak: AtomicU64,
    /// For the exact integral of `used` over time (usage records' average memory):
    /// Σ Δused × t (byte-seconds, t since `born`, f64 bits), so that ∫ = used × now − Σ.
    /// A change costs a clock read and a compare-and-swap, no lock.
    moment: AtomicU64,
    born: Instant,
}

impl TaskMemory {
    pub fn new(limit_bytes: u64) -> Arc<Self> {
        Arc::new(Self {
            limit: limit_bytes,
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            moment: AtomicU64::new(0f64.to_bits()),
            born: Instant::now(),
        })
    }

    /// Memory held integrated over time since the budget was made (byte-seconds), and
    /// that time in ms: their quotient is the exact average.
    pub fn byte_seconds(&self) -> (f64, u64) {
        let elapsed = self.born.elapsed();
        let moment = f64::from_bits(self.moment.load(Ordering::Acquire));
        let integral = self.used() as f64 * elapsed.as_secs_f64() - moment;
        (
            integral.max(0.0),
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        )
    }

    fn note_change(&self, delta: f64) {
        let at = self.born.elapsed().as_secs_f64();
        let _ = self
            .moment
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |m| {
                Some((f64::from_bits(m) + delta * at).to_bits())
            });
    }

    /// Highest total ever reserved at once.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// What is reserved now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn reserve(&self, bytes: u64) -> bool {
        let reserved = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&n| n <= self.limit)
            });
        match reserved {
            Ok(before) => {
                self.peak.fetch_max(before + bytes, Ordering::Relaxed);
                self.note_change(bytes as f64);
                true
            }
            Err(_) => false,
        }
    }

    fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.note_change(-(bytes as f64));
    }
}

/// One container's limiter; lives in its `Store` and gives its memory back when dropped.
#[derive(Debug)]
pub struct ContainerLimiter {
    task: Arc<TaskMemory>,
    /// The container's budget when several stores share it (an HTTP container's requests).
    pool: Option<Arc<TaskMemory>>,
    limit: Option<u64>,
    used: u64,
    peak: u64,
    denial: Option<OomKilled>,
    /// Where the container's current memory is published (its meters' `memory_now`).
    gauge: Option<Arc<AtomicU64>>,
}

/// Table growth is cheap memory but still host memory: bound it.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ContainerLimiter {
    pub fn new(task: Arc<TaskMemory>, limit_bytes: Option<u64>) -> Self {
        Self {
            task,
            pool: None,
            limit: limit_bytes,
            used: 0,
            peak: 0,
            denial: None,
            gauge: None,
        }
    }

    /// A limiter for one of several stores of one container: growth is charged against
    /// `pool` (the container's limit, shared by its stores) and the task's budget.
    pub fn pooled(task: Arc<TaskMemory>, pool: Arc<TaskMemory>) -> Self {
        Self {
            task,
            pool: Some(pool),
            limit: None,
            used: 0,
            peak: 0,
            denial: None,
            gauge: None,
        }
    }

    /// Publishes the container's memory in use to `gauge` at every growth and at drop.
    pub fn with_gauge(mut self, gauge: Arc<AtomicU64>) -> Self {
        self.gauge = Some(gauge);
        self
    }

    /// The container's memory in use: its shared budget's when stores share one.
    fn container_used(&self) -> u64 {
        match &self.pool {
            Some(pool) => pool.used.load(Ordering::Relaxed),
            None => self.used,
        }
    }

    fn publish(&self) {
        if let Some(g) = &self.gauge {
            g.store(self.container_used(), Ordering::Relaxed);
        }
    }

    /// The reason the last growth was refused, if any.
    pub fn denial(&self) -> Option<&OomKilled> {
        self.denial.as_ref()
    }

    /// The container's peak as its meter shows it: its shared budget's peak when several
    /// stores share one (an HTTP container's requests), else this store's own.
    pub fn container_peak(&self) -> u64 {
        match &self.pool {
            Some(pool) => pool.peak(),
            None => self.peak,
        }
    }

    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let extra = desired.saturating_sub(current) as u64;
        let wanted = self.used + extra;
        if let Some(limit) = self.limit.filter(|&l| wanted > l) {
            return Err(self.deny(OomKilled::Container { limit, wanted }));
        }
        if let Some(pool) = &self.pool
            && !pool.reserve(extra)
        {
            let (limit, wanted) = (pool.limit(), pool.used.load(Ordering::Relaxed) + extra);
            return Err(self.deny(OomKilled::Container { limit, wanted }));
        }
        if !self.task.reserve(extra) {
            if let Some(pool) = &self.pool {
                pool.release(extra);
            }
            let limit = self.task.limit();
            return Err(self.deny(OomKilled::Task {
                limit,
                wanted: extra,
            }));
        }
        self.used = wanted;
        self.peak = self.peak.max(wanted);
        self.publish();
        Ok(true)
    }

    fn deny(&mut self, why: OomKilled) -> wasmtime::Error {
        self.denial = Some(why.clone());
        wasmtime::Error::new(why)
    }
}

impl wasmtime::ResourceLimiter for ContainerLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current, desired)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

impl Drop for ContainerLimiter {
    fn drop(&mut self) {
        self.task.release(self.used);
        if let Some(pool) = &self.pool {
            pool.release(self.used);
        }
        self.used = 0;
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    const MIB: usize = 1 << 20;

    #[test]
    fn the_memory_integral_grows_while_held_and_stops_when_released() {
        let task = TaskMemory::new(16 * MIB as u64);
        assert_eq!(task.byte_seconds().0, 0.0);
        let mut a = ContainerLimiter::new(task.clone(), None);
        assert!(a.memory_growing(0, 4 * MIB, None).unwrap());
        let (held, ms) = task.byte_seconds();
        // At most what 4 MiB held for the whole life would be.
        assert!(
            held <= 4.0 * MIB as f64 * (ms as f64 + 1.0) / 1000.0,
            "{held} {ms}"
        );
        drop(a);
        let (after, _) = task.byte_seconds();
        assert!(after >= held);
        // Nothing held: the integral no longer moves (up to rounding).
        std::thread::yield_now();
        let (later, _) = task.byte_seconds();
        assert!((later - after).abs() < 1.0, "{after} {later}");
    }

    #[test]
    fn container_limit_is_a_total_over_all_memories() {
        let task = TaskMemory::new(100 * MIB as u64);
        let mut a = ContainerLimiter::new(task.clone(), Some(10 * MIB as u64));
        assert!(a.memory_growing(0, 6 * MIB, None).unwrap());
        // A second memory of the same container counts against the same 10 MiB.
        let err = a.memory_growing(0, 6 * MIB, None).unwrap_err();
        assert!(err.downcast_ref::<OomKilled>().is_some());
        assert!(matches!(a.denial(), Some(OomKilled::Container { .. })));
    }

    #[test]
    fn task_budget_is_shared_and_returned_on_drop() {
        let task = TaskMemory::new(16 * MIB as u64);
        let mut a = ContainerLimiter::new(task.clone(), None);
        let mut b = ContainerLimiter::new(task.clone(), None);
        assert!(a.memory_growing(0, 12 * MIB, None).unwrap());
        assert!(b.memory_growing(0, 8 * MIB, None).is_err());
        assert!(matches!(b.denial(), Some(OomKilled::Task { .. })));
        drop(a);
        assert_eq!(task.used(), 0);
        assert!(b.memory_growing(0, 8 * MIB, None).unwrap());
        assert_eq!(task.used(), 8 * MIB as u64);
    }

    #[test]
    fn pooled_limiters_share_the_container_limit_and_the_task_budget() {
        let task = TaskMemory::new(100 * MIB as u64);
        let pool = TaskMemory::new(10 * MIB as u64);
        let mut a = ContainerLimiter::pooled(task.clone(), pool.clone());
        let mut b = ContainerLimiter::pooled(task.clone(), pool.clone());
        assert!(a.memory_growing(0, 6 * MIB, None).unwrap());
        // Together the two requests would pass the container's 10 MiB.
        assert!(b.memory_growing(0, 6 * MIB, None).is_err());
        assert!(matches!(b.denial(), Some(OomKilled::Container { .. })));
        assert_eq!(
            task.used(),
            6 * MIB as u64,
            "the refused growth holds nothing"
        );
        drop(a);
        assert_eq!((task.used(), pool.used()), (0, 0));
        assert!(b.memory_growing(0, 6 * MIB, None).unwrap());
        assert_eq!(pool.peak(), 6 * MIB as u64);

        // The task's budget still bounds the container as a whole.
        let small_task = TaskMemory::new(4 * MIB as u64);
        let mut c = ContainerLimiter::pooled(small_task.clone(), TaskMemory::new(u64::MAX));
        assert!(c.memory_growing(0, 5 * MIB, None).is_err());
        assert!(matches!(c.denial(), Some(OomKilled::Task { .. })));
    }
}
