//! Durable control-plane state: clusters, task definitions, tasks, services and tags.
//!
//! The control plane talks to a [`StateStore`]; the SQLite backend (`sqlite`) is the default.
//! Records carry the ECS JSON shapes as `serde_json::Value` so the store needs no change when
//! the API grows a member; the columns beside them are only what queries filter and sort on.
//! Every write is durable when the method returns (an acknowledged write survives SIGKILL).

#[cfg(test)]
pub mod memory;
pub mod owner;
pub mod sqlite;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store: {0}")]
    Db(String),
    #[error("state store: stored record is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "state store schema version {found} is newer than this wasmgate supports ({supported})"
    )]
    TooNew { found: u32, supported: u32 },
}

pub type Result<T> = std::result::Result<T, StateError>;

/// An ECS cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterRecord {
    pub name: String,
    /// ACTIVE or INACTIVE.
    pub status: String,
    pub created_at_ms: i64,
    /// ECS `settings`, `configuration` etc. as given at creation.
    pub extra: Value,
}

/// One revision of a task definition family.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefRecord {
    pub family: String,
    pub revision: u32,
    /// ACTIVE, INACTIVE or DELETE_IN_PROGRESS.
    pub status: String,
    pub registered_at_ms: i64,
    pub deregistered_at_ms: Option<i64>,
    /// The ECS `taskDefinition` shape as registered (without arn/revision/status, which the
    /// control plane adds when describing).
    pub definition: Value,
}

/// What ListTaskDefinitions filters on.
#[derive(Debug, Clone, Default)]
pub struct TaskDefQuery {
    pub family_prefix: Option<String>,
    /// None = any status.
    pub status: Option<String>,
    /// Sort by family then revision; descending reverses both.
    pub descending: bool,
}

/// A task, as last reported.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub task_id: String,
    pub cluster: String,
    /// `family:revision` of its definition.
    pub task_definition: String,
    pub family: String,
    pub last_status: String,
    pub desired_status: String,
    pub started_by: Option<String>,
    pub group: Option<String>,
    /// The service whose scheduler started it. Never read from a request: a RunTask
    /// `group` of `service:X` is only a label.
    pub service: Option<String>,
    pub created_at_ms: i64,
    pub stopped_at_ms: Option<i64>,
    /// The ECS `Task` shape (containers, attachments, overrides, reasons, …).
    pub task: Value,
}

/// What ListTasks filters on; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub cluster: String,
    pub family: Option<String>,
    pub started_by: Option<String>,
    pub group: Option<String>,
    /// Matches `service` (ListTasks' `serviceName`).
    pub service: Option<String>,
    /// Matches `desired_status`.
    pub desired_status: Option<String>,
}

/// An ECS service: the columns queries use, and the whole `Service` shape (deployments,
/// events, configuration) beside them.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRecord {
    pub cluster: String,
    pub name: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    pub created_at_ms: i64,
    /// The ECS `Service` shape as last written by the control plane.
    pub service: Value,
}

/// A record that needs no query beyond its key or a key prefix: IAM users, roles, policies
/// and keys, STS sessions, and the next services' resources (parameters, alarms, rules).
/// One document maps onto one etcd key `/<kind>/<key>`, with its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: String,
    pub key: String,
    pub value: Value,
    /// Increases with every write of this key; what [`Expect::Revision`] compares.
    pub revision: u64,
}

/// The precondition of a document write: what a compare-and-swap in etcd would check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Write whatever is there.
    Any,
    /// Only create: fail if the key exists.
    Absent,
    /// Only if the stored revision is this one (read-modify-write without a lock).
    Revision(u64),
}

/// The store behind the control plane. Implementations must be safe to share across
/// threads; calls may block (callers use `spawn_blocking` where it matters).
pub trait StateStore: Send + Sync {
    // Clusters.
    fn put_cluster(&self, cluster: &ClusterRecord) -> Result<()>;
    fn get_cluster(&self, name: &str) -> Result<Option<ClusterRecord>>;
    /// All clusters, sorted by name.
    fn list_clusters(&self) -> Result<Vec<ClusterRecord>>;

    // Task definitions.
    /// Stores `definition` as the next revision of `family` (1 for a new family; revisions
    /// only ever increase, also after deregistration) and returns the record.
    fn register_task_definition(
        &self,
        family: &str,
        definition: &Value,
        registered_at_ms: i64,
    ) -> Result<TaskDefRecord>;
    /// A given revision, or with `None` the latest ACTIVE one.
    fn get_task_definition(
        &self,
        family: &str,
        revision: Option<u32>,
    ) -> Result<Option<TaskDefRecord>>;
    /// Sets status (and deregistered time); returns the updated record, None if absent.
    fn set_task_definition_status(
        &self,
        family: &str,
        revision: u32,
        status: &str,
        at_ms: i64,
    ) -> Result<Option<TaskDefRecord>>;
    fn list_task_definitions(&self, q: &TaskDefQuery) -> Result<Vec<TaskDefRecord>>;
    /// Family names, sorted; `status` ACTIVE = families with an ACTIVE revision, INACTIVE =
    /// families with no ACTIVE revision, None = all.
    fn list_families(&self, prefix: Option<&str>, status: Option<&str>) -> Result<Vec<String>>;

    // Tasks.
    /// Inserts or replaces the task (keyed by `task_id`); durable when it returns.
    fn put_task(&self, task: &TaskRecord) -> Result<()>;
    /// As [`put_task`](Self::put_task) for a change no caller has been told of yet (a
    /// running task's own progress: PENDING, RUNNING, health): readers see it at once, but
    /// a store may make it durable only with its next durable write. A power loss can lose
    /// it; a crash of the process cannot (the SQLite store: `synchronous=NORMAL`).
    fn put_task_progress(&self, task: &TaskRecord) -> Result<()> {
        self.put_task(task)
    }
    fn get_task(&self, task_id: &str) -> Result<Option<TaskRecord>>;
    /// Matching tasks, oldest first.
    fn list_tasks(&self, q: &TaskQuery) -> Result<Vec<TaskRecord>>;
    /// Tasks not STOPPED: after a host restart these are the ones that were lost.
    fn unfinished_tasks(&self) -> Result<Vec<TaskRecord>>;
    /// Deletes STOPPED tasks stopped before `before_ms`; returns how many.
    fn prune_stopped_tasks(&self, before_ms: i64) -> Result<usize>;

    // Services.
    /// Inserts or replaces the service (keyed by cluster and name).
    fn put_service(&self, service: &ServiceRecord) -> Result<()>;
    fn get_service(&self, cluster: &str, name: &str) -> Result<Option<ServiceRecord>>;
    /// Every service of every cluster whose status is `status` (any with None), oldest first.
    fn list_services(&self, status: Option<&str>) -> Result<Vec<ServiceRecord>>;

    // Tags, by resource ARN.
    fn tags(&self, arn: &str) -> Result<Vec<(String, String)>>;
    /// Adds or replaces the given keys.
    fn tag(&self, arn: &str, tags: &[(String, String)]) -> Result<()>;
    fn untag(&self, arn: &str, keys: &[String]) -> Result<()>;

    // Documents, by kind and key.
    /// Writes `value` if `expect` holds; returns the new revision, or None when it did not
    /// hold (nothing written).
    fn put_document(
        &self,
        kind: &str,
        key: &str,
        value: &Value,
        expect: Expect,
    ) -> Result<Option<u64>>;
    fn get_document(&self, kind: &str, key: &str) -> Result<Option<Document>>;
    /// The documents of `kind` whose key starts with `prefix`, sorted by key.
    fn list_documents(&self, kind: &str, prefix: &str) -> Result<Vec<Document>>;
    /// Deletes if `expect` holds (Absent never does); true when a document was deleted.
    fn delete_document(&self, kind: &str, key: &str, expect: Expect) -> Result<bool>;
}
