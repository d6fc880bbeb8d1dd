//! GetMetricStatistics: one metric's statistics per period.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::shapes::{
    Dimension, check_dimensions, check_namespace, check_period, check_unit, key_of, parse_stat,
};
use super::{ApiError, MetricsService, check_len, combination, invalid, item, missing, too_many};
use crate::metrics::store::Stat;
use crate::protocol::{Context, Timestamp};

/// Most datapoints one GetMetricStatistics call may ask for.
pub const MAX_DATAPOINTS: i64 = 1440;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatisticsInput {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub period: i64,
    pub statistics: Option<Vec<String>>,
    pub extended_statistics: Option<Vec<String>>,
    pub unit: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatisticsOutput {
    label: String,
    datapoints: Vec<Datapoint>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Datapoint {
    timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    average: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<f64>,
    unit: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extended_statistics: BTreeMap<String, f64>,
}

/// Start and end in epoch seconds, start rounded down to the period; refuses an empty or
/// reversed range and (with `max`) one holding more periods than allowed.
pub fn time_range(
    start: &Timestamp,
    end: &Timestamp,
    period: i64,
    max: Option<i64>,
) -> Result<(i64, i64), ApiError> {
    let s = start.epoch_seconds().floor() as i64;
    let e = end.epoch_seconds().ceil() as i64;
    if e <= s {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let s = s - s.rem_euclid(period);
    let points = (e - s + period - 1) / period;
    if let Some(max) = max
        && points > max
    {
        return Err(combination(format!(
            "You have requested up to {points} datapoints, which exceeds the limit of {max}. \
             You may reduce the datapoints requested by increasing Period, or decreasing the \
             time range."
        )));
    }
    Ok((s, e))
}

impl MetricsService {
    pub(super) async fn get_metric_statistics(
        &self,
        _ctx: &Context,
        input: GetMetricStatisticsInput,
    ) -> Result<GetMetricStatisticsOutput, ApiError> {
        check_namespace("Namespace", &input.namespace)?;
        check_len("MetricName", &input.metric_name, 255)?;
        check_dimensions("Dimensions", &input.dimensions)?;
        check_period("Period", input.period)?;
        check_unit("Unit", input.unit.as_deref())?;
        let statistics = input.statistics.unwrap_or_default();
        let extended = input.extended_statistics.unwrap_or_default();
        if statistics.is_empty() && extended.is_empty() {
            return Err(missing("Statistics or ExtendedStatistics"));
        }
        if statistics.len() > 5 {
            return Err(too_many("Statistics", 5));
        }
        if extended.len() > 10 {
            return Err(too_many("ExtendedStatistics", 10));
        }
        let mut stats = Vec::new();
        for (i, s) in statistics.iter().enumerate() {
            match parse_stat(&item("Statistics", i), s)? {
                Stat::Percentile(_) => {
                    return Err(super::invalid_value(
                        &item("Statistics", i),
                        s,
                        "Percentiles go in ExtendedStatistics.",
                    ));
                }
                stat => stats.push(stat),
            }
        }
        let mut percentiles = Vec::new();
        for (i, s) in extended.iter().enumerate() {
            match parse_stat(&item("ExtendedStatistics", i), s)? {
                Stat::Percentile(p) => percentiles.push(p),
                _ => {
                    return Err(super::invalid_value(
                        &item("ExtendedStatistics", i),
                        s,
                        "ExtendedStatistics are percentiles such as p99.",
                    ));
                }
            }
        }
        let (start, end) = time_range(
            &input.start_time,
            &input.end_time,
            input.period,
            Some(MAX_DATAPOINTS),
        )?;
        let key = key_of(&input.namespace, &input.metric_name, &input.dimensions);
        let unit = self
            .store
            .list(|k, _| *k == key)
            .first()
            .map(|i| i.unit.clone())
            .unwrap_or_else(|| "None".into());
        let buckets = self.store.query(
            &key,
            input.unit.as_deref(),
            start,
            end,
            input.period,
            &percentiles,
        );
        let datapoints = buckets
            .into_iter()
            .filter_map(|b| {
                let want = |s: Stat| stats.contains(&s).then(|| s.of(&b.agg)).flatten();
                let mut ext = BTreeMap::new();
                for (name, v) in extended.iter().zip(&b.percentiles) {
                    if let Some(v) = v {
                        ext.insert(name.clone(), *v);
                    }
                }
                let dp = Datapoint {
                    timestamp: Timestamp::from_epoch_seconds(b.start as f64)?,
                    sample_count: want(Stat::SampleCount),
                    average: want(Stat::Average),
                    sum: want(Stat::Sum),
                    minimum: want(Stat::Minimum),
                    maximum: want(Stat::Maximum),
                    unit: input.unit.clone().unwrap_or_else(|| unit.clone()),
                    extended_statistics: ext,
                };
                Some(dp)
            })
            .collect();
        Ok(GetMetricStatisticsOutput {
            label: input.metric_name,
            datapoints,
        })
    }
}
