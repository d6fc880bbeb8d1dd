//! The feed of `wasmgate stats`: hosts (`serve`, `wasmgate run`) read their live tasks
//! every second anyway (the meter); while someone watches (`<data>/stats/watching` touched
//! in the last few seconds) they also write one row per container, with rates over the
//! last second, to `<data>/stats/<pid>.json`. The data directory is the transport: no
//! listener, no credentials, the same files for `serve` and for `run`, and the directory's
//! permissions decide who may look.

use crate::runtime::live::LiveTask;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A publisher writes while the watch file is younger than this.
pub const WATCHED_FOR: Duration = Duration::from_secs(5);
/// A reader ignores files older than this (their host is gone or idle).
pub const FRESH_FOR_MS: i64 = 3_000;
const WATCH_FILE: &str = "watching";
/// A file this old belongs to a host that died: the next reader removes it.
const ABANDONED_MS: i64 = 3_600_000;

/// One container as `wasmgate stats` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsRow {
    pub task_id: String,
    pub cluster: String,
    pub service: Option<String>,
    pub family: String,
    pub container: String,
    pub status: String,
    /// CPU used over the last second, in percent of one vCPU (as `docker stats`), and
    /// its share (cpu units / 1024, in percent): a busy container sits at its share.
    pub cpu_percent: f64,
    pub share_percent: f64,
    pub cpu_time_ns: u64,
    /// Of the last second, the part it was parked for being over its share.
    pub throttled_percent: f64,
    pub fuel_per_second: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
    pub requests_per_second: f64,
    /// The task's ephemeral storage in use and its quota.
    pub storage_used_bytes: u64,
    pub storage_limit_bytes: u64,
    /// File bytes the task's containers read and wrote since it started.
    #[serde(default)]
    pub storage_read_bytes: u64,
    #[serde(default)]
    pub storage_write_bytes: u64,
}

/// What one host wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsFile {
    pub pid: u32,
    pub at_ms: i64,
    pub rows: Vec<StatsRow>,
}

#[derive(Debug, Clone, Copy)]
struct Counters {
    at_ms: i64,
    cpu_ns: u64,
    throttled_ns: u64,
    fuel: u64,
    requests: u64,
}

/// Keeps the previous reading for rates; writes when watched.
pub struct Publisher {
    dir: PathBuf,
    previous: HashMap<(String, String), Counters>,
    wrote: bool,
}

impl Publisher {
    /// Publishes into `<data_dir>/stats`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("stats"),
            previous: HashMap::new(),
            wrote: false,
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join(format!("{}.json", std::process::id()))
    }

    /// Takes a reading (for the next rates) and writes it if someone watches.
    pub fn publish(&mut self, tasks: &[LiveTask], now_ms: i64) {
        let rows = rows(&mut self.previous, tasks, now_ms);
        if !watched(&self.dir) {
            return;
        }
        let file = StatsFile {
            pid: std::process::id(),
            at_ms: now_ms,
            rows,
        };
        match write_atomic(&self.file(), &file) {
            Ok(()) => self.wrote = true,
            Err(e) => tracing::debug!("stats feed: {e}"),
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if self.wrote {
            let _ = std::fs::remove_file(self.file());
        }
    }
}

fn watched(dir: &Path) -> bool {
    std::fs::metadata(dir.join(WATCH_FILE))
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < WATCHED_FOR))
}

fn write_atomic(path: &Path, file: &StatsFile) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(file).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[allow(clippy::cast_precision_loss)]
fn rows(
    previous: &mut HashMap<(String, String), Counters>,
    tasks: &[LiveTask],
    now_ms: i64,
) -> Vec<StatsRow> {
    let mut next = HashMap::new();
    let mut out = Vec::new();
    for t in tasks {
        for c in &t.containers {
            let key = (t.task_id.clone(), c.name.clone());
            let now = Counters {
                at_ms: now_ms,
                cpu_ns: c.cpu_time_ns,
                throttled_ns: c.throttled_ns,
                fuel: c.fuel_consumed,
                requests: if c.http { c.instances } else { 0 },
            };
            let (cpu, throttled, fuel, requests) = match previous.get(&key) {
                Some(p) if now_ms > p.at_ms => {
                    let secs = (now_ms - p.at_ms) as f64 / 1000.0;
                    let per_s = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
                    (
                        per_s(now.cpu_ns, p.cpu_ns) / 1e7,
                        per_s(now.throttled_ns, p.throttled_ns) / 1e7,
                        per_s(now.fuel, p.fuel),
                        per_s(now.requests, p.requests),
                    )
                }
                _ => (0.0, 0.0, 0.0, 0.0),
            };
            next.insert(key, now);
            let units = if c.cpu_units > 0 {
                c.cpu_units
            } else {
                t.cpu_units
            };
            out.push(StatsRow {
                task_id: t.task_id.clone(),
                cluster: t.cluster.clone(),
                service: t.service.clone(),
                family: t.family.clone(),
                container: c.name.clone(),
                status: t.last_status.as_str().to_owned(),
                cpu_percent: cpu,
                share_percent: f64::from(units) / 10.24,
                cpu_time_ns: c.cpu_time_ns,
                throttled_percent: throttled.min(100.0),
                fuel_per_second: fuel,
                memory_bytes: c.memory_bytes,
                memory_limit_bytes: c.memory_limit_bytes,
                requests_per_second: requests,
                storage_used_bytes: t.storage_used_bytes,
                storage_limit_bytes: t.storage_limit_bytes,
                storage_read_bytes: t.storage_read_bytes,
                storage_write_bytes: t.storage_write_bytes,
            });
        }
    }
    *previous = next;
    out
}

/// For readers: says "someone watches" (the hosts start writing within a second).
pub fn watch(data_dir: &Path) -> std::io::Result<()> {
    let dir = data_dir.join("stats");
    std::fs::create_dir_all(&dir)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(WATCH_FILE))?;
    f.set_modified(SystemTime::now())
}

/// Every host's rows written since `since_ms` (and in the last [`FRESH_FOR_MS`]).
pub fn read(data_dir: &Path, now_ms: i64, since_ms: i64) -> Vec<StatsFile> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("stats")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        let Some(file) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<StatsFile>(&b).ok())
        else {
            continue;
        };
        let age = now_ms.saturating_sub(file.at_ms);
        if age > ABANDONED_MS {
            // A host killed without its cleanup left it.
            let _ = std::fs::remove_file(&path);
        } else if file.at_ms >= since_ms && age <= FRESH_FOR_MS {
            out.push(file);
        }
    }
    out
}

#[cfg(test)]
mod tests;
