//! `wasmgate usage`: usage and cost of the tasks `serve` ran with this data directory,
//! read from its state store (works while `serve` runs and after).

mod print;
mod when;

use anyhow::Context;
use clap::{Args, ValueEnum};
use std::process::ExitCode;
use wasmgate::config::HostConfig;
use wasmgate::state::sqlite::SqliteStateStore;
use wasmgate::usage::{self, GroupBy, Prices, Query};
use wasmgate::util::time::now_ms;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Args)]
pub struct UsageArgs {
    /// Only tasks of this cluster.
    #[arg(long)]
    cluster: Option<String>,
    /// Only tasks this ECS service started.
    #[arg(long)]
    service: Option<String>,
    /// Only tasks of this task-definition family.
    #[arg(long)]
    family: Option<String>,
    /// Start of the window: RFC 3339 (`2026-12-03T10:00:00Z`), a UTC date (`2026-12-03`),
    /// epoch seconds, or a time ago (`30m`, `2h`, `7d`). A task the window cuts counts
    /// the part inside it.
    #[arg(long, value_name = "TIME", value_parser = when::parse)]
    since: Option<i64>,
    /// End of the window (exclusive), as --since.
    #[arg(long, value_name = "TIME", value_parser = when::parse)]
    until: Option<i64>,
    /// cluster, service, family, task or day (UTC).
    #[arg(long, value_name = "KEY", default_value = "cluster", value_parser = parse_group)]
    group_by: GroupBy,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn parse_group(s: &str) -> Result<GroupBy, String> {
    s.parse()
}

pub fn usage(config: HostConfig, args: UsageArgs) -> anyhow::Result<ExitCode> {
    config
        .usage
        .validate()
        .map_err(anyhow::Error::msg)
        .context("invalid configuration")?;
    if let (Some(s), Some(u)) = (args.since, args.until)
        && u <= s
    {
        anyhow::bail!("--until must be after --since");
    }
    let path = config.data_dir().join("state.db");
    if !path.exists() {
        anyhow::bail!(
            "no state store at {} (`wasmgate serve` has not run with this data directory)",
            path.display()
        );
    }
    let store = SqliteStateStore::open(&path)
        .with_context(|| format!("cannot open the state store {}", path.display()))?;
    let records = usage::records(&store).context("cannot read usage records")?;
    let query = Query {
        cluster: args.cluster,
        service: args.service,
        family: args.family,
        since_ms: args.since,
        until_ms: args.until,
        group_by: args.group_by,
        now_ms: now_ms(),
        heartbeat: usage::heartbeat(&store).context("cannot read the heartbeat")?,
    };
    let prices = Prices {
        vcpu_hour: config.usage.vcpu_hour_usd,
        gb_hour: config.usage.gb_hour_usd,
    };
    let report = usage::bill::report(&records, &query, prices);
    let out = match args.format {
        Format::Table => print::table(&report, query.group_by),
        Format::Csv => print::csv(&report),
        Format::Json => print::json(&report, &query, prices),
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
