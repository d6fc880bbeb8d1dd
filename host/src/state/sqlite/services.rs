//! Services: one row per cluster and name, replaced whole on every write.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::rows::{Json, map_err, to_json};
use crate::state::{Result, ServiceRecord};

const COLS: &str = "cluster, name, status, created_at_ms, service";

fn row(row: &Row<'_>) -> rusqlite::Result<ServiceRecord> {
    Ok(ServiceRecord {
        cluster: row.get(0)?,
        name: row.get(1)?,
        status: row.get(2)?,
        created_at_ms: row.get(3)?,
        service: row.get::<_, Json>(4)?.0,
    })
}

pub(super) fn put(conn: &Connection, s: &ServiceRecord) -> Result<()> {
    let service = to_json(&s.service)?;
    conn.prepare_cached(
        "INSERT INTO services (cluster, name, status, created_at_ms, service)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (cluster, name) DO UPDATE SET
             status = excluded.status,
             created_at_ms = excluded.created_at_ms,
             service = excluded.service",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.cluster,
            s.name,
            s.status,
            s.created_at_ms,
            service
        ])
    })
    .map_err(map_err("services"))?;
    Ok(())
}

pub(super) fn get(conn: &Connection, cluster: &str, name: &str) -> Result<Option<ServiceRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLS} FROM services WHERE cluster = ?1 AND name = ?2"
    ))
    .and_then(|mut st| st.query_row([cluster, name], row).optional())
    .map_err(map_err("services"))
}

pub(super) fn list(conn: &Connection, status: Option<&str>) -> Result<Vec<ServiceRecord>> {
    match status {
        Some(status) => conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM services WHERE status = ?1 ORDER BY created_at_ms, cluster, name"
            ))
            .and_then(|mut st| st.query_map([status], row)?.collect()),
        None => conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM services ORDER BY created_at_ms, cluster, name"
            ))
            .and_then(|mut st| st.query_map([], row)?.collect()),
    }
    .map_err(map_err("services"))
}
