//! Load balancer overhead: requests/s and p50/p99 latency through a listener of the built-in
//! load balancer vs straight to the target, the same target every way: a real `http-hello`
//! Wasm task (task cpu 4096, so no CPU-share throttling) started with the library `Runtime`.
//! Two load balancers: one hands requests to the task in-process (the default, `[lb]
//! in_process = true`), the other proxies them over loopback TCP (`in_process = false`).
//!
//! The load generator is in this file: `CONCURRENCY` workers, each with one keep-alive
//! HTTP/1.1 connection, sending GETs back to back for `DURATION`; direct and LB runs are
//! interleaved (`ROUNDS` each). If `wrk` is on the PATH it is also run against each.
//!
//! `cargo bench --bench lb` (prints Markdown for BENCHMARKS.md).

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wasmgate::config::{HostConfig, LbConfig};
use wasmgate::lb::{LoadBalancer, TargetHealth};
use wasmgate::runtime::{Runtime, StopCode, TaskSpec, TaskStatus};
use wasmgate::taskdef;

const GUESTS: &str = env!("WASMGATE_GUESTS_DIR");
const CONCURRENCY: usize = 16;
const DURATION: Duration = Duration::from_secs(5);
const ROUNDS: usize = 3;
const PORT: u16 = 8080;

fn main() -> Result<()> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(bench())
}

async fn bench() -> Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("wasmgate-lb-bench-")
        .tempdir()?;
    let config = HostConfig {
        data_dir: Some(scratch.path().to_owned()),
        ..Default::default()
    };
    let rt = Runtime::new(config)?;
    let def = json!({
        "family": "lb-bench", "cpu": "4096", "memory": "8192",
        "containerDefinitions": [{
            "name": "hello", "image": format!("{GUESTS}/http-hello.wasm"),
            "portMappings": [{"containerPort": PORT}],
        }],
    });
    let parsed = taskdef::parse(&def.to_string(), &Default::default())
        .map_err(|e| anyhow::anyhow!("bench task definition: {e}"))?;
    let mut handle = rt.start_task(TaskSpec {
        definition: parsed.definition,
        base_dir: PathBuf::from(GUESTS),
        overrides: vec![],
        stop_timeout: Some(Duration::ZERO),
        console: None,
        identity: None,
    })?;
    let mut watch = handle.watch();
    let ip = loop {
        {
            let s = watch.borrow_and_update();
            if s.last_status == TaskStatus::Running
                && let Some(ip) = &s.private_ipv4_address
            {
                break ip.parse::<std::net::IpAddr>()?;
            }
            if s.last_status == TaskStatus::Stopped {
                bail!("the task stopped: {:?}", s.stopped_reason);
            }
        }
        watch.changed().await.context("task watch")?;
    };
    let target = SocketAddr::new(ip, PORT);
    // The listener may take a moment after RUNNING.
    wait_serving(target).await?;

    let in_process = start_lb(target, true).await?;
    let over_tcp = start_lb(target, false).await?;
    let paths = [
        ("direct to task", target),
        ("listener, TCP to task", over_tcp.1),
        ("listener, in-process", in_process.1),
    ];

    // Warm-up: compile caches, connection pools.
    for (_, addr) in paths {
        load(addr, Duration::from_secs(1)).await?;
    }

    let mut runs: Vec<Vec<Run>> = paths.iter().map(|_| Vec::new()).collect();
    for _ in 0..ROUNDS {
        for (i, (_, addr)) in paths.iter().enumerate() {
            runs[i].push(load(*addr, DURATION).await?);
        }
    }
    println!(
        "\n### Rust load generator: {CONCURRENCY} keep-alive connections, {} s per run, {ROUNDS} interleaved rounds\n",
        DURATION.as_secs()
    );
    println!("| path | round | requests | req/s | p50 | p99 | errors |");
    println!("|---|---|---|---|---|---|---|");
    for ((name, _), runs) in paths.iter().zip(&runs) {
        for (i, r) in runs.iter().enumerate() {
            println!(
                "| {name} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
                i + 1,
                r.requests,
                r.rps(),
                ms(r.pct(0.50)),
                ms(r.pct(0.99)),
                r.errors
            );
        }
    }
    let mean =
        |rs: &[Run], f: &dyn Fn(&Run) -> f64| rs.iter().map(f).sum::<f64>() / rs.len() as f64;
    println!("\nOverhead (means over rounds, vs direct):\n");
    println!("| path | throughput | p50 | p99 |");
    println!("|---|---|---|---|");
    for ((name, _), via) in paths.iter().zip(&runs).skip(1) {
        let direct = &runs[0];
        let rps = mean(via, &|r| r.rps()) / mean(direct, &|r| r.rps());
        let p50 = mean(via, &|r| ms(r.pct(0.5))) / mean(direct, &|r| ms(r.pct(0.5)));
        let p99 = mean(via, &|r| ms(r.pct(0.99))) / mean(direct, &|r| ms(r.pct(0.99)));
        println!("| {name} | ×{rps:.2} | ×{p50:.2} | ×{p99:.2} |");
    }
    println!();

    if which_wrk() {
        println!(
            "### wrk -t1 -c{CONCURRENCY} -d{}s --latency\n",
            DURATION.as_secs()
        );
        println!("| path | req/s | p50 | p99 |");
        println!("|---|---|---|---|");
        for (name, addr) in paths {
            let out = wrk(addr).await?;
            println!("| {name} | {} | {} | {} |", out.0, out.1, out.2);
        }
    } else {
        println!("(wrk not found on PATH: skipped)");
    }

    in_process.0.shutdown().await;
    over_tcp.0.shutdown().await;
    handle.stop(StopCode::UserInitiated, "bench done");
    handle.wait().await;
    Ok(())
}

/// A load balancer with one listener and `target` healthy in its group.
async fn start_lb(target: SocketAddr, in_process: bool) -> Result<(LoadBalancer, SocketAddr)> {
    let cfg: LbConfig = toml::from_str(&format!(
        "in_process = {in_process}\n[[target_groups]]\nname = \"bench\"\n\
         health_check = {{ interval_seconds = 1, timeout_seconds = 1, healthy_threshold = 1 }}\n\
         [[listeners]]\nport = 0\ntarget_group = \"bench\"\n",
    ))?;
    let lb = LoadBalancer::from_config(&cfg, "us-east-1", "000000000000")?;
    lb.start().await?;
    let listener = lb.listener_addrs()[0];
    lb.register_target("bench", target)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lb
        .target_health("bench")
        .iter()
        .any(|(_, h)| *h == TargetHealth::Healthy)
    {
        if Instant::now() > deadline {
            bail!("target never healthy: {:?}", lb.target_health("bench"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((lb, listener))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Run {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1);
        self.latencies[i]
    }
}

async fn wait_serving(addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            bail!("{addr} never accepted a connection");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// `CONCURRENCY` workers, one keep-alive HTTP/1.1 connection each, GET / back to back.
async fn load(addr: SocketAddr, duration: Duration) -> Result<Run> {
    let start = Instant::now();
    let end = start + duration;
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            'conn: while Instant::now() < end {
                let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
                    errors += 1;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let Ok((mut send, conn)) =
                    hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                        .await
                else {
                    errors += 1;
                    continue;
                };
                tokio::spawn(conn);
                while Instant::now() < end {
                    let req = hyper::Request::get("/")
                        .header(hyper::header::HOST, addr.to_string())
                        .body(Empty::new());
                    let Ok(req) = req else { break 'conn };
                    let t0 = Instant::now();
                    let ok = match send.send_request(req).await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            ok && resp.into_body().collect().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    if ok {
                        lat.push(t0.elapsed());
                    } else {
                        errors += 1;
                        continue 'conn;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Ok(Run {
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
    })
}

fn which_wrk() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// Runs wrk against `addr`; returns (req/s, p50, p99) as wrk prints them.
async fn wrk(addr: SocketAddr) -> Result<(String, String, String)> {
    let out = tokio::process::Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{CONCURRENCY}"),
            &format!("-d{}s", DURATION.as_secs()),
            "--latency",
            &format!("http://{addr}/"),
        ])
        .output()
        .await
        .context("run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_owned()
    };
    Ok((field("Requests/sec:"), field("50%"), field("99%")))
}
