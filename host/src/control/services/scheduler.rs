//! The service scheduler: one loop per host that keeps every service's tasks at its
//! desired count and rolls its deployments forward (or back).
//!
//! It wakes when a request changes a service, when a task of this host stops, and once a
//! second (tasks reaching RUNNING, back-off ending); there is no busy loop. Each pass
//! decides under the services lock, so a pass and a request never interleave their writes
//! of one service; the tasks it decided to start are started after the lock is released
//! (an image pull must not hold up CreateService/UpdateService/DeleteService) and
//! recorded under it again. What the scheduler needs beyond the stored service (the tasks it started and
//! their handles, the back-off) lives here in memory: after a restart the previous host's
//! tasks are STOPPED (recovery), and the first pass starts new ones.

use super::super::EcsService;
use super::super::error::Result;
use super::super::live::LiveTask;
use super::super::run::Starter;
use super::DRAINING;
use super::model::{PropagateTags, ServiceState};
use super::targets::Targets;
use crate::control::taskdefs::ACTIVE;
use crate::runtime::{HealthStatus, StopCode, TaskStatus};
use crate::util::time::now_ms;
use crate::util::time::to_ms;
use phases::{Decision, Ended, Plan, Target, TaskView, View};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

mod phases;

/// The periodic pass.
const TICK: Duration = Duration::from_secs(1);
/// Back-off after the first failed start; doubles per failure in a row up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// ECS's `healthCheckGracePeriodSeconds` for a service with load balancers that sets none.
const DEFAULT_LB_GRACE_SECONDS: i64 = 15;
/// ECS's managed tag naming the service that started a task (`enableECSManagedTags`).
const MANAGED_SERVICE_TAG: &str = "aws:ecs:serviceName";

/// What the services share: the lock every change of a service takes (it also guards the
/// scheduler's memory), the wake-up of the loop, and the load balancer adapter.
#[derive(Default)]
pub(crate) struct Services {
    pub lock: tokio::sync::Mutex<Scheduler>,
    pub wake: Arc<tokio::sync::Notify>,
    pub targets: Targets,
}

#[derive(Default)]
pub(crate) struct Scheduler {
    services: HashMap<(String, String), Tracked>,
}

#[derive(Default)]
struct Tracked {
    tasks: HashMap<String, Entry>,
    failures_in_row: u32,
    not_before: Option<Instant>,
}

struct Entry {
    task: Arc<LiveTask>,
    deployment: String,
    /// The scheduler stopped it (scale-in, replaced by a deployment, service deleted).
    by_scheduler: bool,
    registered: Vec<(String, SocketAddr)>,
}

impl Scheduler {
    /// A new deployment starts without the back-off of the previous one.
    pub fn new_deployment(&mut self, svc: &ServiceState) {
        if let Some(t) = self
            .services
            .get_mut(&(svc.cluster.clone(), svc.service_name.clone()))
        {
            t.failures_in_row = 0;
            t.not_before = None;
        }
    }
}

/// Tasks a pass decided to start for one service, started after the lock is released.
struct Start {
    key: (String, String),
    deployment: String,
    count: u32,
    /// The RunTask request, without `count`.
    body: serde_json::Value,
    /// The tasks get the service's tags (`propagateTags` SERVICE).
    service_tags: bool,
    /// The tasks get `aws:ecs:serviceName` (`enableECSManagedTags`).
    managed_tags: bool,
}

/// What starting them did: the tasks started, and the error that ended the starts early.
#[derive(Default)]
struct Started {
    tasks: Vec<(String, Arc<LiveTask>)>,
    error: Option<String>,
    /// The error is the host being full (RunTask's `RESOURCE:*` failures): the service
    /// waits for room, and its deployment counts no failed task for it.
    unplaced: bool,
}

/// A RunTask failure as a service event says it: `RESOURCE:MEMORY (the host …)`.
fn unplaced_reason(failure: &serde_json::Value) -> String {
    let reason = failure["reason"].as_str().unwrap_or("RESOURCE");
    match failure["detail"].as_str() {
        Some(d) => format!("{reason} ({d})"),
        None => reason.to_owned(),
    }
}

/// The back-off after `failures` failed starts in a row.
pub(crate) fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1u32 << exp).min(MAX_BACKOFF)
}

/// Whether a task started at `started_at` is still inside the service's
/// `healthCheckGracePeriodSeconds` at `now`: the scheduler ignores its load balancer
/// health failures until then. Not started yet counts as inside; no grace period as outside.
pub(crate) fn in_grace(
    started_at: Option<std::time::SystemTime>,
    grace_seconds: Option<i64>,
    now: std::time::SystemTime,
) -> bool {
    let grace = Duration::from_secs(grace_seconds.unwrap_or(0).max(0).unsigned_abs());
    match started_at {
        None => true,
        Some(t) => now.duration_since(t).unwrap_or_default() < grace,
    }
}

/// ECS's circuit breaker threshold for a desired count.
pub(crate) fn breaker_threshold(desired: u32) -> u32 {
    desired.div_ceil(2).clamp(3, 200)
}

/// Runs passes until the service is dropped.
pub(crate) async fn run(service: Weak<EcsService>) {
    loop {
        let Some(svc) = service.upgrade() else {
            return;
        };
        if !svc.shutting_down.load(std::sync::atomic::Ordering::SeqCst)
            && let Err(e) = svc.reconcile_all().await
        {
            tracing::warn!("service scheduler pass failed: {e}");
        }
        let wake = svc.services.wake.clone();
        let core = svc.core.clone();
        drop(svc);
        tokio::select! {
            () = wake.notified() => {}
            () = core.live_changed.notified() => {}
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

impl EcsService {
    /// One pass. Deciding holds the services lock; starting tasks (which can be slow: an
    /// image pull) does not, so Create/Update/Delete go on meanwhile. Only this loop
    /// runs passes, so no second pass can start the same tasks while the lock is free;
    /// the tasks started are recorded under the lock again, with their events.
    pub(super) async fn reconcile_all(&self) -> Result<()> {
        let mut starts = Vec::new();
        {
            let mut sched = self.services.lock.lock().await;
            let mut records = self.core.db(|s| s.list_services(Some(ACTIVE))).await?;
            records.extend(self.core.db(|s| s.list_services(Some(DRAINING))).await?);
            for record in records {
                let name = format!("{}/{}", record.cluster, record.name);
                let result = match ServiceState::from_record(&record) {
                    Ok(svc) => self.reconcile(&mut sched, svc).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(Some(start)) => starts.push(start),
                    Ok(None) => {}
                    Err(e) => tracing::warn!("cannot reconcile service {name}: {e}"),
                }
            }
        }
        for start in starts {
            let name = format!("{}/{}", start.key.0, start.key.1);
            let outcome = self.start_service_tasks(&start).await;
            if let Err(e) = self.record_started(start, outcome).await {
                tracing::warn!("cannot record the tasks started for service {name}: {e}");
            }
        }
        Ok(())
    }

    /// The tags a service gives its tasks beyond what RunTask does from the body:
    /// the service's own (read now, so a TagResource since is honoured) and the managed
    /// `aws:ecs:serviceName`.
    async fn service_task_tags(&self, start: &Start) -> Result<Vec<(String, String)>> {
        let (cluster, name) = start.key.clone();
        let mut tags = if start.service_tags {
            let arn = self.core.arns.service(&cluster, &name);
            self.core.db(move |s| s.tags(&arn)).await?
        } else {
            Vec::new()
        };
        if start.managed_tags {
            tags.push((MANAGED_SERVICE_TAG.to_owned(), name));
        }
        Ok(tags)
    }

    /// Runs the tasks of `start`, 10 per RunTask; stops at the first failure.
    async fn start_service_tasks(&self, start: &Start) -> Started {
        let mut out = Started::default();
        let extra = match self.service_task_tags(start).await {
            Ok(t) => t,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        let mut left = start.count;
        while left > 0 {
            let n = left.min(10);
            left -= n;
            let mut body = start.body.clone();
            if let Some(o) = body.as_object_mut() {
                o.insert("count".into(), json!(n));
            }
            let starter = Starter {
                extra_tags: extra.clone(),
                service: Some(start.key.1.clone()),
            };
            match self.run_task_as(body, starter).await {
                Ok(resp) => {
                    for t in resp["tasks"].as_array().into_iter().flatten() {
                        let Some(id) = t["taskArn"].as_str().and_then(|a| a.rsplit('/').next())
                        else {
                            continue;
                        };
                        if let Some(task) = self.core.live().get(id).cloned() {
                            out.tasks.push((id.to_owned(), task));
                        }
                    }
                    if let Some(f) = resp["failures"].as_array().and_then(|f| f.first()) {
                        out.error = Some(unplaced_reason(f));
                        out.unplaced = true;
                        break;
                    }
                }
                Err(e) => {
                    out.error = Some(e.to_string());
                    break;
                }
            }
        }
        out
    }

    /// Records what [`Self::start_tasks`] did: the tasks join the scheduler's memory, the
    /// service gets its events (and, on failure, the back-off).
    async fn record_started(&self, start: Start, outcome: Started) -> Result<()> {
        let mut sched = self.services.lock.lock().await;
        let tracked = sched.services.entry(start.key.clone()).or_default();
        let started: Vec<String> = outcome.tasks.iter().map(|(id, _)| id.clone()).collect();
        for (id, task) in outcome.tasks {
            tracked.tasks.insert(
                id,
                Entry {
                    task,
                    deployment: start.deployment.clone(),
                    by_scheduler: false,
                    registered: Vec::new(),
                },
            );
        }
        let mut delay = None;
        if outcome.error.is_some() {
            tracked.failures_in_row += 1;
            let d = backoff(tracked.failures_in_row);
            tracked.not_before = Some(Instant::now() + d);
            delay = Some(d);
        }
        let (c, n) = start.key.clone();
        let record = self.core.db(move |s| s.get_service(&c, &n)).await?;
        let Some(record) = record.filter(|r| r.status == ACTIVE || r.status == DRAINING) else {
            // Gone meanwhile (no pass would see these tasks again): stop them.
            if let Some(mut tracked) = sched.services.remove(&start.key) {
                for e in tracked.tasks.values_mut() {
                    self.stop_entry(e, "Service is being deleted".to_owned());
                }
            }
            return Ok(());
        };
        let mut svc = ServiceState::from_record(&record)?;
        let name = svc.service_name.clone();
        let now = now_ms();
        if !started.is_empty() {
            svc.steady = false;
            let list: Vec<String> = started.iter().map(|id| format!("(task {id})")).collect();
            svc.say(
                format!(
                    "(service {name}) has started {} tasks: {}.",
                    started.len(),
                    list.join(" ")
                ),
                now,
            );
        }
        if let (Some(e), Some(delay)) = (outcome.error, delay) {
            if let Some(d) = svc
                .deployments
                .iter_mut()
                .find(|d| d.id == start.deployment)
            {
                // A full host is no task failing: the circuit breaker does not count it.
                if !outcome.unplaced {
                    d.failed_tasks += 1;
                }
                d.updated_at_ms = now;
            }
            let why = if outcome.unplaced {
                " because no container instance met all of its requirements"
            } else {
                ""
            };
            svc.say(
                format!(
                    "(service {name}) was unable to place a task{why}. Reason: {e}. The next attempt is in {} seconds.",
                    delay.as_secs()
                ),
                now,
            );
        }
        self.save_service(&svc).await
    }

    /// Stops a task on the scheduler's behalf, leaving its target groups first.
    fn stop_entry(&self, entry: &mut Entry, reason: String) {
        entry.by_scheduler = true;
        let task = entry.task.clone();
        let registered = std::mem::take(&mut entry.registered);
        if registered.is_empty() {
            task.request_stop(StopCode::ServiceSchedulerInitiated, reason);
            return;
        }
        let targets = self.services.targets.clone();
        tokio::spawn(async move {
            for (tg, addr) in registered {
                targets.deregister(&tg, addr).await;
            }
            task.request_stop(StopCode::ServiceSchedulerInitiated, reason);
        });
    }

    /// Reconciles one service: takes a [`View`] of it, runs the phases over it and does
    /// what they decided; returns the tasks to start (outside the lock).
    async fn reconcile(&self, sched: &mut Scheduler, svc: ServiceState) -> Result<Option<Start>> {
        let before = svc.clone();
        let key = (svc.cluster.clone(), svc.service_name.clone());
        let tracked = sched.services.entry(key.clone()).or_default();
        let mut plan = Plan::new(self.view(tracked, svc));

        phases::ended(&mut plan);
        let draining = phases::drain(&mut plan);
        if !draining {
            phases::breaker(&mut plan);
        }
        let inactive = self.execute(tracked, std::mem::take(&mut plan.decisions));
        if draining {
            if inactive {
                sched.services.remove(&key);
            }
            if plan.view.svc != before {
                self.save_service(&plan.view.svc).await?;
            }
            return Ok(None);
        }
        if plan.view.svc.deployments.is_empty() {
            return Ok(None);
        }

        for r in phases::registrations(&plan.view) {
            let Err(why) = self.services.targets.register(&r.group, r.addr) else {
                let target = self.target(&r.group, r.addr);
                if let Some(e) = tracked.tasks.get_mut(&r.task) {
                    e.registered.push((r.group.clone(), r.addr));
                }
                if let Some(t) = plan.view.tasks.iter_mut().find(|t| t.id == r.task) {
                    t.registered.push(target);
                }
                continue;
            };
            tracing::warn!("cannot register {} with {}: {why}", r.addr, r.group);
        }

        phases::unhealthy(&mut plan);
        phases::start(&mut plan);
        phases::stop(&mut plan);
        phases::settle(&mut plan);
        let decisions = std::mem::take(&mut plan.decisions);
        let start = decisions.iter().find_map(|d| match d {
            Decision::Start { deployment, count } => {
                Some(self.start_of(&plan.view.svc, &key, deployment, *count))
            }
            _ => None,
        });
        self.execute(tracked, decisions);
        if plan.view.svc != before {
            self.save_service(&plan.view.svc).await?;
        }
        Ok(start)
    }

    /// A target as the load balancer judges it now.
    fn target(&self, group: &str, addr: SocketAddr) -> Target {
        let t = &self.services.targets;
        Target {
            group: group.to_owned(),
            judged: t.judged(group, addr),
            healthy: t.healthy(group, addr),
            unhealthy: t.unhealthy(group, addr),
        }
    }

    /// What a pass knows of a service: its tasks (those that stopped since the last pass
    /// leave the scheduler's memory) with their health, and the back-off.
    fn view(&self, tracked: &mut Tracked, svc: ServiceState) -> View {
        let mut ended = Vec::new();
        let mut tasks = Vec::new();
        tracked.tasks.retain(|id, e| {
            let snap = e.task.handle.snapshot();
            if snap.last_status == TaskStatus::Stopped {
                ended.push(Ended {
                    id: id.clone(),
                    deployment: e.deployment.clone(),
                    by_scheduler: e.by_scheduler,
                    stop_code: snap.stop_code,
                    stopped_reason: snap.stopped_reason,
                });
                return false;
            }
            tasks.push(TaskView {
                id: id.clone(),
                deployment: e.deployment.clone(),
                by_scheduler: e.by_scheduler,
                status: snap.last_status,
                created_ms: to_ms(snap.created_at),
                started_at: snap.started_at,
                containers_healthy: snap
                    .containers
                    .iter()
                    .filter(|c| c.essential)
                    .all(|c| c.health_status.is_none_or(|h| h == HealthStatus::Healthy)),
                ip: snap
                    .private_ipv4_address
                    .as_deref()
                    .and_then(|a| a.parse().ok()),
                registered: e
                    .registered
                    .iter()
                    .map(|(tg, addr)| self.target(tg, *addr))
                    .collect(),
            });
            true
        });
        tasks.sort_by(|a, b| a.id.cmp(&b.id));
        ended.sort_by(|a, b| a.id.cmp(&b.id));
        View {
            svc,
            tasks,
            ended,
            failures_in_row: tracked.failures_in_row,
            backing_off: tracked.not_before.is_some_and(|t| Instant::now() < t),
            now_ms: now_ms(),
            wall: std::time::SystemTime::now(),
        }
    }

    /// Does what the decisions ask of the world (the service itself is already in the
    /// plan's view). Returns whether the service is INACTIVE now.
    fn execute(&self, tracked: &mut Tracked, decisions: Vec<Decision>) -> bool {
        let mut inactive = false;
        for d in decisions {
            match d {
                Decision::Stop { task, reason } => {
                    if let Some(e) = tracked.tasks.get_mut(&task) {
                        self.stop_entry(e, reason);
                    }
                }
                Decision::BackOff => {
                    tracked.failures_in_row += 1;
                    tracked.not_before = Some(Instant::now() + backoff(tracked.failures_in_row));
                }
                Decision::Rollback { .. } => {
                    tracked.failures_in_row = 0;
                    tracked.not_before = None;
                }
                Decision::Steady => tracked.failures_in_row = 0,
                Decision::Inactive => inactive = true,
                // Changes of the service only (or, for Start, done after the lock).
                Decision::Say(_)
                | Decision::Unsettled
                | Decision::TaskFailed { .. }
                | Decision::Start { .. }
                | Decision::ClearCounts
                | Decision::Counts { .. }
                | Decision::Fail { .. }
                | Decision::RetireOthers
                | Decision::Complete { .. } => {}
            }
        }
        inactive
    }

    /// The RunTask request for `count` tasks of a deployment of the service.
    fn start_of(
        &self,
        svc: &ServiceState,
        key: &(String, String),
        deployment: &str,
        count: u32,
    ) -> Start {
        let task_definition = svc
            .deployments
            .iter()
            .find(|d| d.id == deployment)
            .map_or(svc.task_definition.as_str(), |d| d.task_definition.as_str());
        let mut body = json!({
            "taskDefinition": task_definition,
            "cluster": svc.cluster,
            "group": format!("service:{}", svc.service_name),
            "startedBy": deployment,
        });
        if let Some(o) = body.as_object_mut() {
            match &svc.capacity_provider_strategy {
                Some(s) => o.insert("capacityProviderStrategy".into(), json!(s)),
                None => o.insert("launchType".into(), json!("FARGATE")),
            };
            if let Some(net) = &svc.network_configuration {
                o.insert("networkConfiguration".into(), net.clone());
            }
            // RunTask itself copies the definition's tags and adds aws:ecs:clusterName.
            if svc.propagate_tags == PropagateTags::TaskDefinition {
                o.insert("propagateTags".into(), json!("TASK_DEFINITION"));
            }
            if svc.enable_ecs_managed_tags {
                o.insert("enableECSManagedTags".into(), json!(true));
            }
        }
        Start {
            key: key.clone(),
            deployment: deployment.to_owned(),
            count,
            body,
            service_tags: svc.propagate_tags == PropagateTags::Service,
            managed_tags: svc.enable_ecs_managed_tags,
        }
    }
}
