//! Documents by kind and key, each write one transaction that checks its [`Expect`] first,
//! so a compare-and-swap cannot interleave with another writer.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::rows::{Json, map_err, to_json};
use crate::state::{Document, Expect, Result, StateError};

fn revision_of(conn: &Connection, kind: &str, key: &str) -> Result<Option<u64>> {
    let rev: Option<i64> = conn
        .prepare_cached("SELECT revision FROM documents WHERE kind = ?1 AND key = ?2")
        .and_then(|mut s| s.query_row(params![kind, key], |r| r.get(0)).optional())
        .map_err(map_err("documents"))?;
    rev.map(|r| {
        u64::try_from(r)
            .map_err(|_| StateError::Corrupt(format!("documents: revision {r} of {kind}/{key}")))
    })
    .transpose()
}

fn holds(expect: Expect, current: Option<u64>) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Absent => current.is_none(),
        Expect::Revision(want) => current == Some(want),
    }
}

pub(super) fn put(
    conn: &mut Connection,
    kind: &str,
    key: &str,
    value: &Value,
    expect: Expect,
) -> Result<Option<u64>> {
    let err = map_err("documents");
    let text = to_json(value)?;
    let tx = conn.transaction().map_err(&err)?;
    let current = revision_of(&tx, kind, key)?;
    if !holds(expect, current) {
        return Ok(None);
    }
    let next = current.unwrap_or(0) + 1;
    let stored = i64::try_from(next)
        .map_err(|_| StateError::Corrupt(format!("documents: revision of {kind}/{key}")))?;
    tx.prepare_cached(
        "INSERT INTO documents (kind, key, value, revision) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value,
                                               revision = excluded.revision",
    )
    .and_then(|mut s| s.execute(params![kind, key, text, stored]))
    .map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(Some(next))
}

fn row(kind: &str, row: &rusqlite::Row<'_>) -> rusqlite::Result<Document> {
    let key: String = row.get(0)?;
    let Json(value) = row.get(1)?;
    let revision: i64 = row.get(2)?;
    Ok(Document {
        kind: kind.to_owned(),
        key,
        value,
        revision: u64::try_from(revision).unwrap_or(0),
    })
}

pub(super) fn get(conn: &Connection, kind: &str, key: &str) -> Result<Option<Document>> {
    conn.prepare_cached("SELECT key, value, revision FROM documents WHERE kind = ?1 AND key = ?2")
        .and_then(|mut s| s.query_row(params![kind, key], |r| row(kind, r)).optional())
        .map_err(map_err("documents"))
}

pub(super) fn list(conn: &Connection, kind: &str, prefix: &str) -> Result<Vec<Document>> {
    // A range scan on the primary key: keys >= prefix that still start with it.
    conn.prepare_cached(
        "SELECT key, value, revision FROM documents
         WHERE kind = ?1 AND key >= ?2 AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
    )
    .and_then(|mut s| {
        s.query_map(params![kind, prefix], |r| row(kind, r))?
            .collect()
    })
    .map_err(map_err("documents"))
}

pub(super) fn delete(conn: &mut Connection, kind: &str, key: &str, expect: Expect) -> Result<bool> {
    let err = map_err("documents");
    let tx = conn.transaction().map_err(&err)?;
    let current = revision_of(&tx, kind, key)?;
    if current.is_none() || !holds(expect, current) {
        return Ok(false);
    }
    tx.prepare_cached("DELETE FROM documents WHERE kind = ?1 AND key = ?2")
        .and_then(|mut s| s.execute(params![kind, key]))
        .map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(true)
}
