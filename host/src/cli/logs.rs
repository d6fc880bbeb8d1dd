//! `wasmgate logs`: read (and follow) a log group or stream from the embedded store, or
//! report the store's size (`--stats`).

use anyhow::Context;
use clap::Args;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;
use wasmgate::config::HostConfig;
use wasmgate::logs::{FilterEvents, GetEvents, LogStore, human_bytes};

#[derive(Args)]
pub struct LogsArgs {
    /// Log group (the container's `awslogs-group`).
    #[arg(long, required_unless_present = "stats")]
    group: Option<String>,
    /// One stream (`prefix/container/task-id`); all streams of the group without it.
    #[arg(long)]
    stream: Option<String>,
    /// Keep printing new events as they arrive.
    #[arg(short, long)]
    follow: bool,
    /// Print the store's size (on disk, in use, the `[logs] store_max_mib` cap) and each
    /// group's storedBytes and retention, instead of events.
    #[arg(long, conflicts_with_all = ["stream", "follow"])]
    stats: bool,
}

const POLL: Duration = Duration::from_millis(250);

pub fn logs(config: HostConfig, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let path = config.data_dir().join("logs.db");
    if !path.exists() {
        anyhow::bail!(
            "no log store at {} (no task has logged yet)",
            path.display()
        );
    }
    let store = LogStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let group = match (&args.group, args.stats) {
        (_, true) => {
            store.set_max_bytes(Some(config.logs.store_max_bytes()));
            print_stats(&store, &path, args.group.as_deref())?;
            return Ok(ExitCode::SUCCESS);
        }
        (Some(g), false) => g,
        (None, false) => anyhow::bail!("--group is required"),
    };
    match &args.stream {
        Some(stream) => follow_stream(&store, group, stream, args.follow)?,
        None => follow_group(&store, group, args.follow)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `name value (human)` lines, one fact each, for people and scripts alike; then one line
/// per group (only `group`, if given).
fn print_stats(
    store: &LogStore,
    path: &std::path::Path,
    group: Option<&str>,
) -> anyhow::Result<()> {
    let st = store.stats()?;
    let size = |n: u64| format!("{n} ({})", human_bytes(n));
    println!("store        {}", path.display());
    println!("fileBytes    {}", size(st.file_bytes));
    println!("usedBytes    {}", size(st.used_bytes));
    match st.max_bytes {
        Some(m) => println!("maxBytes     {}", size(m)),
        None => println!("maxBytes     none"),
    }
    println!("groups       {}", st.groups);
    println!("streams      {}", st.streams);
    println!("events       {}", st.events);
    println!("storedBytes  {}", size(st.stored_bytes));
    let mut token = None;
    loop {
        let page = store.describe_groups(group, 50, token.as_deref())?;
        for g in page
            .groups
            .iter()
            .filter(|g| group.is_none_or(|n| n == g.name))
        {
            let retention = g
                .retention_in_days
                .map_or_else(|| "never".to_owned(), |d| d.to_string());
            println!(
                "group {} storedBytes={} retentionInDays={retention}",
                g.name, g.stored_bytes
            );
        }
        token = page.next_token;
        if token.is_none() {
            return Ok(());
        }
    }
}

fn follow_stream(store: &LogStore, group: &str, stream: &str, follow: bool) -> anyhow::Result<()> {
    let mut token = None;
    loop {
        let page = store.get_events(&GetEvents {
            group: group.to_owned(),
            stream: stream.to_owned(),
            start_from_head: true,
            next_token: token.clone(),
            ..Default::default()
        })?;
        for e in &page.events {
            println!("{}", e.message);
        }
        let at_end = token.as_deref() == Some(page.next_forward_token.as_str());
        token = Some(page.next_forward_token);
        if at_end || page.events.is_empty() {
            if !follow {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }
}

fn follow_group(store: &LogStore, group: &str, follow: bool) -> anyhow::Result<()> {
    let mut since = None;
    let mut seen_at_since: HashSet<String> = HashSet::new();
    loop {
        let mut token = None;
        let mut printed = false;
        loop {
            let page = store.filter_events(&FilterEvents {
                group: group.to_owned(),
                start_time_ms: since,
                next_token: token,
                ..Default::default()
            })?;
            for e in page.events {
                if Some(e.timestamp_ms) == since && seen_at_since.contains(&e.event_id) {
                    continue;
                }
                if Some(e.timestamp_ms) != since {
                    since = Some(e.timestamp_ms);
                    seen_at_since.clear();
                }
                seen_at_since.insert(e.event_id);
                println!("{} {}", e.log_stream_name, e.message);
                printed = true;
            }
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        if !follow {
            return Ok(());
        }
        if !printed {
            std::thread::sleep(POLL);
        }
    }
}
