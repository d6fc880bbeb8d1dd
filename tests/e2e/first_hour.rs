//! A new user's first hour (issue 11): what they did, word for word, and what they should
//! have seen. Relative image paths mean one thing (the definition's folder for `run` and
//! `validate`, `image_root` for `serve`); output a program can read; Ctrl-C that says
//! what it is doing.

use crate::common;

use common::{Host, Live, Run, Server, guest, repo, task};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// A folder holding a copy of the `echo` guest as `app.wasm`.
fn image_folder(parent: &Path, name: &str) -> std::path::PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guest("echo"), dir.join("app.wasm")).unwrap();
    dir
}

fn echo_def(family: &str, image: &str) -> Value {
    json!({
        "family": family, "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "app", "image": image, "command": ["hi"]}],
    })
}

#[test]
fn every_example_validates_and_runs_from_any_folder() {
    let host = Host::new();
    let elsewhere = tempfile::tempdir().unwrap();
    for ex in ["batch", "two-tier", "scorekeep"] {
        let def = repo().join(format!("examples/{ex}/taskdef.json"));
        let (code, stdout, stderr) = {
            let out = host
                .cmd(&["validate", def.to_str().unwrap()])
                .current_dir(elsewhere.path())
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        assert_eq!(code, Some(0), "{ex}: {stdout}\n{stderr}");
    }
    // `wasmgate run examples/scorekeep/taskdef.json` (it failed with 125: its images were
    // relative to the repository root): the task starts and serves.
    let mut cmd = host.cmd(&["run", "examples/scorekeep/taskdef.json"]);
    cmd.current_dir(repo());
    let live = Live::spawn(cmd);
    live.expect_stderr("wasmgate: container frontend RUNNING", WAIT);
    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());
}

#[test]
fn validate_checks_that_file_images_exist_and_says_where_it_looked() {
    let host = Host::new();
    let defs = tempfile::tempdir().unwrap();
    let images = image_folder(defs.path(), "images");
    let def_path = defs.path().join("taskdef.json");
    let validate = |extra: &[&str]| {
        let mut args = vec!["validate"];
        args.extend_from_slice(extra);
        let p = def_path.to_string_lossy().into_owned();
        args.push(&p);
        host.output(&args)
    };

    // Relative to the definition's folder: found.
    std::fs::write(&def_path, echo_def("v", "images/app.wasm").to_string()).unwrap();
    let (code, stdout, stderr) = validate(&[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");

    // Missing: exit 2, naming the field, the absolute path tried, why, and the folder.
    std::fs::write(&def_path, echo_def("v", "missing.wasm").to_string()).unwrap();
    let (code, stdout, stderr) = validate(&[]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    let dir = defs.path().display().to_string();
    assert!(
        stderr.contains(&format!(
            "containerDefinitions[0].image: {dir}/missing.wasm cannot be read: No such file or \
             directory (os error 2) (the relative path \"missing.wasm\" resolves against {dir})"
        )),
        "{stderr}"
    );

    // `--serve-root DIR`: as `serve` with that `image_root` would resolve it.
    std::fs::write(&def_path, echo_def("v", "app.wasm").to_string()).unwrap();
    let (code, _, stderr) = validate(&[]);
    assert_eq!(
        code,
        Some(2),
        "next to the definition there is none: {stderr}"
    );
    let root = images.to_string_lossy().into_owned();
    let (code, stdout, stderr) = validate(&[&format!("--serve-root={root}")]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    // Without a folder: the config's image_root (default: the working directory).
    let out = host
        .cmd(&["validate", "--serve-root", def_path.to_str().unwrap()])
        .current_dir(&images)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let config = Host::with_config(&format!("image_root = {root:?}\n"));
    let (code, stdout, stderr) =
        config.output(&["validate", "--serve-root", def_path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
}

#[test]
fn run_with_a_missing_image_says_which_path_it_tried() {
    let host = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let def = dir.path().join("taskdef.json");
    std::fs::write(&def, echo_def("gone", "sub/gone.wasm").to_string()).unwrap();
    let out = host
        .cmd(&["run", "--json", def.to_str().unwrap()])
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, Some(125), "{}", run.debug());
    let dir = dir.path().display().to_string();
    let want = format!(
        "CannotPullContainerError: cannot read component {dir}/sub/gone.wasm: No such file or \
         directory (os error 2) (the relative image \"sub/gone.wasm\" resolves against {dir})"
    );
    assert!(run.stderr.contains(&want), "{}", run.debug());
}

#[test]
fn serve_resolves_relative_images_against_its_image_root() {
    let root = tempfile::tempdir().unwrap();
    image_folder(root.path(), "images");
    let host = Host::with_config(&format!(
        "image_root = {:?}\n",
        root.path().join("images").display().to_string()
    ));
    let server = Server::start(&host);
    // Registered as a user would: with a relative image; serve runs in another folder.
    let def = host.taskdef(&echo_def("rooted", "app.wasm"));
    let file = format!("file://{}", def.display());
    server.aws_json(&["ecs", "register-task-definition", "--cli-input-json", &file]);
    let missing = host.taskdef(&echo_def("unrooted", "nowhere/app.wasm"));
    let file = format!("file://{}", missing.display());
    server.aws_json(&["ecs", "register-task-definition", "--cli-input-json", &file]);

    let mut arns = Vec::new();
    for family in ["rooted", "unrooted"] {
        let out = server.aws_json(&["ecs", "run-task", "--task-definition", family]);
        arns.push(out["tasks"][0]["taskArn"].as_str().unwrap().to_owned());
    }
    let mut args = vec!["ecs", "wait", "tasks-stopped", "--tasks"];
    args.extend(arns.iter().map(String::as_str));
    server.aws_json(&args);
    let mut args = vec!["ecs", "describe-tasks", "--tasks"];
    args.extend(arns.iter().map(String::as_str));
    let tasks = server.aws_json(&args)["tasks"].clone();
    let by_family = |f: &str| {
        tasks
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["taskDefinitionArn"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/{f}:"))
            })
            .cloned()
            .unwrap()
    };
    let ok = by_family("rooted");
    assert_eq!(ok["containers"][0]["exitCode"], 0, "{ok:#}");
    let bad = by_family("unrooted");
    let reason = bad["stoppedReason"].as_str().unwrap_or_default();
    let want = format!(
        "cannot read component {0}/nowhere/app.wasm: No such file or directory (os error 2) \
         (the relative image \"nowhere/app.wasm\" resolves against {0})",
        root.path().join("images").display()
    );
    assert!(reason.contains(&want), "{bad:#}");
    let _ = task;
}
