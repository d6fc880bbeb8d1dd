use super::{ACCOUNT, Fixture, REGION, sleep_def};
use serde_json::{Value, json};
use std::collections::HashSet;

fn cluster_arn(name: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}")
}

#[tokio::test]
async fn default_exists_on_first_start() {
    let f = Fixture::new();
    let out = f.ok("DescribeClusters", json!({})).await;
    assert_eq!(out["failures"], json!([]));
    let c = &out["clusters"][0];
    assert_eq!(c["clusterName"], "default");
    assert_eq!(c["clusterArn"], cluster_arn("default"));
    assert_eq!(c["status"], "ACTIVE");
    for count in [
        "runningTasksCount",
        "pendingTasksCount",
        "activeServicesCount",
        "registeredContainerInstancesCount",
    ] {
        assert_eq!(c[count], 0, "{count}");
    }
    let out = f.ok("ListClusters", json!({})).await;
    assert_eq!(out["clusterArns"], json!([cluster_arn("default")]));
    assert!(out.get("nextToken").is_none());
}

#[tokio::test]
async fn create_is_idempotent_and_keeps_tags() {
    let f = Fixture::new();
    let body = json!({
        "clusterName": "demo",
        "tags": [{"key": "team", "value": "a"}],
        "settings": [{"name": "containerInsights", "value": "enabled"}],
    });
    let first = f.ok("CreateCluster", body.clone()).await;
    assert_eq!(first["cluster"]["clusterArn"], cluster_arn("demo"));
    assert_eq!(first["cluster"]["status"], "ACTIVE");
    assert_eq!(
        first["cluster"]["tags"],
        json!([{"key": "team", "value": "a"}])
    );
    assert_eq!(
        first["cluster"]["settings"],
        json!([{"name": "containerInsights", "value": "enabled"}])
    );
    let again = f.ok("CreateCluster", json!({"clusterName": "demo"})).await;
    assert_eq!(again["cluster"]["clusterArn"], cluster_arn("demo"));
    assert_eq!(
        again["cluster"]["tags"],
        json!([{"key": "team", "value": "a"}])
    );
    // No name: `default`, which exists already.
    let d = f.ok("CreateCluster", json!({})).await;
    assert_eq!(d["cluster"]["clusterName"], "default");
    let out = f.ok("ListClusters", json!({})).await;
    assert_eq!(
        out["clusterArns"],
        json!([cluster_arn("default"), cluster_arn("demo")])
    );
}

#[tokio::test]
async fn create_refuses_bad_members() {
    let f = Fixture::new();
    let before = f.store.dump();
    let msg = f
        .err(
            "CreateCluster",
            json!({"clusterName": "bad name"}),
            "InvalidParameterException",
        )
        .await;
    assert!(msg.starts_with("clusterName:"), "{msg}");
    f.err(
        "CreateCluster",
        json!({"clusterName": ""}),
        "InvalidParameterException",
    )
    .await;
    f.err(
        "CreateCluster",
        json!({"clusterName": "x".repeat(256)}),
        "InvalidParameterException",
    )
    .await;
    let msg = f
        .err(
            "CreateCluster",
            json!({"clusterName": 5}),
            "InvalidParameterException",
        )
        .await;
    assert_eq!(
        msg,
        "clusterName: invalid type: integer `5`, expected a string"
    );
    let msg = f
        .err(
            "CreateCluster",
            json!({"clusterName": "ok", "settings": [{"name": "x", "value": "enabled"}]}),
            "InvalidParameterException",
        )
        .await;
    assert!(msg.starts_with("settings[0].name:"), "{msg}");
    let msg = f
        .err(
            "CreateCluster",
            json!({"clusterName": "ok", "tags": [{"key": "aws:x", "value": "v"}]}),
            "InvalidParameterException",
        )
        .await;
    assert!(msg.starts_with("tags[0].key:"), "{msg}");
    assert_eq!(f.store.dump(), before);
}

#[tokio::test]
async fn list_pages_to_the_end_without_repeating_a_token() {
    let f = Fixture::new();
    for i in 0..7 {
        f.ok("CreateCluster", json!({"clusterName": format!("c{i}")}))
            .await;
    }
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    let mut seen = HashSet::new();
    let mut pages = 0;
    loop {
        let mut body = json!({"maxResults": 3});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let out = f.ok("ListClusters", body).await;
        pages += 1;
        let arns = out["clusterArns"].as_array().expect("list").clone();
        assert!(arns.len() <= 3);
        all.extend(arns);
        match out.get("nextToken").and_then(Value::as_str) {
            Some(t) => {
                assert!(seen.insert(t.to_owned()), "token repeated");
                token = Some(t.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 8);
    let unique: HashSet<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(unique.len(), 8);

    for bad in [0, 101, -1] {
        let msg = f
            .err(
                "ListClusters",
                json!({"maxResults": bad}),
                "InvalidParameterException",
            )
            .await;
        assert!(msg.starts_with("maxResults:"), "{msg}");
    }
    let msg = f
        .err(
            "ListClusters",
            json!({"nextToken": "garbage"}),
            "InvalidParameterException",
        )
        .await;
    assert!(msg.starts_with("nextToken:"), "{msg}");
}

#[tokio::test]
async fn describe_reports_missing_and_includes() {
    let f = Fixture::new();
    f.ok(
        "CreateCluster",
        json!({"clusterName": "demo", "tags": [{"key": "k", "value": "v"}]}),
    )
    .await;
    let out = f
        .ok(
            "DescribeClusters",
            json!({
                "clusters": ["demo", cluster_arn("default"), "nope", "arn:aws:ecs:eu-west-1:1:cluster/x"],
                "include": ["TAGS", "SETTINGS", "STATISTICS"],
            }),
        )
        .await;
    let clusters = out["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[0]["clusterName"], "demo");
    assert_eq!(clusters[0]["tags"], json!([{"key": "k", "value": "v"}]));
    // The host's capacity (this host is every cluster's container instance).
    assert_eq!(
        clusters[0]["statistics"][0],
        json!({"name": "hostTasksCount", "value": "0"})
    );
    assert_eq!(clusters[1]["clusterName"], "default");
    assert_eq!(
        out["failures"],
        json!([
            {"arn": cluster_arn("nope"), "reason": "MISSING"},
            {"arn": "arn:aws:ecs:eu-west-1:1:cluster/x", "reason": "MISSING"},
        ])
    );
    // Without TAGS, no tags.
    let out = f
        .ok("DescribeClusters", json!({"clusters": ["demo"]}))
        .await;
    assert!(out["clusters"][0].get("tags").is_none());
    let msg = f
        .err(
            "DescribeClusters",
            json!({"include": ["EVERYTHING"]}),
            "InvalidParameterException",
        )
        .await;
    assert!(msg.starts_with("include[0]:"), "{msg}");
    let many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let msg = f
        .err(
            "DescribeClusters",
            json!({"clusters": many}),
            "InvalidParameterException",
        )
        .await;
    assert!(msg.starts_with("clusters:"), "{msg}");
}

#[tokio::test]
async fn delete_makes_inactive_and_refuses_busy_clusters() {
    let f = Fixture::new();
    f.ok("CreateCluster", json!({"clusterName": "gone"})).await;
    let out = f.ok("DeleteCluster", json!({"cluster": "gone"})).await;
    assert_eq!(out["cluster"]["status"], "INACTIVE");
    assert_eq!(out["cluster"]["clusterArn"], cluster_arn("gone"));
    // Still describable, as INACTIVE; no longer listed; gone for new work.
    let d = f
        .ok("DescribeClusters", json!({"clusters": ["gone"]}))
        .await;
    assert_eq!(d["clusters"][0]["status"], "INACTIVE");
    let l = f.ok("ListClusters", json!({})).await;
    assert_eq!(l["clusterArns"], json!([cluster_arn("default")]));
    let msg = f
        .err(
            "DeleteCluster",
            json!({"cluster": "gone"}),
            "ClusterNotFoundException",
        )
        .await;
    assert_eq!(msg, "Cluster not found.");
    f.err(
        "DeleteCluster",
        json!({"cluster": "never"}),
        "ClusterNotFoundException",
    )
    .await;
    f.err("DeleteCluster", json!({}), "InvalidParameterException")
        .await;
    // Made again: ACTIVE.
    let again = f.ok("CreateCluster", json!({"clusterName": "gone"})).await;
    assert_eq!(again["cluster"]["status"], "ACTIVE");

    // A cluster with a running task cannot be deleted; its counts show the task.
    f.ok("CreateCluster", json!({"clusterName": "busy"})).await;
    f.register(sleep_def("sleeper", 60_000)).await;
    let arn = f
        .run(json!({"cluster": "busy", "taskDefinition": "sleeper"}))
        .await;
    let before = f.store.dump().clusters;
    let msg = f
        .err(
            "DeleteCluster",
            json!({"cluster": "busy"}),
            "ClusterContainsTasksException",
        )
        .await;
    assert_eq!(msg, "The Cluster cannot be deleted while Tasks are active.");
    assert_eq!(f.store.dump().clusters, before);
    let running = f
        .ok("DescribeTasks", json!({"cluster": "busy", "tasks": [arn]}))
        .await;
    assert_eq!(running["failures"], json!([]));
    f.wait_status_in("busy", &arn, "RUNNING").await;
    let d = f
        .ok("DescribeClusters", json!({"clusters": ["busy"]}))
        .await;
    assert_eq!(d["clusters"][0]["runningTasksCount"], 1);
    f.ok(
        "StopTask",
        json!({"cluster": "busy", "task": arn, "reason": "done"}),
    )
    .await;
    f.wait_idle().await;
    let out = f.ok("DeleteCluster", json!({"cluster": "busy"})).await;
    assert_eq!(out["cluster"]["status"], "INACTIVE");
}

#[tokio::test]
async fn default_can_be_deleted() {
    let f = Fixture::new();
    let out = f.ok("DeleteCluster", json!({"cluster": "default"})).await;
    assert_eq!(out["cluster"]["status"], "INACTIVE");
    f.register(sleep_def("s", 10)).await;
    f.err(
        "RunTask",
        json!({"taskDefinition": "s"}),
        "ClusterNotFoundException",
    )
    .await;
}

impl Fixture {
    /// `wait_status` for a task outside `default`.
    pub async fn wait_status_in(&self, cluster: &str, arn: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let out = self
                .ok("DescribeTasks", json!({"cluster": cluster, "tasks": [arn]}))
                .await;
            let task = out["tasks"][0].clone();
            if task["lastStatus"] == status {
                return task;
            }
            assert!(tokio::time::Instant::now() < deadline, "{task}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
