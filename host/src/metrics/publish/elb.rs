//! `AWS/ApplicationELB` for the built-in load balancer, per second: counts are the
//! differences since the last second (a zero count is not reported, as ALB does not),
//! `TargetResponseTime` a statistic set of the second's answers, host counts and
//! `ActiveConnectionCount` what they are now. Dimensions in ALB's ARN-suffix form:
//! `LoadBalancer` = `app/wasmgate/<id>`, `TargetGroup` = `targetgroup/<name>/<id>`; group
//! metrics under `TargetGroup, LoadBalancer` and `TargetGroup`, load-balancer-wide ones
//! under `LoadBalancer`.

use super::Batch;
use crate::lb::{CounterTotals, GroupReading, Times};

const NS: &str = "AWS/ApplicationELB";

pub(super) fn publish(
    batch: &mut Batch,
    ts: i64,
    lb: &str,
    groups: &[GroupReading],
    times: &[Times],
    previous: &[CounterTotals],
    secs: f64,
) {
    let _ = secs; // counts are per reading; a late tick's second holds a little more
    let mut lb_requests = 0.0;
    let mut lb_elb_5xx = 0.0;
    let mut lb_conns = 0.0;
    let mut lb_codes = [0.0; 4];
    for (i, g) in groups.iter().enumerate() {
        let prev = previous.get(i).copied().unwrap_or_default();
        let d = |now: u64, before: u64| now.saturating_sub(before) as f64;
        let t = &g.totals;
        let requests = d(t.requests, prev.requests);
        let codes = [
            d(t.target_2xx, prev.target_2xx),
            d(t.target_3xx, prev.target_3xx),
            d(t.target_4xx, prev.target_4xx),
            d(t.target_5xx, prev.target_5xx),
        ];
        lb_requests += requests;
        lb_elb_5xx += d(t.elb_5xx, prev.elb_5xx);
        lb_conns += t.active_connections as f64;
        for (sum, c) in lb_codes.iter_mut().zip(codes) {
            *sum += c;
        }
        for dims in [
            &[("LoadBalancer", lb), ("TargetGroup", g.dimension.as_str())][..],
            &[("TargetGroup", g.dimension.as_str())][..],
        ] {
            if requests > 0.0 {
                batch.add(NS, "RequestCount", dims, ts, requests, "Count");
                let per_target = requests / (g.targets.max(1) as f64);
                batch.add(NS, "RequestCountPerTarget", dims, ts, per_target, "Count");
            }
            codes_into(batch, dims, ts, &codes);
            batch.add(NS, "HealthyHostCount", dims, ts, g.healthy as f64, "Count");
            batch.add(
                NS,
                "UnHealthyHostCount",
                dims,
                ts,
                g.unhealthy as f64,
                "Count",
            );
            if let Some(times) = times.get(i).filter(|t| t.count > 0) {
                batch.add_set(NS, "TargetResponseTime", dims, ts, times, "Seconds");
            }
        }
    }
    let dims = [("LoadBalancer", lb)];
    if lb_requests > 0.0 {
        batch.add(NS, "RequestCount", &dims, ts, lb_requests, "Count");
    }
    if lb_elb_5xx > 0.0 {
        batch.add(NS, "HTTPCode_ELB_5XX_Count", &dims, ts, lb_elb_5xx, "Count");
    }
    codes_into(batch, &dims, ts, &lb_codes);
    batch.add(NS, "ActiveConnectionCount", &dims, ts, lb_conns, "Count");
}

fn codes_into(batch: &mut Batch, dims: &[(&str, &str)], ts: i64, codes: &[f64; 4]) {
    for (name, n) in [
        "HTTPCode_Target_2XX_Count",
        "HTTPCode_Target_3XX_Count",
        "HTTPCode_Target_4XX_Count",
        "HTTPCode_Target_5XX_Count",
    ]
    .into_iter()
    .zip(codes)
    {
        if *n > 0.0 {
            batch.add(NS, name, dims, ts, *n, "Count");
        }
    }
}
