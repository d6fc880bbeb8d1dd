//! One task's usage record (a state document of kind [`KIND`], keyed by task id) and the
//! host's heartbeat (kind [`HEARTBEAT_KIND`]), the time a crashed host's open records close at.

use crate::state::TaskRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Document kind of usage records.
pub const KIND: &str = "usage";
/// Document kind (and key [`HEARTBEAT_KEY`]) of the host's heartbeat.
pub const HEARTBEAT_KIND: &str = "usage-heartbeat";
pub const HEARTBEAT_KEY: &str = "host";

/// Why a record's `end_ms` is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Closed {
    /// The task reached STOPPED: `end_ms` is its `stoppedAt`.
    Stopped,
    /// The host died with the task running: `end_ms` is the host's last heartbeat.
    HostLost,
}

/// What a task was provisioned and what it really used. Provisioned time runs from the
/// start of its image pull to STOPPED (Fargate's rule); the meters are cumulative, as of
/// `updated_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecord {
    pub task_id: String,
    pub cluster: String,
    /// The ECS service that started it (`group` `service:NAME`), if any.
    pub service: Option<String>,
    pub family: String,
    /// `family:revision`.
    pub task_definition: String,
    /// Task-level CPU units (1024 = 1 vCPU) and memory (MiB) it was given.
    pub cpu_units: u32,
    pub memory_mib: u64,
    /// Start of the image pull; None for a task that never got that far (never billed).
    pub start_ms: Option<i64>,
    /// None while the task runs.
    pub end_ms: Option<i64>,
    pub closed: Option<Closed>,
    /// CPU time of all its containers (the CPU meter).
    pub cpu_ns: u64,
    pub fuel: u64,
    pub memory_peak_bytes: u64,
    /// Linear memory integrated over the sampled time (bytes × seconds) and that time:
    /// their quotient is the average.
    pub memory_byte_seconds: f64,
    pub sampled_ms: u64,
    /// Peak ephemeral storage in use.
    pub storage_bytes: u64,
    /// File bytes its containers read and wrote (records of older hosts read 0).
    #[serde(default)]
    pub storage_read_bytes: u64,
    #[serde(default)]
    pub storage_write_bytes: u64,
    pub requests: u64,
    pub updated_ms: i64,
}

impl UsageRecord {
    /// A fresh record for a stored task, meters at zero. Sizes missing from the stored
    /// shape read as 0 (nothing billed), never as an error.
    pub fn from_task(t: &TaskRecord, now_ms: i64) -> Self {
        let units = |member: &str| -> u64 {
            match t.task.get(member) {
                Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
                Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
                _ => 0,
            }
        };
        let start_ms = t
            .task
            .get("pullStartedAt")
            .and_then(Value::as_f64)
            .map(secs_to_ms);
        Self {
            task_id: t.task_id.clone(),
            cluster: t.cluster.clone(),
            service: t.service.clone(),
            family: t.family.clone(),
            task_definition: t.task_definition.clone(),
            cpu_units: u32::try_from(units("cpu")).unwrap_or(u32::MAX),
            memory_mib: units("memory"),
            start_ms,
            end_ms: None,
            closed: None,
            cpu_ns: 0,
            fuel: 0,
            memory_peak_bytes: 0,
            memory_byte_seconds: 0.0,
            sampled_ms: 0,
            storage_bytes: 0,
            storage_read_bytes: 0,
            storage_write_bytes: 0,
            requests: 0,
            updated_ms: now_ms,
        }
    }

    /// Closes the record at `end_ms` (never before its start).
    pub fn close(&mut self, end_ms: i64, why: Closed) {
        self.end_ms = Some(self.start_ms.map_or(end_ms, |s| end_ms.max(s)));
        self.closed = Some(why);
    }

    pub fn is_open(&self) -> bool {
        self.end_ms.is_none()
    }

    /// Average linear memory over the sampled time, in bytes.
    pub fn memory_average_bytes(&self) -> f64 {
        if self.sampled_ms == 0 {
            0.0
        } else {
            self.memory_byte_seconds / (self.sampled_ms as f64 / 1000.0)
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The host's last sign of life: open records of a host that died close here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub at_ms: i64,
    /// How often it is written: a reader older than a few intervals knows the host is gone.
    pub interval_ms: u64,
}

impl Heartbeat {
    /// Whether the host that wrote it is still alive at `now_ms` (three missed beats: gone).
    pub fn fresh(&self, now_ms: i64) -> bool {
        let slack = i64::try_from(self.interval_ms.saturating_mul(3)).unwrap_or(i64::MAX);
        now_ms.saturating_sub(self.at_ms) <= slack.max(3_000)
    }
}

#[allow(clippy::cast_possible_truncation)]
fn secs_to_ms(s: f64) -> i64 {
    (s * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A task with this `group`, started by the scheduler of `service`.
    fn task_of(group: Option<&str>, service: Option<&str>, task: Value) -> TaskRecord {
        TaskRecord {
            task_id: "t1".into(),
            cluster: "default".into(),
            task_definition: "web:3".into(),
            family: "web".into(),
            last_status: "RUNNING".into(),
            desired_status: "RUNNING".into(),
            started_by: None,
            group: group.map(str::to_owned),
            service: service.map(str::to_owned),
            created_at_ms: 1_000,
            stopped_at_ms: None,
            task,
        }
    }

    fn task(group: Option<&str>, task: Value) -> TaskRecord {
        task_of(group, None, task)
    }

    #[test]
    fn a_record_takes_size_service_and_pull_start_from_the_task() {
        let t = task_of(
            Some("service:api"),
            Some("api"),
            json!({"cpu": "512", "memory": "1024", "pullStartedAt": 1700000000.25}),
        );
        let r = UsageRecord::from_task(&t, 5);
        assert_eq!(r.service.as_deref(), Some("api"));
        assert_eq!((r.cpu_units, r.memory_mib), (512, 1024));
        assert_eq!(r.start_ms, Some(1_700_000_000_250));
        assert!(r.is_open());
        let back: UsageRecord = serde_json::from_value(r.to_value()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn a_task_that_never_pulled_has_no_start_and_a_family_group_is_no_service() {
        let r = UsageRecord::from_task(&task(Some("family:web"), json!({"cpu": "x"})), 5);
        assert_eq!(r.start_ms, None);
        assert_eq!(r.service, None);
        assert_eq!((r.cpu_units, r.memory_mib), (0, 0));
    }

    /// A RunTask caller may set any group: the service is the scheduler's alone.
    #[test]
    fn a_service_group_set_by_a_caller_bills_no_service() {
        let r = UsageRecord::from_task(&task(Some("service:api"), json!({})), 5);
        assert_eq!(r.service, None);
    }

    #[test]
    fn closing_never_goes_before_the_start() {
        let mut r = UsageRecord::from_task(&task(None, json!({"pullStartedAt": 10.0})), 5);
        r.close(9_000, Closed::HostLost);
        assert_eq!(r.end_ms, Some(10_000));
        assert_eq!(r.closed, Some(Closed::HostLost));
    }

    #[test]
    fn a_heartbeat_is_stale_after_three_missed_beats() {
        let h = Heartbeat {
            at_ms: 100_000,
            interval_ms: 10_000,
        };
        assert!(h.fresh(129_000));
        assert!(!h.fresh(131_000));
    }
}
