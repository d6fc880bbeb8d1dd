//! The same control plane over the real SQLite store, across a restart of the host.

use super::{ACCOUNT, REGION, echo_def, principal, runtime, settings};
use crate::control::EcsService;
use crate::state::StateStore;
use crate::state::sqlite::SqliteStateStore;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

async fn call(svc: &EcsService, op: &str, body: Value) -> Value {
    match svc.call(&principal(), op, body.clone()).await {
        Ok(v) => v,
        Err(e) => panic!("{op} {body}: {e:?}"),
    }
}

fn open(path: &std::path::Path, data: &std::path::Path) -> Arc<EcsService> {
    let store = SqliteStateStore::open(path).expect("sqlite store");
    EcsService::new(
        Arc::new(store) as Arc<dyn StateStore>,
        runtime(data),
        settings(),
    )
    .expect("service")
}

#[tokio::test]
async fn history_survives_a_restart_over_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let data = dir.path().join("data");

    let svc = open(&db, &data);
    call(
        &svc,
        "CreateCluster",
        json!({"clusterName": "c1", "tags": [{"key": "k", "value": "v"}]}),
    )
    .await;
    for args in [["one"], ["two"], ["three"]] {
        call(&svc, "RegisterTaskDefinition", echo_def("echo", &args)).await;
    }
    call(&svc, "RegisterTaskDefinition", echo_def("other", &[])).await;
    call(
        &svc,
        "DeregisterTaskDefinition",
        json!({"taskDefinition": "echo:2"}),
    )
    .await;
    let run = call(
        &svc,
        "RunTask",
        json!({"cluster": "c1", "taskDefinition": "echo", "startedBy": "me"}),
    )
    .await;
    let arn = run["tasks"][0]["taskArn"].as_str().expect("arn").to_owned();
    let mut stopped = Value::Null;
    for _ in 0..3000 {
        let out = call(
            &svc,
            "DescribeTasks",
            json!({"cluster": "c1", "tasks": [arn]}),
        )
        .await;
        if out["tasks"][0]["lastStatus"] == "STOPPED" {
            stopped = out["tasks"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stopped["containers"][0]["exitCode"], 0, "{stopped}");
    svc.shutdown().await;
    drop(svc);

    let svc = open(&db, &data);
    let out = call(
        &svc,
        "DescribeTasks",
        json!({"cluster": "c1", "tasks": [arn]}),
    )
    .await;
    assert_eq!(out["tasks"][0], stopped);
    let listed = call(
        &svc,
        "ListTasks",
        json!({"cluster": "c1", "desiredStatus": "STOPPED", "startedBy": "me", "family": "echo"}),
    )
    .await;
    assert_eq!(listed["taskArns"], json!([arn]));
    let td = |f: &str, r: u32| format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{f}:{r}");
    let mut all = Vec::new();
    let mut body = json!({"maxResults": 1, "sort": "DESC"});
    loop {
        let page = call(&svc, "ListTaskDefinitions", body.clone()).await;
        all.extend(
            page["taskDefinitionArns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        match page.get("nextToken") {
            Some(t) => body["nextToken"] = t.clone(),
            None => break,
        }
    }
    assert_eq!(
        all,
        vec![
            json!(td("other", 1)),
            json!(td("echo", 3)),
            json!(td("echo", 1))
        ]
    );
    let families = call(
        &svc,
        "ListTaskDefinitionFamilies",
        json!({"familyPrefix": "e"}),
    )
    .await;
    assert_eq!(families["families"], json!(["echo"]));
    let next = call(&svc, "RegisterTaskDefinition", echo_def("echo", &[])).await;
    assert_eq!(next["taskDefinition"]["revision"], 4);
    let c = call(
        &svc,
        "DescribeClusters",
        json!({"clusters": ["c1"], "include": ["TAGS"]}),
    )
    .await;
    assert_eq!(
        c["clusters"][0]["tags"],
        json!([{"key": "k", "value": "v"}])
    );
    assert_eq!(c["clusters"][0]["runningTasksCount"], 0);
}
