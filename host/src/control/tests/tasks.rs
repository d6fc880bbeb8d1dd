use super::{ACCOUNT, Fixture, REGION, echo_def, sleep_def};
use serde_json::{Value, json};
use std::collections::HashSet;

fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[tokio::test]
async fn run_task_reaches_stopped_with_exit_code_zero() {
    let f = Fixture::new();
    f.register(echo_def("echo", &["hello"])).await;
    let out = f
        .ok(
            "RunTask",
            json!({
                "taskDefinition": "echo",
                "launchType": "FARGATE",
                "networkConfiguration": {"awsvpcConfiguration": {
                    "subnets": ["subnet-12345"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
                "startedBy": "ci/job-1",
                "tags": [{"key": "run", "value": "1"}],
            }),
        )
        .await;
    assert_eq!(out["failures"], json!([]));
    let t = &out["tasks"][0];
    let arn = t["taskArn"].as_str().expect("arn").to_owned();
    let id = task_id(&arn);
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        arn,
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/{id}")
    );
    assert_eq!(
        t["clusterArn"],
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default")
    );
    assert_eq!(
        t["taskDefinitionArn"],
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/echo:1")
    );
    assert_eq!(t["desiredStatus"], "RUNNING");
    assert_eq!(t["launchType"], "FARGATE");
    assert_eq!(t["platformVersion"], "1.4.0");
    assert_eq!(t["group"], "family:echo");
    assert_eq!(t["startedBy"], "ci/job-1");
    assert_eq!(t["cpu"], "256");
    assert_eq!(t["memory"], "512");
    assert_eq!(t["connectivity"], "CONNECTED");
    assert_eq!(t["availabilityZone"], "us-east-1a");
    // The address is leased at PROVISIONING: the ENI may not be there yet.
    assert!(
        t["attachments"].as_array().is_some_and(|a| a.len() <= 1),
        "{t}"
    );
    assert_eq!(t["tags"], json!([{"key": "run", "value": "1"}]));
    assert!(t["createdAt"].is_f64());
    assert!(t["version"].as_u64().is_some_and(|v| v >= 1));
    let c = &t["containers"][0];
    assert_eq!(c["name"], "app");
    assert_eq!(c["taskArn"], arn.as_str());
    assert!(
        c["containerArn"]
            .as_str()
            .is_some_and(|a| a.starts_with(&format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:container/default/{id}/"
            ))),
        "{c}"
    );

    let done = f.wait_status(&arn, "STOPPED").await;
    let eni = &done["attachments"][0];
    assert_eq!(eni["type"], "ElasticNetworkInterface", "{done}");
    assert_eq!(eni["status"], "DELETED");
    let ip = eni["details"]
        .as_array()
        .and_then(|d| d.iter().find(|kv| kv["name"] == "privateIPv4Address"))
        .and_then(|kv| kv["value"].as_str())
        .unwrap_or_default();
    assert!(ip.starts_with("127."), "{eni}");
    assert_eq!(
        done["containers"][0]["networkInterfaces"],
        json!([{"attachmentId": eni["id"], "privateIpv4Address": ip}])
    );
    assert_eq!(done["desiredStatus"], "STOPPED");
    assert_eq!(done["stopCode"], "EssentialContainerExited");
    assert_eq!(done["stoppedReason"], "Essential container in task exited");
    assert_eq!(done["containers"][0]["exitCode"], 0);
    assert_eq!(done["containers"][0]["lastStatus"], "STOPPED");
    assert_eq!(done["containers"][0]["cpu"], "256");
    assert!(
        done["containers"][0]["imageDigest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    for key in ["startedAt", "stoppingAt", "stoppedAt"] {
        assert!(done[key].is_f64(), "{key}: {done}");
    }
    assert!(done["version"].as_u64() > t["version"].as_u64());
    assert_eq!(done["tags"], json!([{"key": "run", "value": "1"}]));

    // The echo output reached the log store? Not configured here: no awslogs. The task's
    // list entries: gone from RUNNING, present under STOPPED.
    f.wait_idle().await;
    let running = f.ok("ListTasks", json!({})).await;
    assert_eq!(running["taskArns"], json!([]));
    let stopped = f.ok("ListTasks", json!({"desiredStatus": "STOPPED"})).await;
    assert_eq!(stopped["taskArns"], json!([arn]));
    let pending = f.ok("ListTasks", json!({"desiredStatus": "PENDING"})).await;
    assert_eq!(pending["taskArns"], json!([]));
}

#[tokio::test]
async fn run_task_applies_overrides() {
    let f = Fixture::new();
    let mut def = echo_def("echo", &["default-arg"]);
    def["containerDefinitions"][0]["logConfiguration"] = json!({
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/echo", "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"},
    });
    f.register(def).await;
    let overrides = json!({"containerOverrides": [{
        "name": "app",
        "command": ["overridden"],
        "environment": [{"name": "GREETING", "value": "hi"}],
    }]});
    let arn = f
        .run(json!({"taskDefinition": "echo", "overrides": overrides, "group": "batch"}))
        .await;
    let done = f.wait_status(&arn, "STOPPED").await;
    assert_eq!(done["containers"][0]["exitCode"], 0, "{done}");
    assert_eq!(done["group"], "batch");
    assert_eq!(
        done["overrides"]["containerOverrides"][0]["command"],
        json!(["overridden"])
    );
    assert_eq!(
        done["overrides"]["inferenceAcceleratorOverrides"],
        json!([])
    );
    // The runtime shipped the output to the awslogs stream.
    let stream = format!("ecs/app/{}", task_id(&arn));
    let events = f.svc.runtime().logs().get_events(&crate::logs::GetEvents {
        group: "/ecs/echo".into(),
        stream: stream.clone(),
        start_from_head: true,
        ..Default::default()
    });
    let text = format!("{events:?}");
    assert!(text.contains("arg[1]=overridden"), "{text}");
    assert!(text.contains("env GREETING=hi"), "{text}");
}

#[tokio::test]
async fn run_task_count_and_listing() {
    let f = Fixture::new();
    f.register(sleep_def("sleeper", 60_000)).await;
    let out = f
        .ok(
            "RunTask",
            json!({"taskDefinition": "sleeper:1", "count": 3, "startedBy": "me"}),
        )
        .await;
    let arns: Vec<String> = out["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["taskArn"].as_str().expect("arn").to_owned())
        .collect();
    assert_eq!(arns.len(), 3);
    assert_eq!(arns.iter().collect::<HashSet<_>>().len(), 3);
    for arn in &arns {
        f.wait_status(arn, "RUNNING").await;
    }

    // Paginate ListTasks one by one.
    let mut listed = Vec::new();
    let mut seen = HashSet::new();
    let mut body = json!({"maxResults": 1, "startedBy": "me", "family": "sleeper"});
    loop {
        let out = f.ok("ListTasks", body.clone()).await;
        for a in out["taskArns"].as_array().expect("arns") {
            listed.push(a.as_str().expect("arn").to_owned());
        }
        match out.get("nextToken").and_then(Value::as_str) {
            Some(t) => {
                assert!(seen.insert(t.to_owned()));
                body["nextToken"] = json!(t);
            }
            None => break,
        }
    }
    let mut sorted = arns.clone();
    sorted.sort();
    listed.sort();
    assert_eq!(listed, sorted);
    for body in [
        json!({"startedBy": "someone-else"}),
        json!({"family": "other"}),
        json!({"launchType": "EC2"}),
    ] {
        let out = f.ok("ListTasks", body).await;
        assert_eq!(out["taskArns"], json!([]));
    }
    // A service that does not exist is an error, as in ECS.
    f.err(
        "ListTasks",
        json!({"serviceName": "svc"}),
        "ServiceNotFoundException",
    )
    .await;
    let d = f.ok("DescribeClusters", json!({})).await;
    assert_eq!(d["clusters"][0]["runningTasksCount"], 3);

    // Describe by id and ARN, with unknown ones as failures.
    let out = f
        .ok(
            "DescribeTasks",
            json!({"tasks": [task_id(&arns[0]), arns[1], "0123456789abcdef0123456789abcdef", "bad/id"]}),
        )
        .await;
    assert_eq!(out["tasks"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        out["failures"],
        json!([
            {"arn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/0123456789abcdef0123456789abcdef"), "reason": "MISSING"},
            {"arn": "bad/id", "reason": "MISSING"},
        ])
    );
    for arn in &arns {
        f.ok("StopTask", json!({"task": arn})).await;
    }
    f.wait_idle().await;
    let d = f.ok("DescribeClusters", json!({})).await;
    assert_eq!(d["clusters"][0]["runningTasksCount"], 0);
}

#[tokio::test]
async fn stop_task_stops_a_sleeping_task() {
    let f = Fixture::new();
    f.register(sleep_def("sleeper", 60_000)).await;
    let arn = f.run(json!({"taskDefinition": "sleeper"})).await;
    f.wait_status(&arn, "RUNNING").await;
    let out = f
        .ok(
            "StopTask",
            json!({"task": arn, "reason": "Maintenance window: stop everything"}),
        )
        .await;
    let t = &out["task"];
    assert_eq!(t["desiredStatus"], "STOPPED");
    assert_eq!(t["stopCode"], "UserInitiated");
    assert_eq!(t["stoppedReason"], "Maintenance window: stop everything");
    let done = f.wait_status(&arn, "STOPPED").await;
    assert_eq!(done["stopCode"], "UserInitiated");
    assert_eq!(done["stoppedReason"], "Maintenance window: stop everything");
    assert_eq!(done["containers"][0]["lastStatus"], "STOPPED");
    assert!(done["stoppingAt"].is_f64());
    // StopTask on a STOPPED task answers it as it is.
    f.wait_idle().await;
    let again = f.ok("StopTask", json!({"task": task_id(&arn)})).await;
    assert_eq!(
        again["task"]["stoppedReason"],
        "Maintenance window: stop everything"
    );

    let msg = f
        .err(
            "StopTask",
            json!({"task": "0123456789abcdef0123456789abcdef"}),
            "InvalidParameterException",
        )
        .await;
    assert_eq!(msg, "The referenced task was not found.");
    f.err(
        "StopTask",
        json!({"task": arn, "cluster": "nope"}),
        "ClusterNotFoundException",
    )
    .await;
    f.ok("CreateCluster", json!({"clusterName": "other"})).await;
    f.err(
        "StopTask",
        json!({"task": arn, "cluster": "other"}),
        "InvalidParameterException",
    )
    .await;
    f.err("StopTask", json!({}), "InvalidParameterException")
        .await;
    f.err(
        "StopTask",
        json!({"task": arn, "reason": "x".repeat(256)}),
        "InvalidParameterException",
    )
    .await;
}

#[tokio::test]
async fn run_task_refuses_bad_requests_without_a_trace() {
    let f = Fixture::new();
    f.register(echo_def("echo", &[])).await;
    f.register(echo_def("old", &[])).await;
    f.ok(
        "DeregisterTaskDefinition",
        json!({"taskDefinition": "old:1"}),
    )
    .await;
    let before = f.store.dump();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({}),
            "InvalidParameterException",
            "taskDefinition: is required",
        ),
        (
            json!({"taskDefinition": "echo", "count": 0}),
            "InvalidParameterException",
            "count: 0 is out of range; must be between 1 and 10",
        ),
        (
            json!({"taskDefinition": "echo", "count": 11}),
            "InvalidParameterException",
            "count:",
        ),
        (
            json!({"taskDefinition": "echo", "count": "1"}),
            "InvalidParameterException",
            "count: invalid type: string \"1\", expected i32",
        ),
        (
            json!({"taskDefinition": "nope"}),
            "ClientException",
            "TaskDefinition not found.",
        ),
        (
            json!({"taskDefinition": "old:1"}),
            "ClientException",
            "TaskDefinition is inactive",
        ),
        (
            json!({"taskDefinition": "echo", "cluster": "nope"}),
            "ClusterNotFoundException",
            "Cluster not found.",
        ),
        (
            json!({"taskDefinition": "echo", "launchType": "EC2"}),
            "InvalidParameterException",
            "launchType:",
        ),
        (
            json!({"taskDefinition": "echo", "launchType": "LAMBDA"}),
            "InvalidParameterException",
            "launchType:",
        ),
        (
            json!({"taskDefinition": "echo", "platformVersion": "0.9"}),
            "PlatformUnknownException",
            "",
        ),
        (
            json!({"taskDefinition": "echo", "enableExecuteCommand": true}),
            "InvalidParameterException",
            "enableExecuteCommand:",
        ),
        (
            json!({"taskDefinition": "echo", "networkConfiguration": {}}),
            "InvalidParameterException",
            "networkConfiguration.awsvpcConfiguration: is required",
        ),
        (
            json!({"taskDefinition": "echo", "networkConfiguration": {"awsvpcConfiguration": {}}}),
            "InvalidParameterException",
            "networkConfiguration.awsvpcConfiguration.subnets: is required",
        ),
        (
            json!({"taskDefinition": "echo", "networkConfiguration": {"awsvpcConfiguration": {"subnets": []}}}),
            "InvalidParameterException",
            "networkConfiguration.awsvpcConfiguration.subnets:",
        ),
        (
            json!({"taskDefinition": "echo", "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"], "assignPublicIp": "MAYBE"}}}),
            "InvalidParameterException",
            "networkConfiguration.awsvpcConfiguration.assignPublicIp:",
        ),
        (
            json!({"taskDefinition": "echo", "overrides": {"containerOverrides": [{"name": "ghost"}]}}),
            "InvalidParameterException",
            "overrides.containerOverrides[0].name:",
        ),
        (
            json!({"taskDefinition": "echo", "overrides": {"containerOverrides": [{"command": ["x"]}]}}),
            "InvalidParameterException",
            "overrides.containerOverrides[0].name: is required",
        ),
        (
            json!({"taskDefinition": "echo", "overrides": {"containerOverrides": [{"name": "app", "cpu": "x"}]}}),
            "InvalidParameterException",
            "overrides.containerOverrides[0].cpu: invalid type: string \"x\", expected i32",
        ),
        (
            json!({"taskDefinition": "echo", "overrides": {"containerOverrides": [{"name": "app", "memory": 4096}]}}),
            "ClientException",
            "containerDefinitions[0].memory",
        ),
        (
            json!({"taskDefinition": "echo", "overrides": {"cpu": "lots"}}),
            "InvalidParameterException",
            "overrides.cpu:",
        ),
        (
            json!({"taskDefinition": "echo", "overrides": {"cpu": "1024"}}),
            "ClientException",
            "No Fargate configuration exists for given values: 1024 CPU, 512 memory.",
        ),
        (
            json!({"taskDefinition": "echo", "startedBy": "has space"}),
            "InvalidParameterException",
            "startedBy:",
        ),
        (
            json!({"taskDefinition": "echo", "startedBy": "x".repeat(129)}),
            "InvalidParameterException",
            "startedBy:",
        ),
        (
            json!({"taskDefinition": "echo", "tags": [{"key": "", "value": "v"}]}),
            "InvalidParameterException",
            "tags[0].key: is required",
        ),
        (
            json!({"taskDefinition": "echo", "propagateTags": "SERVICE"}),
            "InvalidParameterException",
            "propagateTags:",
        ),
        (
            json!({"taskDefinition": "echo", "clientToken": "has space"}),
            "InvalidParameterException",
            "clientToken:",
        ),
        (
            json!({"taskDefinition": "echo", "capacityProviderStrategy": [{"capacityProvider": "my-asg"}]}),
            "InvalidParameterException",
            "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster.",
        ),
        (
            json!({"taskDefinition": "bad name!"}),
            "InvalidParameterException",
            "taskDefinition:",
        ),
        // The member path and serde's reason, for every member of the typed request.
        (
            json!({"taskDefinition": "echo", "count": 1u64 << 40}),
            "InvalidParameterException",
            "count: invalid value: integer `1099511627776`, expected i32",
        ),
        (
            json!({"taskDefinition": "echo", "networkConfiguration": {"awsvpcConfiguration": {"subnets": "s"}}}),
            "InvalidParameterException",
            "networkConfiguration.awsvpcConfiguration.subnets: invalid type: string \"s\", expected a list",
        ),
        (
            json!({"taskDefinition": "echo", "overrides": {"containerOverrides": [{"name": "app", "environment": [{"name": "A", "value": 1}]}]}}),
            "InvalidParameterException",
            "overrides.containerOverrides[0].environment[0].value: invalid type: integer `1`, expected a string",
        ),
        (
            json!({"taskDefinition": "echo", "overrides": {"ephemeralStorage": {}}}),
            "InvalidParameterException",
            "overrides.ephemeralStorage.sizeInGiB: is required",
        ),
        (
            json!({"taskDefinition": "echo", "tags": ["k=v"]}),
            "InvalidParameterException",
            "tags[0]: invalid type: string \"k=v\", expected an object",
        ),
        (
            json!({"taskDefinition": "echo", "placementConstraints": [1]}),
            "InvalidParameterException",
            "placementConstraints[0]: invalid type: integer `1`, expected a map",
        ),
    ];
    for (body, code, prefix) in cases {
        let msg = f.err("RunTask", body.clone(), code).await;
        assert!(msg.starts_with(prefix), "{body}: {msg}");
    }
    assert!(f.svc.core.live().is_empty());
    assert_eq!(f.store.dump(), before);
}

#[tokio::test]
async fn client_token_makes_run_task_idempotent() {
    let f = Fixture::new();
    f.register(sleep_def("sleeper", 60_000)).await;
    let body = json!({"taskDefinition": "sleeper", "count": 2, "clientToken": "token-1"});
    let first = f.ok("RunTask", body.clone()).await;
    let retry = f.ok("RunTask", body).await;
    let arns = |v: &Value| -> Vec<String> {
        v["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["taskArn"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(arns(&first).len(), 2);
    assert_eq!(arns(&first), arns(&retry));
    assert_eq!(f.svc.core.live().len(), 2);
    f.err(
        "RunTask",
        json!({"taskDefinition": "sleeper", "clientToken": "token-1"}),
        "InvalidParameterException",
    )
    .await;
    f.svc.shutdown().await;
    assert!(f.svc.core.live().is_empty());
    for arn in arns(&first) {
        let t = f.describe_task(&arn).await;
        assert_eq!(t["lastStatus"], "STOPPED");
        assert_eq!(t["stopCode"], "TerminationNotice");
        assert_eq!(t["stoppedReason"], "Host shutting down");
    }
    f.err(
        "RunTask",
        json!({"taskDefinition": "sleeper"}),
        "ClientException",
    )
    .await;
}

#[tokio::test]
async fn describe_tasks_checks_its_members() {
    let f = Fixture::new();
    f.err("DescribeTasks", json!({}), "InvalidParameterException")
        .await;
    f.err(
        "DescribeTasks",
        json!({"tasks": []}),
        "InvalidParameterException",
    )
    .await;
    let many: Vec<String> = (0..101).map(|i| format!("{i:032x}")).collect();
    f.err(
        "DescribeTasks",
        json!({"tasks": many}),
        "InvalidParameterException",
    )
    .await;
    f.err(
        "DescribeTasks",
        json!({"tasks": ["a"], "include": ["EVERYTHING"]}),
        "InvalidParameterException",
    )
    .await;
    f.err(
        "DescribeTasks",
        json!({"tasks": ["a"], "cluster": "nope"}),
        "ClusterNotFoundException",
    )
    .await;
    f.err(
        "ListTasks",
        json!({"cluster": "nope"}),
        "ClusterNotFoundException",
    )
    .await;
    f.err(
        "ListTasks",
        json!({"desiredStatus": "SLEEPING"}),
        "InvalidParameterException",
    )
    .await;
    let out = f.ok("DescribeTasks", json!({"tasks": ["a"]})).await;
    assert_eq!(out["tasks"], json!([]));
    assert_eq!(out["failures"][0]["reason"], "MISSING");
}

#[tokio::test]
async fn propagate_tags_from_the_definition() {
    let f = Fixture::new();
    let mut def = echo_def("echo", &[]);
    def["tags"] = json!([{"key": "a", "value": "def"}, {"key": "b", "value": "def"}]);
    f.register(def).await;
    let arn = f
        .run(json!({
            "taskDefinition": "echo",
            "propagateTags": "TASK_DEFINITION",
            "tags": [{"key": "b", "value": "task"}],
        }))
        .await;
    let t = f.describe_task(&arn).await;
    let mut tags: Vec<(String, String)> = t["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["key"].as_str().unwrap_or_default().to_owned(),
                t["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        vec![("a".into(), "def".into()), ("b".into(), "task".into())]
    );
    f.wait_idle().await;
}

#[tokio::test]
async fn stopped_tasks_are_pruned_after_their_retention() {
    let f = Fixture::new();
    f.register(echo_def("echo", &[])).await;
    let arn = f
        .run(json!({"taskDefinition": "echo", "tags": [{"key": "k", "value": "v"}]}))
        .await;
    f.wait_status(&arn, "STOPPED").await;
    f.wait_idle().await;
    let kept = f
        .svc
        .prune_stopped_tasks(crate::control::STOPPED_TASK_RETENTION)
        .await
        .ok();
    assert_eq!(kept, Some(0));
    assert_eq!(f.describe_task(&arn).await["lastStatus"], "STOPPED");
    let pruned = f
        .svc
        .prune_stopped_tasks(std::time::Duration::ZERO)
        .await
        .ok();
    assert_eq!(pruned, Some(1));
    let out = f.ok("DescribeTasks", json!({"tasks": [arn]})).await;
    assert_eq!(out["failures"][0]["reason"], "MISSING");
    assert!(
        f.store.dump().tags.is_empty(),
        "the task's tags went with it"
    );
}
