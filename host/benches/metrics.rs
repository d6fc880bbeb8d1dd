//! The metrics store's footprint for 1,000 running tasks: each task publishes
//! `PER_TASK` series (CPU, memory, network in/out, storage) once a second, as the host
//! will (one batch insert per second for all of them, no JSON). Measures the insert cost
//! per batch and per value, the accounted bytes per series after an hour of data, the
//! process RSS growth, and the flush cost to `metrics.db`.
//!
//! `cargo bench --bench metrics` (prints Markdown for BENCHMARKS.md).

use std::time::Instant;

use wasmgate::metrics::store::{Datum, MetricStore, SeriesKey, Values, now_secs};

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
    let dir = tempfile::tempdir()?;
    let store = MetricStore::open(&dir.path().join("metrics.db"), 100_000, 4 << 30)?;
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
        "| projected at 3 h raw + 15 d minutes, per series | {:.0} KiB |",
        (3.0 * 3600.0 * 16.0 + 15.0 * 1440.0 * 40.0 + 256.0) / 1024.0
    );
    Ok(())
}
