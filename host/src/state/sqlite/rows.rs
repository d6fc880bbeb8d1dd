//! Conversions between SQLite rows and the record types, and error mapping.
//!
//! Everything read back from the file is treated as untrusted: a value that does not
//! convert (bad JSON, an out-of-range revision, a wrong column type) becomes
//! [`StateError::Corrupt`] naming the table and column, never a panic, so one damaged row
//! surfaces as an error on the request that touches it instead of taking the host down.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{ErrorCode, Row};
use serde_json::Value;

use crate::state::{ClusterRecord, StateError, TaskDefRecord, TaskRecord};

/// A JSON document stored as TEXT. Parsing happens inside `FromSql` so that rusqlite
/// attaches the column index to the error.
pub(super) struct Json(pub Value);

impl FromSql for Json {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        serde_json::from_str(text)
            .map(Json)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// Serializes a JSON column for writing.
pub(super) fn to_json(value: &Value) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|e| StateError::Db(format!("encoding JSON: {e}")))
}

/// Maps a rusqlite error from an operation on `table`. Conversion failures and SQLite's
/// own corruption codes mean the stored data is bad (`Corrupt`); anything else (I/O, a
/// lock held past the busy timeout, a full disk) is an operational `Db` error.
pub(super) fn map_err(table: &'static str) -> impl Fn(rusqlite::Error) -> StateError {
    move |e| match &e {
        rusqlite::Error::FromSqlConversionFailure(idx, ty, err) => {
            StateError::Corrupt(format!("{table}: column {idx} ({ty}): {err}"))
        }
        rusqlite::Error::IntegralValueOutOfRange(idx, v) => {
            StateError::Corrupt(format!("{table}: column {idx}: value {v} out of range"))
        }
        rusqlite::Error::InvalidColumnType(_, name, ty) => {
            StateError::Corrupt(format!("{table}: column {name} has unexpected type {ty}"))
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            StateError::Corrupt(format!("{table}: {e}"))
        }
        _ => StateError::Db(format!("{table}: {e}")),
    }
}

/// Columns [`cluster`] reads, in order.
pub(super) const CLUSTER_COLS: &str = "name, status, created_at_ms, extra";

pub(super) fn cluster(row: &Row<'_>) -> rusqlite::Result<ClusterRecord> {
    Ok(ClusterRecord {
        name: row.get(0)?,
        status: row.get(1)?,
        created_at_ms: row.get(2)?,
        extra: row.get::<_, Json>(3)?.0,
    })
}

/// Columns [`task_def`] reads, in order.
pub(super) const TASK_DEF_COLS: &str =
    "family, revision, status, registered_at_ms, deregistered_at_ms, definition";

pub(super) fn task_def(row: &Row<'_>) -> rusqlite::Result<TaskDefRecord> {
    Ok(TaskDefRecord {
        family: row.get(0)?,
        // `u32: FromSql` rejects negative and oversized values with IntegralValueOutOfRange.
        revision: row.get(1)?,
        status: row.get(2)?,
        registered_at_ms: row.get(3)?,
        deregistered_at_ms: row.get(4)?,
        definition: row.get::<_, Json>(5)?.0,
    })
}

/// Columns [`task`] reads, in order.
pub(super) const TASK_COLS: &str = "task_id, cluster, task_definition, family, last_status, \
     desired_status, started_by, group_name, created_at_ms, stopped_at_ms, task, service";

pub(super) fn task(row: &Row<'_>) -> rusqlite::Result<TaskRecord> {
    Ok(TaskRecord {
        task_id: row.get(0)?,
        cluster: row.get(1)?,
        task_definition: row.get(2)?,
        family: row.get(3)?,
        last_status: row.get(4)?,
        desired_status: row.get(5)?,
        started_by: row.get(6)?,
        group: row.get(7)?,
        created_at_ms: row.get(8)?,
        stopped_at_ms: row.get(9)?,
        task: row.get::<_, Json>(10)?.0,
        service: row.get(11)?,
    })
}
