//! Who gets an instance: a request of an HTTP container must first get one of the
//! container's `max_concurrent_requests` places (waiting in a queue of at most
//! `max_queued_requests`, for at most `queue_timeout_seconds`), then a slot of the pool
//! within its task's share and outside the command reserve (`engine::HttpShares`). A request
//! that cannot is refused at once with a 503 that says why, never left hanging, so one busy
//! or hostile container cannot take the host's instances from other tasks.

use crate::config::HttpConfig;
use crate::runtime::engine::{HttpShares, HttpSlot, ShareRefused};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Refusals are logged at most this often per container (with a count), not one line each.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Why a request was refused before it got an instance; every one is a 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Busy {
    /// All places are taken and the queue is full.
    QueueFull { running: usize, queued: usize },
    /// The request waited in the queue too long.
    QueueTimeout { waited: Duration },
    /// The task holds its whole share of the host's instance pool.
    TaskShare { limit: usize },
    /// HTTP requests hold all of the host's pool but the command reserve.
    HostPool { limit: usize },
    /// The pool itself has no instance left (command containers hold the rest).
    PoolExhausted(String),
}

impl Busy {
    pub(super) fn describe(&self) -> String {
        match self {
            Busy::QueueFull { running, queued } => format!(
                "the container is at its limit of {running} concurrent requests with \
                 {queued} more queued ([http] max_concurrent_requests, max_queued_requests)"
            ),
            Busy::QueueTimeout { waited } => format!(
                "the request waited {} s in the container's queue for one of its concurrent \
                 requests to end ([http] queue_timeout_seconds)",
                waited.as_secs()
            ),
            Busy::TaskShare { limit } => format!(
                "the task holds its share of {limit} of the host's instances \
                 ([pool] task_share_percent)"
            ),
            Busy::HostPool { limit } => format!(
                "HTTP requests hold {limit} instances, all of the host's pool but what is kept \
                 for command containers ([pool] command_reserve_percent)"
            ),
            Busy::PoolExhausted(message) => format!("the host's instance pool is full: {message}"),
        }
    }
}

/// A request's place among the container's concurrent requests, held while it runs. Its
/// instance also needs an [`HttpSlot`] in the pool, held as long as the instance lives (an
/// idle reused instance keeps its slot, not its place).
pub(super) type Place = OwnedSemaphorePermit;

/// One container's door.
pub(super) struct Admission {
    places: Arc<Semaphore>,
    max_concurrent: usize,
    max_queued: usize,
    queue_timeout: Duration,
    queued: AtomicUsize,
    shares: Arc<HttpShares>,
    /// The task's request instances (its share of the pool is counted on it).
    task: Arc<AtomicUsize>,
    refusals: RefusalLog,
}

impl Admission {
    pub(super) fn new(
        limits: &HttpConfig,
        shares: Arc<HttpShares>,
        task: Arc<AtomicUsize>,
    ) -> Self {
        let max_concurrent =
            (limits.max_concurrent_requests as usize).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            places: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            max_queued: limits.max_queued_requests as usize,
            queue_timeout: Duration::from_secs(limits.queue_timeout_seconds.max(1)),
            queued: AtomicUsize::new(0),
            shares,
            task,
            refusals: RefusalLog::default(),
        }
    }

    /// Waits (bounded) for a place; or says why not.
    pub(super) async fn place(&self) -> Result<Place, Busy> {
        match self.places.clone().try_acquire_owned() {
            Ok(p) => Ok(p),
            Err(_) => self.wait_in_queue().await,
        }
    }

    /// A pool slot for a new instance, within the task's share; or why not.
    pub(super) fn slot(&self) -> Result<HttpSlot, Busy> {
        self.shares.take(&self.task).map_err(|r| match r {
            ShareRefused::Task { limit } => Busy::TaskShare { limit },
            ShareRefused::Host { limit } => Busy::HostPool { limit },
        })
    }

    async fn wait_in_queue(&self) -> Result<OwnedSemaphorePermit, Busy> {
        let queued = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_queued).then_some(n + 1)
            });
        if queued.is_err() {
            return Err(Busy::QueueFull {
                running: self.max_concurrent,
                queued: self.max_queued,
            });
        }
        let _leave = Leave(&self.queued);
        let started = Instant::now();
        match tokio::time::timeout(self.queue_timeout, self.places.clone().acquire_owned()).await {
            Ok(Ok(place)) => Ok(place),
            // The semaphore is never closed; treat it like a timeout if it ever is.
            Ok(Err(_)) | Err(_) => Err(Busy::QueueTimeout {
                waited: started.elapsed(),
            }),
        }
    }

    /// Counts a refusal; returns the line to log when one is due (with how many were
    /// refused since the last line), so a flood of 503s is a few log lines.
    pub(super) fn refusal_line(&self, busy: &Busy) -> Option<String> {
        self.refusals.note().map(|n| {
            let more = if n > 1 {
                format!(" ({n} requests refused since the last such line)")
            } else {
                String::new()
            };
            format!("refused with 503: {}{more}", busy.describe())
        })
    }
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts refusals and says when the next log line is due.
pub(super) struct RefusalLog {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last line (u64::MAX: none yet).
    last_ms: AtomicU64,
    count: AtomicU64,
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(u64::MAX),
            count: AtomicU64::new(0),
        }
    }
}

impl RefusalLog {
    /// Some(refusals since the last line) when a line is due now.
    pub(super) fn note(&self) -> Option<u64> {
        self.count.fetch_add(1, Ordering::AcqRel);
        let now = self.epoch.elapsed().as_millis() as u64;
        let every = REFUSAL_LOG_EVERY.as_millis() as u64;
        let last = self.last_ms.load(Ordering::Acquire);
        let due = last == u64::MAX || now.saturating_sub(last) >= every;
        if !due {
            return None;
        }
        self.last_ms
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(self.count.swap(0, Ordering::AcqRel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolConfig;

    impl Admission {
        /// A place and a slot, as a request for a fresh instance takes them.
        async fn admit(&self) -> Result<(Place, HttpSlot), Busy> {
            let place = self.place().await?;
            Ok((place, self.slot()?))
        }
    }

    fn admission(concurrent: u32, queued: u32, pool_total: u32) -> Admission {
        let limits = HttpConfig {
            max_concurrent_requests: concurrent,
            max_queued_requests: queued,
            queue_timeout_seconds: 3600,
            ..HttpConfig::default()
        };
        let pool = PoolConfig {
            total_component_instances: pool_total,
            total_memories: pool_total,
            total_stacks: pool_total,
            command_reserve_percent: 0,
            task_share_percent: 100,
            ..PoolConfig::default()
        };
        Admission::new(
            &limits,
            Arc::new(HttpShares::new(&pool)),
            Arc::new(AtomicUsize::new(0)),
        )
    }

    #[tokio::test]
    async fn past_the_places_requests_queue_and_past_the_queue_they_are_refused() {
        let a = Arc::new(admission(2, 1, 100));
        let first = a.admit().await.expect("place 1");
        let _second = a.admit().await.expect("place 2");
        let a2 = a.clone();
        let waiting = tokio::spawn(async move { a2.admit().await.map(|_| ()) });
        // Wait until the third request is in the queue.
        while a.queued.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = a.admit().await.expect_err("the queue is full");
        assert_eq!(
            refused,
            Busy::QueueFull {
                running: 2,
                queued: 1
            }
        );
        assert!(refused.describe().contains("max_concurrent_requests"));
        drop(first);
        assert_eq!(waiting.await.expect("join"), Ok(()));
        assert_eq!(a.queued.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_queued_request_is_refused_after_the_queue_timeout() {
        let mut a = admission(1, 4, 100);
        a.queue_timeout = Duration::from_millis(20);
        let _held = a.admit().await.expect("place");
        let refused = a.admit().await.expect_err("timed out");
        assert!(matches!(refused, Busy::QueueTimeout { .. }), "{refused:?}");
        assert_eq!(a.queued.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn the_pool_share_refuses_past_its_limit_and_gives_the_place_back() {
        let a = admission(10, 10, 2);
        let _one = a.admit().await.expect("slot 1");
        let _two = a.admit().await.expect("slot 2");
        let refused = a.admit().await.expect_err("no slot");
        assert_eq!(refused, Busy::TaskShare { limit: 2 });
        assert_eq!(
            a.places.available_permits(),
            8,
            "the refused request's place is free"
        );
    }

    #[test]
    fn refusals_are_logged_once_per_period_with_a_count() {
        let log = RefusalLog::default();
        assert_eq!(log.note(), Some(1));
        assert_eq!(log.note(), None);
        assert_eq!(log.note(), None);
        // The same counts once the period passed.
        let log2 = RefusalLog {
            epoch: Instant::now() - REFUSAL_LOG_EVERY * 2,
            last_ms: AtomicU64::new(0),
            count: AtomicU64::new(log.count.load(Ordering::Acquire)),
        };
        assert_eq!(log2.note(), Some(3));
    }
}
