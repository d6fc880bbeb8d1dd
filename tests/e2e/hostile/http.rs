//! Attacks: http (issue 9, item 6).
//!
//! - One task's slow requests (`hostile-slow-handler` holds each for ten minutes) must not
//!   take the host's instance pool: past the container's limit and queue they get a 503 at
//!   once, and another HTTP task and a command task start and work in the same host while
//!   the attack goes on.
//! - Several such tasks together cannot take the part of the pool kept for command
//!   containers, nor one task more than its share.
//! - Slow clients (slow-loris: half a header, or nothing) are closed after the header read
//!   timeout, and a port keeps a bounded number of connections open.
//! - A freed request instance's memory, reset in place for the next instance in its pool
//!   slot (`[pool] memory_keep_resident_kib`), shows another tenant nothing
//!   (`hostile-memory-snoop`).

use super::{assert_a_well_behaved_task_runs, open_fds, rss_kib};
use crate::common::{Host, RawRequest, Server, api_request, guest, http_get, task};
use serde_json::{Value, json};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous: the first run of a test binary compiles the components.
const WAIT: Duration = Duration::from_secs(120);
const PORT: u16 = 8080;

/// A small pool, so that the attacks below would exhaust it without the limits: 128
/// instances, 10 % (12) kept for command containers, 25 % (32) the most one task holds.
const SMALL_POOL: &str = "[pool]\ntotal_component_instances = 128\ntotal_memories = 128\n\
                          total_stacks = 128\ntotal_core_instances = 1024\ntotal_tables = 512\n\
                          max_memory_mib = 64\n";

fn ecs(server: &Server, op: &str, body: Value) -> Value {
    let req = RawRequest::new(
        &format!("AmazonEC2ContainerServiceV20141113.{op}"),
        &body.to_string(),
    );
    let r = api_request(server.port, &req);
    assert_eq!(
        r.status,
        200,
        "{op}: {}\n{}",
        String::from_utf8_lossy(&r.body),
        server.debug()
    );
    r.json
}

/// Registers `def` and runs one task of it; returns the task's ARN.
fn run_task(server: &Server, def: &Value) -> String {
    ecs(server, "RegisterTaskDefinition", def.clone());
    let out = ecs(server, "RunTask", json!({"taskDefinition": def["family"]}));
    out["tasks"][0]["taskArn"]
        .as_str()
        .unwrap_or_else(|| panic!("RunTask started nothing: {out}"))
        .to_owned()
}

/// Polls DescribeTasks until `done` holds for the task (or the deadline passes).
fn wait_task(server: &Server, arn: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let t = ecs(server, "DescribeTasks", json!({"tasks": [arn]}))["tasks"][0].clone();
        if done(&t) {
            return t;
        }
        assert!(
            Instant::now() < deadline && t["lastStatus"] != "STOPPED",
            "task {arn} never {what}: {t:#}\n{}",
            server.debug()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn running(server: &Server, arn: &str) -> SocketAddr {
    let t = wait_task(server, arn, "reached RUNNING", |t| {
        t["lastStatus"] == "RUNNING"
    });
    let ip: IpAddr = t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no task address: {t:#}"));
    SocketAddr::new(ip, PORT)
}

/// One HTTP container serving PORT.
fn http_task(family: &str, image: &str, command: &[&str]) -> Value {
    json!({"family": family, "cpu": "1024", "memory": "2048", "containerDefinitions": [{
        "name": "web", "image": guest(image), "command": command,
        "portMappings": [{"containerPort": PORT}],
    }]})
}

/// A reply as a client sees it.
#[derive(Debug)]
struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

/// `GET path` on a fresh connection, waiting as long as the server takes (until it closes).
fn get_patiently(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(30))?;
    s.set_read_timeout(Some(Duration::from_secs(900)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidData, format!("no head: {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidData, format!("{head:?}")))?;
    let retry_after = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.trim().to_owned());
    Ok(Reply {
        status,
        retry_after,
        body: body.to_owned(),
    })
}

/// `n` concurrent slow requests to `addr`; each reply (or error) arrives on the channel.
/// The threads end when the server answers or goes away.
fn flood(addr: SocketAddr, n: usize) -> mpsc::Receiver<std::io::Result<Reply>> {
    let (tx, rx) = mpsc::channel();
    for _ in 0..n {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(get_patiently(addr, "/"));
        });
    }
    rx
}

/// Waits for `n` replies (each within the deadline: a hang fails the test).
fn replies(rx: &mpsc::Receiver<std::io::Result<Reply>>, n: usize, server: &Server) -> Vec<Reply> {
    (0..n)
        .map(|i| {
            rx.recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("reply {i} of {n} never came\n{}", server.debug()))
                .unwrap_or_else(|e| panic!("reply {i} of {n}: {e}\n{}", server.debug()))
        })
        .collect()
}

/// A command task in the same host starts and exits 0 (no CannotStartContainerError).
fn assert_a_command_task_runs_in(server: &Server) {
    let def = task("cmd-bystander", &[("echo", "echo", &["still", "here"])]);
    let arn = run_task(server, &def);
    let t = wait_task(server, &arn, "stopped", |t| t["lastStatus"] == "STOPPED");
    let c = &t["containers"][0];
    assert_eq!(c["exitCode"], 0, "the command bystander failed: {t:#}");
}

fn assert_alive(pid: u32) {
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the host process {pid} is gone"
    );
}

#[test]
fn slow_requests_past_the_limit_get_503_at_once_and_other_tasks_start_and_serve() {
    // The defaults of [http] (32 concurrent, 64 queued); a queue timeout longer than the
    // test, so every queued request stays queued.
    let host = Host::with_config(&format!(
        "{SMALL_POOL}[http]\nqueue_timeout_seconds = 3600\n"
    ));
    let server = Server::start(&host);
    let attacker = run_task(
        &server,
        &http_task("slow", "hostile-slow-handler", &["600000"]),
    );
    let slow = running(&server, &attacker);
    let (fds_before, rss_before) = (open_fds(server.pid()), rss_kib(server.pid()));

    // 130 concurrent requests: 32 run (for ten minutes), 64 wait, 34 are refused at once.
    let rx = flood(slow, 130);
    for r in replies(&rx, 34, &server) {
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.retry_after.as_deref(), Some("1"), "{r:?}");
        assert!(
            r.body.contains("limit of 32 concurrent requests")
                && r.body.contains("64 more queued")
                && r.body.contains("max_concurrent_requests"),
            "the body says which limit: {r:?}"
        );
    }

    // While the attack holds its 96 requests: another HTTP task starts and answers 200.
    let hello = run_task(&server, &http_task("hello", "http-hello", &[]));
    let hello = running(&server, &hello);
    for i in 0..5 {
        let r = http_get(hello, &format!("/ok/{i}"))
            .unwrap_or_else(|e| panic!("GET the bystander: {e}\n{}", server.debug()));
        assert_eq!(r.status, 200, "{r:?}\n{}", server.debug());
        assert!(r.body.contains("hello from"), "{r:?}");
    }
    // A command task starts in the same host, and one in another process too.
    assert_a_command_task_runs_in(&server);
    assert_a_well_behaved_task_runs(&host);

    // No request of the attack was answered but the refused ones: 96 are still held.
    assert!(
        rx.try_recv().is_err(),
        "a held request was answered during the attack"
    );
    let t = ecs(&server, "DescribeTasks", json!({"tasks": [attacker]}))["tasks"][0].clone();
    assert_eq!(
        t["lastStatus"], "RUNNING",
        "the attacker is limited, not stopped: {t:#}"
    );
    assert_alive(server.pid());
    // What the attack costs the host is bounded: its 96 open connections, at most two
    // descriptors (preopened directories) for each of its 32 instances, a few for the HTTP
    // bystander; and the memory of 32 small instances.
    let (fds, rss) = (open_fds(server.pid()), rss_kib(server.pid()));
    assert!(
        fds <= fds_before + 96 + 2 * 32 + 16,
        "{fds} descriptors, {fds_before} before"
    );
    assert!(
        rss <= rss_before + 256 * 1024,
        "{rss} KiB resident, {rss_before} KiB before"
    );
}

#[test]
fn tasks_together_cannot_take_the_pool_kept_for_command_containers() {
    // No per-container limit to speak of: only the pool shares stand in the way.
    let host = Host::with_config(&format!(
        "{SMALL_POOL}[http]\nmax_concurrent_requests = 1000\nmax_queued_requests = 0\n"
    ));
    let server = Server::start(&host);
    let attackers: Vec<SocketAddr> = (0..4)
        .map(|i| {
            let arn = run_task(
                &server,
                &http_task(&format!("slow-{i}"), "hostile-slow-handler", &["600000"]),
            );
            running(&server, &arn)
        })
        .collect();

    // One task: 50 requests, 32 (its share) run, 18 are refused naming the share.
    let first = flood(attackers[0], 50);
    for r in replies(&first, 18, &server) {
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.retry_after.as_deref(), Some("1"), "{r:?}");
        assert!(
            r.body.contains("share of 32") && r.body.contains("task_share_percent"),
            "{r:?}"
        );
    }
    // Three more tasks, 40 requests each: 116 request instances in all (128 less the 12
    // kept for command containers), so the last task gets only 20 of its 32.
    for (i, addr) in attackers[1..].iter().enumerate() {
        let rx = flood(*addr, 40);
        let (refused, limit) = if i < 2 {
            (8, "task_share_percent")
        } else {
            (20, "command_reserve_percent")
        };
        for r in replies(&rx, refused, &server) {
            assert_eq!(r.status, 503, "{r:?}");
            assert!(r.body.contains(limit), "task {}: {r:?}", i + 1);
        }
    }

    // Every HTTP slot of the host is held: a command task still starts and completes.
    assert_a_command_task_runs_in(&server);
    assert_a_well_behaved_task_runs(&host);
    assert_alive(server.pid());
}

/// Reads until the server closes the connection (EOF or reset), at most `within`.
/// Returns what was read, or None if it was still open at the deadline.
fn closed_by_server(s: &mut TcpStream, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(String::from_utf8_lossy(&got).into_owned()),
        }
    }
    None
}

#[test]
fn slow_loris_connections_are_closed_after_the_header_timeout_and_capped_per_port() {
    let host = Host::with_config(
        "[http]\nheader_read_timeout_seconds = 5\nmax_connections_per_port = 16\n",
    );
    let live = host.start(&http_task("hello", "http-hello", &[]), &[]);
    live.expect_stderr("wasmgate: container web RUNNING", WAIT);
    let addr = SocketAddr::new(live.task_address(WAIT), PORT);
    let ok = http_get(addr, "/before").expect("GET before the attack");
    assert_eq!(ok.status, 200, "{ok:?}");
    let baseline = open_fds(live.pid());

    // 16 slow clients take every place: 12 send half a header, 4 send nothing at all.
    let mut slow: Vec<TcpStream> = (0..16)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("connect");
            if i < 12 {
                s.write_all(b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
                    .expect("half a header");
            }
            s
        })
        .collect();
    // 24 more connections are over the cap: answered 503 and closed.
    let mut over: Vec<TcpStream> = (0..24)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let during = open_fds(live.pid());
    assert!(
        during <= baseline + 16 + 8,
        "the host holds {during} descriptors ({baseline} before 40 connections): not capped"
    );
    let mut answered = 0;
    for s in &mut over {
        let got = closed_by_server(s, WAIT)
            .unwrap_or_else(|| panic!("a connection over the cap stayed open\n{}", live.debug()));
        if !got.is_empty() {
            assert!(
                got.starts_with("HTTP/1.1 503")
                    && got.contains("retry-after: 1")
                    && got.contains("max_connections_per_port"),
                "{got:?}"
            );
            answered += 1;
        }
    }
    assert!(answered > 0, "no connection over the cap was told why");

    // The server closes every slow connection once the header timeout passes.
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_by_server(s, WAIT).is_some(),
            "slow connection {i} is still open\n{}",
            live.debug()
        );
    }
    // Their descriptors are given back, and the port serves again.
    let deadline = Instant::now() + WAIT;
    while open_fds(live.pid()) > baseline + 4 {
        assert!(
            Instant::now() < deadline,
            "descriptors not given back: {} (baseline {baseline})",
            open_fds(live.pid())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ok = http_get(addr, "/after").expect("GET after the attack");
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(
        live.stderr_text().contains("max_connections_per_port")
            || live.stdout_text().contains("max_connections_per_port"),
        "the refusal is logged\n{}",
        live.debug()
    );
    assert_a_well_behaved_task_runs(&host);

    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());
}

/// `GET path` on `addr`: the body of a 200, else the test fails.
fn body_of(server: &Server, addr: SocketAddr, path: &str) -> String {
    let r =
        get_patiently(addr, path).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.debug()));
    assert_eq!(r.status, 200, "GET {path}: {r:?}\n{}", server.debug());
    r.body
}

#[test]
fn a_freed_instances_memory_holds_nothing_for_the_next_tenant_in_its_pool_slot() {
    // Freed instances' dirty pages are reset in place and kept (no madvise): the next
    // instance in the slot, here another tenant's task of the same component (the pool
    // hands a module's freed slots back to that module first), must find nothing.
    let host = Host::with_config(&format!(
        "{SMALL_POOL}memory_keep_resident_kib = 8192\ntable_keep_resident_kib = 64\n"
    ));
    let server = Server::start(&host);
    let planter = run_task(&server, &http_task("planter", "hostile-memory-snoop", &[]));
    let snooper = run_task(&server, &http_task("snooper", "hostile-memory-snoop", &[]));
    let (planter, snooper) = (running(&server, &planter), running(&server, &snooper));
    let secret = format!(
        "tenant-a-secret-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );

    // The scanner works: within one reused instance (`sequential`, where state carries
    // by design) it finds what the request before planted.
    let mut reuse = http_task("reuse", "hostile-memory-snoop", &[]);
    reuse["containerDefinitions"][0]["dockerLabels"] =
        json!({"wasmgate.instance-reuse": "sequential"});
    let reuse = running(&server, &run_task(&server, &reuse));
    let found = (0..10).any(|_| {
        assert_eq!(
            body_of(&server, reuse, &format!("/plant?secret={secret}")),
            "planted\n"
        );
        body_of(&server, reuse, &format!("/scan?secret={secret}")).starts_with("found")
    });
    assert!(
        found,
        "a reused instance never showed its own planted data: the scan cannot see memory"
    );

    for round in 0..20 {
        assert_eq!(
            body_of(&server, planter, &format!("/plant?secret={secret}")),
            "planted\n"
        );
        let scan = body_of(&server, snooper, &format!("/scan?secret={secret}"));
        assert!(
            scan.starts_with("clean "),
            "round {round}: another tenant's instance saw the planted data: {scan}"
        );
        // And a fresh instance of the planter's own task sees nothing of the last request.
        let scan = body_of(&server, planter, &format!("/scan?secret={secret}"));
        assert!(scan.starts_with("clean "), "round {round}: {scan}");
    }
    assert_alive(server.pid());
    assert_a_command_task_runs_in(&server);
}
