//! The host's capacity as DescribeClusters shows it (`include: ["STATISTICS"]`): this host
//! is every cluster's one container instance, so each cluster shows the same figures.
//!
//! `statistics` is a list of `{name, value}` (ECS `KeyValuePair`, values as strings). Names:
//! - `hostTasksCount`: tasks on this host that are not STOPPED;
//! - `hostRemainingTasksCount`: how many more 1-container tasks it takes (`[capacity]
//!   max_tasks` and the instance pool, whichever is tighter; absent when neither is set);
//! - `hostRegisteredCpu` / `hostRemainingCpu`, `hostRegisteredMemory` /
//!   `hostRemainingMemory` (MiB): the reservations, when `cpu_units` / `memory_mib` are set;
//! - `hostAvailableMemory`: MiB the machine has available beyond the host's reserve.

use crate::runtime::Runtime;
use serde_json::{Value, json};

/// `statistics` of every cluster.
pub(super) fn of(runtime: &Runtime) -> Value {
    let c = runtime.capacity();
    let (l, held) = (c.limits(), c.held());
    let mut out = vec![("hostTasksCount", held.tasks)];
    let by_tasks = l.max_tasks.map(|m| m.saturating_sub(held.tasks));
    let by_slots = l.container_slots.map(|m| m.saturating_sub(held.containers));
    if let Some(left) = by_tasks.into_iter().chain(by_slots).min() {
        out.push(("hostRemainingTasksCount", left));
    }
    if let Some(cpu) = l.cpu_units {
        out.push(("hostRegisteredCpu", cpu));
        out.push(("hostRemainingCpu", cpu.saturating_sub(held.cpu_units)));
    }
    if let Some(mem) = l.memory_mib {
        out.push(("hostRegisteredMemory", mem));
        out.push(("hostRemainingMemory", mem.saturating_sub(held.memory_mib)));
    }
    if let Some(free) = c.available_memory_mib() {
        out.push((
            "hostAvailableMemory",
            free.saturating_sub(l.memory_reserve_mib),
        ));
    }
    out.into_iter()
        .map(|(name, value)| json!({ "name": name, "value": value.to_string() }))
        .collect()
}
