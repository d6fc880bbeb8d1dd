//! Tests of the ECS operations through `EcsService::call`, as the HTTP front end calls it.

mod clusters;
mod failing;
mod fuzz;
mod recovery;
mod sqlite;
mod tags;
mod taskdefs;
mod tasks;

use super::{EcsService, EcsSettings};
use crate::config::{HostConfig, PoolConfig};
use crate::protocol::{ApiError, Principal};
use crate::runtime::Runtime;
use crate::state::StateStore;
use crate::state::memory::MemStore;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub fn guest(name: &str) -> String {
    format!("{}/../target/wasm/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

pub fn principal() -> Principal {
    Principal::root("test", format!("arn:aws:iam::{ACCOUNT}:user/test"))
}

pub fn settings() -> EcsSettings {
    EcsSettings {
        region: REGION.into(),
        account_id: ACCOUNT.into(),
    }
}

pub fn runtime(data_dir: &Path) -> Runtime {
    Runtime::new(HostConfig {
        data_dir: Some(data_dir.to_path_buf()),
        pool: PoolConfig {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    })
    .expect("runtime")
}

/// One control plane over an in-memory store, with its own data directory.
pub struct Fixture {
    pub svc: Arc<EcsService>,
    pub store: Arc<MemStore>,
    pub _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(MemStore::default());
        let svc = EcsService::new(
            store.clone() as Arc<dyn StateStore>,
            runtime(&dir.path().join("data")),
            settings(),
        )
        .expect("service");
        Self {
            svc,
            store,
            _dir: dir,
        }
    }

    pub async fn call(&self, op: &str, body: Value) -> Result<Value, ApiError> {
        self.svc.call(&principal(), op, body).await
    }

    /// A call that must succeed.
    pub async fn ok(&self, op: &str, body: Value) -> Value {
        match self.call(op, body.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("{op} {body} failed: {e:?}"),
        }
    }

    /// A call that must fail with `code`; returns the message.
    pub async fn err(&self, op: &str, body: Value, code: &str) -> String {
        match self.call(op, body.clone()).await {
            Ok(v) => panic!("{op} {body} succeeded: {v}"),
            Err(e) => {
                assert_eq!(e.code, code, "{op} {body}: {e:?}");
                assert_eq!(e.status, 400, "{op} {body}: {e:?}");
                e.message
            }
        }
    }

    /// Registers `def` and returns its ARN.
    pub async fn register(&self, def: Value) -> String {
        let out = self.ok("RegisterTaskDefinition", def).await;
        out["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .expect("arn")
            .to_owned()
    }

    /// Runs one task of `taskdef` in `default`; returns its ARN.
    pub async fn run(&self, body: Value) -> String {
        let out = self.ok("RunTask", body).await;
        assert_eq!(out["failures"], json!([]), "{out}");
        out["tasks"][0]["taskArn"]
            .as_str()
            .expect("task arn")
            .to_owned()
    }

    pub async fn describe_task(&self, arn: &str) -> Value {
        let out = self
            .ok(
                "DescribeTasks",
                json!({ "tasks": [arn], "include": ["TAGS"] }),
            )
            .await;
        out["tasks"][0].clone()
    }

    /// Polls DescribeTasks until the task's lastStatus is `status`.
    pub async fn wait_status(&self, arn: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let task = self.describe_task(arn).await;
            if task["lastStatus"] == status {
                return task;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "task never reached {status}: {task}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until no task of this host is live (every watcher has written STOPPED).
    pub async fn wait_idle(&self) {
        tokio::time::timeout(Duration::from_secs(60), self.svc.wait_idle())
            .await
            .expect("tasks never stopped");
    }
}

/// A task definition whose one container runs `echo` with `args`.
pub fn echo_def(family: &str, args: &[&str]) -> Value {
    json!({
        "family": family,
        "cpu": "256",
        "memory": "512",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "containerDefinitions": [{
            "name": "app",
            "image": guest("echo"),
            "command": args,
            "essential": true,
        }],
    })
}

/// A task definition that sleeps `ms` and stops 2 s after a stop request.
pub fn sleep_def(family: &str, ms: u64) -> Value {
    json!({
        "family": family,
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "sleeper",
            "image": guest("sleep"),
            "command": [ms.to_string()],
            "stopTimeout": 2,
        }],
    })
}

#[tokio::test]
async fn unknown_operations_and_bodies() {
    let f = Fixture::new();
    let msg = f
        .err("LaunchRocket", json!({}), "UnknownOperationException")
        .await;
    assert!(msg.contains("LaunchRocket"), "{msg}");
    for op in [
        "ListClusters",
        "CreateCluster",
        "RunTask",
        "RegisterTaskDefinition",
    ] {
        f.err(op, json!([1, 2]), "InvalidParameterException").await;
        f.err(op, json!("x"), "InvalidParameterException").await;
    }
}

#[tokio::test]
async fn service_identity() {
    let f = Fixture::new();
    use crate::protocol::{Protocol, Service};
    assert_eq!(f.svc.signing_name(), "ecs");
    assert!(matches!(
        f.svc.protocols(),
        [Protocol::AwsJson1_1 {
            target_prefix: "AmazonEC2ContainerServiceV20141113"
        }]
    ));
}
