//! One alarm evaluation: the last EvaluationPeriods datapoints → a state, as CloudWatch
//! decides it (DatapointsToAlarm of them breaching → ALARM; TreatMissingData for the
//! periods without data).

use serde_json::{Value, json};

use super::AlarmRecord;

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: &'static str,
    pub reason: String,
    pub data: Value,
}

pub const OPERATORS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];

pub const TREAT_MISSING: &[&str] = &["breaching", "notBreaching", "ignore", "missing"];

fn breaches(op: &str, v: f64, threshold: f64) -> bool {
    match op {
        "GreaterThanOrEqualToThreshold" => v >= threshold,
        "GreaterThanThreshold" => v > threshold,
        "LessThanThreshold" => v < threshold,
        _ => v <= threshold,
    }
}

fn words(op: &str) -> &'static str {
    match op {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        "LessThanThreshold" => "less than",
        _ => "less than or equal to",
    }
}

fn iso(t: i64) -> String {
    crate::protocol::Timestamp::from_epoch_seconds(t as f64)
        .map(|t| t.to_iso8601())
        .unwrap_or_default()
}

/// `(dd/mm/yy HH:MM:SS)` as CloudWatch writes datapoint times in reasons.
fn short(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(time::macros::format_description!(
                "[day]/[month]/[year repr:last_two] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Decides from `points` (one per evaluation period, oldest first; `None` = no data);
/// `None` keeps the current state (TreatMissingData `ignore` with nothing to evaluate).
pub fn decide(alarm: &AlarmRecord, points: &[(i64, Option<f64>)], now: i64) -> Option<Decision> {
    let n = points.len();
    let m = alarm
        .datapoints_to_alarm
        .unwrap_or(alarm.evaluation_periods)
        .max(1) as usize;
    let op = alarm.comparison_operator.as_str();
    let present: Vec<(i64, f64)> = points
        .iter()
        .filter_map(|(t, v)| v.map(|v| (*t, v)))
        .collect();
    let missing = n - present.len();
    let start = points.first().map(|p| p.0).unwrap_or(now);
    let mut data = json!({
        "version": "1.0",
        "queryDate": iso(now),
        "startDate": iso(start),
        "period": alarm.period.unwrap_or(60),
        "recentDatapoints": present.iter().map(|p| p.1).collect::<Vec<_>>(),
        "threshold": alarm.threshold,
        "evaluatedDatapoints": present.iter().rev().map(|(t, v)| json!({"timestamp": iso(*t), "value": v})).collect::<Vec<_>>(),
    });
    if let Some(s) = alarm
        .statistic
        .as_ref()
        .or(alarm.extended_statistic.as_ref())
    {
        data["statistic"] = json!(s);
    }
    let tmd = alarm.treat_missing_data.as_str();
    if present.is_empty() {
        let reason = format!(
            "{} {} unknown.",
            plural(n, "datapoint"),
            if n == 1 { "was" } else { "were" }
        );
        return match tmd {
            "ignore" => None,
            "breaching" if m <= n => Some(Decision {
                state: "ALARM",
                reason: format!(
                    "Threshold Crossed: no datapoints were received for {} and {} treated as Breaching.",
                    plural(n, "period"),
                    plural(n, "missing datapoint")
                ),
                data,
            }),
            "notBreaching" | "breaching" => Some(Decision {
                state: "OK",
                reason: format!(
                    "Threshold Crossed: no datapoints were received for {} and {} treated as NonBreaching.",
                    plural(n, "period"),
                    plural(n, "missing datapoint")
                ),
                data,
            }),
            _ => Some(Decision {
                state: "INSUFFICIENT_DATA",
                reason: format!("Insufficient Data: {reason}"),
                data,
            }),
        };
    }
    let breaching_present = present
        .iter()
        .filter(|(_, v)| breaches(op, *v, alarm.threshold))
        .count();
    let breaching = breaching_present + if tmd == "breaching" { missing } else { 0 };
    let shown: Vec<String> = present
        .iter()
        .rev()
        .map(|(t, v)| format!("{v:?} ({})", short(*t)))
        .collect();
    let listed = format!(
        "{} [{}]",
        plural(present.len(), "datapoint"),
        shown.join(", ")
    );
    if breaching >= m {
        Some(Decision {
            state: "ALARM",
            reason: format!(
                "Threshold Crossed: {listed} {} {} the threshold ({:?}).",
                if present.len() == 1 { "was" } else { "were" },
                words(op),
                alarm.threshold
            ),
            data,
        })
    } else {
        Some(Decision {
            state: "OK",
            reason: format!(
                "Threshold Crossed: {listed} {} not {} the threshold ({:?}).",
                if present.len() == 1 { "was" } else { "were" },
                words(op),
                alarm.threshold
            ),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(n: i64, m: Option<i64>, tmd: &str) -> AlarmRecord {
        AlarmRecord {
            name: "a".into(),
            evaluation_periods: n,
            datapoints_to_alarm: m,
            threshold: 10.0,
            comparison_operator: "GreaterThanThreshold".into(),
            treat_missing_data: tmd.into(),
            period: Some(10),
            statistic: Some("Average".into()),
            ..AlarmRecord::default()
        }
    }

    fn state(a: &AlarmRecord, pts: &[Option<f64>]) -> Option<&'static str> {
        let points: Vec<(i64, Option<f64>)> = pts
            .iter()
            .enumerate()
            .map(|(i, v)| (1_714_564_800 + i as i64 * 10, *v))
            .collect();
        decide(a, &points, 1_714_564_900).map(|d| d.state)
    }

    #[test]
    fn m_out_of_n_breaching_datapoints_alarm() {
        let a = alarm(3, Some(2), "missing");
        assert_eq!(
            state(&a, &[Some(11.0), Some(1.0), Some(12.0)]),
            Some("ALARM")
        );
        assert_eq!(state(&a, &[Some(11.0), Some(1.0), Some(2.0)]), Some("OK"));
        assert_eq!(
            state(&a, &[Some(10.0), Some(10.0), Some(10.0)]),
            Some("OK"),
            "strictly greater"
        );
        let d = decide(&a, &[(1_714_564_800, Some(12.0))], 1_714_564_900).unwrap();
        assert_eq!(
            d.reason,
            "Threshold Crossed: 1 datapoint [12.0 (01/05/24 12:00:00)] was not greater than the threshold (10.0)."
        );
        assert_eq!(d.data["recentDatapoints"], json!([12.0]));
        assert_eq!(d.data["statistic"], "Average");
    }

    #[test]
    fn treat_missing_data() {
        let none = [None, None, None];
        assert_eq!(
            state(&alarm(3, None, "missing"), &none),
            Some("INSUFFICIENT_DATA")
        );
        assert_eq!(state(&alarm(3, None, "breaching"), &none), Some("ALARM"));
        assert_eq!(state(&alarm(3, None, "notBreaching"), &none), Some("OK"));
        assert_eq!(state(&alarm(3, None, "ignore"), &none), None);
        // Some data: missing periods count as breaching only with `breaching`.
        let some = [Some(20.0), None, None];
        assert_eq!(state(&alarm(3, Some(2), "breaching"), &some), Some("ALARM"));
        assert_eq!(state(&alarm(3, Some(2), "notBreaching"), &some), Some("OK"));
        assert_eq!(state(&alarm(3, Some(2), "missing"), &some), Some("OK"));
        assert_eq!(state(&alarm(3, Some(1), "missing"), &some), Some("ALARM"));
    }
}
