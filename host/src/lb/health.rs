//! Health checks: an HTTP GET of the group's path on each target, every interval.

use super::{HealthState, Target, TargetGroup, TargetHealth, lock, proxy};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts the checker of one target; it ends when the target leaves the group or the load
/// balancer shuts down. The first check runs at once.
pub(super) fn spawn(
    group: Arc<TargetGroup>,
    target: &Arc<Target>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let target = Arc::downgrade(target);
    tokio::spawn(async move {
        let hc = group.info.health_check.clone();
        loop {
            let Some(t) = target.upgrade() else { return };
            if t.removed.load(Ordering::Acquire) || *stop.borrow() {
                return;
            }
            let ok = tokio::select! {
                ok = probe(&t, &hc) => ok,
                _ = stop.changed() => return,
            };
            record(&mut lock(&t.health), ok, &hc, &group, t.addr);
            drop(t);
            tokio::select! {
                _ = tokio::time::sleep(hc.interval) => {}
                _ = stop.changed() => return,
            }
        }
    })
}

async fn probe(t: &Target, hc: &super::HealthCheckInfo) -> bool {
    let check = async {
        let status = proxy::health_get(&t.pool, &hc.path).await?;
        Some(hc.matches(status))
    };
    matches!(
        tokio::time::timeout(hc.timeout, check).await,
        Ok(Some(true))
    )
}

fn record(
    h: &mut HealthState,
    ok: bool,
    hc: &super::HealthCheckInfo,
    group: &TargetGroup,
    addr: std::net::SocketAddr,
) {
    if h.state == TargetHealth::Draining {
        return;
    }
    if ok {
        h.successes = h.successes.saturating_add(1);
        h.failures = 0;
        if h.state != TargetHealth::Healthy && h.successes >= hc.healthy_threshold {
            tracing::info!(target_group = group.name(), %addr, "target healthy");
            h.state = TargetHealth::Healthy;
        }
    } else {
        h.failures = h.failures.saturating_add(1);
        h.successes = 0;
        if h.state != TargetHealth::Unhealthy && h.failures >= hc.unhealthy_threshold {
            tracing::warn!(target_group = group.name(), %addr, "target unhealthy");
            h.state = TargetHealth::Unhealthy;
        }
    }
}
