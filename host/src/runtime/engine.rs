//! The one shared `Engine` and `Linker` every container is instantiated from.
//!
//! Configured once at start-up from the host config: async (guests run on fibers), epoch
//! interruption (CPU shares), optional fuel (the CPU meter), and the pooling allocator sized
//! for many concurrent tasks. A background thread advances the epoch; each tick makes every
//! running guest yield to the executor, which is where CPU shares are enforced.

use super::fsquota;
use super::guest_state::GuestState;
use super::net;
use crate::config::HostConfig;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

const MIB: u64 = 1 << 20;

/// Engine, linker and the epoch ticker; cheap to share by `Arc`.
pub struct GuestEngine {
    pub engine: Engine,
    pub linker: Linker<GuestState>,
    pub fuel: bool,
    /// Identifies the engine's code-generation settings, so cached artifacts never mismatch.
    pub artifact_key: String,
    ticker_stop: Arc<AtomicBool>,
}

impl GuestEngine {
    pub fn new(config: &HostConfig) -> wasmtime::Result<Self> {
        let mut c = Config::new();
        c.epoch_interruption(true);
        c.consume_fuel(config.fuel.enabled);
        if config.pool.enabled {
            let p = &config.pool;
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(p.total_component_instances)
                .total_core_instances(p.total_core_instances)
                .total_memories(p.total_memories)
                .total_tables(p.total_tables)
                .total_stacks(p.total_stacks)
                .max_memory_size((p.max_memory_mib * MIB) as usize)
                // Keep a few warm slots per core for fast re-instantiation, not thousands.
                .max_unused_warm_slots(64);
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

        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let artifact_key = format!("{:016x}", h.finish());

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(
            engine.clone(),
            Duration::from_millis(config.cpu.tick_ms.max(1)),
            ticker_stop.clone(),
        );
        Ok(Self {
            engine,
            linker,
            fuel: config.fuel.enabled,
            artifact_key,
            ticker_stop,
        })
    }
}

impl Drop for GuestEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// A plain thread, not a tokio task: the tick must keep coming even when every executor
/// thread is busy running guests.
fn spawn_ticker(engine: Engine, tick: Duration, stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("wasmgate-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch ticker thread: {e}; guests will not be preempted");
    }
}
