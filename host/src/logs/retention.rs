//! PutRetentionPolicy / DeleteRetentionPolicy and the sweep that deletes expired events.
//!
//! An event expires once its timestamp is older than its group's `retentionInDays`, as
//! CloudWatch judges it; the sweep runs periodically (see `sweeper`), so expired events may
//! linger until the next pass, as they do in CloudWatch.

use rusqlite::Connection;

use super::prune::{CHUNK, delete_selected};
use super::store::require_group;
use super::{LogError, LogStore};
use crate::util::time::now_ms;

/// The values CloudWatch Logs accepts for `retentionInDays`.
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

const DAY_MS: i64 = 86_400_000;

/// Checks `retentionInDays` against the values CloudWatch accepts.
pub fn check_retention_days(days: i64) -> Result<u32, LogError> {
    u32::try_from(days)
        .ok()
        .filter(|d| RETENTION_DAYS.contains(d))
        .ok_or_else(|| {
            LogError::invalid(
                "retentionInDays",
                format!("{days} must be one of {RETENTION_DAYS:?}"),
            )
        })
}

impl LogStore {
    /// Sets a group's retention (PutRetentionPolicy); its expired events go at the next sweep.
    pub fn put_retention_policy(&self, group: &str, days: i64) -> Result<(), LogError> {
        let days = check_retention_days(days)?;
        self.write(|tx| {
            let gid = require_group(tx, group)?;
            tx.prepare_cached("UPDATE log_groups SET retention_in_days = ?2 WHERE id = ?1")?
                .execute((gid, days))?;
            Ok(())
        })
    }

    /// Removes a group's retention: its events never expire (DeleteRetentionPolicy).
    pub fn delete_retention_policy(&self, group: &str) -> Result<(), LogError> {
        self.write(|tx| {
            let gid = require_group(tx, group)?;
            tx.prepare_cached("UPDATE log_groups SET retention_in_days = NULL WHERE id = ?1")?
                .execute([gid])?;
            Ok(())
        })
    }

    /// Deletes every event older than its group's retention; returns how many.
    pub fn sweep_expired(&self) -> Result<u64, LogError> {
        self.sweep_expired_at(now_ms())
    }

    /// [`Self::sweep_expired`] as of `now_ms`, for deterministic tests.
    pub(super) fn sweep_expired_at(&self, now_ms: i64) -> Result<u64, LogError> {
        let groups = self.read(|tx| groups_with_retention(tx))?;
        let mut deleted = 0;
        for (gid, days) in groups {
            let cutoff = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
            // One chunk per transaction, so other writers get the lock in between.
            loop {
                let n = self.write(|tx| {
                    let mut select = tx.prepare_cached(
                        "SELECT id, group_id, stream_id, length(CAST(message AS BLOB))
                         FROM log_events WHERE group_id = ?1 AND timestamp < ?2
                         ORDER BY timestamp, id LIMIT ?3",
                    )?;
                    delete_selected(tx, &mut select, (gid, cutoff, CHUNK))
                })?;
                deleted += n;
                if n < CHUNK as u64 {
                    break;
                }
            }
        }
        Ok(deleted)
    }
}

fn groups_with_retention(tx: &Connection) -> Result<Vec<(i64, u32)>, LogError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, retention_in_days FROM log_groups WHERE retention_in_days IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
