//! A token bucket per task: a guest hammering its endpoints is answered 429 once the
//! bucket is empty, in constant time, without touching other tasks (each has its own).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests a task may make in a burst, and per second after it. ECS documents the
/// Fargate metadata endpoint as throttled near these numbers.
pub const BURST: f64 = 60.0;
pub const PER_SECOND: f64 = 40.0;

#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(capacity: f64, rate: f64) -> Self {
        Self {
            capacity,
            rate,
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Takes one token; `Err(wait)` says how long until one is there.
    pub fn take(&self) -> Result<(), Duration> {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> Result<(), Duration> {
        let mut state = crate::util::sync::lock(&self.state);
        let (tokens, last) = *state;
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        let tokens = (tokens + elapsed * self.rate).min(self.capacity);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            Ok(())
        } else {
            *state = (tokens, now);
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let bucket = TokenBucket::new(3.0, 10.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(bucket.take_at(t0).is_ok());
        }
        let wait = bucket.take_at(t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        // 100 ms later one token is back, not two.
        let t1 = t0 + Duration::from_millis(100);
        assert!(bucket.take_at(t1).is_ok());
        assert!(bucket.take_at(t1).is_err());
        // Never more than the capacity, however long it rested.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(bucket.take_at(t2).is_ok());
        }
        assert!(bucket.take_at(t2).is_err());
    }
}
