//! The store's file (`<data-dir>/metrics.db`, SQLite): the same rows as memory, written in
//! batches by [`MetricStore::flush`](super::MetricStore::flush) and read back at start.
//! Metric samples are this host's telemetry, not cluster state, so they live beside the
//! log store rather than in the state store.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};

use super::SeriesKey;
use super::series::{Agg, Sample, TimedAgg};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    unit TEXT NOT NULL,
    last_write INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (series INTEGER NOT NULL, sec INTEGER NOT NULL,
    weight REAL NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS samples_by_sec ON samples (sec);
CREATE TABLE IF NOT EXISTS sets (series INTEGER NOT NULL, sec INTEGER NOT NULL,
    count REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sets_by_sec ON sets (sec);
CREATE TABLE IF NOT EXISTS minutes (series INTEGER NOT NULL, minute INTEGER NOT NULL,
    count REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
    PRIMARY KEY (series, minute)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS minutes_by_minute ON minutes (minute);
";

/// One change to write.
#[derive(Debug, Clone)]
pub enum Change {
    Series {
        id: i64,
        key: SeriesKey,
        unit: String,
        last_write: i64,
    },
    Sample(i64, Sample),
    Set(i64, TimedAgg),
    /// The minute's current aggregate (looked up at flush time).
    Minute(i64, TimedAgg),
    DropSeries(i64),
    /// Everything before these seconds is gone.
    Cutoffs {
        raw: u32,
        minute: u32,
    },
}

/// What the file held at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub series: Vec<(i64, SeriesKey, String, i64)>,
    pub samples: Vec<(i64, Sample)>,
    pub sets: Vec<(i64, TimedAgg)>,
    pub minutes: Vec<(i64, TimedAgg)>,
}

pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Pages freed by eviction go back to the file system (`reclaim`), so the file stays
    // near what the data needs. Set before the tables exist; a file made without it is
    // converted once by VACUUM.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)?;
    conn.execute_batch(SCHEMA)?;
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode != 2 {
        conn.execute_batch("VACUUM")?;
    }
    Ok(conn)
}

/// Bytes of the pages holding data (what the cap is held to), and of the whole file.
pub fn sizes(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    let pragma = |name: &str| -> rusqlite::Result<u64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
            .map(|v| u64::try_from(v).unwrap_or(0))
    };
    let (pages, free, size) = (
        pragma("page_count")?,
        pragma("freelist_count")?,
        pragma("page_size")?,
    );
    Ok((pages.saturating_sub(free) * size, pages * size))
}

/// Gives free pages back to the file system and truncates the write-ahead log.
pub fn reclaim(conn: &Connection) -> rusqlite::Result<()> {
    // Each step of the pragma frees one page: step it to its end.
    let mut stmt = conn.prepare("PRAGMA incremental_vacuum")?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    drop(rows);
    drop(stmt);
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

pub fn open_in_memory() -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Reads what is newer than the cutoffs; older rows are deleted.
pub fn load(
    conn: &mut Connection,
    raw_cutoff: u32,
    minute_cutoff: u32,
) -> rusqlite::Result<Loaded> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM samples WHERE sec < ?1", [raw_cutoff])?;
    tx.execute("DELETE FROM sets WHERE sec < ?1", [raw_cutoff])?;
    tx.execute("DELETE FROM minutes WHERE minute < ?1", [minute_cutoff])?;
    let mut out = Loaded::default();
    {
        let mut stmt =
            tx.prepare("SELECT id, namespace, name, dimensions, unit, last_write FROM series")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        for row in rows {
            let (id, namespace, name, dims, unit, last_write) = row?;
            // A row this host wrote; one that does not parse is skipped, not fatal.
            let Ok(dimensions) = serde_json::from_str::<Vec<(String, String)>>(&dims) else {
                tracing::warn!(
                    id,
                    "metrics store: skipping a series with unreadable dimensions"
                );
                continue;
            };
            let key = SeriesKey {
                namespace,
                name,
                dimensions,
            };
            out.series.push((id, key, unit, last_write));
        }
        let mut stmt = tx.prepare("SELECT series, sec, weight, value FROM samples ORDER BY sec")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Sample {
                    sec: r.get(1)?,
                    weight: r.get::<_, f64>(2)? as f32,
                    value: r.get(3)?,
                },
            ))
        })?;
        for row in rows {
            out.samples.push(row?);
        }
        let agg_row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, TimedAgg)> {
            Ok((
                r.get(0)?,
                TimedAgg {
                    t: r.get(1)?,
                    agg: Agg {
                        count: r.get(2)?,
                        sum: r.get(3)?,
                        min: r.get(4)?,
                        max: r.get(5)?,
                    },
                },
            ))
        };
        let mut stmt =
            tx.prepare("SELECT series, sec, count, sum, min, max FROM sets ORDER BY sec")?;
        for row in stmt.query_map([], agg_row)? {
            out.sets.push(row?);
        }
        let mut stmt =
            tx.prepare("SELECT series, minute, count, sum, min, max FROM minutes ORDER BY minute")?;
        for row in stmt.query_map([], agg_row)? {
            out.minutes.push(row?);
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Writes `changes` in one transaction.
pub fn write(conn: &mut Connection, changes: &[Change]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for change in changes {
        match change {
            Change::Series {
                id,
                key,
                unit,
                last_write,
            } => {
                let dims = serde_json::to_string(&key.dimensions).unwrap_or_else(|_| "[]".into());
                tx.prepare_cached(
                    "INSERT INTO series (id, namespace, name, dimensions, unit, last_write)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET unit = ?5, last_write = ?6",
                )?
                .execute(params![
                    id,
                    key.namespace,
                    key.name,
                    dims,
                    unit,
                    last_write
                ])?;
            }
            Change::Sample(id, s) => {
                tx.prepare_cached(
                    "INSERT INTO samples (series, sec, weight, value) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![id, s.sec, f64::from(s.weight), s.value])?;
            }
            Change::Set(id, s) => {
                tx.prepare_cached(
                    "INSERT INTO sets (series, sec, count, sum, min, max)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    id,
                    s.t,
                    s.agg.count,
                    s.agg.sum,
                    s.agg.min,
                    s.agg.max
                ])?;
            }
            Change::Minute(id, m) => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO minutes (series, minute, count, sum, min, max)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    id,
                    m.t,
                    m.agg.count,
                    m.agg.sum,
                    m.agg.min,
                    m.agg.max
                ])?;
            }
            Change::DropSeries(id) => {
                for table in ["samples", "sets", "minutes"] {
                    tx.prepare_cached(&format!("DELETE FROM {table} WHERE series = ?1"))?
                        .execute([id])?;
                }
                tx.prepare_cached("DELETE FROM series WHERE id = ?1")?
                    .execute([id])?;
            }
            Change::Cutoffs { raw, minute } => {
                tx.prepare_cached("DELETE FROM samples WHERE sec < ?1")?
                    .execute([raw])?;
                tx.prepare_cached("DELETE FROM sets WHERE sec < ?1")?
                    .execute([raw])?;
                tx.prepare_cached("DELETE FROM minutes WHERE minute < ?1")?
                    .execute([minute])?;
            }
        }
    }
    tx.commit()
}
