//! The control plane: ECS semantics over the state store and the task runtime.
//!
//! [`EcsService`] answers the ECS operations (`AmazonEC2ContainerServiceV20141113.*`) that
//! the HTTP front end routes to it. Each request body is checked member by member
//! (`input`), served against the [`StateStore`] and the [`Runtime`], and answered in the
//! ECS wire shapes (`shape`). Tasks started here are watched (`live`): every change of
//! their snapshot is written to the store, so DescribeTasks shows each transition and a
//! restart keeps the history. On start, tasks a previous host left unfinished are
//! recorded as STOPPED (`recovery`).
//!
//! Only the runtime's public API is used here: no wasmtime types.

mod arn;
mod capacity;
mod clusters;
mod error;
mod input;
mod live;
mod overrides;
mod page;
mod recovery;
mod run;
mod service;
mod services;
mod shape;
mod statistics;
mod tags;
mod taskdefs;
mod tasks;
mod tokens;

#[cfg(test)]
mod tests;

pub use error::ControlError;
pub use service::OPERATIONS;

use crate::protocol::Principal;
use crate::runtime::Runtime;
use crate::state::{self, StateStore};
use crate::util::sync::lock;
use crate::util::time;
use arn::Arns;
use error::Result;
use live::LiveTask;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

pub const SIGNING_NAME: &str = "ecs";
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";

/// The cluster that exists on first start and that requests without `cluster` use.
pub const DEFAULT_CLUSTER: &str = "default";
/// STOPPED tasks stay describable at least this long.
pub const STOPPED_TASK_RETENTION: Duration = Duration::from_secs(3600);
/// How often STOPPED tasks past their retention are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(300);
/// How long `shutdown` waits for tasks to stop (the default stopTimeout is 30 s).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(35);

/// What ARNs are made of.
#[derive(Debug, Clone)]
pub struct EcsSettings {
    pub region: String,
    pub account_id: String,
}

/// What the request handlers and the task watchers share.
pub(crate) struct Core {
    state: Arc<dyn StateStore>,
    arns: Arns,
    /// Tasks this host started that have not reached STOPPED, by task id.
    live: Mutex<HashMap<String, Arc<LiveTask>>>,
    /// Signalled whenever a task leaves `live`.
    live_changed: tokio::sync::Notify,
}

impl Core {
    /// Runs a store call on the blocking pool.
    async fn db<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn StateStore) -> state::Result<T> + Send + 'static,
    {
        let store = self.state.clone();
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(result) => result.map_err(ControlError::from),
            Err(e) => Err(ControlError::Internal(format!(
                "state store call failed: {e}"
            ))),
        }
    }

    fn live(&self) -> MutexGuard<'_, HashMap<String, Arc<LiveTask>>> {
        lock(&self.live)
    }
}

/// The ECS API of one wasmgate host.
pub struct EcsService {
    core: Arc<Core>,
    runtime: Runtime,
    /// Relative file images resolve against the host's `image_root`.
    base_dir: PathBuf,
    /// RunTask `clientToken`s seen recently (idempotent retries).
    tokens: tokens::RunTokens,
    shutting_down: AtomicBool,
    /// ECS services: their lock, the scheduler's memory and its wake-up.
    services: services::Services,
}

impl EcsService {
    /// Opens the control plane over `state`: makes sure the `default` cluster exists (on
    /// first start) and records every task a previous host left unfinished as STOPPED.
    /// Called within a tokio runtime, it also starts pruning old STOPPED tasks.
    pub fn new(
        state: Arc<dyn StateStore>,
        runtime: Runtime,
        settings: EcsSettings,
    ) -> Result<Arc<EcsService>, ControlError> {
        let arns = Arns::new(&settings.region, &settings.account_id);
        clusters::ensure_default(state.as_ref())?;
        let recovered = recovery::recover(state.as_ref())?;
        if recovered > 0 {
            let (tasks, were) = if recovered == 1 {
                ("task was", "it")
            } else {
                ("tasks were", "them")
            };
            tracing::warn!(
                "{recovered} {tasks} still running when the previous host stopped; recorded {were} as STOPPED"
            );
        }
        let base_dir = runtime.config().image_root();
        let service = Arc::new(EcsService {
            core: Arc::new(Core {
                state,
                arns,
                live: Mutex::new(HashMap::new()),
                live_changed: tokio::sync::Notify::new(),
            }),
            runtime,
            base_dir,
            tokens: tokens::RunTokens::default(),
            shutting_down: AtomicBool::new(false),
            services: services::Services::default(),
        });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(maintain(Arc::downgrade(&service)));
            handle.spawn(services::run(Arc::downgrade(&service)));
        }
        Ok(service)
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Gives services the load balancer whose target groups their `loadBalancers` name
    /// (without one, every `targetGroupArn` is refused). Only the first call counts.
    pub fn set_load_balancer(&self, lb: crate::lb::LoadBalancer) -> bool {
        self.services.targets.set(lb)
    }

    /// Stops every task this host runs (stopCode TerminationNotice, "Host shutting down")
    /// and waits for them, at most [`SHUTDOWN_GRACE`]. RunTask is refused from now on.
    pub async fn shutdown(&self) {
        self.shutdown_within(SHUTDOWN_GRACE).await;
    }

    /// [`shutdown`](Self::shutdown) with another bound; returns whether every task stopped.
    pub async fn shutdown_within(&self, grace: Duration) -> bool {
        self.shutting_down.store(true, Ordering::SeqCst);
        let live: Vec<Arc<LiveTask>> = self.core.live().values().cloned().collect();
        for task in &live {
            task.request_stop(
                crate::runtime::StopCode::TerminationNotice,
                "Host shutting down".to_owned(),
            );
            if let Err(e) = live::persist(&self.core, task, live::Durability::Acknowledged).await {
                tracing::warn!("cannot record the stop of task {}: {e}", task.meta.task_id);
            }
        }
        let all_stopped = tokio::time::timeout(grace, self.wait_idle()).await.is_ok();
        if !all_stopped {
            tracing::warn!(
                "{} tasks did not stop within {}s of the shutdown",
                self.core.live().len(),
                grace.as_secs()
            );
        }
        all_stopped
    }

    /// Waits until no task of this host is live.
    async fn wait_idle(&self) {
        loop {
            let notified = self.core.live_changed.notified();
            if self.core.live().is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Deletes STOPPED tasks (and their tags) that stopped more than `retention` ago;
    /// returns how many.
    pub async fn prune_stopped_tasks(&self, retention: Duration) -> Result<usize, ControlError> {
        self.tokens.expire(STOPPED_TASK_RETENTION);
        // Tasks stopped at or before `now - retention` go: `+ 1` turns the store's strict
        // "before" into "at or before", so a zero retention prunes a task stopped this instant.
        let cutoff = time::now_ms()
            .saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX))
            .saturating_add(1);
        let arns = self.core.arns.clone();
        self.core
            .db(move |s| {
                for cluster in s.list_clusters()? {
                    let q = state::TaskQuery {
                        cluster: cluster.name.clone(),
                        desired_status: Some("STOPPED".into()),
                        ..Default::default()
                    };
                    for t in s.list_tasks(&q)? {
                        if t.last_status == "STOPPED"
                            && t.stopped_at_ms.is_some_and(|at| at < cutoff)
                        {
                            let arn = arns.task(&t.cluster, &t.task_id);
                            let keys: Vec<String> =
                                s.tags(&arn)?.into_iter().map(|(k, _)| k).collect();
                            if !keys.is_empty() {
                                s.untag(&arn, &keys)?;
                            }
                        }
                    }
                }
                s.prune_stopped_tasks(cutoff)
            })
            .await
    }

    async fn dispatch(&self, principal: &Principal, operation: &str, body: Value) -> Result<Value> {
        match operation {
            "CreateCluster" => self.create_cluster(body).await,
            "DeleteCluster" => self.delete_cluster(body).await,
            "ListClusters" => self.list_clusters(body).await,
            "DescribeClusters" => self.describe_clusters(body).await,
            "UpdateClusterSettings" => self.update_cluster_settings(body).await,
            "RegisterTaskDefinition" => self.register_task_definition(principal, body).await,
            "DeregisterTaskDefinition" => self.deregister_task_definition(body).await,
            "DescribeTaskDefinition" => self.describe_task_definition(body).await,
            "ListTaskDefinitions" => self.list_task_definitions(body).await,
            "ListTaskDefinitionFamilies" => self.list_task_definition_families(body).await,
            "RunTask" => self.run_task(body).await,
            "StopTask" => self.stop_task(body).await,
            "DescribeTasks" => self.describe_tasks(body).await,
            "ListTasks" => self.list_tasks(body).await,
            "CreateService" => self.create_service(body).await,
            "UpdateService" => self.update_service(body).await,
            "DeleteService" => self.delete_service(body).await,
            "DescribeServices" => self.describe_services(body).await,
            "ListServices" => self.list_services(body).await,
            "TagResource" => self.tag_resource(body).await,
            "UntagResource" => self.untag_resource(body).await,
            "ListTagsForResource" => self.list_tags_for_resource(body).await,
            other => Err(ControlError::UnknownOperation(other.to_owned())),
        }
    }
}

/// Background upkeep while the service exists: prunes old STOPPED tasks.
async fn maintain(service: Weak<EcsService>) {
    let mut tick = tokio::time::interval(PRUNE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else {
            return;
        };
        match service.prune_stopped_tasks(STOPPED_TASK_RETENTION).await {
            Ok(0) => {}
            Ok(1) => tracing::info!("pruned 1 task stopped more than an hour ago"),
            Ok(n) => tracing::info!("pruned {n} tasks stopped more than an hour ago"),
            Err(e) => tracing::warn!("cannot prune stopped tasks: {e}"),
        }
    }
}
