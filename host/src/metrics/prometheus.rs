//! `serve --metrics-listen ADDR`: the same figures in Prometheus' text format at
//! `/metrics` (`prometheus-client`'s encoder), read at each scrape from the live tasks
//! ([`Runtime::live_tasks`]) and the load balancer, plus the host's own: tasks by state,
//! API requests by service/operation/status with a latency histogram
//! ([`ApiMetrics`], a `protocol::RequestObserver`), pool slots in use, log store size.
//!
//! Labels: `cluster`, `service` (empty for a task no service started), `family`, `task`,
//! `container`; load balancer series `target_group`. Counters are totals since the task
//! (or host) started: use `rate()` for CPU (`wasmgate_container_cpu_seconds_total`).

use crate::lb::LoadBalancer;
use crate::protocol::RequestObserver;
use crate::runtime::Runtime;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::net::TcpListener;

type Labels = Vec<(String, String)>;
type FGauge = Gauge<f64, AtomicU64>;
type FCounter = Counter<f64, AtomicU64>;

/// How long a scraper gets to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The API's requests, kept for the life of the host.
pub struct ApiMetrics {
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                // 1 ms to ~16 s.
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
        }
    }
}

impl RequestObserver for ApiMetrics {
    fn observe(&self, operation: &str, status: u16, seconds: f64) {
        let (service, op) = operation.split_once('.').unwrap_or((operation, ""));
        let base = vec![
            ("service".to_owned(), service.to_owned()),
            ("operation".to_owned(), op.to_owned()),
        ];
        let mut with_status = base.clone();
        with_status.push(("status".to_owned(), status.to_string()));
        self.requests.get_or_create(&with_status).inc();
        self.latency.get_or_create(&base).observe(seconds);
    }
}

/// What `/metrics` is rendered from.
#[derive(Clone)]
pub struct Exporter {
    pub runtime: Runtime,
    pub lb: Option<LoadBalancer>,
    pub api: Arc<ApiMetrics>,
    /// The log store's database file (its size, with its write-ahead log).
    pub log_db: PathBuf,
}

fn gauge_family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, FGauge> {
    let f = Family::<Labels, FGauge>::default();
    registry.register(name, help, f.clone());
    f
}

fn counter_family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, FCounter> {
    let f = Family::<Labels, FCounter>::default();
    registry.register(name, help, f.clone());
    f
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Exporter {
    /// The text exposition, read now.
    pub fn render(&self) -> String {
        let mut r = Registry::default();
        self.tasks(&mut r);
        self.load_balancer(&mut r);
        self.host(&mut r);
        r.register(
            "wasmgate_api_requests",
            "API requests answered, by service, operation and HTTP status",
            self.api.requests.clone(),
        );
        r.register(
            "wasmgate_api_request_duration_seconds",
            "API request latency, by service and operation",
            self.api.latency.clone(),
        );
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &r) {
            tracing::warn!("metrics exposition: {e}");
        }
        out
    }

    fn tasks(&self, r: &mut Registry) {
        let cpu = counter_family(
            r,
            "wasmgate_container_cpu_seconds",
            "CPU time the container used (its CPU meter)",
        );
        let throttled = counter_family(
            r,
            "wasmgate_container_cpu_throttled_seconds",
            "Wall time the container was parked over its CPU share",
        );
        let fuel = counter_family(
            r,
            "wasmgate_container_fuel_consumed",
            "Fuel the container burned (0 with metering off)",
        );
        let instances = counter_family(
            r,
            "wasmgate_container_instances",
            "Instances built: 1 for a command, one per request for an HTTP component",
        );
        let memory = gauge_family(
            r,
            "wasmgate_container_memory_bytes",
            "Linear memory the container's instances hold now",
        );
        let peak = gauge_family(
            r,
            "wasmgate_container_memory_peak_bytes",
            "Highest linear memory the container held",
        );
        let limit = gauge_family(
            r,
            "wasmgate_container_memory_limit_bytes",
            "The container's memory limit (its own, else the task's)",
        );
        let share = gauge_family(
            r,
            "wasmgate_container_cpu_units",
            "The container's CPU share in units (1024 per vCPU)",
        );
        let cpu_reserved = gauge_family(
            r,
            "wasmgate_task_cpu_reserved_units",
            "The task's cpu (1024 units per vCPU)",
        );
        let mem_reserved = gauge_family(
            r,
            "wasmgate_task_memory_reserved_bytes",
            "The task's memory",
        );
        let task_memory = gauge_family(
            r,
            "wasmgate_task_memory_bytes",
            "Linear memory the task's containers hold now",
        );
        let rx = counter_family(
            r,
            "wasmgate_task_network_receive_bytes",
            "Bytes the task received",
        );
        let tx = counter_family(
            r,
            "wasmgate_task_network_transmit_bytes",
            "Bytes the task sent",
        );
        let storage_read = counter_family(
            r,
            "wasmgate_task_storage_read_bytes",
            "Bytes the task's containers read from files",
        );
        let storage_written = counter_family(
            r,
            "wasmgate_task_storage_write_bytes",
            "Bytes the task's containers wrote to files",
        );
        let storage = gauge_family(
            r,
            "wasmgate_task_storage_used_bytes",
            "Ephemeral storage the task uses",
        );
        let storage_limit = gauge_family(
            r,
            "wasmgate_task_storage_limit_bytes",
            "Ephemeral storage the task may use",
        );
        let by_state = gauge_family(r, "wasmgate_tasks", "Tasks of this host by last status");
        let mut states: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut command_slots = 0u64;
        for t in self.runtime.live_tasks() {
            *states.entry(t.last_status.as_str()).or_default() += 1;
            let service = t.service.clone().unwrap_or_default();
            let tl = labels(&[
                ("cluster", &t.cluster),
                ("service", &service),
                ("family", &t.family),
                ("task", &t.task_id),
            ]);
            cpu_reserved.get_or_create(&tl).set(f64::from(t.cpu_units));
            mem_reserved
                .get_or_create(&tl)
                .set(t.memory_mib as f64 * 1048576.0);
            task_memory.get_or_create(&tl).set(t.memory_bytes as f64);
            rx.get_or_create(&tl).inc_by(t.network.rx_bytes as f64);
            tx.get_or_create(&tl).inc_by(t.network.tx_bytes as f64);
            storage.get_or_create(&tl).set(t.storage_used_bytes as f64);
            storage_read
                .get_or_create(&tl)
                .inc_by(t.storage_read_bytes as f64);
            storage_written
                .get_or_create(&tl)
                .inc_by(t.storage_write_bytes as f64);
            storage_limit
                .get_or_create(&tl)
                .set(t.storage_limit_bytes as f64);
            for c in &t.containers {
                if !c.http && c.instances > 0 && t.is_running() {
                    command_slots += 1;
                }
                let mut cl = tl.clone();
                cl.push(("container".to_owned(), c.name.clone()));
                cpu.get_or_create(&cl).inc_by(c.cpu_time_ns as f64 / 1e9);
                throttled
                    .get_or_create(&cl)
                    .inc_by(c.throttled_ns as f64 / 1e9);
                if c.counts_fuel {
                    fuel.get_or_create(&cl).inc_by(c.fuel_consumed as f64);
                }
                instances.get_or_create(&cl).inc_by(c.instances as f64);
                memory.get_or_create(&cl).set(c.memory_bytes as f64);
                peak.get_or_create(&cl).set(c.memory_peak_bytes as f64);
                limit.get_or_create(&cl).set(c.memory_limit_bytes as f64);
                share.get_or_create(&cl).set(f64::from(c.cpu_units));
            }
        }
        for (state, n) in states {
            by_state
                .get_or_create(&labels(&[("state", state)]))
                .set(n as f64);
        }
        let slots = gauge_family(
            r,
            "wasmgate_pool_slots_in_use",
            "Pooling-allocator instance slots held: HTTP request instances and running commands",
        );
        slots
            .get_or_create(&Vec::new())
            .set((self.runtime.http_pool_slots_in_use() as u64 + command_slots) as f64);
    }

    fn load_balancer(&self, r: &mut Registry) {
        let Some(lb) = &self.lb else { return };
        let requests = counter_family(
            r,
            "wasmgate_lb_requests",
            "Requests the load balancer's listeners received, by target group",
        );
        let codes = counter_family(
            r,
            "wasmgate_lb_target_responses",
            "Targets' responses by status class",
        );
        let elb = counter_family(
            r,
            "wasmgate_lb_elb_responses",
            "Responses the load balancer gave by itself (no target answered), by class",
        );
        let rt_sum = counter_family(
            r,
            "wasmgate_lb_target_response_time_seconds",
            "Sum of target response times (request sent to response headers)",
        );
        let rt_count = counter_family(
            r,
            "wasmgate_lb_target_responses_timed",
            "Target responses timed",
        );
        let healthy = gauge_family(r, "wasmgate_lb_healthy_hosts", "Healthy targets");
        let unhealthy = gauge_family(r, "wasmgate_lb_unhealthy_hosts", "Unhealthy targets");
        let active = gauge_family(
            r,
            "wasmgate_lb_active_connections",
            "Client connections open now",
        );
        for g in lb.readings() {
            let l = labels(&[("target_group", &g.name)]);
            let t = g.totals;
            requests.get_or_create(&l).inc_by(t.requests as f64);
            for (class, n) in [
                ("2xx", t.target_2xx),
                ("3xx", t.target_3xx),
                ("4xx", t.target_4xx),
                ("5xx", t.target_5xx),
            ] {
                let mut cl = l.clone();
                cl.push(("code".to_owned(), class.to_owned()));
                codes.get_or_create(&cl).inc_by(n as f64);
            }
            for (class, n) in [("4xx", t.elb_4xx), ("5xx", t.elb_5xx)] {
                let mut cl = l.clone();
                cl.push(("code".to_owned(), class.to_owned()));
                elb.get_or_create(&cl).inc_by(n as f64);
            }
            rt_sum.get_or_create(&l).inc_by(t.response_seconds);
            rt_count.get_or_create(&l).inc_by(t.response_count as f64);
            healthy.get_or_create(&l).set(g.healthy as f64);
            unhealthy.get_or_create(&l).set(g.unhealthy as f64);
            active.get_or_create(&l).set(t.active_connections as f64);
        }
    }

    fn host(&self, r: &mut Registry) {
        let hits = counter_family(
            r,
            "wasmgate_compile_cache_hits",
            "Component loads answered without compiling",
        );
        hits.get_or_create(&Vec::new())
            .inc_by(self.runtime.compile_cache_hits() as f64);
        let logs = gauge_family(
            r,
            "wasmgate_log_store_bytes",
            "The log store's database on disk, with its write-ahead log",
        );
        let wal = self.log_db.with_extension("db-wal");
        let bytes: u64 = [self.log_db.as_path(), wal.as_path()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        logs.get_or_create(&Vec::new()).set(bytes as f64);
    }
}

/// Serves `/metrics` on `listener` until `stop` resolves.
pub async fn serve(listener: TcpListener, exporter: Exporter, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("metrics listener accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        let exporter = exporter.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let exporter = exporter.clone();
                async move { Ok::<_, Infallible>(answer(&exporter, &req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            let _ = tokio::time::timeout(Duration::from_secs(300), conn).await;
        });
    }
}

async fn answer(exporter: &Exporter, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String, ct: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(ct));
        r
    };
    if req.uri().path() != "/metrics" {
        return text(
            StatusCode::NOT_FOUND,
            "only /metrics is served here\n".into(),
            "text/plain",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served here\n".into(),
            "text/plain",
        );
    }
    let exporter = exporter.clone();
    // Reading every task and the log file's size: off the async workers.
    let body = tokio::task::spawn_blocking(move || exporter.render())
        .await
        .unwrap_or_default();
    text(
        StatusCode::OK,
        body,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_requests_are_counted_by_service_operation_and_status() {
        let api = ApiMetrics::default();
        api.observe("ecs.RunTask", 200, 0.01);
        api.observe("ecs.RunTask", 200, 0.02);
        api.observe("ecs.RunTask", 400, 0.002);
        let mut r = Registry::default();
        r.register("wasmgate_api_requests", "h", api.requests.clone());
        r.register(
            "wasmgate_api_request_duration_seconds",
            "h",
            api.latency.clone(),
        );
        let mut out = String::new();
        encode(&mut out, &r).unwrap();
        assert!(
            out.contains(
                r#"wasmgate_api_requests_total{service="ecs",operation="RunTask",status="200"} 2"#
            ),
            "{out}"
        );
        assert!(
            out.contains(
                r#"wasmgate_api_request_duration_seconds_count{service="ecs",operation="RunTask"} 3"#
            ),
            "{out}"
        );
    }
}
