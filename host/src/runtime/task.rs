//! Drives one task through the ECS lifecycle: provision storage, load images, start containers
//! in `dependsOn` order, stop the task when an essential container exits or a stop is asked
//! for, give containers `stopTimeout` to finish, then ship the last logs and clean up.

use super::Shared;
use super::container;
use super::cpu::CpuShare;
use super::exit::Exit;
use super::fsquota::{FsLimits, OpenFiles, StorageQuota};
use super::health::HealthStatus;
use super::http::{self, TaskHttp};
use super::image;
use super::launch::{Kill, Launch, Meters, Mount};
use super::limits::TaskMemory;
use super::logbudget::TaskLogBudget;
use super::logship::{Console, LogShipper};
use super::net::TaskNetwork;
use super::status::{ContainerStatus, StopCode, TaskEvent, TaskSnapshot, TaskStatus};
use super::stdio::{self, GuestOutput, OutputSink, StdStream};
use super::storage::TaskStorage;
use crate::logs::human_bytes;
use crate::taskdef::{ContainerDefinition, DependencyCondition, TaskDefinition};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;

const MIB: u64 = 1 << 20;
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a component may take to load before watchers are told it is compiling.
const COMPILE_NOTICE_AFTER: Duration = Duration::from_millis(250);

/// What the driver needs to know about each container, resolved before anything starts.
pub(super) struct Plan {
    pub def: ContainerDefinition,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cpu_units: u32,
    pub fuel_budget: Option<u64>,
    pub stop_timeout: Duration,
    /// The container's `healthCheck`, parsed.
    pub health: Option<super::health::HealthCheck>,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Waiting,
    Starting,
    Running,
    Exited(Exit),
    /// Never started: its dependencies can no longer be met, or the task stopped first.
    Skipped(String),
}

impl Phase {
    fn is_done(&self) -> bool {
        matches!(self, Phase::Exited(_) | Phase::Skipped(_))
    }
}

pub(super) struct Driver {
    pub shared: Arc<Shared>,
    pub definition: TaskDefinition,
    pub base_dir: PathBuf,
    pub plans: Vec<Plan>,
    pub console: Option<Arc<dyn Console>>,
    pub snapshot: watch::Sender<TaskSnapshot>,
    pub events: broadcast::Sender<TaskEvent>,
    pub stop_rx: mpsc::UnboundedReceiver<(StopCode, String)>,
}

/// Running state of the containers, separate from the driver's inputs.
struct Containers {
    phases: Vec<Phase>,
    kills: Vec<Option<watch::Sender<Kill>>>,
    meters: Vec<Arc<Meters>>,
}

impl Driver {
    fn id(&self) -> String {
        self.snapshot.borrow().task_id.clone()
    }

    fn set_status(&self, status: TaskStatus) {
        let now = SystemTime::now();
        self.snapshot.send_modify(|s| {
            s.last_status = status;
            match status {
                TaskStatus::Running => s.started_at = s.started_at.or(Some(now)),
                TaskStatus::Stopping => s.stopping_at = s.stopping_at.or(Some(now)),
                TaskStatus::Stopped => s.stopped_at = Some(now),
                _ => {}
            }
        });
        let _ = self.events.send(TaskEvent::Task { status });
    }

    fn notice(&self, message: String) {
        let _ = self.events.send(TaskEvent::Notice(message));
    }

    fn set_container(&self, i: usize, phase: &Phase, meters: Option<&Meters>) {
        let (status, exit_code, reason) = match phase {
            Phase::Waiting | Phase::Starting => (ContainerStatus::Pending, None, None),
            Phase::Running => (ContainerStatus::Running, None, None),
            Phase::Exited(e) => (ContainerStatus::Stopped, e.exit_code, e.reason.clone()),
            Phase::Skipped(r) => (ContainerStatus::Stopped, None, Some(r.clone())),
        };
        let name = self.plans[i].def.name.clone();
        let fuel = self.shared.engine.fuel;
        self.snapshot.send_modify(|s| {
            let c = &mut s.containers[i];
            c.last_status = status;
            c.exit_code = exit_code;
            c.reason = reason.clone();
            if let Some(m) = meters {
                c.fuel_consumed = fuel.then(|| m.fuel.load(Ordering::Relaxed));
                c.cpu_time_ms = m.cpu.used().as_millis() as u64;
                c.cpu_throttled_ms = m.cpu.throttled().as_millis() as u64;
                c.memory_peak_bytes = m.memory_peak.load(Ordering::Relaxed);
            }
        });
        let _ = self.events.send(TaskEvent::Container {
            name,
            status,
            exit_code,
            reason,
        });
    }

    fn begin_stop(&self, code: StopCode, reason: String) {
        if self.snapshot.borrow().desired_status == TaskStatus::Stopped {
            return;
        }
        self.snapshot.send_modify(|s| {
            s.desired_status = TaskStatus::Stopped;
            s.stop_code = Some(code);
            s.stopped_reason = Some(reason);
        });
        self.set_status(TaskStatus::Deactivating);
        self.set_status(TaskStatus::Stopping);
    }

    fn stopping(&self) -> bool {
        self.snapshot.borrow().desired_status == TaskStatus::Stopped
    }

    /// Runs the task to STOPPED.
    pub async fn run(mut self) {
        let id = self.id();
        let n = self.plans.len();
        let _ = self.events.send(TaskEvent::Task {
            status: TaskStatus::Provisioning,
        });
        // The task's address; dropping the lease frees it, so it lives until STOPPED.
        let network = match self.shared.net.provision(&id, &self.definition.family) {
            Ok(lease) => lease,
            Err(e) => {
                self.fail_to_provision(format!(
                    "ResourceInitializationError: cannot allocate the task's network address: {e}"
                ));
                return;
            }
        };
        let address = network.address().to_string();
        self.snapshot
            .send_modify(|s| s.private_ipv4_address = Some(address));
        // Directory work blocks on the disk: keep it off the threads that run guests.
        let (tasks_dir, task_id, volumes) = (
            self.shared.tasks_dir.clone(),
            id.clone(),
            self.definition.volumes.len(),
        );
        let created = tokio::task::spawn_blocking(move || {
            TaskStorage::create(&tasks_dir, &task_id, n, volumes)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let storage = match created {
            Ok(s) => s,
            Err(e) => {
                drop(network);
                self.fail_to_provision(format!(
                    "ResourceInitializationError: cannot create task storage: {e}"
                ));
                return;
            }
        };
        let quota = StorageQuota::with_limits(
            storage.root().to_owned(),
            self.storage_limit(),
            FsLimits::from_config(&self.shared.config.storage),
        );
        let task_memory = TaskMemory::new(self.definition.memory * MIB);

        self.set_status(TaskStatus::Pending);
        let mut image_leases = Vec::new();
        let prepared = self.load_images(&mut image_leases).await;

        let (log_tx, log_rx) = stdio::line_channel(n);
        let log_budget = self.log_budget();
        let log_sink = OutputSink {
            tx: log_tx,
            task_budget: log_budget.clone(),
        };
        let shipper = LogShipper {
            task_id: id.clone(),
            rx: log_rx,
            console: self.console.clone(),
            store: self.shared.logs.clone(),
            destinations: self.log_destinations(&id),
        };
        let shipper = tokio::spawn(shipper.run());

        let mut cs = Containers {
            phases: vec![Phase::Waiting; n],
            kills: (0..n).map(|_| None).collect(),
            meters: (0..n).map(|_| Arc::default()).collect(),
        };
        match prepared {
            Err((i, reason)) => {
                cs.phases[i] = Phase::Skipped(reason.clone());
                self.set_container(i, &cs.phases[i], None);
                self.begin_stop(StopCode::TaskFailedToStart, reason);
            }
            Ok(prepared) => {
                self.set_status(TaskStatus::Activating);
                let task_http = TaskHttp::new(network.network().clone());
                let launches: Vec<_> = prepared
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        self.launch(i, p, &storage, &log_sink, &task_http, network.network())
                    })
                    .collect();
                self.supervise(&mut cs, launches, task_memory, quota).await;
            }
        }
        drop(log_sink);

        self.set_status(TaskStatus::Deprovisioning);
        // Every container's output handle is gone once its store is; the shipper then drains.
        match shipper.await {
            Ok(0) => {}
            Ok(lost) => self.notice(format!("{lost} log lines could not be stored")),
            Err(e) => self.notice(format!("log shipping failed: {e}")),
        }
        self.report_dropped_lines(&log_budget);
        let removed = tokio::task::spawn_blocking(move || storage.remove())
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Err(e) = removed {
            self.notice(format!("cannot remove task storage: {e}"));
        }
        // Every store (and with it every socket) is gone: the address is free again.
        drop(network);
        // No instance of the images is left: the store may evict them.
        drop(image_leases);
        self.set_status(TaskStatus::Stopped);
    }

    /// The task's log budget; running out of it is told to the task's watchers.
    fn log_budget(&self) -> Arc<TaskLogBudget> {
        let events = self.events.clone();
        Arc::new(TaskLogBudget::new(
            self.shared.config.logs.task_budget_bytes(),
            Box::new(move |m| {
                let _ = events.send(TaskEvent::Notice(m));
            }),
        ))
    }

    /// Records (in the snapshot, `run --json`) and tells how much output the budget dropped.
    fn report_dropped_lines(&self, budget: &TaskLogBudget) {
        let (lines, bytes) = budget.dropped_totals();
        if lines == 0 {
            return;
        }
        self.snapshot.send_modify(|s| {
            s.log_lines_dropped = lines;
            s.log_bytes_dropped = bytes;
        });
        self.notice(format!(
            "{lines} log lines ({}) of this task were dropped: over its log budget of {}",
            human_bytes(bytes),
            human_bytes(budget.limit())
        ));
    }

    /// Ends a task whose resources could not be set up: nothing ran, nothing to clean.
    fn fail_to_provision(&self, reason: String) {
        for i in 0..self.plans.len() {
            self.set_container(i, &Phase::Skipped(reason.clone()), None);
        }
        self.begin_stop(StopCode::TaskFailedToStart, reason);
        self.set_status(TaskStatus::Deprovisioning);
        self.set_status(TaskStatus::Stopped);
    }

    fn storage_limit(&self) -> u64 {
        let requested = u64::from(self.definition.ephemeral_storage_gib()) * 1024 * MIB;
        match self.shared.config.storage.max_task_storage_mib {
            Some(cap) => requested.min(cap * MIB),
            None => requested,
        }
    }

    /// Resolves, pulls (registry images) and prepares every container's component. The
    /// leases keep pulled blobs from eviction; the caller holds them until STOPPED.
    async fn load_images(
        &self,
        leases: &mut Vec<crate::images::ImageLease>,
    ) -> Result<Vec<super::artifacts::Prepared>, (usize, String)> {
        self.snapshot
            .send_modify(|s| s.pull_started_at = Some(SystemTime::now()));
        let result = self.load_images_inner(leases).await;
        self.snapshot
            .send_modify(|s| s.pull_stopped_at = Some(SystemTime::now()));
        result
    }

    async fn load_images_inner(
        &self,
        leases: &mut Vec<crate::images::ImageLease>,
    ) -> Result<Vec<super::artifacts::Prepared>, (usize, String)> {
        let mut out = Vec::with_capacity(self.plans.len());
        for (i, plan) in self.plans.iter().enumerate() {
            let fail = |e: String| (i, format!("CannotPullContainerError: {e}"));
            let source =
                image::resolve(&plan.def.image, &self.base_dir).map_err(|e| fail(e.to_string()))?;
            let (path, image_digest) = match source {
                image::ImageSource::File(path) => {
                    image::check_file(&path, &self.shared.config.data_dir())
                        .map_err(|e| fail(e.to_string()))?;
                    (path, None)
                }
                image::ImageSource::Registry(reference) => {
                    let pulled = self
                        .pull(&plan.def, &reference)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    let digest = pulled.manifest_digest.clone();
                    let path = pulled.path.clone();
                    leases.push(pulled.lease);
                    (path, Some(digest))
                }
            };
            let shared = self.shared.clone();
            let started = std::time::Instant::now();
            let mut load =
                tokio::task::spawn_blocking(move || shared.artifacts.load(&shared.engine, &path));
            // A cached component loads in well under a millisecond; only a compile takes
            // long enough for a watcher to want to know.
            let loaded = match tokio::time::timeout(COMPILE_NOTICE_AFTER, &mut load).await {
                Ok(done) => done,
                Err(_) => {
                    let _ = self.events.send(TaskEvent::Compiling {
                        container: plan.def.name.clone(),
                    });
                    load.await
                }
            };
            let prepared = loaded
                .map_err(|e| fail(e.to_string()))?
                .map_err(|e| fail(e.to_string()))?;
            if prepared.compiled {
                self.notice(format!(
                    "compiled {} ({}) in {} ms",
                    plan.def.image,
                    &prepared.digest[..12],
                    started.elapsed().as_millis()
                ));
            }
            let image_digest =
                image_digest.unwrap_or_else(|| format!("sha256:{}", prepared.digest));
            self.snapshot.send_modify(|s| {
                s.containers[i].image_digest = Some(image_digest);
            });
            if http::is_http(&prepared) && http::tcp_ports(&plan.def).is_empty() {
                return Err((i, http::no_ports_error(i, &plan.def.name)));
            }
            out.push(prepared);
        }
        Ok(out)
    }

    /// Pulls one registry image with the container's credentials, reporting as it goes.
    async fn pull(
        &self,
        def: &crate::taskdef::ContainerDefinition,
        reference: &crate::images::ImageRef,
    ) -> Result<crate::images::PulledImage, crate::images::PullError> {
        use crate::images::PullProgress;
        let parameter = def
            .repository_credentials
            .as_ref()
            .map(|c| c.credentials_parameter.as_str());
        let credentials =
            crate::images::credentials(&self.shared.config, reference.registry(), parameter)?;
        let name = def.name.clone();
        let events = self.events.clone();
        let report = move |p: PullProgress| {
            let event = match p {
                PullProgress::Notice(m) => TaskEvent::Notice(format!("{name}: {m}")),
                PullProgress::Bytes { done, total } => TaskEvent::PullProgress {
                    container: name.clone(),
                    done,
                    total,
                },
            };
            let _ = events.send(event);
        };
        self.shared
            .images
            .pull(reference, &credentials, &report)
            .await
    }

    fn log_destinations(&self, task_id: &str) -> HashMap<Arc<str>, crate::logs::LogDestination> {
        self.plans
            .iter()
            .filter_map(|p| {
                let cfg = p.def.log_configuration.as_ref()?;
                let dest = crate::logs::LogDestination::awslogs(&cfg.options, &p.def.name, task_id)
                    .ok()?;
                Some((Arc::from(p.def.name.as_str()), dest))
            })
            .collect()
    }

    fn launch(
        &self,
        i: usize,
        prepared: super::artifacts::Prepared,
        storage: &TaskStorage,
        log_sink: &OutputSink,
        task_http: &Arc<TaskHttp>,
        network: &Arc<TaskNetwork>,
    ) -> Launch {
        let plan = &self.plans[i];
        let name: Arc<str> = Arc::from(plan.def.name.as_str());
        let mut mounts = vec![Mount {
            host_path: storage.container_root(i),
            guest_path: "/".into(),
            read_only: plan.def.readonly_root_filesystem.unwrap_or(false),
        }];
        for mp in &plan.def.mount_points {
            let Some(v) = self
                .definition
                .volumes
                .iter()
                .position(|v| v.name == mp.source_volume)
            else {
                continue; // validation guarantees the volume exists
            };
            let bind = self.definition.volumes[v]
                .host
                .as_ref()
                .and_then(|h| h.source_path.as_ref())
                .filter(|_| self.shared.config.storage.allow_bind_mounts);
            mounts.push(Mount {
                host_path: bind
                    .map(PathBuf::from)
                    .unwrap_or_else(|| storage.volume_dir(v)),
                guest_path: mp.container_path.clone(),
                read_only: mp.is_read_only(),
            });
        }
        let open_files = OpenFiles::new(
            name.clone(),
            self.shared.config.storage.max_open_files.get(),
        );
        Launch {
            prepared,
            args: plan.args.clone(),
            env: plan.env.clone(),
            mounts,
            share: CpuShare {
                units: plan.cpu_units,
                period: Duration::from_millis(self.shared.config.cpu.period_ms.max(1)),
            },
            memory_limit_bytes: plan.def.memory.map(|m| m * MIB),
            fuel_budget: plan.fuel_budget,
            stdout: GuestOutput::new(name.clone(), StdStream::Stdout, log_sink.clone()),
            stderr: GuestOutput::new(name.clone(), StdStream::Stderr, log_sink.clone()),
            name,
            http: task_http.clone(),
            ports: http::tcp_ports(&plan.def),
            network: network.clone(),
            max_handles: usize::try_from(self.shared.config.limits.max_handles_per_instance)
                .unwrap_or(usize::MAX),
            open_files,
        }
    }

    /// Starts containers as their dependencies allow and reacts to exits and stop requests.
    async fn supervise(
        &mut self,
        cs: &mut Containers,
        launches: Vec<Launch>,
        task_memory: Arc<TaskMemory>,
        quota: Arc<StorageQuota>,
    ) {
        let mut launches: Vec<Option<Launch>> = launches.into_iter().map(Some).collect();
        let mut running: JoinSet<(usize, Exit)> = JoinSet::new();
        let (started_tx, mut started_rx) = mpsc::unbounded_channel::<usize>();
        // Health checkers of running containers; dropped (aborted) with this function.
        let (health_tx, mut health_rx) = mpsc::unbounded_channel::<(usize, HealthStatus)>();
        let mut checkers: JoinSet<()> = JoinSet::new();
        let first_wave: Vec<usize> = (0..cs.phases.len())
            .filter(|&i| self.plans[i].def.depends_on.is_empty())
            .collect();
        let mut running_reported = false;

        loop {
            self.start_ready(
                cs,
                &mut launches,
                &mut running,
                &started_tx,
                &task_memory,
                &quota,
            );
            if !running_reported && first_wave.iter().all(|&i| cs.phases[i] != Phase::Starting) {
                running_reported = true;
                if !self.stopping() {
                    self.set_status(TaskStatus::Running);
                }
            }
            if running.is_empty() {
                if !self.stopping() {
                    // Nothing runs and nothing can start: the task is over.
                    let (code, reason) = self.end_of_task(cs);
                    self.begin_stop(code, reason);
                }
                self.skip_waiting(cs, "Task stopped before the container started");
                return;
            }
            tokio::select! {
                // Causes before effects: a container's start before its exit, and a quota breach
                // or stop request before the exit it provoked, which may already be queued.
                biased;
                Some(i) = started_rx.recv() => {
                    if cs.phases[i] == Phase::Starting {
                        cs.phases[i] = Phase::Running;
                        self.set_container(i, &cs.phases[i], None);
                        self.start_health_check(i, &health_tx, &mut checkers);
                    }
                }
                Some((i, status)) = health_rx.recv() => self.set_health(i, status),
                Some((code, reason)) = self.stop_rx.recv() => self.begin_stop(code, reason),
                // Resolves at once after the first breach: only listen until stopping.
                _ = quota.exceeded(), if !self.stopping() => {
                    self.begin_stop(StopCode::TerminationNotice, quota.stop_reason());
                }
                Some(joined) = running.join_next() => {
                    let Ok((i, exit)) = joined else { continue };
                    cs.phases[i] = Phase::Exited(exit);
                    cs.kills[i] = None;
                    self.set_container(i, &cs.phases[i], Some(&cs.meters[i]));
                    if self.plans[i].def.is_essential() && !self.stopping() {
                        self.begin_stop(
                            StopCode::EssentialContainerExited,
                            "Essential container in task exited".into(),
                        );
                        self.snapshot.send_modify(|s| s.ended_by = Some(i));
                    }
                }
            }
            if self.stopping() {
                self.skip_waiting(cs, "Task stopped before the container started");
                self.arm_kills(cs);
            }
        }
    }

    /// Why a task whose containers have all ended stopped: an essential container that could
    /// never start means the task failed to start, as ECS reports a failed dependency.
    fn end_of_task(&self, cs: &Containers) -> (StopCode, String) {
        let essential_ran = (0..cs.phases.len())
            .any(|i| self.plans[i].def.is_essential() && matches!(cs.phases[i], Phase::Exited(_)));
        let skipped = (0..cs.phases.len()).find_map(|i| match &cs.phases[i] {
            Phase::Skipped(why) if self.plans[i].def.is_essential() => Some(format!(
                "Essential container {} could not start: {why}",
                self.plans[i].def.name
            )),
            _ => None,
        });
        match skipped {
            Some(reason) if !essential_ran => (StopCode::TaskFailedToStart, reason),
            _ => (
                StopCode::EssentialContainerExited,
                "Essential container in task exited".into(),
            ),
        }
    }

    fn start_ready(
        &self,
        cs: &mut Containers,
        launches: &mut [Option<Launch>],
        running: &mut JoinSet<(usize, Exit)>,
        started_tx: &mpsc::UnboundedSender<usize>,
        task_memory: &Arc<TaskMemory>,
        quota: &Arc<StorageQuota>,
    ) {
        if self.stopping() {
            return;
        }
        loop {
            let mut changed = false;
            for (i, slot) in launches.iter_mut().enumerate() {
                if cs.phases[i] != Phase::Waiting {
                    continue;
                }
                match self.dependencies(i, &cs.phases) {
                    Readiness::Wait => {}
                    Readiness::Never(why) => {
                        cs.phases[i] = Phase::Skipped(format!("DependencyFailed: {why}"));
                        self.set_container(i, &cs.phases[i], None);
                        changed = true;
                    }
                    Readiness::Ready => {
                        let Some(launch) = slot.take() else {
                            continue;
                        };
                        cs.phases[i] = Phase::Starting;
                        let (kill_tx, kill_rx) = watch::channel(Kill::No);
                        cs.kills[i] = Some(kill_tx);
                        let shared = self.shared.clone();
                        let meters = cs.meters[i].clone();
                        let (mem, q, tx) = (task_memory.clone(), quota.clone(), started_tx.clone());
                        running.spawn(async move {
                            let exit = container::run(
                                &shared.engine,
                                launch,
                                mem,
                                q,
                                meters,
                                kill_rx,
                                move || {
                                    let _ = tx.send(i);
                                },
                            )
                            .await;
                            (i, exit)
                        });
                        changed = true;
                    }
                }
            }
            if !changed {
                return;
            }
        }
    }

    fn dependencies(&self, i: usize, phases: &[Phase]) -> Readiness {
        for dep in &self.plans[i].def.depends_on {
            let Some(d) = self
                .plans
                .iter()
                .position(|p| p.def.name == dep.container_name)
            else {
                return Readiness::Never(format!("no container named {}", dep.container_name));
            };
            let name = &dep.container_name;
            match (&phases[d], dep.condition) {
                (Phase::Skipped(_), _) => {
                    return Readiness::Never(format!("{name} never started"));
                }
                (Phase::Exited(e), DependencyCondition::Success) if e.exit_code != Some(0) => {
                    return Readiness::Never(format!(
                        "{name} did not exit successfully (exit code {})",
                        e.exit_code.map_or("none".into(), |c| c.to_string())
                    ));
                }
                (Phase::Exited(_), _) => {}
                (Phase::Running, DependencyCondition::Start) => {}
                (Phase::Running, DependencyCondition::Healthy)
                    if self.snapshot.borrow().containers[d].health_status
                        == Some(HealthStatus::Healthy) => {}
                _ => return Readiness::Wait,
            }
        }
        Readiness::Ready
    }

    /// Starts checking container `i`'s health if it has a health check.
    fn start_health_check(
        &self,
        i: usize,
        tx: &mpsc::UnboundedSender<(usize, HealthStatus)>,
        checkers: &mut JoinSet<()>,
    ) {
        let Some(check) = self.plans[i].health.clone() else {
            return;
        };
        let ip = self
            .snapshot
            .borrow()
            .private_ipv4_address
            .as_deref()
            .and_then(|a| a.parse().ok())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        checkers.spawn(super::health::watch(i, ip, check, tx.clone()));
    }

    /// Records container `i`'s health and the task's; an essential container turning
    /// UNHEALTHY stops the task.
    fn set_health(&self, i: usize, status: HealthStatus) {
        self.snapshot.send_modify(|s| {
            s.containers[i].health_status = Some(status);
            let essential: Vec<Option<HealthStatus>> = s
                .containers
                .iter()
                .filter(|c| c.essential)
                .map(|c| c.health_status)
                .collect();
            s.health_status = if essential.contains(&Some(HealthStatus::Unhealthy)) {
                HealthStatus::Unhealthy
            } else if essential.iter().any(Option::is_some)
                && essential
                    .iter()
                    .all(|h| h.is_none_or(|h| h == HealthStatus::Healthy))
            {
                HealthStatus::Healthy
            } else {
                HealthStatus::Unknown
            };
        });
        self.notice(format!(
            "container {} is {}",
            self.plans[i].def.name,
            status.as_str()
        ));
        if status == HealthStatus::Unhealthy && self.plans[i].def.is_essential() && !self.stopping()
        {
            self.begin_stop(
                StopCode::EssentialContainerExited,
                "Task failed container health checks".into(),
            );
        }
    }

    fn skip_waiting(&self, cs: &mut Containers, reason: &str) {
        for i in 0..cs.phases.len() {
            if cs.phases[i] == Phase::Waiting {
                cs.phases[i] = Phase::Skipped(reason.into());
                self.set_container(i, &cs.phases[i], None);
            }
        }
    }

    /// Gives each running container its stopTimeout to exit on its own, then drops it.
    fn arm_kills(&self, cs: &mut Containers) {
        for (i, kill) in cs.kills.iter_mut().enumerate() {
            let Some(tx) = kill.take() else { continue };
            if cs.phases[i].is_done() {
                continue;
            }
            let timeout = self.plans[i].stop_timeout;
            // HTTP containers drain and exit on this; commands cannot hear it.
            let _ = tx.send(Kill::Stopping);
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(timeout) => {}
                    _ = tx.closed() => return,
                }
                let _ = tx.send(Kill::Now(format!(
                    "Container did not exit within its stopTimeout of {}s and was stopped",
                    timeout.as_secs_f64()
                )));
            });
        }
    }
}

enum Readiness {
    Ready,
    Wait,
    Never(String),
}

/// Builds the per-container plan from the definition; `stop_timeout` overrides every container's.
pub(super) fn plan_containers(
    def: &TaskDefinition,
    stop_timeout: Option<Duration>,
    default_fuel_budget: Option<u64>,
) -> Result<Vec<Plan>, String> {
    let errors = runtime_rules(def);
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let units = super::cpu::split_units(
        def.cpu,
        &def.container_definitions
            .iter()
            .map(|c| c.cpu)
            .collect::<Vec<_>>(),
    );
    def.container_definitions
        .iter()
        .zip(units)
        .enumerate()
        .map(|(i, (c, cpu_units))| {
            let fuel_budget = match c.docker_labels.get(FUEL_LABEL) {
                Some(v) => Some(parse_fuel_label(v).ok_or_else(|| fuel_label_error(i, v))?),
                None => default_fuel_budget,
            };
            let mut args = vec![c.name.clone()];
            args.extend(c.entry_point.iter().cloned());
            args.extend(c.command.iter().cloned());
            let mut env: Vec<(String, String)> = c
                .environment
                .iter()
                .map(|kv| (kv.name.clone(), kv.value.clone()))
                .collect();
            if let Some(wd) = &c.working_directory {
                env.push(("PWD".into(), wd.clone()));
            }
            let health = match &c.health_check {
                Some(h) => Some(super::health::parse(i, h)?),
                None => None,
            };
            Ok(Plan {
                health,
                def: c.clone(),
                args,
                env,
                cpu_units,
                fuel_budget,
                stop_timeout: stop_timeout
                    .or(c.stop_timeout.map(|s| Duration::from_secs(s.into())))
                    .unwrap_or(DEFAULT_STOP_TIMEOUT),
            })
        })
        .collect()
}

/// Rules of this runtime beyond the ECS validator: every violation, each naming its field.
pub fn runtime_rules(def: &TaskDefinition) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, c) in def.container_definitions.iter().enumerate() {
        if let Some(v) = c.docker_labels.get(FUEL_LABEL)
            && parse_fuel_label(v).is_none()
        {
            errors.push(fuel_label_error(i, v));
        }
        if let Some(h) = &c.health_check
            && let Err(e) = super::health::parse(i, h)
        {
            errors.push(e);
        }
        for (j, d) in c.depends_on.iter().enumerate() {
            let checked = def
                .container_definitions
                .iter()
                .any(|o| o.name == d.container_name && o.health_check.is_some());
            if d.condition == DependencyCondition::Healthy && !checked {
                errors.push(format!(
                    "containerDefinitions[{i}].dependsOn[{j}].condition: HEALTHY needs container {} to have a healthCheck",
                    d.container_name
                ));
            }
        }
    }
    errors
}

fn parse_fuel_label(v: &str) -> Option<u64> {
    v.trim().parse::<u64>().ok().filter(|&n| n > 0)
}

fn fuel_label_error(i: usize, v: &str) -> String {
    format!("containerDefinitions[{i}].dockerLabels.{FUEL_LABEL}: {v:?} must be a positive integer")
}

/// ECS has no fuel field; a docker label carries the per-container budget.
pub const FUEL_LABEL: &str = "wasmgate.fuel-budget";
