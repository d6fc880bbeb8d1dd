//! Task networking: one loopback address per task, shared by its containers (awsvpc-like).
//!
//! - [`pool`]: each task leases an address from a pool inside 127/8 at PROVISIONING and
//!   gives it back at STOPPED; flock'ed lock files make that machine-wide.
//! - [`map`]: guests see a loopback of their own (`127.0.0.1`, `0.0.0.0`, `localhost` are
//!   the task); the host sees the task address.
//! - [`tcp`], [`udp`], [`lookup`]: shadow `wasi:sockets/{tcp,udp,ip-name-lookup}`
//!   (wasmtime-wasi has no rewrite hook) and delegate to wasmtime-wasi.
//! - [`policy`]: what a task may reach, decided in `socket_addr_check` on host-side
//!   addresses; denials are `access-denied` in the guest and one warning on the host.
//!   Inbound sources and name-lookup answers follow the same rules.
//! - [`budget`]: sockets and lookups per container, and the host's descriptor budget;
//!   refusals are `new-socket-limit` / `temporary-resolver-failure` in the guest.
//! - [`publish`]: `wasmgate run --publish` proxies a host port to a task port.

mod authority;
mod budget;
mod cidr;
mod counters;
mod lookup;
mod map;
mod policy;
mod pool;
pub mod publish;
#[cfg(test)]
mod role_tests;
mod sysnet;
mod tasknet;
mod tcp;
#[cfg(test)]
mod tests;
mod udp;
mod view;

pub use authority::{
    MAX_CACHED, NetAction, NetRequest, NetVerdict, NetworkAuthorities, NetworkAuthority, RoleGate,
    TaskAuthority,
};
pub use budget::{ContainerBudget, NetLimits, Refusal};
pub use cidr::{Cidr, CidrError};
pub use counters::{NetCounters, NetTotals};
pub use lookup::GATEWAY_NAME;
pub use map::{AddrMap, GatewayRoute};
pub use policy::{Denial, Environment, Governor, PeerInfo, Policy, PolicyError, Proto};
pub use pool::PoolError;
pub use tasknet::{OnDemandServer, PortGuard, TaskNetwork};
pub use view::{ContainerNet, TaskNet, TaskNetView, add_to_linker};

use crate::config::{LimitsConfig, NetworkConfig};
use crate::runtime::descriptors::HostDescriptors;
use pool::{AddressLease, AddressPool};
use std::net::Ipv4Addr;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid network configuration: {0}")]
    Config(#[from] PolicyError),
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// What all tasks of a host share: the rules and the address pool.
pub struct NetworkHost {
    policy: Arc<Policy>,
    pool: AddressPool,
    limits: NetLimits,
}

impl NetworkHost {
    pub fn new(
        config: &NetworkConfig,
        limits: &LimitsConfig,
        descriptors: Arc<HostDescriptors>,
    ) -> Result<Self, NetError> {
        let policy = Policy::from_config(config)?;
        let pool_range = policy.pool();
        let bounds = pool_range.v4_bounds().ok_or_else(|| PolicyError {
            field: "network.pool".into(),
            message: "must be an IPv4 range".into(),
        })?;
        let pool = AddressPool::new(
            pool_range.to_string(),
            bounds,
            vec![policy.gateway()],
            config.lock_dir.clone(),
        )?;
        Ok(Self {
            policy: Arc::new(policy),
            pool,
            limits: NetLimits {
                sockets_per_container: to_usize(limits.max_sockets_per_container),
                lookups_per_container: to_usize(config.max_lookups_per_container),
                descriptors,
            },
        })
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// Leases an address for a task with no role policy and no service.
    pub fn provision(&self, task_id: &str, family: &str) -> Result<TaskLease, NetError> {
        self.provision_task(&TaskNetSpec::plain(task_id, family))
    }

    /// Leases an address for a task (PROVISIONING); the lease ends with the task.
    pub fn provision_task(&self, task: &TaskNetSpec) -> Result<TaskLease, NetError> {
        let lease = self.pool.allocate(PeerInfo {
            task_id: task.task_id.clone(),
            family: task.family.clone(),
            service: task.service.clone(),
            cluster: task.cluster.clone(),
        })?;
        let network = Arc::new(TaskNetwork::new(
            task,
            lease.address(),
            self.policy.clone(),
            self.pool.live().clone(),
            self.limits.clone(),
        ));
        Ok(TaskLease {
            network,
            _address: lease,
        })
    }
}

/// What the network needs to know of a task it provisions.
#[derive(Clone, Default)]
pub struct TaskNetSpec {
    pub task_id: String,
    pub family: String,
    /// The ECS service that started it (other tasks' role policies may name it).
    pub service: Option<String>,
    /// The ARN of its cluster (the service's name is unique only in it).
    pub cluster: Option<String>,
    /// Its role's `wasmgate:` policies, if it has any.
    pub authority: Option<Arc<dyn NetworkAuthority>>,
    /// Its portMappings' container ports, by protocol.
    pub declared_ports: Vec<(Proto, u16)>,
}

impl TaskNetSpec {
    /// A task with no role policy and no service (tests, benches).
    pub fn plain(task_id: &str, family: &str) -> Self {
        Self {
            task_id: task_id.to_owned(),
            family: family.to_owned(),
            ..Self::default()
        }
    }
}

/// A task's network for its lifetime. The address is free again once this is dropped,
/// whatever still holds the [`TaskNetwork`] (a socket check a dying store left behind).
pub struct TaskLease {
    network: Arc<TaskNetwork>,
    _address: AddressLease,
}

impl TaskLease {
    pub fn network(&self) -> &Arc<TaskNetwork> {
        &self.network
    }

    pub fn address(&self) -> Ipv4Addr {
        self.network.address()
    }
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
