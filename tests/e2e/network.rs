//! Task networking, end to end: one loopback address per task shared by its containers,
//! isolation between tasks and from the host's own services, and `--publish`.
//!
//! Every test drives the real `wasmgate run`. Tasks get addresses from the default pool
//! (127.42.0.0/16) with the machine-wide lock directory, exactly as a user's would, so tests
//! running in parallel (and other `wasmgate` processes) never share an address. Ports are
//! distinct per test only where the host itself listens.

use crate::common;

use common::{Host, Live, Run, guest};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

/// A container definition running `image` with `command`.
fn container(name: &str, image: &str, command: &[&str]) -> Value {
    json!({"name": name, "image": guest(image), "command": command})
}

fn taskdef(family: &str, containers: Vec<Value>) -> Value {
    json!({
        "family": family,
        "cpu": "1024",
        "memory": "2048",
        "containerDefinitions": containers,
    })
}

/// The task address a finished run printed (`wasmgate: task <id> address <ip>`).
fn printed_address(run: &Run) -> Ipv4Addr {
    run.stderr
        .lines()
        .find(|l| l.starts_with("wasmgate: task ") && l.contains(" address "))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no task address printed\n{}", run.debug()))
}

fn in_default_pool(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 127 && o[1] == 42 && o[3] != 0 && o[3] != 255
}

/// The address of a running task, checked to come from the pool.
fn live_address(live: &Live) -> Ipv4Addr {
    match live.task_address(WAIT) {
        IpAddr::V4(ip) if in_default_pool(ip) => ip,
        other => panic!(
            "task address {other} is not from 127.42.0.0/16\n{}",
            live.debug()
        ),
    }
}

/// Sends one line to `addr` from the host and returns the line that comes back.
fn host_echo(addr: SocketAddr, line: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("host connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    writeln!(s, "{line}").unwrap();
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).unwrap();
    reply.trim_end().to_owned()
}

/// An echo service on the host, in a thread: each line a client sends comes back with a
/// `host:` prefix, so a test can tell it from a guest echo.
fn host_service(bind: &str) -> u16 {
    let listener = TcpListener::bind(bind).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let Ok(mut out) = stream.try_clone() else {
                    return;
                };
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if writeln!(out, "host:{line}").is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn line_starting<'a>(lines: &'a [String], prefix: &str) -> Option<&'a String> {
    lines.iter().find(|l| l.starts_with(prefix))
}

#[test]
fn siblings_talk_over_localhost_and_read_back_127_0_0_1() {
    let host = Host::new();
    let mut server = container("server", "tcp-echo", &["7000", "1"]);
    server["essential"] = json!(false);
    let mut client = container("client", "tcp-client", &["localhost:7000", "ping"]);
    client["dependsOn"] = json!([{"containerName": "server", "condition": "START"}]);
    let run = host.run(
        &taskdef("net-siblings", vec![server, client]),
        &["--stop-timeout", "5"],
    );
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let ip = printed_address(&run);
    assert!(in_default_pool(ip), "{ip}");
    assert_eq!(
        run.task["privateIpv4Address"],
        ip.to_string(),
        "{}",
        run.task
    );

    let server = run.lines_of("server");
    let client = run.lines_of("client");
    // A wildcard bind really bound the task address, read back as loopback.
    assert!(
        server.contains(&"listening on 127.0.0.1:7000".to_owned()),
        "{server:?}"
    );
    assert!(
        line_starting(&client, "local 127.0.0.1:").is_some(),
        "{client:?}"
    );
    assert!(
        client.contains(&"peer 127.0.0.1:7000".to_owned()),
        "{client:?}"
    );
    assert!(client.contains(&"reply ping".to_owned()), "{client:?}");
    // The client's implicit bind used the task address: the server sees it as loopback too.
    assert!(
        line_starting(&server, "peer 127.0.0.1:").is_some(),
        "{server:?}"
    );
}

#[test]
fn siblings_talk_over_udp() {
    let host = Host::new();
    let mut server = container("server", "udp-echo", &["serve", "7001", "1"]);
    server["essential"] = json!(false);
    let mut client = container("client", "udp-echo", &["send", "localhost:7001", "ping"]);
    client["dependsOn"] = json!([{"containerName": "server", "condition": "START"}]);
    let run = host.run(
        &taskdef("net-udp", vec![server, client]),
        &["--stop-timeout", "5"],
    );
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let server = run.lines_of("server");
    let client = run.lines_of("client");
    assert!(
        server.contains(&"listening on 127.0.0.1:7001".to_owned()),
        "{server:?}"
    );
    assert!(
        line_starting(&server, "from 127.0.0.1:").is_some(),
        "{server:?}"
    );
    assert!(
        line_starting(&client, "local 127.0.0.1:").is_some(),
        "{client:?}"
    );
    assert!(
        client.contains(&"reply ping from 127.0.0.1:7001".to_owned()),
        "{client:?}"
    );
}

#[test]
fn the_host_reaches_a_running_task_and_stop_closes_it() {
    let host = Host::new();
    let live = host.start(
        &taskdef("net-host", vec![container("echo", "tcp-echo", &["7100"])]),
        &["--stop-timeout", "1"],
    );
    let ip = live_address(&live);
    live.expect_stdout("listening on 127.0.0.1:7100", WAIT);
    let addr = SocketAddr::from((ip, 7100));
    assert_eq!(host_echo(addr, "from the host"), "from the host");
    // The host connects from 127.0.0.1, which the guest reads as the gateway.
    live.expect_stdout("peer 127.42.255.254:", WAIT);

    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
    assert_eq!(run.task["privateIpv4Address"], ip.to_string());
    let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(5));
    assert!(refused.is_err(), "the task's listener outlived it");
}

#[test]
fn two_tasks_get_different_addresses_and_both_bind_port_7000() {
    let host = Host::new();
    let def = taskdef("net-twins", vec![container("echo", "tcp-echo", &["7000"])]);
    let a = host.start(&def, &["--stop-timeout", "1"]);
    let b = host.start(&def, &["--stop-timeout", "1"]);
    let (ip_a, ip_b) = (live_address(&a), live_address(&b));
    assert_ne!(ip_a, ip_b, "two live tasks share an address");
    a.expect_stdout("listening on 127.0.0.1:7000", WAIT);
    b.expect_stdout("listening on 127.0.0.1:7000", WAIT);
    assert_eq!(host_echo(SocketAddr::from((ip_a, 7000)), "a"), "a");
    assert_eq!(host_echo(SocketAddr::from((ip_b, 7000)), "b"), "b");
    for live in [a, b] {
        live.signal(libc::SIGTERM);
        let run = live.wait(WAIT);
        assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
    }
}

#[test]
fn a_port_taken_inside_the_task_gives_address_in_use() {
    let host = Host::new();
    // Whichever binds second fails; both are essential, so its exit ends the task.
    let first = container("first", "tcp-echo", &["7200"]);
    let mut second = container("second", "tcp-echo", &["7200"]);
    second["dependsOn"] = json!([{"containerName": "first", "condition": "START"}]);
    let run = host.run(
        &taskdef("net-inuse", vec![first, second]),
        &["--stop-timeout", "1"],
    );
    let outputs = [run.lines_of("first"), run.lines_of("second")];
    let failed: Vec<_> = outputs
        .iter()
        .filter(|l| line_starting(l, "error kind=AddrInUse").is_some())
        .collect();
    let listening: Vec<_> = outputs
        .iter()
        .filter(|l| l.contains(&"listening on 127.0.0.1:7200".to_owned()))
        .collect();
    assert_eq!(
        (failed.len(), listening.len()),
        (1, 1),
        "one bind must win, one must get AddressInUse\n{}",
        run.debug()
    );
}

#[test]
fn another_tasks_address_is_denied_unless_a_rule_allows_it() {
    let server_host = Host::new();
    let server = server_host.start(
        &taskdef("net-target", vec![container("echo", "tcp-echo", &["7300"])]),
        &["--stop-timeout", "1"],
    );
    let target_ip = live_address(&server);
    server.expect_stdout("listening on 127.0.0.1:7300", WAIT);
    let target = format!("{target_ip}:7300");
    let client = taskdef(
        "net-intruder",
        vec![container("client", "tcp-client", &[&target, "knock"])],
    );

    let denied = Host::new().run(&client, &["--stop-timeout", "1"]);
    assert_eq!(denied.code, Some(1), "{}", denied.debug());
    let lines = denied.lines_of("client");
    assert!(
        line_starting(&lines, "error kind=PermissionDenied").is_some(),
        "{lines:?}"
    );
    assert!(
        denied.stderr.contains("denied") && denied.stderr.contains(&target),
        "the host logs the denial\n{}",
        denied.stderr
    );

    let allowed = Host::with_config("[[network.rules]]\nallow = \"127.42.0.0/16\"\n")
        .run(&client, &["--stop-timeout", "1"]);
    assert_eq!(allowed.code, Some(0), "{}", allowed.debug());
    let lines = allowed.lines_of("client");
    assert!(lines.contains(&"reply knock".to_owned()), "{lines:?}");
    assert!(lines.contains(&format!("peer {target}")), "{lines:?}");
    // The other task sees the connection coming from the client task's own address.
    let client_ip = printed_address(&allowed);
    server.expect_stdout(&format!("peer {client_ip}:"), WAIT);
    server.signal(libc::SIGTERM);
    server.wait(WAIT);
}

/// Runs one client container per `(name, address)` and returns each one's output; an
/// essential `done` container waits for all of them to complete, then ends the task.
fn probe(host: &Host, family: &str, targets: &[(&str, String)]) -> Run {
    let mut containers: Vec<Value> = targets
        .iter()
        .map(|(name, addr)| {
            let mut c = container(name, "tcp-client", &[addr, "probe"]);
            c["essential"] = json!(false);
            c["environment"] = json!([{"name": "RETRIES", "value": "0"}]);
            c
        })
        .collect();
    let mut done = container("done", "echo", &[]);
    done["dependsOn"] = json!(
        targets
            .iter()
            .map(|(name, _)| json!({"containerName": name, "condition": "COMPLETE"}))
            .collect::<Vec<_>>()
    );
    containers.push(done);
    let run = host.run(&taskdef(family, containers), &["--stop-timeout", "1"]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    run
}

fn outcome(run: &Run, name: &str) -> String {
    let lines = run.lines_of(name);
    line_starting(&lines, "reply ")
        .or_else(|| line_starting(&lines, "error kind="))
        .cloned()
        .unwrap_or_else(|| panic!("{name} printed no outcome: {lines:?}\n{}", run.debug()))
}

#[test]
fn host_services_are_unreachable_except_through_the_gateway() {
    let loopback_port = host_service("127.0.0.1:0");
    let wildcard_port = host_service("0.0.0.0:0");
    let targets = [
        ("loopback", format!("127.0.0.1:{loopback_port}")),
        // Bound to 0.0.0.0, the kernel would accept it on the task's own address.
        ("wildcard", format!("127.0.0.1:{wildcard_port}")),
        ("unallocated", format!("127.42.250.250:{wildcard_port}")),
        ("ipv6", format!("[::1]:{loopback_port}")),
        (
            "gw-loopback",
            format!("host.wasmgate.internal:{loopback_port}"),
        ),
        (
            "gw-wildcard",
            format!("host.wasmgate.internal:{wildcard_port}"),
        ),
    ];
    // 127.0.0.1 is the task's own address: a port none of its containers listens on is
    // refused there, as loopback refuses a closed port, whatever the host has on it.
    let expected = |name: &str| {
        if matches!(name, "loopback" | "wildcard") {
            "error kind=ConnectionRefused"
        } else {
            "error kind=PermissionDenied"
        }
    };
    let denied = probe(&Host::new(), "net-nohost", &targets);
    for (name, _) in &targets {
        let got = outcome(&denied, name);
        assert!(
            got.starts_with(expected(name)),
            "{name}: {got}\n{}",
            denied.debug()
        );
    }

    let with_gateway = Host::with_config(&format!(
        "[[network.gateway]]\nport = {loopback_port}\n[[network.gateway]]\nport = {wildcard_port}\n"
    ));
    let run = probe(&with_gateway, "net-gateway", &targets);
    for (name, _) in &targets[..4] {
        let got = outcome(&run, name);
        assert!(got.starts_with(expected(name)), "{name}: {got}");
    }
    assert_eq!(outcome(&run, "gw-loopback"), "reply host:probe");
    assert_eq!(outcome(&run, "gw-wildcard"), "reply host:probe");
    let lines = run.lines_of("gw-loopback");
    assert!(
        lines.contains(&format!("peer 127.42.255.254:{loopback_port}")),
        "the guest reads the gateway back: {lines:?}"
    );
}

#[test]
fn publish_forwards_a_host_port_to_the_task() {
    let host = Host::new();
    let mut echo = container("echo", "tcp-echo", &["7400"]);
    echo["portMappings"] = json!([{"containerPort": 7400}]);
    let def = taskdef("net-publish", vec![echo]);

    let rejected = host.run(&def, &["--publish", "18080:9999"]);
    assert_eq!(rejected.code, Some(2), "{}", rejected.debug());
    assert!(
        rejected.stderr.contains("--publish 18080:9999"),
        "{}",
        rejected.stderr
    );

    let live = host.start(&def, &["--publish", "0:7400", "--stop-timeout", "1"]);
    let ip = live_address(&live);
    let line = live.expect_stderr("wasmgate: publishing 127.0.0.1:", WAIT);
    assert!(line.ends_with(&format!("-> {ip}:7400")), "{line}");
    let port: u16 = line
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.rsplit(':').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    live.expect_stdout("listening on 127.0.0.1:7400", WAIT);
    assert_eq!(
        host_echo(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), "published"),
        "published"
    );
    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
}

#[test]
fn a_killed_wasmgate_releases_its_address() {
    // A pool and lock directory of its own, so no other test can take the address first.
    let locks = tempfile::tempdir().unwrap();
    let config = format!(
        "[network]\npool = \"127.43.7.0/24\"\nlock_dir = \"{}\"\n",
        locks.path().join("net").display()
    );
    let host = Host::with_config(&config);
    let def = taskdef("net-crash", vec![container("echo", "tcp-echo", &["7500"])]);
    let first = host.start(&def, &[]);
    let ip = first.task_address(WAIT);
    assert_eq!(
        ip,
        IpAddr::V4(Ipv4Addr::new(127, 43, 7, 1)),
        "{}",
        first.debug()
    );
    let second = host.start(&def, &["--stop-timeout", "1"]);
    assert_eq!(
        second.task_address(WAIT),
        IpAddr::V4(Ipv4Addr::new(127, 43, 7, 2))
    );
    second.signal(libc::SIGTERM);
    second.wait(WAIT);

    first.kill(); // SIGKILL: no cleanup ran, the kernel dropped its flock
    let third = host.start(&def, &["--stop-timeout", "1"]);
    assert_eq!(third.task_address(WAIT), ip, "{}", third.debug());
    third.expect_stdout("listening on 127.0.0.1:7500", WAIT);
    third.signal(libc::SIGTERM);
    third.wait(WAIT);
}
