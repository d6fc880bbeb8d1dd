//! Starts containers as their `dependsOn` conditions allow, and reacts to starts, exits,
//! health changes, quota breaches and stop requests until every container has ended.

use super::{ContainerSlot, Driver, Phase};
use crate::runtime::container;
use crate::runtime::exit::Exit;
use crate::runtime::fsquota::StorageQuota;
use crate::runtime::health::HealthStatus;
use crate::runtime::launch::{Kill, Launch};
use crate::runtime::limits::TaskMemory;
use crate::runtime::status::{StopCode, TaskStatus};
use crate::taskdef::DependencyCondition;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// What a container's own tasks tell the supervisor.
enum Signal {
    /// Instantiated and running.
    Started,
    /// A change of its health check's verdict.
    Health(HealthStatus),
}

impl Driver {
    /// Starts containers as their dependencies allow and reacts to exits and stop requests.
    pub(super) async fn supervise(
        &mut self,
        cs: &mut [ContainerSlot],
        launches: Vec<Launch>,
        task_memory: Arc<TaskMemory>,
        quota: Arc<StorageQuota>,
    ) {
        let mut launches: Vec<Option<Launch>> = launches.into_iter().map(Some).collect();
        let mut running: JoinSet<(usize, Exit)> = JoinSet::new();
        // Containers' starts and health changes: one channel (each costs a block of slots
        // for the task's whole life).
        let (signals_tx, mut signals_rx) = mpsc::unbounded_channel::<(usize, Signal)>();
        // Health checkers of running containers; dropped (aborted) with this function.
        let mut checkers: JoinSet<()> = JoinSet::new();
        let first_wave: Vec<usize> = (0..cs.len())
            .filter(|&i| self.plans[i].def.depends_on.is_empty())
            .collect();
        let mut running_reported = false;

        loop {
            self.start_ready(
                cs,
                &mut launches,
                &mut running,
                &signals_tx,
                &task_memory,
                &quota,
            );
            if !running_reported && first_wave.iter().all(|&i| cs[i].phase != Phase::Starting) {
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
                Some((i, signal)) = signals_rx.recv() => match signal {
                    Signal::Started => {
                        if cs[i].phase == Phase::Starting {
                            cs[i].phase = Phase::Running;
                            self.set_container(i, &cs[i].phase, None);
                            self.start_health_check(i, &signals_tx, &mut checkers);
                        }
                    }
                    Signal::Health(status) => self.set_health(i, status),
                },
                Ok(()) = self.stop_rx.changed() => {
                    let asked = self.stop_rx.borrow_and_update().clone();
                    if let Some((code, reason)) = asked {
                        self.begin_stop(code, reason);
                    }
                }
                // Resolves at once after the first breach: only listen until stopping.
                _ = quota.exceeded(), if !self.stopping() => {
                    self.begin_stop(StopCode::TerminationNotice, quota.stop_reason());
                }
                Some(joined) = running.join_next() => {
                    let Ok((i, exit)) = joined else { continue };
                    cs[i].phase = Phase::Exited(exit);
                    cs[i].kill = None;
                    self.set_container(i, &cs[i].phase, Some(&cs[i].meters));
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
    fn end_of_task(&self, cs: &[ContainerSlot]) -> (StopCode, String) {
        let essential_ran = (0..cs.len())
            .any(|i| self.plans[i].def.is_essential() && matches!(cs[i].phase, Phase::Exited(_)));
        let skipped = (0..cs.len()).find_map(|i| match &cs[i].phase {
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
        cs: &mut [ContainerSlot],
        launches: &mut [Option<Launch>],
        running: &mut JoinSet<(usize, Exit)>,
        signals: &mpsc::UnboundedSender<(usize, Signal)>,
        task_memory: &Arc<TaskMemory>,
        quota: &Arc<StorageQuota>,
    ) {
        if self.stopping() {
            return;
        }
        loop {
            let mut changed = false;
            for (i, slot) in launches.iter_mut().enumerate() {
                if cs[i].phase != Phase::Waiting {
                    continue;
                }
                match self.dependencies(i, cs) {
                    Readiness::Wait => {}
                    Readiness::Never(why) => {
                        cs[i].phase = Phase::Skipped(format!("DependencyFailed: {why}"));
                        self.set_container(i, &cs[i].phase, None);
                        changed = true;
                    }
                    Readiness::Ready => {
                        let Some(launch) = slot.take() else {
                            continue;
                        };
                        cs[i].phase = Phase::Starting;
                        let (kill_tx, kill_rx) = watch::channel(Kill::No);
                        cs[i].kill = Some(kill_tx);
                        let shared = self.shared.clone();
                        let meters = cs[i].meters.clone();
                        let (mem, q, tx) = (task_memory.clone(), quota.clone(), signals.clone());
                        running.spawn(async move {
                            let exit = container::run(
                                &shared.engine,
                                launch,
                                mem,
                                q,
                                meters,
                                kill_rx,
                                move || {
                                    let _ = tx.send((i, Signal::Started));
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

    fn dependencies(&self, i: usize, cs: &[ContainerSlot]) -> Readiness {
        for dep in &self.plans[i].def.depends_on {
            let Some(d) = self
                .plans
                .iter()
                .position(|p| p.def.name == dep.container_name)
            else {
                return Readiness::Never(format!("no container named {}", dep.container_name));
            };
            let name = &dep.container_name;
            match (&cs[d].phase, dep.condition) {
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
        signals: &mpsc::UnboundedSender<(usize, Signal)>,
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
        let tx = signals.clone();
        checkers.spawn(crate::runtime::health::watch(ip, check, move |status| {
            tx.send((i, Signal::Health(status))).is_ok()
        }));
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

    fn skip_waiting(&self, cs: &mut [ContainerSlot], reason: &str) {
        for (i, slot) in cs.iter_mut().enumerate() {
            if slot.phase == Phase::Waiting {
                slot.phase = Phase::Skipped(reason.into());
                self.set_container(i, &slot.phase, None);
            }
        }
    }

    /// Gives each running container its stopTimeout to exit on its own, then drops it.
    fn arm_kills(&self, cs: &mut [ContainerSlot]) {
        for (i, slot) in cs.iter_mut().enumerate() {
            let Some(tx) = slot.kill.take() else { continue };
            if slot.phase.is_done() {
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
