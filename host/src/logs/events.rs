//! GetLogEvents and FilterLogEvents over the `(timestamp, id)` event order.
//!
//! Events are ordered by their own timestamp with the insertion id as tie-break, as
//! CloudWatch orders them; a reader following a forward token will therefore not see an
//! event that arrives later with an older timestamp (the runtime stamps lines at read
//! time, so per stream this does not happen in practice).

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use super::pattern::FilterPattern;
use super::query::{events_limit, time_range};
use super::store::{require_group, stream_id};
use super::token::{EventKey, EventToken, decode_filter, encode_filter};
use super::{
    EventsPage, FilterEvents, FilteredEvent, FilteredPage, GetEvents, LogError, LogStore,
    OutputEvent,
};

/// Rows one FilterLogEvents call examines at most before returning a (possibly short)
/// page with a token, so a rare pattern over a big group cannot hold a reader for long.
const FILTER_SCAN_BUDGET: usize = 100_000;
/// logStreamNames holds at most this many names.
const MAX_STREAM_NAMES: usize = 100;

impl LogStore {
    /// GetLogEvents on one stream.
    pub fn get_events(&self, q: &GetEvents) -> Result<EventsPage, LogError> {
        let limit = events_limit(q.limit)?;
        let range = time_range(q.start_time_ms, q.end_time_ms)?;
        let token = q
            .next_token
            .as_deref()
            .map(EventToken::decode)
            .transpose()?;
        self.read(|tx| {
            let gid = require_group(tx, &q.group)?;
            let sid = stream_id(tx, gid, &q.stream)?.ok_or_else(|| LogError::StreamNotFound {
                group: q.group.clone(),
                stream: q.stream.clone(),
            })?;
            let dir = token.unwrap_or(if q.start_from_head {
                EventToken::Forward(EventKey::MIN)
            } else {
                EventToken::Backward(EventKey::MAX)
            });
            let rows = match range {
                None => Vec::new(),
                Some(range) => scan_stream(tx, sid, range, dir, limit)?,
            };
            let (fwd, back) = page_tokens(&rows, token, q.next_token.as_deref());
            Ok(EventsPage {
                events: rows.into_iter().map(|(_, e)| e).collect(),
                next_forward_token: fwd,
                next_backward_token: back,
            })
        })
    }

    /// FilterLogEvents over a group, all selected streams interleaved.
    pub fn filter_events(&self, q: &FilterEvents) -> Result<FilteredPage, LogError> {
        self.filter_events_within(q, FILTER_SCAN_BUDGET)
    }

    pub(super) fn filter_events_within(
        &self,
        q: &FilterEvents,
        budget: usize,
    ) -> Result<FilteredPage, LogError> {
        let limit = events_limit(q.limit)?;
        let range = time_range(q.start_time_ms, q.end_time_ms)?;
        let pattern = FilterPattern::parse(q.filter_pattern.as_deref().unwrap_or(""))?;
        let after = q.next_token.as_deref().map(decode_filter).transpose()?;
        let names = match (&q.stream_names, &q.stream_name_prefix) {
            (Some(_), Some(_)) => {
                return Err(LogError::invalid(
                    "logStreamNames",
                    "cannot be combined with logStreamNamePrefix",
                ));
            }
            (Some(n), None) if n.is_empty() || n.len() > MAX_STREAM_NAMES => {
                return Err(LogError::invalid("logStreamNames", "must hold 1-100 names"));
            }
            (Some(n), None) => Some(n.iter().map(String::as_str).collect::<HashSet<_>>()),
            (None, _) => None,
        };
        let prefix = q.stream_name_prefix.as_deref();
        self.read(|tx| {
            let gid = require_group(tx, &q.group)?;
            let streams = group_streams(tx, gid, |name| {
                names.as_ref().is_none_or(|n| n.contains(name))
                    && prefix.is_none_or(|p| name.starts_with(p))
            })?;
            let empty = FilteredPage {
                events: Vec::new(),
                next_token: None,
            };
            let Some(range) = range else { return Ok(empty) };
            if streams.is_empty() {
                return Ok(empty);
            }
            let scan = Scan {
                gid,
                range,
                after: after.unwrap_or(EventKey::MIN),
                limit,
                budget,
            };
            scan_group(tx, &scan, &streams, &pattern)
        })
    }
}

/// Up to `limit` events of one stream beyond the token's key, oldest first.
fn scan_stream(
    conn: &Connection,
    sid: i64,
    (lo, hi): (i64, i64),
    dir: EventToken,
    limit: usize,
) -> Result<Vec<(EventKey, OutputEvent)>, LogError> {
    let (sql, key) = match dir {
        EventToken::Forward(k) => (
            "SELECT id, timestamp, ingestion_time, message FROM log_events
             WHERE stream_id = ?1 AND timestamp BETWEEN ?2 AND ?3 AND (timestamp, id) > (?4, ?5)
             ORDER BY timestamp, id LIMIT ?6",
            k,
        ),
        EventToken::Backward(k) => (
            "SELECT id, timestamp, ingestion_time, message FROM log_events
             WHERE stream_id = ?1 AND timestamp BETWEEN ?2 AND ?3 AND (timestamp, id) < (?4, ?5)
             ORDER BY timestamp DESC, id DESC LIMIT ?6",
            k,
        ),
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map((sid, lo, hi, key.ts, key.id, limit), |r| {
        let key = EventKey {
            id: r.get(0)?,
            ts: r.get(1)?,
        };
        Ok((
            key,
            OutputEvent {
                timestamp_ms: key.ts,
                ingestion_time_ms: r.get(2)?,
                message: r.get(3)?,
            },
        ))
    })?;
    let mut out = rows.collect::<Result<Vec<_>, _>>()?;
    if matches!(dir, EventToken::Backward(_)) {
        out.reverse();
    }
    Ok(out)
}

/// Tokens for a page. An empty page hands back the token it was given (the end marker
/// clients look for) and points the other direction at the same spot.
fn page_tokens(
    rows: &[(EventKey, OutputEvent)],
    token: Option<EventToken>,
    passed: Option<&str>,
) -> (String, String) {
    if let (Some((first, _)), Some((last, _))) = (rows.first(), rows.last()) {
        return (
            EventToken::Forward(*last).encode(),
            EventToken::Backward(*first).encode(),
        );
    }
    let passed = passed.map(str::to_owned);
    match token {
        // "after (ts, id)" is "before (ts, id + 1)" and vice versa: ids are integers.
        Some(t @ EventToken::Forward(k)) => (
            passed.unwrap_or_else(|| t.encode()),
            EventToken::Backward(EventKey {
                ts: k.ts,
                id: k.id.saturating_add(1),
            })
            .encode(),
        ),
        Some(t @ EventToken::Backward(k)) => (
            EventToken::Forward(EventKey {
                ts: k.ts,
                id: k.id.saturating_sub(1),
            })
            .encode(),
            passed.unwrap_or_else(|| t.encode()),
        ),
        // Nothing in range yet: a follower starts from the very beginning.
        None => (
            EventToken::Forward(EventKey::MIN).encode(),
            EventToken::Backward(EventKey::MIN).encode(),
        ),
    }
}

/// The group's streams that pass `keep`, by id.
fn group_streams(
    conn: &Connection,
    gid: i64,
    keep: impl Fn(&str) -> bool,
) -> Result<HashMap<i64, String>, LogError> {
    let mut stmt = conn.prepare_cached("SELECT id, name FROM log_streams WHERE group_id = ?1")?;
    let mut rows = stmt.query([gid])?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next()? {
        let name: String = row.get(1)?;
        if keep(&name) {
            out.insert(row.get(0)?, name);
        }
    }
    Ok(out)
}

struct Scan {
    gid: i64,
    range: (i64, i64),
    after: EventKey,
    limit: usize,
    budget: usize,
}

/// Walks the group's events in order, keeping matches, until `limit` matches plus one
/// more (so the last page carries no token) or `budget` rows.
fn scan_group(
    conn: &Connection,
    scan: &Scan,
    streams: &HashMap<i64, String>,
    pattern: &FilterPattern,
) -> Result<FilteredPage, LogError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, stream_id, timestamp, ingestion_time, message FROM log_events
         WHERE group_id = ?1 AND timestamp BETWEEN ?2 AND ?3 AND (timestamp, id) > (?4, ?5)
         ORDER BY timestamp, id LIMIT ?6",
    )?;
    let budget = scan.budget.max(1);
    let (lo, hi) = scan.range;
    let mut rows = stmt.query((
        scan.gid,
        lo,
        hi,
        scan.after.ts,
        scan.after.id,
        i64::try_from(budget).unwrap_or(i64::MAX),
    ))?;
    let mut events: Vec<FilteredEvent> = Vec::new();
    let mut last_kept = None;
    let mut last_seen = None;
    let mut seen = 0;
    while let Some(row) = rows.next()? {
        seen += 1;
        let key = EventKey {
            id: row.get(0)?,
            ts: row.get(2)?,
        };
        last_seen = Some(key);
        let Some(stream) = streams.get(&row.get::<_, i64>(1)?) else {
            continue;
        };
        let message = row.get_ref(4)?.as_str().map_err(rusqlite::Error::from)?;
        if !pattern.matches(message) {
            continue;
        }
        if events.len() == scan.limit {
            return Ok(FilteredPage {
                events,
                next_token: last_kept.map(encode_filter),
            });
        }
        events.push(FilteredEvent {
            log_stream_name: stream.clone(),
            timestamp_ms: key.ts,
            message: message.to_owned(),
            ingestion_time_ms: row.get(3)?,
            event_id: key.id.to_string(),
        });
        last_kept = Some(key);
    }
    // Out of budget: more rows may follow; resume after the last one looked at.
    let next_token = if seen == budget {
        last_seen.map(encode_filter)
    } else {
        None
    };
    Ok(FilteredPage { events, next_token })
}
