//! The CloudWatch API (signing name `monitoring`, IAM actions `cloudwatch:*`) over the
//! metrics store and the alarms: rpc-v2-cbor (boto3's default), awsJson1_0 and awsQuery,
//! query-compatible errors. One file per area: [`put`], [`get_data`], [`statistics`],
//! [`list`], [`alarms`]; the shared shapes in [`shapes`].

mod alarms;
mod get_data;
mod list;
mod put;
pub mod shapes;
mod statistics;
pub mod throttle;

use std::sync::Arc;

use crate::metrics::alarms::AlarmEngine;
use crate::metrics::store::MetricStore;
use crate::op;
use crate::protocol::{ApiError, Operation, Protocol, Service};
use crate::state::StateStore;

pub(crate) use get_data::{Plan, returned_index, run as run_queries};

/// An alarm's `Metrics` checked as GetMetricData's queries.
pub(crate) fn plan_queries(queries: &[shapes::MetricDataQuery]) -> Result<Plan, ApiError> {
    get_data::plan(queries, "Metrics")
}

pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
pub const SIGNING_NAME: &str = "monitoring";

static PROTOCOLS: [Protocol; 3] = [
    Protocol::RpcV2Cbor {
        service: TARGET_PREFIX,
    },
    Protocol::AwsJson1_0 {
        target_prefix: TARGET_PREFIX,
    },
    Protocol::AwsQuery {
        version: "2010-08-01",
        xmlns: "http://monitoring.amazonaws.com/doc/2010-08-01/",
    },
];

/// The CloudWatch API.
pub struct MetricsService {
    store: MetricStore,
    alarms: AlarmEngine,
    throttle: throttle::Throttle,
}

impl std::fmt::Debug for MetricsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsService").finish_non_exhaustive()
    }
}

impl MetricsService {
    /// The API over `store`, with alarms kept in `state` and ARNs in `region`/`account_id`.
    pub fn new(
        store: MetricStore,
        state: Arc<dyn StateStore>,
        region: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        let alarms = AlarmEngine::new(store.clone(), state, region.into(), account_id.into());
        let defaults = crate::config::MetricsConfig::default();
        Self {
            store,
            alarms,
            throttle: throttle::Throttle::new(throttle::PutRates::from_config(&defaults)),
        }
    }

    /// PutMetricData's limits per caller: its rates, and the series callers may create.
    #[must_use]
    pub fn with_limits(mut self, config: &crate::config::MetricsConfig) -> Self {
        self.throttle = throttle::Throttle::new(throttle::PutRates::from_config(config));
        self.store
            .set_series_caps(crate::metrics::store::SeriesCaps::from_config(config));
        self
    }

    pub fn store(&self) -> &MetricStore {
        &self.store
    }

    /// The alarms: evaluation ([`AlarmEngine::spawn`]) and state-change subscriptions.
    pub fn alarms(&self) -> &AlarmEngine {
        &self.alarms
    }
}

impl Service for MetricsService {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }

    fn signing_name(&self) -> &'static str {
        SIGNING_NAME
    }

    fn action_prefix(&self) -> &'static str {
        "cloudwatch"
    }

    fn protocols(&self) -> &'static [Protocol] {
        &PROTOCOLS
    }

    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("PutMetricData", Self::put_metric_data),
            op!("GetMetricData", Self::get_metric_data),
            op!("GetMetricStatistics", Self::get_metric_statistics),
            op!("ListMetrics", Self::list_metrics),
            op!("PutMetricAlarm", Self::put_metric_alarm),
            op!("DescribeAlarms", Self::describe_alarms),
            op!("DescribeAlarmsForMetric", Self::describe_alarms_for_metric),
            op!("DeleteAlarms", Self::delete_alarms),
            op!("SetAlarmState", Self::set_alarm_state),
            op!("DescribeAlarmHistory", Self::describe_alarm_history),
        ]
    }

    /// CloudWatch's codes: `MissingParameter` for an absent required member, else
    /// `InvalidParameterValue`; members named as awsQuery does (`MetricData.member.1.Value`).
    fn validation_error(&self, message: String) -> ApiError {
        let message = aws_path(&message);
        if let Some(member) = message.strip_suffix(": is required") {
            return missing(member);
        }
        ApiError::new("InvalidParameterValue", message)
    }

    fn query_compatible(&self) -> bool {
        true
    }
}

/// `MetricData[0].Dimensions[2].Name` → `MetricData.member.1.Dimensions.member.3.Name`.
pub fn aws_path(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        match rest[open + 1..close].parse::<usize>() {
            Ok(i) => {
                out.push_str(&rest[..open]);
                out.push_str(&format!(".member.{}", i + 1));
            }
            Err(_) => out.push_str(&rest[..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `MetricData.member.1` for item `i` (0-based) of `list`.
pub fn item(list: &str, i: usize) -> String {
    format!("{list}.member.{}", i + 1)
}

pub fn missing(member: &str) -> ApiError {
    ApiError::new(
        "MissingParameter",
        format!("The parameter {member} is required."),
    )
}

pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterValue", message)
}

/// `The value X for parameter P is invalid.` plus why.
pub fn invalid_value(member: &str, value: impl std::fmt::Display, why: &str) -> ApiError {
    invalid(format!(
        "The value {value} for parameter {member} is invalid. {why}"
    ))
}

pub fn combination(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterCombination", message)
}

pub fn too_many(member: &str, max: usize) -> ApiError {
    invalid(format!(
        "The collection {member} must not have a size greater than {max}."
    ))
}

/// A string member's length must be within `1..=max`.
pub fn check_len(member: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(invalid(format!(
            "The parameter {member} must be between 1 and {max} characters long."
        )));
    }
    Ok(())
}

pub fn bad_token() -> ApiError {
    ApiError::new(
        "InvalidNextToken",
        "The service couldn't process the NextToken.",
    )
}

/// Runs blocking work (the state store) on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cloudwatch api: blocking call failed: {e}");
            Err(ApiError::server("The request could not be completed."))
        }
    }
}

#[cfg(test)]
mod tests;
