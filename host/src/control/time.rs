//! Time on the wire: ECS timestamps are epoch seconds (a JSON number, milliseconds as the
//! fraction); the store keeps epoch milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

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
    }
}
