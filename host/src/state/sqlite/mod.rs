//! SQLite backend of the state store: one file under the data dir, in WAL mode.
//!
//! One connection behind a mutex serves every caller. Operations are a few small
//! statements each, so contention is negligible next to the fsync every commit pays
//! anyway, and a single connection keeps a caller's read-after-write trivially consistent.
//! Durability comes from `synchronous=FULL` (see [`schema::configure`]): when a write
//! method returns, the change is in the fsynced WAL. The one exception is
//! `put_task_progress` (a task's own transitions, acknowledged to nobody), committed
//! without the fsync and made durable by the next FULL commit (see [`schema::relaxed`]).

mod clusters;
mod documents;
mod rows;
mod schema;
mod services;
mod tags;
mod taskdefs;
mod tasks;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;
use serde_json::Value;

use super::{
    ClusterRecord, Document, Expect, Result, ServiceRecord, StateError, StateStore, TaskDefQuery,
    TaskDefRecord, TaskQuery, TaskRecord,
};
use rows::map_err;

/// The SQLite [`StateStore`].
pub struct SqliteStateStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStateStore").finish_non_exhaustive()
    }
}

impl SqliteStateStore {
    /// Opens (creating if needed) the database at `path` and its parent directory, and
    /// migrates it to the current schema. Fails with [`StateError::TooNew`] if a newer
    /// wasmgate wrote it.
    pub fn open(path: &Path) -> Result<Self> {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent {
            std::fs::create_dir_all(dir).map_err(|e| {
                StateError::Db(format!("creating state directory {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StateError::Db(format!("opening {}: {e}", path.display())))?;
        let store = Self::init(conn)?;
        // SQLite fsyncs the directory when it creates the WAL, but not when it creates the
        // main file; without this a power loss right after the first start could lose the
        // file's directory entry, and with it every acknowledged write.
        if let Some(dir) = parent {
            sync_dir(dir)?;
        }
        Ok(store)
    }

    /// A private database that lives as long as the store (tests, throwaway hosts).
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(map_err("open"))?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The connection. A panic while it was held cannot leave a half-applied change
    /// (an open transaction rolls back when dropped during unwinding), so a poisoned
    /// lock is safe to take over.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        crate::util::sync::lock(&self.conn)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StateError::Db(format!("syncing {}: {e}", dir.display())))
}

impl StateStore for SqliteStateStore {
    fn put_cluster(&self, cluster: &ClusterRecord) -> Result<()> {
        clusters::put(&self.conn(), cluster)
    }

    fn get_cluster(&self, name: &str) -> Result<Option<ClusterRecord>> {
        clusters::get(&self.conn(), name)
    }

    fn list_clusters(&self) -> Result<Vec<ClusterRecord>> {
        clusters::list(&self.conn())
    }

    fn register_task_definition(
        &self,
        family: &str,
        definition: &Value,
        registered_at_ms: i64,
    ) -> Result<TaskDefRecord> {
        taskdefs::register(&mut self.conn(), family, definition, registered_at_ms)
    }

    fn get_task_definition(
        &self,
        family: &str,
        revision: Option<u32>,
    ) -> Result<Option<TaskDefRecord>> {
        taskdefs::get(&self.conn(), family, revision)
    }

    fn set_task_definition_status(
        &self,
        family: &str,
        revision: u32,
        status: &str,
        at_ms: i64,
    ) -> Result<Option<TaskDefRecord>> {
        taskdefs::set_status(&mut self.conn(), family, revision, status, at_ms)
    }

    fn list_task_definitions(&self, q: &TaskDefQuery) -> Result<Vec<TaskDefRecord>> {
        taskdefs::list(&self.conn(), q)
    }

    fn list_families(&self, prefix: Option<&str>, status: Option<&str>) -> Result<Vec<String>> {
        taskdefs::families(&self.conn(), prefix, status)
    }

    fn put_task(&self, task: &TaskRecord) -> Result<()> {
        tasks::put(&self.conn(), task)
    }

    fn put_task_progress(&self, task: &TaskRecord) -> Result<()> {
        let conn = self.conn();
        schema::relaxed(&conn, || tasks::put(&conn, task))
    }

    fn get_task(&self, task_id: &str) -> Result<Option<TaskRecord>> {
        tasks::get(&self.conn(), task_id)
    }

    fn list_tasks(&self, q: &TaskQuery) -> Result<Vec<TaskRecord>> {
        tasks::list(&self.conn(), q)
    }

    fn unfinished_tasks(&self) -> Result<Vec<TaskRecord>> {
        tasks::unfinished(&self.conn())
    }

    fn prune_stopped_tasks(&self, before_ms: i64) -> Result<usize> {
        tasks::prune_stopped(&self.conn(), before_ms)
    }

    fn put_service(&self, service: &ServiceRecord) -> Result<()> {
        services::put(&self.conn(), service)
    }

    fn get_service(&self, cluster: &str, name: &str) -> Result<Option<ServiceRecord>> {
        services::get(&self.conn(), cluster, name)
    }

    fn list_services(&self, status: Option<&str>) -> Result<Vec<ServiceRecord>> {
        services::list(&self.conn(), status)
    }

    fn tags(&self, arn: &str) -> Result<Vec<(String, String)>> {
        tags::get(&self.conn(), arn)
    }

    fn tag(&self, arn: &str, tags: &[(String, String)]) -> Result<()> {
        tags::tag(&mut self.conn(), arn, tags)
    }

    fn untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        tags::untag(&mut self.conn(), arn, keys)
    }

    fn put_document(
        &self,
        kind: &str,
        key: &str,
        value: &Value,
        expect: Expect,
    ) -> Result<Option<u64>> {
        documents::put(&mut self.conn(), kind, key, value, expect)
    }

    fn get_document(&self, kind: &str, key: &str) -> Result<Option<Document>> {
        documents::get(&self.conn(), kind, key)
    }

    fn list_documents(&self, kind: &str, prefix: &str) -> Result<Vec<Document>> {
        documents::list(&self.conn(), kind, prefix)
    }

    fn delete_document(&self, kind: &str, key: &str, expect: Expect) -> Result<bool> {
        documents::delete(&mut self.conn(), kind, key, expect)
    }
}
