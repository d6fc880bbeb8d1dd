//! Command-line front end: parses arguments, sets up logging, dispatches to a subcommand.
//! Errors become messages and exit codes here, at the binary's edge.

/// `host_line!("…")` in one write (see [`host_lines::line`]).
macro_rules! host_line {
    ($($arg:tt)*) => {
        $crate::cli::host_lines::line(format_args!($($arg)*))
    };
}

mod console;
mod host_lines;
mod image_paths;
mod lb;
mod logs;
mod malloc_arenas;
mod push;
mod run;
mod run_roles;
mod serve;
mod signals;
mod stats;
mod stopping;
mod usage;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use wasmgate::config::HostConfig;

#[derive(Parser)]
#[command(
    name = "wasmgate",
    version,
    about = "Fargate for WebAssembly: run ECS task definitions whose containers are Wasm components"
)]
struct Cli {
    /// Host configuration file (TOML); embedded defaults apply without one.
    #[arg(long, global = true, env = "WASMGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: log store, compile cache, task storage.
    #[arg(long, global = true, env = "WASMGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a task definition in the foreground until it stops.
    Run(run::RunArgs),
    /// Check a task definition and print what wasmgate would run.
    Validate {
        /// ECS task definition JSON file.
        taskdef: PathBuf,
        /// Warn about unknown members instead of refusing them (for newer ECS features).
        #[arg(long)]
        allow_unknown_fields: bool,
        /// Check file images as `serve` resolves them, instead of against the definition
        /// file's folder: `--serve-root` against the config's `image_root` (default: the
        /// working directory), `--serve-root=DIR` against DIR.
        #[arg(
            long,
            value_name = "DIR",
            num_args = 0..=1,
            require_equals = true
        )]
        serve_root: Option<Option<PathBuf>>,
    },
    /// Read container logs from the embedded log store.
    Logs(logs::LogsArgs),
    /// Serve the ECS- and CloudWatch-Logs-compatible API (AWS CLI, boto3) until SIGTERM.
    Serve(serve::ServeArgs),
    /// The built-in load balancer (`[lb]` in the config): show it, add target groups and listeners.
    Lb(lb::LbArgs),
    /// Publish a component to an OCI registry (CNCF Wasm artifact layout); prints its digest.
    Push(push::PushArgs),
    /// Usage and cost of the tasks `serve` ran here: provisioned (per second, one-minute
    /// minimum, at the `[usage]` prices) and metered by use.
    Usage(usage::UsageArgs),
    /// A live table of running containers (CPU against its share, throttling, fuel,
    /// memory, requests, storage), like `docker stats`, from this data directory's hosts.
    Stats(stats::StatsArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` is a long-running host: what it does to tasks (starts, stops, service
    // events) is worth a line; the one-shot commands print only warnings.
    host_lines::install(match cli.command {
        Command::Serve(_) => "warn,wasmgate=info",
        _ => "warn",
    });
    wasmgate::runtime::descriptors::raise_open_file_limit();
    malloc_arenas::one_arena_per_core();
    if matches!(
        cli.command,
        Command::Validate { .. }
            | Command::Logs(_)
            | Command::Lb(_)
            | Command::Usage(_)
            | Command::Stats(_)
    ) {
        // Printing commands end quietly when their reader goes away (`| head`), like other
        // Unix tools. Not for run/serve/push: their sockets need SIGPIPE ignored.
        // SAFETY: resetting a signal disposition before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let config = match host_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            host_line!("{e:#}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(config, args),
        Command::Validate {
            taskdef,
            allow_unknown_fields,
            serve_root,
        } => {
            let serve_root = serve_root.map(|r| r.unwrap_or_else(|| config.image_root()));
            run::validate(&config, &taskdef, allow_unknown_fields, serve_root)
        }
        Command::Logs(args) => logs::logs(config, args),
        Command::Serve(args) => serve::serve(config, args),
        Command::Lb(args) => lb::lb(config, cli.config.as_deref(), args),
        Command::Push(args) => push::push(config, args),
        Command::Usage(args) => usage::usage(config, args),
        Command::Stats(args) => stats::stats(config, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            host_line!("{e:#}");
            ExitCode::from(1)
        }
    }
}

fn host_config(cli: &Cli) -> anyhow::Result<HostConfig> {
    let mut config = match &cli.config {
        // `lb create-…` may start the config file.
        Some(path) if matches!(cli.command, Command::Lb(_)) && !path.exists() => {
            HostConfig::default()
        }
        Some(path) => HostConfig::load(path)?,
        None => HostConfig::default(),
    };
    if let Some(dir) = &cli.data_dir {
        config.data_dir = Some(dir.clone());
    }
    Ok(config)
}
