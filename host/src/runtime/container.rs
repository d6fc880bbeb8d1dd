//! Runs one container: a fresh `Store` with its own WASI context, limits and meters, one
//! instance of its component, and `wasi:cli/run` driven to completion under its CPU share.

use super::artifacts::{Entry, Prepared};
use super::cpu::{CpuMeter, CpuShare, Throttled};
use super::engine::GuestEngine;
use super::fsquota::{OpenFiles, StorageQuota, StoreFiles};
use super::guest_state::GuestState;
use super::limits::{ContainerLimiter, OomKilled, TaskMemory};
use super::net::{ContainerNet, TaskNetwork};
use super::stdio::GuestOutput;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx};

/// ECS's wording for a container the OOM killer ended, and the exit code of SIGKILL.
pub const OOM_REASON: &str = "OutOfMemoryError: container killed due to memory usage";
pub const KILLED_EXIT_CODE: i32 = 137;
/// Fuel between forced write-backs of the fuel meter (~1–3 ms of guest work).
pub(super) const FUEL_SYNC_INTERVAL: u64 = 10_000_000;

/// A directory the container sees at `guest_path`.
#[derive(Debug, Clone)]
pub struct Mount {
    pub host_path: PathBuf,
    pub guest_path: String,
    pub read_only: bool,
}

/// Everything needed to start one container; built by the task from its definition.
pub struct Launch {
    pub prepared: Prepared,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    pub share: CpuShare,
    pub memory_limit_bytes: Option<u64>,
    pub fuel_budget: Option<u64>,
    pub stdout: GuestOutput,
    pub stderr: GuestOutput,
    /// The container's name (its stores' outgoing HTTP hooks say who is asking).
    pub name: Arc<str>,
    /// The task's HTTP side: where outgoing wasi:http requests go, where HTTP containers
    /// listen and register for their siblings.
    pub http: Arc<super::http::TaskHttp>,
    /// tcp `portMappings` containerPorts: where an HTTP component is served.
    pub ports: Vec<u16>,
    /// The task's network: its address, address map and socket rules.
    pub network: Arc<TaskNetwork>,
    /// `[limits] max_handles_per_instance`: the cap on each store's resource table.
    pub max_handles: usize,
    /// The container's cap on open files, shared by all its stores.
    pub open_files: Arc<OpenFiles>,
}

/// Live meters of a running container, readable from outside its store.
#[derive(Debug, Default)]
pub struct Meters {
    pub cpu: Arc<CpuMeter>,
    pub fuel: AtomicU64,
    pub memory_peak: AtomicU64,
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The code the guest gave; None when it never gave one (a trap, a failed start).
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

impl Exit {
    pub(super) fn code(code: i32) -> Self {
        Self {
            exit_code: Some(code),
            reason: None,
        }
    }

    pub(super) fn killed(reason: String) -> Self {
        Self {
            exit_code: Some(KILLED_EXIT_CODE),
            reason: Some(reason),
        }
    }

    pub(super) fn failed(reason: String) -> Self {
        Self {
            exit_code: None,
            reason: Some(reason),
        }
    }
}

/// Why the host ends a container before it exits by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kill {
    /// Keep running.
    No,
    /// The task is stopping: finish what is in flight and exit. HTTP containers drain;
    /// commands have no way to hear it (WASI has no signals) and run on until `Now`.
    Stopping,
    /// Drop the instance now, with this reason.
    Now(String),
}

/// Runs the container to its end. `started` fires once it is instantiated and running.
pub async fn run(
    engine: &GuestEngine,
    launch: Launch,
    task_memory: Arc<TaskMemory>,
    quota: Arc<StorageQuota>,
    meters: Arc<Meters>,
    mut kill: watch::Receiver<Kill>,
    started: impl FnOnce(),
) -> Exit {
    let pre = match &launch.prepared.entry {
        Entry::Command(pre) => pre.clone(),
        Entry::Http(pre) => {
            let (pre, ports) = (pre.clone(), launch.ports.clone());
            return super::http::serve(
                engine,
                pre,
                launch,
                ports,
                task_memory,
                quota,
                meters,
                kill,
                started,
            )
            .await;
        }
    };
    let mut store = match new_store(engine, &launch, task_memory, quota, &meters) {
        Ok(s) => s,
        Err(e) => return Exit::failed(format!("CannotStartContainerError: {e:#}")),
    };
    let outcome = {
        let store = &mut store;
        let run = Throttled::new(
            async move {
                let cmd = pre.instantiate_async(&mut *store).await?;
                started();
                cmd.wasi_cli_run().call_run(&mut *store).await
            },
            launch.share,
            meters.cpu.clone(),
        );
        tokio::select! {
            r = run => Ok(r),
            reason = killed(&mut kill) => Err(reason),
        }
    };
    // The guest's future is gone (dropped if killed): the store can be read again.
    launch.stdout.finish();
    launch.stderr.finish();
    record_meters(engine, &store, launch.fuel_budget, &meters);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(reason) => return Exit::killed(reason),
    };
    match outcome {
        Ok(Ok(())) => Exit::code(0),
        Ok(Err(())) => Exit::code(1),
        Err(e) => classify(e, store.data(), launch.fuel_budget),
    }
}

async fn killed(kill: &mut watch::Receiver<Kill>) -> String {
    loop {
        if let Kill::Now(reason) = &*kill.borrow_and_update() {
            return reason.clone();
        }
        if kill.changed().await.is_err() {
            // The task dropped its sender: it is gone, nothing will ever kill us.
            std::future::pending::<()>().await;
        }
    }
}

fn new_store(
    engine: &GuestEngine,
    launch: &Launch,
    task_memory: Arc<TaskMemory>,
    quota: Arc<StorageQuota>,
    meters: &Arc<Meters>,
) -> anyhow::Result<Store<GuestState>> {
    let limiter = ContainerLimiter::new(task_memory, launch.memory_limit_bytes);
    let peak = limiter.peak();
    let state = guest_state(launch, limiter, quota)?;
    let mut store = Store::new(&engine.engine, state);
    store.limiter(|s| &mut s.limiter);
    let fuel_start = launch.fuel_budget.unwrap_or(u64::MAX);
    if engine.fuel {
        store.set_fuel(fuel_start).map_err(anyhow::Error::from)?;
        // Compiled code keeps its fuel count in a register and only writes it back at calls
        // out of wasm; a periodic fuel yield makes a guest that never calls out still report.
        store
            .fuel_async_yield_interval(Some(FUEL_SYNC_INTERVAL))
            .map_err(anyhow::Error::from)?;
    }
    store.set_epoch_deadline(1);
    let fuel = engine.fuel;
    let meters = meters.clone();
    // Each epoch tick: publish the meters, then yield so the CPU share can be enforced.
    store.epoch_deadline_callback(move |ctx| {
        if fuel {
            let left = ctx.get_fuel().unwrap_or(0);
            meters
                .fuel
                .store(fuel_start.saturating_sub(left), Ordering::Relaxed);
        }
        meters
            .memory_peak
            .store(peak.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(UpdateDeadline::Yield(1))
    });
    Ok(store)
}

/// The data of a store of this container: its WASI context (args, env, stdout/stderr,
/// preopens) and the rest of `GuestState`. Shared by a command's single store and the
/// per-request stores of an HTTP container, so both see the same environment.
pub(super) fn guest_state(
    launch: &Launch,
    limiter: ContainerLimiter,
    quota: Arc<StorageQuota>,
) -> anyhow::Result<GuestState> {
    let mut b = WasiCtx::builder();
    b.args(&launch.args)
        .envs(&launch.env)
        .stdout(launch.stdout.clone())
        .stderr(launch.stderr.clone())
        // wasi:sockets on the task's loopback; every address goes through the task's rules.
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true)
        .socket_addr_check(launch.network.socket_addr_check(&launch.name));
    for m in &launch.mounts {
        let perms = if m.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        b.preopened_dir(&m.host_path, &m.guest_path, perms)
            .map_err(|e| anyhow::anyhow!("cannot mount {}: {e}", m.guest_path))?;
    }
    Ok(GuestState {
        wasi: b.build(),
        table: super::guest_state::bounded_table(launch.max_handles),
        limiter,
        quota,
        files: StoreFiles::new(launch.open_files.clone()),
        http: wasmtime_wasi_http::WasiHttpCtx::new(),
        http_hooks: launch.http.hooks(launch.name.clone()),
        net: ContainerNet::new(launch.network.clone(), launch.name.clone()),
    })
}

fn record_meters(
    engine: &GuestEngine,
    store: &Store<GuestState>,
    fuel_budget: Option<u64>,
    meters: &Meters,
) {
    if engine.fuel {
        let left = store.get_fuel().unwrap_or(0);
        let start = fuel_budget.unwrap_or(u64::MAX);
        meters
            .fuel
            .store(start.saturating_sub(left), Ordering::Relaxed);
    }
    meters.memory_peak.store(
        store.data().limiter.peak().load(Ordering::Relaxed),
        Ordering::Relaxed,
    );
}

/// Turns the error that ended `wasi:cli/run` into what ECS would report.
fn classify(e: wasmtime::Error, state: &GuestState, fuel_budget: Option<u64>) -> Exit {
    if let Some(code) = e.downcast_ref::<I32Exit>() {
        return Exit::code(code.0);
    }
    if e.downcast_ref::<OomKilled>().is_some() || state.limiter.denial().is_some() {
        return Exit::killed(OOM_REASON.into());
    }
    if let Some(refused) = e.downcast_ref::<super::stdio::OutputPermitExceeded>() {
        return Exit::failed(refused.to_string());
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Exit::killed(format!(
            "FuelExhausted: container used its fuel budget of {}",
            fuel_budget.unwrap_or(u64::MAX)
        )),
        Some(trap) => Exit::failed(format!("WasmTrap: {trap}")),
        None => Exit::failed(format!("CannotStartContainerError: {e:#}")),
    }
}
