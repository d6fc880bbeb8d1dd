//! Durability of `wasmgate serve` state (issue 4): a restart (SIGTERM) keeps clusters, task
//! definitions, tags, logs and stopped-task history; a crash (SIGKILL) loses no acknowledged
//! write, and tasks that were running are recorded STOPPED with a reason saying the host
//! stopped. The phases run in `tests/py/state.py` with boto3, around a server stop on the
//! same data directory.

use crate::common;

use common::*;
use std::time::Duration;

#[test]
fn restart_keeps_state() {
    let host = Host::new();
    let state = host.dir.path().join("restart.json");
    let state_s = state.to_string_lossy().into_owned();

    let mut server = Server::start(&host);
    server.python_ok("state.py", &["restart-setup", &state_s]);
    let run = server.terminate(Duration::from_secs(60));
    assert_eq!(
        run.code,
        Some(0),
        "wasmgate serve should exit 0 on SIGTERM\n{}",
        run.debug()
    );

    let server = Server::start(&host);
    let out = server.python_ok("state.py", &["restart-verify", &state_s]);
    println!("{}", out.stdout);
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let host = Host::new();
    let state = host.dir.path().join("crash.json");
    let acks = host.dir.path().join("acks.txt");
    let state_s = state.to_string_lossy().into_owned();
    let acks_s = acks.to_string_lossy().into_owned();

    let mut server = Server::start(&host);
    server.python_ok("state.py", &["crash-setup", &state_s]);
    // Writes in flight while the host dies.
    let writer = server.python_spawn("state.py", &["crash-writer", &acks_s]);
    writer.expect_stdout("acked 30", Duration::from_secs(120));
    server.kill();
    let w = writer.wait(Duration::from_secs(60));
    assert_eq!(w.code, Some(0), "writer\n{}", w.debug());

    let server = Server::start(&host);
    let out = server.python_ok("state.py", &["crash-verify", &state_s, &acks_s]);
    println!(
        "{}\n--- writer\n{}",
        out.stdout,
        w.stdout.lines().last().unwrap_or("")
    );
}
