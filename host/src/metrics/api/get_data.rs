//! GetMetricData: MetricStat queries and metric math expressions, ScanBy, MaxDatapoints
//! pages with NextToken.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::shapes::{MetricDataQuery, check_metric_stat, check_period};
use super::statistics::time_range;
use super::{
    ApiError, MetricsService, bad_token, combination, invalid, invalid_value, item, missing,
    too_many,
};
use crate::metrics::math::{Expression, Points, Value};
use crate::metrics::store::{MetricStore, SeriesKey, Stat};
use crate::protocol::{Context, Timestamp};

pub const MAX_QUERIES: usize = 500;
/// Default and largest MaxDatapoints; also the most periods one query may span.
pub const MAX_DATAPOINTS: i64 = 100_800;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricDataInput {
    pub metric_data_queries: Vec<MetricDataQuery>,
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub next_token: Option<String>,
    pub scan_by: Option<String>,
    pub max_datapoints: Option<i64>,
    pub label_options: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricDataOutput {
    metric_data_results: Vec<MetricDataResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    messages: Vec<MessageData>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDataResult {
    id: String,
    label: String,
    timestamps: Vec<Timestamp>,
    values: Vec<f64>,
    status_code: &'static str,
    messages: Vec<MessageData>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MessageData {
    code: String,
    value: String,
}

/// A query checked: what to compute.
enum Source {
    Stat {
        key: SeriesKey,
        stat: Stat,
        unit: Option<String>,
    },
    Math(Expression),
}

pub(crate) struct Plan {
    ids: Vec<String>,
    labels: Vec<String>,
    returned: Vec<bool>,
    periods: Vec<i64>,
    sources: Vec<Source>,
}

fn check_id(member: &str, id: &str) -> Result<(), ApiError> {
    let mut chars = id.chars();
    let ok = id.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(invalid_value(
            member,
            id,
            "An Id starts with a lowercase letter and holds only letters, digits and underscores.",
        ));
    }
    Ok(())
}

/// Checks every query (members named `{list}.member.N…`).
pub(crate) fn plan(queries: &[MetricDataQuery], list: &str) -> Result<Plan, ApiError> {
    if queries.is_empty() {
        return Err(missing(list));
    }
    if queries.len() > MAX_QUERIES {
        return Err(too_many(list, MAX_QUERIES));
    }
    let mut p = Plan {
        ids: Vec::new(),
        labels: Vec::new(),
        returned: Vec::new(),
        periods: Vec::new(),
        sources: Vec::new(),
    };
    for (i, q) in queries.iter().enumerate() {
        let at = item(list, i);
        check_id(&format!("{at}.Id"), &q.id)?;
        if p.ids.contains(&q.id) {
            return Err(invalid(format!(
                "The value {} for parameter {at}.Id is invalid. Ids must be unique.",
                q.id
            )));
        }
        if q.account_id.is_some() {
            return Err(invalid(format!(
                "The parameter {at}.AccountId is not supported: this host has one account."
            )));
        }
        let (source, period, label) = match (&q.metric_stat, &q.expression) {
            (Some(ms), None) => {
                let (key, stat) = check_metric_stat(&format!("{at}.MetricStat"), ms)?;
                let label = key.name.clone();
                (
                    Source::Stat {
                        key,
                        stat,
                        unit: ms.unit.clone(),
                    },
                    Some(ms.period),
                    label,
                )
            }
            (None, Some(expr)) => {
                let e = Expression::parse(expr)
                    .map_err(|why| invalid(format!("Error in expression {}: {why}", q.id)))?;
                if let Some(period) = q.period {
                    check_period(&format!("{at}.Period"), period)?;
                }
                (Source::Math(e), q.period, q.id.clone())
            }
            _ => {
                return Err(combination(format!(
                    "The parameters {at}.MetricStat and {at}.Expression are mutually exclusive: \
                     specify exactly one."
                )));
            }
        };
        p.ids.push(q.id.clone());
        p.labels.push(q.label.clone().unwrap_or(label));
        p.returned.push(q.return_data.unwrap_or(true));
        p.periods.push(period.unwrap_or(0));
        p.sources.push(source);
    }
    // An expression without a period takes the smallest of the metrics'.
    let smallest = p
        .periods
        .iter()
        .copied()
        .filter(|x| *x > 0)
        .min()
        .unwrap_or(60);
    for period in &mut p.periods {
        if *period == 0 {
            *period = smallest;
        }
    }
    for (i, s) in p.sources.iter().enumerate() {
        if let Source::Math(e) = s {
            for r in e.references() {
                if !p.ids.contains(&r) {
                    return Err(invalid(format!(
                        "Error in expression {}: no query has the id {r}",
                        p.ids[i]
                    )));
                }
            }
        }
    }
    if !p.returned.iter().any(|r| *r) {
        return Err(invalid(format!(
            "At least one entry of {list} must have ReturnData set to true."
        )));
    }
    Ok(p)
}

/// The first query whose data is returned (an alarm's expression).
pub(crate) fn returned_index(plan: &Plan) -> Option<usize> {
    plan.returned.iter().position(|r| *r)
}

/// Every query's points in `[start, end)` (start aligned per query), in query order.
pub(crate) fn run(
    store: &MetricStore,
    plan: &Plan,
    start: i64,
    end: i64,
    now: i64,
) -> Result<Vec<Points>, ApiError> {
    let mut done: HashMap<usize, Points> = HashMap::new();
    for i in 0..plan.ids.len() {
        compute(store, plan, i, start, end, now, &mut done, &mut Vec::new())?;
    }
    Ok((0..plan.ids.len())
        .map(|i| done.remove(&i).unwrap_or_default())
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn compute(
    store: &MetricStore,
    plan: &Plan,
    i: usize,
    start: i64,
    end: i64,
    now: i64,
    done: &mut HashMap<usize, Points>,
    stack: &mut Vec<usize>,
) -> Result<(), ApiError> {
    if done.contains_key(&i) {
        return Ok(());
    }
    if stack.contains(&i) {
        return Err(invalid(format!(
            "Error in expression {}: it refers to itself through other expressions",
            plan.ids[i]
        )));
    }
    let period = plan.periods[i];
    let start = start - start.rem_euclid(period);
    let points = match &plan.sources[i] {
        Source::Stat { key, stat, unit } => {
            let pct: Vec<f64> = match stat {
                Stat::Percentile(p) => vec![*p],
                _ => vec![],
            };
            store
                .query_at(key, unit.as_deref(), start, end, period, &pct, now)
                .into_iter()
                .filter_map(|b| {
                    let v = match stat {
                        Stat::Percentile(_) => b.percentiles.first().copied().flatten(),
                        s => s.of(&b.agg),
                    };
                    v.map(|v| (b.start, v))
                })
                .collect()
        }
        Source::Math(e) => {
            stack.push(i);
            for r in e.references() {
                if let Some(j) = plan.ids.iter().position(|id| *id == r) {
                    compute(store, plan, j, start, end, now, done, stack)?;
                }
            }
            stack.pop();
            let grid: Vec<i64> = (0..)
                .map(|k| start + k * period)
                .take_while(|t| *t < end)
                .collect();
            let lookup = |id: &str| {
                let j = plan.ids.iter().position(|x| x == id)?;
                done.get(&j).map(|s| Value::Series(s.clone()))
            };
            let out = e
                .eval(&lookup, &grid)
                .map_err(|why| invalid(format!("Error in expression {}: {why}", plan.ids[i])))?;
            match out {
                Value::Series(s) => s,
                Value::Scalar(v) => grid.iter().map(|t| (*t, v)).collect(),
                Value::Array(a) if a.len() == 1 => a.into_iter().next().unwrap_or_default(),
                Value::Array(_) => {
                    return Err(invalid(format!(
                        "Error in expression {}: it returns several time series; wrap it in \
                         SUM, AVG, MIN or MAX",
                        plan.ids[i]
                    )));
                }
            }
        }
    };
    done.insert(i, points);
    Ok(())
}

/// The page token: how many points earlier pages returned.
fn encode_token(offset: usize) -> String {
    B64.encode(format!("gmd1:{offset}"))
}

fn decode_token(token: &str) -> Result<usize, ApiError> {
    let raw = B64.decode(token).map_err(|_| bad_token())?;
    let text = String::from_utf8(raw).map_err(|_| bad_token())?;
    text.strip_prefix("gmd1:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad_token)
}

impl MetricsService {
    pub(super) async fn get_metric_data(
        &self,
        _ctx: &Context,
        input: GetMetricDataInput,
    ) -> Result<GetMetricDataOutput, ApiError> {
        let _ = input.label_options;
        let plan = plan(&input.metric_data_queries, "MetricDataQueries")?;
        let descending = match input.scan_by.as_deref() {
            None | Some("TimestampDescending") => true,
            Some("TimestampAscending") => false,
            Some(other) => {
                return Err(invalid_value(
                    "ScanBy",
                    other,
                    "It must be TimestampDescending or TimestampAscending.",
                ));
            }
        };
        let max = match input.max_datapoints {
            None => MAX_DATAPOINTS,
            Some(m) if (1..=MAX_DATAPOINTS).contains(&m) => m,
            Some(m) => {
                return Err(invalid_value(
                    "MaxDatapoints",
                    m,
                    &format!("It must be between 1 and {MAX_DATAPOINTS}."),
                ));
            }
        };
        let smallest = plan.periods.iter().copied().min().unwrap_or(60);
        let (start, end) = time_range(
            &input.start_time,
            &input.end_time,
            smallest,
            Some(MAX_DATAPOINTS),
        )?;
        let offset = match &input.next_token {
            Some(t) => decode_token(t)?,
            None => 0,
        };
        let mut series = run(
            &self.store,
            &plan,
            start,
            end,
            crate::metrics::store::now_secs(),
        )?;
        // Pages walk the returned queries' points in order.
        let mut skip = offset;
        let mut room = max as usize;
        let mut more = false;
        let mut results = Vec::new();
        for (i, points) in series.iter_mut().enumerate() {
            if !plan.returned[i] {
                continue;
            }
            if descending {
                points.reverse();
            }
            let from = skip.min(points.len());
            skip -= from;
            let take = room.min(points.len() - from);
            room -= take;
            let page = &points[from..from + take];
            let partial = from + take < points.len();
            more |= partial;
            results.push(MetricDataResult {
                id: plan.ids[i].clone(),
                label: plan.labels[i].clone(),
                timestamps: page
                    .iter()
                    .filter_map(|(t, _)| Timestamp::from_epoch_seconds(*t as f64))
                    .collect(),
                values: page.iter().map(|(_, v)| *v).collect(),
                status_code: if partial { "PartialData" } else { "Complete" },
                messages: Vec::new(),
            });
        }
        Ok(GetMetricDataOutput {
            metric_data_results: results,
            next_token: more.then(|| encode_token(offset + max as usize)),
            messages: Vec::new(),
        })
    }
}
