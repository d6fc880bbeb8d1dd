//! What each target group's listeners served, counted as ALB counts it for CloudWatch
//! (`AWS/ApplicationELB`): requests, the targets' answers by class, the load balancer's own
//! 5XX (no healthy target, no response), the targets' response times, and the
//! connections open now. Counters are totals since start; readers take deltas. Health
//! checks are not counted (ALB excludes them too).

use crate::util::sync::lock;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// One target group's counters.
#[derive(Debug, Default)]
pub(crate) struct GroupCounters {
    requests: AtomicU64,
    /// Target answers by class: 2XX, 3XX, 4XX, 5XX (index 0..4).
    target_codes: [AtomicU64; 4],
    elb_5xx: AtomicU64,
    elb_4xx: AtomicU64,
    active_connections: AtomicI64,
    /// Response times since the last [`GroupCounters::take_times`], and since start.
    times: Mutex<(Times, Times)>,
}

/// Target response times of one interval, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Times {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// A reading of one group's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CounterTotals {
    pub requests: u64,
    pub target_2xx: u64,
    pub target_3xx: u64,
    pub target_4xx: u64,
    pub target_5xx: u64,
    pub elb_4xx: u64,
    pub elb_5xx: u64,
    pub active_connections: u64,
    /// Target response times since start: how many, and their sum in seconds.
    pub response_count: u64,
    pub response_seconds: f64,
}

impl Times {
    fn add(&mut self, secs: f64) {
        if self.count == 0 {
            self.min = secs;
            self.max = secs;
        } else {
            self.min = self.min.min(secs);
            self.max = self.max.max(secs);
        }
        self.count += 1;
        self.sum += secs;
    }
}

impl GroupCounters {
    /// A request reached the listener (counted whatever its end).
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A target answered with `status` after `took` (request sent → response headers).
    pub(crate) fn target_answered(&self, status: u16, took: Duration) {
        let class = usize::from(status / 100).saturating_sub(2);
        if let Some(c) = self.target_codes.get(class) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = took.as_secs_f64();
        let mut times = lock(&self.times);
        times.0.add(secs);
        times.1.add(secs);
    }

    /// The load balancer answered by itself with `status` (502, 503, 400).
    pub(crate) fn elb_answered(&self, status: u16) {
        match status / 100 {
            5 => self.elb_5xx.fetch_add(1, Ordering::Relaxed),
            4 => self.elb_4xx.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// A client connection opened; dropping the guard closes it.
    pub(crate) fn connection(self: &std::sync::Arc<Self>) -> ConnectionGuard {
        self.active_connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }

    pub(crate) fn totals(&self) -> CounterTotals {
        let code = |i: usize| self.target_codes[i].load(Ordering::Relaxed);
        let all = lock(&self.times).1;
        CounterTotals {
            response_count: all.count,
            response_seconds: all.sum,
            requests: self.requests.load(Ordering::Relaxed),
            target_2xx: code(0),
            target_3xx: code(1),
            target_4xx: code(2),
            target_5xx: code(3),
            elb_4xx: self.elb_4xx.load(Ordering::Relaxed),
            elb_5xx: self.elb_5xx.load(Ordering::Relaxed),
            active_connections: u64::try_from(self.active_connections.load(Ordering::Relaxed))
                .unwrap_or(0),
        }
    }

    /// The response times since the last call (one reader: the metrics publisher).
    pub(crate) fn take_times(&self) -> Times {
        std::mem::take(&mut lock(&self.times).0)
    }
}

/// An open client connection of a listener.
pub(crate) struct ConnectionGuard(std::sync::Arc<GroupCounters>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.active_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_by_class_and_takes_times_once() {
        let c = Arc::new(GroupCounters::default());
        c.request();
        c.request();
        c.request();
        c.target_answered(200, Duration::from_millis(10));
        c.target_answered(503, Duration::from_millis(30));
        c.elb_answered(503);
        let conn = c.connection();
        let t = c.totals();
        assert_eq!(
            (
                t.requests,
                t.target_2xx,
                t.target_5xx,
                t.elb_5xx,
                t.active_connections
            ),
            (3, 1, 1, 1, 1)
        );
        drop(conn);
        assert_eq!(c.totals().active_connections, 0);
        let times = c.take_times();
        assert_eq!(times.count, 2);
        assert!((times.sum - 0.04).abs() < 1e-9 && times.min < times.max);
        assert_eq!(c.take_times().count, 0);
    }
}
