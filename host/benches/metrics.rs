//! The metrics store's footprint for 1,000 running tasks: each task publishes
//! `PER_TASK` series (CPU, memory, network in/out, storage) once a second, as the host
//! will (one batch insert per second for all of them, no JSON). Measures the insert cost
//! per batch and per value, the accounted bytes per series after an hour of data, the
//! process RSS growth, and the flush cost to `metrics.db`.
//!
//! Then the cost of collection: the host's publisher (`metrics::publish::Sampler`) over
//! 1,000 running tasks (10 services of 100, one HTTP container each) for 10 minutes of
//! simulated seconds, writing every 10 s into a store with `[metrics]` defaults and
//! flushing to disk as `serve` does: CPU time per second of collection, series, memory,
//! and metrics.db held to the cap.
//!
//! `cargo bench --bench metrics` (prints Markdown for BENCHMARKS.md).

use std::time::Instant;

use std::time::Duration;
use wasmgate::metrics::publish::{Sampler, write};
use wasmgate::metrics::store::{
    AGG_BYTES, Datum, MetricStore, SAMPLE_BYTES, SeriesKey, Values, now_secs,
};
use wasmgate::runtime::TaskStatus;
use wasmgate::runtime::live::{LiveContainer, LiveNetwork, LiveTask};

const TASKS: usize = 1000;
const PER_TASK: usize = 5;
const SECONDS: i64 = 3600;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    store_footprint()?;
    collection_cost()
}

/// 1,000 running tasks as the runtime's live reading shows them, `s` seconds in.
fn tasks_at(s: u64) -> Vec<LiveTask> {
    (0..TASKS)
        .map(|t| LiveTask {
            task_id: format!("{t:032x}"),
            task_arn: format!("arn:aws:ecs:us-east-1:000000000000:task/default/{t:032x}"),
            cluster_arn: "arn:aws:ecs:us-east-1:000000000000:cluster/default".into(),
            cluster: "default".into(),
            service: Some(format!("svc{}", t % 10)),
            family: format!("fam{}", t % 10),
            revision: "1".into(),
            group: format!("service:svc{}", t % 10),
            last_status: TaskStatus::Running,
            created_at: 0,
            started_at: Some(0),
            cpu_units: 256,
            memory_mib: 512,
            ephemeral_storage_gib: 20,
            containers: vec![LiveContainer {
                name: "web".into(),
                cpu_units: 256,
                cpu_time_ns: s * 200_000_000,
                throttled_ns: s * 50_000_000,
                fuel_consumed: s * 1_000_000,
                counts_fuel: true,
                memory_bytes: 8 << 20,
                memory_peak_bytes: 16 << 20,
                memory_limit_bytes: 512 << 20,
                instances: s * 20,
                http: true,
            }],
            network: LiveNetwork {
                rx_bytes: s * 10_000,
                rx_packets: s * 10,
                tx_bytes: s * 20_000,
                tx_packets: s * 10,
            },
            storage_used_bytes: 1 << 20,
            storage_limit_bytes: 20 << 30,
            storage_read_bytes: s * 4096,
            storage_write_bytes: s * 4096,
            memory_bytes: 8 << 20,
            memory_byte_seconds: 0.0,
            memory_ms: 0,
        })
        .collect()
}

fn collection_cost() -> anyhow::Result<()> {
    const SIMULATED: u64 = 600;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("metrics.db");
    let defaults = wasmgate::config::MetricsConfig::default();
    let store = MetricStore::open(&path, defaults.max_series, defaults.max_bytes())?;
    let mut sampler = Sampler::default().task_resolution(defaults.task_resolution_seconds);
    let rss0 = rss_kib();
    let start = now_secs() - SIMULATED as i64;
    let mut pending = Vec::new();
    let mut busy = Duration::ZERO;
    let mut points = 0usize;
    for s in 0..SIMULATED {
        // Reading the tasks is part of collection (the runtime builds these each second).
        let t0 = Instant::now();
        let tasks = tasks_at(s);
        let got = sampler.sample(start + s as i64, Duration::from_secs(1), &tasks, None, 0);
        points += got.len();
        pending.extend(got);
        if s % 10 == 9 {
            write(&store, &std::mem::take(&mut pending));
        }
        if s % 2 == 1 {
            store.flush()?;
        }
        busy += t0.elapsed();
    }
    store.flush()?;
    let rss1 = rss_kib();
    let f = store.footprint();
    let (used, file) = store.disk_footprint()?;
    let per_sec = busy.as_secs_f64() / SIMULATED as f64;
    println!();
    println!(
        "| host publisher, {TASKS} running tasks, {SIMULATED} s simulated, `[metrics]` defaults (task series every {} s) | |",
        defaults.task_resolution_seconds
    );
    println!("|---|---|");
    println!(
        "| collection + insert + flush per second | {:.1} ms (host CPU {:.1} % of one core) |",
        per_sec * 1e3,
        per_sec * 100.0
    );
    println!(
        "| data points per second (values in one datum per series) | {} |",
        points as u64 / SIMULATED
    );
    println!("| series | {} |", f.series);
    println!(
        "| accounted bytes after {SIMULATED} s | {:.1} MiB |",
        f.bytes as f64 / 1048576.0
    );
    println!(
        "| RSS growth | {:.1} MiB |",
        rss1.saturating_sub(rss0) as f64 / 1024.0
    );
    println!(
        "| metrics.db pages in use / file | {:.1} / {:.1} MiB (cap {} MiB) |",
        used as f64 / 1048576.0,
        file as f64 / 1048576.0,
        defaults.max_mib
    );
    Ok(())
}

fn store_footprint() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // The default cap (512 MiB): the file is held to it as memory is.
    let store = MetricStore::open(&dir.path().join("metrics.db"), 100_000, 512 << 20)?;
    let names = [
        "CpuUtilized",
        "MemoryUtilized",
        "NetworkRxBytes",
        "NetworkTxBytes",
        "StorageWriteBytes",
    ];
    let keys: Vec<SeriesKey> = (0..TASKS)
        .flat_map(|t| {
            names.iter().take(PER_TASK).map(move |n| {
                SeriesKey::new(
                    "ECS/ContainerInsights",
                    *n,
                    vec![
                        ("ClusterName".into(), "default".into()),
                        ("TaskId".into(), format!("{t:032x}")),
                    ],
                )
            })
        })
        .collect();
    let rss0 = rss_kib();
    let now = now_secs();
    let start = now - SECONDS;
    let mut insert_ns = Vec::new();
    let mut flush_ns = Vec::new();
    for s in 0..SECONDS {
        let t = start + s;
        let batch: Vec<Datum<'_>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Datum {
                key: k,
                timestamp: t,
                values: Values::One((i as f64 + s as f64) % 100.0),
                unit: "None",
                high_resolution: true,
            })
            .collect();
        let t0 = Instant::now();
        store.insert_at(&batch, t)?;
        insert_ns.push(t0.elapsed().as_nanos() as f64);
        // The host flushes every 2 s; measure a sample of flushes (all is slow in debug).
        if s % 2 == 1 && s < 600 {
            let t0 = Instant::now();
            store.flush()?;
            flush_ns.push(t0.elapsed().as_nanos() as f64);
        } else if s % 2 == 1 {
            store.flush()?;
        }
    }
    store.flush()?;
    let f = store.footprint();
    let rss1 = rss_kib();
    insert_ns.sort_by(f64::total_cmp);
    flush_ns.sort_by(f64::total_cmp);
    let med = |v: &[f64]| v[v.len() / 2];
    let series = keys.len();
    let db = std::fs::metadata(dir.path().join("metrics.db"))?.len()
        + std::fs::metadata(dir.path().join("metrics.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("| metrics store, {TASKS} tasks × {PER_TASK} series, 1 value/s for {SECONDS} s | |");
    println!("|---|---|");
    println!("| series | {series} |");
    println!(
        "| insert, one batch of {series} values (median) | {:.2} ms |",
        med(&insert_ns) / 1e6
    );
    println!(
        "| insert per value (median) | {:.0} ns |",
        med(&insert_ns) / series as f64
    );
    println!(
        "| flush of 2 s of data (median) | {:.1} ms |",
        med(&flush_ns) / 1e6
    );
    println!(
        "| accounted bytes after 1 h | {:.1} MiB ({:.0} KiB per series) |",
        f.bytes as f64 / 1048576.0,
        f.bytes as f64 / 1024.0 / series as f64
    );
    println!(
        "| RSS growth after 1 h | {:.1} MiB ({:.0} KiB per series) |",
        (rss1.saturating_sub(rss0)) as f64 / 1024.0,
        (rss1.saturating_sub(rss0)) as f64 / series as f64
    );
    println!(
        "| metrics.db after 1 h | {:.1} MiB |",
        db as f64 / 1048576.0
    );
    println!(
        "| projected at 3 h raw + 15 d minutes, per series, every value unlike the last | {:.0} KiB |",
        (3.0 * 3600.0 * SAMPLE_BYTES as f64 + 15.0 * 1440.0 * AGG_BYTES as f64 + 256.0) / 1024.0
    );
    Ok(())
}
