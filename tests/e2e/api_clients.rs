//! `wasmgate serve` driven by the real AWS clients (issue 4): the AWS CLI v1 and boto3 from
//! PyPI, installed by the harness into `target/pyenv`. Each test starts its own server on an
//! ephemeral port with its own data directory.
//!
//! The boto3 scenarios live in `tests/py/*.py` (assertions in Python; a failing script
//! prints every failed check and exits 1). The AWS CLI walkthrough is driven from here.

use crate::common;

use common::*;
use serde_json::{Value, json};

/// One boto3 scenario against a fresh server.
fn scenario(script: &str, args: &[&str]) {
    let host = Host::new();
    let server = Server::start(&host);
    let run = server.python_ok(script, args);
    println!("{}", run.stdout);
}

#[test]
fn boto3_clusters() {
    scenario("clusters.py", &[]);
}

#[test]
fn boto3_task_definitions() {
    scenario("taskdefs.py", &[]);
}

#[test]
fn boto3_tasks() {
    scenario("tasks.py", &[]);
}

#[test]
fn boto3_logs() {
    scenario("logs.py", &[]);
}

#[test]
fn boto3_errors() {
    scenario("errors.py", &[]);
}

/// A RUNNING awsvpc task's ENI attachment carries its loopback address, and the host
/// reaches a wasi:http container there.
#[test]
fn boto3_task_networking() {
    scenario("networking.py", &[]);
}

/// Many clients at once: concurrent registrations, runs, stops and tags.
#[test]
fn boto3_concurrency() {
    scenario("concurrency.py", &[]);
}

/// Random and mutated bodies for every operation: no 5xx, no hang, no state change.
#[test]
fn fuzz_every_operation() {
    scenario("fuzz.py", &["30"]);
}

/// `[[api.keys]]`, `region` and `account_id` from the config file: only configured keys
/// sign, for the configured region, and ARNs carry that region and account.
#[test]
fn configured_keys_region_and_account() {
    let host = Host::with_config(
        r#"
[api]
region = "eu-west-1"
account_id = "123456789012"

[[api.keys]]
access_key_id = "AKIDWASMGATE"
secret_access_key = "s3cr3t/with+chars"
"#,
    );
    let server = Server::start(&host);
    let run = server.python_ok(
        "keys.py",
        &[
            "AKIDWASMGATE",
            "s3cr3t/with+chars",
            "eu-west-1",
            "123456789012",
        ],
    );
    println!("{}", run.stdout);
}

/// With only the default test/test key, the host refuses a non-loopback listen address.
#[test]
fn serve_refuses_non_loopback_with_only_the_default_key() {
    let host = Host::new();
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let mut cmd = host.cmd(&["serve", "--listen", addr]);
        cmd.env_remove("WASMGATE_LOG");
        let run = ClientRun::run(cmd, std::time::Duration::from_secs(30));
        assert!(
            run.code.is_some_and(|c| c != 0),
            "serve --listen {addr} should exit non-zero: {:?}\n{}",
            run.code,
            run.stderr
        );
        assert!(
            !run.stderr.contains("listening on"),
            "serve --listen {addr} must not listen:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(addr) && run.stderr.contains("127.0.0.1"),
            "the message names the address and the loopback alternative:\n{}",
            run.stderr
        );
    }
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no array {key:?} in {v:#}"))
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    arr(v, key)
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

/// The classic Fargate walkthrough with the AWS CLI, as a user types it. Independent
/// commands run side by side (each `aws` start costs ~0.4 s of CPU).
#[test]
fn aws_cli_walkthrough() {
    let host = Host::new();
    let server = Server::start(&host);
    let default_arn = "arn:aws:ecs:us-east-1:000000000000:cluster/default";
    let arn_of =
        |rev: u32| format!("arn:aws:ecs:us-east-1:000000000000:task-definition/walk:{rev}");

    // The default cluster exists on first start.
    std::thread::scope(|s| {
        s.spawn(|| {
            let out = server.aws_json(&["ecs", "list-clusters"]);
            assert!(
                strs(&out, "clusterArns").contains(&default_arn.to_owned()),
                "{out:#}"
            );
        });
        let out = server.aws_json(&["ecs", "create-cluster", "--cluster-name", "walk"]);
        assert_eq!(out["cluster"]["status"], "ACTIVE", "{out:#}");
        assert_eq!(
            out["cluster"]["clusterArn"],
            "arn:aws:ecs:us-east-1:000000000000:cluster/walk"
        );
    });

    // register-task-definition --cli-input-json file://…: revisions 1, 2, 3.
    let def = json!({
        "family": "walk",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "main",
            "image": guest("sleep"),
            "command": ["300"],
            "essential": true,
            "stopTimeout": 2,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/wg/walk",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "p",
                    "awslogs-create-group": "true"
                }
            }
        }]
    });
    let path = host.taskdef(&def);
    let input = format!("file://{}", path.display());
    for rev in 1..=3 {
        let out = server.aws_json(&[
            "ecs",
            "register-task-definition",
            "--cli-input-json",
            &input,
        ]);
        let td = &out["taskDefinition"];
        assert_eq!(td["revision"], rev, "{out:#}");
        assert_eq!(td["status"], "ACTIVE");
        assert_eq!(td["cpu"], "256", "cpu is a string");
        assert_eq!(td["memory"], "512", "memory is a string");
        assert_eq!(td["taskDefinitionArn"], arn_of(rev));
    }
    let want: Vec<String> = (1..=3).map(arn_of).collect();

    let mut short_arn = String::new();
    let mut long_arn = String::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            let out = server.aws_json(&[
                "ecs",
                "describe-task-definition",
                "--task-definition",
                "walk",
            ]);
            assert_eq!(out["taskDefinition"]["revision"], 3, "{out:#}");
        });
        // The CLI pages through everything on its own; it must never see a token twice.
        s.spawn(|| {
            let out = server.aws_json(&[
                "ecs",
                "list-task-definitions",
                "--family-prefix",
                "walk",
                "--page-size",
                "1",
            ]);
            assert_eq!(
                strs(&out, "taskDefinitionArns"),
                want,
                "--page-size 1: {out:#}"
            );
            assert!(
                out.get("nextToken").is_none() && out.get("NextToken").is_none(),
                "{out:#}"
            );
        });
        s.spawn(|| {
            let first = server.aws_json(&[
                "ecs",
                "list-task-definitions",
                "--family-prefix",
                "walk",
                "--max-items",
                "2",
                "--page-size",
                "1",
            ]);
            assert_eq!(
                strs(&first, "taskDefinitionArns"),
                want[..2].to_vec(),
                "{first:#}"
            );
            let token = first["NextToken"]
                .as_str()
                .unwrap_or_else(|| panic!("--max-items leaves a NextToken: {first:#}"));
            let rest = server.aws_json(&[
                "ecs",
                "list-task-definitions",
                "--family-prefix",
                "walk",
                "--starting-token",
                token,
                "--page-size",
                "2",
            ]);
            assert_eq!(
                strs(&rest, "taskDefinitionArns"),
                want[2..].to_vec(),
                "{rest:#}"
            );
        });
        // run-task the way the Fargate getting-started guide does: a long task first…
        s.spawn(|| {
            let out = server.aws_json(&[
                "ecs",
                "run-task",
                "--cluster",
                "walk",
                "--task-definition",
                "walk",
                "--launch-type",
                "FARGATE",
                "--network-configuration",
                "awsvpcConfiguration={subnets=[subnet-12345678]}",
                "--overrides",
                r#"{"containerOverrides":[{"name":"main","command":["60000"]}]}"#,
                "--started-by",
                "walker",
            ]);
            long_arn = out["tasks"][0]["taskArn"]
                .as_str()
                .expect("taskArn")
                .to_owned();
        });
    });
    std::thread::scope(|s| {
        // …then a short one.
        s.spawn(|| {
            let out = server.aws_json(&[
                "ecs",
                "run-task",
                "--cluster",
                "walk",
                "--task-definition",
                "walk:3",
                "--launch-type",
                "FARGATE",
                "--count",
                "1",
                "--network-configuration",
                "awsvpcConfiguration={subnets=[subnet-12345678],securityGroups=[sg-12345678],assignPublicIp=ENABLED}",
            ]);
            assert_eq!(arr(&out, "failures").len(), 0, "{out:#}");
            short_arn = out["tasks"][0]["taskArn"].as_str().expect("taskArn").to_owned();
        });
        s.spawn(|| {
            let listed = server.aws_json(&[
                "ecs",
                "list-tasks",
                "--cluster",
                "walk",
                "--started-by",
                "walker",
            ]);
            assert_eq!(
                strs(&listed, "taskArns"),
                vec![long_arn.clone()],
                "{listed:#}"
            );
            let out = server.aws_json(&[
                "ecs",
                "stop-task",
                "--cluster",
                "walk",
                "--task",
                &long_arn,
                "--reason",
                "walkthrough done",
            ]);
            assert_eq!(out["task"]["desiredStatus"], "STOPPED", "{out:#}");
        });
    });
    let short_id = short_arn.rsplit('/').next().unwrap().to_owned();
    assert!(
        short_arn.starts_with("arn:aws:ecs:us-east-1:000000000000:task/walk/")
            && short_id.len() == 32,
        "{short_arn}"
    );

    // The CLI waiter (first poll at once, then every 6 s), on both tasks.
    let wait = server.aws(&[
        "ecs",
        "wait",
        "tasks-stopped",
        "--cluster",
        "walk",
        "--tasks",
        &short_arn,
        &long_arn,
    ]);
    assert!(
        wait.success(),
        "aws ecs wait tasks-stopped: {}\n{}",
        wait.stderr,
        server.debug()
    );
    let out = server.aws_json(&[
        "ecs",
        "describe-tasks",
        "--cluster",
        "walk",
        "--tasks",
        &short_arn,
        &long_arn,
    ]);
    let by_arn = |arn: &str| -> Value {
        arr(&out, "tasks")
            .iter()
            .find(|t| t["taskArn"] == arn)
            .unwrap_or_else(|| panic!("{arn} not described: {out:#}"))
            .clone()
    };
    let short = by_arn(&short_arn);
    assert_eq!(short["lastStatus"], "STOPPED", "{short:#}");
    assert_eq!(short["containers"][0]["exitCode"], 0, "{short:#}");
    assert_eq!(short["stopCode"], "EssentialContainerExited", "{short:#}");
    let long = by_arn(&long_arn);
    assert_eq!(long["lastStatus"], "STOPPED", "{long:#}");
    assert_eq!(long["stoppedReason"], "walkthrough done", "{long:#}");
    assert_eq!(long["stopCode"], "UserInitiated", "{long:#}");

    let stream = format!("p/main/{short_id}");
    let cluster_arn = "arn:aws:ecs:us-east-1:000000000000:cluster/walk";
    std::thread::scope(|s| {
        // Logs through the CloudWatch Logs API.
        s.spawn(|| {
            let out = server.aws_json(&[
                "logs",
                "get-log-events",
                "--log-group-name",
                "/wg/walk",
                "--log-stream-name",
                &stream,
                "--start-from-head",
            ]);
            let lines: Vec<&str> = arr(&out, "events")
                .iter()
                .map(|e| e["message"].as_str().unwrap())
                .collect();
            assert_eq!(lines, vec!["slept 300"], "{out:#}");
        });
        s.spawn(|| {
            let out = server.aws_json(&[
                "logs",
                "filter-log-events",
                "--log-group-name",
                "/wg/walk",
                "--filter-pattern",
                "\"slept\"",
            ]);
            let events = arr(&out, "events");
            assert_eq!(events.len(), 1, "{out:#}");
            assert_eq!(events[0]["logStreamName"], stream.as_str());
        });
        s.spawn(|| {
            let out = server.aws_json(&[
                "logs",
                "describe-log-streams",
                "--log-group-name",
                "/wg/walk",
            ]);
            let names: Vec<&str> = arr(&out, "logStreams")
                .iter()
                .map(|g| g["logStreamName"].as_str().unwrap())
                .collect();
            assert!(names.contains(&stream.as_str()), "{out:#}");
        });
        s.spawn(|| {
            let stopped = server.aws_json(&[
                "ecs",
                "list-tasks",
                "--cluster",
                "walk",
                "--desired-status",
                "STOPPED",
                "--page-size",
                "1",
            ]);
            let mut got = strs(&stopped, "taskArns");
            got.sort();
            let mut want_tasks = vec![short_arn.clone(), long_arn.clone()];
            want_tasks.sort();
            assert_eq!(got, want_tasks, "{stopped:#}");
        });
        // Tags on a cluster and a task definition.
        s.spawn(|| {
            server.aws_json(&[
                "ecs",
                "tag-resource",
                "--resource-arn",
                cluster_arn,
                "--tags",
                "key=team,value=edge",
                "key=env,value=dev",
            ]);
            server.aws_json(&[
                "ecs",
                "untag-resource",
                "--resource-arn",
                cluster_arn,
                "--tag-keys",
                "env",
            ]);
            let out = server.aws_json(&[
                "ecs",
                "list-tags-for-resource",
                "--resource-arn",
                cluster_arn,
            ]);
            assert_eq!(
                out["tags"],
                json!([{"key": "team", "value": "edge"}]),
                "{out:#}"
            );
        });
        s.spawn(|| {
            let td = arn_of(3);
            server.aws_json(&[
                "ecs",
                "tag-resource",
                "--resource-arn",
                &td,
                "--tags",
                "key=v,value=3",
            ]);
            let out = server.aws_json(&["ecs", "list-tags-for-resource", "--resource-arn", &td]);
            assert_eq!(out["tags"], json!([{"key": "v", "value": "3"}]), "{out:#}");
        });
        // Deregistration, describe of missing things, errors as the CLI prints them.
        s.spawn(|| {
            let out = server.aws_json(&[
                "ecs",
                "deregister-task-definition",
                "--task-definition",
                "walk:1",
            ]);
            assert_eq!(out["taskDefinition"]["status"], "INACTIVE", "{out:#}");
            let out = server.aws_json(&["ecs", "describe-clusters", "--clusters", "walk", "nope"]);
            assert_eq!(arr(&out, "clusters").len(), 1, "{out:#}");
            assert_eq!(out["failures"][0]["reason"], "MISSING", "{out:#}");
        });
        s.spawn(|| {
            let out = server.aws_json(&[
                "ecs",
                "describe-tasks",
                "--cluster",
                "walk",
                "--tasks",
                &"0".repeat(32),
            ]);
            assert_eq!(out["failures"][0]["reason"], "MISSING", "{out:#}");
            let bad = server.aws(&[
                "ecs",
                "describe-task-definition",
                "--task-definition",
                "nope",
            ]);
            assert_eq!(bad.code, Some(255), "{}", bad.stderr);
            assert!(bad.stderr.contains("(ClientException)"), "{}", bad.stderr);
            let bad = server.aws(&[
                "ecs",
                "run-task",
                "--cluster",
                "nope",
                "--task-definition",
                "walk",
            ]);
            assert!(
                bad.stderr.contains("(ClusterNotFoundException)"),
                "{}",
                bad.stderr
            );
        });
    });
    let out = server.aws_json(&["ecs", "delete-cluster", "--cluster", "walk"]);
    assert_eq!(out["cluster"]["status"], "INACTIVE", "{out:#}");
}

/// Issue 9 item 16, with boto3 (`tests/py/contract.py`): a deleted cluster answers
/// ClusterNotFoundException; familyPrefix with maxResults pages through every match;
/// services carry tags and pass them (or their definition's, and ECS's managed tags) to
/// their tasks. Then the AWS CLI, which pages on its own, on the same server.
#[test]
fn boto3_contract_gaps() {
    let host = Host::new();
    let server = Server::start(&host);
    let run = server.python_ok("contract.py", &[]);
    println!("{}", run.stdout);

    let out = server.aws_json(&[
        "ecs",
        "list-task-definition-families",
        "--family-prefix",
        "pfx-",
        "--page-size",
        "1",
    ]);
    assert_eq!(
        out["families"],
        json!(["pfx-a", "pfx-b", "pfx-c"]),
        "{out:#}"
    );
    let out = server.aws_json(&[
        "ecs",
        "list-task-definitions",
        "--family-prefix",
        "pfx-b",
        "--page-size",
        "1",
    ]);
    assert_eq!(
        out["taskDefinitionArns"].as_array().map(Vec::len),
        Some(3),
        "{out:#}"
    );

    server.aws_json(&["ecs", "create-cluster", "--cluster-name", "cli-gone"]);
    server.aws_json(&["ecs", "delete-cluster", "--cluster", "cli-gone"]);
    for op in ["list-tasks", "list-services"] {
        let r = server.aws(&["ecs", op, "--cluster", "cli-gone"]);
        assert!(!r.success(), "{op} on a deleted cluster: {}", r.stdout);
        assert!(
            r.stderr.contains("ClusterNotFoundException"),
            "{op}: {}",
            r.stderr
        );
    }
    let out = server.aws_json(&["ecs", "describe-clusters", "--clusters", "cli-gone"]);
    assert_eq!(out["clusters"][0]["status"], "INACTIVE", "{out:#}");
}
