//! When the host is full: the account of what live tasks hold (`[capacity]`), taken by
//! `start_task` before anything is created and given back at STOPPED.
//!
//! A task that does not fit is refused with a [`Shortage`] (ECS's `RESOURCE:CPU` /
//! `RESOURCE:MEMORY`), so no task is accepted that could never run. What is counted:
//! tasks (`max_tasks`), pool instances (one per container: the pool is preallocated
//! memory), the operator's optional CPU and memory reservations, and the machine's
//! available memory against a reserve kept for the host.

use crate::config::{CapacityConfig, PoolConfig, physical_memory_mib};
use crate::util::sync::lock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Which resource a task did not fit, in ECS's `failures[].reason` words, with a sentence
/// saying which limit and by how much.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Shortage {
    #[error("RESOURCE:CPU")]
    Cpu(String),
    #[error("RESOURCE:MEMORY")]
    Memory(String),
}

impl Shortage {
    /// The sentence for `failures[].detail`.
    pub fn detail(&self) -> &str {
        match self {
            Shortage::Cpu(d) | Shortage::Memory(d) => d,
        }
    }
}

/// What one task asks of the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    pub cpu_units: u64,
    pub memory_mib: u64,
    pub containers: u32,
}

/// What all live tasks hold together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub tasks: u64,
    pub cpu_units: u64,
    pub memory_mib: u64,
    pub containers: u64,
}

/// The host's capacity, as the operator configured it and the machine gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_tasks: Option<u64>,
    pub cpu_units: Option<u64>,
    pub memory_mib: Option<u64>,
    /// Pool instances for containers (`None`: no pool).
    pub container_slots: Option<u64>,
    pub memory_reserve_mib: u64,
}

impl Limits {
    pub fn new(c: &CapacityConfig, pool: &PoolConfig) -> Self {
        let reserve = c
            .memory_reserve_mib
            .unwrap_or_else(|| physical_memory_mib().map_or(256, |m| (m / 50).clamp(64, 512)));
        Self {
            max_tasks: c.max_tasks.map(u64::from),
            cpu_units: c.cpu_units,
            memory_mib: c.memory_mib,
            container_slots: pool.container_slots().map(u64::from),
            memory_reserve_mib: reserve,
        }
    }
}

/// The host's account of what live tasks hold.
pub struct Capacity {
    limits: Limits,
    held: Mutex<Held>,
    /// The machine's available memory in MiB, asked each time a task starts (a test can
    /// replace it).
    available_mib: Box<dyn Fn() -> Option<u64> + Send + Sync>,
}

/// A task's share of the host, given back by [`Reservation::release`] or when dropped.
pub struct Reservation {
    capacity: Arc<Capacity>,
    demand: Demand,
    released: AtomicBool,
}

impl Capacity {
    pub fn new(limits: Limits) -> Arc<Self> {
        Self::with_available(limits, Box::new(available_memory_mib))
    }

    fn with_available(
        limits: Limits,
        available_mib: Box<dyn Fn() -> Option<u64> + Send + Sync>,
    ) -> Arc<Self> {
        Arc::new(Self {
            limits,
            held: Mutex::new(Held::default()),
            available_mib,
        })
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn held(&self) -> Held {
        *lock(&self.held)
    }

    /// The machine's available memory in MiB now.
    pub fn available_memory_mib(&self) -> Option<u64> {
        (self.available_mib)()
    }

    /// Takes `demand` for one task, or says which resource is short; nothing is taken then.
    pub fn reserve(self: &Arc<Self>, demand: Demand) -> Result<Reservation, Shortage> {
        // Read outside the lock: /proc is a file read.
        let available = (self.available_mib)();
        let mut held = lock(&self.held);
        let l = &self.limits;
        if let Some(max) = l.cpu_units
            && held.cpu_units + demand.cpu_units > max
        {
            return Err(Shortage::Cpu(format!(
                "the task needs {} CPU units and the host has {} of its {max} left ([capacity] cpu_units)",
                demand.cpu_units,
                max.saturating_sub(held.cpu_units)
            )));
        }
        if let Some(max) = l.memory_mib
            && held.memory_mib + demand.memory_mib > max
        {
            return Err(Shortage::Memory(format!(
                "the task needs {} MiB and the host has {} of its {max} MiB left ([capacity] memory_mib)",
                demand.memory_mib,
                max.saturating_sub(held.memory_mib)
            )));
        }
        if let Some(max) = l.max_tasks
            && held.tasks >= max
        {
            return Err(Shortage::Memory(format!(
                "the host runs as many tasks as it takes: {max} ([capacity] max_tasks)"
            )));
        }
        if let Some(max) = l.container_slots
            && held.containers + u64::from(demand.containers) > max
        {
            return Err(Shortage::Memory(format!(
                "the task has {} containers and the instance pool has {} of its {max} left ([pool])",
                demand.containers,
                max.saturating_sub(held.containers)
            )));
        }
        if let Some(free) = available
            && free < l.memory_reserve_mib
        {
            return Err(Shortage::Memory(format!(
                "the machine has {free} MiB of memory available, below the {} MiB kept for the host ([capacity] memory_reserve_mib)",
                l.memory_reserve_mib
            )));
        }
        held.tasks += 1;
        held.cpu_units += demand.cpu_units;
        held.memory_mib += demand.memory_mib;
        held.containers += u64::from(demand.containers);
        Ok(Reservation {
            capacity: self.clone(),
            demand,
            released: AtomicBool::new(false),
        })
    }
}

impl Reservation {
    /// Gives the task's share back; later calls do nothing.
    pub fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut held = lock(&self.capacity.held);
        let d = self.demand;
        held.tasks = held.tasks.saturating_sub(1);
        held.cpu_units = held.cpu_units.saturating_sub(d.cpu_units);
        held.memory_mib = held.memory_mib.saturating_sub(d.memory_mib);
        held.containers = held.containers.saturating_sub(u64::from(d.containers));
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

/// `MemAvailable` from /proc/meminfo, in MiB (`None` where there is no such file).
fn available_memory_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_tasks: None,
            cpu_units: None,
            memory_mib: None,
            container_slots: None,
            memory_reserve_mib: 100,
        }
    }

    fn task(cpu: u64, mem: u64, containers: u32) -> Demand {
        Demand {
            cpu_units: cpu,
            memory_mib: mem,
            containers,
        }
    }

    fn capacity(l: Limits, available: u64) -> Arc<Capacity> {
        Capacity::with_available(l, Box::new(move || Some(available)))
    }

    #[test]
    fn cpu_units_add_up_and_come_back_at_release() {
        let c = capacity(
            Limits {
                cpu_units: Some(1024),
                ..limits()
            },
            10_000,
        );
        let held: Vec<_> = (0..4)
            .map(|_| c.reserve(task(256, 512, 1)).unwrap())
            .collect();
        let e = c.reserve(task(256, 512, 1)).err().unwrap();
        assert_eq!(e.to_string(), "RESOURCE:CPU");
        assert!(e.detail().contains("0 of its 1024"), "{}", e.detail());
        assert_eq!(c.held().tasks, 4, "a refusal takes nothing");
        held[0].release();
        held[0].release();
        assert_eq!(c.held().cpu_units, 768, "released once");
        let again = c.reserve(task(256, 512, 1)).unwrap();
        drop(held);
        drop(again);
        assert_eq!(c.held(), Held::default());
    }

    #[test]
    fn memory_tasks_and_pool_slots_are_memory_shortages() {
        let c = capacity(
            Limits {
                memory_mib: Some(1024),
                ..limits()
            },
            10_000,
        );
        let _a = c.reserve(task(256, 1024, 1)).unwrap();
        let e = c.reserve(task(256, 512, 1)).err().unwrap();
        assert_eq!(e.to_string(), "RESOURCE:MEMORY");
        assert!(e.detail().contains("memory_mib"), "{}", e.detail());

        let c = capacity(
            Limits {
                max_tasks: Some(2),
                ..limits()
            },
            10_000,
        );
        let _held = [
            c.reserve(task(1, 1, 1)).unwrap(),
            c.reserve(task(1, 1, 1)).unwrap(),
        ];
        let e = c.reserve(task(1, 1, 1)).err().unwrap();
        assert!(e.detail().contains("max_tasks"), "{}", e.detail());

        let c = capacity(
            Limits {
                container_slots: Some(3),
                ..limits()
            },
            10_000,
        );
        let _two = c.reserve(task(1, 1, 2)).unwrap();
        let e = c.reserve(task(1, 1, 2)).err().unwrap();
        assert!(e.detail().contains("1 of its 3"), "{}", e.detail());
        assert!(c.reserve(task(1, 1, 1)).is_ok(), "one container still fits");
    }

    #[test]
    fn a_machine_short_of_memory_takes_no_task() {
        let c = capacity(limits(), 99);
        let e = c.reserve(task(256, 512, 1)).err().unwrap();
        assert_eq!(e.to_string(), "RESOURCE:MEMORY");
        assert!(e.detail().contains("99 MiB"), "{}", e.detail());
        assert!(capacity(limits(), 100).reserve(task(256, 512, 1)).is_ok());
    }

    #[test]
    fn the_machine_reports_its_memory() {
        assert!(available_memory_mib().is_some_and(|m| m > 0));
    }
}
