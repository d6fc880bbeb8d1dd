//! PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, SetAlarmState,
//! DescribeAlarmHistory over the alarm documents.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::shapes::{
    Dimension, MetricDataQuery, check_dimensions, check_namespace, check_period, check_unit,
    parse_stat,
};
use super::{
    ApiError, MetricsService, bad_token, blocking, check_len, combination, invalid, invalid_value,
    item, missing, too_many,
};
use crate::metrics::alarms::{
    AlarmEngine, AlarmRecord, HistoryRecord, KIND, OPERATORS, TREAT_MISSING, alarm_period,
};
use crate::metrics::store::Stat;
use crate::protocol::{Context, Timestamp};
use crate::state::{Expect, StateError};

/// Most alarms this host keeps (CloudWatch's default quota per region is 5,000).
pub const MAX_ALARMS: usize = 5000;
const STATES: &[&str] = &["OK", "ALARM", "INSUFFICIENT_DATA"];

fn state_error(e: StateError) -> ApiError {
    tracing::error!("cloudwatch alarms: {e}");
    ApiError::with_status(
        "InternalServiceFault",
        "The alarm store failed to answer.",
        500,
    )
}

fn ts(ms: i64) -> Option<Timestamp> {
    Timestamp::from_epoch_seconds(ms as f64 / 1000.0)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutMetricAlarmInput {
    pub alarm_name: String,
    pub alarm_description: Option<String>,
    pub actions_enabled: Option<bool>,
    #[serde(rename = "OKActions")]
    pub ok_actions: Option<Vec<String>>,
    pub alarm_actions: Option<Vec<String>>,
    pub insufficient_data_actions: Option<Vec<String>>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    pub period: Option<i64>,
    pub unit: Option<String>,
    pub evaluation_periods: Option<i64>,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: Option<f64>,
    pub comparison_operator: Option<String>,
    pub treat_missing_data: Option<String>,
    pub evaluate_low_sample_count_percentile: Option<String>,
    pub metrics: Option<Vec<MetricDataQuery>>,
    pub tags: Option<Vec<serde::de::IgnoredAny>>,
    pub threshold_metric_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricAlarm {
    alarm_name: String,
    alarm_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    alarm_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alarm_configuration_updated_timestamp: Option<Timestamp>,
    actions_enabled: bool,
    #[serde(rename = "OKActions")]
    ok_actions: Vec<String>,
    alarm_actions: Vec<String>,
    insufficient_data_actions: Vec<String>,
    state_value: String,
    state_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_updated_timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_transitioned_timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_statistic: Option<String>,
    dimensions: Vec<Dimension>,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    evaluation_periods: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    datapoints_to_alarm: Option<i64>,
    threshold: f64,
    comparison_operator: String,
    treat_missing_data: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metrics: Vec<MetricDataQuery>,
}

fn shape(engine: &AlarmEngine, a: AlarmRecord) -> MetricAlarm {
    MetricAlarm {
        alarm_arn: engine.arn(&a.name),
        alarm_name: a.name,
        alarm_description: a.description,
        alarm_configuration_updated_timestamp: ts(a.config_updated_ms),
        actions_enabled: a.actions_enabled,
        ok_actions: a.ok_actions,
        alarm_actions: a.alarm_actions,
        insufficient_data_actions: a.insufficient_data_actions,
        state_value: a.state_value,
        state_reason: a.state_reason,
        state_reason_data: a.state_reason_data,
        state_updated_timestamp: ts(a.state_updated_ms),
        state_transitioned_timestamp: ts(a.state_transitioned_ms),
        metric_name: a.metric_name,
        namespace: a.namespace,
        statistic: a.statistic,
        extended_statistic: a.extended_statistic,
        dimensions: a.dimensions,
        period: a.period,
        unit: a.unit,
        evaluation_periods: a.evaluation_periods,
        datapoints_to_alarm: a.datapoints_to_alarm,
        threshold: a.threshold,
        comparison_operator: a.comparison_operator,
        treat_missing_data: a.treat_missing_data,
        metrics: a.metrics,
    }
}

fn one_of(member: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(invalid_value(
            member,
            value,
            &format!("It must be one of {}.", allowed.join(", ")),
        ))
    }
}

/// Checks a PutMetricAlarm request into the record it stores (state left to the caller).
fn check_alarm(input: PutMetricAlarmInput) -> Result<AlarmRecord, ApiError> {
    check_len("AlarmName", &input.alarm_name, 255)?;
    if let Some(d) = &input.alarm_description
        && d.chars().count() > 1024
    {
        return Err(invalid(
            "The parameter AlarmDescription must be at most 1024 characters long.",
        ));
    }
    if input.threshold_metric_id.is_some() {
        return Err(invalid(
            "The parameter ThresholdMetricId (anomaly detection bands) is not supported by this host.",
        ));
    }
    let _ = (input.tags, input.evaluate_low_sample_count_percentile);
    for (list, actions) in [
        ("OKActions", &input.ok_actions),
        ("AlarmActions", &input.alarm_actions),
        ("InsufficientDataActions", &input.insufficient_data_actions),
    ] {
        if actions.as_ref().is_some_and(|a| a.len() > 5) {
            return Err(too_many(list, 5));
        }
    }
    let evaluation_periods = input
        .evaluation_periods
        .ok_or_else(|| missing("EvaluationPeriods"))?;
    if evaluation_periods < 1 {
        return Err(invalid_value(
            "EvaluationPeriods",
            evaluation_periods,
            "It must be at least 1.",
        ));
    }
    if let Some(m) = input.datapoints_to_alarm
        && !(1..=evaluation_periods).contains(&m)
    {
        return Err(invalid_value(
            "DatapointsToAlarm",
            m,
            "It must be between 1 and EvaluationPeriods.",
        ));
    }
    let threshold = input.threshold.ok_or_else(|| missing("Threshold"))?;
    if !threshold.is_finite() {
        return Err(invalid_value(
            "Threshold",
            threshold,
            "It must be a finite number.",
        ));
    }
    let op = input
        .comparison_operator
        .ok_or_else(|| missing("ComparisonOperator"))?;
    one_of("ComparisonOperator", &op, OPERATORS)?;
    let tmd = input.treat_missing_data.unwrap_or_else(|| "missing".into());
    one_of("TreatMissingData", &tmd, TREAT_MISSING)?;

    let single = input.metric_name.is_some() || input.namespace.is_some();
    let metrics = input.metrics.unwrap_or_default();
    if single && !metrics.is_empty() {
        return Err(combination(
            "The parameters MetricName/Namespace and Metrics are mutually exclusive and you have specified both.",
        ));
    }
    let mut record = AlarmRecord {
        name: input.alarm_name,
        description: input.alarm_description,
        actions_enabled: input.actions_enabled.unwrap_or(true),
        ok_actions: input.ok_actions.unwrap_or_default(),
        alarm_actions: input.alarm_actions.unwrap_or_default(),
        insufficient_data_actions: input.insufficient_data_actions.unwrap_or_default(),
        evaluation_periods,
        datapoints_to_alarm: input.datapoints_to_alarm,
        threshold,
        comparison_operator: op,
        treat_missing_data: tmd,
        ..AlarmRecord::default()
    };
    if metrics.is_empty() {
        let ns = input.namespace.ok_or_else(|| missing("Namespace"))?;
        let name = input.metric_name.ok_or_else(|| missing("MetricName"))?;
        check_namespace("Namespace", &ns)?;
        check_len("MetricName", &name, 255)?;
        check_dimensions("Dimensions", &input.dimensions)?;
        check_unit("Unit", input.unit.as_deref())?;
        let period = input.period.ok_or_else(|| missing("Period"))?;
        check_period("Period", period)?;
        match (&input.statistic, &input.extended_statistic) {
            (Some(s), None) => {
                if parse_stat("Statistic", s)?.is_percentile() {
                    return Err(invalid_value(
                        "Statistic",
                        s,
                        "Percentiles go in ExtendedStatistic.",
                    ));
                }
            }
            (None, Some(s)) => {
                if !matches!(parse_stat("ExtendedStatistic", s)?, Stat::Percentile(_)) {
                    return Err(invalid_value(
                        "ExtendedStatistic",
                        s,
                        "ExtendedStatistic is a percentile such as p99.",
                    ));
                }
            }
            (Some(_), Some(_)) => {
                return Err(combination(
                    "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.",
                ));
            }
            (None, None) => return Err(missing("Statistic or ExtendedStatistic")),
        }
        record.namespace = Some(ns);
        record.metric_name = Some(name);
        record.dimensions = input.dimensions;
        record.period = Some(period);
        record.unit = input.unit;
        record.statistic = input.statistic;
        record.extended_statistic = input.extended_statistic;
    } else {
        if input.period.is_some() || input.statistic.is_some() || input.extended_statistic.is_some()
        {
            return Err(combination(
                "The parameters Period, Statistic and ExtendedStatistic cannot be used with Metrics.",
            ));
        }
        let plan = super::plan_queries(&metrics)?;
        if plan_returned(&metrics) != 1 {
            return Err(invalid(
                "Exactly one entry of Metrics must have ReturnData set to true.",
            ));
        }
        drop(plan);
        record.metrics = metrics;
    }
    if alarm_period(&record).saturating_mul(evaluation_periods) > 86_400 {
        return Err(invalid(
            "The evaluation period (Period × EvaluationPeriods) must not exceed one day (86400 seconds).",
        ));
    }
    Ok(record)
}

fn plan_returned(metrics: &[MetricDataQuery]) -> usize {
    metrics
        .iter()
        .filter(|q| q.return_data.unwrap_or(true))
        .count()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsInput {
    pub alarm_names: Option<Vec<String>>,
    pub alarm_name_prefix: Option<String>,
    pub alarm_types: Option<Vec<String>>,
    pub children_of_alarm_name: Option<String>,
    pub parents_of_alarm_name: Option<String>,
    pub state_value: Option<String>,
    pub action_prefix: Option<String>,
    pub max_records: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsOutput {
    composite_alarms: Vec<serde_json::Value>,
    metric_alarms: Vec<MetricAlarm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsForMetricInput {
    pub metric_name: String,
    pub namespace: String,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    #[serde(default)]
    pub dimensions: Option<Vec<Dimension>>,
    pub period: Option<i64>,
    pub unit: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsForMetricOutput {
    metric_alarms: Vec<MetricAlarm>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAlarmsInput {
    pub alarm_names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetAlarmStateInput {
    pub alarm_name: String,
    pub state_value: String,
    pub state_reason: String,
    pub state_reason_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmHistoryInput {
    pub alarm_name: Option<String>,
    pub alarm_contributor_id: Option<String>,
    pub alarm_types: Option<Vec<String>>,
    pub history_item_type: Option<String>,
    pub start_date: Option<Timestamp>,
    pub end_date: Option<Timestamp>,
    pub max_records: Option<i64>,
    pub next_token: Option<String>,
    pub scan_by: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmHistoryOutput {
    alarm_history_items: Vec<AlarmHistoryItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct AlarmHistoryItem {
    alarm_name: String,
    alarm_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Timestamp>,
    history_item_type: String,
    history_summary: String,
    history_data: String,
}

fn page_token(kind: &str, token: Option<&str>) -> Result<usize, ApiError> {
    let Some(t) = token else { return Ok(0) };
    B64.decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix(kind)
                .and_then(|r| r.strip_prefix(':'))
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(bad_token)
}

fn max_records(value: Option<i64>, default: i64) -> Result<usize, ApiError> {
    match value {
        None => Ok(default as usize),
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid_value(
            "MaxRecords",
            n,
            "It must be between 1 and 100.",
        )),
    }
}

fn load_alarms(engine: &AlarmEngine) -> Result<Vec<(AlarmRecord, u64)>, ApiError> {
    Ok(engine
        .state()
        .list_documents(KIND, "")
        .map_err(state_error)?
        .into_iter()
        .filter_map(|d| {
            serde_json::from_value::<AlarmRecord>(d.value)
                .ok()
                .map(|a| (a, d.revision))
        })
        .collect())
}

fn now_ms() -> i64 {
    (Timestamp::now().epoch_seconds() * 1000.0) as i64
}

impl MetricsService {
    pub(super) async fn put_metric_alarm(
        &self,
        _ctx: &Context,
        input: PutMetricAlarmInput,
    ) -> Result<(), ApiError> {
        let mut record = check_alarm(input)?;
        let engine = self.alarms.clone();
        blocking(move || {
            let state = engine.state();
            let existing = state
                .get_document(KIND, &record.name)
                .map_err(state_error)?;
            let now = now_ms();
            record.config_updated_ms = now;
            let (expect, created) = match &existing {
                Some(doc) => {
                    let old: AlarmRecord =
                        serde_json::from_value(doc.value.clone()).unwrap_or_default();
                    record.state_value = old.state_value;
                    record.state_reason = old.state_reason;
                    record.state_reason_data = old.state_reason_data;
                    record.state_updated_ms = old.state_updated_ms;
                    record.state_transitioned_ms = old.state_transitioned_ms;
                    (Expect::Revision(doc.revision), false)
                }
                None => {
                    if state.list_documents(KIND, "").map_err(state_error)?.len() >= MAX_ALARMS {
                        return Err(ApiError::new(
                            "LimitExceeded",
                            format!("This host keeps at most {MAX_ALARMS} alarms."),
                        ));
                    }
                    record.state_value = "INSUFFICIENT_DATA".into();
                    record.state_reason = "Unchecked: Initial alarm creation".into();
                    record.state_updated_ms = now;
                    record.state_transitioned_ms = now;
                    (Expect::Absent, true)
                }
            };
            let value = serde_json::to_value(&record)
                .map_err(|e| state_error(StateError::Db(e.to_string())))?;
            if state
                .put_document(KIND, &record.name, &value, expect)
                .map_err(state_error)?
                .is_none()
            {
                return Err(ApiError::with_status(
                    "ResourceConflict",
                    format!(
                        "The alarm {} was changed at the same time; retry.",
                        record.name
                    ),
                    409,
                ));
            }
            let verb = if created { "created" } else { "updated" };
            let data = serde_json::json!({
                "version": "1.0",
                "type": if created { "Create" } else { "Update" },
                "createdAlarm": value,
            });
            engine
                .record(HistoryRecord {
                    alarm_name: record.name.clone(),
                    timestamp_ms: now,
                    item_type: "ConfigurationUpdate".into(),
                    summary: format!("Alarm \"{}\" {verb}", record.name),
                    data: data.to_string(),
                })
                .map_err(state_error)
        })
        .await
    }

    pub(super) async fn describe_alarms(
        &self,
        _ctx: &Context,
        input: DescribeAlarmsInput,
    ) -> Result<DescribeAlarmsOutput, ApiError> {
        if input.alarm_names.is_some() && input.alarm_name_prefix.is_some() {
            return Err(combination(
                "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive.",
            ));
        }
        if input.alarm_names.as_ref().is_some_and(|n| n.len() > 100) {
            return Err(too_many("AlarmNames", 100));
        }
        if let Some(s) = &input.state_value {
            one_of("StateValue", s, STATES)?;
        }
        let mut metric_alarms = true;
        if let Some(types) = &input.alarm_types {
            for (i, t) in types.iter().enumerate() {
                one_of(
                    &item("AlarmTypes", i),
                    t,
                    &["CompositeAlarm", "MetricAlarm"],
                )?;
            }
            metric_alarms = types.iter().any(|t| t == "MetricAlarm");
        }
        // Only metric alarms exist here: no composite alarm has children or parents.
        let related =
            input.children_of_alarm_name.is_some() || input.parents_of_alarm_name.is_some();
        let max = max_records(input.max_records, 50)?;
        let offset = page_token("da1", input.next_token.as_deref())?;
        let engine = self.alarms.clone();
        blocking(move || {
            let mut found: Vec<AlarmRecord> = load_alarms(&engine)?
                .into_iter()
                .map(|(a, _)| a)
                .filter(|a| {
                    metric_alarms
                        && !related
                        && input
                            .alarm_names
                            .as_ref()
                            .is_none_or(|n| n.contains(&a.name))
                        && input
                            .alarm_name_prefix
                            .as_ref()
                            .is_none_or(|p| a.name.starts_with(p.as_str()))
                        && input
                            .state_value
                            .as_ref()
                            .is_none_or(|s| *s == a.state_value)
                        && input.action_prefix.as_ref().is_none_or(|p| {
                            a.ok_actions
                                .iter()
                                .chain(&a.alarm_actions)
                                .chain(&a.insufficient_data_actions)
                                .any(|x| x.starts_with(p.as_str()))
                        })
                })
                .collect();
            found.sort_by(|a, b| a.name.cmp(&b.name));
            let total = found.len();
            let page: Vec<MetricAlarm> = found
                .into_iter()
                .skip(offset)
                .take(max)
                .map(|a| shape(&engine, a))
                .collect();
            let next = offset + page.len();
            Ok(DescribeAlarmsOutput {
                composite_alarms: Vec::new(),
                metric_alarms: page,
                next_token: (next < total).then(|| B64.encode(format!("da1:{next}"))),
            })
        })
        .await
    }

    pub(super) async fn describe_alarms_for_metric(
        &self,
        _ctx: &Context,
        input: DescribeAlarmsForMetricInput,
    ) -> Result<DescribeAlarmsForMetricOutput, ApiError> {
        check_namespace("Namespace", &input.namespace)?;
        check_len("MetricName", &input.metric_name, 255)?;
        if let Some(d) = &input.dimensions {
            check_dimensions("Dimensions", d)?;
        }
        check_unit("Unit", input.unit.as_deref())?;
        let engine = self.alarms.clone();
        blocking(move || {
            let want_dims = input.dimensions.as_ref().map(|d| {
                let mut d: Vec<(String, String)> = d
                    .iter()
                    .map(|x| (x.name.clone(), x.value.clone()))
                    .collect();
                d.sort();
                d
            });
            let mut found: Vec<AlarmRecord> = load_alarms(&engine)?
                .into_iter()
                .map(|(a, _)| a)
                .filter(|a| {
                    let mut dims: Vec<(String, String)> = a
                        .dimensions
                        .iter()
                        .map(|x| (x.name.clone(), x.value.clone()))
                        .collect();
                    dims.sort();
                    a.namespace.as_deref() == Some(input.namespace.as_str())
                        && a.metric_name.as_deref() == Some(input.metric_name.as_str())
                        && input
                            .statistic
                            .as_ref()
                            .is_none_or(|s| a.statistic.as_ref() == Some(s))
                        && input
                            .extended_statistic
                            .as_ref()
                            .is_none_or(|s| a.extended_statistic.as_ref() == Some(s))
                        && input.period.is_none_or(|p| a.period == Some(p))
                        && input
                            .unit
                            .as_ref()
                            .is_none_or(|u| a.unit.as_ref() == Some(u))
                        && want_dims.as_ref().is_none_or(|w| *w == dims)
                })
                .collect();
            found.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(DescribeAlarmsForMetricOutput {
                metric_alarms: found.into_iter().map(|a| shape(&engine, a)).collect(),
            })
        })
        .await
    }

    pub(super) async fn delete_alarms(
        &self,
        _ctx: &Context,
        input: DeleteAlarmsInput,
    ) -> Result<(), ApiError> {
        if input.alarm_names.is_empty() {
            return Err(missing("AlarmNames"));
        }
        if input.alarm_names.len() > 100 {
            return Err(too_many("AlarmNames", 100));
        }
        let engine = self.alarms.clone();
        blocking(move || {
            let state = engine.state();
            let mut absent = Vec::new();
            for name in &input.alarm_names {
                if state
                    .get_document(KIND, name)
                    .map_err(state_error)?
                    .is_none()
                {
                    absent.push(name.as_str());
                }
            }
            if !absent.is_empty() {
                return Err(ApiError::with_status(
                    "ResourceNotFound",
                    format!("No alarm named {}", absent.join(", ")),
                    404,
                ));
            }
            for name in &input.alarm_names {
                state
                    .delete_document(KIND, name, Expect::Any)
                    .map_err(state_error)?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn set_alarm_state(
        &self,
        _ctx: &Context,
        input: SetAlarmStateInput,
    ) -> Result<(), ApiError> {
        check_len("AlarmName", &input.alarm_name, 255)?;
        one_of("StateValue", &input.state_value, STATES)?;
        if input.state_reason.chars().count() > 1023 {
            return Err(invalid(
                "The parameter StateReason must be at most 1023 characters long.",
            ));
        }
        if let Some(d) = &input.state_reason_data
            && serde_json::from_str::<serde_json::Value>(d).is_err()
        {
            return Err(ApiError::new(
                "InvalidFormat",
                "The parameter StateReasonData must be JSON.",
            ));
        }
        let engine = self.alarms.clone();
        blocking(move || {
            let doc = engine
                .state()
                .get_document(KIND, &input.alarm_name)
                .map_err(state_error)?
                .ok_or_else(|| {
                    ApiError::with_status(
                        "ResourceNotFound",
                        format!("No alarm named {}", input.alarm_name),
                        404,
                    )
                })?;
            let alarm: AlarmRecord = serde_json::from_value(doc.value)
                .map_err(|e| state_error(StateError::Corrupt(e.to_string())))?;
            let state: &'static str = match input.state_value.as_str() {
                "OK" => "OK",
                "ALARM" => "ALARM",
                _ => "INSUFFICIENT_DATA",
            };
            engine
                .change_state(
                    alarm,
                    state,
                    input.state_reason,
                    input.state_reason_data,
                    Expect::Revision(doc.revision),
                )
                .map_err(state_error)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn describe_alarm_history(
        &self,
        _ctx: &Context,
        input: DescribeAlarmHistoryInput,
    ) -> Result<DescribeAlarmHistoryOutput, ApiError> {
        if let Some(t) = &input.history_item_type {
            one_of(
                "HistoryItemType",
                t,
                &[
                    "ConfigurationUpdate",
                    "StateUpdate",
                    "Action",
                    "AlarmContributorStateUpdate",
                    "AlarmContributorAction",
                ],
            )?;
        }
        let ascending = match input.scan_by.as_deref() {
            None | Some("TimestampDescending") => false,
            Some("TimestampAscending") => true,
            Some(o) => {
                return Err(invalid_value(
                    "ScanBy",
                    o,
                    "It must be TimestampDescending or TimestampAscending.",
                ));
            }
        };
        let metric_alarms = input
            .alarm_types
            .as_ref()
            .is_none_or(|t| t.iter().any(|x| x == "MetricAlarm"));
        let _ = input.alarm_contributor_id;
        let max = max_records(input.max_records, 100)?;
        let offset = page_token("dah1", input.next_token.as_deref())?;
        let from = input
            .start_date
            .map(|t| (t.epoch_seconds() * 1000.0) as i64);
        let to = input.end_date.map(|t| (t.epoch_seconds() * 1000.0) as i64);
        let engine = self.alarms.clone();
        blocking(move || {
            let mut items: Vec<HistoryRecord> = engine
                .history()
                .map_err(state_error)?
                .into_iter()
                .filter(|h| {
                    metric_alarms
                        && input.alarm_name.as_ref().is_none_or(|n| *n == h.alarm_name)
                        && input
                            .history_item_type
                            .as_ref()
                            .is_none_or(|t| *t == h.item_type)
                        && from.is_none_or(|f| h.timestamp_ms >= f)
                        && to.is_none_or(|t| h.timestamp_ms <= t)
                })
                .collect();
            if !ascending {
                items.reverse();
            }
            let total = items.len();
            let page: Vec<AlarmHistoryItem> = items
                .into_iter()
                .skip(offset)
                .take(max)
                .map(|h| AlarmHistoryItem {
                    alarm_name: h.alarm_name,
                    alarm_type: "MetricAlarm",
                    timestamp: ts(h.timestamp_ms),
                    history_item_type: h.item_type,
                    history_summary: h.summary,
                    history_data: h.data,
                })
                .collect();
            let next = offset + page.len();
            Ok(DescribeAlarmHistoryOutput {
                alarm_history_items: page,
                next_token: (next < total).then(|| B64.encode(format!("dah1:{next}"))),
            })
        })
        .await
    }
}
