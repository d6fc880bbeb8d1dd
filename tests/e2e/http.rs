//! HTTP components (wasi:http proxy components) served on their task's ports, as a user
//! sees them: `wasmgate run`, then plain HTTP/1.1 requests to `<task address>:<port>`.
//!
//! - the two-tier example: the frontend calls the api on `localhost:5000` in-process;
//!   sequential and concurrent requests; SIGTERM drains and ends the run with 0;
//! - a trap is a 500 and the container keeps serving; a request past the container's memory
//!   limit is killed, the server survives;
//! - outgoing requests outside the task's rules are denied (never the host's loopback);
//! - draining finishes in-flight requests, closes the listener, and is bounded by the stop
//!   timeout;
//! - an HTTP component without portMappings cannot start;
//! - instance reuse (`wasmgate.instance-reuse`): state carries from one request to the next
//!   only in a container that opts in, an instance with a maximum is recycled after it, and
//!   the label on a component that is not an HTTP proxy stops the task with the reason.

use crate::common;

use common::{Host, Live, guest, http_get, repo};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// Generous: the first run of a test binary compiles the components.
const WAIT: Duration = Duration::from_secs(90);

/// A port nothing on the machine listens on right now. Tasks have addresses of their own,
/// but a host service bound to the wildcard address would still take the port from them.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One `http-hello` container serving `port`, with extra container fields.
fn hello_task(port: u16, extra: Value) -> Value {
    let mut c = json!({
        "name": "hello",
        "image": guest("http-hello"),
        "portMappings": [{"containerPort": port}],
        "environment": [{"name": "NAME", "value": "greeter"}],
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    json!({"family": "http-hello", "cpu": "1024", "memory": "2048", "containerDefinitions": [c]})
}

/// Starts a task and waits until `container` serves; returns its address.
fn start(host: &Host, def: &Value, extra: &[&str], container: &str) -> (Live, IpAddr) {
    let live = host.start(def, extra);
    live.expect_stderr(&format!("wasmgate: container {container} RUNNING"), WAIT);
    let ip = live.task_address(WAIT);
    (live, ip)
}

fn get(live: &Live, addr: SocketAddr, path: &str) -> common::HttpReply {
    http_get(addr, path).unwrap_or_else(|e| panic!("GET {addr}{path}: {e}\n{}", live.debug()))
}

#[test]
fn two_tier_example_serves_its_frontend_which_calls_its_api() {
    let host = Host::new();
    let def = repo().join("examples/two-tier/taskdef.json");
    let live = Live::spawn(host.cmd(&["run", "--json", &def.to_string_lossy()]));
    live.expect_stderr("wasmgate: container frontend RUNNING", WAIT);
    let ip = live.task_address(WAIT);
    let web = SocketAddr::new(ip, 8080);

    // `curl http://<task-address>:8080/`, as the README shows.
    let r = get(&live, web, "/");
    assert_eq!(r.status, 200, "{r:?}\n{}", live.debug());
    assert!(r.body.contains("frontend: GET /"), "{r:?}");
    assert!(
        r.body
            .contains(r#"api said (200): {"service":"api","path":"/api/""#),
        "the api's answer is embedded: {r:?}"
    );
    // The api serves on its own port too.
    let r = get(&live, SocketAddr::new(ip, 5000), "/api/direct");
    assert_eq!(r.status, 200, "{r:?}");
    let api: Value = serde_json::from_str(r.body.trim()).expect("the api answers JSON");
    assert_eq!(api["message"], "hello from the api");
    // A fresh instance per request: no state survives from one request to the next.
    assert_eq!(api["requests"], 1, "{api}");

    for i in 0..40 {
        let r = get(&live, web, &format!("/seq/{i}"));
        assert_eq!(r.status, 200, "request {i}: {r:?}");
        assert!(
            r.body.contains(&format!("\"path\":\"/api/seq/{i}\"")),
            "{r:?}"
        );
    }

    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| http_get(web, &format!("/par/{t}/{i}")).map(|r| (i, r)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (t, th) in threads.into_iter().enumerate() {
        for res in th.join().expect("client thread") {
            let (i, r) = res.unwrap_or_else(|e| panic!("thread {t}: {e}\n{}", live.debug()));
            assert_eq!(r.status, 200, "thread {t} request {i}: {r:?}");
            assert!(
                r.body.contains(&format!("\"path\":\"/api/par/{t}/{i}\"")),
                "{r:?}"
            );
        }
    }

    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.task["stopCode"], "UserInitiated", "{}", run.debug());
    for name in ["frontend", "api"] {
        let c = run.container(name);
        assert_eq!(c["exitCode"], 0, "{name}: {c}");
        assert!(
            c["memoryPeakBytes"].as_u64().unwrap_or(0) > 0,
            "{name}'s requests are charged to its memory meter: {c}"
        );
        if !c["fuelConsumed"].is_null() {
            assert!(c["fuelConsumed"].as_u64().unwrap_or(0) > 0, "{name}: {c}");
        }
    }
    // The listeners are closed: nothing answers on the task's ports any more.
    assert!(http_get(web, "/").is_err(), "port 8080 still answers");
}

#[test]
fn a_trap_is_a_500_and_a_request_past_the_memory_limit_is_killed_the_server_survives() {
    let host = Host::new();
    let port = free_port();
    let def = hello_task(port, json!({"memory": 32, "command": ["ignored-arg"]}));
    let (live, ip) = start(&host, &def, &[], "hello");
    let addr = SocketAddr::new(ip, port);

    let r = get(&live, addr, "/some/path?x=1");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, "hello from greeter path=/some/path?x=1\n");
    let r = get(&live, addr, "/env?name=NAME");
    assert_eq!((r.status, r.body.as_str()), (200, "greeter\n"), "{r:?}");

    let r = get(&live, addr, "/trap");
    assert_eq!(r.status, 500, "{r:?}");
    let r = get(&live, addr, "/");
    assert_eq!(
        r.status, 200,
        "the container keeps serving after a trap: {r:?}"
    );

    // 64 MiB in a container limited to 32 MiB: that request is killed...
    let r = get(&live, addr, "/alloc?mib=64");
    assert_eq!(r.status, 500, "{r:?}");
    // ...and the memory is back: a modest request fits again.
    let r = get(&live, addr, "/alloc?mib=8");
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "allocated 8 MiB\n"),
        "{r:?}"
    );

    // The limit is the container's, shared by its concurrent requests: six requests of
    // 8 MiB at once cannot all fit in 32 MiB, yet each alone would.
    let threads: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || http_get(addr, "/alloc?mib=8")))
        .collect();
    for th in threads {
        let r = th
            .join()
            .expect("thread")
            .expect("an answer, whatever it is");
        assert!(matches!(r.status, 200 | 500 | 503), "{r:?}");
    }
    let r = get(&live, addr, "/");
    assert_eq!(r.status, 200, "{r:?}");

    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let errors = run.lines_of("hello").join("\n");
    assert!(
        errors.contains("wasmgate: request GET /trap: wasm trap:"),
        "the trap is logged to the container's stderr stream:\n{}",
        run.debug()
    );
    assert!(
        errors.contains("wasmgate: request GET /alloc?mib=64: OutOfMemoryError"),
        "{}",
        run.debug()
    );
    let peak = run.container("hello")["memoryPeakBytes"]
        .as_u64()
        .unwrap_or(0);
    assert!(peak <= 32 << 20, "peak {peak} within the 32 MiB limit");
}

#[test]
fn outgoing_requests_go_to_siblings_in_process_and_are_denied_outside_the_rules() {
    let host = Host::new();
    // Something on the host's own loopback that a guest must never reach through localhost.
    let host_service = TcpListener::bind("127.0.0.1:0").expect("bind a host service");
    let host_port = host_service.local_addr().expect("addr").port();
    host_service.set_nonblocking(true).expect("nonblocking");

    let port = free_port();
    let (live, ip) = start(&host, &hello_task(port, json!({})), &[], "hello");
    assert_ne!(
        ip,
        IpAddr::from([127, 0, 0, 1]),
        "tasks have addresses of their own"
    );
    let addr = SocketAddr::new(ip, port);
    // Another task of the same definition, on the same port: its own address.
    let (other, other_ip) = start(&host, &hello_task(port, json!({})), &[], "hello");
    assert_ne!(ip, other_ip);
    let r = get(&other, SocketAddr::new(other_ip, port), "/");
    assert_eq!(r.status, 200, "the host reaches every task: {r:?}");

    // localhost:<own port> is the task itself: served in-process.
    let r = get(
        &live,
        addr,
        &format!("/fetch?url=http://localhost:{port}/inner"),
    );
    assert_eq!(r.status, 200, "{r:?}\n{}", live.debug());
    assert_eq!(r.body, "fetched 200 hello from greeter path=/inner\n");

    let denied = |url: &str| {
        let r = get(&live, addr, &format!("/fetch?url={url}"));
        assert_eq!(r.status, 502, "{url}: {r:?}\n{}", live.debug());
        assert!(r.body.contains("DestinationIpProhibited"), "{url}: {r:?}");
    };
    // localhost is the task, never the host: the host's service is not reached.
    denied(&format!("http://localhost:{host_port}/"));
    denied(&format!("http://127.0.0.1:{host_port}/"));
    assert!(
        host_service.accept().is_err(),
        "the guest reached the host's 127.0.0.1:{host_port}"
    );
    // Another task, without a rule that allows it.
    denied(&format!("http://{other_ip}:{port}/"));
    // The host through its gateway name, without a [[network.gateway]] rule for the port.
    denied(&format!("http://host.wasmgate.internal:{host_port}/"));
    // IPv6 loopback cannot be one task's; asked twice, logged once.
    denied("http://[::1]:9/");
    denied("http://[::1]:9/");

    other.signal(libc::SIGTERM);
    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let denials = run
        .stderr
        .lines()
        .filter(|l| l.contains("denied") && l.contains("[::1]:9"))
        .count();
    assert_eq!(denials, 1, "a denial is logged once:\n{}", run.debug());
    assert_eq!(other.wait(WAIT).code, Some(0));
}

#[test]
fn requests_are_charged_to_the_container_fuel_budget_which_stops_it_when_used_up() {
    let host = Host::new();
    let port = free_port();
    // A request to `/` costs a few thousand units: the budget lasts some requests, not 200.
    let def = hello_task(
        port,
        json!({"dockerLabels": {"wasmgate.fuel-budget": "100000"}}),
    );
    let (live, ip) = start(&host, &def, &[], "hello");
    let addr = SocketAddr::new(ip, port);
    let mut served = 0;
    for _ in 0..200 {
        match http_get(addr, "/") {
            Ok(r) if r.status == 200 => served += 1,
            _ => break,
        }
    }
    assert!(served > 1, "{served} requests served\n{}", live.debug());
    assert!(
        served < 200,
        "the fuel budget never ran out\n{}",
        live.debug()
    );
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(137), "{}", run.debug());
    let c = run.container("hello");
    assert!(
        c["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("FuelExhausted"),
        "{c}"
    );
    assert!(c["fuelConsumed"].as_u64().unwrap_or(0) >= 100_000, "{c}");
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_0() {
    let host = Host::new();
    let port = free_port();
    let (live, ip) = start(&host, &hello_task(port, json!({})), &[], "hello");
    let addr = SocketAddr::new(ip, port);

    let slow = std::thread::spawn(move || http_get(addr, "/sleep?ms=1500"));
    std::thread::sleep(Duration::from_millis(400));
    let t0 = Instant::now();
    live.signal(libc::SIGTERM);
    live.expect_stderr("STOPPING", WAIT);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "a draining container takes no new connections\n{}",
        live.debug()
    );
    let r = slow
        .join()
        .expect("thread")
        .expect("the in-flight request completes");
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "slept 1500 ms\n"),
        "{r:?}"
    );

    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.container("hello")["exitCode"], 0, "{}", run.debug());
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
}

#[test]
fn draining_is_bounded_by_the_stop_timeout() {
    let host = Host::new();
    let port = free_port();
    let (live, ip) = start(
        &host,
        &hello_task(port, json!({})),
        &["--stop-timeout", "0.5"],
        "hello",
    );
    let addr = SocketAddr::new(ip, port);
    let slow = std::thread::spawn(move || http_get(addr, "/sleep?ms=30000"));
    std::thread::sleep(Duration::from_millis(400));
    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(137), "{}", run.debug());
    let c = run.container("hello");
    assert!(
        c["reason"].as_str().unwrap_or("").contains("stopTimeout"),
        "{c}"
    );
    // The client sees its connection end, not a hang.
    let _ = slow.join().expect("thread");
}

#[test]
fn an_http_component_without_port_mappings_cannot_start() {
    let host = Host::new();
    let def = json!({
        "family": "no-ports", "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "web", "image": guest("http-hello")}],
    });
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(125), "{}", run.debug());
    assert!(
        run.stderr.contains("containerDefinitions[0].portMappings"),
        "{}",
        run.debug()
    );
    assert_eq!(run.task["stopCode"], "TaskFailedToStart", "{}", run.debug());
}

/// `GET /count` `n` times, one after another: (count, instance id) of each answer.
fn counts(live: &Live, addr: SocketAddr, n: usize) -> Vec<(u64, String)> {
    (0..n)
        .map(|_| {
            let r = get(live, addr, "/count");
            assert_eq!(r.status, 200, "{r:?}");
            let mut words = r.body.split_whitespace();
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("count"), Some(n), Some("of"), Some(id)) => {
                    (n.parse().expect("a count"), id.to_owned())
                }
                _ => panic!("unexpected answer {r:?}"),
            }
        })
        .collect()
}

/// Each instance counts its own requests 1, 2, 3… in the order they were served; returns
/// how many each one served.
fn per_instance(answers: &[(u64, String)]) -> std::collections::HashMap<String, u64> {
    let mut served = std::collections::HashMap::new();
    for (n, id) in answers {
        let seen = served.entry(id.clone()).or_insert(0);
        *seen += 1;
        assert_eq!(
            *n, *seen,
            "instance {id} answered count {n} to its request {seen}: {answers:?}"
        );
    }
    served
}

#[test]
fn instance_reuse_carries_state_between_requests_only_where_a_container_opts_in() {
    let host = Host::new();
    let ports = [free_port(), free_port(), free_port()];
    let container = |name: &str, port: u16, reuse: Option<&str>| {
        let mut c = json!({
            "name": name,
            "image": guest("http-hello"),
            "portMappings": [{"containerPort": port}],
        });
        if let Some(r) = reuse {
            c["dockerLabels"] = json!({"wasmgate.instance-reuse": r});
        }
        c
    };
    let def = json!({
        "family": "reuse", "cpu": "1024", "memory": "2048",
        "containerDefinitions": [
            container("fresh", ports[0], None),
            container("reused", ports[1], Some("sequential")),
            container("recycled", ports[2], Some("3")),
        ],
    });
    let live = host.start(&def, &[]);
    for c in ["fresh", "reused", "recycled"] {
        live.expect_stderr(&format!("wasmgate: container {c} RUNNING"), WAIT);
    }
    let ip = live.task_address(WAIT);
    const N: usize = 12;

    // Without the label every request has a fresh instance: nothing carries over.
    let fresh = counts(&live, SocketAddr::new(ip, ports[0]), N);
    assert!(fresh.iter().all(|(n, _)| *n == 1), "{fresh:?}");
    assert_eq!(per_instance(&fresh).len(), N, "{fresh:?}");

    // `sequential`: an instance serves request after request and sees what the last left.
    let reused = counts(&live, SocketAddr::new(ip, ports[1]), N);
    let served = per_instance(&reused);
    assert!(
        served.values().any(|&n| n >= 3) && served.len() < N,
        "requests one after another reuse an instance: {reused:?}"
    );
    // A trap drops the instance it happened in; later requests are served as before.
    let r = get(&live, SocketAddr::new(ip, ports[1]), "/trap");
    assert_eq!(r.status, 500, "{r:?}");
    let mut all = reused.clone();
    all.extend(counts(&live, SocketAddr::new(ip, ports[1]), 3));
    per_instance(&all);

    // `3`: an instance serves at most three requests, then a new one takes over.
    let recycled = counts(&live, SocketAddr::new(ip, ports[2]), N);
    let served = per_instance(&recycled);
    assert!(served.values().all(|&n| n <= 3), "{recycled:?}");
    assert!(served.values().any(|&n| n == 3), "{recycled:?}");
    assert!(served.len() >= N / 3, "{recycled:?}");

    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());
}

#[test]
fn instance_reuse_on_a_component_that_is_not_an_http_proxy_stops_the_task_with_the_reason() {
    let host = Host::new();
    let def = json!({
        "family": "reuse-command", "cpu": "256", "memory": "512",
        "containerDefinitions": [{
            "name": "cmd", "image": guest("echo"),
            "dockerLabels": {"wasmgate.instance-reuse": "sequential"},
        }],
    });
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(125), "{}", run.debug());
    assert_eq!(run.task["stopCode"], "TaskFailedToStart", "{}", run.debug());
    let reason = run.task["stoppedReason"].as_str().unwrap_or("");
    assert!(
        reason.contains("containerDefinitions[0].dockerLabels.wasmgate.instance-reuse")
            && reason.contains("not a wasi:http proxy component"),
        "{}",
        run.debug()
    );

    // A value outside the rule is refused before anything starts, naming the field.
    let mut def = hello_task(free_port(), json!({}));
    def["containerDefinitions"][0]["dockerLabels"] = json!({"wasmgate.instance-reuse": "0"});
    let run = host.run(&def, &[]);
    assert_ne!(run.code, Some(0), "{}", run.debug());
    assert!(
        run.stderr.contains(
            "containerDefinitions[0].dockerLabels.wasmgate.instance-reuse: \"0\" must be"
        ),
        "{}",
        run.debug()
    );
}
