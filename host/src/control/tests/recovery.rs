//! A host that dies with tasks running: the next one over the same store records them
//! as STOPPED, and keeps the history of everything else.

use super::{ACCOUNT, REGION, principal, runtime, settings, sleep_def};
use crate::control::EcsService;
use crate::control::recovery::HOST_RESTARTED;
use crate::state::StateStore;
use crate::state::memory::MemStore;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

async fn call(svc: &EcsService, op: &str, body: Value) -> Value {
    match svc.call(&principal(), op, body.clone()).await {
        Ok(v) => v,
        Err(e) => panic!("{op} {body}: {e:?}"),
    }
}

#[tokio::test]
async fn a_restart_records_lost_tasks_as_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let store = Arc::new(MemStore::default());

    // The first host runs on its own tokio runtime, so that it can die mid-work: shutting
    // that runtime down drops its tasks' drivers and watchers, as a SIGKILL would.
    let first_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (store1, data1) = (store.clone(), data.clone());
    let (running_arn, stopped_arn) = first_rt
        .spawn(async move {
            let svc = EcsService::new(store1 as Arc<dyn StateStore>, runtime(&data1), settings())
                .expect("service");
            call(
                &svc,
                "CreateCluster",
                json!({"clusterName": "keep", "tags": [{"key": "k", "value": "v"}]}),
            )
            .await;
            call(&svc, "RegisterTaskDefinition", sleep_def("sleeper", 60_000)).await;
            call(&svc, "RegisterTaskDefinition", sleep_def("quick", 1)).await;
            let quick = call(&svc, "RunTask", json!({"taskDefinition": "quick"})).await;
            let stopped_arn = quick["tasks"][0]["taskArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let long = call(&svc, "RunTask", json!({"taskDefinition": "sleeper"})).await;
            let running_arn = long["tasks"][0]["taskArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            for _ in 0..3000 {
                let out = call(
                    &svc,
                    "DescribeTasks",
                    json!({"tasks": [running_arn, stopped_arn]}),
                )
                .await;
                if out["tasks"][0]["lastStatus"] == "RUNNING"
                    && out["tasks"][1]["lastStatus"] == "STOPPED"
                {
                    return (running_arn, stopped_arn);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("tasks never reached RUNNING / STOPPED");
        })
        .await
        .expect("first host");
    first_rt.shutdown_background();
    let lost_before = store.get_task(running_arn.rsplit('/').next().unwrap_or_default());
    let lost_before = lost_before.ok().flatten().expect("stored");
    assert_eq!(lost_before.last_status, "RUNNING");

    let svc = EcsService::new(
        store.clone() as Arc<dyn StateStore>,
        runtime(&data),
        settings(),
    )
    .expect("second host");
    let out = call(
        &svc,
        "DescribeTasks",
        json!({"tasks": [running_arn, stopped_arn], "include": ["TAGS"]}),
    )
    .await;
    assert_eq!(out["failures"], json!([]));
    let lost = &out["tasks"][0];
    assert_eq!(lost["lastStatus"], "STOPPED");
    assert_eq!(lost["desiredStatus"], "STOPPED");
    assert_eq!(lost["stopCode"], "TerminationNotice");
    assert_eq!(lost["stoppedReason"], HOST_RESTARTED);
    assert!(lost["stoppedAt"].is_f64());
    assert_eq!(lost["containers"][0]["lastStatus"], "STOPPED");
    assert!(lost["containers"][0].get("exitCode").is_none());
    assert!(lost["version"].as_u64() > lost_before.task["version"].as_u64());
    // The task that had finished keeps its own ending.
    let done = &out["tasks"][1];
    assert_eq!(done["stopCode"], "EssentialContainerExited");
    assert_eq!(done["containers"][0]["exitCode"], 0);

    // Clusters, definitions and tags survived; nothing is running.
    let d = call(
        &svc,
        "DescribeClusters",
        json!({"clusters": ["keep", "default"], "include": ["TAGS"]}),
    )
    .await;
    assert_eq!(
        d["clusters"][0]["tags"],
        json!([{"key": "k", "value": "v"}])
    );
    assert_eq!(d["clusters"][1]["runningTasksCount"], 0);
    let running = call(&svc, "ListTasks", json!({})).await;
    assert_eq!(running["taskArns"], json!([]));
    let td = call(
        &svc,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "sleeper"}),
    )
    .await;
    assert_eq!(
        td["taskDefinition"]["taskDefinitionArn"],
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/sleeper:1")
    );
    // Registering goes on from the last revision.
    let next = call(&svc, "RegisterTaskDefinition", sleep_def("sleeper", 5)).await;
    assert_eq!(next["taskDefinition"]["revision"], 2);
}

#[tokio::test]
async fn a_task_that_never_ran_failed_to_start() {
    let store = MemStore::default();
    let mut record = crate::state::TaskRecord {
        task_id: "0123456789abcdef0123456789abcdef".into(),
        cluster: "default".into(),
        task_definition: "x:1".into(),
        family: "x".into(),
        last_status: "PENDING".into(),
        desired_status: "RUNNING".into(),
        started_by: None,
        group: None,
        service: None,
        created_at_ms: 1,
        stopped_at_ms: None,
        task: json!({"lastStatus": "PENDING", "version": 2,
                     "containers": [{"name": "a", "lastStatus": "PENDING"}]}),
    };
    store.put_task(&record).expect("put");
    record.task_id = "11111111111111111111111111111111".into();
    record.last_status = "STOPPING".into();
    record.task = json!({"lastStatus": "STOPPING", "startedAt": 1.0, "stopCode": "UserInitiated",
                         "stoppedReason": "bye", "containers": []});
    store.put_task(&record).expect("put");
    assert_eq!(super::super::recovery::recover(&store).ok(), Some(2));
    let never = store
        .get_task("0123456789abcdef0123456789abcdef")
        .ok()
        .flatten()
        .expect("task");
    assert_eq!(never.last_status, "STOPPED");
    assert_eq!(never.desired_status, "STOPPED");
    assert!(never.stopped_at_ms.is_some());
    assert_eq!(never.task["stopCode"], "TaskFailedToStart");
    assert_eq!(never.task["version"], 3);
    assert_eq!(never.task["containers"][0]["lastStatus"], "STOPPED");
    let stopping = store
        .get_task("11111111111111111111111111111111")
        .ok()
        .flatten()
        .expect("task");
    assert_eq!(stopping.task["stopCode"], "UserInitiated");
    assert_eq!(stopping.task["stoppedReason"], "bye");
    assert_eq!(super::super::recovery::recover(&store).ok(), Some(0));
}
