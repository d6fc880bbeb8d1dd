//! Attacks on the load balancer and the API (issue 9, items 7, 8, 12, 13):
//!
//! - a target whose health path streams an endless body (`hostile-endless-body`): health
//!   checks read a few KiB, proxied bodies stream through; `wasmgate serve` stays small;
//! - hundreds of stalled, unauthenticated API connections: refused before their bodies,
//!   capped, and the AWS CLI still gets through;
//! - a target on a port the task does not serve, where a host service listens on
//!   `0.0.0.0`: refused, the host service never reached;
//! - slowloris on a listener: closed after the header timeout; connections capped.

use super::{assert_a_well_behaved_task_runs, open_fds, rss_kib};
use crate::common::{Host, Server, SigningKey, guest, sigv4_amz_date, sigv4_authorization};
use serde_json::{Value, json};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Memory `wasmgate serve` may gain during an attack, over its size before it. (Before the
/// fixes: over 1 GiB per health check of an endless body; ~1.6 MiB per stalled API
/// connection, 945 MiB for 600.)
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// The listener's address from `wasmgate: lb listener http://ADDR -> …`.
fn listener_addr(server: &Server) -> SocketAddr {
    let text = server.debug();
    text.lines()
        .find_map(|l| l.split("lb listener http://").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no lb listener line\n{text}"))
}

/// The ARN of target group `name`, from `wasmgate lb show`.
fn target_group_arn(host: &Host, name: &str) -> String {
    let show = host.output(&["lb", "show"]).1;
    show.split_whitespace()
        .find(|w| {
            w.starts_with("arn:aws:elasticloadbalancing:") && w.contains(&format!("/{name}/"))
        })
        .unwrap_or_else(|| panic!("no target group {name} in\n{show}"))
        .to_owned()
}

fn register(server: &Server, host: &Host, def: &Value) {
    let path = host.taskdef(def);
    server.aws_json(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", path.display()),
    ]);
}

fn create_service(server: &Server, name: &str, family: &str, lb: &str) {
    server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        name,
        "--task-definition",
        family,
        "--desired-count",
        "1",
        "--load-balancers",
        lb,
        // A target that fails its checks gets its task replaced at once.
        "--health-check-grace-period-seconds",
        "1",
    ]);
}

fn service_tasks(server: &Server, name: &str) -> Vec<Value> {
    let out = server.aws_json(&["ecs", "list-tasks", "--service-name", name]);
    out["taskArns"].as_array().cloned().unwrap_or_default()
}

/// The largest RSS of `pid` seen every 10 ms while `during` runs.
fn peak_rss_during<T>(pid: u32, during: impl FnOnce() -> T) -> (T, u64) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_kib(pid)));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                peak.fetch_max(rss_kib(pid), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let out = during();
    stop.store(true, Ordering::SeqCst);
    sampler.join().expect("the sampler");
    (out, peak.load(Ordering::SeqCst))
}

/// Polls `check` until it gives a value, for at most `within`.
fn wait_until<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether the server closed `s` (EOF or reset), without blocking.
fn closed_by_server(s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut b = [0u8; 256];
    let closed = match (&mut &*s).read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).expect("blocking");
    closed
}

/// Reads an HTTP response up to the server's close: status, headers (lower-case) and body.
fn read_reply(s: &mut TcpStream) -> std::io::Result<(u16, String, String)> {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, head.to_ascii_lowercase(), body.to_owned()))
}

// ------------------------------------------------------------------------------------
// Item 7: endless bodies
// ------------------------------------------------------------------------------------

/// Health-check lines the endless-body guest logged so far.
fn health_checks_seen(host: &Host) -> usize {
    let (_, out, _) = host.output(&["logs", "--group", "/hostile/endless"]);
    out.lines()
        .filter(|l| l.contains("endless-body: streaming /health"))
        .count()
}

/// A target that answers its health check with a body that never ends: each check reads a
/// few KiB and lets go, so `wasmgate serve` stays within [`RSS_BOUND_KIB`] of its size
/// over many checks; a client reading 64 MiB of the endless body through the listener is
/// streamed to, not buffered for. The service stays healthy (the status is what counts).
#[test]
fn endless_bodies_from_a_target_do_not_grow_the_host() {
    let host = Host::with_config(
        "[[lb.target_groups]]\nname = \"endless\"\nderegistration_delay_seconds = 1\n\
         health_check = { path = \"/health\", interval_seconds = 2, timeout_seconds = 2, \
         healthy_threshold = 2, unhealthy_threshold = 2 }\n\
         [[lb.listeners]]\nport = 0\ntarget_group = \"endless\"\n",
    );
    let server = Server::start(&host);
    let listener = listener_addr(&server);
    let tg = target_group_arn(&host, "endless");
    register(
        &server,
        &host,
        &json!({
            "family": "endless",
            "cpu": "256",
            "memory": "512",
            "networkMode": "awsvpc",
            "containerDefinitions": [{
                "name": "web",
                "image": guest("hostile-endless-body"),
                "portMappings": [{ "containerPort": 8080 }],
                "stopTimeout": 2,
                "logConfiguration": { "logDriver": "awslogs", "options": {
                    "awslogs-group": "/hostile/endless",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "endless"
                }}
            }]
        }),
    );
    let pid = server.pid();
    create_service(
        &server,
        "endless",
        "endless",
        &format!("targetGroupArn={tg},containerName=web,containerPort=8080"),
    );
    // The target passes its checks on the status alone; its task is never replaced.
    let get = || -> Option<TcpStream> {
        let mut s = TcpStream::connect(listener).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET / HTTP/1.1\r\nHost: lb\r\n\r\n").ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).ok()?;
        head.starts_with(b"HTTP/1.1 200").then_some(s)
    };
    wait_until(
        "a target behind the listener",
        Duration::from_secs(90),
        &get,
    );
    let tasks = service_tasks(&server, "endless");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    // Measured with the task running (its component compiled and instantiated).
    let before = rss_kib(pid);
    // At least 10 more health checks, each against an endless body, RSS sampled throughout.
    let seen = health_checks_seen(&host);
    let ((), peak) = peak_rss_during(pid, || {
        wait_until("10 more health checks", Duration::from_secs(90), || {
            (health_checks_seen(&host) >= seen + 10).then_some(())
        })
    });
    eprintln!("serve: {before} KiB before, at most {peak} KiB during the health checks");
    assert!(
        peak < before + RSS_BOUND_KIB,
        "serve grew from {before} KiB to {peak} KiB during health checks of an endless body\n{}",
        server.debug()
    );
    assert_eq!(
        service_tasks(&server, "endless"),
        tasks,
        "the task was replaced: its target failed its health checks\n{}",
        server.debug()
    );

    // 64 MiB of the endless body through the listener: streamed, never collected.
    let mut s = get().expect("a request through the listener");
    let (read, peak) = peak_rss_during(pid, || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut read = 0usize;
        while read < 64 << 20 {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        read
    });
    drop(s);
    eprintln!("serve: at most {peak} KiB while streaming {read} bytes");
    assert!(
        read >= 64 << 20,
        "the listener ended the endless body after {read} bytes"
    );
    assert!(
        peak < before + RSS_BOUND_KIB,
        "serve grew from {before} KiB to {peak} KiB while streaming 64 MiB through the listener"
    );
    // Still serving, still healthy.
    let svc = server.aws_json(&["ecs", "describe-services", "--services", "endless"]);
    assert_eq!(svc["services"][0]["runningCount"], 1, "{svc:#}");
    assert_a_well_behaved_task_runs(&host);
}

// ------------------------------------------------------------------------------------
// Items 8 and 13: the API
// ------------------------------------------------------------------------------------

/// The head of a signed-looking `POST /` announcing a 1 MiB body that is never sent;
/// `key`: `None` sends no `Authorization`.
fn headers_without_body(port: u16, key: Option<&SigningKey>) -> String {
    let amz_date = sigv4_amz_date(std::time::SystemTime::now());
    let headers = vec![
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        ("host".to_owned(), format!("127.0.0.1:{port}")),
        ("x-amz-date".to_owned(), amz_date.clone()),
        (
            "x-amz-target".to_owned(),
            "AmazonEC2ContainerServiceV20141113.ListClusters".to_owned(),
        ),
    ];
    let mut head = String::from("POST / HTTP/1.1\r\ncontent-length: 1048576\r\n");
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(key) = key {
        let body = vec![b' '; 1 << 20];
        let auth = sigv4_authorization(&headers, &body, key, &amz_date);
        head.push_str(&format!("authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn attacker_key() -> SigningKey {
    SigningKey {
        access_key_id: "AKIDATTACKER".into(),
        ..SigningKey::test("ecs")
    }
}

/// Sends the head of a request whose body never comes and reads the answer: it must come
/// without the body, well before the (10 minute) body timeout.
fn refused_before_body(port: u16, key: Option<&SigningKey>) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(headers_without_body(port, key).as_bytes())
        .expect("send the head");
    read_reply(&mut s)
        .unwrap_or_else(|e| panic!("no answer within 30 s to a request whose body never came: {e}"))
}

/// A request without a valid key whose body is never sent is answered at once (the body
/// timeout is 10 minutes here, the client waits 30 s): 400 `UnrecognizedClientException`
/// for an unknown key, 403 `MissingAuthenticationTokenException` for none, the connection
/// closed. An unsigned `X-Amz-Target` is refused too (item 13).
#[test]
fn requests_without_a_valid_key_are_refused_before_their_body() {
    let host = Host::with_config("[api]\nbody_read_timeout_seconds = 600\n");
    let server = Server::start(&host);
    let (status, head, body) = refused_before_body(server.port, Some(&attacker_key()));
    assert_eq!(status, 400, "{head}\n{body}");
    assert!(body.contains("UnrecognizedClientException"), "{body}");
    assert!(head.contains("connection: close"), "{head}");
    let (status, _, body) = refused_before_body(server.port, None);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("MissingAuthenticationTokenException"),
        "{body}"
    );

    // Signed without X-Amz-Target among the signed headers, then the target changed.
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let amz_date = sigv4_amz_date(std::time::SystemTime::now());
    let host_h = format!("127.0.0.1:{}", server.port);
    let signed = vec![
        ("host".to_owned(), host_h.clone()),
        ("x-amz-date".to_owned(), amz_date.clone()),
    ];
    let auth = sigv4_authorization(&signed, b"{}", &SigningKey::test("ecs"), &amz_date);
    write!(
        s,
        "POST / HTTP/1.1\r\nhost: {host_h}\r\nx-amz-date: {amz_date}\r\n\
         x-amz-target: AmazonEC2ContainerServiceV20141113.DeleteCluster\r\n\
         content-type: application/x-amz-json-1.1\r\nauthorization: {auth}\r\n\
         content-length: 2\r\nconnection: close\r\n\r\n{{}}"
    )
    .expect("send");
    let (status, _, body) = read_reply(&mut s).expect("answer");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("IncompleteSignatureException") && body.contains("X-Amz-Target"),
        "{body}"
    );
    let ok = server.aws_json(&["ecs", "list-clusters"]);
    assert!(ok["clusterArns"].is_array(), "{ok:#}");
}

/// 600 stalled, unauthenticated connections: 300 trickle headers that never end
/// (slowloris), 300 announce a 1 MiB body with an unknown key or none and never send it.
/// The latter are answered at once and closed; of the former, at most `max_connections`
/// (the default, 256) stay open, the oldest closed as new ones come. `wasmgate serve`
/// stays within [`RSS_BOUND_KIB`] of its size and its descriptors within the cap, and the
/// AWS CLI still gets its answer while the attacker holds every connection it has left.
#[test]
fn stalled_unauthenticated_api_connections_are_capped_and_cheap() {
    const CAP: usize = 256;
    // Only the cap closes connections here: header and body timeouts are 10 minutes.
    let host = Host::with_config(
        "[api]\nheader_read_timeout_seconds = 600\nbody_read_timeout_seconds = 600\n",
    );
    let server = Server::start(&host);
    // Warm up (the CLI and the server's first request), then measure.
    server.aws_json(&["ecs", "list-clusters"]);
    let pid = server.pid();
    let before = rss_kib(pid);
    let fds_before = open_fds(pid);

    let slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
            s.write_all(b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-amz-date: 2")
                .expect("partial head");
            s
        })
        .collect();
    let key = attacker_key();
    for i in 0..300 {
        let (status, _, body) =
            refused_before_body(server.port, if i % 2 == 0 { Some(&key) } else { None });
        assert!(
            (status, "UnrecognizedClientException") == (400, body_code(&body))
                || (status, "MissingAuthenticationTokenException") == (403, body_code(&body)),
            "attack request {i}: {status} {body}"
        );
    }
    let during = rss_kib(pid);
    assert!(
        during < before + RSS_BOUND_KIB,
        "serve grew from {before} KiB to {during} KiB under 600 stalled connections"
    );
    // The oldest stalled connections were closed to stay within the cap.
    let open = wait_until("the cap to hold", Duration::from_secs(60), || {
        let open = slow.iter().filter(|s| !closed_by_server(s)).count();
        (open <= CAP).then_some(open)
    });
    eprintln!(
        "serve: {before} KiB before, {during} KiB under attack; {open} of 300 stalled \
         connections still open; {} descriptors (before: {fds_before})",
        open_fds(pid)
    );
    assert!(open > 0, "the cap closed every stalled connection");
    assert!(
        open_fds(pid) <= fds_before + CAP + 16,
        "serve holds {} descriptors (before: {fds_before}, cap {CAP})",
        open_fds(pid)
    );
    // The attacker still holds `open` stalled connections: the CLI gets through anyway.
    let ok = server.aws_json(&["ecs", "list-clusters"]);
    assert!(ok["clusterArns"].is_array(), "{ok:#}");
    drop(slow);
    assert_a_well_behaved_task_runs(&host);
}

fn body_code(body: &str) -> &str {
    [
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
    ]
    .into_iter()
    .find(|c| body.contains(c))
    .unwrap_or("")
}

// ------------------------------------------------------------------------------------
// Item 12: host services behind a target port; slowloris and caps on listeners
// ------------------------------------------------------------------------------------

/// A host service on `0.0.0.0:<port>` with a secret, counting its connections.
fn host_service() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("0.0.0.0:0").expect("bind the host service");
    let port = l.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            h.fetch_add(1, Ordering::SeqCst);
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 21\r\nconnection: close\r\n\r\nhost-secret-7f3a9c1e\n",
            );
        }
    });
    (port, hits)
}

/// A service whose load balancer target is a port its task declares but does not serve,
/// where a host service listens on `0.0.0.0`: the load balancer refuses the target (the
/// host log says why) and never connects to it; the listener answers 503, never the
/// host service's secret.
#[test]
fn a_host_service_on_the_wildcard_address_is_not_reachable_through_a_listener() {
    let (port, hits) = host_service();
    let host = Host::with_config(
        "[[lb.target_groups]]\nname = \"web\"\nderegistration_delay_seconds = 1\n\
         health_check = { path = \"/\", interval_seconds = 1, timeout_seconds = 1, \
         healthy_threshold = 1 }\n\
         [[lb.listeners]]\nport = 0\ntarget_group = \"web\"\n",
    );
    let server = Server::start(&host);
    let listener = listener_addr(&server);
    let tg = target_group_arn(&host, "web");
    register(
        &server,
        &host,
        &json!({
            "family": "squatter",
            "cpu": "256",
            "memory": "512",
            "networkMode": "awsvpc",
            "containerDefinitions": [{
                "name": "app",
                "image": guest("sleep"),
                "command": ["600000"],
                "portMappings": [{ "containerPort": port }],
                "stopTimeout": 2
            }]
        }),
    );
    create_service(
        &server,
        "squatter",
        "squatter",
        &format!("targetGroupArn={tg},containerName=app,containerPort={port}"),
    );
    let line = wait_until("the target to be refused", Duration::from_secs(60), || {
        server
            .debug()
            .lines()
            .find(|l| l.contains(&format!(":{port} refused: nothing listens on exactly")))
            .map(str::to_owned)
    });
    eprintln!("serve: {line}");
    assert!(line.contains("does not serve port"), "{line}");
    let mut s = TcpStream::connect(listener).expect("connect to the listener");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(s, "GET / HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n").expect("send");
    let (status, _, body) = read_reply(&mut s).expect("answer");
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("host-secret"), "{body}");
    assert!(body.contains("no healthy targets"), "{body}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the load balancer connected to the host service"
    );
    assert_a_well_behaved_task_runs(&host);
}

/// Slowloris on a listener: a client trickling header lines, and one sending nothing, are
/// closed after the header timeout (2 s here; the bound checked is 30 s). 40 idle
/// connections leave at most `max_connections` (8) open, and a real request still gets its
/// answer.
#[test]
fn slowloris_on_a_listener_is_closed_after_the_header_timeout() {
    const CAP: usize = 8;
    let host = Host::with_config(&format!(
        "[lb]\nheader_read_timeout_seconds = 2\nmax_connections = {CAP}\n\
         [[lb.target_groups]]\nname = \"web\"\n\
         [[lb.listeners]]\nport = 0\ntarget_group = \"web\"\n"
    ));
    let server = Server::start(&host);
    let listener = listener_addr(&server);
    let pid = server.pid();
    let fds_before = open_fds(pid);

    let silent = TcpStream::connect(listener).expect("connect");
    let mut loris = TcpStream::connect(listener).expect("connect");
    loris
        .write_all(b"GET / HTTP/1.1\r\nHost: lb\r\n")
        .expect("partial head");
    let started = Instant::now();
    let bound = Duration::from_secs(30);
    let mut n = 0;
    loop {
        // A header line every 200 ms: never a complete head.
        let wrote = loris.write_all(format!("x-{n}: y\r\n").as_bytes()).is_ok();
        n += 1;
        if !wrote || closed_by_server(&loris) {
            break;
        }
        assert!(
            started.elapsed() < bound,
            "a slowloris connection is still open after {bound:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_until("the silent connection to close", bound, || {
        closed_by_server(&silent).then_some(())
    });

    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(listener).expect("connect"))
        .collect();
    wait_until("the cap to hold", bound, || {
        (idle.iter().filter(|s| !closed_by_server(s)).count() <= CAP).then_some(())
    });
    assert!(
        open_fds(pid) <= fds_before + CAP + 8,
        "serve holds {} descriptors (before: {fds_before})",
        open_fds(pid)
    );
    let mut s = TcpStream::connect(listener).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(s, "GET / HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n").expect("send");
    let (status, _, body) = read_reply(&mut s).expect("answer");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("no healthy targets in target group web"),
        "{body}"
    );
    drop(idle);
    let ok = server.aws_json(&["ecs", "list-clusters"]);
    assert!(ok["clusterArns"].is_array(), "{ok:#}");
    assert_a_well_behaved_task_runs(&host);
}
