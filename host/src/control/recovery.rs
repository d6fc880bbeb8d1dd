//! After a restart: tasks the store holds that never reached STOPPED ran on a host that
//! died. They cannot be running now, so they are recorded as STOPPED.
//!
//! ECS has no stop code for "the host itself went away". The codes chosen are the most
//! honest ECS values: `TaskFailedToStart` for a task that never reached RUNNING (it did
//! not start), `TerminationNotice` for one that did (the infrastructure under it was
//! terminated; it is also the code wasmgate uses when it shuts down itself). A task that
//! was already stopping keeps the stop code and reason it had.

use super::error::Result;
use crate::state::{StateStore, TaskRecord};
use crate::util::time::{now_ms, secs};
use serde_json::{Map, Value, json};

/// `stoppedReason` of a task the previous host left running.
pub const HOST_RESTARTED: &str = "Host stopped: wasmgate restarted while the task was running";

/// Records every unfinished task as STOPPED; returns how many there were.
pub fn recover(state: &dyn StateStore) -> Result<usize> {
    let now = now_ms();
    let unfinished = state.unfinished_tasks()?;
    let n = unfinished.len();
    for mut record in unfinished {
        mark_lost(&mut record, now, HOST_RESTARTED);
        state.put_task(&record)?;
    }
    Ok(n)
}

/// Turns a stored task into a STOPPED one: stop code and reason (unless it was already
/// stopping), timestamps, containers STOPPED (no exit code for those that had none), and
/// the next version.
pub fn mark_lost(record: &mut TaskRecord, now: i64, reason: &str) {
    if !record.task.is_object() {
        record.task = Value::Object(Map::new());
    }
    let Some(task) = record.task.as_object_mut() else {
        return;
    };
    let reached_running = task.get("startedAt").is_some_and(|v| !v.is_null());
    if task.get("stopCode").is_none_or(Value::is_null) {
        let code = if reached_running {
            "TerminationNotice"
        } else {
            "TaskFailedToStart"
        };
        task.insert("stopCode".into(), json!(code));
        task.insert("stoppedReason".into(), json!(reason));
    }
    task.insert("lastStatus".into(), json!("STOPPED"));
    task.insert("desiredStatus".into(), json!("STOPPED"));
    if task.get("stoppingAt").is_none_or(Value::is_null) {
        task.insert("stoppingAt".into(), json!(secs(now)));
    }
    task.insert("stoppedAt".into(), json!(secs(now)));
    task.insert("executionStoppedAt".into(), json!(secs(now)));
    if let Some(Value::Array(containers)) = task.get_mut("containers") {
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            if c.get("lastStatus").and_then(Value::as_str) != Some("STOPPED") {
                c.insert("lastStatus".into(), json!("STOPPED"));
                c.remove("exitCode");
                c.insert("reason".into(), json!(reason));
            }
        }
    }
    let version = task.get("version").and_then(Value::as_u64).unwrap_or(0);
    task.insert("version".into(), json!(version + 1));
    record.last_status = "STOPPED".into();
    record.desired_status = "STOPPED".into();
    record.stopped_at_ms = Some(now);
}
