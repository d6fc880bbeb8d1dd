//! DescribeLogGroups and DescribeLogStreams: keyset pagination over names (or last event
//! time), fetching one row more than asked to know whether a next page exists, so the
//! last page carries no token.

use rusqlite::Row;

use super::query::{MAX_DESCRIBE_LIMIT, check_limit};
use super::store::require_group;
use super::token::{StreamCursor, decode_group, encode_group};
use super::{GroupInfo, GroupsPage, LogError, LogStore, StreamInfo, StreamsPage};

const STREAM_COLUMNS: &str = "name, creation_time, first_event_timestamp, last_event_timestamp,
    last_ingestion_time, stored_bytes, coalesce(last_event_timestamp, creation_time) AS k";

impl LogStore {
    /// Groups in ASCII name order, optionally only those starting with `prefix`.
    pub fn describe_groups(
        &self,
        prefix: Option<&str>,
        limit: usize,
        token: Option<&str>,
    ) -> Result<GroupsPage, LogError> {
        let limit = check_limit(limit, MAX_DESCRIBE_LIMIT)?;
        let after = token.map(decode_group).transpose()?;
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT name, creation_time, stored_bytes, retention_in_days FROM log_groups
                 WHERE (?1 IS NULL OR substr(name, 1, length(?1)) = ?1)
                   AND (?2 IS NULL OR name > ?2)
                 ORDER BY name LIMIT ?3",
            )?;
            let rows = stmt.query_map((prefix, &after, fetch(limit)), |r| {
                Ok(GroupInfo {
                    name: r.get(0)?,
                    creation_time_ms: r.get(1)?,
                    stored_bytes: r.get(2)?,
                    retention_in_days: r.get(3)?,
                })
            })?;
            let mut groups = rows.collect::<Result<Vec<_>, _>>()?;
            let next_token = trim(&mut groups, limit).map(|g| encode_group(&g.name));
            Ok(GroupsPage { groups, next_token })
        })
    }

    /// Streams of a group by name, or by last event time (creation time for streams
    /// without events). CloudWatch refuses a prefix together with time order; so do we.
    pub fn describe_streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        order_by_last_event: bool,
        descending: bool,
        limit: usize,
        token: Option<&str>,
    ) -> Result<StreamsPage, LogError> {
        let limit = check_limit(limit, MAX_DESCRIBE_LIMIT)?;
        if order_by_last_event && prefix.is_some() {
            return Err(LogError::invalid(
                "logStreamNamePrefix",
                "cannot be specified when orderBy is LastEventTime",
            ));
        }
        let after = token
            .map(|t| StreamCursor::decode(t, order_by_last_event, descending))
            .transpose()?;
        let (after_name, after_key) = match &after {
            Some(c) => (Some(c.name.as_str()), c.last_event),
            None => (None, 0),
        };
        let sql = stream_sql(order_by_last_event, descending);
        self.read(|tx| {
            let gid = require_group(tx, group)?;
            let mut stmt = tx.prepare_cached(&sql)?;
            let params = (gid, prefix, after_name, after_key, fetch(limit));
            let rows = stmt.query_map(params, stream_row)?;
            let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
            let next_token = trim(&mut rows, limit).map(|(s, k)| {
                StreamCursor {
                    by_last_event: order_by_last_event,
                    descending,
                    last_event: *k,
                    name: s.name.clone(),
                }
                .encode()
            });
            Ok(StreamsPage {
                streams: rows.into_iter().map(|(s, _)| s).collect(),
                next_token,
            })
        })
    }
}

/// Parameters: ?1 group id, ?2 name prefix, ?3/?4 cursor name/key, ?5 row limit.
fn stream_sql(by_last_event: bool, descending: bool) -> String {
    let (cmp, dir) = if descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let (cursor, order) = if by_last_event {
        (
            format!("(k, name) {cmp} (?4, ?3)"),
            format!("k {dir}, name {dir}"),
        )
    } else {
        (format!("name {cmp} ?3"), format!("name {dir}"))
    };
    format!(
        "SELECT {STREAM_COLUMNS} FROM log_streams
         WHERE group_id = ?1
           AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2)
           AND (?3 IS NULL OR {cursor})
         ORDER BY {order} LIMIT ?5"
    )
}

fn stream_row(r: &Row<'_>) -> rusqlite::Result<(StreamInfo, i64)> {
    Ok((
        StreamInfo {
            name: r.get(0)?,
            creation_time_ms: r.get(1)?,
            first_event_timestamp_ms: r.get(2)?,
            last_event_timestamp_ms: r.get(3)?,
            last_ingestion_time_ms: r.get(4)?,
            stored_bytes: r.get(5)?,
        },
        r.get(6)?,
    ))
}

/// One more than the page size, to detect a following page.
fn fetch(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

/// Cuts `rows` to `limit`; if it was longer, returns the last kept row (the cursor).
fn trim<T>(rows: &mut Vec<T>, limit: usize) -> Option<&T> {
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
    } else {
        None
    }
}
