//! The log store: SQLite in WAL mode, one writer connection and a couple of readers.
//!
//! Writers are serialised by a mutex (SQLite allows one writer anyway) and each batch is
//! one IMMEDIATE transaction, taking the write lock up front so a concurrent writer in
//! another process waits on `busy_timeout` instead of failing with `SQLITE_BUSY` when a
//! read transaction tries to upgrade. Readers get their own connections so
//! `logs --follow` polls and API reads never queue behind a large batch insert.

use crate::util::time::now_ms;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use super::names::{check_group_name, check_stream_name};
use super::schema;
use super::{LogError, LogEvent};
// A poisoned connection lock only means another thread panicked mid-call; its transaction
// was rolled back when dropped, so the connection is still sound.
use crate::util::sync::lock;

/// Read connections per file store: enough for a follower plus an API request on 2 cores.
const READERS: usize = 2;

/// A handle to the log store; cheap to clone and share across threads.
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    writer: Mutex<Connection>,
    /// Empty for in-memory stores, whose only connection is the writer.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// The database file; `None` in memory.
    pub(super) path: Option<PathBuf>,
    /// Host-wide cap on the pages the store uses, in bytes (`u64::MAX`: none).
    pub(super) max_bytes: AtomicU64,
    /// Dropped with the store, which ends its sweeper thread at once.
    pub(super) sweeper_stop: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("readers", &self.inner.readers.len())
            .finish_non_exhaustive()
    }
}

impl LogStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        let mut writer = Connection::open(path)?;
        schema::configure(&writer, true)?;
        schema::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(path, flags)?;
                schema::configure_reader(&conn)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>, LogError>>()?;
        Ok(Self::from_parts(writer, readers, Some(path.to_owned())))
    }

    /// A private, non-persistent store for tests and `--ephemeral` runs.
    pub fn open_in_memory() -> Result<Self, LogError> {
        let mut conn = Connection::open_in_memory()?;
        schema::configure(&conn, false)?;
        schema::migrate(&mut conn)?;
        Ok(Self::from_parts(conn, Vec::new(), None))
    }

    fn from_parts(
        writer: Connection,
        readers: Vec<Mutex<Connection>>,
        path: Option<PathBuf>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                path,
                max_bytes: AtomicU64::new(u64::MAX),
                sweeper_stop: Mutex::new(None),
            }),
        }
    }

    pub(super) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    pub(super) fn from_inner(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    /// Runs `f` in a write transaction that is committed if `f` succeeds.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        let mut conn = lock(&self.inner.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a read transaction, so multi-statement reads see one snapshot.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        let mut conn = self.reader();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// A free reader if there is one, else waits on one in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let readers = &self.inner.readers;
        if readers.is_empty() {
            return lock(&self.inner.writer);
        }
        if let Some(guard) = readers.iter().find_map(|r| r.try_lock().ok()) {
            return guard;
        }
        let i = self.inner.next_reader.fetch_add(1, Ordering::Relaxed) % readers.len();
        lock(&readers[i])
    }

    /// Creates a group; fails if it exists (CreateLogGroup).
    pub fn create_group(&self, name: &str) -> Result<(), LogError> {
        check_group_name("logGroupName", name)?;
        self.write(|tx| match insert_group(tx, name)? {
            true => Ok(()),
            false => Err(LogError::GroupAlreadyExists(name.to_owned())),
        })
    }

    /// Creates a group unless present (`awslogs-create-group: true`).
    pub fn ensure_group(&self, name: &str) -> Result<(), LogError> {
        check_group_name("logGroupName", name)?;
        self.write(|tx| insert_group(tx, name).map(|_| ()))
    }

    /// Whether a group exists, so the runtime can refuse to start a task whose group is
    /// missing when `awslogs-create-group` is off.
    pub fn group_exists(&self, name: &str) -> Result<bool, LogError> {
        self.read(|tx| Ok(group_id(tx, name)?.is_some()))
    }

    /// Deletes a group with all its streams and events (DeleteLogGroup).
    pub fn delete_group(&self, name: &str) -> Result<(), LogError> {
        self.write(|tx| {
            let gid = require_group(tx, name)?;
            tx.prepare_cached("DELETE FROM log_events WHERE group_id = ?1")?
                .execute([gid])?;
            tx.prepare_cached("DELETE FROM log_streams WHERE group_id = ?1")?
                .execute([gid])?;
            tx.prepare_cached("DELETE FROM log_groups WHERE id = ?1")?
                .execute([gid])?;
            Ok(())
        })
    }

    /// Creates a stream in an existing group; fails if it exists (CreateLogStream).
    pub fn create_stream(&self, group: &str, stream: &str) -> Result<(), LogError> {
        check_stream_name("logStreamName", stream)?;
        self.write(|tx| {
            let gid = require_group(tx, group)?;
            match insert_stream(tx, gid, stream, now_ms())? {
                true => Ok(()),
                false => Err(LogError::StreamAlreadyExists {
                    group: group.to_owned(),
                    stream: stream.to_owned(),
                }),
            }
        })
    }

    /// Appends a batch in one transaction, creating the group and stream as needed.
    /// Events may be out of order; reads sort by `(timestamp, insertion order)`.
    pub fn put_events(
        &self,
        group: &str,
        stream: &str,
        events: &[LogEvent],
    ) -> Result<(), LogError> {
        self.put_events_at(group, stream, events, now_ms())
    }

    /// [`Self::put_events`] with an explicit ingestion time, for deterministic tests.
    pub(super) fn put_events_at(
        &self,
        group: &str,
        stream: &str,
        events: &[LogEvent],
        ingestion_ms: i64,
    ) -> Result<(), LogError> {
        check_group_name("logGroupName", group)?;
        check_stream_name("logStreamName", stream)?;
        self.write(|tx| {
            insert_group(tx, group)?;
            let gid = require_group(tx, group)?;
            insert_stream(tx, gid, stream, ingestion_ms)?;
            let sid = stream_id(tx, gid, stream)?.ok_or_else(|| LogError::StreamNotFound {
                group: group.to_owned(),
                stream: stream.to_owned(),
            })?;
            let (Some(first), Some(last)) = (
                events.iter().map(|e| e.timestamp_ms).min(),
                events.iter().map(|e| e.timestamp_ms).max(),
            ) else {
                return Ok(());
            };
            let mut insert = tx.prepare_cached(
                "INSERT INTO log_events (group_id, stream_id, timestamp, ingestion_time, message)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut bytes: i64 = 0;
            for e in events {
                insert.execute((gid, sid, e.timestamp_ms, ingestion_ms, &e.message))?;
                bytes = bytes.saturating_add(i64::try_from(e.message.len()).unwrap_or(i64::MAX));
            }
            tx.prepare_cached(
                "UPDATE log_streams SET
                    first_event_timestamp = min(coalesce(first_event_timestamp, ?2), ?2),
                    last_event_timestamp = max(coalesce(last_event_timestamp, ?3), ?3),
                    last_ingestion_time = ?4,
                    stored_bytes = stored_bytes + ?5
                 WHERE id = ?1",
            )?
            .execute((sid, first, last, ingestion_ms, bytes))?;
            tx.prepare_cached(
                "UPDATE log_groups SET stored_bytes = stored_bytes + ?2 WHERE id = ?1",
            )?
            .execute((gid, bytes))?;
            // In the batch's own transaction: the store is back under its cap when it commits.
            self.evict_over_cap(tx)?;
            Ok(())
        })
    }
}

/// Inserts a group if absent; true if it was created.
fn insert_group(conn: &Connection, name: &str) -> Result<bool, LogError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO log_groups (name, creation_time) VALUES (?1, ?2)
             ON CONFLICT (name) DO NOTHING",
        )?
        .execute((name, now_ms()))?;
    Ok(n > 0)
}

/// Inserts a stream if absent; true if it was created.
fn insert_stream(conn: &Connection, gid: i64, name: &str, now: i64) -> Result<bool, LogError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO log_streams (group_id, name, creation_time) VALUES (?1, ?2, ?3)
             ON CONFLICT (group_id, name) DO NOTHING",
        )?
        .execute((gid, name, now))?;
    Ok(n > 0)
}

pub(super) fn group_id(conn: &Connection, name: &str) -> Result<Option<i64>, LogError> {
    Ok(conn
        .prepare_cached("SELECT id FROM log_groups WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub(super) fn require_group(conn: &Connection, name: &str) -> Result<i64, LogError> {
    group_id(conn, name)?.ok_or_else(|| LogError::GroupNotFound(name.to_owned()))
}

pub(super) fn stream_id(conn: &Connection, gid: i64, name: &str) -> Result<Option<i64>, LogError> {
    Ok(conn
        .prepare_cached("SELECT id FROM log_streams WHERE group_id = ?1 AND name = ?2")?
        .query_row((gid, name), |r| r.get(0))
        .optional()?)
}
