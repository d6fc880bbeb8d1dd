//! A store that fails: the host's fault, answered as ServerException (500), never as a
//! client error, and never a panic.

use super::{principal, runtime, settings};
use crate::control::EcsService;
use crate::state::memory::MemStore;
use crate::state::{
    ClusterRecord, Document, Expect, Result, ServiceRecord, StateError, StateStore, TaskDefQuery,
    TaskDefRecord, TaskQuery, TaskRecord,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
struct Failing {
    inner: MemStore,
    fail: AtomicBool,
}

impl Failing {
    fn check(&self) -> Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            Err(StateError::Db("disk I/O error".into()))
        } else {
            Ok(())
        }
    }
}

impl StateStore for Failing {
    fn put_cluster(&self, c: &ClusterRecord) -> Result<()> {
        self.check()?;
        self.inner.put_cluster(c)
    }
    fn get_cluster(&self, name: &str) -> Result<Option<ClusterRecord>> {
        self.check()?;
        self.inner.get_cluster(name)
    }
    fn list_clusters(&self) -> Result<Vec<ClusterRecord>> {
        self.check()?;
        self.inner.list_clusters()
    }
    fn register_task_definition(&self, f: &str, d: &Value, at: i64) -> Result<TaskDefRecord> {
        self.check()?;
        self.inner.register_task_definition(f, d, at)
    }
    fn get_task_definition(&self, f: &str, r: Option<u32>) -> Result<Option<TaskDefRecord>> {
        self.check()?;
        self.inner.get_task_definition(f, r)
    }
    fn set_task_definition_status(
        &self,
        f: &str,
        r: u32,
        s: &str,
        at: i64,
    ) -> Result<Option<TaskDefRecord>> {
        self.check()?;
        self.inner.set_task_definition_status(f, r, s, at)
    }
    fn list_task_definitions(&self, q: &TaskDefQuery) -> Result<Vec<TaskDefRecord>> {
        self.check()?;
        self.inner.list_task_definitions(q)
    }
    fn list_families(&self, p: Option<&str>, s: Option<&str>) -> Result<Vec<String>> {
        self.check()?;
        self.inner.list_families(p, s)
    }
    fn put_task(&self, t: &TaskRecord) -> Result<()> {
        self.check()?;
        self.inner.put_task(t)
    }
    fn get_task(&self, id: &str) -> Result<Option<TaskRecord>> {
        self.check()?;
        self.inner.get_task(id)
    }
    fn list_tasks(&self, q: &TaskQuery) -> Result<Vec<TaskRecord>> {
        self.check()?;
        self.inner.list_tasks(q)
    }
    fn unfinished_tasks(&self) -> Result<Vec<TaskRecord>> {
        self.check()?;
        self.inner.unfinished_tasks()
    }
    fn prune_stopped_tasks(&self, before: i64) -> Result<usize> {
        self.check()?;
        self.inner.prune_stopped_tasks(before)
    }
    fn put_service(&self, s: &ServiceRecord) -> Result<()> {
        self.check()?;
        self.inner.put_service(s)
    }
    fn get_service(&self, cluster: &str, name: &str) -> Result<Option<ServiceRecord>> {
        self.check()?;
        self.inner.get_service(cluster, name)
    }
    fn list_services(&self, status: Option<&str>) -> Result<Vec<ServiceRecord>> {
        self.check()?;
        self.inner.list_services(status)
    }
    fn tags(&self, arn: &str) -> Result<Vec<(String, String)>> {
        self.check()?;
        self.inner.tags(arn)
    }
    fn tag(&self, arn: &str, t: &[(String, String)]) -> Result<()> {
        self.check()?;
        self.inner.tag(arn, t)
    }
    fn untag(&self, arn: &str, k: &[String]) -> Result<()> {
        self.check()?;
        self.inner.untag(arn, k)
    }
    fn put_document(&self, kind: &str, key: &str, v: &Value, e: Expect) -> Result<Option<u64>> {
        self.check()?;
        self.inner.put_document(kind, key, v, e)
    }
    fn get_document(&self, kind: &str, key: &str) -> Result<Option<Document>> {
        self.check()?;
        self.inner.get_document(kind, key)
    }
    fn list_documents(&self, kind: &str, prefix: &str) -> Result<Vec<Document>> {
        self.check()?;
        self.inner.list_documents(kind, prefix)
    }
    fn delete_document(&self, kind: &str, key: &str, e: Expect) -> Result<bool> {
        self.check()?;
        self.inner.delete_document(kind, key, e)
    }
}

#[tokio::test]
async fn a_failing_store_is_a_server_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Failing::default());
    let svc = EcsService::new(
        store.clone() as Arc<dyn StateStore>,
        runtime(&dir.path().join("data")),
        settings(),
    )
    .expect("service");
    store.fail.store(true, Ordering::SeqCst);
    for (op, body) in [
        ("ListClusters", json!({})),
        ("CreateCluster", json!({"clusterName": "x"})),
        (
            "DescribeTasks",
            json!({"tasks": ["0123456789abcdef0123456789abcdef"]}),
        ),
        ("RunTask", json!({"taskDefinition": "x"})),
    ] {
        let e = svc
            .call(&principal(), op, body)
            .await
            .err()
            .unwrap_or_else(|| panic!("{op} succeeded"));
        assert_eq!(e.code, "ServerException", "{op}: {e:?}");
        assert_eq!(e.status, 500, "{op}: {e:?}");
    }
    // A bad request is still the client's fault, whatever the store does.
    let e = svc
        .call(&principal(), "ListClusters", json!({"maxResults": 0}))
        .await
        .err()
        .map(|e| e.code);
    assert_eq!(e.as_deref(), Some("InvalidParameterException"));
    // And opening the control plane over a failing store fails with a typed error.
    let opened = EcsService::new(
        store as Arc<dyn StateStore>,
        runtime(&dir.path().join("data2")),
        settings(),
    );
    assert!(matches!(
        opened,
        Err(crate::control::ControlError::State(_))
    ));
}
