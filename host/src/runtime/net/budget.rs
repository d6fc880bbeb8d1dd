//! What one container's networking may make the host hold: sockets (a descriptor each,
//! counted against the host's budget too) and name lookups at once (a host thread each).
//! One budget per container, shared by all its stores (an HTTP container has one per
//! request), so a container cannot multiply its limits by running in parallel.

use crate::runtime::descriptors::{Descriptor, DescriptorQuota, Exhausted, HostDescriptors};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The host-wide numbers every container's budget is made from.
#[derive(Debug, Clone)]
pub struct NetLimits {
    pub sockets_per_container: usize,
    pub lookups_per_container: usize,
    pub descriptors: Arc<HostDescriptors>,
}

/// One container's budget.
#[derive(Debug)]
pub struct ContainerBudget {
    sockets: Arc<DescriptorQuota>,
    lookups_cap: usize,
    lookups: Arc<AtomicUsize>,
    /// Whether each kind of refusal was logged for this container already.
    logged: [AtomicBool; 3],
}

/// A refusal, for the one log line per container and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Sockets(Exhausted),
    Lookups(usize),
}

impl Refusal {
    fn slot(self) -> usize {
        match self {
            Refusal::Sockets(Exhausted::Container { .. }) => 0,
            Refusal::Sockets(Exhausted::Host { .. }) => 1,
            Refusal::Lookups(_) => 2,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Sockets(why) => write!(f, "socket refused: {why}"),
            Refusal::Lookups(cap) => write!(
                f,
                "name lookup refused: {cap} lookups are open already ([network] max_lookups_per_container)"
            ),
        }
    }
}

impl ContainerBudget {
    pub fn new(limits: &NetLimits) -> Self {
        Self {
            sockets: DescriptorQuota::new(
                "sockets",
                "[limits] max_sockets_per_container",
                limits.sockets_per_container,
                limits.descriptors.clone(),
            ),
            lookups_cap: limits.lookups_per_container,
            lookups: Arc::default(),
            logged: Default::default(),
        }
    }

    /// A socket's descriptor, given back when the returned value is dropped.
    pub fn socket(&self) -> Result<Descriptor, Refusal> {
        self.sockets.try_take().map_err(Refusal::Sockets)
    }

    /// A name lookup, counted until the returned value is dropped.
    pub fn lookup(&self) -> Result<LookupPermit, Refusal> {
        self.lookups
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.lookups_cap).then_some(n + 1)
            })
            .map_err(|_| Refusal::Lookups(self.lookups_cap))?;
        Ok(LookupPermit(self.lookups.clone()))
    }

    pub fn sockets_in_use(&self) -> usize {
        self.sockets.in_use()
    }

    /// Whether `refusal` is the first of its kind for this container (worth a log line).
    pub fn first(&self, refusal: Refusal) -> bool {
        !self.logged[refusal.slot()].swap(true, Ordering::Relaxed)
    }
}

/// A lookup in flight (or a stream of answers not yet read to its end).
#[derive(Debug)]
pub struct LookupPermit(Arc<AtomicUsize>);

impl Drop for LookupPermit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
