//! `wasmgate lb`: show the load balancer of the `--config` file, checked, and add target
//! groups and listeners to that file (`serve` reads them when it starts).

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::Path;
use std::process::ExitCode;
use wasmgate::config::{HostConfig, LbAlgorithm};
use wasmgate::lb::LoadBalancer;

#[derive(Args)]
pub struct LbArgs {
    #[command(subcommand)]
    command: LbCommand,
}

#[derive(Subcommand)]
enum LbCommand {
    /// Print the configured target groups (with their ARNs) and listeners, checking `[lb]`.
    Show,
    /// Add a target group to the `--config` file and print its ARN.
    CreateTargetGroup {
        #[arg(long)]
        name: String,
        /// Path of the health check's GET.
        #[arg(long, default_value = "/")]
        health_check_path: String,
        /// round_robin or least_outstanding_requests.
        #[arg(long, default_value = "round_robin")]
        algorithm: String,
        /// Seconds a deregistered target keeps serving its in-flight requests.
        #[arg(long, default_value_t = 30)]
        deregistration_delay: u64,
    },
    /// Add a listener (a host port forwarding to a target group) to the `--config` file.
    CreateListener {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        target_group: String,
    },
}

pub fn lb(
    config: HostConfig,
    config_path: Option<&Path>,
    args: LbArgs,
) -> anyhow::Result<ExitCode> {
    match args.command {
        LbCommand::Show => show(&config),
        LbCommand::CreateTargetGroup {
            name,
            health_check_path,
            algorithm,
            deregistration_delay,
        } => {
            let table = format!(
                "[[lb.target_groups]]\nname = {}\nalgorithm = {}\nderegistration_delay_seconds = {deregistration_delay}\nhealth_check = {{ path = {} }}\n",
                toml_string(&name),
                toml_string(&algorithm),
                toml_string(&health_check_path),
            );
            let added = append(config_path, &table)?;
            let Some(lb) = added else {
                return Ok(ExitCode::from(2));
            };
            match lb.target_group(&name) {
                Some(tg) => println!("{}", tg.arn),
                None => println!("{name}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        LbCommand::CreateListener { port, target_group } => {
            let table = format!(
                "[[lb.listeners]]\nport = {port}\ntarget_group = {}\n",
                toml_string(&target_group)
            );
            match append(config_path, &table)? {
                Some(_) => {
                    println!("listener 127.0.0.1:{port} -> {target_group}");
                    Ok(ExitCode::SUCCESS)
                }
                None => Ok(ExitCode::from(2)),
            }
        }
    }
}

/// Appends a TOML table to the config file, keeping everything already in it (comments
/// included), but only if the whole file still loads and its `[lb]` checks out; the file
/// is replaced atomically. Returns the resulting load balancer, or None after printing why.
fn append(config_path: Option<&Path>, table: &str) -> anyhow::Result<Option<LoadBalancer>> {
    let Some(path) = config_path else {
        host_line!("--config: name the config file to add to");
        return Ok(None);
    };
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let sep = if old.is_empty() || old.ends_with("\n\n") {
        ""
    } else if old.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    let new = format!("{old}{sep}{table}");
    let config: HostConfig = match toml::from_str(&new) {
        Ok(c) => c,
        Err(e) => {
            host_line!("{}: {e}", path.display());
            return Ok(None);
        }
    };
    let lb = match LoadBalancer::from_config(&config.lb, &config.api.region, &config.api.account_id)
    {
        Ok(lb) => lb,
        Err(e) => {
            host_line!("invalid [lb] configuration: {e}");
            return Ok(None);
        }
    };
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, &new).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(Some(lb))
}

/// A TOML basic string (quotes and backslashes escaped), so no argument can inject keys.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn show(config: &HostConfig) -> anyhow::Result<ExitCode> {
    let lb = match LoadBalancer::from_config(&config.lb, &config.api.region, &config.api.account_id)
    {
        Ok(lb) => lb,
        Err(e) => {
            host_line!("invalid [lb] configuration: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let groups = lb.target_groups();
    if groups.is_empty() {
        println!("target groups: none (add [[lb.target_groups]] to the config file)");
    } else {
        println!("target groups:");
    }
    for tg in &groups {
        let hc = &tg.health_check;
        let algorithm = match tg.algorithm {
            LbAlgorithm::RoundRobin => "round_robin",
            LbAlgorithm::LeastOutstandingRequests => "least_outstanding_requests",
        };
        println!("  {}", tg.name);
        println!("    arn: {}", tg.arn);
        println!("    protocol: {}  algorithm: {algorithm}", tg.protocol);
        println!(
            "    health check: GET {} every {}s, timeout {}s, healthy after {}, unhealthy after {}, success codes {}",
            hc.path,
            hc.interval.as_secs(),
            hc.timeout.as_secs(),
            hc.healthy_threshold,
            hc.unhealthy_threshold,
            hc.matcher
        );
        println!(
            "    deregistration delay: {}s",
            tg.deregistration_delay.as_secs()
        );
    }
    let listeners = lb.listeners();
    if listeners.is_empty() {
        println!("listeners: none");
    } else {
        println!("listeners:");
    }
    for l in listeners {
        println!("  http://{} -> {}", l.addr, l.target_group);
    }
    Ok(ExitCode::SUCCESS)
}
