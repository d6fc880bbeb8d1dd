//! `wasmgate lb show`: the load balancer of the `--config` file, checked.

use clap::{Args, Subcommand};
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
}

pub fn lb(config: HostConfig, args: LbArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        LbCommand::Show => show(&config),
    }
}

fn show(config: &HostConfig) -> anyhow::Result<ExitCode> {
    let lb = match LoadBalancer::from_config(&config.lb, &config.api.region, &config.api.account_id)
    {
        Ok(lb) => lb,
        Err(e) => {
            eprintln!("wasmgate: invalid [lb] configuration: {e}");
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
