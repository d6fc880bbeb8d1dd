//! Attacks on the network (issue 9, items 5, 11 and 13): a tenant taking the host's
//! descriptors with sockets, binding IPv6 wildcards to hear every network, flooding the
//! resolver and looking names up with egress closed, and growing its resource table.
//!
//! Each test runs the attack guest from `guests/hostile/`, checks the refusal the guest saw
//! (its wasi error code), the host's one log line about it, the host's descriptors, that
//! the host still serves (the task's ports, the API, new tasks) while the attacker holds
//! what it got, and then that a well-behaved task runs.

use super::{assert_a_well_behaved_task_runs, open_fds};
use crate::common::{Host, Live, RawRequest, api_request, guest, http_get};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(120);
const ECS: &str = "AmazonEC2ContainerServiceV20141113";
const LOGS: &str = "Logs_20140328";

/// Descriptors a `wasmgate` process holds for itself besides its guests' (its runtime,
/// listeners, logs, the task's files): a generous bound, far below an unchecked flood.
const HOST_FDS: usize = 192;

fn taskdef(family: &str, containers: Vec<Value>) -> Value {
    json!({
        "family": family,
        "cpu": "1024",
        "memory": "2048",
        "containerDefinitions": containers,
    })
}

/// The socket flooder, and an HTTP container of the same task serving port 8080.
fn flood_and_web_task(mode: &str) -> Value {
    taskdef(
        "socket-flood",
        vec![
            json!({"name": "flood", "image": guest("hostile-socket-flood"), "command": [mode]}),
            json!({
                "name": "web",
                "image": guest("http-hello"),
                "essential": false,
                "portMappings": [{"containerPort": 8080}],
            }),
        ],
    )
}

#[test]
fn a_socket_flood_stops_at_the_containers_cap_while_its_task_still_serves() {
    let host = Host::with_config("[limits]\nmax_sockets_per_container = 64\n");
    let live = host.start(&flood_and_web_task("mixed"), &["--stop-timeout", "1"]);
    let opened = live.expect_stdout("opened ", WAIT);
    assert!(
        opened.ends_with("opened 64 sockets (tcp 32, udp 32), then new-socket-limit"),
        "{opened}\n{}",
        live.debug()
    );
    live.expect_stdout("holding", WAIT);
    live.expect_stderr(
        "container flood: socket refused: the container holds 64 sockets already ([limits] max_sockets_per_container)",
        WAIT,
    );

    // While the flooder holds its sockets, the task's port accepts and answers.
    live.expect_stderr("wasmgate: container web RUNNING", WAIT);
    let ip = live.task_address(WAIT);
    let reply = http_get(SocketAddr::new(ip, 8080), "/")
        .unwrap_or_else(|e| panic!("GET {ip}:8080: {e}\n{}", live.debug()));
    assert_eq!(reply.status, 200, "{reply:?}");
    let fds = open_fds(live.pid());
    assert!(
        fds <= 64 + HOST_FDS,
        "wasmgate holds {fds} descriptors with a flooder capped at 64 sockets"
    );

    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
    assert_a_well_behaved_task_runs(&host);
}

/// `wasmgate serve` with an open-file limit of `nofile` (soft and hard, so the host cannot
/// raise it), on an ephemeral port; returns the process and its API port.
fn serve_with_open_file_limit(host: &Host, nofile: u64) -> (Live, u16) {
    let mut cmd = host.cmd(&["serve", "--listen", "127.0.0.1:0"]);
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: nofile,
                rlim_max: nofile,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let live = Live::spawn(cmd);
    let line = live.expect_stderr("listening on http://", WAIT);
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}\n{}", live.debug()));
    (live, port)
}

/// One ECS or Logs call that must succeed.
fn call(server: &Live, port: u16, target: &str, body: Value) -> Value {
    let r = api_request(port, &RawRequest::new(target, &body.to_string()));
    assert_eq!(r.status, 200, "{target}: {r:?}\n{}", server.debug());
    r.json
}

/// Polls until `probe` returns something (the API has no push for these conditions).
fn until<T>(what: &str, server: &Live, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}\n{}", server.debug());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_task(server: &Live, port: u16, family: &str) -> String {
    let out = call(
        server,
        port,
        &format!("{ECS}.RunTask"),
        json!({"taskDefinition": family}),
    );
    out["tasks"][0]["taskArn"]
        .as_str()
        .unwrap_or_else(|| panic!("RunTask started nothing: {out}"))
        .to_owned()
}

fn describe(server: &Live, port: u16, arn: &str) -> Value {
    let out = call(
        server,
        port,
        &format!("{ECS}.DescribeTasks"),
        json!({"tasks": [arn]}),
    );
    out["tasks"][0].clone()
}

#[test]
fn a_socket_flood_leaves_the_host_its_reserve_for_the_api_and_new_tasks() {
    // 512 descriptors, 40% kept for the host: guests together may hold 307. The cap per
    // container is out of the way, so only the host's budget stops the flooder.
    const NOFILE: u64 = 512;
    let host = Host::with_config(
        "[limits]\nmax_sockets_per_container = 100000\ndescriptor_reserve_percent = 40\n",
    );
    let (server, port) = serve_with_open_file_limit(&host, NOFILE);
    let logs = json!({
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/hostile/flood",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "p",
            "awslogs-create-group": "true"
        }
    });
    let flood = taskdef(
        "flood",
        vec![json!({
            "name": "flood",
            "image": guest("hostile-socket-flood"),
            "command": ["mixed"],
            "stopTimeout": 2,
            "logConfiguration": logs,
        })],
    );
    let echo = taskdef(
        "echo",
        vec![json!({"name": "echo", "image": guest("echo"), "command": ["still", "here"]})],
    );
    for def in [&flood, &echo] {
        call(
            &server,
            port,
            &format!("{ECS}.RegisterTaskDefinition"),
            def.clone(),
        );
    }
    let flooder = run_task(&server, port, "flood");
    let lines = until(
        "the flooder never said it holds its sockets",
        &server,
        || {
            // The group appears with the task's first line.
            let body = json!({"logGroupName": "/hostile/flood"}).to_string();
            let out = api_request(
                port,
                &RawRequest::new(&format!("{LOGS}.FilterLogEvents"), &body),
            );
            let lines: Vec<String> = out.json["events"]
                .as_array()?
                .iter()
                .filter_map(|e| e["message"].as_str().map(str::to_owned))
                .collect();
            lines.iter().any(|l| l == "holding").then_some(lines)
        },
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "opened 307 sockets (tcp 154, udp 153), then new-socket-limit"),
        "{lines:?}"
    );
    server.expect_stderr(
        "socket refused: the host's guests hold 307 descriptors already",
        WAIT,
    );

    // The flooder holds all it may; the API accepts, and a new task starts and completes.
    assert_eq!(describe(&server, port, &flooder)["lastStatus"], "RUNNING");
    let bystander = run_task(&server, port, "echo");
    let done = until("the second task did not stop", &server, || {
        let t = describe(&server, port, &bystander);
        (t["lastStatus"] == "STOPPED").then_some(t)
    });
    assert_eq!(done["containers"][0]["exitCode"], 0, "{done}");
    let fds = open_fds(server.pid());
    assert!(fds < NOFILE as usize, "{fds} descriptors open");

    call(
        &server,
        port,
        &format!("{ECS}.StopTask"),
        json!({"task": flooder}),
    );
    until("the flooder did not stop", &server, || {
        (describe(&server, port, &flooder)["lastStatus"] == "STOPPED").then_some(())
    });
    server.signal(libc::SIGTERM);
    server.wait(WAIT);
    assert_a_well_behaved_task_runs(&host);
}

#[test]
fn ipv6_binds_are_refused_and_ipv4_still_binds_the_task_address() {
    let host = Host::new();
    let def = taskdef(
        "ipv6-bind",
        vec![json!({"name": "bind", "image": guest("hostile-ipv6-bind")})],
    );
    let live = host.start(&def, &["--stop-timeout", "1"]);
    live.expect_stdout("holding", WAIT);
    let out = live.stdout_text();
    for refused in [
        "udp [::]:0 access-denied",
        "tcp [::]:0 access-denied",
        "udp [::ffff:127.0.0.1]:0 access-denied",
        "tcp [::ffff:127.0.0.1]:0 access-denied",
    ] {
        assert!(out.contains(refused), "{refused:?} missing\n{out}");
    }
    // IPv4 binds the task's own address, read back as the guest's loopback.
    assert!(out.contains("udp 0.0.0.0:0 bound 127.0.0.1:"), "{out}");
    live.expect_stderr("task networking is IPv4", WAIT);
    let v6 = ipv6_sockets_of(live.pid());
    assert!(v6.is_empty(), "wasmgate holds bound IPv6 sockets: {v6:?}");

    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
    assert_a_well_behaved_task_runs(&host);
}

/// The local addresses of the IPv6 sockets (bound or listening) a process holds.
fn ipv6_sockets_of(pid: u32) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    for table in ["/proc/net/tcp6", "/proc/net/udp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && inodes.iter().any(|i| i == cols[9]) {
                found.push(format!("{table} {}", cols[1]));
            }
        }
    }
    found
}

/// A name this machine's hosts file gives a loopback address (so no query leaves it),
/// besides localhost (which a task resolves itself).
fn hosts_file_name() -> Option<String> {
    std::fs::read_to_string("/etc/hosts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("127."))
        .flat_map(|l| l.split_whitespace().skip(1))
        .find(|n| !n.starts_with('#') && *n != "localhost" && !n.ends_with(".localhost"))
        .map(str::to_owned)
}

#[test]
fn lookups_at_once_are_bounded_per_container() {
    let host = Host::with_config("[network]\nmax_lookups_per_container = 8\n");
    // Lookups are counted while open, answered or not: any name shows the bound.
    let name = hosts_file_name().unwrap_or_else(|| "wasmgate-flood.invalid".into());
    let def = taskdef(
        "dns-flood",
        vec![json!({
            "name": "dns",
            "image": guest("hostile-dns-flood"),
            "command": [name, "64", "localhost"],
        })],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let lines = run.lines_of("dns");
    assert!(
        lines.contains(&"started 8 lookups, then temporary-resolver-failure".to_owned()),
        "{lines:?}"
    );
    // Once the flood's lookups are closed, the container resolves again.
    assert!(
        lines.contains(&"localhost: 127.0.0.1".to_owned()),
        "{lines:?}"
    );
    assert!(
        run.stderr.contains(
            "container dns: name lookup refused: 8 lookups are open already ([network] max_lookups_per_container)"
        ),
        "{}",
        run.stderr
    );
    assert_a_well_behaved_task_runs(&host);
}

#[test]
fn with_egress_denied_names_are_not_looked_up() {
    let host = Host::with_config("[network]\negress = \"deny\"\n");
    let def = taskdef(
        "dns-egress",
        vec![json!({
            "name": "dns",
            "image": guest("hostile-dns-flood"),
            "command": ["exfiltrate.example.com", "4", "example.com"],
        })],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let lines = run.lines_of("dns");
    assert!(
        lines.contains(&"started 0 lookups, then access-denied".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"example.com: access-denied".to_owned()),
        "{lines:?}"
    );
    // The task's own names still resolve, without a query.
    assert!(
        lines.contains(&"localhost: 127.0.0.1".to_owned()),
        "{lines:?}"
    );
    assert!(
        run.stderr
            .contains("lookup of exfiltrate.example.com denied: egress is denied"),
        "{}",
        run.stderr
    );
    assert_a_well_behaved_task_runs(&host);
}

#[test]
fn a_handle_flood_traps_at_the_resource_table_cap() {
    let host = Host::with_config("[limits]\nmax_handles_per_instance = 8192\n");
    let def = taskdef(
        "handle-flood",
        vec![json!({"name": "handles", "image": guest("hostile-handle-flood")})],
    );
    let run = host.run(&def, &[]);
    assert_ne!(run.code, Some(0), "{}", run.debug());
    // Each timer pollable is two table entries: 8192 entries hold under 4096 of them.
    let lines = run.lines_of("handles");
    assert!(
        lines.contains(&"holding 3072 handles".to_owned()),
        "{lines:?}"
    );
    assert!(
        !lines.contains(&"holding 4096 handles".to_owned()),
        "the table grew past its cap: {lines:?}"
    );
    let reason = run.container("handles")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains("resource table"),
        "{reason}\n{}",
        run.debug()
    );
    assert_a_well_behaved_task_runs(&host);
}

/// An `http-hello` task serving port 8080; `/fetch?url=…` makes an outgoing request.
fn hello_task() -> Value {
    taskdef(
        "hello",
        vec![json!({
            "name": "hello",
            "image": guest("http-hello"),
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "NAME", "value": "greeter"}],
        })],
    )
}

/// What the task's `/fetch` of `url` answered.
fn fetch(live: &Live, addr: SocketAddr, url: &str) -> crate::common::HttpReply {
    http_get(addr, &format!("/fetch?url={url}"))
        .unwrap_or_else(|e| panic!("GET /fetch?url={url}: {e}\n{}", live.debug()))
}

#[test]
fn outgoing_http_by_name_goes_to_the_checked_address_and_counts_as_a_socket() {
    // A name of the hosts file resolves to the host's loopback, which is the guest's own:
    // the request goes over the network (not in-process) to exactly the checked address,
    // the task's own port.
    let name = hosts_file_name()
        .expect("a name besides localhost in /etc/hosts (this machine kind has one: its hostname)");
    let host = Host::new();
    let live = host.start(&hello_task(), &["--stop-timeout", "2"]);
    live.expect_stderr("wasmgate: container hello RUNNING", WAIT);
    let addr = SocketAddr::new(live.task_address(WAIT), 8080);
    let r = fetch(&live, addr, &format!("http://{name}:8080/inner"));
    assert_eq!(r.status, 200, "{r:?}\n{}", live.debug());
    assert_eq!(r.body, "fetched 200 hello from greeter path=/inner\n");
    live.signal(libc::SIGTERM);
    assert_eq!(live.wait(WAIT).code, Some(0));

    // With no sockets allowed, the same request is refused before it connects.
    let host = Host::with_config("[limits]\nmax_sockets_per_container = 0\n");
    let live = host.start(&hello_task(), &["--stop-timeout", "2"]);
    live.expect_stderr("wasmgate: container hello RUNNING", WAIT);
    let addr = SocketAddr::new(live.task_address(WAIT), 8080);
    let r = fetch(&live, addr, &format!("http://{name}:8080/inner"));
    assert_eq!(r.status, 502, "{r:?}\n{}", live.debug());
    assert!(r.body.contains("ConnectionLimitReached"), "{r:?}");
    live.expect_stderr("container hello: socket refused", WAIT);
    live.signal(libc::SIGTERM);
    assert_eq!(live.wait(WAIT).code, Some(0));
    assert_a_well_behaved_task_runs(&host);
}
