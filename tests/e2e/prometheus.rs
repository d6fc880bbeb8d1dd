//! `serve --metrics-listen` scraped by a real Prometheus (Debian's `prometheus`, started
//! here on loopback with a generated config scraping every second), then its HTTP API
//! (`/api/v1/query`) asked for a running task's series: its CPU seconds grow, its
//! container's memory limit is the definition's, and the host's own series are there.

use crate::common;

use common::http::http_get;
use common::live::Live;
use common::{Host, Server, guest};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

const PROMETHEUS_BIN: &str = "/usr/bin/prometheus";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Percent-encodes a PromQL query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The result vector of an instant query (empty until Prometheus has the series).
fn query(prom: SocketAddr, q: &str) -> Vec<Value> {
    match http_get(prom, &format!("/api/v1/query?query={}", encode(q))) {
        Ok(r) if r.status == 200 => serde_json::from_str::<Value>(&r.body)
            .ok()
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn poll(prom: SocketAddr, q: &str, ok: impl Fn(&[Value]) -> bool, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let r = query(prom, q);
        if ok(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never answered {q} as wanted: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn prometheus_scrapes_a_running_tasks_series() {
    assert!(
        std::path::Path::new(PROMETHEUS_BIN).exists(),
        "{PROMETHEUS_BIN} is missing: install Debian's prometheus package \
         (apt-get install -y --no-install-recommends prometheus), as .ci/run does"
    );
    let host = Host::new();
    let server = Server::start_with(&host, &["--metrics-listen", "127.0.0.1:0"]);
    let banner = server.debug();
    let metrics: SocketAddr = banner
        .lines()
        .find_map(|l| l.split("metrics on http://").nth(1))
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no metrics banner\n{banner}"));

    // A spinning task of 256 units, limited to 64 MiB.
    let def = json!({
        "family": "spinner",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "spin", "image": guest("spin"), "essential": true, "memory": 64
        }],
    });
    server.aws_json(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &def.to_string(),
    ]);
    let run = server.aws_json(&[
        "ecs",
        "run-task",
        "--task-definition",
        "spinner",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        "awsvpcConfiguration={subnets=[subnet-12345678],assignPublicIp=DISABLED}",
    ]);
    let arn = run["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    let task = arn.rsplit('/').next().unwrap().to_owned();

    // Our own exposition first: the task is there.
    let ours = http_get(metrics, "/metrics").unwrap();
    assert_eq!(ours.status, 200, "{ours:?}");
    assert!(ours.body.contains("wasmgate_tasks"), "{}", ours.body);

    let dir = tempfile::tempdir().unwrap();
    let prom: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: wasmgate\n    scrape_interval: 1s\n    \
             static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(PROMETHEUS_BIN);
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prom}"));
    let prometheus = Live::spawn(cmd);

    let cpu = format!("wasmgate_container_cpu_seconds_total{{task=\"{task}\"}}");
    let first = poll(prom, &cpu, |r| r.len() == 1, Duration::from_secs(60));
    let labels = &first[0]["metric"];
    assert_eq!(labels["cluster"], "default", "{first:?}");
    assert_eq!(labels["family"], "spinner", "{first:?}");
    assert_eq!(labels["container"], "spin", "{first:?}");
    assert_eq!(labels["job"], "wasmgate", "{first:?}");
    let before = value(&first[0]);
    // The spinner burns its share: its CPU seconds keep growing between scrapes.
    poll(
        prom,
        &cpu,
        |r| r.len() == 1 && value(&r[0]) > before + 0.05,
        Duration::from_secs(30),
    );
    let limit = poll(
        prom,
        &format!("wasmgate_container_memory_limit_bytes{{task=\"{task}\"}}"),
        |r| r.len() == 1,
        Duration::from_secs(10),
    );
    assert_eq!(value(&limit[0]), 64.0 * 1048576.0, "{limit:?}");
    poll(
        prom,
        "wasmgate_tasks{state=\"RUNNING\"}",
        |r| r.len() == 1 && value(&r[0]) >= 1.0,
        Duration::from_secs(10),
    );
    poll(
        prom,
        "wasmgate_api_requests_total{service=\"ecs\",operation=\"RunTask\",status=\"200\"}",
        |r| r.len() == 1 && value(&r[0]) == 1.0,
        Duration::from_secs(10),
    );
    prometheus.kill();
}
