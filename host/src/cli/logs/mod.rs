//! `wasmgate logs`: read (and follow) a task's, a log group's or one stream's events from
//! the embedded store, or report the store's size (`--stats`).

mod print;
mod read;
pub(super) mod since;
mod task;

use anyhow::Context;
use clap::Args;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use wasmgate::config::HostConfig;
use wasmgate::logs::{LogStore, human_bytes};

pub use print::Format;

#[derive(Args)]
pub struct LogsArgs {
    /// A task's id, or any unique prefix of it (as `wasmgate run` prints it): every stream
    /// of its containers, whatever their log groups.
    #[arg(long, value_name = "ID", conflicts_with_all = ["group", "stream", "stats"])]
    task: Option<String>,
    /// With --task: only this container's stream.
    #[arg(long, value_name = "NAME", requires = "task")]
    container: Option<String>,
    /// Log group (the container's `awslogs-group`).
    #[arg(long, required_unless_present_any = ["stats", "task"])]
    group: Option<String>,
    /// One stream (`prefix/container/task-id`; a unique prefix of it will do); all streams
    /// of the group without it.
    #[arg(long)]
    stream: Option<String>,
    /// Keep printing new events as they arrive; waits for a task, group or stream that
    /// does not exist yet.
    #[arg(short, long)]
    follow: bool,
    /// Only events newer than this (`30s`, `10m`, `2h`, `1d`).
    #[arg(long, value_name = "DURATION", value_parser = since::parse)]
    since: Option<Duration>,
    /// `short`: the message, after the container (`--task`) or stream (`--group`) name;
    /// `json`: one JSON object per event.
    #[arg(long, value_enum, default_value_t = Format::Short)]
    format: Format,
    /// Print the store's size (on disk, in use, the `[logs] store_max_mib` cap) and each
    /// group's storedBytes and retention, instead of events.
    #[arg(long, conflicts_with_all = ["stream", "follow", "since"])]
    stats: bool,
}

/// What to read.
pub enum Target {
    Stream {
        group: String,
        stream: String,
    },
    Group(String),
    Task {
        id: String,
        container: Option<String>,
    },
}

/// How to read it.
pub struct ReadOptions {
    pub follow: bool,
    /// Events from this time (ms since the epoch) on; all without it.
    pub start_ms: Option<i64>,
}

pub fn logs(config: HostConfig, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let path = config.data_dir().join("logs.db");
    if !path.exists() {
        if !args.follow {
            anyhow::bail!(
                "no log store at {} (no task has logged yet)",
                path.display()
            );
        }
        wait_for_store(&path);
    }
    let store = LogStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
    if args.stats {
        store.set_max_bytes(Some(config.logs.store_max_bytes()));
        print_stats(&store, &path, args.group.as_deref())?;
        return Ok(ExitCode::SUCCESS);
    }
    let target = match (args.task, args.group, args.stream) {
        (Some(id), _, _) => Target::Task {
            id: task::id_prefix(&id)?,
            container: args.container,
        },
        (None, Some(group), Some(stream)) => Target::Stream { group, stream },
        (None, Some(group), None) => Target::Group(group),
        (None, None, _) => anyhow::bail!("--group or --task is required"),
    };
    let opts = ReadOptions {
        follow: args.follow,
        start_ms: args.since.map(since::start_ms),
    };
    let mut printer = print::Printer::new(args.format, &target);
    read::read(&store, &target, &opts, &mut printer)?;
    Ok(ExitCode::SUCCESS)
}

/// `--follow` before any task has logged: the store appears with the first one.
fn wait_for_store(path: &Path) {
    host_line!(
        "waiting for the log store {} (no task has logged yet)",
        path.display()
    );
    while !path.exists() {
        std::thread::sleep(read::POLL);
    }
}

/// `name value (human)` lines, one fact each, for people and scripts alike; then one line
/// per group (only `group`, if given).
fn print_stats(store: &LogStore, path: &Path, group: Option<&str>) -> anyhow::Result<()> {
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
