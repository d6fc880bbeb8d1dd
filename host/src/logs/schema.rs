//! Connection setup and schema migrations. `PRAGMA user_version` records how many entries
//! of [`MIGRATIONS`] have been applied, so a newer host upgrades an older data dir in
//! place and never re-runs a step.

use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::LogError;

/// Long enough to ride out another process's write batch, short enough to surface a
/// stuck writer as an error instead of a hang.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const STATEMENT_CACHE: usize = 48;

/// The WAL is truncated back to this size after a checkpoint; without a limit it keeps the
/// size of the largest burst of writes forever, outside the store's byte cap.
const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

/// Append-only: never edit an applied step, add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: groups, streams, events. Events carry `group_id` too, so FilterLogEvents over a
    // whole group walks one index in time order instead of merging per-stream scans.
    // AUTOINCREMENT keeps event ids (the public eventId) from ever being reused after a
    // group is deleted.
    "CREATE TABLE log_groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        creation_time INTEGER NOT NULL,
        stored_bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE log_streams (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id INTEGER NOT NULL REFERENCES log_groups(id),
        name TEXT NOT NULL,
        creation_time INTEGER NOT NULL,
        first_event_timestamp INTEGER,
        last_event_timestamp INTEGER,
        last_ingestion_time INTEGER,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (group_id, name)
    );
    CREATE INDEX log_streams_by_last_event
        ON log_streams (group_id, last_event_timestamp, name);
    CREATE TABLE log_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id INTEGER NOT NULL,
        stream_id INTEGER NOT NULL REFERENCES log_streams(id),
        timestamp INTEGER NOT NULL,
        ingestion_time INTEGER NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX log_events_by_stream ON log_events (stream_id, timestamp, id);
    CREATE INDEX log_events_by_group ON log_events (group_id, timestamp, id);",
    // 2: PutRetentionPolicy. NULL means events never expire.
    "ALTER TABLE log_groups ADD COLUMN retention_in_days INTEGER;",
];

/// Per-connection settings; `wal` is false for in-memory databases, which have no WAL.
pub(crate) fn configure(conn: &Connection, wal: bool) -> Result<(), LogError> {
    configure_reader(conn)?;
    if wal {
        // WAL lets a `wasmgate logs` process read while `wasmgate run` writes; NORMAL
        // sync is durable across app crashes and only risks the last commits on power loss.
        enable_wal(conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Switches to WAL, retrying while busy: SQLite does not call the busy handler for a
/// journal-mode change, so two processes opening a fresh file at once would otherwise
/// fail with "database is locked".
fn enable_wal(conn: &Connection) -> Result<(), LogError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) => {
                if !mode.eq_ignore_ascii_case("wal") {
                    tracing::warn!(%mode, "log store could not switch to WAL journal mode");
                }
                return Ok(());
            }
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Settings every connection needs, including the read-only ones.
pub(crate) fn configure_reader(conn: &Connection) -> Result<(), LogError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Room for every statement the store prepares, so none is evicted and re-parsed.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Applies pending migrations in one immediate transaction, so two processes opening a
/// fresh file at once cannot both run step 1.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), LogError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(LogError::invalid(
            "dataDir",
            format!(
                "log store schema version {applied} is newer than this host supports ({})",
                MIGRATIONS.len()
            ),
        ));
    }
    for step in &MIGRATIONS[applied..] {
        tx.execute_batch(step)?;
    }
    if applied < MIGRATIONS.len() {
        tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_is_idempotent_and_sets_version() -> Result<(), LogError> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn, false)?;
        migrate(&mut conn)?;
        migrate(&mut conn)?;
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(usize::try_from(v).ok(), Some(MIGRATIONS.len()));
        Ok(())
    }

    #[test]
    fn refuses_newer_schema() -> Result<(), LogError> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "user_version", 99)?;
        assert!(matches!(
            migrate(&mut conn),
            Err(LogError::InvalidParameter { .. })
        ));
        Ok(())
    }

    #[test]
    fn event_scans_use_the_indexes() -> Result<(), LogError> {
        let mut conn = Connection::open_in_memory()?;
        migrate(&mut conn)?;
        let plan = |sql: &str| -> Result<String, LogError> {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?.join("; "))
        };
        let by_stream = plan(
            "SELECT id FROM log_events WHERE stream_id = 1 AND timestamp BETWEEN 0 AND 9
             AND (timestamp, id) > (0, 0) ORDER BY timestamp, id",
        )?;
        assert!(by_stream.contains("log_events_by_stream"), "{by_stream}");
        assert!(!by_stream.contains("TEMP B-TREE"), "{by_stream}");
        let by_group = plan(
            "SELECT id FROM log_events WHERE group_id = 1 AND timestamp BETWEEN 0 AND 9
             AND (timestamp, id) > (0, 0) ORDER BY timestamp, id",
        )?;
        assert!(by_group.contains("log_events_by_group"), "{by_group}");
        assert!(!by_group.contains("TEMP B-TREE"), "{by_group}");
        Ok(())
    }
}
