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
use super::super::time::now_ms;
use super::model::{PropagateTags, ServiceState};
use super::targets::Targets;
use super::{DRAINING, INACTIVE};
use crate::control::taskdefs::ACTIVE;
use crate::runtime::{HealthStatus, StopCode, TaskStatus};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

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

/// Running and pending tasks of one deployment. Behind a load balancer a RUNNING task
/// counts as running only once it is registered and every target group it is in has
/// judged it (healthy or unhealthy): before that the load balancer sends it nothing, and
/// `runningCount == desiredCount` is what `aws ecs wait services-stable` waits for.
fn counts(tracked: &Tracked, deployment: &str, targets: &Targets, behind_lb: bool) -> (u32, u32) {
    let mut running = 0;
    let mut pending = 0;
    for e in tracked.tasks.values() {
        if e.by_scheduler || e.deployment != deployment {
            continue;
        }
        let in_service = !behind_lb
            || (!e.registered.is_empty()
                && e.registered
                    .iter()
                    .all(|(tg, addr)| targets.judged(tg, *addr)));
        if e.task.handle.snapshot().last_status == TaskStatus::Running && in_service {
            running += 1;
        } else {
            pending += 1;
        }
    }
    (running, pending)
}

/// Whether a task can take its share of the service's work: RUNNING, its essential
/// containers not unhealthy, and behind a load balancer registered and healthy in every
/// target group (a task that reached RUNNING after this pass's registrations is not
/// registered yet, and must not count).
fn serving(e: &Entry, targets: &Targets, behind_lb: bool) -> bool {
    let snap = e.task.handle.snapshot();
    snap.last_status == TaskStatus::Running
        && snap
            .containers
            .iter()
            .filter(|c| c.essential)
            .all(|c| c.health_status.is_none_or(|h| h == HealthStatus::Healthy))
        && (!behind_lb || !e.registered.is_empty())
        && e.registered
            .iter()
            .all(|(tg, addr)| targets.healthy(tg, *addr))
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
            match self.run_task_tagged(body, extra.clone()).await {
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
                d.failed_tasks += 1;
                d.updated_at_ms = now;
            }
            svc.say(
                format!(
                    "(service {name}) was unable to place a task. Reason: {e}. The next attempt is in {} seconds.",
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

    /// Reconciles one service; returns the tasks to start (outside the lock).
    async fn reconcile(
        &self,
        sched: &mut Scheduler,
        mut svc: ServiceState,
    ) -> Result<Option<Start>> {
        let before = svc.clone();
        let now = now_ms();
        let name = svc.service_name.clone();
        let key = (svc.cluster.clone(), name.clone());
        let tracked = sched.services.entry(key.clone()).or_default();

        // Tasks that ended since the last pass.
        let mut ended = Vec::new();
        tracked.tasks.retain(|id, e| {
            let snap = e.task.handle.snapshot();
            if snap.last_status == TaskStatus::Stopped {
                ended.push((id.clone(), e.deployment.clone(), e.by_scheduler, snap));
                false
            } else {
                true
            }
        });
        for (id, deployment, by_scheduler, snap) in ended {
            svc.steady = false;
            if by_scheduler || snap.stop_code == Some(StopCode::UserInitiated) {
                continue;
            }
            if let Some(d) = svc.deployments.iter_mut().find(|d| d.id == deployment) {
                d.failed_tasks += 1;
                d.updated_at_ms = now;
            }
            tracked.failures_in_row += 1;
            let delay = backoff(tracked.failures_in_row);
            tracked.not_before = Some(Instant::now() + delay);
            let why = snap.stopped_reason.unwrap_or_else(|| "unknown".into());
            svc.say(format!("(service {name}) (task {id}) stopped: {why}."), now);
            if tracked.failures_in_row > 1 {
                svc.say(
                    format!(
                        "(service {name}) is unable to consistently start tasks successfully; the next start is in {} seconds.",
                        delay.as_secs()
                    ),
                    now,
                );
            }
        }

        if svc.status == DRAINING {
            let mut stopped = Vec::new();
            for (id, e) in tracked.tasks.iter_mut() {
                if !e.by_scheduler {
                    self.stop_entry(e, "Service is being deleted".to_owned());
                    stopped.push(id.clone());
                }
            }
            if !stopped.is_empty() {
                svc.say(stopped_message(&name, &stopped), now);
            }
            for d in &mut svc.deployments {
                d.running_count = 0;
                d.pending_count = 0;
            }
            if tracked.tasks.is_empty() {
                svc.status = INACTIVE.into();
                for d in &mut svc.deployments {
                    d.status = INACTIVE.into();
                    d.updated_at_ms = now;
                }
                sched.services.remove(&key);
            }
            if svc != before {
                self.save_service(&svc).await?;
            }
            return Ok(None);
        }

        let desired = svc.desired_count;
        let config = svc.deployment_configuration.clone();

        // Circuit breaker on the PRIMARY deployment.
        let breaker = &config.deployment_circuit_breaker;
        if let Some(primary) = svc.deployments.first_mut()
            && breaker.enable
            && primary.rollout_state == "IN_PROGRESS"
            && primary.failed_tasks >= breaker_threshold(desired)
        {
            primary.rollout_state = "FAILED".into();
            primary.rollout_state_reason =
                "ECS deployment circuit breaker: tasks failed to start.".into();
            primary.updated_at_ms = now;
            let id = primary.id.clone();
            svc.say(
                format!(
                    "(service {name}) (deployment {id}) deployment failed: tasks failed to start."
                ),
                now,
            );
            if breaker.rollback
                && let Some(good) = svc.last_good.clone()
            {
                let new_id = svc.start_deployment(&good, now);
                tracked.failures_in_row = 0;
                tracked.not_before = None;
                svc.say(
                    format!(
                        "(service {name}) (deployment {id}) rolling back to deployment {new_id} of task definition {good}."
                    ),
                    now,
                );
            }
        }

        let Some(primary) = svc.deployments.first().cloned() else {
            return Ok(None);
        };
        let primary_failed = primary.rollout_state == "FAILED";

        // Register RUNNING tasks with their target groups.
        if !svc.load_balancers.is_empty() {
            for e in tracked.tasks.values_mut() {
                if e.by_scheduler || !e.registered.is_empty() {
                    continue;
                }
                let snap = e.task.handle.snapshot();
                if snap.last_status != TaskStatus::Running {
                    continue;
                }
                let Some(ip) = snap
                    .private_ipv4_address
                    .as_deref()
                    .and_then(|a| a.parse().ok())
                else {
                    continue;
                };
                for lb in &svc.load_balancers {
                    let (Some(tg), Some(port)) = (&lb.target_group_arn, lb.container_port) else {
                        continue;
                    };
                    let Ok(port) = u16::try_from(port) else {
                        continue;
                    };
                    let addr = SocketAddr::new(ip, port);
                    match self.services.targets.register(tg, addr) {
                        Ok(()) => e.registered.push((tg.clone(), addr)),
                        Err(why) => tracing::warn!("cannot register {addr} with {tg}: {why}"),
                    }
                }
            }
        }

        // A task whose target the load balancer reports unhealthy is replaced, once the
        // service's healthCheckGracePeriodSeconds after its start has passed.
        // As ECS: a service with load balancers and no grace period set gets 15 seconds.
        let grace = svc
            .health_check_grace_period_seconds
            .or(Some(DEFAULT_LB_GRACE_SECONDS));
        let wall = std::time::SystemTime::now();
        let mut unhealthy = Vec::new();
        for (id, e) in tracked.tasks.iter_mut() {
            if e.by_scheduler {
                continue;
            }
            let Some((tg, _)) = e
                .registered
                .iter()
                .find(|(tg, addr)| self.services.targets.unhealthy(tg, *addr))
                .cloned()
            else {
                continue;
            };
            if in_grace(e.task.handle.snapshot().started_at, grace, wall) {
                continue;
            }
            self.stop_entry(
                e,
                format!("Task failed ELB health checks in (target-group {tg})"),
            );
            unhealthy.push((id.clone(), e.deployment.clone(), tg));
        }
        for (id, deployment, tg) in unhealthy {
            svc.steady = false;
            if let Some(d) = svc.deployments.iter_mut().find(|d| d.id == deployment) {
                d.failed_tasks += 1;
                d.updated_at_ms = now;
            }
            svc.say(
                format!(
                    "(service {name}) (task {id}) failed ELB health checks in (target-group {tg})."
                ),
                now,
            );
        }

        // Start tasks of the PRIMARY deployment, within maximumPercent.
        let targets = self.services.targets.clone();
        let behind_lb = !svc.load_balancers.is_empty();
        let alive_total = tracked.tasks.values().filter(|e| !e.by_scheduler).count() as u32;
        let (p_running, p_pending) = counts(tracked, &primary.id, &targets, behind_lb);
        let max_total = desired.max(desired * config.maximum_percent / 100);
        let need = desired.saturating_sub(p_running + p_pending);
        let room = max_total.saturating_sub(alive_total);
        let to_start = need.min(room);
        let backing_off = tracked.not_before.is_some_and(|t| Instant::now() < t);
        let mut start = None;
        if to_start > 0 && !backing_off && !primary_failed {
            let mut body = json!({
                "taskDefinition": primary.task_definition,
                "cluster": svc.cluster,
                "group": format!("service:{name}"),
                "startedBy": primary.id,
                "launchType": "FARGATE",
            });
            if let Some(o) = body.as_object_mut() {
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
            start = Some(Start {
                key: key.clone(),
                deployment: primary.id.clone(),
                count: to_start,
                body,
                service_tags: svc.propagate_tags == PropagateTags::Service,
                managed_tags: svc.enable_ecs_managed_tags,
            });
        }

        // Stop tasks: scale-in of the PRIMARY, and older deployments within
        // minimumHealthyPercent (a task only counts as healthy once RUNNING and, behind a
        // load balancer, healthy there).
        let reason = format!("Scaling activity initiated by (deployment {})", primary.id);
        let healthy = |e: &Entry| serving(e, &targets, behind_lb);
        let mut stopped = Vec::new();
        let mut excess = (p_running + p_pending).saturating_sub(desired);
        if excess > 0 {
            let mut ids: Vec<(bool, i64, String)> = tracked
                .tasks
                .iter()
                .filter(|(_, e)| !e.by_scheduler && e.deployment == primary.id)
                .map(|(id, e)| {
                    let snap = e.task.handle.snapshot();
                    let created = super::super::time::to_ms(snap.created_at);
                    (
                        snap.last_status == TaskStatus::Running,
                        -created,
                        id.clone(),
                    )
                })
                .collect();
            ids.sort();
            for (_, _, id) in ids {
                if excess == 0 {
                    break;
                }
                if let Some(e) = tracked.tasks.get_mut(&id) {
                    self.stop_entry(e, reason.clone());
                    stopped.push(id);
                    excess -= 1;
                }
            }
        }
        if !primary_failed {
            let min_healthy = (desired * config.minimum_healthy_percent).div_ceil(100);
            let mut healthy_now = tracked
                .tasks
                .values()
                .filter(|e| !e.by_scheduler && healthy(e))
                .count() as u32;
            let mut old: Vec<(bool, String)> = tracked
                .tasks
                .iter()
                .filter(|(_, e)| !e.by_scheduler && e.deployment != primary.id)
                .map(|(id, e)| (healthy(e), id.clone()))
                .collect();
            old.sort();
            for (is_healthy, id) in old {
                if is_healthy {
                    if healthy_now <= min_healthy {
                        break;
                    }
                    healthy_now -= 1;
                }
                if let Some(e) = tracked.tasks.get_mut(&id) {
                    self.stop_entry(e, reason.clone());
                    stopped.push(id);
                }
            }
        }
        if !stopped.is_empty() {
            svc.steady = false;
            svc.say(stopped_message(&name, &stopped), now);
        }

        // Counts, completion and the steady state.
        let mut others_alive = 0;
        for d in &mut svc.deployments {
            let (running, pending) = counts(tracked, &d.id, &targets, behind_lb);
            if d.running_count != running || d.pending_count != pending {
                d.running_count = running;
                d.pending_count = pending;
                d.updated_at_ms = now;
            }
            if d.id != primary.id {
                others_alive += running + pending;
            }
        }
        // As ECS: behind a load balancer the deployment is done (and the service steady)
        // only once each of its tasks is healthy in every target group.
        let all_serving = tracked
            .tasks
            .values()
            .filter(|e| !e.by_scheduler && e.deployment == primary.id)
            .all(|e| serving(e, &targets, behind_lb));
        let done = svc.deployments.first().is_some_and(|p| {
            p.running_count == desired && p.pending_count == 0 && p.rollout_state != "FAILED"
        }) && others_alive == 0
            && all_serving;
        if done {
            svc.deployments.truncate(1);
            if let Some(p) = svc.deployments.first_mut()
                && p.rollout_state == "IN_PROGRESS"
            {
                p.rollout_state = "COMPLETED".into();
                p.rollout_state_reason = format!("ECS deployment {} completed.", p.id);
                p.updated_at_ms = now;
                let (id, td) = (p.id.clone(), p.task_definition.clone());
                svc.last_good = Some(td);
                svc.say(
                    format!("(service {name}) (deployment {id}) deployment completed."),
                    now,
                );
            }
            if !svc.steady {
                svc.steady = true;
                tracked.failures_in_row = 0;
                // A change that settled without any other event (an UpdateService that
                // changed nothing the tasks show) does not repeat the same sentence.
                let message = format!("(service {name}) has reached a steady state.");
                if svc.events.first().is_none_or(|e| e.message != message) {
                    svc.say(message, now);
                }
            }
        }
        if svc != before {
            self.save_service(&svc).await?;
        }
        Ok(start)
    }
}

fn stopped_message(name: &str, ids: &[String]) -> String {
    let list: Vec<String> = ids.iter().map(|id| format!("(task {id})")).collect();
    format!(
        "(service {name}) has stopped {} running tasks: {}.",
        ids.len(),
        list.join(" ")
    )
}
