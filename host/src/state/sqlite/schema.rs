//! Connection settings and schema migrations.
//!
//! The schema version lives in `PRAGMA user_version`. [`MIGRATIONS`] is append-only:
//! migration `i` (0-based) takes the database from version `i` to `i + 1`, and a released
//! migration is never edited, because databases in the field have already applied it.
//! A database whose version is beyond the list was written by a newer wasmgate; it is
//! refused ([`StateError::TooNew`]) rather than written with assumptions it breaks.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::rows::map_err;
use crate::state::{Result, StateError};

/// How long a statement waits for another connection's lock before failing. Writes are
/// tiny, so 5 s only ever elapses if something is badly wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Ordered schema migrations; see the module docs before touching this.
pub(super) const MIGRATIONS: &[&str] = &[MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4];

/// The schema version this build writes.
pub(super) fn latest_version() -> u32 {
    // The list is a handful of entries; the cast cannot truncate.
    MIGRATIONS.len() as u32
}

/// Version 1. Tables are STRICT so a wrongly typed write fails loudly instead of being
/// coerced. Every index exists for a query in this backend; secondary task indexes lead
/// with `cluster` (ListTasks is always per cluster) and end with the sort key so results
/// come out of the index already ordered.
const MIGRATION_1: &str = "
CREATE TABLE clusters (
    name          TEXT    NOT NULL PRIMARY KEY,
    status        TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    extra         TEXT    NOT NULL
) STRICT;

-- One row per family ever registered. `last_revision` only grows, so a revision number is
-- never handed out twice, even if revisions are later deleted outright.
CREATE TABLE task_def_families (
    family        TEXT    NOT NULL PRIMARY KEY,
    last_revision INTEGER NOT NULL CHECK (last_revision > 0)
) STRICT;

-- The primary key is the family+revision index (describe, latest ACTIVE, ordered lists).
CREATE TABLE task_definitions (
    family             TEXT    NOT NULL REFERENCES task_def_families (family),
    revision           INTEGER NOT NULL CHECK (revision > 0),
    status             TEXT    NOT NULL,
    registered_at_ms   INTEGER NOT NULL,
    deregistered_at_ms INTEGER,
    definition         TEXT    NOT NULL,
    PRIMARY KEY (family, revision)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_definitions_by_status ON task_definitions (status, family, revision);

CREATE TABLE tasks (
    task_id         TEXT    NOT NULL PRIMARY KEY,
    cluster         TEXT    NOT NULL,
    task_definition TEXT    NOT NULL,
    family          TEXT    NOT NULL,
    last_status     TEXT    NOT NULL,
    desired_status  TEXT    NOT NULL,
    started_by      TEXT,
    group_name      TEXT,
    created_at_ms   INTEGER NOT NULL,
    stopped_at_ms   INTEGER,
    task            TEXT    NOT NULL
) STRICT;
CREATE INDEX tasks_by_cluster_created ON tasks (cluster, created_at_ms, task_id);
CREATE INDEX tasks_by_cluster_desired ON tasks (cluster, desired_status, created_at_ms, task_id);
CREATE INDEX tasks_by_family ON tasks (cluster, family, created_at_ms, task_id);
CREATE INDEX tasks_by_started_by ON tasks (cluster, started_by, created_at_ms, task_id);
CREATE INDEX tasks_by_group ON tasks (cluster, group_name, created_at_ms, task_id);
-- Pruning (STOPPED before a time). Restart recovery (not STOPPED) scans once at startup.
CREATE INDEX tasks_by_last_status ON tasks (last_status, stopped_at_ms);

-- The primary key is the by-ARN index; rows come out sorted by key.
CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
) STRICT, WITHOUT ROWID;
";

/// Version 2: services. One row per cluster and name; a service deleted and created again
/// under its name replaces the INACTIVE row (ECS shows only the newest one too).
const MIGRATION_2: &str = "
CREATE TABLE services (
    cluster       TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    service       TEXT    NOT NULL,
    PRIMARY KEY (cluster, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX services_by_status ON services (status, created_at_ms);
";

/// Version 3: documents (IAM, STS and the services after them): one row per kind and key,
/// with a revision for compare-and-swap writes.
const MIGRATION_3: &str = "
CREATE TABLE documents (
    kind     TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) STRICT, WITHOUT ROWID;
";

/// Version 4: a task's service, as its scheduler started it (ListTasks' `serviceName`,
/// usage by service). Until now both read `group_name`, which any RunTask caller may set to
/// `service:X`; rows written before keep that reading, the only record they have.
const MIGRATION_4: &str = "
ALTER TABLE tasks ADD COLUMN service TEXT;
UPDATE tasks SET service = substr(group_name, 9) WHERE group_name LIKE 'service:%';
CREATE INDEX tasks_by_service ON tasks (cluster, service, created_at_ms, task_id);
";

/// Per-connection settings; none of them except `journal_mode` persist in the file, so they
/// are applied on every open.
pub(super) fn configure(conn: &Connection) -> Result<()> {
    let err = map_err("pragma");
    conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
    // WAL: readers never block the writer, and a commit is one append + fsync of the log.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(&err)?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        // Still durable (rollback journal + FULL sync), only slower; e.g. a filesystem
        // without shared-memory support.
        tracing::warn!(journal_mode = %mode, "state store could not enable WAL");
    }
    // FULL (not WAL's usual NORMAL): the log is fsynced at every commit, so a write that
    // returned survives power loss, not only a crash of this process.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(&err)?;
    // ListTasks builds its SQL from the filters present; keep all variants prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Runs `write` as a commit without an fsync (`synchronous=NORMAL`), then puts the
/// connection back to FULL.
///
/// Why that is safe for what it is used for (a task's progress after RunTask answered): in
/// WAL mode a NORMAL commit is appended to the log like any other, only not fsynced; the
/// next FULL commit fsyncs the log and with it every frame before it, so the order of
/// writes is kept and nothing acknowledged is ever behind a lost one. A crash of the
/// process loses nothing (the frames are in the OS's page cache); only a power loss can
/// lose the relaxed commits since the last FULL one. What those are: transitions nobody was
/// answered with (PENDING, ACTIVATING, RUNNING, health), of a task that the same power loss
/// stopped anyway; recovery marks it STOPPED from the last durable record (RunTask's
/// PROVISIONING at least, which was FULL). The writes that are acknowledged stay FULL:
/// RunTask's and StopTask's answers, and the STOPPED record (exit codes, reasons).
pub(super) fn relaxed<T>(conn: &Connection, write: impl FnOnce() -> Result<T>) -> Result<T> {
    let err = map_err("pragma");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(&err)?;
    let result = write();
    // Checked, not ignored: a connection left relaxed would weaken every later write.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&err)?;
    result
}

/// Brings the schema to [`latest_version`], one transaction per migration. The version is
/// read inside each IMMEDIATE transaction, so two processes opening the same fresh file
/// cannot both apply a migration.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let err = map_err("migrate");
    let supported = latest_version();
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(&err)?;
        // user_version is a signed 32-bit header field; a negative one is not ours.
        let found = u32::try_from(found)
            .map_err(|_| StateError::Corrupt(format!("schema version {found} is invalid")))?;
        if found > supported {
            return Err(StateError::TooNew { found, supported });
        }
        let Some(sql) = MIGRATIONS.get(found as usize) else {
            return tx.commit().map_err(&err);
        };
        tx.execute_batch(sql).map_err(&err)?;
        tx.pragma_update(None, "user_version", found + 1)
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        tracing::debug!(version = found + 1, "state store schema migrated");
    }
}
