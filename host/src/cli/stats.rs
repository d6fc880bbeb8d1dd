//! `wasmgate stats`: a live table of the running tasks' containers (like `docker stats`),
//! from what the hosts using this data directory publish (see `wasmgate::usage::stats`).

use clap::{Args, ValueEnum};
use std::cmp::Reverse;
use std::fmt::Write;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use wasmgate::config::HostConfig;
use wasmgate::logs::human_bytes;
use wasmgate::usage::stats::{self, StatsRow};
use wasmgate::util::time::now_ms;

/// How long a snapshot waits for the hosts to notice it is watched.
const FIRST_WAIT: Duration = Duration::from_secs(4);
const REFRESH: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SortBy {
    Name,
    Cpu,
    CpuTime,
    Throttled,
    Fuel,
    Memory,
    Requests,
    Storage,
}

#[derive(Args)]
pub struct StatsArgs {
    /// Print one snapshot and exit.
    #[arg(long)]
    no_stream: bool,
    /// `json`: one JSON array of containers per refresh.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Column to sort by (descending; `name` ascending by task and container).
    #[arg(long, value_enum, default_value_t = SortBy::Name)]
    sort: SortBy,
    /// Only tasks of this cluster.
    #[arg(long)]
    cluster: Option<String>,
    /// Only tasks of this ECS service.
    #[arg(long)]
    service: Option<String>,
}

pub fn stats(config: HostConfig, args: StatsArgs) -> anyhow::Result<ExitCode> {
    let dir = config.data_dir();
    let started = now_ms();
    let mut first = true;
    loop {
        stats::watch(&dir)
            .map_err(|e| anyhow::anyhow!("cannot write to {}: {e}", dir.join("stats").display()))?;
        // The first time, wait for every host to publish once it sees the watcher.
        let since = if first { started } else { 0 };
        let mut files = stats::read(&dir, now_ms(), since);
        if first {
            let deadline = std::time::Instant::now() + FIRST_WAIT;
            while files.is_empty() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
                files = stats::read(&dir, now_ms(), since);
            }
            if files.is_empty() {
                host_line!(
                    "no host is running tasks with the data directory {}",
                    dir.display()
                );
            }
        }
        let mut rows: Vec<StatsRow> = files
            .into_iter()
            .flat_map(|f| f.rows)
            .filter(|r| args.cluster.as_ref().is_none_or(|c| *c == r.cluster))
            .filter(|r| {
                args.service
                    .as_ref()
                    .is_none_or(|s| r.service.as_ref() == Some(s))
            })
            .collect();
        sort(&mut rows, args.sort);
        let text = match args.format {
            Format::Table => table(&rows),
            Format::Json => format!("{}\n", serde_json::to_string(&rows).unwrap_or_default()),
        };
        let mut out = std::io::stdout().lock();
        if !args.no_stream && matches!(args.format, Format::Table) {
            // Home and clear: the table redraws in place.
            out.write_all(b"\x1b[H\x1b[2J")?;
        }
        out.write_all(text.as_bytes())?;
        out.flush()?;
        if args.no_stream {
            return Ok(ExitCode::SUCCESS);
        }
        first = false;
        std::thread::sleep(REFRESH);
    }
}

fn sort(rows: &mut [StatsRow], by: SortBy) {
    let name = |r: &StatsRow| (r.task_id.clone(), r.container.clone());
    match by {
        SortBy::Name => rows.sort_by_key(name),
        SortBy::CpuTime => rows.sort_by_key(|r| Reverse(r.cpu_time_ns)),
        SortBy::Memory => rows.sort_by_key(|r| Reverse(r.memory_bytes)),
        SortBy::Storage => rows.sort_by_key(|r| Reverse(r.storage_used_bytes)),
        SortBy::Cpu => rows.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent)),
        SortBy::Throttled => {
            rows.sort_by(|a, b| b.throttled_percent.total_cmp(&a.throttled_percent));
        }
        SortBy::Fuel => rows.sort_by(|a, b| b.fuel_per_second.total_cmp(&a.fuel_per_second)),
        SortBy::Requests => {
            rows.sort_by(|a, b| b.requests_per_second.total_cmp(&a.requests_per_second));
        }
    }
}

const HEADERS: [&str; 11] = [
    "TASK",
    "CONTAINER",
    "SERVICE/FAMILY",
    "CPU % / SHARE",
    "CPU TIME",
    "THROTTLED",
    "FUEL/S",
    "MEM / LIMIT",
    "REQ/S",
    "STORAGE",
    "STORAGE I/O",
];

#[allow(clippy::cast_precision_loss)]
fn table(rows: &[StatsRow]) -> String {
    let mut cells: Vec<Vec<String>> = vec![HEADERS.iter().map(|h| (*h).to_owned()).collect()];
    for r in rows {
        cells.push(vec![
            r.task_id.chars().take(12).collect(),
            r.container.clone(),
            r.service.clone().unwrap_or_else(|| r.family.clone()),
            format!("{:.1}% / {:.0}%", r.cpu_percent, r.share_percent),
            format!("{:.2}s", r.cpu_time_ns as f64 / 1e9),
            format!("{:.1}%", r.throttled_percent),
            si(r.fuel_per_second),
            format!(
                "{} / {}",
                human_bytes(r.memory_bytes),
                human_bytes(r.memory_limit_bytes)
            ),
            format!("{:.1}", r.requests_per_second),
            human_bytes(r.storage_used_bytes),
            format!(
                "{} / {}",
                human_bytes(r.storage_read_bytes),
                human_bytes(r.storage_write_bytes)
            ),
        ]);
    }
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

/// 1234567 → 1.2M: fuel rates run to billions.
fn si(v: f64) -> String {
    for (size, unit) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if v >= size {
            return format!("{:.1}{unit}", v / size);
        }
    }
    format!("{v:.0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(task: &str, cpu: f64) -> StatsRow {
        StatsRow {
            task_id: task.into(),
            cluster: "default".into(),
            service: None,
            family: "spin".into(),
            container: "app".into(),
            status: "RUNNING".into(),
            cpu_percent: cpu,
            share_percent: 50.0,
            cpu_time_ns: 1_500_000_000,
            throttled_percent: 50.0,
            fuel_per_second: 2_500_000.0,
            memory_bytes: 1 << 20,
            memory_limit_bytes: 512 << 20,
            requests_per_second: 0.0,
            storage_used_bytes: 0,
            storage_limit_bytes: 1 << 30,
            storage_read_bytes: 0,
            storage_write_bytes: 4 << 20,
        }
    }

    #[test]
    fn a_row_shows_its_share_and_rates() {
        let t = table(&[row("abc", 49.5)]);
        let line = t.lines().nth(1).unwrap();
        assert!(line.contains("49.5% / 50%"), "{t}");
        assert!(line.contains("1.50s") && line.contains("2.5M"), "{t}");
        assert!(line.contains("1 MiB / 512 MiB"), "{t}");
        assert!(t.lines().next().unwrap().ends_with("STORAGE I/O"), "{t}");
        assert!(line.ends_with("0 bytes / 4 MiB"), "{t}");
    }

    #[test]
    fn sorting_by_cpu_puts_the_busiest_first() {
        let mut rows = vec![row("a", 1.0), row("b", 90.0)];
        sort(&mut rows, SortBy::Cpu);
        assert_eq!(rows[0].task_id, "b");
        sort(&mut rows, SortBy::Name);
        assert_eq!(rows[0].task_id, "a");
    }
}
