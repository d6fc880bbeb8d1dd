//! The decisions of one scheduler pass over one service, as pure functions of a [`View`]
//! (the stored service, the tasks the scheduler tracks with their health, its back-off).
//!
//! Each phase looks at the view and makes [`Decision`]s through a [`Plan`], which applies
//! each decision to the view at once: a later phase sees what an earlier one decided (a
//! task stopped for failing health checks no longer counts when scaling). The executor in
//! `scheduler.rs` then does what the decisions ask of the world (stop tasks, start tasks,
//! the back-off clock) and saves the service if it changed. Nothing here does I/O, so the
//! phases are tested without a running service.

use super::super::model::{DeploymentStatus, RolloutState, ServiceState, ServiceStatus};
use super::{DEFAULT_LB_GRACE_SECONDS, backoff, breaker_threshold, in_grace};
use crate::runtime::{StopCode, TaskStatus};
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

/// A target group registration of a task, with what the load balancer thinks of it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub group: String,
    /// Health checked at least once (healthy or unhealthy).
    pub judged: bool,
    pub healthy: bool,
    pub unhealthy: bool,
}

/// A live task the scheduler started.
#[derive(Debug, Clone)]
pub(crate) struct TaskView {
    pub id: String,
    pub deployment: String,
    /// The scheduler stopped it (scale-in, replaced by a deployment, service deleted).
    pub by_scheduler: bool,
    pub status: TaskStatus,
    pub created_ms: i64,
    pub started_at: Option<SystemTime>,
    /// Its essential containers are healthy or have no health check.
    pub containers_healthy: bool,
    pub ip: Option<IpAddr>,
    pub registered: Vec<Target>,
}

/// A task that reached STOPPED since the last pass.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    pub id: String,
    pub deployment: String,
    pub by_scheduler: bool,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
}

/// What a pass knows of one service.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub svc: ServiceState,
    /// The live tasks, by id.
    pub tasks: Vec<TaskView>,
    pub ended: Vec<Ended>,
    pub failures_in_row: u32,
    /// A back-off after failed starts has not ended yet.
    pub backing_off: bool,
    pub now_ms: i64,
    pub wall: SystemTime,
}

/// One thing a pass decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// An event of the service.
    Say(String),
    /// A change worth a new "steady state" event once it settles.
    Unsettled,
    /// A task of `deployment` failed (stopped on its own, or failed health checks).
    TaskFailed {
        deployment: String,
    },
    /// One more failure in a row: starts wait [`backoff`] of the new count.
    BackOff,
    Stop {
        task: String,
        reason: String,
    },
    Start {
        deployment: String,
        count: u32,
    },
    /// Draining: no deployment has tasks running or pending any more.
    ClearCounts,
    /// Drained: the service and its deployments are INACTIVE.
    Inactive,
    Counts {
        deployment: String,
        running: u32,
        pending: u32,
    },
    /// The circuit breaker marks the PRIMARY deployment FAILED.
    Fail {
        deployment: String,
    },
    /// A new PRIMARY deployment of the last good task definition, without back-off.
    Rollback {
        task_definition: String,
    },
    /// Only the PRIMARY deployment is left.
    RetireOthers,
    /// The PRIMARY deployment is COMPLETED (and is what a rollback returns to).
    Complete {
        deployment: String,
    },
    /// The service reached a steady state; failures in a row start again from zero.
    Steady,
}

impl View {
    fn behind_lb(&self) -> bool {
        !self.svc.load_balancers.is_empty()
    }

    fn alive(&self) -> impl Iterator<Item = &TaskView> {
        self.tasks.iter().filter(|t| !t.by_scheduler)
    }

    fn deployment_mut(&mut self, id: &str) -> Option<&mut super::super::model::Deployment> {
        self.svc.deployments.iter_mut().find(|d| d.id == id)
    }

    /// Running and pending tasks of one deployment. Behind a load balancer a RUNNING task
    /// counts as running only once it is registered and every target group it is in has
    /// judged it (healthy or unhealthy): before that the load balancer sends it nothing,
    /// and `runningCount == desiredCount` is what `aws ecs wait services-stable` waits for.
    pub fn counts(&self, deployment: &str) -> (u32, u32) {
        let behind_lb = self.behind_lb();
        let (mut running, mut pending) = (0, 0);
        for t in self.alive().filter(|t| t.deployment == deployment) {
            let in_service =
                !behind_lb || (!t.registered.is_empty() && t.registered.iter().all(|r| r.judged));
            if t.status == TaskStatus::Running && in_service {
                running += 1;
            } else {
                pending += 1;
            }
        }
        (running, pending)
    }

    /// The counts DescribeServices shows: as [`Self::counts`], but a task that is stopping
    /// on its own (DEACTIVATING and later) is neither running nor pending, as in ECS,
    /// where `pendingCount` is the tasks still starting. The scheduler itself goes on
    /// counting such a task (it holds its share of `maximumPercent` until STOPPED).
    pub fn shown_counts(&self, deployment: &str) -> (u32, u32) {
        let (running, mut pending) = self.counts(deployment);
        let stopping = self
            .alive()
            .filter(|t| t.deployment == deployment && stopping(t.status))
            .count() as u32;
        pending = pending.saturating_sub(stopping);
        (running, pending)
    }

    /// Whether a task can take its share of the service's work: RUNNING, its essential
    /// containers not unhealthy, and behind a load balancer registered and healthy in
    /// every target group (a task that reached RUNNING after this pass's registrations is
    /// not registered yet, and must not count).
    pub fn serving(&self, t: &TaskView) -> bool {
        t.status == TaskStatus::Running
            && t.containers_healthy
            && (!self.behind_lb() || !t.registered.is_empty())
            && t.registered.iter().all(|r| r.healthy)
    }

    /// Applies a decision to the view (what the stored service and the scheduler's
    /// memory will be once the executor has done it).
    fn apply(&mut self, d: &Decision) {
        let now = self.now_ms;
        match d {
            Decision::Say(m) => self.svc.say(m.clone(), now),
            Decision::Unsettled => self.svc.steady = false,
            Decision::TaskFailed { deployment } => {
                if let Some(d) = self.deployment_mut(deployment) {
                    d.failed_tasks += 1;
                    d.updated_at_ms = now;
                }
            }
            Decision::BackOff => {
                self.failures_in_row += 1;
                self.backing_off = true;
            }
            Decision::Stop { task, .. } => {
                if let Some(t) = self.tasks.iter_mut().find(|t| t.id == *task) {
                    t.by_scheduler = true;
                    t.registered.clear();
                }
            }
            Decision::Start { .. } => {}
            Decision::ClearCounts => {
                for d in &mut self.svc.deployments {
                    d.running_count = 0;
                    d.pending_count = 0;
                }
            }
            Decision::Inactive => {
                self.svc.status = ServiceStatus::Inactive;
                for d in &mut self.svc.deployments {
                    d.status = DeploymentStatus::Inactive;
                    d.updated_at_ms = now;
                }
            }
            Decision::Counts {
                deployment,
                running,
                pending,
            } => {
                if let Some(d) = self.deployment_mut(deployment) {
                    d.running_count = *running;
                    d.pending_count = *pending;
                    d.updated_at_ms = now;
                }
            }
            Decision::Fail { deployment } => {
                if let Some(d) = self.deployment_mut(deployment) {
                    d.rollout_state = RolloutState::Failed;
                    d.rollout_state_reason =
                        "ECS deployment circuit breaker: tasks failed to start.".into();
                    d.updated_at_ms = now;
                }
            }
            Decision::Rollback { task_definition } => {
                self.svc.start_deployment(task_definition, now);
                self.failures_in_row = 0;
                self.backing_off = false;
            }
            Decision::RetireOthers => self.svc.deployments.truncate(1),
            Decision::Complete { deployment } => {
                if let Some(d) = self.deployment_mut(deployment) {
                    d.rollout_state = RolloutState::Completed;
                    d.rollout_state_reason = format!("ECS deployment {} completed.", d.id);
                    d.updated_at_ms = now;
                    let td = d.task_definition.clone();
                    self.svc.last_good = Some(td);
                }
            }
            Decision::Steady => {
                self.svc.steady = true;
                self.failures_in_row = 0;
            }
        }
    }
}

/// The view, and the decisions made on it so far (each already applied to it).
pub(crate) struct Plan {
    pub view: View,
    pub decisions: Vec<Decision>,
}

impl Plan {
    pub fn new(view: View) -> Self {
        Self {
            view,
            decisions: Vec::new(),
        }
    }

    fn decide(&mut self, d: Decision) {
        self.view.apply(&d);
        self.decisions.push(d);
    }

    fn name(&self) -> String {
        self.view.svc.service_name.clone()
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

/// Tasks that stopped since the last pass: a task that stopped on its own (not by the
/// scheduler, not by StopTask) is a failure of its deployment and backs off the next start.
pub(crate) fn ended(plan: &mut Plan) {
    let name = plan.name();
    for e in std::mem::take(&mut plan.view.ended) {
        plan.decide(Decision::Unsettled);
        if e.by_scheduler || e.stop_code == Some(StopCode::UserInitiated) {
            continue;
        }
        plan.decide(Decision::TaskFailed {
            deployment: e.deployment.clone(),
        });
        plan.decide(Decision::BackOff);
        let delay = backoff(plan.view.failures_in_row);
        let why = e.stopped_reason.unwrap_or_else(|| "unknown".into());
        plan.decide(Decision::Say(format!(
            "(service {name}) (task {}) stopped: {why}.",
            e.id
        )));
        if plan.view.failures_in_row > 1 {
            plan.decide(Decision::Say(format!(
                "(service {name}) is unable to consistently start tasks successfully; the next start is in {} seconds.",
                delay.as_secs()
            )));
        }
    }
}

/// A DRAINING (deleted) service stops its tasks and, once none is left, is INACTIVE.
/// Returns whether the service is draining (nothing else is decided then).
pub(crate) fn drain(plan: &mut Plan) -> bool {
    if plan.view.svc.status != ServiceStatus::Draining {
        return false;
    }
    let name = plan.name();
    let ids: Vec<String> = plan.view.alive().map(|t| t.id.clone()).collect();
    for id in &ids {
        plan.decide(Decision::Stop {
            task: id.clone(),
            reason: "Service is being deleted".into(),
        });
    }
    if !ids.is_empty() {
        plan.decide(Decision::Say(stopped_message(&name, &ids)));
    }
    plan.decide(Decision::ClearCounts);
    if plan.view.tasks.is_empty() {
        plan.decide(Decision::Inactive);
    }
    true
}

/// The circuit breaker: an IN_PROGRESS PRIMARY deployment with too many failed tasks
/// FAILS, and rolls back to the last good task definition if asked to.
pub(crate) fn breaker(plan: &mut Plan) {
    let svc = &plan.view.svc;
    let breaker = svc
        .deployment_configuration
        .deployment_circuit_breaker
        .clone();
    let Some(primary) = svc.deployments.first() else {
        return;
    };
    if !breaker.enable
        || primary.rollout_state != RolloutState::InProgress
        || primary.failed_tasks < breaker_threshold(svc.desired_count)
    {
        return;
    }
    let (name, id) = (plan.name(), primary.id.clone());
    let last_good = svc.last_good.clone();
    plan.decide(Decision::Fail {
        deployment: id.clone(),
    });
    plan.decide(Decision::Say(format!(
        "(service {name}) (deployment {id}) deployment failed: tasks failed to start."
    )));
    if breaker.rollback
        && let Some(good) = last_good
    {
        plan.decide(Decision::Rollback {
            task_definition: good.clone(),
        });
        let new_id = plan
            .view
            .svc
            .deployments
            .first()
            .map(|d| d.id.clone())
            .unwrap_or_default();
        plan.decide(Decision::Say(format!(
            "(service {name}) (deployment {id}) rolling back to deployment {new_id} of task definition {good}."
        )));
    }
}

/// A registration a RUNNING task needs: one per load balancer of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registration {
    pub task: String,
    pub group: String,
    pub addr: SocketAddr,
}

/// The RUNNING tasks not registered yet, with the targets they get.
pub(crate) fn registrations(view: &View) -> Vec<Registration> {
    let mut out = Vec::new();
    if !view.behind_lb() {
        return out;
    }
    for t in view.alive() {
        if !t.registered.is_empty() || t.status != TaskStatus::Running {
            continue;
        }
        let Some(ip) = t.ip else { continue };
        for lb in &view.svc.load_balancers {
            let (Some(tg), Some(port)) = (&lb.target_group_arn, lb.container_port) else {
                continue;
            };
            let Ok(port) = u16::try_from(port) else {
                continue;
            };
            out.push(Registration {
                task: t.id.clone(),
                group: tg.clone(),
                addr: SocketAddr::new(ip, port),
            });
        }
    }
    out
}

/// A task whose target the load balancer reports unhealthy is replaced, once the
/// service's healthCheckGracePeriodSeconds after its start has passed. As ECS: a service
/// with load balancers and no grace period set gets 15 seconds.
pub(crate) fn unhealthy(plan: &mut Plan) {
    let name = plan.name();
    let grace = plan
        .view
        .svc
        .health_check_grace_period_seconds
        .or(Some(DEFAULT_LB_GRACE_SECONDS));
    let wall = plan.view.wall;
    let failing: Vec<(String, String, String)> = plan
        .view
        .alive()
        .filter_map(|t| {
            let r = t.registered.iter().find(|r| r.unhealthy)?;
            (!in_grace(t.started_at, grace, wall))
                .then(|| (t.id.clone(), t.deployment.clone(), r.group.clone()))
        })
        .collect();
    for (id, _, tg) in &failing {
        plan.decide(Decision::Stop {
            task: id.clone(),
            reason: format!("Task failed ELB health checks in (target-group {tg})"),
        });
    }
    for (id, deployment, tg) in failing {
        plan.decide(Decision::Unsettled);
        plan.decide(Decision::TaskFailed { deployment });
        plan.decide(Decision::Say(format!(
            "(service {name}) (task {id}) failed ELB health checks in (target-group {tg})."
        )));
    }
}

/// Starts tasks of the PRIMARY deployment up to the desired count, within
/// maximumPercent, unless backing off or the deployment FAILED.
pub(crate) fn start(plan: &mut Plan) {
    let view = &plan.view;
    let Some(primary) = view.svc.deployments.first() else {
        return;
    };
    let desired = view.svc.desired_count;
    let max_percent = view.svc.deployment_configuration.maximum_percent;
    let alive_total = view.alive().count() as u32;
    let (running, pending) = view.counts(&primary.id);
    let max_total = desired.max(desired * max_percent / 100);
    let need = desired.saturating_sub(running + pending);
    let room = max_total.saturating_sub(alive_total);
    let count = need.min(room);
    if count > 0 && !view.backing_off && primary.rollout_state != RolloutState::Failed {
        let deployment = primary.id.clone();
        plan.decide(Decision::Start { deployment, count });
    }
}

/// Stops tasks: scale-in of the PRIMARY (pending first, then the newest), and tasks of
/// older deployments within minimumHealthyPercent (a task only counts as healthy once
/// RUNNING and, behind a load balancer, healthy there; unhealthy ones go first).
pub(crate) fn stop(plan: &mut Plan) {
    let view = &plan.view;
    let Some(primary) = view.svc.deployments.first() else {
        return;
    };
    let (primary_id, primary_failed) = (
        primary.id.clone(),
        primary.rollout_state == RolloutState::Failed,
    );
    let desired = view.svc.desired_count;
    let min_percent = view.svc.deployment_configuration.minimum_healthy_percent;
    let reason = format!("Scaling activity initiated by (deployment {primary_id})");
    let mut stopped = Vec::new();

    let (running, pending) = view.counts(&primary_id);
    let excess = (running + pending).saturating_sub(desired) as usize;
    let mut ids: Vec<(bool, i64, String)> = view
        .alive()
        .filter(|t| t.deployment == primary_id)
        .map(|t| (t.status == TaskStatus::Running, -t.created_ms, t.id.clone()))
        .collect();
    ids.sort();
    stopped.extend(ids.into_iter().take(excess).map(|(_, _, id)| id));
    for id in &stopped {
        plan.decide(Decision::Stop {
            task: id.clone(),
            reason: reason.clone(),
        });
    }

    if !primary_failed {
        let view = &plan.view;
        let min_healthy = (desired * min_percent).div_ceil(100);
        let mut healthy_now = view.alive().filter(|t| view.serving(t)).count() as u32;
        let mut old: Vec<(bool, String)> = view
            .alive()
            .filter(|t| t.deployment != primary_id)
            .map(|t| (view.serving(t), t.id.clone()))
            .collect();
        old.sort();
        for (is_healthy, id) in old {
            if is_healthy {
                if healthy_now <= min_healthy {
                    break;
                }
                healthy_now -= 1;
            }
            plan.decide(Decision::Stop {
                task: id.clone(),
                reason: reason.clone(),
            });
            stopped.push(id);
        }
    }
    if !stopped.is_empty() {
        plan.decide(Decision::Unsettled);
        plan.decide(Decision::Say(stopped_message(&plan.name(), &stopped)));
    }
}

/// Counts, completion and the steady state. As ECS: behind a load balancer the
/// deployment is done (and the service steady) only once each of its tasks is healthy in
/// every target group.
pub(crate) fn settle(plan: &mut Plan) {
    let name = plan.name();
    let Some(primary_id) = plan.view.svc.deployments.first().map(|d| d.id.clone()) else {
        return;
    };
    let mut others_alive = 0;
    let deployments: Vec<(String, u32, u32)> = plan
        .view
        .svc
        .deployments
        .iter()
        .map(|d| (d.id.clone(), d.running_count, d.pending_count))
        .collect();
    for (id, was_running, was_pending) in deployments {
        let (running, pending) = plan.view.shown_counts(&id);
        if (was_running, was_pending) != (running, pending) {
            plan.decide(Decision::Counts {
                deployment: id.clone(),
                running,
                pending,
            });
        }
        if id != primary_id {
            let (running, pending) = plan.view.counts(&id);
            others_alive += running + pending;
        }
    }
    let view = &plan.view;
    let all_serving = view
        .alive()
        .filter(|t| t.deployment == primary_id)
        .all(|t| view.serving(t));
    let desired = view.svc.desired_count;
    let done = view.svc.deployments.first().is_some_and(|p| {
        p.running_count == desired
            && p.pending_count == 0
            && p.rollout_state != RolloutState::Failed
    }) && others_alive == 0
        && all_serving;
    if !done {
        return;
    }
    if view.svc.deployments.len() > 1 {
        plan.decide(Decision::RetireOthers);
    }
    if plan
        .view
        .svc
        .deployments
        .first()
        .is_some_and(|p| p.rollout_state == RolloutState::InProgress)
    {
        plan.decide(Decision::Complete {
            deployment: primary_id.clone(),
        });
        plan.decide(Decision::Say(format!(
            "(service {name}) (deployment {primary_id}) deployment completed."
        )));
    }
    if !plan.view.svc.steady {
        plan.decide(Decision::Steady);
        // A change that settled without any other event (an UpdateService that changed
        // nothing the tasks show) does not repeat the same sentence.
        let message = format!("(service {name}) has reached a steady state.");
        if plan
            .view
            .svc
            .events
            .first()
            .is_none_or(|e| e.message != message)
        {
            plan.decide(Decision::Say(message));
        }
    }
}

/// DEACTIVATING and later: the task is on its way to STOPPED.
fn stopping(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Deactivating
            | TaskStatus::Stopping
            | TaskStatus::Deprovisioning
            | TaskStatus::Stopped
    )
}

#[cfg(test)]
mod tests;
