//! Request and result types of the read operations, named after the Logs API fields so
//! the HTTP layer maps them one to one (it adds ARNs and camelCase).

use super::LogError;

/// GetLogEvents/FilterLogEvents `limit`: default and maximum.
pub const MAX_EVENTS_LIMIT: usize = 10_000;
/// DescribeLogGroups/DescribeLogStreams `limit`: default and maximum.
pub const MAX_DESCRIBE_LIMIT: usize = 50;

/// An event to store: what a container printed, and when (epoch ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

impl LogEvent {
    pub fn new(timestamp_ms: i64, message: impl Into<String>) -> Self {
        Self {
            timestamp_ms,
            message: message.into(),
        }
    }
}

/// GetLogEvents input. Times are epoch ms, `start` inclusive, `end` exclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetEvents {
    pub group: String,
    pub stream: String,
    pub start_time_ms: Option<i64>,
    pub end_time_ms: Option<i64>,
    /// 1..=10000; `None` means 10000.
    pub limit: Option<usize>,
    /// Without a token: `false` returns the newest `limit` events (CloudWatch's default),
    /// `true` the oldest. Ignored with a token, whose direction wins.
    pub start_from_head: bool,
    pub next_token: Option<String>,
}

/// One event of a GetLogEvents page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputEvent {
    pub timestamp_ms: i64,
    pub message: String,
    pub ingestion_time_ms: i64,
}

/// A GetLogEvents page, events oldest first. Both tokens are always present; at the end
/// of the stream `next_forward_token` equals the token passed in, which is how clients
/// know to stop (there is no paginator for GetLogEvents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsPage {
    pub events: Vec<OutputEvent>,
    pub next_forward_token: String,
    pub next_backward_token: String,
}

/// FilterLogEvents input. At most one of `stream_names` (1-100; names not in the group
/// are ignored) and `stream_name_prefix`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterEvents {
    pub group: String,
    pub stream_names: Option<Vec<String>>,
    pub stream_name_prefix: Option<String>,
    pub start_time_ms: Option<i64>,
    pub end_time_ms: Option<i64>,
    /// Simple term syntax; `None` or empty matches everything.
    pub filter_pattern: Option<String>,
    /// 1..=10000; `None` means 10000.
    pub limit: Option<usize>,
    pub next_token: Option<String>,
}

/// One event of a FilterLogEvents page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilteredEvent {
    pub log_stream_name: String,
    pub timestamp_ms: i64,
    pub message: String,
    pub ingestion_time_ms: i64,
    /// Unique and never reused, so `aws logs tail --follow` can deduplicate by it.
    pub event_id: String,
}

/// A FilterLogEvents page, events in `(timestamp, eventId)` order. `next_token` is
/// `None` on the last page and never repeats; a page may be short (even empty) and still
/// carry a token when the scan budget ran out first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilteredPage {
    pub events: Vec<FilteredEvent>,
    pub next_token: Option<String>,
}

/// DescribeLogGroups entry (the API adds the ARNs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub creation_time_ms: i64,
    /// Bytes of the group's messages still stored: events expired or evicted are not counted.
    pub stored_bytes: i64,
    /// `None`: events never expire.
    pub retention_in_days: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupsPage {
    pub groups: Vec<GroupInfo>,
    pub next_token: Option<String>,
}

/// DescribeLogStreams entry; event fields are `None` until the first event arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub name: String,
    pub creation_time_ms: i64,
    pub first_event_timestamp_ms: Option<i64>,
    pub last_event_timestamp_ms: Option<i64>,
    pub last_ingestion_time_ms: Option<i64>,
    pub stored_bytes: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamsPage {
    pub streams: Vec<StreamInfo>,
    pub next_token: Option<String>,
}

/// Applies the default and checks `1..=max`.
pub(crate) fn events_limit(limit: Option<usize>) -> Result<usize, LogError> {
    check_limit(limit.unwrap_or(MAX_EVENTS_LIMIT), MAX_EVENTS_LIMIT)
}

pub(crate) fn check_limit(limit: usize, max: usize) -> Result<usize, LogError> {
    if limit == 0 || limit > max {
        return Err(LogError::invalid(
            "limit",
            format!("must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}

/// An inclusive timestamp range, or `None` when `[start, end)` is empty.
pub(crate) fn time_range(
    start: Option<i64>,
    end: Option<i64>,
) -> Result<Option<(i64, i64)>, LogError> {
    let lo = start.unwrap_or(i64::MIN);
    match end {
        None => Ok(Some((lo, i64::MAX))),
        Some(e) if e < lo => Err(LogError::invalid(
            "endTime",
            "must not be earlier than startTime",
        )),
        Some(e) if e == lo => Ok(None),
        // e > lo >= i64::MIN, so e - 1 cannot overflow.
        Some(e) => Ok(Some((lo, e - 1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(events_limit(None).ok(), Some(10_000));
        assert!(events_limit(Some(0)).is_err());
        assert!(events_limit(Some(10_001)).is_err());
        assert_eq!(check_limit(50, MAX_DESCRIBE_LIMIT).ok(), Some(50));
        assert!(check_limit(51, MAX_DESCRIBE_LIMIT).is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(
            time_range(None, None).ok(),
            Some(Some((i64::MIN, i64::MAX)))
        );
        assert_eq!(time_range(Some(10), Some(20)).ok(), Some(Some((10, 19))));
        assert_eq!(time_range(Some(10), Some(10)).ok(), Some(None));
        assert!(time_range(Some(10), Some(9)).is_err());
        assert_eq!(time_range(None, Some(i64::MIN)).ok(), Some(None));
    }
}
