//! The embedded CloudWatch-Logs-like store that container stdout/stderr lines are
//! shipped to, and the parsed awslogs destination of a container.
//!
//! Writes come from the runtime (batched per container, via `spawn_blocking`); reads
//! come from `wasmgate logs` (possibly another process on the same file) and the Logs
//! API, whose operations the read methods mirror.

mod describe;
mod destination;
mod error;
mod events;
mod names;
mod pattern;
mod query;
mod schema;
mod store;
mod token;

#[cfg(test)]
mod tests;

pub use destination::LogDestination;
pub use error::LogError;
pub use pattern::{FilterPattern, MAX_PATTERN_LEN};
pub use query::{
    EventsPage, FilterEvents, FilteredEvent, FilteredPage, GetEvents, GroupInfo, GroupsPage,
    LogEvent, MAX_DESCRIBE_LIMIT, MAX_EVENTS_LIMIT, OutputEvent, StreamInfo, StreamsPage,
};
pub use store::LogStore;
