//! Runs one command container: one store (see `store`), one instance of its component, and
//! `wasi:cli/run` driven to completion under its CPU share. HTTP containers are served
//! instead (`http::serve`).

use super::artifacts::Entry;
use super::cpu::Throttled;
use super::engine::GuestEngine;
use super::exit::{Ended, Exit};
use super::fsquota::StorageQuota;
use super::launch::{Kill, Launch, Meters, killed};
use super::limits::{ContainerLimiter, TaskMemory};
use super::store::StoreBuilder;
use std::sync::Arc;
use tokio::sync::watch;

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
    // Cranelift's code if it is ready by now (tiered), else what the task loaded.
    let pre = match launch.prepared.current() {
        Entry::Command(pre) => pre.clone(),
        Entry::Http(pre) => {
            let (pre, ports) = (pre.clone(), launch.ports.clone());
            let upgrade = launch.prepared.upgrade.clone();
            return super::http::serve(
                engine,
                pre,
                upgrade,
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
    let builder = StoreBuilder {
        engine: pre.engine(),
        fuel: engine.meters_fuel(launch.fuel_budget),
        launch: &launch,
        quota: &quota,
        meters: &meters,
    };
    let limiter = ContainerLimiter::new(task_memory, launch.memory_limit_bytes);
    let mut metered = match builder.build(limiter) {
        Ok(s) => s,
        Err(e) => return Exit::failed(format!("CannotStartContainerError: {e:#}")),
    };
    let outcome = {
        let store = &mut metered.store;
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
    metered.record();
    match outcome {
        Err(reason) => Exit::killed(reason),
        Ok(Ok(Ok(()))) => Exit::code(0),
        Ok(Ok(Err(()))) => Exit::code(1),
        Ok(Err(e)) => {
            let limiter = &metered.store.data().limiter;
            Exit::of(
                Ended::classify(&e, limiter, launch.max_handles),
                launch.fuel_budget,
            )
        }
    }
}
