//! Wall-clock time as wasmgate stores and sends it: stores (tasks, services, log events)
//! keep epoch milliseconds; the ECS API and `wasmgate run`'s JSON give epoch seconds (a
//! number, milliseconds as the fraction). A clock before 1970 reads as 0.

use std::time::{SystemTime, UNIX_EPOCH};

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

/// Epoch milliseconds of `t`.
pub fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Epoch seconds with millisecond precision, as ECS sends `createdAt` & co.
#[allow(clippy::cast_precision_loss)]
pub fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Epoch seconds of `t`, millisecond precision.
pub fn epoch_secs(t: SystemTime) -> f64 {
    secs(to_ms(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn seconds_with_millisecond_fractions() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(to_ms(t), 1_700_000_000_123);
        assert!((epoch_secs(t) - 1_700_000_000.123).abs() < 1e-6);
        assert_eq!(to_ms(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert!(now_ms() > 1_700_000_000_000);
    }
}
