//! PutMetricData: checked whole, then stored as one batch (nothing stored on any error).

use serde::Deserialize;

use super::shapes::{Dimension, check_dimensions, check_namespace, check_unit, key_of};
use super::{
    ApiError, MetricsService, blocking, check_len, combination, invalid, invalid_value, item,
    too_many,
};
use crate::metrics::store::{Agg, Datum, MetricsError, SeriesKey, Values, now_secs};
use crate::protocol::{Context, Timestamp};

pub const MAX_DATUMS: usize = 1000;
pub const MAX_VALUES: usize = 150;
/// How far back and ahead a timestamp may be (CloudWatch: two weeks, two hours).
const MAX_AGE: i64 = 14 * 86_400;
const MAX_AHEAD: i64 = 2 * 3600;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutMetricDataInput {
    pub namespace: String,
    #[serde(default)]
    pub metric_data: Option<Vec<MetricDatum>>,
    #[serde(default)]
    pub entity_metric_data: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    pub strict_entity_validation: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDatum {
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    pub timestamp: Option<Timestamp>,
    pub value: Option<f64>,
    pub statistic_values: Option<StatisticSet>,
    pub values: Option<Vec<f64>>,
    pub counts: Option<Vec<f64>>,
    pub unit: Option<String>,
    pub storage_resolution: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatisticSet {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
}

/// A finite number, as CloudWatch requires of every value.
fn finite(member: &str, v: f64) -> Result<f64, ApiError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(invalid_value(
            member,
            crate::protocol::value::special_float(v).unwrap_or("NaN"),
            "CloudWatch does not accept NaN or Infinity.",
        ))
    }
}

/// One datum checked: its series, timestamp and values.
struct Checked {
    key: SeriesKey,
    timestamp: i64,
    values: Vec<f64>,
    counts: Vec<f64>,
    set: Option<Agg>,
    unit: String,
    high_resolution: bool,
}

fn check_datum(d: &MetricDatum, at: &str, now: i64, namespace: &str) -> Result<Checked, ApiError> {
    check_len(&format!("{at}.MetricName"), &d.metric_name, 255)?;
    check_dimensions(&format!("{at}.Dimensions"), &d.dimensions)?;
    check_unit(&format!("{at}.Unit"), d.unit.as_deref())?;
    let high_resolution = match d.storage_resolution {
        None | Some(60) => false,
        Some(1) => true,
        Some(r) => {
            return Err(invalid_value(
                &format!("{at}.StorageResolution"),
                r,
                "It must be 1 (high resolution) or 60 (standard).",
            ));
        }
    };
    let timestamp = match d.timestamp {
        Some(t) => {
            let secs = t.epoch_seconds().floor() as i64;
            if secs < now - MAX_AGE {
                return Err(invalid(format!(
                    "The parameter {at}.Timestamp must specify a time no more than two weeks in the past."
                )));
            }
            if secs > now + MAX_AHEAD {
                return Err(invalid(format!(
                    "The parameter {at}.Timestamp must specify a time no more than two hours in the future."
                )));
            }
            secs
        }
        None => now,
    };
    let given = [
        d.value.is_some().then_some("Value"),
        d.values.is_some().then_some("Values"),
        d.statistic_values.is_some().then_some("StatisticValues"),
    ];
    let given: Vec<&str> = given.into_iter().flatten().collect();
    if given.len() > 1 {
        return Err(combination(format!(
            "The parameters {at}.{} and {at}.{} are mutually exclusive and you have specified both.",
            given[0], given[1]
        )));
    }
    let mut out = Checked {
        key: key_of(namespace, &d.metric_name, &d.dimensions),
        timestamp,
        values: Vec::new(),
        counts: Vec::new(),
        set: None,
        unit: d.unit.clone().unwrap_or_else(|| "None".into()),
        high_resolution,
    };
    if d.counts.is_some() && d.values.is_none() {
        return Err(combination(format!(
            "The parameter {at}.Counts must be used with {at}.Values."
        )));
    }
    if let Some(v) = d.value {
        out.values.push(finite(&format!("{at}.Value"), v)?);
    } else if let Some(values) = &d.values {
        if values.len() > MAX_VALUES {
            return Err(too_many(&format!("{at}.Values"), MAX_VALUES));
        }
        for (i, v) in values.iter().enumerate() {
            out.values
                .push(finite(&item(&format!("{at}.Values"), i), *v)?);
        }
        if let Some(counts) = &d.counts {
            if counts.len() != values.len() {
                return Err(invalid(format!(
                    "The parameters {at}.Values and {at}.Counts must be of the same size."
                )));
            }
            for (i, c) in counts.iter().enumerate() {
                let member = item(&format!("{at}.Counts"), i);
                let c = finite(&member, *c)?;
                if c < 0.0 {
                    return Err(invalid_value(&member, c, "A count may not be negative."));
                }
                out.counts.push(c);
            }
        }
    } else if let Some(s) = &d.statistic_values {
        let m = |name: &str, v: f64| finite(&format!("{at}.StatisticValues.{name}"), v);
        let set = Agg {
            count: m("SampleCount", s.sample_count)?,
            sum: m("Sum", s.sum)?,
            min: m("Minimum", s.minimum)?,
            max: m("Maximum", s.maximum)?,
        };
        if set.count <= 0.0 {
            return Err(invalid_value(
                &format!("{at}.StatisticValues.SampleCount"),
                set.count,
                "The sample count must be greater than 0.",
            ));
        }
        if set.min > set.max {
            return Err(invalid(format!(
                "The parameter {at}.StatisticValues.Minimum must not be greater than {at}.StatisticValues.Maximum."
            )));
        }
        out.set = Some(set);
    } else {
        // CloudWatch requires one of them (a datum without a value stores nothing).
        return Err(combination(format!(
            "The parameters {at}.Value, {at}.Values and {at}.StatisticValues: one of them must be specified."
        )));
    }
    Ok(out)
}

pub fn store_error(e: MetricsError) -> ApiError {
    match e {
        MetricsError::Db(e) => {
            tracing::error!("metrics store: {e}");
            ApiError::with_status(
                "InternalServiceFault",
                "The metrics store failed to write.",
                500,
            )
        }
        other => ApiError::new("LimitExceeded", other.to_string()),
    }
}

impl MetricsService {
    pub(super) async fn put_metric_data(
        &self,
        ctx: &Context,
        input: PutMetricDataInput,
    ) -> Result<(), ApiError> {
        check_namespace("Namespace", &input.namespace)?;
        if input.namespace.starts_with("AWS/") {
            return Err(invalid_value(
                "Namespace",
                &input.namespace,
                "Namespaces starting with \"AWS/\" are reserved for AWS services.",
            ));
        }
        if input.entity_metric_data.is_some_and(|e| !e.is_empty()) {
            return Err(invalid(
                "The parameter EntityMetricData is not supported by this host.",
            ));
        }
        let _ = input.strict_entity_validation;
        let data = input
            .metric_data
            .filter(|d| !d.is_empty())
            .ok_or_else(|| super::missing("MetricData"))?;
        if data.len() > MAX_DATUMS {
            return Err(too_many("MetricData", MAX_DATUMS));
        }
        let now = now_secs();
        let checked = data
            .iter()
            .enumerate()
            .map(|(i, d)| check_datum(d, &item("MetricData", i), now, &input.namespace))
            .collect::<Result<Vec<_>, _>>()?;
        let values: usize = checked.iter().map(|c| c.values.len().max(1)).sum();
        // Checked first: a malformed request is told what is wrong, not to slow down.
        self.throttle.admit(&ctx.principal.arn, values)?;
        let store = self.store.clone();
        let owner = ctx.principal.arn.clone();
        blocking(move || {
            let batch: Vec<Datum<'_>> = checked
                .iter()
                .map(|c| Datum {
                    key: &c.key,
                    timestamp: c.timestamp,
                    values: match (c.set, c.values.as_slice()) {
                        (Some(set), _) => Values::Set(set),
                        (None, [one]) if c.counts.is_empty() => Values::One(*one),
                        (None, values) => Values::Many {
                            values,
                            counts: &c.counts,
                        },
                    },
                    unit: &c.unit,
                    high_resolution: c.high_resolution,
                })
                .collect();
            store.insert_as(&batch, Some(&owner)).map_err(store_error)?;
            // Durable when acknowledged, as a write API should be.
            store.flush().map_err(store_error)
        })
        .await
    }
}
