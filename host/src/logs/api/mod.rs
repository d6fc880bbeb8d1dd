//! The CloudWatch Logs JSON API (`Logs_20140328.*`, signing name `logs`) over the embedded
//! [`LogStore`], so `aws logs get-log-events`, `filter-log-events`, `describe-log-*`,
//! `put-retention-policy` and a tail-style follow work against the host.
//!
//! Times are epoch milliseconds (JSON integers). Store calls block (SQLite), so each runs
//! on tokio's blocking pool.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

mod input;

use crate::logs::{
    FilterEvents, GetEvents, GroupInfo, LogError, LogEvent, LogStore, MAX_DESCRIBE_LIMIT,
    MAX_EVENTS_LIMIT, RETENTION_DAYS, StreamInfo,
};
use crate::protocol::{self, ApiError, BoxFuture, Operation, Principal, Protocol};
use input::{Members, missing};

/// `X-Amz-Target` prefix of the Logs API.
pub const TARGET_PREFIX: &str = "Logs_20140328";
/// SigV4 signing name of the Logs API.
pub const SIGNING_NAME: &str = "logs";

/// Longest group or stream name (Logs model).
const MAX_NAME_LEN: usize = 512;
/// PutLogEvents: events per batch, and batch size (messages in UTF-8 + 26 bytes each).
const MAX_PUT_EVENTS: usize = 10_000;
const MAX_PUT_BYTES: usize = 1_048_576;
const PUT_EVENT_OVERHEAD: usize = 26;
/// DescribeLogGroups with `logGroupNamePattern` scans pages of groups until the page is full;
/// after this many store pages it returns what it found with a token.
const PATTERN_SCAN_PAGES: usize = 200;

/// The Logs API over a log store.
pub struct LogsService {
    store: LogStore,
    region: String,
    account_id: String,
    /// PutLogEvents `nextSequenceToken` (ignored by CloudWatch since 2023, still returned).
    sequence: AtomicU64,
}

impl std::fmt::Debug for LogsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsService")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl LogsService {
    /// The Logs API over `store`, with ARNs in `us-east-1` / `000000000000` until
    /// [`Self::with_arn_scope`] says otherwise.
    pub fn new(store: LogStore) -> Self {
        Self {
            store,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            sequence: AtomicU64::new(1),
        }
    }

    /// The region and account used in ARNs (the host's `[api]` settings).
    pub fn with_arn_scope(
        mut self,
        region: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        self.region = region.into();
        self.account_id = account_id.into();
        self
    }

    async fn dispatch(&self, op: &str, body: Value) -> Result<Value, ApiError> {
        let m = Members::new(&body)?;
        match op {
            "GetLogEvents" => self.get_log_events(m).await,
            "FilterLogEvents" => self.filter_log_events(m).await,
            "DescribeLogGroups" => self.describe_log_groups(m).await,
            "DescribeLogStreams" => self.describe_log_streams(m).await,
            "CreateLogGroup" => self.create_log_group(m).await,
            "DeleteLogGroup" => self.delete_log_group(m).await,
            "CreateLogStream" => self.create_log_stream(m).await,
            "PutLogEvents" => self.put_log_events(m).await,
            "PutRetentionPolicy" => self.put_retention_policy(m).await,
            "DeleteRetentionPolicy" => self.delete_retention_policy(m).await,
            _ => Err(ApiError::new(
                "UnknownOperationException",
                format!("Unknown operation {TARGET_PREFIX}.{op}: this host does not support it"),
            )),
        }
    }

    /// Runs a store call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&LogStore) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r.map_err(log_error),
            Err(e) => {
                tracing::error!("logs api: store call failed: {e}");
                Err(ApiError::server("The log store failed to answer."))
            }
        }
    }

    fn group_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{name}",
            self.region, self.account_id
        )
    }

    /// The group named by `logGroupName` or `logGroupIdentifier` (a name or an ARN, with or
    /// without `:*`); exactly one must be given.
    fn group_of(&self, m: &Members<'_>) -> Result<String, ApiError> {
        match (m.string("logGroupName")?, m.string("logGroupIdentifier")?) {
            (Some(name), None) => {
                check_group_name("logGroupName", name)?;
                Ok(name.to_owned())
            }
            (None, Some(id)) => self.group_from_identifier(id),
            _ => Err(ApiError::invalid_parameter(
                "Exactly one of logGroupName and logGroupIdentifier must be specified.",
            )),
        }
    }

    fn group_from_identifier(&self, id: &str) -> Result<String, ApiError> {
        let Some(rest) = id.strip_prefix("arn:") else {
            check_group_name("logGroupIdentifier", id)?;
            return Ok(id.to_owned());
        };
        let bad = || {
            ApiError::invalid_parameter(format!(
                "logGroupIdentifier {id:?} is neither a log group name nor a log group ARN \
                 (arn:aws:logs:<region>:<account>:log-group:<name>)"
            ))
        };
        let mut parts = rest.splitn(5, ':');
        let (Some(_partition), Some("logs"), Some(region), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let name = resource.strip_prefix("log-group:").ok_or_else(bad)?;
        let name = name.strip_suffix(":*").unwrap_or(name);
        check_group_name("logGroupIdentifier", name)?;
        if region != self.region || account != self.account_id {
            return Err(group_not_found());
        }
        Ok(name.to_owned())
    }

    async fn get_log_events(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let group = self.group_of(&m)?;
        let stream = m.required_string("logStreamName")?;
        check_stream_name("logStreamName", stream)?;
        let q = GetEvents {
            group,
            stream: stream.to_owned(),
            start_time_ms: m.long("startTime")?,
            end_time_ms: m.long("endTime")?,
            limit: events_limit(&m)?,
            start_from_head: m.bool("startFromHead")?.unwrap_or(false),
            next_token: m.string("nextToken")?.map(str::to_owned),
        };
        m.bool("unmask")?;
        let page = self.blocking(move |s| s.get_events(&q)).await?;
        let events: Vec<Value> = page
            .events
            .into_iter()
            .map(|e| {
                json!({
                    "timestamp": e.timestamp_ms,
                    "message": e.message,
                    "ingestionTime": e.ingestion_time_ms,
                })
            })
            .collect();
        Ok(json!({
            "events": events,
            "nextForwardToken": page.next_forward_token,
            "nextBackwardToken": page.next_backward_token,
        }))
    }

    async fn filter_log_events(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let group = self.group_of(&m)?;
        let stream_names = m
            .string_list("logStreamNames")?
            .map(|v| v.into_iter().map(str::to_owned).collect());
        let q = FilterEvents {
            group,
            stream_names,
            stream_name_prefix: m.string("logStreamNamePrefix")?.map(str::to_owned),
            start_time_ms: m.long("startTime")?,
            end_time_ms: m.long("endTime")?,
            filter_pattern: m.string("filterPattern")?.map(str::to_owned),
            limit: events_limit(&m)?,
            next_token: m.string("nextToken")?.map(str::to_owned),
        };
        // Accepted and ignored: CloudWatch always interleaves now, and there is no masking.
        m.bool("interleaved")?;
        m.bool("startFromHead")?;
        m.bool("unmask")?;
        let page = self.blocking(move |s| s.filter_events(&q)).await?;
        let events: Vec<Value> = page
            .events
            .into_iter()
            .map(|e| {
                json!({
                    "logStreamName": e.log_stream_name,
                    "timestamp": e.timestamp_ms,
                    "message": e.message,
                    "ingestionTime": e.ingestion_time_ms,
                    "eventId": e.event_id,
                })
            })
            .collect();
        let mut out = json!({"events": events, "searchedLogStreams": []});
        if let Some(t) = page.next_token {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    async fn describe_log_groups(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let prefix = m.string("logGroupNamePrefix")?.map(str::to_owned);
        let pattern = m.string("logGroupNamePattern")?.map(str::to_owned);
        let identifiers = m.string_list("logGroupIdentifiers")?;
        let limit = describe_limit(&m)?;
        let token = m.string("nextToken")?.map(str::to_owned);
        let class = m.enum_string(
            "logGroupClass",
            &["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"],
        )?;
        m.bool("includeLinkedAccounts")?;
        m.string_list("accountIdentifiers")?;
        if let Some(p) = &prefix {
            check_group_name("logGroupNamePrefix", p)?;
        }
        if let Some(p) = &pattern
            && !p.is_empty()
        {
            check_group_name("logGroupNamePattern", p)?;
        }
        let given = [prefix.is_some(), pattern.is_some(), identifiers.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(ApiError::invalid_parameter(
                "logGroupNamePrefix, logGroupNamePattern and logGroupIdentifiers are mutually \
                 exclusive: specify at most one.",
            ));
        }
        if class.is_some_and(|c| c != "STANDARD") {
            // Every group of this host is in the STANDARD class.
            return Ok(json!({"logGroups": []}));
        }

        let (groups, next_token) = if let Some(ids) = identifiers {
            if ids.is_empty() || ids.len() > MAX_DESCRIBE_LIMIT {
                return Err(ApiError::invalid_parameter(format!(
                    "logGroupIdentifiers must hold 1-{MAX_DESCRIBE_LIMIT} entries"
                )));
            }
            let mut names = Vec::new();
            for id in ids {
                match self.group_from_identifier(id) {
                    Ok(n) => names.push(n),
                    // A group of another account or region simply is not here.
                    Err(e) if e.code == "ResourceNotFoundException" => {}
                    Err(e) => return Err(e),
                }
            }
            names.sort();
            names.dedup();
            let groups = self
                .blocking(move |s| {
                    let mut found = Vec::new();
                    for n in names {
                        let page = s.describe_groups(Some(&n), 1, None)?;
                        found.extend(page.groups.into_iter().filter(|g| g.name == n));
                    }
                    Ok(found)
                })
                .await?;
            (groups, None)
        } else if let Some(pattern) = pattern.filter(|p| !p.is_empty()) {
            self.blocking(move |s| groups_matching(s, &pattern, limit, token))
                .await?
        } else {
            let page = self
                .blocking(move |s| s.describe_groups(prefix.as_deref(), limit, token.as_deref()))
                .await?;
            (page.groups, page.next_token)
        };
        let groups: Vec<Value> = groups.iter().map(|g| self.group_json(g)).collect();
        let mut out = json!({ "logGroups": groups });
        if let Some(t) = next_token {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    fn group_json(&self, g: &GroupInfo) -> Value {
        let arn = self.group_arn(&g.name);
        let mut out = json!({
            "logGroupName": g.name,
            "creationTime": g.creation_time_ms,
            "arn": format!("{arn}:*"),
            "logGroupArn": arn,
            "storedBytes": g.stored_bytes,
            "metricFilterCount": 0,
            "logGroupClass": "STANDARD",
        });
        // Absent, as in CloudWatch, when events never expire.
        if let Some(days) = g.retention_in_days {
            out["retentionInDays"] = days.into();
        }
        out
    }

    async fn describe_log_streams(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let group = self.group_of(&m)?;
        let prefix = m.string("logStreamNamePrefix")?.map(str::to_owned);
        let by_last_event =
            m.enum_string("orderBy", &["LogStreamName", "LastEventTime"])? == Some("LastEventTime");
        let descending = m.bool("descending")?.unwrap_or(false);
        let limit = describe_limit(&m)?;
        let token = m.string("nextToken")?.map(str::to_owned);
        if by_last_event && prefix.is_some() {
            return Err(ApiError::invalid_parameter(
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ));
        }
        let g = group.clone();
        let page = self
            .blocking(move |s| {
                s.describe_streams(
                    &g,
                    prefix.as_deref(),
                    by_last_event,
                    descending,
                    limit,
                    token.as_deref(),
                )
            })
            .await?;
        let streams: Vec<Value> = page
            .streams
            .iter()
            .map(|s| self.stream_json(&group, s))
            .collect();
        let mut out = json!({ "logStreams": streams });
        if let Some(t) = page.next_token {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    fn stream_json(&self, group: &str, s: &StreamInfo) -> Value {
        let mut o = Map::new();
        o.insert("logStreamName".into(), s.name.clone().into());
        o.insert("creationTime".into(), s.creation_time_ms.into());
        if let Some(t) = s.first_event_timestamp_ms {
            o.insert("firstEventTimestamp".into(), t.into());
        }
        if let Some(t) = s.last_event_timestamp_ms {
            o.insert("lastEventTimestamp".into(), t.into());
        }
        if let Some(t) = s.last_ingestion_time_ms {
            o.insert("lastIngestionTime".into(), t.into());
        }
        o.insert(
            "arn".into(),
            format!("{}:log-stream:{}", self.group_arn(group), s.name).into(),
        );
        // Deprecated in CloudWatch, which always reports 0 here.
        o.insert("storedBytes".into(), 0.into());
        Value::Object(o)
    }

    async fn create_log_group(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let name = m.required_string("logGroupName")?.to_owned();
        check_group_name("logGroupName", &name)?;
        m.string("kmsKeyId")?;
        m.enum_string(
            "logGroupClass",
            &["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"],
        )?;
        check_tags(&m)?;
        self.blocking(move |s| s.create_group(&name)).await?;
        Ok(json!({}))
    }

    async fn delete_log_group(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let name = m.required_string("logGroupName")?.to_owned();
        check_group_name("logGroupName", &name)?;
        self.blocking(move |s| s.delete_group(&name)).await?;
        Ok(json!({}))
    }

    async fn create_log_stream(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let group = m.required_string("logGroupName")?.to_owned();
        let stream = m.required_string("logStreamName")?.to_owned();
        check_group_name("logGroupName", &group)?;
        check_stream_name("logStreamName", &stream)?;
        self.blocking(move |s| s.create_stream(&group, &stream))
            .await?;
        Ok(json!({}))
    }

    async fn put_retention_policy(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let name = m.required_string("logGroupName")?.to_owned();
        check_group_name("logGroupName", &name)?;
        let days = m
            .long("retentionInDays")?
            .ok_or_else(|| missing(&m.name("retentionInDays")))?;
        if u32::try_from(days).map_or(true, |d| !RETENTION_DAYS.contains(&d)) {
            let allowed: Vec<String> = RETENTION_DAYS.iter().map(u32::to_string).collect();
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{days}' at 'retentionInDays' failed to \
                 satisfy constraint: Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            )));
        }
        self.blocking(move |s| s.put_retention_policy(&name, days))
            .await?;
        Ok(json!({}))
    }

    async fn delete_retention_policy(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let name = m.required_string("logGroupName")?.to_owned();
        check_group_name("logGroupName", &name)?;
        self.blocking(move |s| s.delete_retention_policy(&name))
            .await?;
        Ok(json!({}))
    }

    async fn put_log_events(&self, m: Members<'_>) -> Result<Value, ApiError> {
        let group = m.required_string("logGroupName")?.to_owned();
        let stream = m.required_string("logStreamName")?.to_owned();
        check_group_name("logGroupName", &group)?;
        check_stream_name("logStreamName", &stream)?;
        m.string("sequenceToken")?;
        let items = m
            .array("logEvents")?
            .ok_or_else(|| missing(&m.name("logEvents")))?;
        if items.is_empty() || items.len() > MAX_PUT_EVENTS {
            return Err(ApiError::invalid_parameter(format!(
                "logEvents must hold 1-{MAX_PUT_EVENTS} events, not {}",
                items.len()
            )));
        }
        let paths: Vec<String> = (0..items.len())
            .map(|i| format!("logEvents[{i}]"))
            .collect();
        let mut events = Vec::with_capacity(items.len());
        let mut size = 0usize;
        for (item, path) in items.iter().zip(&paths) {
            let e = Members::nested(item, path)?;
            let timestamp = e
                .long("timestamp")?
                .ok_or_else(|| missing(&e.name("timestamp")))?;
            let message = e.required_string("message")?;
            if message.is_empty() {
                return Err(ApiError::invalid_parameter(format!(
                    "{} must not be empty",
                    e.name("message")
                )));
            }
            if events
                .last()
                .is_some_and(|prev: &LogEvent| prev.timestamp_ms > timestamp)
            {
                return Err(ApiError::invalid_parameter(
                    "Log events in a single PutLogEvents request must be in chronological order.",
                ));
            }
            size = size.saturating_add(message.len() + PUT_EVENT_OVERHEAD);
            events.push(LogEvent::new(timestamp, message));
        }
        if size > MAX_PUT_BYTES {
            return Err(ApiError::invalid_parameter(format!(
                "Upload too large: {size} bytes exceeds limit of {MAX_PUT_BYTES}"
            )));
        }
        self.blocking(move |s| {
            // CloudWatch writes only to existing groups and streams.
            let page = s.describe_streams(&group, Some(&stream), false, false, 1, None)?;
            if page.streams.first().is_none_or(|st| st.name != stream) {
                return Err(LogError::StreamNotFound {
                    group: group.clone(),
                    stream: stream.clone(),
                });
            }
            s.put_events(&group, &stream, &events)
        })
        .await?;
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        Ok(json!({ "nextSequenceToken": format!("{seq:056}") }))
    }
}

/// The operations this service answers, as `dispatch` matches them (and as
/// `docs/api-coverage.md` lists them).
pub const OPERATIONS: &[&str] = &[
    "GetLogEvents",
    "FilterLogEvents",
    "DescribeLogGroups",
    "DescribeLogStreams",
    "CreateLogGroup",
    "DeleteLogGroup",
    "CreateLogStream",
    "PutLogEvents",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
];

impl LogsService {
    /// Runs `operation` with a JSON-object request body (what the protocol layer routes).
    pub async fn call(
        &self,
        _principal: &Principal,
        operation: &str,
        body: Value,
    ) -> Result<Value, ApiError> {
        self.dispatch(operation, body).await
    }
}

impl protocol::Service for LogsService {
    fn name(&self) -> &'static str {
        "logs"
    }

    fn signing_name(&self) -> &'static str {
        SIGNING_NAME
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::AwsJson1_1 {
            target_prefix: TARGET_PREFIX,
        }]
    }

    fn operations(&self) -> Vec<Operation<Self>> {
        protocol::forwarding(OPERATIONS)
    }
}

impl protocol::ValueService for LogsService {
    fn call_value<'a>(
        &'a self,
        ctx: &'a protocol::Context,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(self.dispatch(ctx.operation, input))
    }
}

/// DescribeLogGroups with a name pattern (case-insensitive substring): pages of the store
/// filtered until `limit` groups are found, each store page no longer than what is still
/// needed so its token always points at the last group returned.
fn groups_matching(
    s: &LogStore,
    pattern: &str,
    limit: usize,
    mut token: Option<String>,
) -> Result<(Vec<GroupInfo>, Option<String>), LogError> {
    let needle = pattern.to_ascii_lowercase();
    let mut found = Vec::new();
    for _ in 0..PATTERN_SCAN_PAGES {
        let page = s.describe_groups(None, limit - found.len(), token.as_deref())?;
        found.extend(
            page.groups
                .into_iter()
                .filter(|g| g.name.to_ascii_lowercase().contains(&needle)),
        );
        token = page.next_token;
        if token.is_none() || found.len() >= limit {
            break;
        }
    }
    Ok((found, token))
}

fn events_limit(m: &Members<'_>) -> Result<Option<usize>, ApiError> {
    Ok(m.long_in("limit", 1, MAX_EVENTS_LIMIT as i64)?
        .and_then(|n| usize::try_from(n).ok()))
}

fn describe_limit(m: &Members<'_>) -> Result<usize, ApiError> {
    Ok(m.long_in("limit", 1, MAX_DESCRIBE_LIMIT as i64)?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(MAX_DESCRIBE_LIMIT))
}

/// CreateLogGroup `tags`: a map of strings (accepted, not stored).
fn check_tags(m: &Members<'_>) -> Result<(), ApiError> {
    let Some(tags) = m.object("tags")? else {
        return Ok(());
    };
    match tags.iter().find(|(_, v)| !v.is_string()) {
        Some((k, _)) => Err(ApiError::invalid_parameter(format!(
            "tags.{k} must be a string"
        ))),
        None => Ok(()),
    }
}

/// A log group name: `[\.\-_/#A-Za-z0-9]+`, 1–512 characters.
fn check_group_name(member: &str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(length_error(member, name));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#'))
    {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at '{member}' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
            shorten(name)
        )));
    }
    Ok(())
}

/// A log stream name: `[^:*]*`, 1–512 characters.
fn check_stream_name(member: &str, name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(length_error(member, name));
    }
    if name.contains([':', '*']) {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at '{member}' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [^:*]*",
            shorten(name)
        )));
    }
    Ok(())
}

fn length_error(member: &str, name: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: \
         Member must have length between 1 and {MAX_NAME_LEN}",
        shorten(name)
    ))
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn group_not_found() -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
}

/// The wire exception for each store error.
fn log_error(e: LogError) -> ApiError {
    match e {
        LogError::GroupNotFound(_) => group_not_found(),
        LogError::StreamNotFound { .. } => ApiError::new(
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        ),
        LogError::GroupAlreadyExists(_) => ApiError::new(
            "ResourceAlreadyExistsException",
            "The specified log group already exists",
        ),
        LogError::StreamAlreadyExists { .. } => ApiError::new(
            "ResourceAlreadyExistsException",
            "The specified log stream already exists",
        ),
        LogError::InvalidToken(_) => {
            ApiError::invalid_parameter("The specified nextToken is invalid.")
        }
        LogError::InvalidParameter { field, rule } => {
            ApiError::invalid_parameter(format!("Invalid value for {field}: {rule}"))
        }
        LogError::Db(e) => {
            tracing::error!("logs api: log store error: {e}");
            ApiError::with_status(
                "ServiceUnavailableException",
                "The log store is unavailable; try again.",
                503,
            )
        }
    }
}

#[cfg(test)]
mod tests;
