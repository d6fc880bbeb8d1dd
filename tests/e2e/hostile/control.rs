//! Attacks on the control plane (issue 9, item 14): a second `wasmgate serve` on a data
//! directory another `serve` is using. Without an owner, the second host would record the
//! first one's live tasks as lost and start replacements for its services.

use super::{assert_a_well_behaved_task_runs, open_fds};
use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn task_state(server: &Server, arn: &str) -> Value {
    let out = server.aws_json(&["ecs", "describe-tasks", "--tasks", arn]);
    out["tasks"][0].clone()
}

fn service_task_arns(server: &Server, name: &str) -> Vec<String> {
    let out = server.aws_json(&["ecs", "list-tasks", "--service-name", name]);
    out["taskArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

/// Waits until `ok` holds for the output of `poll`.
fn wait_until<T: std::fmt::Debug>(what: &str, poll: impl Fn() -> T, ok: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = poll();
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "never {what}: {v:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_second_serve_on_a_used_data_dir_is_refused_and_changes_nothing() {
    let host = Host::new();
    let first = Server::start(&host);
    let def = json!({
        "family": "owned",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "main",
            "image": guest("sleep"),
            "command": ["600000"],
            "stopTimeout": 2
        }]
    });
    let path = host.taskdef(&def);
    first.aws_json(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", path.display()),
    ]);
    let out = first.aws_json(&["ecs", "run-task", "--task-definition", "owned"]);
    let task = out["tasks"][0]["taskArn"]
        .as_str()
        .unwrap_or_else(|| panic!("no task in {out:#}"))
        .to_owned();
    first.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "owned",
        "--task-definition",
        "owned",
        "--desired-count",
        "1",
    ]);
    let running = wait_until(
        "RUNNING",
        || task_state(&first, &task),
        |t| t["lastStatus"] == "RUNNING",
    );
    let service_tasks = wait_until(
        "one service task",
        || service_task_arns(&first, "owned"),
        |a| a.len() == 1,
    );
    let fds_before = open_fds(first.pid());

    // The attack: a second host on the same directory, on another port.
    let second = Live::spawn(host.cmd(&["serve", "--listen", "127.0.0.1:0"]));
    let refused = second.wait(Duration::from_secs(60));
    assert_eq!(refused.code, Some(1), "{}", refused.debug());
    let pid = format!("pid {}", first.pid());
    assert!(
        refused.stderr.contains(&pid)
            && refused
                .stderr
                .contains("in use by another `wasmgate serve`"),
        "the refusal names the holder:\n{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("listening on"),
        "{}",
        refused.stderr
    );
    let lock = host.data_dir().join("serve.lock");
    assert_eq!(
        std::fs::read_to_string(&lock)
            .map(|s| s.trim().to_owned())
            .ok(),
        Some(first.pid().to_string())
    );

    // The first host's task and service are untouched: the task still RUNNING with
    // nothing recorded against it, and no replacement started.
    let after = task_state(&first, &task);
    assert_eq!(after["lastStatus"], "RUNNING", "{after:#}");
    assert_eq!(after["desiredStatus"], "RUNNING", "{after:#}");
    assert!(after.get("stoppedReason").is_none(), "{after:#}");
    assert_eq!(after["startedAt"], running["startedAt"], "{after:#}");
    assert_eq!(service_task_arns(&first, "owned"), service_tasks);
    let svc = first.aws_json(&["ecs", "describe-services", "--services", "owned"]);
    assert_eq!(svc["services"][0]["runningCount"], 1, "{svc:#}");

    // `wasmgate run` beside the `serve`, on the same directory: it takes no lock, and its
    // start-up cleanup leaves the live tasks' directories alone.
    assert_a_well_behaved_task_runs(&host);
    let id = task.rsplit('/').next().unwrap_or_default().to_owned();
    assert!(
        host.task_dirs().iter().any(|d| d.ends_with(&id)),
        "the first host's task directory is gone: {:?}",
        host.task_dirs()
    );
    assert_eq!(task_state(&first, &task)["lastStatus"], "RUNNING");
    let fds_after = open_fds(first.pid());
    assert!(
        fds_after <= fds_before + 8,
        "descriptors of the first host grew from {fds_before} to {fds_after}"
    );

    // Once the owner is gone (even killed), the directory can be served again.
    let mut first = first;
    first.kill();
    let next = Server::start(&host);
    let lost = task_state(&next, &task);
    assert_eq!(lost["lastStatus"], "STOPPED", "{lost:#}");
}
