//! Metric alarms: definitions and states are cluster state (StateStore documents of kind
//! [`KIND`], keyed by alarm name); history items are documents of [`HISTORY_KIND`], keyed by
//! time so the oldest go first. [`AlarmEngine::spawn`] evaluates every alarm on an interval;
//! [`AlarmEngine::subscribe`] lets other modules (autoscaling) hear every state change.

mod evaluate;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;

pub use evaluate::{Decision, OPERATORS, TREAT_MISSING, decide};

use crate::metrics::api::shapes::{Dimension, MetricDataQuery, key_of};
use crate::metrics::store::{MetricStore, Stat, now_secs};
use crate::state::{Expect, StateError, StateStore};

pub const KIND: &str = "cloudwatch.alarm";
pub const HISTORY_KIND: &str = "cloudwatch.alarm-history";
/// History items kept (all alarms together), and for how long (CloudWatch: two weeks).
pub const MAX_HISTORY: usize = 10_000;
pub const HISTORY_DAYS: i64 = 14;

/// One metric alarm as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlarmRecord {
    pub name: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub period: Option<i64>,
    pub unit: Option<String>,
    pub evaluation_periods: i64,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: f64,
    pub comparison_operator: String,
    pub treat_missing_data: String,
    pub metrics: Vec<MetricDataQuery>,
    pub state_value: String,
    pub state_reason: String,
    pub state_reason_data: Option<String>,
    pub state_updated_ms: i64,
    pub state_transitioned_ms: i64,
    pub config_updated_ms: i64,
}

/// A state change, as subscribers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    pub alarm_name: String,
    pub old_state: String,
    pub new_state: String,
    pub reason: String,
    pub timestamp_ms: i64,
}

/// One history item as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRecord {
    pub alarm_name: String,
    pub timestamp_ms: i64,
    /// ConfigurationUpdate, StateUpdate or Action.
    pub item_type: String,
    pub summary: String,
    /// JSON text, as DescribeAlarmHistory returns it.
    pub data: String,
}

#[derive(Clone)]
pub struct AlarmEngine {
    inner: Arc<Inner>,
}

struct Inner {
    store: MetricStore,
    state: Arc<dyn StateStore>,
    region: String,
    account_id: String,
    changes: broadcast::Sender<StateChange>,
    seq: AtomicU64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl AlarmEngine {
    pub fn new(
        store: MetricStore,
        state: Arc<dyn StateStore>,
        region: String,
        account_id: String,
    ) -> Self {
        let (changes, _) = broadcast::channel(256);
        Self {
            inner: Arc::new(Inner {
                store,
                state,
                region,
                account_id,
                changes,
                seq: AtomicU64::new(0),
            }),
        }
    }

    /// Every state change from now on (a slow receiver misses the oldest, `Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<StateChange> {
        self.inner.changes.subscribe()
    }

    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.inner.state
    }

    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:cloudwatch:{}:{}:alarm:{name}",
            self.inner.region, self.inner.account_id
        )
    }

    /// Evaluates every alarm each `interval` until the runtime stops.
    pub fn spawn(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let e = engine.clone();
                match tokio::task::spawn_blocking(move || e.evaluate_all(now_secs())).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => tracing::warn!("alarm evaluation: {err}"),
                    Err(err) => tracing::error!("alarm evaluation task failed: {err}"),
                }
            }
        })
    }

    /// One round over every alarm (blocking: the state store).
    pub fn evaluate_all(&self, now: i64) -> Result<(), StateError> {
        for doc in self.inner.state.list_documents(KIND, "")? {
            let Ok(alarm) = serde_json::from_value::<AlarmRecord>(doc.value) else {
                tracing::warn!(key = doc.key, "skipping an unreadable alarm document");
                continue;
            };
            let points = self.datapoints(&alarm, now);
            let Some(d) = decide(&alarm, &points, now) else {
                continue;
            };
            if d.state != alarm.state_value {
                self.change_state(
                    alarm,
                    d.state,
                    d.reason,
                    Some(d.data.to_string()),
                    Expect::Revision(doc.revision),
                )?;
            }
        }
        self.prune_history(now * 1000)
    }

    /// The alarm's datapoints for its last EvaluationPeriods complete periods, oldest first.
    pub fn datapoints(&self, alarm: &AlarmRecord, now: i64) -> Vec<(i64, Option<f64>)> {
        let n = alarm.evaluation_periods.max(1);
        let period = alarm_period(alarm).max(1);
        let end = now - now.rem_euclid(period);
        let start = end - n * period;
        let mut found: Vec<(i64, f64)> = Vec::new();
        if alarm.metrics.is_empty() {
            let (Some(ns), Some(name)) = (&alarm.namespace, &alarm.metric_name) else {
                return Vec::new();
            };
            let key = key_of(ns, name, &alarm.dimensions);
            let stat = alarm
                .statistic
                .as_deref()
                .or(alarm.extended_statistic.as_deref())
                .and_then(Stat::parse)
                .unwrap_or(Stat::Average);
            let pct: Vec<f64> = match stat {
                Stat::Percentile(p) => vec![p],
                _ => vec![],
            };
            for b in self.inner.store.query_at(
                &key,
                alarm.unit.as_deref(),
                start,
                end,
                period,
                &pct,
                now,
            ) {
                let v = match stat {
                    Stat::Percentile(_) => b.percentiles.first().copied().flatten(),
                    s => s.of(&b.agg),
                };
                if let Some(v) = v {
                    found.push((b.start, v));
                }
            }
        } else if let Ok(plan) = crate::metrics::api::plan_queries(&alarm.metrics)
            && let Ok(series) =
                crate::metrics::api::run_queries(&self.inner.store, &plan, start, end, now)
            && let Some(points) =
                crate::metrics::api::returned_index(&plan).and_then(|i| series.get(i))
        {
            found = points.clone();
        }
        (0..n)
            .map(|k| {
                let t = start + k * period;
                (t, found.iter().find(|(ft, _)| *ft == t).map(|(_, v)| *v))
            })
            .collect()
    }

    /// Writes the alarm in `new_state` (if `expect` holds), records history and tells
    /// subscribers. Returns false when the alarm changed under us.
    pub fn change_state(
        &self,
        mut alarm: AlarmRecord,
        new_state: &str,
        reason: String,
        reason_data: Option<String>,
        expect: Expect,
    ) -> Result<bool, StateError> {
        let now = now_ms();
        let old = std::mem::replace(&mut alarm.state_value, new_state.to_owned());
        let old_reason = std::mem::replace(&mut alarm.state_reason, reason.clone());
        alarm.state_reason_data = reason_data.clone();
        alarm.state_updated_ms = now;
        if old != new_state {
            alarm.state_transitioned_ms = now;
        }
        let value = serde_json::to_value(&alarm).map_err(|e| StateError::Db(e.to_string()))?;
        if self
            .inner
            .state
            .put_document(KIND, &alarm.name, &value, expect)?
            .is_none()
        {
            return Ok(false);
        }
        let mut new = json!({"stateValue": new_state, "stateReason": reason});
        if let Some(d) = reason_data
            .as_deref()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
        {
            new["stateReasonData"] = d;
        }
        let data = json!({
            "version": "1.0",
            "oldState": {"stateValue": old, "stateReason": old_reason},
            "newState": new,
        });
        self.record(HistoryRecord {
            alarm_name: alarm.name.clone(),
            timestamp_ms: now,
            item_type: "StateUpdate".into(),
            summary: format!("Alarm updated from {old} to {new_state}"),
            data: data.to_string(),
        })?;
        let _ = self.inner.changes.send(StateChange {
            alarm_name: alarm.name,
            old_state: old,
            new_state: new_state.to_owned(),
            reason,
            timestamp_ms: now,
        });
        Ok(true)
    }

    /// Appends a history item, dropping the oldest past [`MAX_HISTORY`].
    pub fn record(&self, item: HistoryRecord) -> Result<(), StateError> {
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let key = format!(
            "{:013}-{:010}-{}",
            item.timestamp_ms.max(0),
            seq,
            std::process::id()
        );
        let value = serde_json::to_value(&item).map_err(|e| StateError::Db(e.to_string()))?;
        self.inner
            .state
            .put_document(HISTORY_KIND, &key, &value, Expect::Any)?;
        Ok(())
    }

    /// Every history item, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryRecord>, StateError> {
        Ok(self
            .inner
            .state
            .list_documents(HISTORY_KIND, "")?
            .into_iter()
            .filter_map(|d| serde_json::from_value(d.value).ok())
            .collect())
    }

    fn prune_history(&self, now_ms: i64) -> Result<(), StateError> {
        let docs = self.inner.state.list_documents(HISTORY_KIND, "")?;
        let cutoff = now_ms - HISTORY_DAYS * 86_400_000;
        let excess = docs.len().saturating_sub(MAX_HISTORY);
        for (i, d) in docs.iter().enumerate() {
            let old = d
                .value
                .get("timestampMs")
                .and_then(Value::as_i64)
                .is_some_and(|t| t < cutoff);
            if i < excess || old {
                self.inner
                    .state
                    .delete_document(HISTORY_KIND, &d.key, Expect::Any)?;
            } else {
                break;
            }
        }
        Ok(())
    }
}

/// The alarm's period: its own, or its metrics' smallest.
pub fn alarm_period(alarm: &AlarmRecord) -> i64 {
    alarm.period.unwrap_or_else(|| {
        alarm
            .metrics
            .iter()
            .filter_map(|q| q.metric_stat.as_ref().map(|m| m.period).or(q.period))
            .min()
            .unwrap_or(60)
    })
}

#[cfg(test)]
mod tests;
