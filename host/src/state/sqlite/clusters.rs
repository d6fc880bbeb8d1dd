//! Clusters: one row per name, replaced whole on every write.

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{self, CLUSTER_COLS, map_err, to_json};
use crate::state::{ClusterRecord, Result};

pub(super) fn put(conn: &Connection, c: &ClusterRecord) -> Result<()> {
    let extra = to_json(&c.extra)?;
    conn.prepare_cached(
        "INSERT INTO clusters (name, status, created_at_ms, extra) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET
             status = excluded.status,
             created_at_ms = excluded.created_at_ms,
             extra = excluded.extra",
    )
    .and_then(|mut s| s.execute(params![c.name, c.status, c.created_at_ms, extra]))
    .map_err(map_err("clusters"))?;
    Ok(())
}

pub(super) fn get(conn: &Connection, name: &str) -> Result<Option<ClusterRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {CLUSTER_COLS} FROM clusters WHERE name = ?1"
    ))
    .and_then(|mut s| s.query_row([name], rows::cluster).optional())
    .map_err(map_err("clusters"))
}

pub(super) fn list(conn: &Connection) -> Result<Vec<ClusterRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {CLUSTER_COLS} FROM clusters ORDER BY name"
    ))
    .and_then(|mut s| s.query_map([], rows::cluster)?.collect())
    .map_err(map_err("clusters"))
}
