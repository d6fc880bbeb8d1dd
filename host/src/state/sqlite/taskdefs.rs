//! Task definitions: immutable revisions per family, numbered from a per-family counter.

use rusqlite::{Connection, OptionalExtension, ToSql, TransactionBehavior, params};
use serde_json::Value;

use super::rows::{self, TASK_DEF_COLS, map_err, to_json};
use crate::state::{Result, StateError, TaskDefQuery, TaskDefRecord};

const ACTIVE: &str = "ACTIVE";

/// Allocates the family's next revision and stores the definition under it.
///
/// The counter row in `task_def_families` is bumped inside an IMMEDIATE transaction, which
/// takes the write lock up front: concurrent registrations (threads or processes) are
/// serialized and each sees the previous one's counter, so revisions are distinct and
/// increasing. Counting from the counter rather than `max(revision)` keeps numbers unique
/// even if revision rows are ever deleted.
pub(super) fn register(
    conn: &mut Connection,
    family: &str,
    definition: &Value,
    registered_at_ms: i64,
) -> Result<TaskDefRecord> {
    let err = map_err("task_definitions");
    let json = to_json(definition)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    let next: i64 = tx
        .prepare_cached(
            "INSERT INTO task_def_families (family, last_revision) VALUES (?1, 1)
             ON CONFLICT (family) DO UPDATE SET last_revision = last_revision + 1
             RETURNING last_revision",
        )
        .and_then(|mut s| s.query_row([family], |r| r.get(0)))
        .map_err(&err)?;
    // Dropping `tx` on this error path rolls the counter bump back.
    let revision = u32::try_from(next)
        .map_err(|_| StateError::Db(format!("family {family}: revision numbers exhausted")))?;
    tx.prepare_cached(
        "INSERT INTO task_definitions (family, revision, status, registered_at_ms, definition)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![family, revision, ACTIVE, registered_at_ms, json]))
    .map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(TaskDefRecord {
        family: family.to_owned(),
        revision,
        status: ACTIVE.to_owned(),
        registered_at_ms,
        deregistered_at_ms: None,
        definition: definition.clone(),
    })
}

/// One revision, or with `None` the highest ACTIVE one.
pub(super) fn get(
    conn: &Connection,
    family: &str,
    revision: Option<u32>,
) -> Result<Option<TaskDefRecord>> {
    let result = match revision {
        Some(rev) => conn
            .prepare_cached(&format!(
                "SELECT {TASK_DEF_COLS} FROM task_definitions WHERE family = ?1 AND revision = ?2"
            ))
            .and_then(|mut s| s.query_row(params![family, rev], rows::task_def).optional()),
        None => conn
            .prepare_cached(&format!(
                "SELECT {TASK_DEF_COLS} FROM task_definitions
                 WHERE family = ?1 AND status = ?2 ORDER BY revision DESC LIMIT 1"
            ))
            .and_then(|mut s| {
                s.query_row(params![family, ACTIVE], rows::task_def)
                    .optional()
            }),
    };
    result.map_err(map_err("task_definitions"))
}

/// Sets a revision's status. `deregistered_at_ms` records the first move away from ACTIVE
/// (a later INACTIVE → DELETE_IN_PROGRESS keeps the original deregistration time) and is
/// cleared if the revision is made ACTIVE again. Runs in a transaction so that a row that
/// cannot be read back (corrupt) leaves the status unchanged along with the error.
pub(super) fn set_status(
    conn: &mut Connection,
    family: &str,
    revision: u32,
    status: &str,
    at_ms: i64,
) -> Result<Option<TaskDefRecord>> {
    let err = map_err("task_definitions");
    let tx = conn.transaction().map_err(&err)?;
    let updated = tx
        .prepare_cached(&format!(
            "UPDATE task_definitions SET
                 status = ?3,
                 deregistered_at_ms = CASE WHEN ?3 = 'ACTIVE' THEN NULL
                                           ELSE coalesce(deregistered_at_ms, ?4) END
             WHERE family = ?1 AND revision = ?2
             RETURNING {TASK_DEF_COLS}"
        ))
        .and_then(|mut s| {
            s.query_row(params![family, revision, status, at_ms], rows::task_def)
                .optional()
        })
        .map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(updated)
}

/// Revisions matching `q`, by family (byte order, SQLite's BINARY collation) then revision.
pub(super) fn list(conn: &Connection, q: &TaskDefQuery) -> Result<Vec<TaskDefRecord>> {
    let mut sql = format!("SELECT {TASK_DEF_COLS} FROM task_definitions WHERE 1");
    let mut args: Vec<&dyn ToSql> = Vec::new();
    if let Some(prefix) = &q.family_prefix {
        // substr, not LIKE: LIKE is case-insensitive and treats `_` as a wildcard.
        sql.push_str(" AND substr(family, 1, length(?1)) = ?1");
        args.push(prefix);
    }
    if let Some(status) = &q.status {
        sql.push_str(&format!(" AND status = ?{}", args.len() + 1));
        args.push(status);
    }
    sql.push_str(if q.descending {
        " ORDER BY family DESC, revision DESC"
    } else {
        " ORDER BY family ASC, revision ASC"
    });
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_map(&*args, rows::task_def)?.collect())
        .map_err(map_err("task_definitions"))
}

/// Family names, sorted. `ACTIVE`: families with an ACTIVE revision; `INACTIVE`: families
/// with none; `None` or `ALL`: every family with a stored revision; any other status:
/// families with a revision in exactly that status.
pub(super) fn families(
    conn: &Connection,
    prefix: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<String>> {
    let mut args: Vec<&dyn ToSql> = vec![&prefix];
    let having = match status {
        None | Some("ALL") => "",
        Some("ACTIVE") => " HAVING max(status = 'ACTIVE') = 1",
        Some("INACTIVE") => " HAVING max(status = 'ACTIVE') = 0",
        Some(_) => {
            args.push(&status);
            " HAVING max(status = ?2) = 1"
        }
    };
    let sql = format!(
        "SELECT family FROM task_definitions
         WHERE ?1 IS NULL OR substr(family, 1, length(?1)) = ?1
         GROUP BY family{having} ORDER BY family"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_map(&*args, |r| r.get(0))?.collect())
        .map_err(map_err("task_definitions"))
}
