//! Unit tests of the SQLite state store, against in-memory and file databases.

mod clusters_tags;
mod documents;
mod durability;
mod schema;
mod taskdefs;
mod tasks;

use serde_json::json;

use super::SqliteStateStore;
use crate::state::{ClusterRecord, TaskRecord};

fn mem() -> SqliteStateStore {
    SqliteStateStore::open_in_memory().expect("open in-memory store")
}

fn cluster(name: &str) -> ClusterRecord {
    ClusterRecord {
        name: name.to_owned(),
        status: "ACTIVE".to_owned(),
        created_at_ms: 1_700_000_000_000,
        extra: json!({"settings": [{"name": "containerInsights", "value": "disabled"}]}),
    }
}

fn task(id: &str, cluster: &str, created_at_ms: i64) -> TaskRecord {
    TaskRecord {
        task_id: id.to_owned(),
        cluster: cluster.to_owned(),
        task_definition: "web:1".to_owned(),
        family: "web".to_owned(),
        last_status: "RUNNING".to_owned(),
        desired_status: "RUNNING".to_owned(),
        started_by: None,
        group: Some("family:web".to_owned()),
        service: None,
        created_at_ms,
        stopped_at_ms: None,
        task: json!({"containers": [{"name": "app", "lastStatus": "RUNNING"}]}),
    }
}

fn stopped(mut t: TaskRecord, at_ms: i64) -> TaskRecord {
    t.last_status = "STOPPED".to_owned();
    t.desired_status = "STOPPED".to_owned();
    t.stopped_at_ms = Some(at_ms);
    t
}

/// Runs raw SQL on the store's connection, to plant states the API cannot produce.
fn raw(store: &SqliteStateStore, sql: &str) {
    store.conn().execute_batch(sql).expect("raw SQL");
}
