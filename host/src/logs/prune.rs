//! Deleting events while keeping the byte counts of their groups and streams true, shared
//! by the retention sweep and the store's byte cap.

use std::collections::HashMap;

use rusqlite::{Connection, Statement};

use super::LogError;

/// Events one prune step deletes: a step is one pass of a write transaction, short enough
/// that a writer of another process waiting on the lock does not time out.
pub(super) const CHUNK: i64 = 2_000;

/// Runs `select` (yielding `id, group_id, stream_id, message bytes` rows) and deletes the
/// events it names; returns how many were deleted.
pub(super) fn delete_selected(
    tx: &Connection,
    select: &mut Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<u64, LogError> {
    let rows = select
        .query_map(params, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut delete = tx.prepare_cached("DELETE FROM log_events WHERE id = ?1")?;
    let mut by_group: HashMap<i64, i64> = HashMap::new();
    let mut by_stream: HashMap<i64, i64> = HashMap::new();
    for &(id, gid, sid, bytes) in &rows {
        delete.execute([id])?;
        *by_group.entry(gid).or_default() += bytes;
        *by_stream.entry(sid).or_default() += bytes;
    }
    let mut group = tx.prepare_cached(
        "UPDATE log_groups SET stored_bytes = max(stored_bytes - ?2, 0) WHERE id = ?1",
    )?;
    for (gid, bytes) in by_group {
        group.execute((gid, bytes))?;
    }
    // The first event of a stream that lost its oldest events moves; a stream left empty
    // keeps its old times, as CloudWatch keeps a stream whose events all expired.
    let mut stream = tx.prepare_cached(
        "UPDATE log_streams SET stored_bytes = max(stored_bytes - ?2, 0),
            first_event_timestamp = coalesce(
                (SELECT min(timestamp) FROM log_events WHERE stream_id = ?1),
                first_event_timestamp)
         WHERE id = ?1",
    )?;
    for (sid, bytes) in by_stream {
        stream.execute((sid, bytes))?;
    }
    Ok(u64::try_from(rows.len()).unwrap_or(u64::MAX))
}
