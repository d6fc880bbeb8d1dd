//! The arithmetic of a bill: per-second billing with a one-minute minimum over the
//! provisioned size (Fargate's rule), and the "metered by use" bill over what was really
//! used, summed by cluster, service, family, task or UTC day within a time window.
//!
//! A window or a day that cuts a task takes the part of its billed interval inside it; the
//! used meters (cumulative per task, no time series) are split in proportion to the part
//! of its run inside it.

use super::record::{Closed, Heartbeat, UsageRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Fargate bills at least this much of every task.
pub const MINIMUM_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const GIB: f64 = (1u64 << 30) as f64;

/// USD per hour of one vCPU and of one GB of memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    pub vcpu_hour: f64,
    pub gb_hour: f64,
}

/// The billed length of a task that ran from `start_ms` to `end_ms`: whole seconds,
/// rounded up, and never under a minute.
pub fn billed_ms(start_ms: i64, end_ms: i64) -> i64 {
    let elapsed = end_ms.saturating_sub(start_ms).max(0);
    let secs = elapsed.saturating_add(999) / 1000;
    secs.saturating_mul(1000).max(MINIMUM_MS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Cluster,
    Service,
    Family,
    Task,
    Day,
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "cluster" => Self::Cluster,
            "service" => Self::Service,
            "family" => Self::Family,
            "task" => Self::Task,
            "day" => Self::Day,
            _ => {
                return Err(format!(
                    "{s:?}: expected one of cluster, service, family, task, day"
                ));
            }
        })
    }
}

/// Which records count and how they are summed.
#[derive(Debug, Clone)]
pub struct Query {
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub family: Option<String>,
    /// Window in epoch ms, `since` inclusive, `until` exclusive.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub group_by: GroupBy,
    pub now_ms: i64,
    /// The host's last heartbeat: open records run to now while it is fresh, else end at it.
    pub heartbeat: Option<Heartbeat>,
}

/// Usage and cost of a set of tasks (or parts of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub tasks: u64,
    /// Of those, still running, and closed at a dead host's last heartbeat.
    pub running: u64,
    pub lost: u64,
    /// The earliest start and latest end of their runs (whole runs, not cut by a window).
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Provisioned, billed: vCPU × billed seconds, GB × billed seconds.
    pub vcpu_seconds: f64,
    pub gb_seconds: f64,
    pub cost: f64,
    /// Really used.
    pub cpu_seconds: f64,
    pub fuel: f64,
    pub memory_byte_seconds: f64,
    pub sampled_seconds: f64,
    pub memory_average_bytes: f64,
    pub memory_peak_bytes: u64,
    pub storage_bytes: u64,
    /// File bytes read and written.
    pub storage_read_bytes: f64,
    pub storage_write_bytes: f64,
    pub requests: f64,
    /// CPU seconds and memory GB-seconds really used, at the same prices, no minimum.
    pub cost_by_use: f64,
}

impl Usage {
    fn add(&mut self, o: &Usage) {
        self.tasks += o.tasks;
        self.running += o.running;
        self.lost += o.lost;
        self.start_ms = match (self.start_ms, o.start_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.end_ms = self.end_ms.max(o.end_ms);
        self.vcpu_seconds += o.vcpu_seconds;
        self.gb_seconds += o.gb_seconds;
        self.cost += o.cost;
        self.cpu_seconds += o.cpu_seconds;
        self.fuel += o.fuel;
        self.memory_byte_seconds += o.memory_byte_seconds;
        self.sampled_seconds += o.sampled_seconds;
        self.memory_peak_bytes = self.memory_peak_bytes.max(o.memory_peak_bytes);
        self.storage_bytes = self.storage_bytes.max(o.storage_bytes);
        self.storage_read_bytes += o.storage_read_bytes;
        self.storage_write_bytes += o.storage_write_bytes;
        self.requests += o.requests;
        self.cost_by_use += o.cost_by_use;
        self.memory_average_bytes = if self.sampled_seconds > 0.0 {
            self.memory_byte_seconds / self.sampled_seconds
        } else {
            0.0
        };
    }
}

/// Usage per group (sorted by key) and in total.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub groups: Vec<(String, Usage)>,
    pub total: Usage,
}

/// Sums `records` as `q` asks, at `prices`.
pub fn report(records: &[UsageRecord], q: &Query, prices: Prices) -> Report {
    let mut groups: BTreeMap<String, Usage> = BTreeMap::new();
    let mut total = Usage::default();
    let mut counted = HashSet::new();
    for r in records.iter().filter(|r| matches(r, q)) {
        let Some(start) = r.start_ms else { continue };
        let end = end_of(r, q);
        let billed_end = start.saturating_add(billed_ms(start, end));
        let lo = q.since_ms.unwrap_or(i64::MIN);
        let hi = q.until_ms.unwrap_or(i64::MAX);
        let windows: Vec<(String, i64, i64)> = match q.group_by {
            GroupBy::Day => days(start.max(lo), billed_end.min(hi))
                .map(|d| (day_key(d), d.max(lo), (d + DAY_MS).min(hi)))
                .collect(),
            g => vec![(key(r, g), lo, hi)],
        };
        for (k, lo, hi) in windows {
            if let Some(u) = part(r, start, end, billed_end, lo, hi, prices) {
                total.add(&u);
                counted.insert(r.task_id.as_str());
                groups.entry(k).or_default().add(&u);
            }
        }
    }
    // A task cut into days is still one task in the total.
    total.tasks = counted.len() as u64;
    total.running = records
        .iter()
        .filter(|r| counted.contains(r.task_id.as_str()) && r.is_open())
        .count() as u64;
    total.lost = records
        .iter()
        .filter(|r| counted.contains(r.task_id.as_str()) && r.closed == Some(Closed::HostLost))
        .count() as u64;
    Report {
        groups: groups.into_iter().collect(),
        total,
    }
}

/// When an open record ends for this report: now while its host lives, else at the host's
/// last heartbeat (or the record's last update, without one).
fn end_of(r: &UsageRecord, q: &Query) -> i64 {
    let start = r.start_ms.unwrap_or(i64::MIN);
    let end = match (r.end_ms, q.heartbeat) {
        (Some(e), _) => e,
        (None, Some(h)) if h.fresh(q.now_ms) => q.now_ms,
        (None, Some(h)) => h.at_ms.max(r.updated_ms),
        (None, None) => r.updated_ms,
    };
    end.max(start)
}

fn matches(r: &UsageRecord, q: &Query) -> bool {
    q.cluster.as_ref().is_none_or(|c| *c == r.cluster)
        && q.service
            .as_ref()
            .is_none_or(|s| r.service.as_ref() == Some(s))
        && q.family.as_ref().is_none_or(|f| *f == r.family)
}

fn key(r: &UsageRecord, g: GroupBy) -> String {
    match g {
        GroupBy::Cluster => r.cluster.clone(),
        GroupBy::Service => match &r.service {
            Some(s) => format!("{}/{s}", r.cluster),
            None => format!("{}/-", r.cluster),
        },
        GroupBy::Family => r.family.clone(),
        GroupBy::Task => r.task_id.clone(),
        GroupBy::Day => String::new(),
    }
}

/// The UTC midnights of the days `[from, to)` touches.
fn days(from: i64, to: i64) -> impl Iterator<Item = i64> {
    let first = from.div_euclid(DAY_MS) * DAY_MS;
    (0..)
        .map(move |i: i64| first.saturating_add(i.saturating_mul(DAY_MS)))
        .take_while(move |d| *d < to)
}

fn day_key(midnight_ms: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(midnight_ms.div_euclid(1000))
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn overlap(a: i64, b: i64, lo: i64, hi: i64) -> i64 {
    (b.min(hi) - a.max(lo)).max(0)
}

/// What of task `r` (run `[start, end)`, billed `[start, billed_end)`) falls in `[lo, hi)`.
#[allow(clippy::cast_precision_loss)]
fn part(
    r: &UsageRecord,
    start: i64,
    end: i64,
    billed_end: i64,
    lo: i64,
    hi: i64,
    prices: Prices,
) -> Option<Usage> {
    let billed_s = overlap(start, billed_end, lo, hi) as f64 / 1000.0;
    let ran = end - start;
    let share = if ran > 0 {
        overlap(start, end, lo, hi) as f64 / ran as f64
    } else if (lo..hi).contains(&start) {
        1.0
    } else {
        0.0
    };
    if billed_s <= 0.0 && share <= 0.0 {
        return None;
    }
    let vcpu = f64::from(r.cpu_units) / 1024.0;
    let gb = r.memory_mib as f64 / 1024.0;
    let mut u = Usage {
        tasks: 1,
        running: u64::from(r.is_open()),
        lost: u64::from(r.closed == Some(Closed::HostLost)),
        start_ms: Some(start),
        end_ms: Some(end),
        vcpu_seconds: vcpu * billed_s,
        gb_seconds: gb * billed_s,
        cpu_seconds: r.cpu_ns as f64 / 1e9 * share,
        fuel: r.fuel as f64 * share,
        memory_byte_seconds: r.memory_byte_seconds * share,
        sampled_seconds: r.sampled_ms as f64 / 1000.0 * share,
        memory_peak_bytes: r.memory_peak_bytes,
        storage_bytes: r.storage_bytes,
        storage_read_bytes: r.storage_read_bytes as f64 * share,
        storage_write_bytes: r.storage_write_bytes as f64 * share,
        requests: r.requests as f64 * share,
        ..Usage::default()
    };
    u.cost = (u.vcpu_seconds * prices.vcpu_hour + u.gb_seconds * prices.gb_hour) / 3600.0;
    u.cost_by_use =
        (u.cpu_seconds * prices.vcpu_hour + u.memory_byte_seconds / GIB * prices.gb_hour) / 3600.0;
    u.memory_average_bytes = if u.sampled_seconds > 0.0 {
        u.memory_byte_seconds / u.sampled_seconds
    } else {
        0.0
    };
    Some(u)
}

#[cfg(test)]
mod tests;
