//! The meter: turns the host's tasks into usage records. Every second it samples the live
//! readings of running tasks (integrating memory for its average); every heartbeat it
//! writes the heartbeat, creates records for new tasks, refreshes open ones (at most once
//! per `record_interval`) and closes those whose task reached STOPPED. The stored tasks
//! are the truth for times (pull start, STOPPED); the readings only for what was used.
//!
//! After a crash, [`recover`] closes what the dead host left open at its last heartbeat.

use super::record::{Closed, HEARTBEAT_KEY, HEARTBEAT_KIND, Heartbeat, KIND, UsageRecord};
use crate::state::{self, Expect, StateStore, TaskQuery, TaskRecord};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One running task's cumulative meters, as read now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskReading {
    pub task_id: String,
    pub cpu_ns: u64,
    pub fuel: u64,
    /// Linear memory of all its containers now, and the highest it has been.
    pub memory_bytes: u64,
    pub memory_peak_bytes: u64,
    /// Memory integrated over the task's life so far (byte-seconds, exact) and that life
    /// in ms: the record's average memory.
    pub memory_byte_seconds: f64,
    pub memory_ms: u64,
    pub storage_bytes: u64,
    pub storage_read_bytes: u64,
    pub storage_write_bytes: u64,
    pub requests: u64,
}

/// What the samples of one task add up to.
#[derive(Debug, Clone, Default)]
struct Acc {
    cpu_ns: u64,
    fuel: u64,
    memory_peak_bytes: u64,
    memory_byte_seconds: f64,
    sampled_ms: u64,
    storage_bytes: u64,
    storage_read_bytes: u64,
    storage_write_bytes: u64,
    requests: u64,
    /// When it was last read.
    last: Option<i64>,
}

impl Acc {
    fn sample(&mut self, now_ms: i64, r: &TaskReading) {
        self.last = Some(now_ms);
        // Cumulative meters only grow; a reading never takes one back.
        self.memory_byte_seconds = self.memory_byte_seconds.max(r.memory_byte_seconds);
        self.sampled_ms = self.sampled_ms.max(r.memory_ms);
        self.cpu_ns = self.cpu_ns.max(r.cpu_ns);
        self.fuel = self.fuel.max(r.fuel);
        self.memory_peak_bytes = self
            .memory_peak_bytes
            .max(r.memory_peak_bytes)
            .max(r.memory_bytes);
        self.storage_bytes = self.storage_bytes.max(r.storage_bytes);
        self.storage_read_bytes = self.storage_read_bytes.max(r.storage_read_bytes);
        self.storage_write_bytes = self.storage_write_bytes.max(r.storage_write_bytes);
        self.requests = self.requests.max(r.requests);
    }

    fn apply(&self, rec: &mut UsageRecord) {
        rec.cpu_ns = rec.cpu_ns.max(self.cpu_ns);
        rec.fuel = rec.fuel.max(self.fuel);
        rec.memory_peak_bytes = rec.memory_peak_bytes.max(self.memory_peak_bytes);
        rec.memory_byte_seconds = rec.memory_byte_seconds.max(self.memory_byte_seconds);
        rec.sampled_ms = rec.sampled_ms.max(self.sampled_ms);
        rec.storage_bytes = rec.storage_bytes.max(self.storage_bytes);
        rec.storage_read_bytes = rec.storage_read_bytes.max(self.storage_read_bytes);
        rec.storage_write_bytes = rec.storage_write_bytes.max(self.storage_write_bytes);
        rec.requests = rec.requests.max(self.requests);
    }
}

/// A task's final reading, once it ended (`Runtime::finished_task`).
pub type Finals = Arc<dyn Fn(&str) -> Option<TaskReading> + Send + Sync>;

/// The meter's memory between heartbeats.
pub struct Meter {
    /// Read when a record closes: a task's meters as its containers left them.
    finals: Option<Finals>,
    state: Arc<dyn StateStore>,
    heartbeat_ms: u64,
    record_ms: i64,
    acc: HashMap<String, Acc>,
    /// Records written and not yet closed, as last written.
    open: HashMap<String, UsageRecord>,
    /// Tasks whose record is closed: nothing more to do for them.
    done: HashSet<String>,
    /// Closed records older than this are deleted (checked hourly); None keeps them all.
    retention_ms: Option<i64>,
    last_prune_ms: Option<i64>,
}

/// How often records past their retention are looked for.
const PRUNE_EVERY_MS: i64 = 3_600_000;

impl Meter {
    pub fn new(state: Arc<dyn StateStore>, heartbeat_ms: u64, record_ms: u64) -> Self {
        Self {
            finals: None,
            state,
            heartbeat_ms: heartbeat_ms.max(1),
            record_ms: i64::try_from(record_ms).unwrap_or(i64::MAX),
            acc: HashMap::new(),
            open: HashMap::new(),
            done: HashSet::new(),
            retention_ms: None,
            last_prune_ms: None,
        }
    }

    /// Closes records with their task's final reading, so a task shorter than the
    /// sampling interval (or its last second) is recorded exactly.
    #[must_use]
    pub fn with_finals(mut self, finals: Finals) -> Self {
        self.finals = Some(finals);
        self
    }

    /// Deletes closed records that ended more than `days` ago (a bounded history).
    #[must_use]
    pub fn with_retention_days(mut self, days: u64) -> Self {
        self.retention_ms =
            Some(i64::try_from(days.saturating_mul(86_400_000)).unwrap_or(i64::MAX));
        self
    }

    /// Takes one reading of every running task.
    pub fn sample(&mut self, now_ms: i64, readings: &[TaskReading]) {
        for r in readings {
            if !self.done.contains(&r.task_id) {
                self.acc
                    .entry(r.task_id.clone())
                    .or_default()
                    .sample(now_ms, r);
            }
        }
    }

    /// The heartbeat's work: beat, then bring every task's record up to date.
    pub fn sync(&mut self, now_ms: i64) -> state::Result<()> {
        let beat = Heartbeat {
            at_ms: now_ms,
            interval_ms: self.heartbeat_ms,
        };
        self.state.put_document(
            HEARTBEAT_KIND,
            HEARTBEAT_KEY,
            &serde_json::to_value(beat).unwrap_or_default(),
            Expect::Any,
        )?;
        let mut seen = HashSet::new();
        for cluster in self.state.list_clusters()? {
            let q = TaskQuery {
                cluster: cluster.name,
                ..TaskQuery::default()
            };
            for t in self.state.list_tasks(&q)? {
                seen.insert(t.task_id.clone());
                self.update(&t, now_ms)?;
            }
        }
        if let Some(keep) = self.retention_ms
            && self
                .last_prune_ms
                .is_none_or(|at| now_ms.saturating_sub(at) >= PRUNE_EVERY_MS)
        {
            self.last_prune_ms = Some(now_ms);
            prune(self.state.as_ref(), now_ms.saturating_sub(keep))?;
        }
        // Forgotten by the store (pruned): their records are closed already.
        self.done.retain(|id| seen.contains(id));
        // Readings of a task the store does not show (yet) are kept a minute.
        self.acc.retain(|id, a| {
            seen.contains(id) || a.last.is_some_and(|at| now_ms.saturating_sub(at) < 60_000)
        });
        Ok(())
    }

    fn update(&mut self, t: &TaskRecord, now_ms: i64) -> state::Result<()> {
        if self.done.contains(&t.task_id) {
            return Ok(());
        }
        let mut rec = match self.open.get(&t.task_id) {
            Some(r) => r.clone(),
            None => match stored(self.state.as_ref(), &t.task_id)? {
                Some(r) if !r.is_open() => {
                    self.done.insert(t.task_id.clone());
                    return Ok(());
                }
                Some(r) => r,
                None => UsageRecord::from_task(t, now_ms),
            },
        };
        if rec.start_ms.is_none() {
            rec.start_ms = UsageRecord::from_task(t, now_ms).start_ms;
        }
        if let Some(acc) = self.acc.get(&t.task_id) {
            acc.apply(&mut rec);
        }
        let stopped = t.last_status == "STOPPED";
        if let Some(last) = stopped
            .then(|| self.finals.as_ref().and_then(|f| f(&t.task_id)))
            .flatten()
        {
            let acc = self.acc.entry(t.task_id.clone()).or_default();
            acc.sample(now_ms, &last);
            acc.apply(&mut rec);
        }
        if stopped {
            rec.close(t.stopped_at_ms.unwrap_or(now_ms), Closed::Stopped);
        } else if let Some(last) = self.open.get(&t.task_id) {
            // Only the meters moved: they wait for the record interval.
            let due = now_ms.saturating_sub(last.updated_ms) >= self.record_ms;
            if !due && last.start_ms == rec.start_ms {
                return Ok(());
            }
        }
        rec.updated_ms = now_ms;
        self.state
            .put_document(KIND, &t.task_id, &rec.to_value(), Expect::Any)?;
        if stopped {
            self.open.remove(&t.task_id);
            self.acc.remove(&t.task_id);
            self.done.insert(t.task_id.clone());
        } else {
            self.open.insert(t.task_id.clone(), rec);
        }
        Ok(())
    }
}

fn stored(state: &dyn StateStore, task_id: &str) -> state::Result<Option<UsageRecord>> {
    Ok(state
        .get_document(KIND, task_id)?
        .and_then(|d| serde_json::from_value(d.value).ok()))
}

/// The last heartbeat stored, if any.
pub fn heartbeat(state: &dyn StateStore) -> state::Result<Option<Heartbeat>> {
    Ok(state
        .get_document(HEARTBEAT_KIND, HEARTBEAT_KEY)?
        .and_then(|d| serde_json::from_value(d.value).ok()))
}

/// Every usage record, by task id.
pub fn records(state: &dyn StateStore) -> state::Result<Vec<UsageRecord>> {
    Ok(state
        .list_documents(KIND, "")?
        .into_iter()
        .filter_map(|d| serde_json::from_value(d.value).ok())
        .collect())
}

/// Deletes the closed records that ended before `before_ms`; returns how many.
pub fn prune(state: &dyn StateStore, before_ms: i64) -> state::Result<usize> {
    let mut n = 0;
    for d in state.list_documents(KIND, "")? {
        let old = serde_json::from_value::<UsageRecord>(d.value)
            .ok()
            .and_then(|r| r.end_ms)
            .is_some_and(|end| end < before_ms);
        if old && state.delete_document(KIND, &d.key, Expect::Revision(d.revision))? {
            n += 1;
        }
    }
    Ok(n)
}

/// At start, before the control plane records the previous host's unfinished tasks as
/// STOPPED (at the time of the restart): closes their records at that host's last
/// heartbeat, and records the previous host saw stop but did not close at their STOPPED.
/// Returns how many records it closed.
pub fn recover(state: &dyn StateStore, now_ms: i64) -> state::Result<usize> {
    let beat = heartbeat(state)?.map(|h| h.at_ms);
    let mut closed = 0;
    for t in state.unfinished_tasks()? {
        let mut rec = match stored(state, &t.task_id)? {
            Some(r) if !r.is_open() => continue,
            Some(r) => r,
            None => UsageRecord::from_task(&t, now_ms),
        };
        rec.close(beat.unwrap_or(rec.updated_ms), Closed::HostLost);
        rec.updated_ms = now_ms;
        state.put_document(KIND, &t.task_id, &rec.to_value(), Expect::Any)?;
        closed += 1;
    }
    for mut rec in records(state)?.into_iter().filter(UsageRecord::is_open) {
        match state.get_task(&rec.task_id)? {
            Some(t) if t.last_status == "STOPPED" => {
                rec.close(t.stopped_at_ms.unwrap_or(rec.updated_ms), Closed::Stopped);
            }
            _ => rec.close(beat.unwrap_or(rec.updated_ms), Closed::HostLost),
        }
        rec.updated_ms = now_ms;
        state.put_document(KIND, &rec.task_id, &rec.to_value(), Expect::Any)?;
        closed += 1;
    }
    Ok(closed)
}

#[cfg(test)]
mod tests;
