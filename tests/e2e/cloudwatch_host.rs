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
