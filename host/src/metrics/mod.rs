//! Metrics: the store of time series ([`store`]), metric math ([`math`]), alarms
//! ([`alarms`]) and the CloudWatch API over them ([`api`], a `protocol::Service`).

pub mod alarms;
pub mod api;
pub mod math;
pub mod prometheus;
pub mod publish;
pub mod store;

pub use api::MetricsService;
pub use store::{Datum, MetricStore, MetricsError, SeriesKey, Values};
