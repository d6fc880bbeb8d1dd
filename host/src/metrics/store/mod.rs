//! The metrics store: time series keyed by namespace, metric name and dimension set.
//!
//! - raw values (with their counts) at 1-second resolution for the last [`RAW_WINDOW`]
//!   seconds, which percentiles and sub-minute periods are computed from;
//! - 1-minute aggregates (sample count, sum, min, max) for [`MINUTE_WINDOW`] seconds;
//! - bounded: at most `max_series` series (a new one evicts the least recently written)
//!   of which API callers ([`Owner`]) may create at most [`SeriesCaps`] (in total and
//!   each), so no tenant can push the host's own series out; and `max_bytes` of samples and aggregates (past it the oldest data of every series
//!   goes first); one batch larger than an eighth of the cap is refused whole;
//! - persisted: [`MetricStore::flush`] writes what changed to `metrics.db`, read back by
//!   [`MetricStore::open`].
//!
//! Inserts take a slice of [`Datum`]s under one lock, with no parsing: the host can publish
//! its own figures as cheaply as the API does.

mod persist;
mod series;
mod stats;

use std::collections::{HashMap, HashSet};

/// foldhash, not SipHash: the publisher looks up every series of every task each second
/// (14 per task), and SipHash over their dimension strings was a fifth of its CPU time.
/// The keys come from the host and from authenticated callers; the series caps bound them.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use persist::Change;
pub use series::{AGG_BYTES, Agg, SAMPLE_BYTES};
use series::{Series, TimedAgg, range};
pub use stats::{Stat, percentile};

/// Seconds of 1-second raw data kept (3 hours).
pub const RAW_WINDOW: i64 = 3 * 3600;
/// Seconds of 1-minute aggregates kept (15 days).
pub const MINUTE_WINDOW: i64 = 15 * 86_400;
/// How often the maintenance thread writes what changed.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// Bytes counted per series beyond its data (key, maps, deques).
pub const SERIES_OVERHEAD: u64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(
        "this request would store {bytes} bytes of metric data, more than one request may \
         ({limit} bytes, an eighth of [metrics] max_mib); send fewer values per request"
    )]
    RequestTooLarge { bytes: u64, limit: u64 },
    #[error(
        "this request creates {new} new metric series, more than [metrics] max_series ({max}) allows"
    )]
    TooManySeries { new: usize, max: usize },
    #[error(
        "this request creates {new} new metric series; caller {owner} has {has} and may \
         create at most {max} ([metrics] max_series_per_caller): put data to series it \
         already has, or wait for its old series to expire"
    )]
    CallerSeriesLimit {
        owner: String,
        new: usize,
        has: usize,
        max: usize,
    },
    #[error(
        "this request creates {new} new metric series; API callers hold {has} of the \
         {max} the host allows them ([metrics] max_custom_series)"
    )]
    CustomSeriesLimit { new: usize, has: usize, max: usize },
    #[error("metrics store file: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Who writes a batch: an API caller's series count against [`SeriesCaps`].
pub type Owner<'a> = Option<&'a str>;

/// How many series API callers may create, in total and each (the host's own are bound
/// only by `max_series`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesCaps {
    pub custom: usize,
    pub per_owner: usize,
}

impl SeriesCaps {
    /// No limit beyond `max_series`.
    pub const NONE: SeriesCaps = SeriesCaps {
        custom: usize::MAX,
        per_owner: usize::MAX,
    };

    /// `[metrics]`' caps, the total within `max_series`.
    pub fn from_config(c: &crate::config::MetricsConfig) -> Self {
        Self {
            custom: c.max_custom_series.min(c.max_series),
            per_owner: c.max_series_per_caller,
        }
    }
}

/// What identifies a series: dimensions sorted by name (CloudWatch treats the set, not
/// the order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

impl SeriesKey {
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        mut dimensions: Vec<(String, String)>,
    ) -> Self {
        dimensions.sort();
        Self {
            namespace: namespace.into(),
            name: name.into(),
            dimensions,
        }
    }

    fn bytes(&self) -> u64 {
        (self.namespace.len()
            + self.name.len()
            + self
                .dimensions
                .iter()
                .map(|(n, v)| n.len() + v.len() + 48)
                .sum::<usize>()) as u64
    }
}

/// The values of one datum.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    One(f64),
    /// Values, each occurring `counts[i]` times (1 when `counts` is empty).
    Many {
        values: &'a [f64],
        counts: &'a [f64],
    },
    /// A statistic set: no values to keep, so no percentiles.
    Set(Agg),
}

/// One datum to insert.
#[derive(Debug, Clone, Copy)]
pub struct Datum<'a> {
    pub key: &'a SeriesKey,
    /// Seconds since the epoch.
    pub timestamp: i64,
    pub values: Values<'a>,
    /// `None` when not given.
    pub unit: &'a str,
    /// StorageResolution 1: kept at 1-second granularity; 60: truncated to the minute.
    pub high_resolution: bool,
}

/// One period's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Start of the period, epoch seconds.
    pub start: i64,
    pub agg: Agg,
    /// The asked percentiles, in order; None where the period has no raw values.
    pub percentiles: Vec<Option<f64>>,
}

/// A series as ListMetrics shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub key: SeriesKey,
    pub unit: String,
    pub last_write: i64,
}

/// Size figures, for tests and the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    pub series: usize,
    pub bytes: u64,
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn sec(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

#[derive(Clone)]
pub struct MetricStore {
    inner: Arc<Shared>,
}

struct Shared {
    mem: Mutex<Mem>,
    /// The file; held during a whole flush so flushes never interleave.
    db: Mutex<rusqlite::Connection>,
    max_series: usize,
    max_bytes: u64,
    caps: Mutex<SeriesCaps>,
}

struct Mem {
    series: FastMap<SeriesKey, Series>,
    /// Series each API caller created and still has, and their total.
    owned: HashMap<Arc<str>, usize>,
    custom: usize,
    bytes: u64,
    next_id: i64,
    /// Raw data before this second is gone (window or eviction).
    raw_cutoff: u32,
    minute_cutoff: u32,
    /// Changes not yet in the file (always empty without one).
    pending: Vec<Change>,
    persistent: bool,
}

impl std::fmt::Debug for MetricStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricStore").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    crate::util::sync::lock(m)
}

impl MetricStore {
    /// Opens (creating) the store file at `path` and loads its recent history.
    pub fn open(path: &Path, max_series: usize, max_bytes: u64) -> Result<Self, MetricsError> {
        let conn = persist::open(path)?;
        Self::from_conn(conn, max_series, max_bytes, now_secs())
    }

    /// A store that keeps nothing on disk (tests).
    pub fn in_memory(max_series: usize, max_bytes: u64) -> Self {
        let conn = persist::open_in_memory().unwrap_or_else(|e| {
            // An in-memory SQLite database only fails without memory.
            panic!("cannot create an in-memory SQLite database: {e}")
        });
        let store = Self::build(conn, max_series, max_bytes, 0);
        lock(&store.inner.mem).persistent = false;
        store
    }

    fn build(conn: rusqlite::Connection, max_series: usize, max_bytes: u64, now: i64) -> Self {
        Self {
            inner: Arc::new(Shared {
                mem: Mutex::new(Mem {
                    series: FastMap::default(),
                    owned: HashMap::new(),
                    custom: 0,
                    bytes: 0,
                    next_id: 1,
                    raw_cutoff: sec(now - RAW_WINDOW),
                    minute_cutoff: sec(now - MINUTE_WINDOW),
                    pending: Vec::new(),
                    persistent: true,
                }),
                db: Mutex::new(conn),
                max_series: max_series.max(1),
                max_bytes,
                caps: Mutex::new(SeriesCaps::NONE),
            }),
        }
    }

    fn from_conn(
        mut conn: rusqlite::Connection,
        max_series: usize,
        max_bytes: u64,
        now: i64,
    ) -> Result<Self, MetricsError> {
        let raw_cutoff = sec(now - RAW_WINDOW);
        let minute_cutoff = sec(now - MINUTE_WINDOW);
        let loaded = persist::load(&mut conn, raw_cutoff, minute_cutoff)?;
        let store = Self::build(conn, max_series, max_bytes, now);
        {
            let mut mem = lock(&store.inner.mem);
            let mut by_id: HashMap<i64, SeriesKey> = HashMap::new();
            for (id, key, unit, last_write) in loaded.series {
                mem.next_id = mem.next_id.max(id + 1);
                by_id.insert(id, key.clone());
                mem.bytes += SERIES_OVERHEAD + key.bytes();
                mem.series.insert(
                    key,
                    Series {
                        id,
                        unit,
                        last_write,
                        ..Default::default()
                    },
                );
            }
            let mut bytes = 0;
            for (id, s) in loaded.samples {
                if let Some(series) = by_id.get(&id).and_then(|k| mem.series.get_mut(k)) {
                    bytes += series.add_sample(s);
                }
            }
            for (id, s) in loaded.sets {
                if let Some(series) = by_id.get(&id).and_then(|k| mem.series.get_mut(k)) {
                    series.sets.push_back(s);
                    bytes += AGG_BYTES;
                }
            }
            for (id, m) in loaded.minutes {
                if let Some(series) = by_id.get(&id).and_then(|k| mem.series.get_mut(k)) {
                    series.minutes.push_back(m);
                    bytes += AGG_BYTES;
                }
            }
            mem.bytes += bytes;
            store.remove_empty_series(&mut mem);
            store.enforce_caps(&mut mem);
        }
        store.flush()?;
        Ok(store)
    }

    /// Caps the series API callers create (`insert_as` with an owner).
    pub fn set_series_caps(&self, caps: SeriesCaps) {
        *lock(&self.inner.caps) = caps;
    }

    /// Series API callers hold: in total, and `owner`'s.
    pub fn owned_series(&self, owner: &str) -> (usize, usize) {
        let mem = lock(&self.inner.mem);
        (mem.custom, mem.owned.get(owner).copied().unwrap_or(0))
    }

    /// Adds a batch of the host's own (all or nothing), timestamps in epoch seconds.
    pub fn insert(&self, batch: &[Datum<'_>]) -> Result<(), MetricsError> {
        self.insert_at(batch, now_secs())
    }

    /// Adds an API caller's batch: its new series count against the [`SeriesCaps`].
    pub fn insert_as(&self, batch: &[Datum<'_>], owner: Owner<'_>) -> Result<(), MetricsError> {
        self.insert_owned(batch, owner, now_secs())
    }

    pub fn insert_at(&self, batch: &[Datum<'_>], now: i64) -> Result<(), MetricsError> {
        self.insert_owned(batch, None, now)
    }

    pub fn insert_owned(
        &self,
        batch: &[Datum<'_>],
        owner: Owner<'_>,
        now: i64,
    ) -> Result<(), MetricsError> {
        let raw_from = now - RAW_WINDOW;
        // What the batch costs, checked before anything changes.
        let estimate: u64 = batch
            .iter()
            .map(|d| {
                let n = match d.values {
                    Values::One(_) => SAMPLE_BYTES,
                    Values::Many { values, .. } => values.len() as u64 * SAMPLE_BYTES,
                    Values::Set(_) => AGG_BYTES,
                };
                n + AGG_BYTES
            })
            .sum();
        let limit = self.inner.max_bytes / 8;
        if estimate > limit {
            return Err(MetricsError::RequestTooLarge {
                bytes: estimate,
                limit,
            });
        }
        let mut mem = lock(&self.inner.mem);
        let new: FastSet<&SeriesKey> = batch
            .iter()
            .map(|d| d.key)
            .filter(|k| !mem.series.contains_key(*k))
            .collect();
        if new.len() > self.inner.max_series {
            return Err(MetricsError::TooManySeries {
                new: new.len(),
                max: self.inner.max_series,
            });
        }
        let owner: Option<Arc<str>> = match owner {
            Some(o) if !new.is_empty() => {
                let caps = *lock(&self.inner.caps);
                let has = mem.owned.get(o).copied().unwrap_or(0);
                if has.saturating_add(new.len()) > caps.per_owner {
                    return Err(MetricsError::CallerSeriesLimit {
                        owner: o.to_owned(),
                        new: new.len(),
                        has,
                        max: caps.per_owner,
                    });
                }
                if mem.custom.saturating_add(new.len()) > caps.custom {
                    return Err(MetricsError::CustomSeriesLimit {
                        new: new.len(),
                        has: mem.custom,
                        max: caps.custom,
                    });
                }
                Some(
                    mem.owned
                        .get_key_value(o)
                        .map_or_else(|| Arc::from(o), |(k, _)| k.clone()),
                )
            }
            _ => None,
        };
        let mem = &mut *mem;
        for d in batch {
            let t = if d.high_resolution {
                d.timestamp
            } else {
                d.timestamp - d.timestamp.rem_euclid(60)
            };
            // Older than the windows: nothing would keep it.
            if t < i64::from(mem.minute_cutoff) || t < now - MINUTE_WINDOW {
                continue;
            }
            let raw = t >= raw_from && t >= i64::from(mem.raw_cutoff);
            let s = sec(t);
            if !mem.series.contains_key(d.key) {
                let id = mem.next_id;
                mem.next_id += 1;
                mem.bytes += SERIES_OVERHEAD + d.key.bytes();
                if let Some(o) = &owner {
                    *mem.owned.entry(o.clone()).or_default() += 1;
                    mem.custom += 1;
                }
                mem.series.insert(
                    d.key.clone(),
                    Series {
                        id,
                        owner: owner.clone(),
                        ..Default::default()
                    },
                );
            }
            let Some(series) = mem.series.get_mut(d.key) else {
                continue;
            };
            // The series row is rewritten when its unit changes or its last write moved a
            // minute (RecentlyActive is hours): not once per value.
            let stale_row = series.last_write / 60 != now / 60;
            series.last_write = now;
            if series.unit != d.unit || stale_row {
                if series.unit != d.unit {
                    series.unit = d.unit.to_owned();
                }
                mem.pending
                    .push(Change::Series(Box::new(persist::SeriesRow {
                        id: series.id,
                        key: d.key.clone(),
                        unit: series.unit.clone(),
                        last_write: now,
                    })));
            }
            let id = series.id;
            let mut added = 0;
            match d.values {
                Values::One(v) => {
                    added += series.add_value(s, v, 1.0, raw).0;
                    if raw {
                        let sample = series::Sample {
                            sec: s,
                            weight: 1.0,
                            value: v,
                        };
                        push_sample(&mut mem.pending, id, sample);
                    }
                }
                Values::Many { values, counts } => {
                    for (i, v) in values.iter().enumerate() {
                        let c = counts.get(i).copied().unwrap_or(1.0);
                        added += series.add_value(s, *v, c, raw).0;
                        if raw {
                            let sample = series::Sample {
                                sec: s,
                                weight: c as f32,
                                value: *v,
                            };
                            push_sample(&mut mem.pending, id, sample);
                        }
                    }
                }
                Values::Set(agg) => {
                    added += series.add_set(s, agg, raw).0;
                    if raw {
                        mem.pending.push(Change::Set(id, TimedAgg { t: s, agg }));
                    }
                }
            }
            // The minute's row is rewritten at the next flush; one change says so (a
            // publish brings ten values per series, all in one minute).
            let minute = s - s % 60;
            if series.unflushed_minute != Some(minute) {
                series.unflushed_minute = Some(minute);
                mem.pending.push(Change::Minute(
                    id,
                    TimedAgg {
                        t: minute,
                        agg: Agg::EMPTY,
                    },
                ));
            }
            mem.bytes += added;
        }
        self.enforce_caps(mem);
        if !mem.persistent {
            mem.pending.clear();
        }
        Ok(())
    }

    fn remove_series(&self, mem: &mut Mem, key: &SeriesKey) {
        if let Some(s) = mem.series.remove(key) {
            if let Some(o) = &s.owner {
                mem.custom = mem.custom.saturating_sub(1);
                if let Some(n) = mem.owned.get_mut(o) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        mem.owned.remove(o);
                    }
                }
            }
            mem.bytes = mem
                .bytes
                .saturating_sub(s.bytes() + SERIES_OVERHEAD + key.bytes());
            mem.pending.push(Change::DropSeries(s.id));
        }
    }

    /// Least recently written series go past `max_series`; the oldest data of all series
    /// past `max_bytes` (down to 90 % of it, so eviction is not paid on every insert).
    fn enforce_caps(&self, mem: &mut Mem) {
        while mem.series.len() > self.inner.max_series {
            let Some(oldest) = mem
                .series
                .iter()
                .min_by_key(|(_, s)| s.last_write)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove_series(mem, &oldest);
        }
        if mem.bytes <= self.inner.max_bytes {
            return;
        }
        let target = self.inner.max_bytes / 10 * 9;
        for _ in 0..64 {
            if mem.bytes <= target || !self.evict_oldest(mem) {
                break;
            }
        }
        // Series with nothing left still cost their key: drop them.
        if mem.bytes > self.inner.max_bytes {
            self.drop_empty(mem);
        }
    }

    fn drop_empty(&self, mem: &mut Mem) {
        let empty: Vec<SeriesKey> = mem
            .series
            .iter()
            .filter(|(_, s)| s.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for k in empty {
            self.remove_series(mem, &k);
        }
    }

    /// Moves the cutoffs past the oldest sixteenth of what is kept (at least a minute);
    /// false when nothing is left to evict.
    fn evict_oldest(&self, mem: &mut Mem) -> bool {
        let Some(oldest) = mem.series.values().filter_map(Series::oldest).min() else {
            return false;
        };
        let newest = mem
            .series
            .values()
            .filter_map(|s| {
                [s.newest_sample(), s.minutes.back().map(|x| x.t)]
                    .into_iter()
                    .flatten()
                    .max()
            })
            .max()
            .unwrap_or(oldest);
        let step = ((newest.saturating_sub(oldest)) / 16).max(60);
        let cutoff = oldest.saturating_add(step);
        mem.minute_cutoff = mem.minute_cutoff.max(cutoff);
        mem.raw_cutoff = mem.raw_cutoff.max(cutoff);
        self.apply_cutoffs(mem);
        true
    }

    fn apply_cutoffs(&self, mem: &mut Mem) {
        let (raw, minute) = (mem.raw_cutoff, mem.minute_cutoff);
        let mut freed = 0;
        for s in mem.series.values_mut() {
            freed += s.prune(raw, minute);
        }
        mem.bytes = mem.bytes.saturating_sub(freed);
        mem.pending.push(Change::Cutoffs { raw, minute });
    }

    /// Drops data past the windows and series with nothing left; run every minute or so.
    pub fn prune(&self) {
        self.prune_at(now_secs());
    }

    /// Drops every series left with no data (after a load or a prune).
    fn remove_empty_series(&self, mem: &mut Mem) {
        let empty: Vec<SeriesKey> = mem
            .series
            .iter()
            .filter(|(_, s)| s.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for k in empty {
            self.remove_series(mem, &k);
        }
    }

    pub fn prune_at(&self, now: i64) {
        let mut mem = lock(&self.inner.mem);
        mem.raw_cutoff = mem.raw_cutoff.max(sec(now - RAW_WINDOW));
        mem.minute_cutoff = mem.minute_cutoff.max(sec(now - MINUTE_WINDOW));
        self.apply_cutoffs(&mut mem);
        self.remove_empty_series(&mut mem);
        if !mem.persistent {
            mem.pending.clear();
        }
    }

    /// Writes what changed since the last flush to the file.
    ///
    /// The file is held to `max_bytes` too: a row on disk costs more than in memory (its
    /// indexes), so when the pages in use pass the cap the oldest data is evicted from
    /// both until they fit, and freed pages go back to the file system.
    pub fn flush(&self) -> Result<(), MetricsError> {
        let mut db = lock(&self.inner.db);
        let changes = self.take_changes();
        if changes.is_empty() {
            return Ok(());
        }
        persist::write(&mut db, &changes)?;
        let mut evicted = false;
        for _ in 0..64 {
            let (used, _) = persist::sizes(&db)?;
            if used <= self.inner.max_bytes {
                break;
            }
            {
                let mut mem = lock(&self.inner.mem);
                if !self.evict_oldest(&mut mem) {
                    break;
                }
                self.drop_empty(&mut mem);
            }
            persist::write(&mut db, &self.take_changes())?;
            evicted = true;
        }
        let (used, file) = persist::sizes(&db)?;
        // Free pages beyond a tenth of the cap (or after an eviction) go back.
        if evicted || file.saturating_sub(used) > self.inner.max_bytes / 10 {
            persist::reclaim(&db)?;
        }
        Ok(())
    }

    /// Bytes the store's file holds in pages with data, and the file's size (tests and
    /// the bench).
    pub fn disk_footprint(&self) -> Result<(u64, u64), MetricsError> {
        Ok(persist::sizes(&lock(&self.inner.db))?)
    }

    /// What changed since the last call, ready to write.
    fn take_changes(&self) -> Vec<Change> {
        {
            let mut mem = lock(&self.inner.mem);
            let pending = std::mem::take(&mut mem.pending);
            let mut seen_minutes = FastSet::default();
            let mut by_id: FastMap<i64, &mut Series> =
                if pending.iter().any(|c| matches!(c, Change::Minute(..))) {
                    mem.series.values_mut().map(|s| (s.id, s)).collect()
                } else {
                    FastMap::default()
                };
            let mut out = Vec::with_capacity(pending.len());
            for c in pending {
                match c {
                    Change::Minute(id, m) => {
                        if !seen_minutes.insert((id, m.t)) {
                            continue;
                        }
                        let Some(s) = by_id.get_mut(&id) else {
                            continue;
                        };
                        s.unflushed_minute = None;
                        if let Some(agg) = s.minute(m.t) {
                            out.push(Change::Minute(id, TimedAgg { t: m.t, agg }));
                        }
                    }
                    other => out.push(other),
                }
            }
            out
        }
    }

    /// Figures per period of `[start, end)` for one series. `period` in seconds; buckets
    /// without data are left out. Sub-minute periods and percentiles come from the raw
    /// window; older periods from minute aggregates when `period` is whole minutes.
    pub fn query(
        &self,
        key: &SeriesKey,
        unit: Option<&str>,
        start: i64,
        end: i64,
        period: i64,
        percentiles: &[f64],
    ) -> Vec<Bucket> {
        self.query_at(key, unit, start, end, period, percentiles, now_secs())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn query_at(
        &self,
        key: &SeriesKey,
        unit: Option<&str>,
        start: i64,
        end: i64,
        period: i64,
        percentiles: &[f64],
        now: i64,
    ) -> Vec<Bucket> {
        let period = period.max(1);
        let mem = lock(&self.inner.mem);
        let Some(series) = mem.series.get(key) else {
            return Vec::new();
        };
        if unit.is_some_and(|u| u != series.unit) {
            return Vec::new();
        }
        let raw_from = (now - RAW_WINDOW).max(i64::from(mem.raw_cutoff));
        let mut out = Vec::new();
        // Buckets are aligned to `start`, as CloudWatch aligns periods to StartTime.
        let mut b = start;
        let mut values: Vec<(f64, f64)> = Vec::new();
        while b < end {
            let e = (b + period).min(end);
            let mut agg = Agg::EMPTY;
            let mut pct = vec![None; percentiles.len()];
            if b >= raw_from || period % 60 != 0 {
                values.clear();
                for run in series.runs_within(sec(b), sec(e)) {
                    let (value, weight) = run.within(sec(b), sec(e));
                    agg.merge(&Agg::of(value, weight));
                    values.push((value, weight));
                }
                let (i, j) = range(&series.sets, sec(b), sec(e), |s| s.t);
                for s in series.sets.range(i..j) {
                    agg.merge(&s.agg);
                }
                for (slot, p) in pct.iter_mut().zip(percentiles) {
                    *slot = percentile(&mut values, *p);
                }
            } else {
                let (i, j) = range(&series.minutes, sec(b), sec(e), |m| m.t);
                for m in series.minutes.range(i..j) {
                    agg.merge(&m.agg);
                }
            }
            if !agg.is_empty() {
                out.push(Bucket {
                    start: b,
                    agg,
                    percentiles: pct,
                });
            }
            b += period;
        }
        out
    }

    /// Every series matching the filter, sorted by key.
    pub fn list(&self, filter: impl Fn(&SeriesKey, &SeriesInfo) -> bool) -> Vec<SeriesInfo> {
        let mem = lock(&self.inner.mem);
        let mut out: Vec<SeriesInfo> = mem
            .series
            .iter()
            .map(|(k, s)| SeriesInfo {
                key: k.clone(),
                unit: s.unit.clone(),
                last_write: s.last_write,
            })
            .filter(|i| filter(&i.key, i))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Flushes every [`FLUSH_EVERY`] and prunes every minute on a thread of its own (SQLite
    /// blocks), until the store is dropped.
    pub fn spawn_maintenance(&self) {
        let weak = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("metrics-store".into())
            .spawn(move || {
                let mut rounds = 0u64;
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    let Some(inner) = weak.upgrade() else { return };
                    let store = MetricStore { inner };
                    rounds += 1;
                    if rounds.is_multiple_of(30) {
                        store.prune();
                    }
                    if let Err(e) = store.flush() {
                        tracing::warn!("metrics store: {e}");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("metrics store: cannot start its maintenance thread: {e}");
        }
    }

    pub fn footprint(&self) -> Footprint {
        let mem = lock(&self.inner.mem);
        Footprint {
            series: mem.series.len(),
            bytes: mem.bytes,
        }
    }
}

#[cfg(test)]
mod tests;

/// Queues a raw value to be written; the same value as the one queued just before it, for
/// the same series and second, adds its weight instead (a cluster's series gets one value
/// per task each second, mostly equal).
fn push_sample(pending: &mut Vec<Change>, id: i64, s: series::Sample) {
    if let Some(Change::Sample(last_id, last)) = pending.last_mut()
        && *last_id == id
        && last.sec == s.sec
        && last.value.to_bits() == s.value.to_bits()
    {
        last.weight += s.weight;
        return;
    }
    pending.push(Change::Sample(id, s));
}
