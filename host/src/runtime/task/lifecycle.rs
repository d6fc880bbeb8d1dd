//! The task's states from PROVISIONING to STOPPED: its address, storage, log shipping and
//! clean-up around the containers' run, and what each container is launched with.

use super::{ContainerSlot, Driver, MIB, Phase};
use crate::logs::human_bytes;
use crate::runtime::cpu::CpuShare;
use crate::runtime::endpoints::{self, EndpointDoor, LiveSources, TaskEndpoints};
use crate::runtime::fsquota::{FsLimits, OpenFiles, StorageQuota};
use crate::runtime::http::{self, TaskHttp};
use crate::runtime::launch::{Launch, Meters, Mount};
use crate::runtime::limits::TaskMemory;
use crate::runtime::logbudget::TaskLogBudget;
use crate::runtime::logship::LogShipper;
use crate::runtime::net::{Proto, TaskNetwork};
use crate::runtime::status::{ContainerStatus, StopCode, TaskEvent, TaskStatus};
use crate::runtime::stdio::{self, GuestOutput, OutputSink, StdStream};
use crate::runtime::storage::TaskStorage;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

impl Driver {
    fn id(&self) -> String {
        self.snapshot.borrow().task_id.clone()
    }

    pub(super) fn set_status(&self, status: TaskStatus) {
        let now = SystemTime::now();
        if status == TaskStatus::Stopped {
            self.stop_unstarted_containers();
            // Before anyone can see STOPPED: a RunTask answering it finds the room again.
            self.reservation.release();
        }
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

    /// A stopped task has only stopped containers: one that never started (its task failed
    /// to start, or stopped first) ends STOPPED without an exit code, as in ECS.
    fn stop_unstarted_containers(&self) {
        let left: Vec<usize> = self
            .snapshot
            .borrow()
            .containers
            .iter()
            .enumerate()
            .filter(|(_, c)| c.last_status != ContainerStatus::Stopped)
            .map(|(i, _)| i)
            .collect();
        for i in left {
            let reason = self.snapshot.borrow().containers[i].reason.clone();
            self.snapshot
                .send_modify(|s| s.containers[i].last_status = ContainerStatus::Stopped);
            let _ = self.events.send(TaskEvent::Container {
                name: self.plans[i].def.name.clone(),
                status: ContainerStatus::Stopped,
                exit_code: None,
                reason,
            });
        }
    }

    pub(super) fn notice(&self, message: String) {
        let _ = self.events.send(TaskEvent::Notice(message));
    }

    pub(super) fn set_container(&self, i: usize, phase: &Phase, meters: Option<&Meters>) {
        let (status, exit_code, reason) = match phase {
            Phase::Waiting | Phase::Starting => (ContainerStatus::Pending, None, None),
            Phase::Running => (ContainerStatus::Running, None, None),
            Phase::Exited(e) => (ContainerStatus::Stopped, e.exit_code, e.reason.clone()),
            Phase::Skipped(r) => (ContainerStatus::Stopped, None, Some(r.clone())),
        };
        let name = self.plans[i].def.name.clone();
        let fuel = self.shared.engine.meters_fuel(self.plans[i].fuel_budget);
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

    pub(super) fn begin_stop(&self, code: StopCode, reason: String) {
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

    pub(super) fn stopping(&self) -> bool {
        self.snapshot.borrow().desired_status == TaskStatus::Stopped
    }

    /// Runs the task to STOPPED.
    pub async fn run(mut self) {
        let id = self.id();
        let n = self.plans.len();
        // Listed in the host's live reading until this driver ends (STOPPED).
        let cpu_units: Vec<u32> = self.plans.iter().map(|p| p.cpu_units).collect();
        let engine = &self.shared.engine;
        let counts_fuel: Vec<bool> = (self.plans.iter())
            .map(|p| engine.meters_fuel(p.fuel_budget))
            .collect();
        let listed = self.shared.live.register(
            &self.identity,
            &self.definition,
            &cpu_units,
            &counts_fuel,
            self.snapshot.subscribe(),
        );
        let _ = self.events.send(TaskEvent::Task {
            status: TaskStatus::Provisioning,
        });
        // The task's address; dropping the lease frees it, so it lives until STOPPED.
        let network = match self.shared.net.provision_task(&self.net_spec(&id)) {
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
        let (shared, task_id, volumes) = (
            self.shared.clone(),
            id.clone(),
            self.definition.volumes.len(),
        );
        let created = tokio::task::spawn_blocking(move || {
            TaskStorage::create(
                &shared.tasks_dir,
                &shared.storage_owner,
                &task_id,
                n,
                volumes,
            )
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
        // Secrets first, as ECS reads them (and registry credentials) before any pull.
        // Both futures are boxed: they are large and over before the task runs, and this
        // future stays as large as its largest step for the task's whole life.
        let (prepared, resolved) = match Box::pin(self.resolve_secrets()).await {
            Ok(resolved) => (
                Box::pin(self.load_images(&mut image_leases, &resolved.registry)).await,
                resolved,
            ),
            Err(failed) => (Err(failed), Default::default()),
        };

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

        let mut cs: Vec<ContainerSlot> = (0..n).map(|_| ContainerSlot::default()).collect();
        let mut endpoints = None;
        match prepared {
            Err((i, reason)) => {
                cs[i].phase = Phase::Skipped(reason.clone());
                self.set_container(i, &cs[i].phase, None);
                self.begin_stop(StopCode::TaskFailedToStart, reason);
            }
            Ok(prepared) => {
                self.set_status(TaskStatus::Activating);
                let task_http = TaskHttp::new(network.network().clone());
                let sources = LiveSources {
                    snapshot: self.snapshot.subscribe(),
                    meters: cs.iter().map(|c| c.meters.clone()).collect(),
                    task_memory: task_memory.clone(),
                    quota: quota.clone(),
                    network: network.network().clone(),
                };
                listed.attach(
                    sources.clone(),
                    prepared.iter().map(http::is_http).collect(),
                );
                let (served, door) = self.start_endpoints(sources, network.network());
                task_http.serve_endpoints(served.clone());
                let launches: Vec<_> = prepared
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let mut launch =
                            self.launch(i, p, &storage, &log_sink, &task_http, network.network());
                        if let Some(env) = resolved.env.get(i) {
                            endpoints::merge_env(&mut launch.env, env.clone());
                        }
                        endpoints::merge_env(&mut launch.env, served.env(i));
                        launch
                    })
                    .collect();
                self.supervise(&mut cs, launches, task_memory, quota).await;
                door.close().await;
                endpoints = Some(served);
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
        // The role's credentials end with the task.
        if let Some(e) = &endpoints {
            e.task_stopped();
        }
        // Its meters' last word, before anyone can see it STOPPED.
        listed.finish();
        self.set_status(TaskStatus::Stopped);
        drop(listed);
    }

    /// The task's metadata (and, with a role, credentials) endpoints, reading the live
    /// meters; served in-process to its wasi:http requests and on a listener of its address
    /// to its sockets, opened on their first connection (if it cannot listen, the
    /// in-process door still works and the task is told why).
    fn start_endpoints(
        &self,
        sources: LiveSources,
        network: &Arc<TaskNetwork>,
    ) -> (Arc<TaskEndpoints>, Arc<EndpointDoor>) {
        let provider = self.shared.credentials_provider();
        let cpu_units: Vec<u32> = self.plans.iter().map(|p| p.cpu_units).collect();
        let served = TaskEndpoints::new(
            self.identity.clone(),
            &self.definition,
            &cpu_units,
            sources,
            provider,
        );
        if let Some(role) = &self.definition.task_role_arn {
            served.task_started(role);
        }
        let events = self.events.clone();
        let notice = Box::new(move |m: String| {
            let _ = events.send(TaskEvent::Notice(m));
        });
        let door = EndpointDoor::new(served.clone(), network, notice);
        (served, door)
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
    /// What the network is told of this task: its service, its role's `wasmgate:`
    /// policies, its portMappings.
    fn net_spec(&self, id: &str) -> crate::runtime::net::TaskNetSpec {
        let authorities = self
            .shared
            .net_authorities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let role = self.definition.task_role_arn.as_deref();
        let authority = authorities.and_then(|a| a.for_task(role));
        let declared_ports = self
            .definition
            .container_definitions
            .iter()
            .flat_map(|c| &c.port_mappings)
            .filter_map(|m| {
                let proto = if m.protocol() == "udp" {
                    Proto::Udp
                } else {
                    Proto::Tcp
                };
                u16::try_from(m.container_port).ok().map(|p| (proto, p))
            })
            .collect();
        crate::runtime::net::TaskNetSpec {
            task_id: id.to_owned(),
            family: self.definition.family.clone(),
            service: self.identity.service_name.clone(),
            cluster: Some(self.identity.cluster_arn.clone()),
            authority,
            declared_ports,
        }
    }

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

    pub(super) fn launch(
        &self,
        i: usize,
        prepared: crate::runtime::artifacts::Prepared,
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
            instance_reuse: plan.instance_reuse,
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
}
