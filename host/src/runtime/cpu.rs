//! CPU shares enforced by time, like CFS bandwidth control.
//!
//! A guest yields to the executor at every epoch tick (see `engine`). [`Throttled`] wraps the
//! future that runs a container and measures the thread CPU time each poll really used.
//!
//! The accounting is a token bucket ([`CpuBucket`]): credit flows in continuously at the
//! share's rate (`units/1024` CPU-seconds per second) up to one period's quota, each poll
//! spends what it used. A container whose credit is used up is parked only until its debt is
//! paid back (a poll overshoots by at most one tick, so that is about a tick), not until the
//! end of a fixed period: a container within its share is never parked, and one past it
//! waits milliseconds, not up to a period, while the long-run share stays exact (debt is
//! carried). A throttled guest holds no thread: it is a parked future.
//!
//! The bucket A command container has one future and
//! one bucket; an HTTP container runs one future per request, all charging the container's
//! single bucket, so that together its concurrent requests get the container's share.

use crate::util::sync;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// 1024 cpu units are one vCPU, as in ECS.
pub const UNITS_PER_VCPU: u32 = 1024;

/// A container's CPU entitlement: `units/1024` of a CPU, with up to one period's quota of
/// credit saved while idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuShare {
    pub units: u32,
    pub period: Duration,
}

impl CpuShare {
    /// The CPU time this share may use in one period.
    pub fn quota(&self) -> Duration {
        self.period * self.units / UNITS_PER_VCPU
    }
}

/// CPU time a container has consumed, readable while it runs.
#[derive(Debug, Default)]
pub struct CpuMeter {
    nanos: AtomicU64,
    throttled_nanos: AtomicU64,
}

impl CpuMeter {
    pub fn used(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    /// Wall time the container spent parked because it had used its share.
    pub fn throttled(&self) -> Duration {
        Duration::from_nanos(self.throttled_nanos.load(Ordering::Relaxed))
    }
}

/// Splits the task's cpu units among containers: a container's own `cpu` if set, else an equal
/// share of what the others leave (at least a small floor so nobody is starved to zero).
pub fn split_units(task_units: u32, container_units: &[Option<u32>]) -> Vec<u32> {
    const FLOOR: u32 = 16;
    let reserved: u32 = container_units.iter().flatten().sum();
    // `cpu: 0` reserves nothing, as an absent `cpu` (DescribeTaskDefinition shows 0 for
    // those, so a definition read back and registered again must share the same way).
    let unset = container_units
        .iter()
        .filter(|u| u.is_none_or(|u| u == 0))
        .count() as u32;
    let each = task_units
        .saturating_sub(reserved)
        .checked_div(unset)
        .unwrap_or(0);
    container_units
        .iter()
        .map(|u| u.filter(|&u| u > 0).unwrap_or(each).max(FLOOR))
        .collect()
}

/// One container's CPU credit, shared by every future that runs it.
#[derive(Debug)]
pub struct CpuBucket {
    /// The share in cpu units: credit earned per wall nanosecond is `units / 1024` ns.
    units: u64,
    /// The most credit it holds (one period's quota): what a container that was idle may
    /// use at once, above its rate.
    burst: i64,
    state: Mutex<Credit>,
}

/// Credit (ns of CPU; negative: debt) as of `at`.
#[derive(Debug)]
struct Credit {
    at: Instant,
    nanos: i64,
}

impl CpuBucket {
    pub fn new(share: CpuShare) -> Arc<Self> {
        let burst = i64::try_from(share.quota().as_nanos())
            .unwrap_or(i64::MAX)
            .max(1);
        Arc::new(Self {
            units: u64::from(share.units.max(1)),
            burst,
            state: Mutex::new(Credit {
                at: Instant::now(),
                nanos: burst,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Credit> {
        // Two plain values: a panic elsewhere cannot leave them inconsistent.
        sync::lock(&self.state)
    }

    /// Credit earned over `wall`.
    fn earned(&self, wall: Duration) -> i64 {
        let nanos = wall.as_nanos().saturating_mul(u128::from(self.units)) / 1024;
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }

    /// When a debt of `debt` ns is paid back, counted from `from`.
    fn paid_at(&self, from: Instant, debt: i64) -> Instant {
        let wall = u128::from(debt.unsigned_abs()) * 1024 / u128::from(self.units);
        from + Duration::from_nanos(u64::try_from(wall).unwrap_or(u64::MAX))
    }

    /// Adds the credit earned since the last call; returns when to poll again if the
    /// container is in debt.
    fn exhausted(&self, now: Instant) -> Option<Instant> {
        let mut c = self.lock();
        let earned = self.earned(now.saturating_duration_since(c.at));
        c.nanos = c.nanos.saturating_add(earned).min(self.burst);
        c.at = now;
        (c.nanos <= 0).then(|| self.paid_at(now, c.nanos))
    }

    /// Spends `spent`; returns when to poll again if that left the container in debt.
    fn charge(&self, spent: Duration) -> Option<Instant> {
        let spent = i64::try_from(spent.as_nanos()).unwrap_or(i64::MAX);
        let mut c = self.lock();
        c.nanos = c.nanos.saturating_sub(spent);
        (c.nanos <= 0).then(|| self.paid_at(c.at, c.nanos))
    }
}

pin_project_lite::pin_project! {
    /// Polls `inner` only while the container is within its CPU share.
    pub struct Throttled<F> {
        #[pin]
        inner: F,
        bucket: Arc<CpuBucket>,
        sleep: Option<Pin<Box<Sleep>>>,
        meter: Arc<CpuMeter>,
    }
}

impl<F: Future> Throttled<F> {
    /// A future with a share of its own.
    pub fn new(inner: F, share: CpuShare, meter: Arc<CpuMeter>) -> Self {
        Self::sharing(inner, CpuBucket::new(share), meter)
    }

    /// A future that shares `bucket` with the container's other futures.
    pub fn sharing(inner: F, bucket: Arc<CpuBucket>, meter: Arc<CpuMeter>) -> Self {
        Self {
            inner,
            bucket,
            sleep: None,
            meter,
        }
    }
}

impl<F: Future> Future for Throttled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(sleep) = this.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            *this.sleep = None;
        }
        let now = Instant::now();
        // Another future of the same container may have left it in debt: then park
        // without polling (the inner future is polled when the timer fires).
        let (out, wake_at) = match this.bucket.exhausted(now) {
            Some(wake_at) => (Poll::Pending, Some(wake_at)),
            None => {
                let start = thread_cpu_time();
                let out = this.inner.poll(cx);
                let spent = thread_cpu_time().saturating_sub(start);
                this.meter
                    .nanos
                    .fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
                (out, this.bucket.charge(spent))
            }
        };

        if let (true, Some(wake_at)) = (out.is_pending(), wake_at) {
            this.meter.throttled_nanos.fetch_add(
                wake_at.saturating_duration_since(now).as_nanos() as u64,
                Ordering::Relaxed,
            );
            let mut sleep = Box::pin(tokio::time::sleep_until(wake_at));
            // Register the timer's waker; the inner future stays parked until then.
            if sleep.as_mut().poll(cx).is_pending() {
                *this.sleep = Some(sleep);
            } else {
                // The debt is already paid: poll again at once (the inner future may not
                // have been polled, so nothing else would wake this task).
                cx.waker().wake_by_ref();
            }
        }
        out
    }
}

/// CPU time consumed by the calling thread: immune to time the OS spent running others.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_THREAD_CPUTIME_ID is always supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_containers_share_the_rest_equally() {
        assert_eq!(
            split_units(1024, &[Some(512), None, None]),
            vec![512, 256, 256]
        );
        assert_eq!(split_units(256, &[None]), vec![256]);
        assert_eq!(split_units(256, &[Some(256), None]), vec![256, 16]);
        // `cpu: 0` (as DescribeTaskDefinition shows an absent one) shares like an absent one.
        assert_eq!(split_units(1024, &[Some(0), Some(0)]), vec![512, 512]);
    }

    #[test]
    fn quota_is_the_share_of_the_period() {
        let s = CpuShare {
            units: 256,
            period: Duration::from_millis(100),
        };
        assert_eq!(s.quota(), Duration::from_millis(25));
    }

    fn bucket(units: u32, period_ms: u64) -> Arc<CpuBucket> {
        CpuBucket::new(CpuShare {
            units,
            period: Duration::from_millis(period_ms),
        })
    }

    #[test]
    fn within_its_rate_a_container_is_never_parked() {
        // One vCPU: a request of 1 ms every 2 ms of wall time is half the share.
        let b = bucket(1024, 100);
        let t0 = Instant::now();
        for i in 0..1000 {
            let now = t0 + Duration::from_millis(2 * i);
            assert_eq!(b.exhausted(now), None, "parked at request {i}");
            assert_eq!(b.charge(Duration::from_millis(1)), None);
        }
    }

    #[test]
    fn past_its_credit_a_container_waits_only_until_its_debt_is_paid() {
        // A quarter vCPU with a 100 ms period: 25 ms of credit, earned back at 1/4.
        let b = bucket(256, 100);
        let t0 = Instant::now();
        assert_eq!(b.exhausted(t0), None);
        // Spend the burst and 1 ms more: 4 ms of wall time pays that back.
        let wake = b.charge(Duration::from_millis(26)).expect("in debt");
        assert_eq!(wake, t0 + Duration::from_millis(4));
        assert_eq!(
            b.exhausted(t0 + Duration::from_millis(2)),
            Some(t0 + Duration::from_millis(4))
        );
        assert_eq!(
            b.exhausted(t0 + Duration::from_millis(4)),
            Some(t0 + Duration::from_millis(4))
        );
        assert_eq!(b.exhausted(t0 + Duration::from_millis(5)), None);
    }

    #[test]
    fn idle_time_earns_at_most_one_period_of_credit() {
        let b = bucket(1024, 100);
        let t0 = Instant::now();
        assert_eq!(b.exhausted(t0 + Duration::from_secs(60)), None);
        // A minute idle is still only 100 ms of credit.
        assert!(b.charge(Duration::from_millis(100)).is_some());
    }

    /// A busy future that never completes gets about its share of one CPU.
    #[tokio::test(flavor = "current_thread")]
    async fn busy_future_is_held_to_its_share() {
        let meter = Arc::new(CpuMeter::default());
        let busy = futures::future::poll_fn(|cx: &mut Context<'_>| {
            let until = std::time::Instant::now() + Duration::from_millis(2);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        });
        let share = CpuShare {
            units: 256,
            period: Duration::from_millis(20),
        };
        let wall = Duration::from_millis(400);
        let _ = tokio::time::timeout(wall, Throttled::new(busy, share, meter.clone())).await;
        let ratio = meter.used().as_secs_f64() / wall.as_secs_f64();
        assert!(ratio < 0.45, "a 0.25 vCPU share used {ratio:.2} of a CPU");
        assert!(meter.throttled() > Duration::ZERO);
    }

    /// Several busy futures sharing one bucket get the share together, not each.
    #[tokio::test(flavor = "current_thread")]
    async fn futures_sharing_a_bucket_share_one_quota() {
        let meter = Arc::new(CpuMeter::default());
        let share = CpuShare {
            units: 256,
            period: Duration::from_millis(20),
        };
        let bucket = CpuBucket::new(share);
        let busy = || {
            futures::future::poll_fn(|cx: &mut Context<'_>| {
                let until = std::time::Instant::now() + Duration::from_millis(2);
                while std::time::Instant::now() < until {
                    std::hint::spin_loop();
                }
                cx.waker().wake_by_ref();
                Poll::<()>::Pending
            })
        };
        let wall = Duration::from_millis(400);
        let all = futures::future::join3(
            Throttled::sharing(busy(), bucket.clone(), meter.clone()),
            Throttled::sharing(busy(), bucket.clone(), meter.clone()),
            Throttled::sharing(busy(), bucket, meter.clone()),
        );
        let _ = tokio::time::timeout(wall, all).await;
        let ratio = meter.used().as_secs_f64() / wall.as_secs_f64();
        assert!(
            ratio < 0.45,
            "three futures on a 0.25 vCPU share used {ratio:.2} of a CPU"
        );
    }
}
