//! Tasks: the latest report of each task, keyed by task id.

use rusqlite::{Connection, OptionalExtension, ToSql, params};

use super::rows::{self, TASK_COLS, map_err, to_json};
use crate::state::{Result, TaskQuery, TaskRecord};

const STOPPED: &str = "STOPPED";
const ORDER: &str = " ORDER BY created_at_ms, task_id";

pub(super) fn put(conn: &Connection, t: &TaskRecord) -> Result<()> {
    let json = to_json(&t.task)?;
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO tasks ({TASK_COLS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            t.task_id,
            t.cluster,
            t.task_definition,
            t.family,
            t.last_status,
            t.desired_status,
            t.started_by,
            t.group,
            t.created_at_ms,
            t.stopped_at_ms,
            json,
            t.service,
        ])
    })
    .map_err(map_err("tasks"))?;
    Ok(())
}

pub(super) fn get(conn: &Connection, task_id: &str) -> Result<Option<TaskRecord>> {
    conn.prepare_cached(&format!("SELECT {TASK_COLS} FROM tasks WHERE task_id = ?1"))
        .and_then(|mut s| s.query_row([task_id], rows::task).optional())
        .map_err(map_err("tasks"))
}

/// Tasks matching every condition in `q`, oldest first. The SQL names only the filters
/// present (rather than `?n IS NULL OR col = ?n`) so SQLite can pick the matching index.
pub(super) fn list(conn: &Connection, q: &TaskQuery) -> Result<Vec<TaskRecord>> {
    let mut sql = format!("SELECT {TASK_COLS} FROM tasks WHERE cluster = ?1");
    let mut args: Vec<&dyn ToSql> = vec![&q.cluster];
    let filters = [
        ("family", &q.family),
        ("started_by", &q.started_by),
        ("group_name", &q.group),
        ("service", &q.service),
        ("desired_status", &q.desired_status),
    ];
    for (column, value) in filters {
        if let Some(value) = value {
            args.push(value);
            sql.push_str(&format!(" AND {column} = ?{}", args.len()));
        }
    }
    sql.push_str(ORDER);
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_map(&*args, rows::task)?.collect())
        .map_err(map_err("tasks"))
}

/// Tasks whose last status is not STOPPED, oldest first.
pub(super) fn unfinished(conn: &Connection) -> Result<Vec<TaskRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {TASK_COLS} FROM tasks WHERE last_status <> ?1{ORDER}"
    ))
    .and_then(|mut s| s.query_map([STOPPED], rows::task)?.collect())
    .map_err(map_err("tasks"))
}

/// Deletes STOPPED tasks whose `stopped_at_ms` is before `before_ms`. A STOPPED task with
/// no stop time is kept: its age is unknown, and deleting history early is the worse error.
pub(super) fn prune_stopped(conn: &Connection, before_ms: i64) -> Result<usize> {
    conn.prepare_cached("DELETE FROM tasks WHERE last_status = ?1 AND stopped_at_ms < ?2")
        .and_then(|mut s| s.execute(params![STOPPED, before_ms]))
        .map_err(map_err("tasks"))
}
