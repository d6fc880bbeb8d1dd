//! The embedded CloudWatch-Logs-like store that container stdout/stderr lines are
//! shipped to, and the parsed awslogs destination of a container.
//!
//! Writes come from the runtime (batched per container, via `spawn_blocking`); reads
//! come from `wasmgate logs` (possibly another process on the same file) and the Logs
//! API ([`api::LogsService`], a `protocol::Service`), whose operations the read methods
//! mirror.
//!
//! The store is bounded: groups may have a retention (a periodic sweep deletes expired
//! events) and the whole store a byte cap (the oldest events are evicted past it).

pub mod api;
mod capacity;
mod describe;
mod destination;
mod error;
mod events;
mod names;
mod pattern;
mod prune;
mod query;
mod retention;
mod schema;
mod store;
mod sweeper;
mod token;

#[cfg(test)]
mod tests;

pub use api::LogsService;
pub use capacity::{StoreStats, human_bytes};
pub use destination::LogDestination;
pub use error::LogError;
pub use pattern::{FilterPattern, MAX_PATTERN_LEN};
pub use query::{
    EventsPage, FilterEvents, FilteredEvent, FilteredPage, GetEvents, GroupInfo, GroupsPage,
    LogEvent, MAX_DESCRIBE_LIMIT, MAX_EVENTS_LIMIT, OutputEvent, StreamInfo, StreamsPage,
};
pub use retention::{RETENTION_DAYS, check_retention_days};
pub use store::LogStore;
