//! `${uri}/stats` and `${uri}/task/stats`: Docker's container-stats shape (what the
//! CloudWatch agent, Datadog and OpenTelemetry's ECS receivers read), filled from the
//! host's own meters through the host's one reader (`runtime::live`), read at the moment
//! of the request:
//! - `cpu_stats.cpu_usage.total_usage`: the container's CPU time in ns (the CPU meter);
//!   `system_cpu_usage` the host's (`/proc/stat`), `online_cpus` the host's CPUs;
//!   `throttling_data.throttled_time` the time it was parked over its share;
//! - `memory_stats`: the container's linear memory (the limiter), its peak and its limit;
//! - `networks.eth1`: the task's bytes and packets (the task shares one interface, as an
//!   awsvpc ENI is shared);
//! - `storage_stats`: the task's ephemeral storage use and size (the quota meter);
//! - `fuel_consumed`: wasmgate's own, fuel the container burned (0 with metering off).
//!
//! `precpu_stats` and `network_rate_stats` compare with the previous reading, as Docker
//! does between two samples.

use super::TaskEndpoints;
use super::time::iso8601;
use crate::runtime::net::NetTotals;
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// One reading of a container's counters, kept for the next one's deltas.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    at: SystemTime,
    cpu_ns: u64,
    system_ns: u64,
    net: NetTotals,
}

/// `${uri}/stats`: container `i`.
pub(super) fn container(ep: &TaskEndpoints, i: usize) -> Value {
    let now = SystemTime::now();
    let system_ns = system_cpu_ns();
    let net = ep.live.network.counters().totals();
    stats_of(ep, i, now, system_ns, net)
}

/// `${uri}/task/stats`: every container's, by `DockerId`.
pub(super) fn task(ep: &TaskEndpoints) -> Value {
    let now = SystemTime::now();
    let system_ns = system_cpu_ns();
    let net = ep.live.network.counters().totals();
    let all: Map<String, Value> = (0..ep.containers.len())
        .map(|i| {
            (
                ep.containers[i].docker_id.clone(),
                stats_of(ep, i, now, system_ns, net),
            )
        })
        .collect();
    Value::Object(all)
}

fn stats_of(
    ep: &TaskEndpoints,
    i: usize,
    now: SystemTime,
    system_ns: u64,
    net: NetTotals,
) -> Value {
    let facts = &ep.containers[i];
    let reading = ep.live.reading(i);
    let (cpu_ns, throttled_ns) = (reading.cpu_ns, reading.throttled_ns);
    let limit = ep.live.memory_limit(facts.memory_mib);
    let sample = Sample {
        at: now,
        cpu_ns,
        system_ns,
        net,
    };
    let previous = {
        let mut prev = crate::util::sync::lock(&ep.previous);
        prev.get_mut(i).and_then(|slot| slot.replace(sample))
    };
    let cpus = online_cpus();
    let precpu = match previous {
        Some(p) => json!({
            "cpu_usage": { "total_usage": p.cpu_ns, "usage_in_kernelmode": 0, "usage_in_usermode": p.cpu_ns },
            "system_cpu_usage": p.system_ns,
            "online_cpus": cpus,
            "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
        }),
        None => json!({
            "cpu_usage": { "total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
            "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
        }),
    };
    let (rx_rate, tx_rate) = match previous {
        Some(p) => {
            let secs = now
                .duration_since(p.at)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            if secs > 0.0 {
                (
                    net.rx_bytes.saturating_sub(p.net.rx_bytes) as f64 / secs,
                    net.tx_bytes.saturating_sub(p.net.tx_bytes) as f64 / secs,
                )
            } else {
                (0.0, 0.0)
            }
        }
        None => (0.0, 0.0),
    };
    let quota = &ep.live.quota;
    json!({
        "read": iso8601(now),
        "preread": previous.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), |p| iso8601(p.at)),
        "name": facts.name,
        "id": facts.docker_id,
        "num_procs": 0,
        "pids_stats": {},
        "cpu_stats": {
            "cpu_usage": {
                "total_usage": cpu_ns,
                "usage_in_kernelmode": 0,
                "usage_in_usermode": cpu_ns,
            },
            "system_cpu_usage": system_ns,
            "online_cpus": cpus,
            "throttling_data": {
                "periods": 0,
                "throttled_periods": 0,
                "throttled_time": throttled_ns,
            },
        },
        "precpu_stats": precpu,
        "memory_stats": {
            "usage": reading.memory_now,
            "max_usage": reading.memory_peak,
            "limit": limit,
            "stats": {},
        },
        "blkio_stats": {
            "io_service_bytes_recursive": [],
            "io_serviced_recursive": [],
        },
        "storage_stats": {
            "size_rw_bytes": quota.used_bytes(),
            "limit_bytes": quota.limit_bytes(),
        },
        "networks": {
            "eth1": {
                "rx_bytes": net.rx_bytes,
                "rx_packets": net.rx_packets,
                "rx_errors": 0,
                "rx_dropped": 0,
                "tx_bytes": net.tx_bytes,
                "tx_packets": net.tx_packets,
                "tx_errors": 0,
                "tx_dropped": 0,
            }
        },
        "network_rate_stats": {
            "rx_bytes_per_sec": rx_rate,
            "tx_bytes_per_sec": tx_rate,
        },
        "fuel_consumed": reading.fuel,
    })
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The host's CPU time in ns, as Docker reads it: the first line of `/proc/stat` (clock
/// ticks of 10 ms on Linux). Elsewhere, wall time since the epoch times the CPUs.
fn system_cpu_ns() -> u64 {
    const NS_PER_TICK: u64 = 10_000_000;
    let ticks = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        let line = s.lines().next()?;
        let rest = line.strip_prefix("cpu ")?;
        Some(
            rest.split_whitespace()
                .take(8)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum::<u64>(),
        )
    });
    match ticks {
        Some(t) => t.saturating_mul(NS_PER_TICK),
        None => {
            let wall = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            wall.saturating_mul(online_cpus() as u64)
        }
    }
}
