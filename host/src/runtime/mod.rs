//! The task runtime: runs task definitions as groups of isolated Wasm component instances.
//!
//! `Runtime` owns the shared engine, the compile cache and the log store; `start_task` turns a
//! validated definition into a running task and hands back a `TaskHandle` to watch and stop
//! it. Nothing here knows about HTTP or the ECS API: the control plane drives this.

mod artifacts;
pub mod capacity;
mod container;
mod cpu;
pub mod descriptors;
mod endpoints;
mod engine;
mod exit;
pub mod fsquota;
mod guest_state;
mod health;
mod http;
pub mod image;
mod launch;
mod limits;
pub mod live;
mod logbudget;
mod logship;
pub mod net;
mod secrets;
mod status;
mod stdio;
mod storage;
mod store;
mod task;

pub use cpu::UNITS_PER_VCPU;
pub use endpoints::{
    ContainerCredentials, PORT as ENDPOINTS_PORT, TaskCredentialsProvider, TaskIdentity, TaskRole,
};
pub use exit::{KILLED_EXIT_CODE, OOM_REASON};
pub use health::HealthStatus;
pub use logship::Console;
pub use secrets::{INIT_ERROR, SecretReader, TaskSecretSource};
pub use status::{
    ContainerSnapshot, ContainerStatus, StopCode, TaskEvent, TaskSnapshot, TaskStatus,
};
pub use stdio::{LogLine, StdStream};
pub use task::{DEFAULT_STOP_TIMEOUT, FUEL_LABEL, runtime_rules};

use crate::config::HostConfig;
use crate::logs::LogStore;
use crate::taskdef::{self, KeyValuePair, TaskDefinition, ValidationOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, watch};

/// Events buffered per task for slow watchers. Small: the buffer is allocated whole with
/// every task (128 was ~12 KiB of an idle task), and a watcher that lags re-reads the
/// task's snapshot, which always holds the latest state (`cli::run`).
const EVENT_BUFFER: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot open the log store: {0}")]
    Logs(#[from] crate::logs::LogError),
    #[error(transparent)]
    Network(#[from] net::NetError),
    #[error("invalid host configuration: {0}")]
    Limits(#[from] descriptors::LimitsError),
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a task could not be started at all (nothing was created).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Rules of this runtime (or an override) the definition breaks, each naming its field.
    #[error("{}", join_rules(.0))]
    Invalid(Vec<taskdef::FieldError>),
    #[error(transparent)]
    Definition(#[from] taskdef::TaskDefError),
    /// The host is full (`[capacity]`): the task would never run.
    #[error("{short}: {detail}", short = .0, detail = .0.detail())]
    Capacity(capacity::Shortage),
}

/// One line per broken rule (`path: rule`), as `wasmgate run` prints them.
fn join_rules(errors: &[taskdef::FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// ECS `containerOverrides`: per-container changes for one run of a definition.
#[derive(Debug, Clone, Default)]
pub struct ContainerOverride {
    pub name: String,
    pub command: Option<Vec<String>>,
    pub environment: Vec<KeyValuePair>,
    pub cpu: Option<u32>,
    pub memory: Option<u64>,
}

/// One task to start.
pub struct TaskSpec {
    pub definition: TaskDefinition,
    /// Relative image paths resolve against this directory (the definition file's).
    pub base_dir: PathBuf,
    pub overrides: Vec<ContainerOverride>,
    /// Overrides every container's `stopTimeout`.
    pub stop_timeout: Option<Duration>,
    pub console: Option<Arc<dyn Console>>,
    /// The task's ECS identity (its id, ARNs, cluster, service, tags) for its metadata
    /// endpoint; `None` makes a local one (`TaskIdentity::local`) with a new id.
    pub identity: Option<TaskIdentity>,
}

/// What every task of this host shares.
pub(crate) struct Shared {
    config: HostConfig,
    engine: engine::GuestEngine,
    artifacts: Arc<artifacts::ArtifactCache>,
    logs: LogStore,
    tasks_dir: PathBuf,
    /// The one lock that keeps this process's task directories from other hosts' sweeps.
    storage_owner: storage::StorageOwner,
    net: net::NetworkHost,
    images: crate::images::ImageStore,
    /// What live tasks hold of the host (`[capacity]`).
    capacity: Arc<capacity::Capacity>,
    /// Where tasks with a `taskRoleArn` get role credentials from, once one is set.
    credentials: std::sync::RwLock<Option<Arc<dyn TaskCredentialsProvider>>>,
    /// Every task from PROVISIONING to STOPPED, for the host's live reading.
    live: Arc<live::Registry>,
    /// Where containers' `secrets` are read from, once one is set.
    secrets: std::sync::RwLock<Option<Arc<dyn TaskSecretSource>>>,
    /// Where tasks get their role's `wasmgate:` policies from, once one is set.
    net_authorities: std::sync::RwLock<Option<Arc<dyn net::NetworkAuthorities>>>,
}

impl Shared {
    /// The credentials provider set now, if any.
    fn credentials_provider(&self) -> Option<Arc<dyn TaskCredentialsProvider>> {
        crate::util::sync::read(&self.credentials).clone()
    }

    /// The secret source set now, if any.
    fn secret_source(&self) -> Option<Arc<dyn TaskSecretSource>> {
        crate::util::sync::read(&self.secrets).clone()
    }
}

#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// Sets up the engine and the data directory, removing storage a crashed host left behind.
    pub fn new(config: HostConfig) -> Result<Self, RuntimeError> {
        let data_dir = config.data_dir();
        let dir_err = |source| RuntimeError::DataDir {
            path: data_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&data_dir).map_err(dir_err)?;
        let tasks_dir = data_dir.join("tasks");
        let owners_dir = data_dir.join("owners");
        storage::remove_leftovers(&tasks_dir, &owners_dir);
        let storage_owner = storage::StorageOwner::new(&owners_dir).map_err(dir_err)?;
        let engine = engine::GuestEngine::new(&config)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let logs = LogStore::open(&data_dir.join("logs.db"))?;
        logs.set_max_bytes(Some(config.logs.store_max_bytes()));
        logs.start_sweeper(config.logs.retention_sweep());
        let descriptors = Arc::new(descriptors::HostDescriptors::for_this_process(
            &config.limits,
        )?);
        tracing::debug!(
            "open-file limit {}: guests may hold {} descriptors",
            descriptors.limit(),
            descriptors.budget()
        );
        let net = net::NetworkHost::new(&config.network, &config.limits, descriptors)?;
        let artifacts = Arc::new(artifacts::ArtifactCache::new(
            data_dir.join("cache").join("components"),
        ));
        let images =
            crate::images::ImageStore::new(data_dir.join("images"), config.registry.clone());
        // A component evicted from the image store takes its compiled artifacts with it.
        images.register_eviction_hook(artifacts.clone());
        let capacity =
            capacity::Capacity::new(capacity::Limits::new(&config.capacity, &config.pool));
        Ok(Self {
            shared: Arc::new(Shared {
                capacity,
                artifacts,
                images,
                config,
                engine,
                logs,
                tasks_dir,
                storage_owner,
                net,
                credentials: std::sync::RwLock::new(None),
                live: Arc::default(),
                secrets: std::sync::RwLock::new(None),
                net_authorities: std::sync::RwLock::new(None),
            }),
        })
    }

    pub fn config(&self) -> &HostConfig {
        &self.shared.config
    }

    /// What the host holds for live tasks and what it takes in all (`[capacity]`).
    pub fn capacity(&self) -> &capacity::Capacity {
        &self.shared.capacity
    }

    pub fn logs(&self) -> &LogStore {
        &self.shared.logs
    }

    /// The image store every task pulls registry images into.
    pub fn images(&self) -> &crate::images::ImageStore {
        &self.shared.images
    }

    /// Serves role credentials from `provider` to the tasks started from now on whose
    /// definition has a `taskRoleArn` (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).
    pub fn set_credentials_provider(&self, provider: Arc<dyn TaskCredentialsProvider>) {
        *crate::util::sync::write(&self.shared.credentials) = Some(provider);
    }

    /// Every task of this host (PROVISIONING to STOPPED) with its meters read now, in
    /// task-id order: the one live reading the whole host shares (see [`live`]).
    pub fn live_tasks(&self) -> Vec<live::LiveTask> {
        self.shared.live.read_all()
    }

    /// Blocks until no background (tiered) compile runs: their artifacts are on disk then.
    pub fn wait_for_background_compiles(&self) {
        self.shared.artifacts.wait_for_background();
    }

    /// Background (tiered) Cranelift compiles running now.
    pub fn background_compiles(&self) -> usize {
        self.shared.artifacts.background_compiles()
    }

    /// Component loads answered from the compile cache (memory or disk) since start.
    pub fn compile_cache_hits(&self) -> u64 {
        self.shared.artifacts.hits()
    }

    /// Slots of the pooling allocator held by HTTP request instances now (command
    /// containers hold one each for their life: count them from [`Self::live_tasks`]).
    pub fn http_pool_slots_in_use(&self) -> usize {
        self.shared.engine.http_shares.in_use()
    }

    /// The final reading of a task that ended in the last ten minutes (its meters as the
    /// containers left them, `lastStatus` STOPPED), read before it was reported STOPPED.
    pub fn finished_task(&self, task_id: &str) -> Option<live::LiveTask> {
        self.shared.live.finished(task_id)
    }

    /// One task's live reading, if this host runs it.
    pub fn live_task(&self, task_id: &str) -> Option<live::LiveTask> {
        self.shared.live.read(task_id)
    }

    /// Reads containers' `secrets` from `source` for the tasks started from now on.
    pub fn set_secret_source(&self, source: Arc<dyn TaskSecretSource>) {
        *crate::util::sync::write(&self.shared.secrets) = Some(source);
    }

    /// Whether a task may run with role `role_arn` (the credentials provider's check:
    /// the role exists and trusts `ecs-tasks.amazonaws.com`); without a provider, any.
    pub fn check_task_role(&self, role_arn: &str) -> Result<(), String> {
        match self.shared.credentials_provider() {
            Some(p) => p.check_role(role_arn),
            None => Ok(()),
        }
    }

    /// Governs the network reach of the tasks started from now on by their role's
    /// `wasmgate:` policies, as `authorities` finds them (instead of `[[network.rules]]`
    /// and `egress`, for the tasks it gives an authority).
    pub fn set_network_authorities(&self, authorities: Arc<dyn net::NetworkAuthorities>) {
        let mut slot = self
            .shared
            .net_authorities
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *slot = Some(authorities);
    }

    /// The validation options this host applies to every definition.
    pub fn validation_options(&self) -> ValidationOptions {
        ValidationOptions {
            allow_bind_mounts: self.shared.config.storage.allow_bind_mounts,
            // RegisterTaskDefinition refuses unknown members, as ECS's own clients do.
            allow_unknown_fields: false,
        }
    }

    /// Starts a task in the background. Must be called within a tokio runtime.
    pub fn start_task(&self, spec: TaskSpec) -> Result<TaskHandle, StartError> {
        let mut definition = spec.definition;
        apply_overrides(&mut definition, &spec.overrides)?;
        taskdef::validate(&definition, &self.validation_options())?;
        let plans = task::plan_containers(
            &definition,
            spec.stop_timeout,
            self.shared.config.fuel.default_budget,
        )
        .map_err(StartError::Invalid)?;
        // Taken before anything is created, given back at STOPPED: a task the host cannot
        // take is refused here instead of waiting for resources that never come.
        let reservation = self
            .shared
            .capacity
            .reserve(capacity::Demand {
                cpu_units: u64::from(definition.cpu),
                memory_mib: definition.memory,
                containers: u32::try_from(plans.len()).unwrap_or(u32::MAX),
            })
            .map_err(StartError::Capacity)?;

        let identity = spec.identity.unwrap_or_else(|| {
            let api = &self.shared.config.api;
            TaskIdentity::local(
                &api.region,
                &api.account_id,
                &uuid::Uuid::new_v4().simple().to_string(),
                definition.container_definitions.len(),
            )
        });
        let task_id = identity.task_id.clone();
        let snapshot = TaskSnapshot {
            task_id: task_id.clone(),
            family: definition.family.clone(),
            last_status: TaskStatus::Provisioning,
            desired_status: TaskStatus::Running,
            stop_code: None,
            stopped_reason: None,
            cpu: definition.cpu,
            memory: definition.memory,
            created_at: SystemTime::now(),
            started_at: None,
            stopping_at: None,
            stopped_at: None,
            pull_started_at: None,
            pull_stopped_at: None,
            containers: plans
                .iter()
                .map(|p| ContainerSnapshot {
                    name: p.def.name.clone(),
                    image: p.def.image.clone(),
                    image_digest: None,
                    essential: p.def.is_essential(),
                    last_status: ContainerStatus::Pending,
                    exit_code: None,
                    reason: None,
                    cpu_units: p.cpu_units,
                    memory_limit_mib: p.def.memory,
                    fuel_consumed: None,
                    cpu_time_ms: 0,
                    cpu_throttled_ms: 0,
                    memory_peak_bytes: 0,
                    health_status: p.health.as_ref().map(|_| HealthStatus::Unknown),
                })
                .collect(),
            ended_by: None,
            log_lines_dropped: 0,
            log_bytes_dropped: 0,
            private_ipv4_address: None,
            health_status: HealthStatus::Unknown,
        };
        let (snap_tx, snap_rx) = watch::channel(snapshot);
        // Events are few per task (states, containers, notices); a watcher that falls this
        // far behind is told how many it missed and reads the snapshot instead.
        let (events_tx, events_rx) = broadcast::channel(EVENT_BUFFER);
        // The first stop request is the one that counts (later ones change nothing).
        let (stop_tx, stop_rx) = watch::channel(None);
        let driver = task::Driver {
            shared: self.shared.clone(),
            definition,
            base_dir: spec.base_dir,
            plans,
            console: spec.console,
            identity,
            snapshot: snap_tx,
            events: events_tx,
            stop_rx,
            reservation,
        };
        tokio::spawn(driver.run());
        Ok(TaskHandle {
            task_id,
            snapshot: snap_rx,
            events: Some(events_rx),
            stop: stop_tx,
        })
    }
}

/// Applies ECS `containerOverrides` to a definition: the command is replaced, environment
/// variables are merged by name, cpu/memory replace the container's.
pub fn apply_overrides(
    def: &mut TaskDefinition,
    overrides: &[ContainerOverride],
) -> Result<(), StartError> {
    for (i, o) in overrides.iter().enumerate() {
        let Some(c) = def
            .container_definitions
            .iter_mut()
            .find(|c| c.name == o.name)
        else {
            return Err(StartError::Invalid(vec![taskdef::FieldError::new(
                format!("overrides.containerOverrides[{i}].name"),
                format!("no container named {:?} in the task definition", o.name),
            )]));
        };
        if let Some(cmd) = &o.command {
            c.command = cmd.clone();
        }
        for kv in &o.environment {
            match c.environment.iter_mut().find(|e| e.name == kv.name) {
                Some(e) => e.value = kv.value.clone(),
                None => c.environment.push(kv.clone()),
            }
        }
        if o.cpu.is_some() {
            c.cpu = o.cpu;
        }
        if o.memory.is_some() {
            c.memory = o.memory;
        }
    }
    Ok(())
}

/// A started task: watch it, stop it, wait for it.
pub struct TaskHandle {
    task_id: String,
    snapshot: watch::Receiver<TaskSnapshot>,
    events: Option<broadcast::Receiver<TaskEvent>>,
    stop: watch::Sender<Option<(StopCode, String)>>,
}

impl TaskHandle {
    pub fn id(&self) -> &str {
        &self.task_id
    }

    pub fn snapshot(&self) -> TaskSnapshot {
        self.snapshot.borrow().clone()
    }

    /// A receiver of the task's snapshot whose `changed()` resolves on every change (changes
    /// that happen between two looks are coalesced: the latest state is always seen).
    pub fn watch(&self) -> watch::Receiver<TaskSnapshot> {
        self.snapshot.clone()
    }

    /// The task's events from its very first one; available once.
    pub fn take_events(&mut self) -> Option<broadcast::Receiver<TaskEvent>> {
        self.events.take()
    }

    /// Asks the task to stop: containers get their stopTimeout, then are dropped.
    pub fn stop(&self, code: StopCode, reason: impl Into<String>) {
        self.stop.send_if_modified(|first| {
            if first.is_some() {
                return false;
            }
            *first = Some((code, reason.into()));
            true
        });
    }

    /// Waits until the task is STOPPED and returns its final state.
    pub async fn wait(&mut self) -> TaskSnapshot {
        let stopped = self
            .snapshot
            .wait_for(|s| s.last_status == TaskStatus::Stopped)
            .await
            .map(|s| s.clone());
        stopped.unwrap_or_else(|_| self.snapshot.borrow().clone())
    }
}
