//! A full host (issue 15, item 5): RunTask answers ECS's `RESOURCE:*` failures instead of
//! accepting tasks that never run; services wait for room; DescribeClusters shows what is
//! left. The boto3 scenario is `tests/py/capacity.py`.

use crate::common;

use common::*;

#[test]
fn boto3_a_host_for_50_tasks_refuses_the_51st() {
    let host = Host::with_config("[capacity]\ncpu_units = 12800\n");
    let server = Server::start(&host);
    let run = server.python_ok("capacity.py", &[]);
    println!("{}", run.stdout);
}

#[test]
fn aws_cli_max_tasks_is_a_memory_failure() {
    let host = Host::with_config("[capacity]\nmax_tasks = 2\n");
    let server = Server::start(&host);
    let def = serde_json::json!({
        "family": "few",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "main",
            "image": guest("sleep"),
            "command": ["600000"],
            "stopTimeout": 2
        }]
    });
    let path = host.taskdef(&def);
    server.aws_json(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", path.display()),
    ]);
    let net = "awsvpcConfiguration={subnets=[subnet-12345678]}";
    let run = |count: &str| {
        server.aws_json(&[
            "ecs",
            "run-task",
            "--task-definition",
            "few",
            "--count",
            count,
            "--launch-type",
            "FARGATE",
            "--network-configuration",
            net,
        ])
    };
    let two = run("2");
    assert_eq!(two["tasks"].as_array().map(Vec::len), Some(2), "{two:#}");
    assert_eq!(two["failures"], serde_json::json!([]), "{two:#}");
    let third = run("1");
    assert_eq!(third["tasks"], serde_json::json!([]), "{third:#}");
    let f = &third["failures"][0];
    assert_eq!(f["reason"], "RESOURCE:MEMORY", "{third:#}");
    assert!(
        f["detail"]
            .as_str()
            .is_some_and(|d| d.contains("max_tasks")),
        "{third:#}"
    );
    let clusters = server.aws_json(&["ecs", "describe-clusters", "--include", "STATISTICS"]);
    let stats = &clusters["clusters"][0]["statistics"];
    let stat = |name: &str| {
        stats
            .as_array()
            .and_then(|s| s.iter().find(|kv| kv["name"] == name))
            .map(|kv| kv["value"].clone())
    };
    assert_eq!(stat("hostTasksCount"), Some("2".into()), "{clusters:#}");
    assert_eq!(
        stat("hostRemainingTasksCount"),
        Some("0".into()),
        "{clusters:#}"
    );
}
