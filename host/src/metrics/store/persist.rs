//! The store's file (`<data-dir>/metrics.db`, SQLite): the same rows as memory, written in
//! batches by [`MetricStore::flush`](super::MetricStore::flush) and read back at start.
//! Metric samples are this host's telemetry, not cluster state, so they live beside the
//! log store rather than in the state store.
//!
//! Raw 1-second values are written packed: one `sample_runs` row per series and flush
//! holds all of that series' new values (16 bytes each), not one row per value. With a
//! thousand tasks that is ~14,000 rows per publish instead of ~140,000, and row inserts
//! were most of the publisher's flush cost.

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
CREATE TABLE IF NOT EXISTS sample_runs (series INTEGER NOT NULL, first INTEGER NOT NULL,
    last INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS sample_runs_by_last ON sample_runs (last);
CREATE TABLE IF NOT EXISTS sets (series INTEGER NOT NULL, sec INTEGER NOT NULL,
    count REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sets_by_sec ON sets (sec);
CREATE TABLE IF NOT EXISTS minutes (series INTEGER NOT NULL, minute INTEGER NOT NULL,
    count REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
    PRIMARY KEY (series, minute)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS minutes_by_minute ON minutes (minute);
";

/// A series' row: its key, unit and last write.
#[derive(Debug, Clone)]
pub struct SeriesRow {
    pub id: i64,
    pub key: SeriesKey,
    pub unit: String,
    pub last_write: i64,
}

/// One change to write (kept small: a publish queues one per value).
#[derive(Debug, Clone)]
pub enum Change {
    Series(Box<SeriesRow>),
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
    tx.execute("DELETE FROM sample_runs WHERE last < ?1", [raw_cutoff])?;
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
        // Runs straddling the cutoff keep only their newer values.
        let mut stmt = tx.prepare("SELECT series, data FROM sample_runs")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        for row in rows {
            let (id, data) = row?;
            out.samples.extend(
                unpack(&data)
                    .filter(|s| s.sec >= raw_cutoff)
                    .map(|s| (id, s)),
            );
        }
        // In time order, as memory keeps them (runs of different flushes may interleave).
        out.samples.sort_by_key(|(_, s)| s.sec);
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

/// Bytes of one packed sample: second (u32), weight (f32), value (f64), little-endian.
const PACKED: usize = 16;

fn pack(into: &mut Vec<u8>, s: &Sample) {
    into.extend_from_slice(&s.sec.to_le_bytes());
    into.extend_from_slice(&s.weight.to_le_bytes());
    into.extend_from_slice(&s.value.to_le_bytes());
}

/// The samples of a packed run; a torn tail (not a whole sample) is ignored.
fn unpack(data: &[u8]) -> impl Iterator<Item = Sample> + '_ {
    data.chunks_exact(PACKED).map(|c| {
        let mut sec = [0; 4];
        let mut weight = [0; 4];
        let mut value = [0; 8];
        sec.copy_from_slice(&c[0..4]);
        weight.copy_from_slice(&c[4..8]);
        value.copy_from_slice(&c[8..16]);
        Sample {
            sec: u32::from_le_bytes(sec),
            weight: f32::from_le_bytes(weight),
            value: f64::from_le_bytes(value),
        }
    })
}

/// Raw values waiting to be written, packed per series.
#[derive(Default)]
struct Runs {
    by_series: super::FastMap<i64, (u32, u32, Vec<u8>)>,
}

impl Runs {
    fn add(&mut self, id: i64, s: &Sample) {
        let run = self
            .by_series
            .entry(id)
            .or_insert_with(|| (s.sec, s.sec, Vec::with_capacity(PACKED * 10)));
        run.0 = run.0.min(s.sec);
        run.1 = run.1.max(s.sec);
        pack(&mut run.2, s);
    }

    /// One row per series.
    fn write(&mut self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
        if self.by_series.is_empty() {
            return Ok(());
        }
        let mut stmt = tx.prepare_cached(
            "INSERT INTO sample_runs (series, first, last, data) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (id, (first, last, data)) in self.by_series.drain() {
            stmt.execute(params![id, first, last, data])?;
        }
        Ok(())
    }
}

/// Writes `changes` in one transaction.
pub fn write(conn: &mut Connection, changes: &[Change]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut runs = Runs::default();
    for change in changes {
        match change {
            Change::Series(row) => {
                let SeriesRow {
                    id,
                    key,
                    unit,
                    last_write,
                } = &**row;
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
            Change::Sample(id, s) => runs.add(*id, s),
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
                // Values queued before the drop go first, so the drop removes them too.
                runs.write(&tx)?;
                for table in ["samples", "sample_runs", "sets", "minutes"] {
                    tx.prepare_cached(&format!("DELETE FROM {table} WHERE series = ?1"))?
                        .execute([id])?;
                }
                tx.prepare_cached("DELETE FROM series WHERE id = ?1")?
                    .execute([id])?;
            }
            Change::Cutoffs { raw, minute } => {
                runs.write(&tx)?;
                tx.prepare_cached("DELETE FROM samples WHERE sec < ?1")?
                    .execute([raw])?;
                tx.prepare_cached("DELETE FROM sample_runs WHERE last < ?1")?
                    .execute([raw])?;
                tx.prepare_cached("DELETE FROM sets WHERE sec < ?1")?
                    .execute([raw])?;
                tx.prepare_cached("DELETE FROM minutes WHERE minute < ?1")?
                    .execute([minute])?;
            }
        }
    }
    runs.write(&tx)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_run_reads_back_and_a_torn_tail_is_ignored() {
        let samples = [
            Sample {
                sec: 1_700_000_000,
                weight: 1.0,
                value: 0.25,
            },
            Sample {
                sec: 1_700_000_001,
                weight: 3.0,
                value: -7.5e300,
            },
        ];
        let mut data = Vec::new();
        for s in &samples {
            pack(&mut data, s);
        }
        assert_eq!(unpack(&data).collect::<Vec<_>>(), samples);
        data.extend_from_slice(&[1, 2, 3]);
        assert_eq!(unpack(&data).collect::<Vec<_>>(), samples);
    }

    #[test]
    fn values_are_written_one_row_per_series_and_dropped_with_it() {
        let mut conn = open_in_memory().unwrap();
        let sample = |sec| Sample {
            sec,
            weight: 1.0,
            value: f64::from(sec),
        };
        let mut changes = Vec::new();
        for sec in 100..110 {
            changes.push(Change::Sample(1, sample(sec)));
            changes.push(Change::Sample(2, sample(sec)));
        }
        write(&mut conn, &changes).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM sample_runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
        // A value queued before its series is dropped goes with it.
        write(
            &mut conn,
            &[Change::Sample(1, sample(110)), Change::DropSeries(1)],
        )
        .unwrap();
        let loaded = load(&mut conn, 105, 0).unwrap();
        let secs: Vec<(i64, u32)> = loaded.samples.iter().map(|(id, s)| (*id, s.sec)).collect();
        assert_eq!(secs, (105..110).map(|s| (2, s)).collect::<Vec<_>>());
    }
}
