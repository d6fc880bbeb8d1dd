//! What the host publishes by itself into CloudWatch (issue 14 item 3), read back with
//! boto3 (rpc-v2-cbor) and the AWS CLI: a loaded service's `AWS/ECS` CPUUtilization at
//! its share within 20 s, MemoryUtilization as the tasks' linear memory, and
//! `AWS/ApplicationELB` RequestCount equal to the requests sent through a listener
//! (`tests/py/cloudwatch_host.py`).

use crate::common;

use common::{Host, Server};

/// A target group with a quick health check and its listener on a free port.
const CONFIG: &str = "[[lb.target_groups]]\nname = \"burn\"\nderegistration_delay_seconds = 1\n\
    health_check = { path = \"/\", interval_seconds = 1, timeout_seconds = 1, healthy_threshold = 2 }\n\
    [[lb.listeners]]\nport = 0\ntarget_group = \"burn\"\n";

/// The listener's address (from serve's banner) and the target group's ARN (`lb show`).
pub fn listener_and_group(host: &Host, server: &Server, group: &str) -> (String, String) {
    let text = server.debug();
    let listener = text
        .lines()
        .find_map(|l| l.split("lb listener http://").nth(1))
        .and_then(|r| r.split(' ').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no lb listener line\n{text}"));
    let show = host.output(&["lb", "show"]).1;
    let tg = show
        .split_whitespace()
        .find(|w| {
            w.starts_with("arn:aws:elasticloadbalancing:") && w.contains(&format!("/{group}/"))
        })
        .unwrap_or_else(|| panic!("no target group ARN in\n{show}"))
        .to_owned();
    (listener, tg)
}

#[test]
fn a_loaded_service_publishes_ecs_and_load_balancer_metrics() {
    let host = Host::with_config(CONFIG);
    let server = Server::start(&host);
    let (listener, tg) = listener_and_group(&host, &server, "burn");
    let run = server.python_ok("cloudwatch_host.py", &[&listener, &tg]);
    println!("{}", run.stdout);

    // The AWS CLI sees the same series: the service's CPUUtilization is listed.
    let listed = server.aws_json(&[
        "cloudwatch",
        "list-metrics",
        "--namespace",
        "AWS/ECS",
        "--metric-name",
        "CPUUtilization",
        "--dimensions",
        "Name=ClusterName,Value=default",
        "Name=ServiceName,Value=burner",
    ]);
    let metrics = listed["Metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 1, "{listed}");
}

/// The meter beats and writes every second (the usage record check below waits on it).
const USAGE_EVERY_SECOND: &str = "[usage]\nheartbeat_seconds = 1\nrecord_seconds = 1\n";

/// A guest that writes 3 MiB: `ECS/ContainerInsights` StorageWriteBytes at task, family and
/// cluster level (boto3 GetMetricData, `tests/py/cloudwatch_storage.py`), Prometheus'
/// `wasmgate_task_storage_write_bytes_total` while it runs, and its usage record once
/// stopped, all show at least those bytes.
#[test]
fn a_task_writing_a_known_number_of_bytes_shows_them_in_storage_write_bytes() {
    const WRITTEN: u64 = 3 << 20;
    let host = Host::with_config(USAGE_EVERY_SECOND);
    let server = Server::start_with(&host, &["--metrics-listen", "127.0.0.1:0"]);
    let banner = server.debug();
    let metrics: std::net::SocketAddr = banner
        .lines()
        .find_map(|l| l.split("metrics on http://").nth(1))
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no metrics banner\n{banner}"));
    let script = server.python_spawn("cloudwatch_storage.py", &[]);
    let line = script.expect_stdout("TASK=", std::time::Duration::from_secs(120));
    let task = line.trim().trim_start_matches("TASK=").to_owned();

    // Prometheus' counter, read from /metrics while the task runs.
    let wanted = "wasmgate_task_storage_write_bytes_total{";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let counted = loop {
        let body = common::http::http_get(metrics, "/metrics")
            .map(|r| r.body)
            .unwrap_or_default();
        let value = body
            .lines()
            .filter(|l| l.starts_with(wanted) && l.contains(&format!("task=\"{task}\"")))
            .find_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()));
        if value.is_some_and(|v| v >= WRITTEN as f64) {
            break value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {wanted}task=\"{task}\"}} >= {WRITTEN} in /metrics:\n{body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    println!("prometheus: {counted:?}");

    let run = script.wait(std::time::Duration::from_secs(240));
    assert_eq!(
        run.code,
        Some(0),
        "cloudwatch_storage.py failed\n--- stdout\n{}\n--- stderr\n{}\n{}",
        run.stdout,
        run.stderr,
        server.debug()
    );

    // The stopped task's usage record carries its bytes (`usage --format json`, per task).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = host
            .cmd(&["usage", "--group-by", "task", "--format", "json"])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let written = report["groups"].as_array().and_then(|g| {
            g.iter()
                .find(|g| g["group"].as_str().is_some_and(|k| k.contains(&task)))
                .and_then(|g| g["storageWriteBytes"].as_f64())
        });
        if written.is_some_and(|w| w >= WRITTEN as f64) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "usage record of {task} never showed {WRITTEN} bytes written: {report}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
