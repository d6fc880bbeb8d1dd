//! Task storage end to end: shared and read-only volumes, read-only root filesystems,
//! removal of everything a task wrote (also after a crash, never another live task's),
//! and the ephemeral-storage quota.

use crate::common;

use common::{Host, Run, guest};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// A `files` container: `files <args>`, non-essential unless made so.
fn files(name: &str, args: &[&str]) -> Value {
    json!({
        "name": name,
        "image": guest("files"),
        "essential": false,
        "command": args,
    })
}

fn essential(mut c: Value) -> Value {
    c["essential"] = json!(true);
    c
}

/// Appends `item` to the array `c[key]`, creating it.
fn push(c: &mut Value, key: &str, item: Value) {
    match c[key].as_array_mut() {
        Some(a) => a.push(item),
        None => c[key] = json!([item]),
    }
}

fn mount(mut c: Value, volume: &str, path: &str, read_only: bool) -> Value {
    let mp = json!({"sourceVolume": volume, "containerPath": path, "readOnly": read_only});
    push(&mut c, "mountPoints", mp);
    c
}

fn after(mut c: Value, container: &str, condition: &str) -> Value {
    let d = json!({"containerName": container, "condition": condition});
    push(&mut c, "dependsOn", d);
    c
}

fn taskdef(family: &str, volumes: &[&str], containers: Vec<Value>) -> Value {
    json!({
        "family": family,
        "cpu": "1024",
        "memory": "2048",
        "volumes": volumes.iter().map(|v| json!({"name": v})).collect::<Vec<_>>(),
        "containerDefinitions": containers,
    })
}

/// Every entry (directories and lock files) under `<data-dir>/tasks`.
fn tasks_entries(host: &Host) -> Vec<String> {
    match std::fs::read_dir(host.data_dir().join("tasks")) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

fn assert_no_task_storage(host: &Host, run: &Run) {
    let left = tasks_entries(host);
    assert!(
        left.is_empty(),
        "task storage left behind: {left:?}\n{}",
        run.debug()
    );
}

/// The `n` of every `wrote <n> MiB` line a container printed.
fn mib_written(run: &Run, container: &str) -> Vec<u64> {
    run.lines_of(container)
        .iter()
        .filter_map(|l| l.strip_prefix("wrote ")?.strip_suffix(" MiB")?.parse().ok())
        .collect()
}

#[test]
fn volume_is_shared_by_the_containers_that_mount_it() {
    let host = Host::new();
    let def = taskdef(
        "shared-volume",
        &["shared"],
        vec![
            mount(
                files("writer", &["write", "/data/msg", "hello from writer"]),
                "shared",
                "/data",
                false,
            ),
            // Does not mount the volume: must not see the file at /data.
            after(
                files("outsider", &["exists", "/data/msg"]),
                "writer",
                "COMPLETE",
            ),
            essential(after(
                after(
                    mount(
                        files("reader", &["read", "/data/msg"]),
                        "shared",
                        "/data",
                        false,
                    ),
                    "writer",
                    "COMPLETE",
                ),
                "outsider",
                "COMPLETE",
            )),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(
        run.lines_of("reader"),
        ["hello from writer"],
        "{}",
        run.debug()
    );
    assert_eq!(run.lines_of("outsider"), ["no"], "{}", run.debug());
    assert_eq!(run.container("writer")["exitCode"], 0, "{}", run.debug());
}

#[test]
fn read_only_mount_rejects_writes_and_leaves_the_file_unchanged() {
    let host = Host::new();
    let def = taskdef(
        "ro-mount",
        &["v"],
        vec![
            mount(
                files("writer", &["write", "/data/f", "original"]),
                "v",
                "/data",
                false,
            ),
            after(
                mount(
                    files("ro", &["write", "/data/f", "changed"]),
                    "v",
                    "/data",
                    true,
                ),
                "writer",
                "COMPLETE",
            ),
            after(
                mount(
                    files("ro-new", &["write", "/data/new", "x"]),
                    "v",
                    "/data",
                    true,
                ),
                "writer",
                "COMPLETE",
            ),
            essential(after(
                after(
                    mount(files("check", &["ls", "/data"]), "v", "/data", true),
                    "ro",
                    "COMPLETE",
                ),
                "ro-new",
                "COMPLETE",
            )),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    for name in ["ro", "ro-new"] {
        assert_eq!(
            run.container(name)["exitCode"],
            1,
            "{name}\n{}",
            run.debug()
        );
        let lines = run.lines_of(name);
        assert!(
            lines.len() == 1 && lines[0].starts_with("files: "),
            "{name} should report the failed write: {lines:?}\n{}",
            run.debug()
        );
    }
    assert_eq!(
        run.lines_of("check"),
        ["f"],
        "no file created\n{}",
        run.debug()
    );

    // The content is unchanged (and readable through a read-only mount).
    let def = taskdef(
        "ro-mount-content",
        &["v"],
        vec![
            mount(
                files("writer", &["write", "/data/f", "original"]),
                "v",
                "/data",
                false,
            ),
            after(
                mount(
                    files("ro", &["append", "/data/f", "+more"]),
                    "v",
                    "/data",
                    true,
                ),
                "writer",
                "COMPLETE",
            ),
            essential(after(
                mount(files("check", &["read", "/data/f"]), "v", "/data", true),
                "ro",
                "COMPLETE",
            )),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.container("ro")["exitCode"], 1, "{}", run.debug());
    assert_eq!(run.lines_of("check"), ["original"], "{}", run.debug());
}

#[test]
fn readonly_root_filesystem_rejects_writes_to_root_but_not_to_volumes() {
    let host = Host::new();
    let ro_root = |mut c: Value| {
        c["readonlyRootFilesystem"] = json!(true);
        c
    };
    // `check` ends the task: it waits for all the others.
    let mut check = mount(files("check", &["read", "/data/f"]), "v", "/data", false);
    for name in ["root-write", "root-mkdir", "control", "vol-write"] {
        check = after(check, name, "COMPLETE");
    }
    let def = taskdef(
        "ro-root",
        &["v"],
        vec![
            ro_root(files("root-write", &["write", "/f", "x"])),
            ro_root(files("root-mkdir", &["write", "/dir/f", "x"])),
            // The same write without readonlyRootFilesystem works.
            files("control", &["write", "/f", "x"]),
            ro_root(mount(
                files("vol-write", &["write", "/data/f", "ok"]),
                "v",
                "/data",
                false,
            )),
            essential(check),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    for name in ["root-write", "root-mkdir"] {
        assert_eq!(
            run.container(name)["exitCode"],
            1,
            "{name}\n{}",
            run.debug()
        );
        let lines = run.lines_of(name);
        assert!(
            lines.iter().any(|l| l.starts_with("files: ")),
            "{name}: {lines:?}\n{}",
            run.debug()
        );
    }
    assert_eq!(run.container("control")["exitCode"], 0, "{}", run.debug());
    assert_eq!(run.container("vol-write")["exitCode"], 0, "{}", run.debug());
    assert_eq!(run.lines_of("check"), ["ok"], "{}", run.debug());
}

#[test]
fn task_storage_is_removed_when_the_task_stops() {
    let host = Host::new();
    let def = taskdef(
        "cleanup",
        &["v"],
        vec![
            mount(
                files("vol", &["write", "/data/deep/f", "in the volume"]),
                "v",
                "/data",
                false,
            ),
            after(
                files("scratch", &["write", "/tmp/deep/f", "in scratch"]),
                "vol",
                "COMPLETE",
            ),
            essential(after(
                mount(
                    files("check", &["read", "/data/deep/f"]),
                    "v",
                    "/data",
                    false,
                ),
                "scratch",
                "COMPLETE",
            )),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.lines_of("check"), ["in the volume"], "{}", run.debug());
    assert_eq!(run.container("scratch")["exitCode"], 0, "{}", run.debug());
    assert!(host.data_dir().join("tasks").is_dir(), "{}", run.debug());
    assert_no_task_storage(&host, &run);

    // Also when the essential container fails.
    let def = taskdef(
        "cleanup-failed",
        &["v"],
        vec![essential(mount(
            files("bad", &["read", "/data/missing"]),
            "v",
            "/data",
            false,
        ))],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(1), "{}", run.debug());
    assert_no_task_storage(&host, &run);
}

#[test]
fn crash_leftovers_are_removed_when_a_run_starts() {
    let host = Host::new();
    let tasks = host.data_dir().join("tasks");
    let file = tasks.join("deadbeef/containers/0/file");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"left by a crashed host").unwrap();
    let vol = tasks.join("deadbeef/volumes/0/v");
    std::fs::create_dir_all(vol.parent().unwrap()).unwrap();
    std::fs::write(&vol, b"volume data").unwrap();
    // A stale (unlocked) lock file, as a killed host leaves it.
    std::fs::write(tasks.join("deadbeef.lock"), b"").unwrap();

    let run = host.run(
        &common::task("after-crash", &[("c", "files", &["exists", "/x"])]),
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.lines_of("c"), ["no"], "{}", run.debug());
    assert!(
        !tasks.join("deadbeef").exists(),
        "leftover kept\n{}",
        run.debug()
    );
    assert_no_task_storage(&host, &run);
}

#[test]
fn a_live_task_of_a_concurrent_run_survives_cleanup_and_is_removed_when_it_ends() {
    let host = Host::new();
    let live_def = taskdef(
        "live",
        &["v"],
        vec![
            mount(
                files("w", &["write", "/data/keep", "still here"]),
                "v",
                "/data",
                false,
            ),
            essential(after(
                json!({"name": "s", "image": guest("sleep"), "command": ["5000"]}),
                "w",
                "COMPLETE",
            )),
        ],
    );
    let mut live = host.start(&live_def, &[]);
    live.expect_stderr("container s RUNNING", WAIT);
    let dirs = host.task_dirs();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let live_dir = dirs[0].clone();
    let kept = live_dir.join("volumes/0/keep");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "still here");
    let live_id = live_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(live_dir.join("containers/0").is_dir() && live_dir.join("containers/1").is_dir());

    // Another run on the same data directory: its start-up cleanup must spare the live task.
    let run = host.run(
        &common::task("other", &[("c", "files", &["write", "/f", "x"])]),
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let intact = std::fs::read_to_string(&kept).ok();
    assert!(
        live.try_status().is_none(),
        "the live task ended before the check (machine too slow for this test)\n{}",
        live.debug()
    );
    assert_eq!(
        intact.as_deref(),
        Some("still here"),
        "a live task's volume was removed by another run\n{}\n{}",
        run.debug(),
        live.debug()
    );
    let other_id = run.task["taskId"].as_str().expect("taskId").to_owned();
    assert_ne!(other_id, live_id);
    assert!(!host.data_dir().join("tasks").join(&other_id).exists());

    let done = live.wait(WAIT);
    assert_eq!(done.code, Some(0), "{}", done.debug());
    assert_eq!(done.lines_of("s"), ["slept 5000"], "{}", done.debug());
    assert_eq!(done.task["taskId"], live_id.as_str());
    assert!(!live_dir.exists(), "{}", done.debug());
    assert_no_task_storage(&host, &done);
}

// --- ephemeral storage quota --------------------------------------------------------------
//
// The `files` guest (Rust std on wasm32-wasip2) writes files through output streams and
// never asks `filesystem-error-code`, so a refused write reaches it as EIO ("I/O error",
// wasi errno 29) rather than ENOSPC: the tests only require that the write fails.

const QUOTA_4_MIB: &str = "[storage]\nmax_task_storage_mib = 4\n";

/// An essential container that outlives the others (stopped with the task).
fn sleeper() -> Value {
    json!({"name": "app", "image": guest("sleep"), "essential": true, "command": ["60000"]})
}

fn assert_stopped_for_storage(run: &Run) {
    assert_eq!(run.task["stopCode"], "TerminationNotice", "{}", run.debug());
    let reason = run.task["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("EphemeralStorageExceeded:"),
        "{reason:?}\n{}",
        run.debug()
    );
    assert!(
        run.stderr
            .contains("wasmgate: task stopped: TerminationNotice: EphemeralStorageExceeded:"),
        "{}",
        run.debug()
    );
}

/// The guest saw a failed write on `path` (`files: fill <path>: <error>`) and exited 1.
fn assert_write_failed(run: &Run, container: &str, path: &str) {
    let prefix = format!("files: fill {path}: ");
    assert!(
        run.lines_of(container)
            .iter()
            .any(|l| l.starts_with(&prefix)),
        "{container} should report a failed write to {path}\n{}",
        run.debug()
    );
    assert_eq!(run.container(container)["exitCode"], 1, "{}", run.debug());
}

/// The last `wrote <n> MiB` of a container that filled past a 4 MiB quota: the task's
/// storage never held much more than the quota.
fn assert_stopped_near_quota(run: &Run, container: &str) {
    let last = mib_written(run, container).last().copied().unwrap_or(0);
    assert!(
        last <= 4,
        "{container} wrote {last} MiB under a 4 MiB quota\n{}",
        run.debug()
    );
    assert!(
        last >= 1,
        "nothing could be written under the quota\n{}",
        run.debug()
    );
}

#[test]
fn writing_past_the_quota_fails_in_the_guest() {
    let host = Host::with_config(QUOTA_4_MIB);
    let run = host.run(
        &common::task("quota", &[("c", "files", &["fill", "/big", "16"])]),
        &[],
    );
    assert_write_failed(&run, "c", "/big");
    assert_stopped_near_quota(&run, "c");
    assert_eq!(run.code, Some(1), "{}", run.debug());
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
    assert_no_task_storage(&host, &run);
}

#[test]
fn writing_a_volume_past_the_quota_fails_in_the_guest() {
    let host = Host::with_config(QUOTA_4_MIB);
    let def = taskdef(
        "quota-volume",
        &["v"],
        vec![essential(mount(
            files("c", &["fill", "/data/big", "16"]),
            "v",
            "/data",
            false,
        ))],
    );
    let run = host.run(&def, &[]);
    assert_write_failed(&run, "c", "/data/big");
    assert_stopped_near_quota(&run, "c");
    assert_eq!(run.code, Some(1), "{}", run.debug());
    assert_no_task_storage(&host, &run);
}

#[test]
fn a_container_over_the_quota_stops_the_whole_task() {
    let host = Host::with_config(QUOTA_4_MIB);
    let def = taskdef(
        "quota-stops-task",
        &[],
        vec![files("filler", &["fill", "/big", "16"]), sleeper()],
    );
    let run = host.run(&def, &["--stop-timeout", "0.5"]);
    assert_write_failed(&run, "filler", "/big");
    assert_stopped_near_quota(&run, "filler");
    assert_stopped_for_storage(&run);
    assert!(
        run.lines_of("app").is_empty(),
        "app ran to its end\n{}",
        run.debug()
    );
    assert_ne!(run.code, Some(0), "{}", run.debug());
    assert_no_task_storage(&host, &run);
}

#[test]
fn the_quota_is_shared_by_all_containers_and_volumes_of_a_task() {
    let host = Host::with_config(QUOTA_4_MIB);
    let def = taskdef(
        "quota-shared",
        &["v"],
        vec![
            mount(
                files("first", &["fill", "/data/a", "3"]),
                "v",
                "/data",
                false,
            ),
            after(files("second", &["fill", "/b", "3"]), "first", "COMPLETE"),
            sleeper(),
        ],
    );
    let run = host.run(&def, &["--stop-timeout", "0.5"]);
    assert_eq!(run.container("first")["exitCode"], 0, "{}", run.debug());
    assert_eq!(mib_written(&run, "first"), [1, 2, 3], "{}", run.debug());
    assert_write_failed(&run, "second", "/b");
    let last = mib_written(&run, "second").last().copied().unwrap_or(0);
    assert!(
        last <= 1,
        "3 + {last} MiB fit in a 4 MiB quota?\n{}",
        run.debug()
    );
    assert_stopped_for_storage(&run);
    assert_no_task_storage(&host, &run);
}

/// The essential container itself breaches the quota and exits on the failed write: the
/// task must still be reported as stopped for its storage, not as a plain exit.
#[test]
fn the_stop_reason_names_the_quota_when_the_essential_container_breaches_it() {
    let host = Host::with_config(QUOTA_4_MIB);
    for _ in 0..5 {
        let run = host.run(
            &common::task("quota-reason", &[("c", "files", &["fill", "/big", "16"])]),
            &[],
        );
        assert_write_failed(&run, "c", "/big");
        assert_stopped_for_storage(&run);
    }
}

#[test]
fn writes_under_the_quota_work() {
    let host = Host::with_config(QUOTA_4_MIB);
    let def = taskdef(
        "quota-ok",
        &["v"],
        vec![
            mount(
                files("fill", &["fill", "/data/f", "2"]),
                "v",
                "/data",
                false,
            ),
            after(
                files("small", &["write", "/s", "small file"]),
                "fill",
                "COMPLETE",
            ),
            essential(after(
                mount(files("check", &["ls", "/data"]), "v", "/data", false),
                "small",
                "COMPLETE",
            )),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(mib_written(&run, "fill"), [1, 2], "{}", run.debug());
    assert_eq!(run.container("small")["exitCode"], 0, "{}", run.debug());
    assert_eq!(run.lines_of("check"), ["f"], "{}", run.debug());
    assert_eq!(
        run.task["stopCode"],
        "EssentialContainerExited",
        "{}",
        run.debug()
    );
    assert_no_task_storage(&host, &run);
}
