//! CloudWatch end to end: boto3 (smithy-rpc-v2-cbor, its default) and the AWS CLI against
//! `wasmgate serve` — metrics round trips with percentiles and math, statistics, listing,
//! an alarm going OK → ALARM → OK, bad input with CloudWatch's codes, and a restart that
//! keeps the data (`tests/py/cloudwatch.py`).

use crate::common;

use common::{Host, Server};
use std::time::Duration;

/// Alarms evaluated every second, so the alarm test takes seconds.
const CONFIG: &str = "[metrics]\nalarm_evaluation_seconds = 1\n";

#[test]
fn boto3_metrics_alarms_and_a_restart_that_keeps_the_data() {
    let host = Host::with_config(CONFIG);
    let mut server = Server::start(&host);
    server.python_ok("cloudwatch.py", &[]);

    // The AWS CLI: a value in, the same value out.
    server.aws_json(&[
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "WG/Cli",
        "--metric-name",
        "Hits",
        "--value",
        "7",
        "--unit",
        "Count",
        "--dimensions",
        "Service=web",
    ]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = ((now - 600).to_string(), (now + 120).to_string());
    let stats = server.aws_json(&[
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "WG/Cli",
        "--metric-name",
        "Hits",
        "--dimensions",
        "Name=Service,Value=web",
        "--start-time",
        &start,
        "--end-time",
        &end,
        "--period",
        "60",
        "--statistics",
        "Sum",
    ]);
    let points = stats["Datapoints"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{stats}");
    assert_eq!(points[0]["Sum"], 7.0, "{stats}");
    assert_eq!(points[0]["Unit"], "Count", "{stats}");
    let listed = server.aws_json(&["cloudwatch", "list-metrics", "--namespace", "WG/Cli"]);
    assert_eq!(listed["Metrics"][0]["MetricName"], "Hits", "{listed}");
    // A refused request through the CLI: the code and the member on stderr.
    let bad = server.aws(&[
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "AWS/ECS",
        "--metric-name",
        "CPUUtilization",
        "--value",
        "1",
    ]);
    assert!(!bad.success());
    assert!(
        bad.stderr.contains("InvalidParameterValue") && bad.stderr.contains("Namespace"),
        "{}",
        bad.stderr
    );

    let run = server.terminate(Duration::from_secs(30));
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let server = Server::start(&host);
    server.python_ok("cloudwatch.py", &["restart"]);
}
