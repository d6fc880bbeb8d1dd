//! Attacks on the host's file system: a directory tree deeper than PATH_MAX (cleanup and
//! restart), a quota bypass through such depth, and a descriptor flood (issue 9, items 1,
//! 2, the file-system half of 5).

use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{assert_a_well_behaved_task_runs, open_fds};
use crate::common::{Host, RawRequest, Run, Server, api_request, guest, task};

const ECS: &str = "AmazonEC2ContainerServiceV20141113";
const LOGS: &str = "Logs_20140328";

/// The caps this host ships with (`[storage]` defaults in config.rs).
const DEFAULT_MAX_PATH_DEPTH: u32 = 128;
const DEFAULT_MAX_OPEN_FILES: usize = 256;

/// The number in the last line of `lines` that starts with `prefix` (`wrote 12 MiB`).
fn last_number(lines: &[String], prefix: &str) -> Option<u64> {
    lines.iter().rev().find_map(|l| {
        l.strip_prefix(prefix)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

fn assert_no_task_storage(host: &Host, run: &Run) {
    assert!(
        host.task_dirs().is_empty(),
        "task directories left behind: {:?}\n{}",
        host.task_dirs(),
        run.debug()
    );
}

/// `depth` nested directories named `d` below `dir`, made through descriptors (as a guest
/// does), so no path longer than PATH_MAX is ever named.
fn nest_by_descriptors(dir: &Path, depth: usize) {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let d: &CStr = c"d";
    let mut fd: OwnedFd = rustix::fs::open(dir, flags, Mode::empty()).expect("open");
    for _ in 0..depth {
        rustix::fs::mkdirat(&fd, d, Mode::RWXU).expect("mkdirat");
        fd = rustix::fs::openat(&fd, d, flags, Mode::empty()).expect("openat");
    }
}

/// `wasmgate run --json <def>` with at most `limit` open descriptors (soft and hard, so the
/// host cannot raise it).
fn run_with_fd_limit(host: &Host, def: &Value, limit: u64) -> Run {
    use std::os::unix::process::CommandExt;
    let path = host.taskdef(def);
    let path = path.to_string_lossy().into_owned();
    let mut cmd = host.cmd(&["run", "--json", &path]);
    // SAFETY: setrlimit is async-signal-safe and touches only the child's limits.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &lim) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    Run::from(cmd.output().expect("run wasmgate"))
}

/// Item 1: the guest nests directories through descriptors. It is stopped at the depth cap
/// with `name-too-long`, the host survives DEPROVISIONING and removes the tree; a restart
/// on the same data directory removes a leftover tree thousands of levels deep (what a
/// crashed unprotected host left) and starts, and a leftover it cannot remove is only a
/// warning.
#[test]
fn a_deep_directory_tree_is_capped_cleaned_up_and_does_not_stop_a_restart() {
    let host = Host::new();
    let run = host.run(
        &task("deep-tree", &[("nester", "hostile-deep-tree", &["60000"])]),
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
    let lines = run.lines_of("nester");
    let expected =
        format!("stopped at depth {DEFAULT_MAX_PATH_DEPTH}: create-directory-at: name-too-long");
    assert!(
        lines.contains(&expected),
        "the guest should be stopped at the depth cap: want {expected:?}\n{}",
        run.debug()
    );
    assert!(
        run.stderr.contains("max_path_depth"),
        "the operator is told which cap refused\n{}",
        run.debug()
    );
    assert_no_task_storage(&host, &run);

    // What a crashed host left: a task tree 3,000 levels deep (6,000 bytes of path, past
    // PATH_MAX), and a leftover that cannot be locked (its lock path is taken by a
    // directory). The restart runs with 1,024 descriptors: a sweep holding one per level
    // (std's `remove_dir_all`) failed with EMFILE here and the host refused to start.
    let tasks = host.data_dir().join("tasks");
    let deep = tasks.join("0badc0de-0000-4000-8000-000000000001");
    std::fs::create_dir_all(deep.join("containers/0")).expect("mkdir");
    nest_by_descriptors(&deep.join("containers/0"), 3_000);
    std::fs::create_dir_all(tasks.join("stuck/containers/0")).expect("mkdir");
    std::fs::create_dir_all(tasks.join("stuck.lock")).expect("mkdir");

    let restart = run_with_fd_limit(
        &host,
        &task("after-restart", &[("echo", "echo", &["up"])]),
        1024,
    );
    assert_eq!(
        restart.code,
        Some(0),
        "the host must start despite leftovers\n{}",
        restart.debug()
    );
    assert!(!deep.exists(), "the deep leftover was not removed");
    assert!(
        restart
            .stderr
            .contains("cannot remove storage left by a stopped host"),
        "an unremovable leftover is a warning\n{}",
        restart.debug()
    );
    assert_a_well_behaved_task_runs(&host);
}

/// Item 2: directories nested past PATH_MAX no longer hide data from the quota's
/// re-measure. The nesting stops at the path-length cap, and the writes below it stop at
/// the quota: the task is stopped for its storage, having written no more than the quota.
#[test]
fn deep_directories_do_not_bypass_the_storage_quota() {
    let host = Host::with_config("[storage]\nmax_task_storage_mib = 64\n");
    let run = host.run(
        &task(
            "deep-quota",
            &[("writer", "hostile-deep-quota", &["160", "20"])],
        ),
        &[],
    );
    let lines = run.lines_of("writer");
    // 250-byte names: 8 levels are 2,007 bytes of path, the 9th would pass 2,048.
    assert!(
        lines.iter().any(|l| l == "nesting stopped: name-too-long"),
        "{}",
        run.debug()
    );
    assert_eq!(
        last_number(&lines, "nested "),
        Some(8),
        "nested past the path cap\n{}",
        run.debug()
    );
    let wrote = last_number(&lines, "wrote ").unwrap_or(0);
    assert!(
        wrote <= 64,
        "wrote {wrote} MiB under a 64 MiB quota\n{}",
        run.debug()
    );
    assert!(
        wrote >= 48,
        "the quota refused too early: {wrote} MiB\n{}",
        run.debug()
    );
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
    let reason = run.task["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("EphemeralStorageExceeded:"),
        "{reason:?}\n{}",
        run.debug()
    );
    assert_no_task_storage(&host, &run);
    assert_a_well_behaved_task_runs(&host);
}

/// A signed ECS call that must succeed; its JSON answer.
fn ecs(server: &Server, action: &str, body: &Value) -> Value {
    let r = api_request(
        server.port,
        &RawRequest::new(&format!("{ECS}.{action}"), &body.to_string()),
    );
    assert_eq!(r.status, 200, "{action}: {r:?}\n{}", server.debug());
    r.json
}

/// Polls `probe` until it answers, at most `timeout` (a hung host fails the test).
fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run_task(server: &Server, family: &str) -> String {
    let out = ecs(server, "RunTask", &json!({"taskDefinition": family}));
    out["tasks"][0]["taskArn"]
        .as_str()
        .unwrap_or_else(|| panic!("RunTask {family}: {out:#}"))
        .to_owned()
}

fn describe(server: &Server, arn: &str) -> Value {
    ecs(server, "DescribeTasks", &json!({"tasks": [arn]}))["tasks"][0].clone()
}

fn wait_stopped(server: &Server, arn: &str) -> Value {
    wait_for("a task to stop", Duration::from_secs(120), || {
        let t = describe(server, arn);
        (t["lastStatus"] == "STOPPED").then_some(t)
    })
}

/// Item 5 (files): under `wasmgate serve`, a guest opens one file 100,000 times and holds
/// them. It gets 256 and then `insufficient-memory`; the host process's descriptors stay
/// within that cap, the API keeps answering, and another task starts and completes while
/// the flooder still holds its files.
#[test]
fn a_descriptor_flood_is_capped_and_other_tasks_still_start() {
    let host = Host::new();
    let server = Server::start(&host);
    let baseline = open_fds(server.pid());
    let flood = json!({
        "family": "fd-flood",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "flood",
            "image": guest("hostile-fd-flood"),
            "command": ["100000", "600"],
            "essential": true,
            "stopTimeout": 2,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/hostile/fd",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "p",
                    "awslogs-create-group": "true"
                }
            }
        }]
    });
    ecs(&server, "RegisterTaskDefinition", &flood);
    let flooder = run_task(&server, "fd-flood");
    let task_id = flooder.rsplit('/').next().unwrap_or_default().to_owned();
    let stream =
        json!({"logGroupName": "/hostile/fd", "logStreamName": format!("p/flood/{task_id}")});
    let lines = wait_for(
        "the flooder to hold its files",
        Duration::from_secs(120),
        || {
            let r = api_request(
                server.port,
                &RawRequest::new(&format!("{LOGS}.GetLogEvents"), &stream.to_string()),
            );
            let lines: Vec<String> = r.json["events"]
                .as_array()?
                .iter()
                .filter_map(|e| e["message"].as_str().map(str::to_owned))
                .collect();
            lines
                .iter()
                .any(|l| l.starts_with("holding"))
                .then_some(lines)
        },
    );
    let expected = format!("opened {DEFAULT_MAX_OPEN_FILES} files, then: insufficient-memory");
    assert!(
        lines.contains(&expected),
        "want {expected:?}, the guest said {lines:?}\n{}",
        server.debug()
    );
    let holding = open_fds(server.pid());
    assert!(
        holding <= baseline + DEFAULT_MAX_OPEN_FILES + 64,
        "{holding} descriptors open while the flooder holds its files ({baseline} before)"
    );

    // Another tenant's task starts and completes while the flooder holds its files.
    ecs(
        &server,
        "RegisterTaskDefinition",
        &task("bystander", &[("echo", "echo", &["still", "here"])]),
    );
    let bystander = wait_stopped(&server, &run_task(&server, "bystander"));
    assert_eq!(
        bystander["containers"][0]["exitCode"],
        0,
        "{bystander:#}\n{}",
        server.debug()
    );
    assert_eq!(describe(&server, &flooder)["lastStatus"], "RUNNING");

    // Stopping the flooder gives its descriptors back and removes its storage.
    ecs(
        &server,
        "StopTask",
        &json!({"task": flooder, "reason": "flood test over"}),
    );
    wait_stopped(&server, &flooder);
    let after = open_fds(server.pid());
    assert!(
        after + DEFAULT_MAX_OPEN_FILES / 2 <= holding,
        "{after} descriptors open after the flooder stopped, {holding} while it ran"
    );
    assert!(
        host.task_dirs().is_empty(),
        "task directories left: {:?}",
        host.task_dirs()
    );
    drop(server);
    assert_a_well_behaved_task_runs(&host);
}
