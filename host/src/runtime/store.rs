//! The one builder of a container's `Store`, used by a command's single store and by every
//! request instance of an HTTP container (as wasmtime's `serve` makes every instance with one
//! `new_store`): the container's WASI context, a resource table capped at
//! `max_handles_per_instance`, the memory limiter, fuel with a periodic write-back, and the
//! epoch callback that publishes the meters and yields so CPU shares hold.

use super::fsquota::{StorageQuota, StoreFiles};
use super::guest_state::{GuestState, bounded_table};
use super::launch::{Launch, Meters};
use super::limits::ContainerLimiter;
use super::net::ContainerNet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx};

/// Fuel between forced write-backs of the fuel meter (~1–3 ms of guest work).
const FUEL_SYNC_INTERVAL: u64 = 10_000_000;

/// What every store of one container is made from.
pub(super) struct StoreBuilder<'a> {
    pub engine: &'a Engine,
    /// Whether the engine meters fuel.
    pub fuel: bool,
    pub launch: &'a Launch,
    pub quota: &'a Arc<StorageQuota>,
    pub meters: &'a Arc<Meters>,
}

/// A store and what it has already put on its container's meters.
pub(super) struct MeteredStore {
    pub store: Store<GuestState>,
    charge: Arc<FuelCharge>,
    meters: Arc<Meters>,
    fuel: bool,
}

impl StoreBuilder<'_> {
    /// A fresh store whose memory is charged by `limiter`. It starts with the fuel the
    /// container has left; each epoch tick charges what it used to the container's meter.
    pub fn build(&self, limiter: ContainerLimiter) -> anyhow::Result<MeteredStore> {
        let state = self.guest_state(limiter.with_gauge(self.meters.memory_now.clone()))?;
        self.meters.instances.fetch_add(1, Ordering::Relaxed);
        let mut store = Store::new(self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let start = if self.fuel {
            fuel_left(self.launch.fuel_budget, self.meters)
        } else {
            u64::MAX
        };
        if self.fuel {
            store.set_fuel(start).map_err(anyhow::Error::from)?;
            // Compiled code keeps its fuel count in a register and only writes it back at
            // calls out of wasm; a periodic fuel yield makes a guest that never calls out
            // still report.
            store
                .fuel_async_yield_interval(Some(FUEL_SYNC_INTERVAL))
                .map_err(anyhow::Error::from)?;
        }
        let charge = Arc::new(FuelCharge {
            start: AtomicU64::new(start),
            used: AtomicU64::new(0),
        });
        store.set_epoch_deadline(1);
        let (fuel, meters, c) = (self.fuel, self.meters.clone(), charge.clone());
        // Each epoch tick: charge the fuel used since the last tick to the container, publish
        // its memory peak, then yield so the CPU share can be enforced.
        store.epoch_deadline_callback(move |ctx| {
            if fuel {
                c.charge(ctx.get_fuel().unwrap_or(0), &meters.fuel);
            }
            let peak = ctx.data().limiter.container_peak();
            meters.memory_peak.store(peak, Ordering::Relaxed);
            Ok(UpdateDeadline::Yield(1))
        });
        Ok(MeteredStore {
            store,
            charge,
            meters: self.meters.clone(),
            fuel: self.fuel,
        })
    }

    /// The data of a store of this container: its WASI context (args, env, stdout/stderr,
    /// preopens) and the rest of `GuestState`, so every store sees the same environment.
    fn guest_state(&self, limiter: ContainerLimiter) -> anyhow::Result<GuestState> {
        let launch = self.launch;
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
            table: bounded_table(launch.max_handles),
            limiter,
            quota: self.quota.clone(),
            files: StoreFiles::new(launch.open_files.clone()),
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_hooks: Box::new(launch.http.hooks(launch.name.clone())),
            net: ContainerNet::new(launch.network.clone(), launch.name.clone()),
        })
    }
}

impl MeteredStore {
    /// Final meters once the guest's future is gone and the store can be read again.
    pub fn record(&self) {
        if self.fuel {
            let left = self.store.get_fuel().unwrap_or(0);
            self.charge.charge(left, &self.meters.fuel);
        }
        let peak = self.store.data().limiter.container_peak();
        self.meters.memory_peak.store(peak, Ordering::Relaxed);
    }

    /// Before a reused store serves again: its fuel becomes what the container has left
    /// now (other instances of the container used some meanwhile). Call after `record`.
    pub fn refuel(&mut self, budget: Option<u64>) -> anyhow::Result<()> {
        if !self.fuel {
            return Ok(());
        }
        let start = fuel_left(budget, &self.meters);
        self.store.set_fuel(start).map_err(anyhow::Error::from)?;
        self.charge.start.store(start, Ordering::Relaxed);
        self.charge.used.store(0, Ordering::Relaxed);
        Ok(())
    }
}

/// Fuel the container may still use (all of it without a budget).
pub(super) fn fuel_left(budget: Option<u64>, meters: &Meters) -> u64 {
    match budget {
        Some(b) => b.saturating_sub(meters.fuel.load(Ordering::Relaxed)),
        None => u64::MAX,
    }
}

/// Fuel a store started with and how much of it is already on the container's meter.
struct FuelCharge {
    start: AtomicU64,
    used: AtomicU64,
}

impl FuelCharge {
    /// Adds what was used since the last charge (`left` is the store's fuel now).
    fn charge(&self, left: u64, meter: &AtomicU64) {
        let used = self.start.load(Ordering::Relaxed).saturating_sub(left);
        let before = self.used.swap(used, Ordering::Relaxed);
        meter.fetch_add(used.saturating_sub(before), Ordering::Relaxed);
    }
}
