//! The shared engines and linkers every container is instantiated from.
//!
//! Configured once at start-up from the host config: async (guests run on fibers), epoch
//! interruption (CPU shares), and the pooling allocator sized for many concurrent tasks.
//! Fuel (the optional second CPU meter, and the budget that stops a container) is compiled
//! into the code, so containers that count it run on engines of their own ([`Tiers`]), and
//! by default only containers with a fuel budget do. With `[compile] tiered` each has a
//! second engine, on Winch, that cold components start on until Cranelift's artifact is
//! ready (see `artifacts`). A background thread advances every engine's epoch; each tick
//! makes every running guest yield to the executor, which is where CPU shares are enforced.
//!
//! The pool is shared by every task, so the engine also keeps the account of who may take
//! its instances ([`HttpShares`]): HTTP requests (made on demand, by anyone who can reach a
//! port) never take the reserve kept for command containers, and one task's requests never
//! take more than its share.

use super::fsquota;
use super::guest_state::GuestState;
use super::net;
use crate::config::{FuelMeter, HostConfig, HttpConfig, PoolConfig};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy,
};

const MIB: u64 = 1 << 20;

/// A size in KiB from the config as wasmtime's byte count (saturating: validate bounds it).
fn kib_to_bytes(kib: u64) -> usize {
    usize::try_from(kib.saturating_mul(1 << 10)).unwrap_or(usize::MAX)
}

/// Engines (one per compiler, and per fuel setting), their linkers and the epoch ticker.
pub struct GuestEngine {
    /// What most containers run on, with the pooling allocator: engines that count fuel
    /// when every container is metered (`[fuel] meter = "all"`, or a `default_budget`),
    /// engines that do not otherwise.
    primary: Tiers,
    /// `[fuel] meter = "budgeted"` (the default): engines that count fuel, for the
    /// containers with a fuel budget. Fuel instrumentation costs every guest 5–20 % of its
    /// speed, so only the containers that need the meter pay for it; the others are
    /// accounted by CPU time alone (exact either way). None when `primary` counts fuel, or
    /// fuel is off.
    budgeted: Option<Tiers>,
    /// The pool's instances HTTP requests may take, host-wide and per task.
    pub http_shares: Arc<HttpShares>,
    /// `[http]`: limits every HTTP container is served with.
    pub http: HttpConfig,
    ticker_stop: Arc<AtomicBool>,
    /// The epoch thread holds every engine (and so the pool's address-space reservation)
    /// until it stops: joined on drop, so a dropped engine's reservation is gone when the
    /// next one is made.
    ticker: Option<std::thread::JoinHandle<()>>,
}

/// The engines one kind of container runs on: Cranelift, and Winch for tiered starts.
pub struct Tiers {
    /// Cranelift, the optimising compiler: what every component ends up running on.
    pub cranelift: Tier,
    /// `[compile] tiered`: Winch, the baseline compiler a cold component starts on while
    /// Cranelift compiles it in the background. None when off (or Winch is unavailable).
    pub winch: Option<Tier>,
    /// Whether this code counts fuel (the container's fuel meter and budget).
    pub fuel: bool,
}

/// One compiler's engine: artifacts and instances of one tier never mix with the other's
/// (wasmtime refuses a Winch artifact in a Cranelift engine: different calling convention).
#[derive(Clone)]
pub struct Tier {
    pub engine: Engine,
    pub linker: Arc<Linker<GuestState>>,
    /// Identifies the engine's code-generation settings (compiler and fuel included), so
    /// cached artifacts never mismatch.
    pub artifact_key: String,
    /// "Cranelift" or "Winch", for log lines.
    pub compiler: &'static str,
}

impl GuestEngine {
    pub fn new(config: &HostConfig) -> wasmtime::Result<Self> {
        config.pool.validate().map_err(wasmtime::Error::msg)?;
        config.http.validate().map_err(wasmtime::Error::msg)?;
        let fuel = &config.fuel;
        let meter_all =
            fuel.enabled && (fuel.meter == FuelMeter::All || fuel.default_budget.is_some());
        let primary = Tiers::new(config, meter_all, config.pool.enabled)?;
        // Budgeted containers are the exception: their instances are allocated on demand
        // rather than doubling the pool's address-space reservation.
        let budgeted = if fuel.enabled && !meter_all {
            Some(Tiers::new(config, true, false)?)
        } else {
            None
        };
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let engines = [Some(&primary), budgeted.as_ref()]
            .into_iter()
            .flatten()
            .flat_map(|t| std::iter::once(&t.cranelift).chain(t.winch.as_ref()))
            .map(|t| t.engine.clone())
            .collect();
        let ticker = spawn_ticker(
            engines,
            Duration::from_millis(config.cpu.tick_ms.max(1)),
            ticker_stop.clone(),
        );
        Ok(Self {
            primary,
            budgeted,
            http_shares: Arc::new(HttpShares::new(&config.pool)),
            http: config.http.clone(),
            ticker_stop,
            ticker,
        })
    }

    /// The engines a container with this fuel budget runs on: ones that count fuel when it
    /// has a budget or every container is metered.
    pub fn tiers(&self, fuel_budget: Option<u64>) -> &Tiers {
        match (&self.budgeted, fuel_budget) {
            (Some(metered), Some(_)) => metered,
            _ => &self.primary,
        }
    }

    /// Whether a container with this fuel budget has a fuel meter (`fuelConsumed`).
    pub fn meters_fuel(&self, fuel_budget: Option<u64>) -> bool {
        self.tiers(fuel_budget).fuel
    }
}

impl Tiers {
    fn new(config: &HostConfig, fuel: bool, pooled: bool) -> wasmtime::Result<Self> {
        let cranelift = Tier::new(config, Strategy::Cranelift, fuel, pooled)?;
        // Winch instances are the few made before Cranelift's artifact is ready: they are
        // allocated on demand rather than doubling the pool's address-space reservation.
        let winch = if config.compile.tiered {
            match Tier::new(config, Strategy::Winch, fuel, false) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(
                        "[compile] tiered: Winch is unavailable on this host ({e:#}); \
                         components start on Cranelift"
                    );
                    None
                }
            }
        } else {
            None
        };
        Ok(Self {
            cranelift,
            winch,
            fuel,
        })
    }
}

impl Tier {
    /// `pooled`: instances come from the pooling allocator (sized by `[pool]`), else they
    /// are allocated on demand.
    fn new(
        config: &HostConfig,
        strategy: Strategy,
        fuel: bool,
        pooled: bool,
    ) -> wasmtime::Result<Self> {
        let winch = matches!(strategy, Strategy::Winch);
        let mut c = Config::new();
        c.strategy(strategy);
        c.epoch_interruption(true);
        c.consume_fuel(fuel);
        if pooled {
            let p = &config.pool;
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(p.total_component_instances)
                .total_core_instances(p.total_core_instances)
                .total_memories(p.total_memories)
                .total_tables(p.total_tables)
                .total_stacks(p.total_stacks)
                .max_memory_size((p.max_memory_mib * MIB) as usize)
                // Keep a few warm slots per core for fast re-instantiation, not thousands.
                .max_unused_warm_slots(64)
                // Reset a freed instance's dirty pages in place instead of decommitting
                // them: no TLB shootdown per request. PAGEMAP_SCAN (Linux 6.7+; `Auto`
                // falls back where the kernel lacks it) finds the pages the guest really
                // wrote, so only those are reset and nothing within the keep-resident size
                // is madvised; without it the first keep-resident bytes are reset whole
                // and every page past them is madvised, and an image page written again
                // takes a copy-on-write fault with its own shootdown.
                .linear_memory_keep_resident(kib_to_bytes(p.memory_keep_resident_kib))
                .table_keep_resident(kib_to_bytes(p.table_keep_resident_kib))
                .pagemap_scan(Enabled::Auto);
            c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&c)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // wasi:http types and outgoing-handler; outgoing requests go through the task's
        // hooks (`http::OutgoingHooks`), never straight to the network.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        linker.allow_shadowing(true);
        fsquota::add_to_linker(&mut linker, GuestState::quota_fs)?;
        net::add_to_linker(&mut linker, GuestState::task_net)?;
        linker.allow_shadowing(false);

        // The hash covers the compiler's flags and tunables (Winch's calling convention
        // among them); the compiler's name is added so that no two tiers ever share a file.
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        if winch {
            "winch".hash(&mut h);
        }
        fuel.hash(&mut h);
        let artifact_key = format!("{:016x}", h.finish());
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            artifact_key,
            compiler: if winch { "Winch" } else { "Cranelift" },
        })
    }
}

impl Drop for GuestEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
        // At most one tick's wait. A panicked ticker has nothing left to release.
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

/// How many instances HTTP requests may hold at once: all tasks together (the pool less the
/// command reserve) and one task. Command containers are not counted here: they start from
/// whatever the pool has, and the reserve is what HTTP can never take from them.
#[derive(Debug)]
pub struct HttpShares {
    /// Most request instances of all tasks together.
    pub host_limit: usize,
    /// Most request instances of one task.
    pub task_limit: usize,
    used: AtomicUsize,
}

/// Why a request got no instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareRefused {
    /// The task holds its whole share of the pool.
    Task { limit: usize },
    /// HTTP requests of all tasks hold all the pool but the command reserve.
    Host { limit: usize },
}

/// One request instance's place in the pool; given back when dropped.
#[derive(Debug)]
pub struct HttpSlot {
    shares: Arc<HttpShares>,
    task: Arc<AtomicUsize>,
}

impl HttpShares {
    pub fn new(pool: &PoolConfig) -> Self {
        // Each instance needs a component instance, a memory and (while it runs) a stack:
        // the scarcest of them is what the pool really holds.
        let capacity = [
            pool.total_component_instances,
            pool.total_memories,
            pool.total_stacks,
        ]
        .into_iter()
        .min()
        .unwrap_or(0) as usize;
        let reserve = capacity * pool.command_reserve_percent.min(99) as usize / 100;
        let host_limit = capacity.saturating_sub(reserve).max(1);
        let task_limit =
            (capacity * pool.task_share_percent.min(100) as usize / 100).clamp(1, host_limit);
        Self {
            host_limit,
            task_limit,
            used: AtomicUsize::new(0),
        }
    }

    /// Takes a slot for one request of the task whose request count is `task`.
    pub fn take(self: &Arc<Self>, task: &Arc<AtomicUsize>) -> Result<HttpSlot, ShareRefused> {
        let under = |limit: usize| move |n: usize| (n < limit).then_some(n + 1);
        task.fetch_update(Ordering::AcqRel, Ordering::Acquire, under(self.task_limit))
            .map_err(|_| ShareRefused::Task {
                limit: self.task_limit,
            })?;
        let host =
            self.used
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, under(self.host_limit));
        if host.is_err() {
            task.fetch_sub(1, Ordering::AcqRel);
            return Err(ShareRefused::Host {
                limit: self.host_limit,
            });
        }
        Ok(HttpSlot {
            shares: self.clone(),
            task: task.clone(),
        })
    }

    /// Request instances held now by all tasks.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.in_use()
    }

    /// Request instances held now by all tasks (the host's metrics).
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

impl Drop for HttpSlot {
    fn drop(&mut self) {
        self.task.fetch_sub(1, Ordering::AcqRel);
        self.shares.used.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A plain thread, not a tokio task: the tick must keep coming even when every executor
/// thread is busy running guests.
fn spawn_ticker(
    engines: Vec<Engine>,
    tick: Duration,
    stop: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let spawned = std::thread::Builder::new()
        .name("wasmgate-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                for e in &engines {
                    e.increment_epoch();
                }
            }
        });
    spawned
        .inspect_err(|e| {
            tracing::error!(
                "cannot start the epoch ticker thread: {e}; guests will not be preempted"
            );
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(total: u32, reserve: u32, share: u32) -> Arc<HttpShares> {
        let pool = PoolConfig {
            total_component_instances: total,
            total_memories: total,
            total_stacks: total,
            command_reserve_percent: reserve,
            task_share_percent: share,
            ..PoolConfig::default()
        };
        Arc::new(HttpShares::new(&pool))
    }

    #[test]
    fn one_task_cannot_take_more_than_its_share() {
        let s = shares(100, 10, 25);
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let held: Vec<_> = (0..25).map(|_| s.take(&a).expect("within share")).collect();
        assert_eq!(s.take(&a).unwrap_err(), ShareRefused::Task { limit: 25 });
        // Another task still gets slots.
        let other = s.take(&b).expect("the other task's share is untouched");
        drop(held);
        assert_eq!(a.load(Ordering::Relaxed), 0);
        assert_eq!(s.used(), 1);
        drop(other);
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn http_never_takes_the_command_reserve() {
        let s = shares(100, 10, 30);
        let tasks: Vec<_> = (0..10).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let mut held = Vec::new();
        for t in &tasks {
            while let Ok(slot) = s.take(t) {
                held.push(slot);
            }
        }
        assert_eq!(held.len(), 90, "10 of 100 stay for command containers");
        // Tasks 0–2 hold 30 each; the fourth is refused by the host limit, not its share.
        assert_eq!(tasks[3].load(Ordering::Relaxed), 0);
        assert_eq!(
            s.take(&tasks[3]).unwrap_err(),
            ShareRefused::Host { limit: 90 }
        );
        // A refusal by the host limit leaves the task's count as it was.
        let before: usize = tasks.iter().map(|t| t.load(Ordering::Relaxed)).sum();
        assert_eq!(before, 90);
    }

    #[test]
    fn by_default_only_containers_with_a_fuel_budget_count_fuel() {
        let mut config = HostConfig::default();
        config.pool.enabled = false;
        config.compile.tiered = false;
        let counts = |config: &HostConfig| {
            let e = GuestEngine::new(config).unwrap();
            (e.meters_fuel(None), e.meters_fuel(Some(1_000)))
        };
        assert_eq!(counts(&config), (false, true));
        config.fuel.meter = FuelMeter::All;
        assert_eq!(counts(&config), (true, true));
        config.fuel.meter = FuelMeter::Budgeted;
        config.fuel.default_budget = Some(1_000);
        assert_eq!(
            counts(&config),
            (true, true),
            "every container has a budget"
        );
        config.fuel.enabled = false;
        assert_eq!(counts(&config), (false, false));
    }

    #[test]
    fn the_scarcest_pool_resource_is_the_capacity() {
        let pool = PoolConfig {
            total_stacks: 40,
            command_reserve_percent: 10,
            task_share_percent: 100,
            ..PoolConfig::default()
        };
        let s = HttpShares::new(&pool);
        assert_eq!((s.host_limit, s.task_limit), (36, 36));
    }
}
