//! Behaviour tests of the store through its public API, one file per operation family.

mod capacity;
mod concurrency;
mod describe;
mod filter;
mod get;
mod groups;
mod retention;

use super::{GetEvents, LogError, LogEvent, LogStore};

type TestResult = Result<(), LogError>;

fn store() -> Result<LogStore, LogError> {
    LogStore::open_in_memory()
}

/// Events `msg-<i>` at timestamps `base + i` for `i` in `range`.
fn numbered(base: i64, range: std::ops::Range<i64>) -> Vec<LogEvent> {
    range
        .map(|i| LogEvent::new(base + i, format!("msg-{i}")))
        .collect()
}

fn get(group: &str, stream: &str) -> GetEvents {
    GetEvents {
        group: group.into(),
        stream: stream.into(),
        ..GetEvents::default()
    }
}

fn messages<'a>(events: impl IntoIterator<Item = &'a super::OutputEvent>) -> Vec<&'a str> {
    events.into_iter().map(|e| e.message.as_str()).collect()
}
