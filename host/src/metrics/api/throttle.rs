//! PutMetricData's rate per caller, as CloudWatch throttles it: a token bucket per
//! principal (by ARN: a task's role session keeps its name across key rotations) for
//! requests and one for values, refilled continuously; past either the request fails
//! with `Throttling` / "Rate exceeded" (botocore retries it with back-off) and stores
//! nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::protocol::ApiError;
use crate::util::sync::lock;

/// Buckets kept at most; past it the full ones (idle callers) are forgotten.
const MAX_CALLERS: usize = 10_000;

/// The rates one caller may sustain (its burst is one second's worth).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PutRates {
    pub requests_per_second: f64,
    pub values_per_second: f64,
}

impl PutRates {
    pub fn from_config(c: &crate::config::MetricsConfig) -> Self {
        Self {
            requests_per_second: c.put_requests_per_second.max(1) as f64,
            values_per_second: c.put_values_per_second.max(1) as f64,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    requests: f64,
    values: f64,
    at: Instant,
}

/// Every caller's buckets.
#[derive(Debug)]
pub struct Throttle {
    rates: PutRates,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Throttle {
    pub fn new(rates: PutRates) -> Self {
        Self {
            rates,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request and `values` values from `caller`'s buckets, or refuses.
    pub fn admit(&self, caller: &str, values: usize) -> Result<(), ApiError> {
        self.admit_at(caller, values, Instant::now())
    }

    fn admit_at(&self, caller: &str, values: usize, now: Instant) -> Result<(), ApiError> {
        let r = self.rates;
        let mut buckets = lock(&self.buckets);
        if buckets.len() >= MAX_CALLERS && !buckets.contains_key(caller) {
            buckets.retain(|_, b| {
                let secs = now.saturating_duration_since(b.at).as_secs_f64();
                b.requests + secs * r.requests_per_second < r.requests_per_second
            });
        }
        let b = buckets.entry(caller.to_owned()).or_insert(Bucket {
            requests: r.requests_per_second,
            values: r.values_per_second,
            at: now,
        });
        let secs = now.saturating_duration_since(b.at).as_secs_f64();
        b.at = now;
        b.requests = (b.requests + secs * r.requests_per_second).min(r.requests_per_second);
        b.values = (b.values + secs * r.values_per_second).min(r.values_per_second);
        let values = values as f64;
        if b.requests < 1.0 || b.values < values.min(r.values_per_second) {
            return Err(throttled());
        }
        b.requests -= 1.0;
        // A batch larger than a second's worth is let through when the bucket is full,
        // and leaves it in debt: the caller waits until it is paid.
        b.values -= values;
        Ok(())
    }
}

/// CloudWatch's answer to a caller over its rate.
pub fn throttled() -> ApiError {
    ApiError::new("Throttling", "Rate exceeded")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn throttle() -> Throttle {
        Throttle::new(PutRates {
            requests_per_second: 2.0,
            values_per_second: 100.0,
        })
    }

    #[test]
    fn a_caller_over_its_request_rate_is_throttled_until_the_bucket_refills() {
        let t = throttle();
        let now = Instant::now();
        assert!(t.admit_at("a", 1, now).is_ok());
        assert!(t.admit_at("a", 1, now).is_ok());
        let e = t.admit_at("a", 1, now).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("Throttling", "Rate exceeded")
        );
        // Another caller has its own bucket.
        assert!(t.admit_at("b", 1, now).is_ok());
        // Half a second later one request's worth came back.
        assert!(t.admit_at("a", 1, now + Duration::from_millis(500)).is_ok());
        assert!(
            t.admit_at("a", 1, now + Duration::from_millis(500))
                .is_err()
        );
    }

    #[test]
    fn huge_batches_pay_for_their_values() {
        let t = throttle();
        let now = Instant::now();
        // A batch of 1000 values passes on a full bucket and leaves 900 to pay back.
        assert!(t.admit_at("a", 1000, now).is_ok());
        assert!(t.admit_at("a", 1, now + Duration::from_secs(5)).is_err());
        assert!(t.admit_at("a", 1, now + Duration::from_secs(10)).is_ok());
    }
}
