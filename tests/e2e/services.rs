//! ECS services through `wasmgate serve` (issue 5): the boto3 scenario in
//! `tests/py/services.py` (lifecycle with the services_stable / services_inactive waiters,
//! a task stopped from outside replaced, scaling, a crashing revision rolled back by the
//! circuit breaker), and the AWS CLI once, across a restart of the host; behind the
//! built-in load balancer, a rolling deployment under continuous load fails no request.

use crate::common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[test]
fn boto3_services() {
    let host = Host::new();
    let server = Server::start(&host);
    let run = server.python_ok("services.py", &[]);
    println!("{}", run.stdout);
}

fn describe(server: &Server, name: &str) -> Value {
    let out = server.aws_json(&["ecs", "describe-services", "--services", name]);
    out["services"][0].clone()
}

/// Polls describe-services until `ok` holds.
fn wait_for(server: &Server, name: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let svc = describe(server, name);
        if ok(&svc) {
            return svc;
        }
        assert!(Instant::now() < deadline, "service never {what}: {svc:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn stable(svc: &Value) -> bool {
    svc["status"] == "ACTIVE"
        && svc["deployments"].as_array().is_some_and(|d| d.len() == 1)
        && svc["runningCount"] == svc["desiredCount"]
}

#[test]
fn aws_cli_services_survive_a_restart() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let def = json!({
        "family": "cli-web",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "main",
            "image": guest("sleep"),
            "command": ["600000"],
            "essential": true,
            "stopTimeout": 2
        }]
    });
    let path = host.taskdef(&def);
    let input = format!("file://{}", path.display());
    server.aws_json(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &input,
    ]);
    let out = server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "cli-web",
        "--task-definition",
        "cli-web",
        "--desired-count",
        "1",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        "awsvpcConfiguration={subnets=[subnet-12345678],assignPublicIp=DISABLED}",
    ]);
    assert_eq!(
        out["service"]["serviceArn"], "arn:aws:ecs:us-east-1:000000000000:service/default/cli-web",
        "{out:#}"
    );
    assert_eq!(out["service"]["status"], "ACTIVE");
    let svc = wait_for(&server, "cli-web", "stable", stable);
    let first = server.aws_json(&["ecs", "list-tasks", "--service-name", "cli-web"]);
    assert_eq!(
        first["taskArns"].as_array().map(Vec::len),
        Some(1),
        "{first:#}"
    );
    assert_eq!(svc["runningCount"], 1);

    // A restart keeps the service, and the scheduler starts its task again.
    server.kill();
    let server = Server::start(&host);
    let svc = describe(&server, "cli-web");
    assert_eq!(svc["status"], "ACTIVE", "{svc:#}");
    assert_eq!(svc["desiredCount"], 1);
    wait_for(&server, "cli-web", "running again", |s| {
        stable(s) && s["pendingCount"] == 0
    });
    let again = server.aws_json(&["ecs", "list-tasks", "--service-name", "cli-web"]);
    assert_eq!(
        again["taskArns"].as_array().map(Vec::len),
        Some(1),
        "{again:#}"
    );
    assert_ne!(
        again["taskArns"], first["taskArns"],
        "a new task after the restart"
    );

    let out = server.aws_json(&["ecs", "delete-service", "--service", "cli-web", "--force"]);
    assert_eq!(out["service"]["status"], "DRAINING", "{out:#}");
    wait_for(&server, "cli-web", "INACTIVE", |s| {
        s["status"] == "INACTIVE"
    });
}

/// A plain HTTP/1.1 GET; returns the status and body.
fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// A service's `loadBalancers` registers its RUNNING tasks with the built-in load
/// balancer's target group; an unknown target group is refused, naming the member.
#[test]
fn service_tasks_serve_behind_the_load_balancer() {
    let host = Host::with_config(
        "[[lb.target_groups]]\nname = \"web\"\nderegistration_delay_seconds = 1\n\
         health_check = { path = \"/\", interval_seconds = 1, timeout_seconds = 1, healthy_threshold = 1 }\n\
         [[lb.listeners]]\nport = 0\ntarget_group = \"web\"\n",
    );
    let server = Server::start(&host);
    let text = server.debug();
    let listener = text
        .lines()
        .find_map(|l| l.split("lb listener http://").nth(1))
        .and_then(|r| r.split(' ').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no lb listener line\n{text}"));
    let def = json!({
        "family": "lb-web",
        "cpu": "256",
        "memory": "512",
        "networkMode": "awsvpc",
        "containerDefinitions": [{
            "name": "web",
            "image": guest("http-hello"),
            "command": ["web"],
            "portMappings": [{ "containerPort": 8080 }],
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
    let tg = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/nope/0";
    let bad = server.aws(&[
        "ecs",
        "create-service",
        "--service-name",
        "bad",
        "--task-definition",
        "lb-web",
        "--desired-count",
        "1",
        "--load-balancers",
        &format!("targetGroupArn={tg},containerName=web,containerPort=8080"),
    ]);
    assert!(!bad.success(), "{}", bad.stdout);
    assert!(
        bad.stderr.contains("InvalidParameterException")
            && bad.stderr.contains("loadBalancers[0].targetGroupArn"),
        "{}",
        bad.stderr
    );
    let show = host.output(&["lb", "show"]).1;
    let tg = show
        .split_whitespace()
        .find(|w| w.starts_with("arn:aws:elasticloadbalancing:") && w.contains("/web/"))
        .unwrap_or_else(|| panic!("no target group ARN in\n{show}"))
        .to_owned();
    server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "lb-web",
        "--task-definition",
        "lb-web",
        "--desired-count",
        "2",
        "--load-balancers",
        &format!("targetGroupArn={tg},containerName=web,containerPort=8080"),
    ]);
    wait_for(&server, "lb-web", "stable", stable);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, _)) = http_get(&listener, "/") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no 200 through the listener: {:?}",
            http_get(&listener, "/")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server.aws_json(&["ecs", "delete-service", "--service", "lb-web", "--force"]);
    wait_for(&server, "lb-web", "INACTIVE", |s| s["status"] == "INACTIVE");
    // Deregistered: nothing serves any more.
    let r = http_get(&listener, "/");
    assert!(matches!(r, Some((503, _))), "{r:?}");
}

/// `examples/scorekeep`: its task definition and load balancer config, run as a service of
/// 2; the frontend answers through the listener with what its task's api said.
#[test]
fn the_scorekeep_example_serves_through_the_listener() {
    let toml = std::fs::read_to_string(repo().join("examples/scorekeep/wasmgate.toml"))
        .expect("wasmgate.toml")
        .replace("port = 8000", "port = 0");
    let host = Host::with_config(&toml);
    let server = Server::start(&host);
    let text = server.debug();
    let listener = text
        .lines()
        .find_map(|l| l.split("lb listener http://").nth(1))
        .and_then(|r| r.split(' ').next())
        .map(|a| a.replace("0.0.0.0", "127.0.0.1"))
        .unwrap_or_else(|| panic!("no lb listener line\n{text}"));
    let def: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/scorekeep/taskdef.json"))
            .expect("taskdef.json"),
    )
    .expect("taskdef JSON");
    let mut def = def;
    for c in def["containerDefinitions"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        let image = c["image"].as_str().unwrap_or_default().to_owned();
        let name = image
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".wasm");
        c["image"] = json!(guest(name));
    }
    let path = host.taskdef(&def);
    server.aws_json(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", path.display()),
    ]);
    let show = host.output(&["lb", "show"]).1;
    let tg = show
        .split_whitespace()
        .find(|w| w.starts_with("arn:aws:elasticloadbalancing:") && w.contains("/scorekeep/"))
        .unwrap_or_else(|| panic!("no target group ARN in\n{show}"))
        .to_owned();
    server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "scorekeep",
        "--task-definition",
        "scorekeep",
        "--desired-count",
        "2",
        "--load-balancers",
        &format!("targetGroupArn={tg},containerName=frontend,containerPort=8080"),
    ]);
    wait_for(&server, "scorekeep", "stable", stable);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, body)) = http_get(&listener, "/hello")
            && body.contains("hello from the scorekeep api")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no answer through the listener: {:?}",
            http_get(&listener, "/hello")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let tasks = server.aws_json(&["ecs", "list-tasks", "--service-name", "scorekeep"]);
    let arns: Vec<&str> = tasks["taskArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(arns.len(), 2, "{tasks:#}");
    let described = server.aws_json(&["ecs", "describe-tasks", "--tasks", arns[0]]);
    assert_eq!(
        described["tasks"][0]["healthStatus"], "HEALTHY",
        "{described:#}"
    );
    server.aws_json(&["ecs", "delete-service", "--service", "scorekeep", "--force"]);
    wait_for(&server, "scorekeep", "INACTIVE", |s| {
        s["status"] == "INACTIVE"
    });
}

/// Issue 5 point 7: a rolling deployment from revision 1 to 2 of a service of 2 behind the
/// listener, under continuous load (4 workers on loopback, bounded by a deadline),
/// completes with every request answered 200 and the answers switching from 1 to 2.
#[test]
fn a_rolling_deployment_under_load_fails_no_request() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let host = Host::with_config(
        "[[lb.target_groups]]\nname = \"web\"\nderegistration_delay_seconds = 5\n\
         health_check = { path = \"/\", interval_seconds = 1, timeout_seconds = 1, healthy_threshold = 2 }\n\
         [[lb.listeners]]\nport = 0\ntarget_group = \"web\"\n",
    );
    let server = Server::start(&host);
    let text = server.debug();
    let listener = text
        .lines()
        .find_map(|l| l.split("lb listener http://").nth(1))
        .and_then(|r| r.split(' ').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no lb listener line\n{text}"));
    for rev in ["rev1", "rev2"] {
        let def = json!({
            "family": "roll",
            "cpu": "256",
            "memory": "512",
            "networkMode": "awsvpc",
            "containerDefinitions": [{
                "name": "web",
                "image": guest("http-hello"),
                "environment": [{ "name": "NAME", "value": rev }],
                "portMappings": [{ "containerPort": 8080 }],
                "stopTimeout": 5
            }]
        });
        let path = host.taskdef(&def);
        server.aws_json(&[
            "ecs",
            "register-task-definition",
            "--cli-input-json",
            &format!("file://{}", path.display()),
        ]);
    }
    let show = host.output(&["lb", "show"]).1;
    let tg = show
        .split_whitespace()
        .find(|w| w.starts_with("arn:aws:elasticloadbalancing:") && w.contains("/web/"))
        .unwrap_or_else(|| panic!("no target group ARN in\n{show}"))
        .to_owned();
    server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "roll",
        "--task-definition",
        "roll:1",
        "--desired-count",
        "2",
        "--deployment-configuration",
        "maximumPercent=200,minimumHealthyPercent=100",
        "--load-balancers",
        &format!("targetGroupArn={tg},containerName=web,containerPort=8080"),
    ]);
    wait_for(&server, "roll", "stable", stable);
    // Both revision-1 targets healthy in the target group before the load starts.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(http_get(&listener, "/"), Some((200, ref b)) if b.contains("hello from rev1")) {
        assert!(Instant::now() < deadline, "revision 1 never answered");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The load: every answer (status, body) in order per worker; failures kept whole.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let load_deadline = Instant::now() + Duration::from_secs(120);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, failures, listener) = (stop.clone(), failures.clone(), listener.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) && Instant::now() < load_deadline {
                    n += 1;
                    match http_get(&listener, &format!("/w{w}/{n}")) {
                        Some((200, body)) if body.contains("hello from rev1") => seen.push(1u8),
                        Some((200, body)) if body.contains("hello from rev2") => seen.push(2u8),
                        other => {
                            if let Ok(mut f) = failures.lock() {
                                f.push(format!("worker {w} request {n}: {other:?}"));
                            }
                        }
                    }
                }
                seen
            })
        })
        .collect();

    let started = Instant::now();
    server.aws_json(&[
        "ecs",
        "update-service",
        "--service",
        "roll",
        "--task-definition",
        "roll:2",
    ]);
    let svc = wait_for(&server, "roll", "rolled out to revision 2", |s| {
        stable(s)
            && s["deployments"][0]["taskDefinition"]
                .as_str()
                .is_some_and(|t| t.ends_with("task-definition/roll:2"))
            && s["deployments"][0]["rolloutState"] == "COMPLETED"
    });
    let rollout = started.elapsed();
    // Keep the load a little longer: only revision 2 answers now.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let seen: Vec<Vec<u8>> = workers
        .into_iter()
        .map(|w| w.join().expect("load worker"))
        .collect();
    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    let total: usize = seen.iter().map(Vec::len).sum::<usize>() + failures.len();
    println!(
        "rollout {rollout:?}, {total} requests, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed during the rollout: {:#?}\n{}\n{svc:#}",
        failures.len(),
        &failures[..failures.len().min(5)],
        server.debug()
    );
    assert!(
        Instant::now() < load_deadline,
        "the load ran into its deadline"
    );
    for (w, s) in seen.iter().enumerate() {
        assert_eq!(s.first(), Some(&1), "worker {w} began on revision 1");
        assert_eq!(s.last(), Some(&2), "worker {w} ended on revision 2");
    }
    assert_eq!(svc["runningCount"], 2, "{svc:#}");
    let messages: Vec<&str> = svc["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.ends_with("deployment completed.")),
        "{messages:#?}"
    );
    server.aws_json(&["ecs", "delete-service", "--service", "roll", "--force"]);
    wait_for(&server, "roll", "INACTIVE", |s| s["status"] == "INACTIVE");
}

/// A task whose target fails the target group's health checks is replaced once the
/// service's `healthCheckGracePeriodSeconds` has passed, and not inside it: two services
/// behind target groups whose health check always fails (`/trap` answers 500), one with no
/// grace period (0), one with a long one.
#[test]
fn unhealthy_targets_are_replaced_after_the_grace_period_only() {
    let group = |name: &str| {
        format!(
            "[[lb.target_groups]]\nname = \"{name}\"\nderegistration_delay_seconds = 0\n\
             health_check = {{ path = \"/trap\", interval_seconds = 1, timeout_seconds = 1, unhealthy_threshold = 2 }}\n"
        )
    };
    let host = Host::with_config(&format!("{}{}", group("now"), group("later")));
    let server = Server::start(&host);
    let def = json!({
        "family": "grace",
        "cpu": "256",
        "memory": "512",
        "networkMode": "awsvpc",
        "containerDefinitions": [{
            "name": "web",
            "image": guest("http-hello"),
            "portMappings": [{ "containerPort": 8080 }],
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
    let show = host.output(&["lb", "show"]).1;
    let arn = |name: &str| {
        show.split_whitespace()
            .find(|w| {
                w.starts_with("arn:aws:elasticloadbalancing:") && w.contains(&format!("/{name}/"))
            })
            .unwrap_or_else(|| panic!("no target group {name} in\n{show}"))
            .to_owned()
    };
    for (name, grace) in [("later", "3600"), ("now", "0")] {
        server.aws_json(&[
            "ecs",
            "create-service",
            "--service-name",
            name,
            "--task-definition",
            "grace",
            "--desired-count",
            "1",
            "--health-check-grace-period-seconds",
            grace,
            "--load-balancers",
            &format!(
                "targetGroupArn={},containerName=web,containerPort=8080",
                arn(name)
            ),
        ]);
    }
    let failed = |svc: &Value| {
        svc["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .filter(|m| m.contains("failed ELB health checks in (target-group "))
            .count()
    };
    // No grace: the task is replaced, then its replacement too.
    let now = wait_for(&server, "now", "replaced twice", |s| failed(s) >= 2);
    assert_eq!(now["healthCheckGracePeriodSeconds"], 0, "{now:#}");
    // Meanwhile the other service's target failed as often, inside its grace period.
    let later = describe(&server, "later");
    assert_eq!(failed(&later), 0, "{later:#}");
    assert_eq!(later["runningCount"], 1, "{later:#}");
    for name in ["now", "later"] {
        server.aws_json(&["ecs", "delete-service", "--service", name, "--force"]);
    }
    for name in ["now", "later"] {
        wait_for(&server, name, "INACTIVE", |s| s["status"] == "INACTIVE");
    }
}

/// Issue 9 items 12 and 15 (`tests/py/services_lb.py`): behind a target group whose
/// health check needs three passes, `services_stable` (polled every second) returns only
/// once a request through the listener is answered 200, the deployment COMPLETED then;
/// `loadBalancers[]` naming a container or port the definition lacks is refused
/// (InvalidParameterException naming the member), at CreateService and UpdateService;
/// no steady-state event follows an identical one.
#[test]
fn services_stable_returns_only_once_the_listener_serves() {
    let host = Host::with_config(
        "[[lb.target_groups]]\nname = \"web\"\nderegistration_delay_seconds = 1\n\
         health_check = { path = \"/\", interval_seconds = 1, timeout_seconds = 1, healthy_threshold = 3 }\n\
         [[lb.listeners]]\nport = 0\ntarget_group = \"web\"\n",
    );
    let server = Server::start(&host);
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
        .find(|w| w.starts_with("arn:aws:elasticloadbalancing:") && w.contains("/web/"))
        .unwrap_or_else(|| panic!("no target group ARN in\n{show}"))
        .to_owned();
    let run = server.python_ok("services_lb.py", &[&listener, &tg]);
    println!("{}", run.stdout);
}
