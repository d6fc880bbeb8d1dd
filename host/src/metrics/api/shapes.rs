//! Shapes shared by several operations (and stored in alarm documents).

use serde::{Deserialize, Serialize};

use super::{ApiError, check_len, invalid, invalid_value, item, missing, too_many};
use crate::metrics::store::{SeriesKey, Stat};

pub const MAX_DIMENSIONS: usize = 30;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStat {
    pub metric: Metric,
    pub period: i64,
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQuery {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// CloudWatch's StandardUnit values.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

pub fn check_unit(member: &str, unit: Option<&str>) -> Result<(), ApiError> {
    match unit {
        Some(u) if !UNITS.contains(&u) => Err(invalid_value(
            member,
            u,
            "It must be one of CloudWatch's standard units (Seconds, Bytes, Count, Percent, None, …).",
        )),
        _ => Ok(()),
    }
}

pub fn check_namespace(member: &str, ns: &str) -> Result<(), ApiError> {
    check_len(member, ns, 255)?;
    if ns.starts_with(':') || !ns.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        return Err(invalid_value(
            member,
            ns,
            "A namespace is printable ASCII and does not start with ':'.",
        ));
    }
    Ok(())
}

/// Dimensions: at most 30, names and values 1-255 characters, no name twice.
pub fn check_dimensions(member: &str, dims: &[Dimension]) -> Result<(), ApiError> {
    if dims.len() > MAX_DIMENSIONS {
        return Err(too_many(member, MAX_DIMENSIONS));
    }
    for (i, d) in dims.iter().enumerate() {
        let at = item(member, i);
        check_len(&format!("{at}.Name"), &d.name, 255)?;
        check_len(&format!("{at}.Value"), &d.value, 1024)?;
        if dims[..i].iter().any(|o| o.name == d.name) {
            return Err(invalid(format!(
                "The dimension name {} appears twice in {member}.",
                d.name
            )));
        }
    }
    Ok(())
}

pub fn key_of(namespace: &str, name: &str, dims: &[Dimension]) -> SeriesKey {
    SeriesKey::new(
        namespace,
        name,
        dims.iter()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect(),
    )
}

pub fn dimensions_of(key: &SeriesKey) -> Vec<Dimension> {
    key.dimensions
        .iter()
        .map(|(n, v)| Dimension {
            name: n.clone(),
            value: v.clone(),
        })
        .collect()
}

/// Periods CloudWatch accepts: 1, 5, 10, 30 or a multiple of 60.
pub fn check_period(member: &str, period: i64) -> Result<(), ApiError> {
    if period <= 0 || !(matches!(period, 1 | 5 | 10 | 30) || period % 60 == 0) {
        return Err(invalid_value(
            member,
            period,
            "The period must be 1, 5, 10, 30 or a multiple of 60 seconds.",
        ));
    }
    Ok(())
}

pub fn parse_stat(member: &str, stat: &str) -> Result<Stat, ApiError> {
    Stat::parse(stat).ok_or_else(|| {
        invalid_value(
            member,
            stat,
            "Use SampleCount, Average, Sum, Minimum, Maximum or a percentile such as p99.",
        )
    })
}

/// A MetricStat's series key, checked.
pub fn check_metric_stat(member: &str, ms: &MetricStat) -> Result<(SeriesKey, Stat), ApiError> {
    let m = &ms.metric;
    let ns = m
        .namespace
        .as_deref()
        .ok_or_else(|| missing(&format!("{member}.Metric.Namespace")))?;
    let name = m
        .metric_name
        .as_deref()
        .ok_or_else(|| missing(&format!("{member}.Metric.MetricName")))?;
    check_namespace(&format!("{member}.Metric.Namespace"), ns)?;
    check_len(&format!("{member}.Metric.MetricName"), name, 255)?;
    check_dimensions(&format!("{member}.Metric.Dimensions"), &m.dimensions)?;
    check_period(&format!("{member}.Period"), ms.period)?;
    check_unit(&format!("{member}.Unit"), ms.unit.as_deref())?;
    let stat = parse_stat(&format!("{member}.Stat"), &ms.stat)?;
    Ok((key_of(ns, name, &m.dimensions), stat))
}
