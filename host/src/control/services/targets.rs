//! The one place the service scheduler talks to the load balancer (`crate::lb`).
//!
//! Without a load balancer (none configured on this host, or the control plane built
//! without one) no target group exists: [`Targets::check`] refuses every
//! `targetGroupArn` with a clear error, so a service naming one is refused at
//! CreateService/UpdateService rather than silently run without traffic.

use crate::lb::{LoadBalancer, TargetHealth};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

/// The load balancer as the scheduler sees it; cheap to clone.
#[derive(Default, Clone)]
pub struct Targets {
    lb: Arc<OnceLock<LoadBalancer>>,
}

impl Targets {
    /// Gives the scheduler its load balancer; only the first call counts.
    pub fn set(&self, lb: LoadBalancer) -> bool {
        self.lb.set(lb).is_ok()
    }

    /// Whether `target_group_arn` names a target group; the error says why not.
    pub fn check(&self, target_group_arn: &str) -> Result<(), String> {
        let Some(lb) = self.lb.get() else {
            return Err(format!(
                "target group {target_group_arn:?} does not exist: no load balancer is configured on this host"
            ));
        };
        match lb.target_group(target_group_arn) {
            Some(_) => Ok(()),
            None => Err(format!(
                "target group {target_group_arn:?} does not exist (target groups come from the [lb] section of the host's config)"
            )),
        }
    }

    /// Adds `addr` to the target group.
    pub fn register(&self, target_group_arn: &str, addr: SocketAddr) -> Result<(), String> {
        match self.lb.get() {
            Some(lb) => lb
                .register_target(target_group_arn, addr)
                .map_err(|e| e.to_string()),
            None => Err("no load balancer is configured on this host".into()),
        }
    }

    /// Removes `addr`, waiting for its draining (the deregistration delay) to end.
    pub async fn deregister(&self, target_group_arn: &str, addr: SocketAddr) {
        if let Some(lb) = self.lb.get() {
            lb.deregister_target(target_group_arn, addr).await;
        }
    }

    /// Whether the target group reports `addr` unhealthy (failed its health checks).
    pub fn unhealthy(&self, target_group_arn: &str, addr: SocketAddr) -> bool {
        self.lb.get().is_some_and(|lb| {
            lb.target_health(target_group_arn)
                .iter()
                .any(|(a, h)| *a == addr && *h == TargetHealth::Unhealthy)
        })
    }

    /// Whether the target group has judged `addr` (healthy or unhealthy): a target still
    /// `initial` has had no verdict yet and gets no traffic.
    pub fn judged(&self, target_group_arn: &str, addr: SocketAddr) -> bool {
        self.lb.get().is_some_and(|lb| {
            lb.target_health(target_group_arn).iter().any(|(a, h)| {
                *a == addr && matches!(h, TargetHealth::Healthy | TargetHealth::Unhealthy)
            })
        })
    }

    /// Whether the target group reports `addr` healthy.
    pub fn healthy(&self, target_group_arn: &str, addr: SocketAddr) -> bool {
        self.lb.get().is_some_and(|lb| {
            lb.target_health(target_group_arn)
                .iter()
                .any(|(a, h)| *a == addr && *h == TargetHealth::Healthy)
        })
    }
}
