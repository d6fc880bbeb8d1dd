//! `wasmgate logs`: read (and follow) a log group or stream from the embedded store.

use anyhow::Context;
use clap::Args;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;
use wasmgate::config::HostConfig;
use wasmgate::logs::{FilterEvents, GetEvents, LogStore};

#[derive(Args)]
pub struct LogsArgs {
    /// Log group (the container's `awslogs-group`).
    #[arg(long)]
    group: String,
    /// One stream (`prefix/container/task-id`); all streams of the group without it.
    #[arg(long)]
    stream: Option<String>,
    /// Keep printing new events as they arrive.
    #[arg(short, long)]
    follow: bool,
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
    match &args.stream {
        Some(stream) => follow_stream(&store, &args.group, stream, args.follow)?,
        None => follow_group(&store, &args.group, args.follow)?,
    }
    Ok(ExitCode::SUCCESS)
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
