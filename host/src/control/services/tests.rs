//! Service operations through `EcsService::call`, and the scheduler's rules.

use super::scheduler::{backoff, breaker_threshold, in_grace};
use crate::control::tests::{Fixture, guest, sleep_def};
use serde_json::{Value, json};
use std::time::Duration;

fn exit_def(family: &str, code: i32) -> Value {
    json!({
        "family": family,
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "app",
            "image": guest("exit-code"),
            "command": [code.to_string()],
        }],
    })
}

async fn describe(f: &Fixture, name: &str) -> Value {
    let out = f
        .ok("DescribeServices", json!({ "services": [name] }))
        .await;
    out["services"][0].clone()
}

/// Polls DescribeServices until `ok` holds for the service.
async fn wait_for(f: &Fixture, name: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let svc = describe(f, name).await;
        if ok(&svc) {
            return svc;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "service never became {what}: {svc:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn stable(svc: &Value) -> bool {
    svc["deployments"].as_array().is_some_and(|d| d.len() == 1)
        && svc["runningCount"] == svc["desiredCount"]
        && svc["pendingCount"] == 0
}

async fn running_tasks(f: &Fixture, name: &str) -> Vec<String> {
    let out = f.ok("ListTasks", json!({ "serviceName": name })).await;
    out["taskArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn backoff_doubles_up_to_a_minute() {
    assert_eq!(backoff(1), Duration::from_secs(1));
    assert_eq!(backoff(2), Duration::from_secs(2));
    assert_eq!(backoff(4), Duration::from_secs(8));
    assert_eq!(backoff(7), Duration::from_secs(60));
    assert_eq!(backoff(1000), Duration::from_secs(60));
}

#[test]
fn circuit_breaker_threshold_is_ecs_formula() {
    assert_eq!(breaker_threshold(0), 3);
    assert_eq!(breaker_threshold(1), 3);
    assert_eq!(breaker_threshold(7), 4);
    assert_eq!(breaker_threshold(10), 5);
    assert_eq!(breaker_threshold(1000), 200);
}

#[tokio::test]
async fn service_operations_and_their_errors() {
    let f = Fixture::new();
    f.register(sleep_def("web", 600_000)).await;
    let out = f
        .ok(
            "CreateService",
            json!({ "serviceName": "web", "taskDefinition": "web", "desiredCount": 0 }),
        )
        .await;
    let svc = &out["service"];
    assert_eq!(
        svc["serviceArn"],
        "arn:aws:ecs:us-east-1:123456789012:service/default/web"
    );
    assert_eq!(svc["status"], "ACTIVE");
    assert_eq!(svc["launchType"], "FARGATE");
    assert_eq!(
        svc["taskDefinition"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
    );
    let id = svc["deployments"][0]["id"].as_str().expect("deployment id");
    let digits = id.strip_prefix("ecs-svc/").expect("ecs-svc/ prefix");
    assert_eq!(digits.len(), 19, "{id}");
    assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert_eq!(svc["deployments"][0]["status"], "PRIMARY");
    assert_eq!(svc["deploymentConfiguration"]["maximumPercent"], 200);
    assert_eq!(svc["deploymentConfiguration"]["minimumHealthyPercent"], 100);

    let msg = f
        .err(
            "CreateService",
            json!({ "serviceName": "web", "taskDefinition": "web", "desiredCount": 1 }),
            "InvalidParameterException",
        )
        .await;
    assert_eq!(msg, "Creation of service was not idempotent.");
    let msg = f
        .err(
            "CreateService",
            json!({ "serviceName": "lb", "taskDefinition": "web", "desiredCount": 1,
                    "loadBalancers": [{ "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/1", "containerName": "sleeper", "containerPort": 80 }] }),
            "InvalidParameterException",
        )
        .await;
    assert!(
        msg.starts_with("loadBalancers[0].targetGroupArn: "),
        "{msg}"
    );
    assert!(msg.contains("no load balancer"), "{msg}");
    // Typed members: the path and the reason, flattened members included.
    for (body, want) in [
        (
            json!({ "serviceName": "x", "taskDefinition": "web", "desiredCount": 1,
                    "loadBalancers": [{ "containerPort": "80" }] }),
            "loadBalancers[0].containerPort: invalid type: string \"80\", expected i32",
        ),
        (
            json!({ "serviceName": "x", "taskDefinition": "web", "desiredCount": 1u64 << 33 }),
            "desiredCount: invalid value: integer `8589934592`, expected i32",
        ),
        (
            json!({ "serviceName": "x", "taskDefinition": "web", "desiredCount": 1,
                    "propagateTags": 1 }),
            "propagateTags: invalid type: integer `1`, expected a string",
        ),
        (
            json!({ "serviceName": "x", "taskDefinition": "web", "desiredCount": 1,
                    "deploymentConfiguration": { "deploymentCircuitBreaker": { "enable": true } } }),
            "deploymentConfiguration.deploymentCircuitBreaker.rollback: is required",
        ),
        (
            json!({ "serviceName": "x", "taskDefinition": "web", "desiredCount": 1,
                    "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["s"], "assignPublicIp": "MAYBE" } } }),
            "networkConfiguration.awsvpcConfiguration.assignPublicIp: ",
        ),
    ] {
        let msg = f
            .err("CreateService", body, "InvalidParameterException")
            .await;
        assert!(msg.starts_with(want), "{msg}");
    }
    f.err(
        "CreateService",
        json!({ "serviceName": "x", "taskDefinition": "nope", "desiredCount": 1 }),
        "ClientException",
    )
    .await;

    let list = f.ok("ListServices", json!({})).await;
    assert_eq!(
        list["serviceArns"],
        json!(["arn:aws:ecs:us-east-1:123456789012:service/default/web"])
    );
    let out = f
        .ok("DescribeServices", json!({ "services": ["web", "ghost"] }))
        .await;
    assert_eq!(out["services"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        out["failures"],
        json!([{ "arn": "arn:aws:ecs:us-east-1:123456789012:service/default/ghost", "reason": "MISSING" }])
    );
    for op in ["UpdateService", "DeleteService"] {
        let msg = f
            .err(
                op,
                json!({ "service": "ghost" }),
                "ServiceNotFoundException",
            )
            .await;
        assert_eq!(msg, "Service not found.");
    }
    f.err(
        "ListTasks",
        json!({ "serviceName": "ghost" }),
        "ServiceNotFoundException",
    )
    .await;

    f.ok(
        "UpdateService",
        json!({ "service": "web", "desiredCount": 1 }),
    )
    .await;
    let msg = f
        .err(
            "DeleteService",
            json!({ "service": "web" }),
            "InvalidParameterException",
        )
        .await;
    assert_eq!(
        msg,
        "The service cannot be stopped while it is scaled above 0."
    );
    let out = f
        .ok("DeleteService", json!({ "service": "web", "force": true }))
        .await;
    assert_eq!(out["service"]["status"], "DRAINING");
    let list = f.ok("ListServices", json!({})).await;
    assert_eq!(list["serviceArns"], json!([]));
    wait_for(&f, "web", "INACTIVE", |s| s["status"] == "INACTIVE").await;
    // The name is free again once INACTIVE.
    f.ok(
        "CreateService",
        json!({ "serviceName": "web", "taskDefinition": "web", "desiredCount": 0 }),
    )
    .await;
    f.wait_idle().await;
}

#[tokio::test]
async fn scheduler_keeps_the_count_and_scales() {
    let f = Fixture::new();
    f.register(sleep_def("web", 600_000)).await;
    f.ok(
        "CreateService",
        json!({ "serviceName": "web", "taskDefinition": "web", "desiredCount": 2 }),
    )
    .await;
    let svc = wait_for(&f, "web", "stable", stable).await;
    assert_eq!(svc["runningCount"], 2);
    let messages: Vec<&str> = svc["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("(service web) has started 2 tasks: (task ")),
        "{messages:?}"
    );
    let tasks = running_tasks(&f, "web").await;
    assert_eq!(tasks.len(), 2);
    let task = f.describe_task(&tasks[0]).await;
    assert_eq!(task["group"], "service:web");
    assert_eq!(task["startedBy"], svc["deployments"][0]["id"]);

    // A task stopped from outside is replaced.
    f.ok("StopTask", json!({ "task": tasks[0] })).await;
    f.wait_status(&tasks[0], "STOPPED").await;
    wait_for(&f, "web", "replaced", |s| {
        stable(s) && s["deployments"][0]["failedTasks"] == 0
    })
    .await;
    let now = running_tasks(&f, "web").await;
    assert_eq!(now.len(), 2);
    assert!(!now.contains(&tasks[0]));

    // Scale up, then down.
    f.ok(
        "UpdateService",
        json!({ "service": "web", "desiredCount": 3 }),
    )
    .await;
    wait_for(&f, "web", "3 running", |s| {
        stable(s) && s["runningCount"] == 3
    })
    .await;
    f.ok(
        "UpdateService",
        json!({ "service": "web", "desiredCount": 1 }),
    )
    .await;
    wait_for(&f, "web", "1 running", |s| {
        stable(s) && s["runningCount"] == 1
    })
    .await;
    let stopped = f
        .ok(
            "ListTasks",
            json!({ "serviceName": "web", "desiredStatus": "STOPPED" }),
        )
        .await;
    let last = stopped["taskArns"]
        .as_array()
        .and_then(|a| a.last())
        .cloned();
    let last = f
        .describe_task(last.as_ref().and_then(Value::as_str).unwrap_or_default())
        .await;
    assert_eq!(last["stopCode"], "ServiceSchedulerInitiated", "{last}");

    f.ok("DeleteService", json!({ "service": "web", "force": true }))
        .await;
    wait_for(&f, "web", "INACTIVE", |s| s["status"] == "INACTIVE").await;
    assert!(running_tasks(&f, "web").await.is_empty());
    f.wait_idle().await;
}

#[tokio::test]
async fn a_crashing_revision_trips_the_breaker_and_rolls_back() {
    let f = Fixture::new();
    f.register(sleep_def("web", 600_000)).await;
    f.register(exit_def("web", 1)).await;
    f.ok(
        "CreateService",
        json!({ "serviceName": "web", "taskDefinition": "web:1", "desiredCount": 1,
                "deploymentConfiguration": { "deploymentCircuitBreaker": { "enable": true, "rollback": true } } }),
    )
    .await;
    wait_for(&f, "web", "stable", stable).await;
    f.ok(
        "UpdateService",
        json!({ "service": "web", "taskDefinition": "web:2" }),
    )
    .await;
    let svc = wait_for(&f, "web", "rolled back", |s| {
        stable(s)
            && s["taskDefinition"]
                .as_str()
                .is_some_and(|t| t.ends_with("web:1"))
    })
    .await;
    assert_eq!(svc["deployments"][0]["rolloutState"], "COMPLETED");
    let messages: Vec<&str> = svc["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("deployment failed: tasks failed to start.")),
        "{messages:?}"
    );
    f.ok("DeleteService", json!({ "service": "web", "force": true }))
        .await;
    wait_for(&f, "web", "INACTIVE", |s| s["status"] == "INACTIVE").await;
    f.wait_idle().await;
}

fn web_def(family: &str, check_port: u16, retries: u32) -> Value {
    json!({
        "family": family,
        "cpu": "256",
        "memory": "512",
        "networkMode": "awsvpc",
        "containerDefinitions": [
            {
                "name": "web",
                "image": guest("http-hello"),
                "command": ["web"],
                "portMappings": [{ "containerPort": 8080 }],
                "stopTimeout": 2,
                "healthCheck": {
                    "command": ["CMD", "http-get", format!("http://localhost:{check_port}/")],
                    "interval": 5,
                    "retries": retries,
                },
            },
            {
                "name": "after",
                "image": guest("echo"),
                "command": ["ready"],
                "essential": false,
                "dependsOn": [{ "containerName": "web", "condition": "HEALTHY" }],
            },
        ],
    })
}

#[tokio::test]
async fn health_checks_gate_healthy_dependencies() {
    let f = Fixture::new();
    f.register(web_def("hc", 8080, 3)).await;
    let arn = f.run(json!({ "taskDefinition": "hc" })).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let t = f.describe_task(&arn).await;
        let after = &t["containers"][1];
        if after["lastStatus"] == "STOPPED" {
            assert_eq!(after["exitCode"], 0, "{t:#}");
            assert_eq!(t["containers"][0]["healthStatus"], "HEALTHY", "{t:#}");
            assert_eq!(t["healthStatus"], "HEALTHY", "{t:#}");
            assert_eq!(t["lastStatus"], "RUNNING", "{t:#}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never healthy: {t:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    f.ok("StopTask", json!({ "task": arn })).await;
    f.wait_idle().await;
}

#[tokio::test]
async fn an_unhealthy_essential_container_stops_its_task() {
    let f = Fixture::new();
    f.register(web_def("sick", 9, 1)).await;
    let arn = f.run(json!({ "taskDefinition": "sick" })).await;
    let t = f.wait_status(&arn, "STOPPED").await;
    assert_eq!(
        t["stoppedReason"], "Task failed container health checks",
        "{t:#}"
    );
    assert_eq!(t["healthStatus"], "UNHEALTHY", "{t:#}");
    assert_eq!(t["containers"][0]["healthStatus"], "UNHEALTHY", "{t:#}");
    f.wait_idle().await;
}

#[tokio::test]
async fn other_health_check_commands_are_refused() {
    let f = Fixture::new();
    let mut def = web_def("badhc", 8080, 3);
    def["containerDefinitions"][0]["healthCheck"]["command"] = json!(["CMD", "true"]);
    let msg = match f.call("RegisterTaskDefinition", def).await {
        Err(e) => e.message,
        Ok(_) => match f
            .call("RunTask", json!({ "taskDefinition": "badhc" }))
            .await
        {
            Err(e) => e.message,
            Ok(v) => panic!("a CMD true health check ran: {v}"),
        },
    };
    assert!(
        msg.contains("containerDefinitions[0].healthCheck.command"),
        "{msg}"
    );
}

#[test]
fn load_balancer_health_failures_are_ignored_during_the_grace_period() {
    use std::time::{Duration, SystemTime};
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let at = |s: u64| t0 + Duration::from_secs(s);
    // Not started yet: inside.
    assert!(in_grace(None, Some(30), at(100)));
    assert!(in_grace(None, None, at(100)));
    // 30 s of grace: failures 10 s and 29 s after the start are ignored, 30 s later not.
    assert!(in_grace(Some(t0), Some(30), at(10)));
    assert!(in_grace(Some(t0), Some(30), at(29)));
    assert!(!in_grace(Some(t0), Some(30), at(30)));
    assert!(!in_grace(Some(t0), Some(30), at(300)));
    // No grace period, or a negative one: outside at once.
    assert!(!in_grace(Some(t0), None, t0));
    assert!(!in_grace(Some(t0), Some(-5), at(1)));
    // A clock that went backwards: inside (no time passed).
    assert!(in_grace(Some(at(10)), Some(5), t0));
}

/// An UpdateService that changes nothing the tasks show settles without a second
/// "has reached a steady state." right under the first.
#[tokio::test]
async fn a_no_op_update_does_not_repeat_the_steady_state_event() {
    let f = Fixture::new();
    f.register(sleep_def("calm", 600_000)).await;
    f.ok(
        "CreateService",
        json!({ "serviceName": "calm", "taskDefinition": "calm", "desiredCount": 1 }),
    )
    .await;
    let steady = "(service calm) has reached a steady state.";
    let messages = |svc: &Value| -> Vec<String> {
        svc["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str().map(str::to_owned))
            .collect()
    };
    wait_for(&f, "calm", "steady", |s| {
        messages(s).first().map(String::as_str) == Some(steady)
    })
    .await;
    for _ in 0..2 {
        f.ok(
            "UpdateService",
            json!({ "service": "calm", "desiredCount": 1 }),
        )
        .await;
        // A pass that surely ran after the update (the background loop may run others).
        f.svc.reconcile_all().await.expect("pass");
    }
    let msgs = messages(&describe(&f, "calm").await);
    assert_eq!(msgs.iter().filter(|m| *m == steady).count(), 1, "{msgs:#?}");
    f.ok("DeleteService", json!({ "service": "calm", "force": true }))
        .await;
    wait_for(&f, "calm", "INACTIVE", |s| s["status"] == "INACTIVE").await;
    f.wait_idle().await;
}

/// A task belongs to a service only when that service's scheduler started it: a RunTask
/// `group` of `service:web` is a label (ECS shows it), not the service's identity (the
/// metadata's `ServiceName`, `wasmgate:DestinationService` of network policies).
#[tokio::test]
async fn a_run_task_group_does_not_make_a_task_a_service_task() {
    let f = Fixture::new();
    f.register(sleep_def("web", 600_000)).await;
    f.ok(
        "CreateService",
        json!({ "serviceName": "web", "taskDefinition": "web", "desiredCount": 1 }),
    )
    .await;
    wait_for(&f, "web", "stable", stable).await;
    let real = running_tasks(&f, "web").await;
    assert_eq!(real.len(), 1);
    let spoof = f
        .run(json!({ "taskDefinition": "web", "group": "service:web" }))
        .await;
    f.wait_status(&spoof, "RUNNING").await;
    assert_eq!(f.describe_task(&spoof).await["group"], "service:web");

    let service_of = |arn: &str| {
        let id = arn.rsplit('/').next().unwrap_or_default();
        f.svc.runtime.live_task(id).expect("live task").service
    };
    assert_eq!(service_of(&real[0]), Some("web".to_owned()));
    assert_eq!(service_of(&spoof), None);
    // ListTasks by service lists only what the scheduler started.
    assert_eq!(running_tasks(&f, "web").await, real);
}
