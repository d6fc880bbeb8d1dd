//! The host-wide cap on the log store, and what the store reports about its size.
//!
//! Size is measured as SQLite sees it: the pages in use (rows, indexes and their overhead),
//! not just message bytes, so the cap bounds the disk the store takes. Deleted rows free
//! pages that later inserts reuse, so the file itself stays near the cap too. Over the cap,
//! the oldest events (by arrival) of any group go first, down to [`LOW_WATER`] of the cap so
//! a steady writer does not evict on every batch.

use std::sync::atomic::Ordering;

use rusqlite::Connection;

use super::prune::{CHUNK, delete_selected};
use super::{LogError, LogStore};

/// Eviction stops once the store uses this fraction of its cap (percent).
const LOW_WATER: u64 = 90;
/// Eviction chunks one write may do; the sweeper finishes what a write left over.
const CHUNKS_PER_WRITE: usize = 32;

/// What `wasmgate logs --stats` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// Bytes of the database file plus its write-ahead log on disk (0 in memory).
    pub file_bytes: u64,
    /// Bytes of the pages holding data; what the cap is measured against.
    pub used_bytes: u64,
    /// The cap, if any.
    pub max_bytes: Option<u64>,
    pub groups: u64,
    pub streams: u64,
    pub events: u64,
    /// Sum of the groups' `storedBytes` (message bytes).
    pub stored_bytes: u64,
}

impl LogStore {
    /// Caps the pages the store may use; the oldest events are evicted beyond it.
    pub fn set_max_bytes(&self, max: Option<u64>) {
        self.inner()
            .max_bytes
            .store(max.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn max_bytes(&self) -> Option<u64> {
        Some(self.inner().max_bytes.load(Ordering::Relaxed)).filter(|&m| m != u64::MAX)
    }

    /// Evicts the oldest events until the store is under its cap; returns how many went.
    pub fn enforce_max_bytes(&self) -> Result<u64, LogError> {
        let mut evicted = 0;
        loop {
            let (n, over) = self.write(|tx| {
                let n = self.evict_over_cap(tx)?;
                Ok((n, self.over_low_water(tx)?))
            })?;
            evicted += n;
            if n == 0 || !over {
                return Ok(evicted);
            }
        }
    }

    /// Called in every write transaction that adds events: evicts if over the cap.
    pub(super) fn evict_over_cap(&self, tx: &Connection) -> Result<u64, LogError> {
        let Some(max) = self.max_bytes() else {
            return Ok(0);
        };
        if used_bytes(tx)? <= max {
            return Ok(0);
        }
        let mut select = tx.prepare_cached(
            "SELECT id, group_id, stream_id, length(CAST(message AS BLOB))
             FROM log_events ORDER BY id LIMIT ?1",
        )?;
        let mut evicted = 0;
        for _ in 0..CHUNKS_PER_WRITE {
            let n = delete_selected(tx, &mut select, [CHUNK])?;
            evicted += n;
            if n == 0 || !self.over_low_water(tx)? {
                break;
            }
        }
        if evicted > 0 {
            tracing::warn!(
                evicted,
                max_bytes = max,
                "log store over its cap: evicted the oldest events"
            );
        }
        Ok(evicted)
    }

    fn over_low_water(&self, tx: &Connection) -> Result<bool, LogError> {
        let Some(max) = self.max_bytes() else {
            return Ok(false);
        };
        Ok(used_bytes(tx)? > max / 100 * LOW_WATER)
    }

    /// The store's size and contents, for `wasmgate logs --stats`.
    pub fn stats(&self) -> Result<StoreStats, LogError> {
        let file_bytes = self.inner().path.as_ref().map_or(0, |p| {
            let wal = p.with_extension("db-wal");
            [p.as_path(), wal.as_path()]
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum()
        });
        let max_bytes = self.max_bytes();
        self.read(|tx| {
            let count = |sql: &str| -> Result<u64, LogError> {
                let n: i64 = tx.query_row(sql, [], |r| r.get(0))?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(StoreStats {
                file_bytes,
                used_bytes: used_bytes(tx)?,
                max_bytes,
                groups: count("SELECT count(*) FROM log_groups")?,
                streams: count("SELECT count(*) FROM log_streams")?,
                events: count("SELECT count(*) FROM log_events")?,
                stored_bytes: count("SELECT coalesce(sum(stored_bytes), 0) FROM log_groups")?,
            })
        })
    }
}

/// `64 MiB`, `1.5 KiB`, `12 bytes`: sizes in messages.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size {
            let whole = n / size;
            let tenths = (n % size) * 10 / size;
            return if tenths == 0 {
                format!("{whole} {unit}")
            } else {
                format!("{whole}.{tenths} {unit}")
            };
        }
    }
    format!("{n} bytes")
}

/// Bytes of the pages in use: all pages but the free ones. Cheap: two header reads.
fn used_bytes(conn: &Connection) -> Result<u64, LogError> {
    let pragma = |name: &str| -> Result<u64, LogError> {
        let n: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let pages = pragma("page_count")?.saturating_sub(pragma("freelist_count")?);
    Ok(pages.saturating_mul(pragma("page_size")?))
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
    }
}
