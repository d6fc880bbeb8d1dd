//! CPU shares enforced by time, like CFS bandwidth control.
//!
//! A guest yields to the executor at every epoch tick (see `engine`). [`Throttled`] wraps the
//! future that runs a container, measures the thread CPU time each poll really used, and once
//! the container has used its quota for the current period it stops polling it until the
//! period ends. Overshoot (a poll can run for up to one tick) is carried into the next period
//! so the long-run share is exact. A throttled guest holds no thread: it is a parked future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// 1024 cpu units are one vCPU, as in ECS.
pub const UNITS_PER_VCPU: u32 = 1024;

/// A container's CPU entitlement per accounting period.
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
    let unset = container_units.iter().filter(|u| u.is_none()).count() as u32;
    let each = if unset == 0 {
        0
    } else {
        task_units.saturating_sub(reserved) / unset
    };
    container_units
        .iter()
        .map(|u| u.filter(|&u| u > 0).unwrap_or(each).max(FLOOR))
        .collect()
}

pin_project_lite::pin_project! {
    /// Polls `inner` only while the container is within its CPU share.
    pub struct Throttled<F> {
        #[pin]
        inner: F,
        quota: Duration,
        period: Duration,
        period_end: Instant,
        used_in_period: Duration,
        sleep: Option<Pin<Box<Sleep>>>,
        meter: Arc<CpuMeter>,
    }
}

impl<F: Future> Throttled<F> {
    pub fn new(inner: F, share: CpuShare, meter: Arc<CpuMeter>) -> Self {
        Self {
            inner,
            quota: share.quota(),
            period: share.period,
            period_end: Instant::now() + share.period,
            used_in_period: Duration::ZERO,
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
        // Roll forward over every period boundary passed, paying back overshoot.
        let now = Instant::now();
        while now >= *this.period_end {
            *this.period_end += *this.period;
            *this.used_in_period = this.used_in_period.saturating_sub(*this.quota);
        }

        let start = thread_cpu_time();
        let out = this.inner.poll(cx);
        let spent = thread_cpu_time().saturating_sub(start);
        *this.used_in_period += spent;
        this.meter
            .nanos
            .fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);

        if out.is_pending() && *this.used_in_period >= *this.quota {
            let wake_at = *this.period_end;
            this.meter.throttled_nanos.fetch_add(
                wake_at.saturating_duration_since(now).as_nanos() as u64,
                Ordering::Relaxed,
            );
            let mut sleep = Box::pin(tokio::time::sleep_until(wake_at));
            // Register the timer's waker; the inner future stays parked until then.
            if sleep.as_mut().poll(cx).is_pending() {
                *this.sleep = Some(sleep);
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
    }

    #[test]
    fn quota_is_the_share_of_the_period() {
        let s = CpuShare {
            units: 256,
            period: Duration::from_millis(100),
        };
        assert_eq!(s.quota(), Duration::from_millis(25));
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
}
