//! The built-in load balancer (`[lb]`): target groups, listeners, health checks, draining.
//!
//! Most behaviours are driven through the library (`wasmgate::lb::LoadBalancer`) with tiny
//! hyper servers on 127.0.0.1 as targets; one test puts a real Wasm HTTP task (`wasmgate
//! run`) behind it, and `wasmgate serve` / `wasmgate lb show` are driven as a user would.
//! (Registering service tasks from the control plane belongs to the services work.)

use crate::common;

use bytes::Bytes;
use common::{Host, Server, guest, http_get};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmgate::config::LbConfig;
use wasmgate::lb::{LoadBalancer, TargetHealth};

/// A test target: answers `<name> xff=… proto=… port=… host=…`; `/health` is 200 while
/// `healthy`, else 500; `/slow?ms=N` answers after N ms.
struct Backend {
    name: &'static str,
    addr: SocketAddr,
    healthy: Arc<AtomicBool>,
}

async fn backend(name: &'static str) -> Backend {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = listener.local_addr().expect("backend addr");
    let healthy = Arc::new(AtomicBool::new(true));
    let h = healthy.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let h = h.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let h = h.clone();
                    async move { Ok::<_, Infallible>(answer(name, &h, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Backend {
        name,
        addr,
        healthy,
    }
}

async fn answer(name: &str, healthy: &AtomicBool, req: Request<Incoming>) -> Response<String> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    let path = req.uri().path().to_owned();
    if path == "/health" {
        let ok = healthy.load(Ordering::SeqCst);
        let mut r = Response::new(format!("{name} health {ok}"));
        if !ok {
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        }
        return r;
    }
    if path == "/slow" {
        let ms = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("ms="))
            .and_then(|m| m.parse().ok())
            .unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    Response::new(format!(
        "{name} xff={} proto={} port={} host={} conn={}",
        header("x-forwarded-for"),
        header("x-forwarded-proto"),
        header("x-forwarded-port"),
        header("host"),
        header("x-hop"),
    ))
}

fn lb_config(algorithm: &str, healthy_threshold: u32, delay: u64) -> LbConfig {
    toml::from_str(&format!(
        "[[target_groups]]\nname = \"web\"\nalgorithm = \"{algorithm}\"\n\
         deregistration_delay_seconds = {delay}\n\
         health_check = {{ path = \"/health\", interval_seconds = 1, timeout_seconds = 1, \
         healthy_threshold = {healthy_threshold}, unhealthy_threshold = 2 }}\n\
         [[listeners]]\nport = 0\ntarget_group = \"web\"\n"
    ))
    .expect("lb config")
}

async fn started(cfg: &LbConfig) -> (LoadBalancer, SocketAddr) {
    let lb = LoadBalancer::from_config(cfg, "us-east-1", "000000000000").expect("lb");
    lb.start().await.expect("start lb");
    let addr = lb.listener_addrs()[0];
    (lb, addr)
}

async fn wait_health(lb: &LoadBalancer, addr: SocketAddr, want: TargetHealth, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let h = lb.target_health("web");
        if h.iter().any(|&(a, s)| a == addr && s == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} never became {want}: {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type TestClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn get(c: &TestClient, lb: SocketAddr, path: &str) -> (u16, String) {
    let uri: hyper::Uri = format!("http://{lb}{path}").parse().expect("uri");
    let resp = c.get(uri).await.expect("request through the listener");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn who(body: &str) -> &str {
    body.split(' ').next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_requests_across_two_targets() {
    let (a, b) = (backend("a").await, backend("b").await);
    let (lb, listen) = started(&lb_config("round_robin", 1, 1)).await;
    for t in [&a, &b] {
        lb.register_target("web", t.addr).expect("register");
    }
    for t in [&a, &b] {
        wait_health(&lb, t.addr, TargetHealth::Healthy, Duration::from_secs(10)).await;
    }
    let c = client();
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let (status, body) = get(&c, listen, "/x").await;
        assert_eq!(status, 200, "{body}");
        *counts.entry(who(&body).to_owned()).or_insert(0) += 1;
    }
    assert_eq!(counts.get(a.name), Some(&10), "{counts:?}");
    assert_eq!(counts.get(b.name), Some(&10), "{counts:?}");
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_outstanding_requests_prefers_the_idle_target() {
    let (a, b) = (backend("a").await, backend("b").await);
    let (lb, listen) = started(&lb_config("least_outstanding_requests", 1, 1)).await;
    for t in [&a, &b] {
        lb.register_target("web", t.addr).expect("register");
        wait_health(&lb, t.addr, TargetHealth::Healthy, Duration::from_secs(10)).await;
    }
    let c = client();
    let c2 = c.clone();
    let slow = tokio::spawn(async move { get(&c2, listen, "/slow?ms=1500").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut quick = Vec::new();
    for _ in 0..8 {
        let (status, body) = get(&c, listen, "/quick").await;
        assert_eq!(status, 200);
        quick.push(who(&body).to_owned());
    }
    let (status, slow_body) = slow.await.expect("slow request");
    assert_eq!(status, 200);
    let busy = who(&slow_body);
    assert!(
        quick.iter().all(|q| q != busy),
        "quick requests went to the busy target {busy}: {quick:?}"
    );
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_targets_is_503_with_a_clear_body_and_a_dead_target_is_502() {
    let (lb, listen) = started(&lb_config("round_robin", 1, 0)).await;
    let c = client();
    let (status, body) = get(&c, listen, "/").await;
    assert_eq!(status, 503);
    assert!(
        body.contains("no healthy targets in target group web"),
        "{body}"
    );
    // A target nobody listens on is refused at registration.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let refused = lb.register_target("web", nobody).unwrap_err().to_string();
    assert!(refused.contains("nothing listens on exactly"), "{refused}");
    // One that stops listening after it registered: unhealthy; with every target unhealthy
    // the group fails open (like ALB), so the request is tried and ends in 502.
    let listening = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = listening.local_addr().expect("addr");
    lb.register_target("web", dead).expect("register");
    drop(listening);
    assert_eq!(lb.target_health("web"), vec![(dead, TargetHealth::Initial)]);
    let (status, _) = get(&c, listen, "/").await;
    assert_eq!(status, 503, "an Initial target gets no traffic");
    wait_health(&lb, dead, TargetHealth::Unhealthy, Duration::from_secs(10)).await;
    let (status, body) = get(&c, listen, "/").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains(&dead.to_string()), "{body}");
    // Unknown target group.
    assert!(lb.register_target("nope", dead).is_err());
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_health_checks_take_a_target_out_and_recovery_brings_it_back() {
    let (a, b) = (backend("a").await, backend("b").await);
    let (lb, listen) = started(&lb_config("round_robin", 2, 1)).await;
    for t in [&a, &b] {
        lb.register_target("web", t.addr).expect("register");
    }
    for t in [&a, &b] {
        wait_health(&lb, t.addr, TargetHealth::Healthy, Duration::from_secs(10)).await;
    }
    b.healthy.store(false, Ordering::SeqCst);
    wait_health(
        &lb,
        b.addr,
        TargetHealth::Unhealthy,
        Duration::from_secs(10),
    )
    .await;
    let c = client();
    for _ in 0..10 {
        let (status, body) = get(&c, listen, "/").await;
        assert_eq!(status, 200);
        assert_eq!(who(&body), "a", "an unhealthy target got traffic");
    }
    b.healthy.store(true, Ordering::SeqCst);
    wait_health(&lb, b.addr, TargetHealth::Healthy, Duration::from_secs(10)).await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let (_, body) = get(&c, listen, "/").await;
        seen.insert(who(&body).to_owned());
    }
    assert!(
        seen.contains("b"),
        "the recovered target gets traffic again: {seen:?}"
    );
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_lets_an_in_flight_request_finish_while_new_ones_go_elsewhere() {
    let (a, b) = (backend("a").await, backend("b").await);
    let (lb, listen) = started(&lb_config("round_robin", 1, 20)).await;
    lb.register_target("web", a.addr).expect("register a");
    wait_health(&lb, a.addr, TargetHealth::Healthy, Duration::from_secs(10)).await;
    let c = client();
    let c2 = c.clone();
    let slow = tokio::spawn(async move { get(&c2, listen, "/slow?ms=2000").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    lb.register_target("web", b.addr).expect("register b");
    wait_health(&lb, b.addr, TargetHealth::Healthy, Duration::from_secs(10)).await;

    let lb2 = lb.clone();
    let started_at = Instant::now();
    let dereg = tokio::spawn(async move { lb2.deregister_target("web", a.addr).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        lb.target_health("web")
            .contains(&(a.addr, TargetHealth::Draining)),
        "{:?}",
        lb.target_health("web")
    );
    for _ in 0..6 {
        let (status, body) = get(&c, listen, "/new").await;
        assert_eq!(status, 200);
        assert_eq!(who(&body), "b", "a draining target got a new request");
    }
    let (status, body) = slow.await.expect("slow");
    assert_eq!((status, who(&body)), (200, "a"), "{body}");
    dereg.await.expect("deregister");
    let took = started_at.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "deregistration waited {took:?}"
    );
    assert_eq!(
        lb.target_health("web"),
        vec![(b.addr, TargetHealth::Healthy)]
    );
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_reach_the_target_and_hop_by_hop_ones_do_not() {
    let a = backend("a").await;
    let (lb, listen) = started(&lb_config("round_robin", 1, 0)).await;
    lb.register_target("web", a.addr).expect("register");
    wait_health(&lb, a.addr, TargetHealth::Healthy, Duration::from_secs(10)).await;
    let c = client();
    let (_, body) = get(&c, listen, "/").await;
    assert!(body.contains("xff=127.0.0.1 "), "{body}");
    assert!(body.contains("proto=http "), "{body}");
    assert!(body.contains(&format!("port={} ", listen.port())), "{body}");
    assert!(
        body.contains(&format!("host={listen} ")),
        "Host is kept: {body}"
    );

    // An existing X-Forwarded-For is extended; headers named by Connection are dropped.
    let req = Request::get(format!("http://{listen}/"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("connection", "x-hop")
        .header("x-hop", "secret")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let resp = c.request(req).await.expect("request");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("xff=203.0.113.7, 127.0.0.1 "), "{body}");
    assert!(
        body.contains("conn=-"),
        "hop-by-hop header forwarded: {body}"
    );
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_requests_are_served() {
    let a = backend("a").await;
    let (lb, listen) = started(&lb_config("round_robin", 1, 0)).await;
    lb.register_target("web", a.addr).expect("register");
    wait_health(&lb, a.addr, TargetHealth::Healthy, Duration::from_secs(10)).await;
    let c: TestClient = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let uri: hyper::Uri = format!("http://{listen}/h2").parse().expect("uri");
    let resp = c.get(uri).await.expect("h2c request");
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.starts_with("a xff=127.0.0.1"), "{body}");
    assert!(body.contains(&format!("host={listen} ")), "{body}");
    lb.shutdown().await;
}

const WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_http_task_serves_through_the_listener() {
    let host = Host::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let def = json!({"family": "lb-hello", "cpu": "1024", "memory": "2048", "containerDefinitions": [{
        "name": "hello", "image": guest("http-hello"),
        "portMappings": [{"containerPort": port}],
        "environment": [{"name": "NAME", "value": "wasm"}],
    }]});
    let live = host.start(&def, &[]);
    live.expect_stderr("wasmgate: container hello RUNNING", WAIT);
    let ip = live.task_address(WAIT);
    let target = SocketAddr::new(ip, port);

    let cfg: LbConfig = toml::from_str(
        "[[target_groups]]\nname = \"web\"\n\
         health_check = { interval_seconds = 1, timeout_seconds = 1 }\n\
         [[listeners]]\nport = 0\ntarget_group = \"web\"\n",
    )
    .expect("cfg");
    let (lb, listen) = started(&cfg).await;
    lb.register_target("web", target).expect("register");
    wait_health(&lb, target, TargetHealth::Healthy, Duration::from_secs(20)).await;
    let c = client();
    for i in 0..5 {
        let (status, body) = get(&c, listen, &format!("/through/{i}")).await;
        assert_eq!(status, 200, "{body}\n{}", live.debug());
        assert!(
            body.contains(&format!("hello from wasm path=/through/{i}")),
            "{body}"
        );
    }
    lb.shutdown().await;
    live.kill();
}

#[test]
fn serve_starts_the_configured_listener_and_lb_show_prints_the_config() {
    let toml = "[[lb.target_groups]]\nname = \"web\"\nalgorithm = \"least_outstanding_requests\"\n\
                [[lb.listeners]]\nport = 0\ntarget_group = \"web\"\n";
    let host = Host::with_config(toml);
    let (code, out, err) = host.output(&["lb", "show"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/"),
        "{out}"
    );
    assert!(out.contains("least_outstanding_requests"), "{out}");
    assert!(out.contains("http://127.0.0.1:0 -> web"), "{out}");

    let server = Server::start(&host);
    let text = server.debug();
    let line = text
        .lines()
        .find(|l| l.contains("lb listener http://"))
        .unwrap_or_else(|| panic!("no lb listener line\n{text}"));
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    // No service registered a task yet: a clear 503.
    let r = http_get(addr, "/").expect("GET through the listener");
    assert_eq!(r.status, 503, "{r:?}");
    assert!(
        r.body.contains("no healthy targets in target group web"),
        "{r:?}"
    );

    // A listener naming an unknown target group: the error names the field.
    let bad = Host::with_config("[[lb.listeners]]\nport = 0\ntarget_group = \"api\"\n");
    let (code, out, err) = bad.output(&["lb", "show"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("lb.listeners[0].target_group"), "{err}");
    let (code, _, err) = bad.output(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("lb.listeners[0].target_group"), "{err}");
}

/// A target that can be taken down at once: dropping the returned handle's task closes the
/// listener and every connection.
async fn killable_backend(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = listener.local_addr().expect("backend addr");
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        let healthy = Arc::new(AtomicBool::new(true));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let h = healthy.clone();
            conns.spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let h = h.clone();
                    async move { Ok::<_, Infallible>(answer(name, &h, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_request_is_retried_on_another_target_when_it_cannot_connect() {
    let a = backend("a").await;
    let (dead, dead_task) = killable_backend("d").await;
    // Slow health checks: the dead target stays Healthy for the whole test.
    let cfg: LbConfig = toml::from_str(
        "[[target_groups]]\nname = \"web\"\n\
         health_check = { path = \"/health\", interval_seconds = 30, timeout_seconds = 2, \
         healthy_threshold = 1 }\n\
         [[listeners]]\nport = 0\ntarget_group = \"web\"\n",
    )
    .expect("cfg");
    let (lb, listen) = started(&cfg).await;
    for t in [a.addr, dead] {
        lb.register_target("web", t).expect("register");
        wait_health(&lb, t, TargetHealth::Healthy, Duration::from_secs(10)).await;
    }
    dead_task.abort();
    let _ = dead_task.await;
    let c = client();
    for _ in 0..6 {
        let (status, body) = get(&c, listen, "/").await;
        assert_eq!((status, who(&body)), (200, "a"), "{body}");
    }
    // A POST with a body is not retried: some of them reach the dead target and get 502.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let req = Request::post(format!("http://{listen}/"))
            .body(http_body_util::Full::new(Bytes::from_static(b"payload")))
            .expect("request");
        let c: Client<_, http_body_util::Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        statuses.push(c.request(req).await.expect("post").status().as_u16());
    }
    assert!(statuses.contains(&502), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    lb.shutdown().await;
}

/// `lb create-target-group` / `create-listener` add to the config file (keeping what it
/// had), print the ARN, and refuse what `[lb]` would reject without touching the file.
#[test]
fn lb_create_commands_add_to_the_config_file() {
    let host = Host::with_config("# my host\n[fuel]\nenabled = true\n");
    let path = host.config.clone().expect("config path");
    let (code, out, err) = host.output(&[
        "lb",
        "create-target-group",
        "--name",
        "web",
        "--health-check-path",
        "/health",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.trim()
            .starts_with("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/"),
        "{out}"
    );
    let (code, out, err) = host.output(&[
        "lb",
        "create-listener",
        "--port",
        "0",
        "--target-group",
        "web",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let text = std::fs::read_to_string(&path).expect("config");
    assert!(
        text.starts_with("# my host\n[fuel]\nenabled = true\n"),
        "{text}"
    );

    let (code, out, _) = host.output(&["lb", "show"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("GET /health"), "{out}");
    assert!(out.contains("http://127.0.0.1:0 -> web"), "{out}");

    for bad in [
        &[
            "lb",
            "create-listener",
            "--port",
            "1",
            "--target-group",
            "api",
        ][..],
        &["lb", "create-target-group", "--name", "web"][..],
        &["lb", "create-target-group", "--name", "x\"y"][..],
    ] {
        let (code, _, err) = host.output(bad);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
        assert!(err.contains("lb."), "{bad:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&path).expect("config"), text);
}
