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

/// The health-check forms the README lists under "Container health checks" are the ones
/// wasmgate takes: the `CMD-SHELL` curl form runs (the scorekeep frontend waits for its api
/// to be HEALTHY; the example itself uses the `CMD http-get` form, above), and any other
/// command is refused by `validate`, naming the field and the forms.
#[test]
fn the_documented_health_check_forms_are_the_accepted_ones() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for form in [
        r#"["CMD", "http-get", "http://localhost:<port>/<path>"]"#,
        r#"["CMD-SHELL", "curl -f http://localhost:<port>/<path>"]"#,
    ] {
        assert!(readme.contains(form), "README.md does not list {form}");
    }
    let host = Host::new();
    let text = std::fs::read_to_string(repo().join("examples/scorekeep/taskdef.json")).unwrap();
    let mut def: Value = serde_json::from_str(&text).unwrap();
    for c in def["containerDefinitions"].as_array_mut().unwrap() {
        let image = c["image"].as_str().unwrap().to_owned();
        let name = image
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".wasm"))
            .unwrap()
            .to_owned();
        c["image"] = json!(guest(&name));
    }
    assert_eq!(def["containerDefinitions"][1]["name"], "api");
    let command = |def: &mut Value, command: Value| {
        def["containerDefinitions"][1]["healthCheck"]["command"] = command;
    };

    command(
        &mut def,
        json!([
            "CMD-SHELL",
            "curl -f http://localhost:5000/health || exit 1"
        ]),
    );
    let path = host.taskdef(&def);
    let live = Live::spawn(host.cmd(&["run", path.to_str().unwrap()]));
    live.expect_stderr("wasmgate: container frontend RUNNING", WAIT);
    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());

    command(
        &mut def,
        json!(["CMD", "wget", "-q", "http://localhost:5000/health"]),
    );
    let path = host.taskdef(&def);
    let (code, stdout, stderr) = host.output(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("containerDefinitions[1].healthCheck.command"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"["CMD", "http-get", "http://localhost:<port>/<path>"]"#)
            && stderr.contains(r#"["CMD-SHELL", "curl -f http://localhost:<port>/<path>"]"#),
        "the error lists the forms: {stderr}"
    );
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
    assert_eq!(
        run.container("app")["lastStatus"],
        "STOPPED",
        "{}",
        run.debug()
    );
}

/// A container that never started because its task failed first ends STOPPED too (ECS),
/// not PENDING: here the second container's image is missing, the first never starts.
#[test]
fn containers_that_never_started_end_stopped() {
    let host = Host::new();
    let mut def = task(
        "unstarted",
        &[("first", "echo", &[]), ("second", "echo", &[])],
    );
    def["containerDefinitions"][1]["image"] = json!("/nonexistent/second.wasm");
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(125), "{}", run.debug());
    for name in ["first", "second"] {
        let c = run.container(name);
        assert_eq!(c["lastStatus"], "STOPPED", "{name}: {}", run.debug());
        assert_eq!(c["exitCode"], Value::Null, "{name}: {}", run.debug());
    }
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
    // ECS: in a task that failed to start, the containers that never started are STOPPED.
    assert_eq!(bad["containers"][0]["lastStatus"], "STOPPED", "{bad:#}");
}

#[test]
fn run_json_keeps_stdout_pure_json() {
    let host = Host::new();
    let def = host.taskdef(&task("pure", &[("app", "echo", &["hello"])]));
    // `wasmgate run --json x.json | jq`: stdout is one JSON document, the container's lines
    // and the host's go to stderr.
    let out = host
        .cmd(&["run", "--json", def.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let state: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"));
    assert_eq!(state["lastStatus"], "STOPPED");
    assert!(stderr.contains("app | arg[1]=hello"), "{stderr}");

    // `--json-file PATH`: the state in the file, the container's lines on stdout as usual.
    let file = host.dir.path().join("state.json");
    let out = host
        .cmd(&[
            "run",
            "--json-file",
            file.to_str().unwrap(),
            def.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("app | arg[1]=hello"), "{stdout}");
    assert!(!stdout.contains('{'), "{stdout}");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(state["containers"][0]["exitCode"], 0, "{state:#}");
}

#[test]
fn a_file_that_is_not_wasm_is_named_with_what_it_starts_with() {
    let host = Host::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!DOCTYPE html>\n<html></html>\n",
    )
    .unwrap();
    let def = dir.path().join("taskdef.json");
    std::fs::write(&def, echo_def("html", "index.html").to_string()).unwrap();
    let run = Run::from(host.cmd(&["run", def.to_str().unwrap()]).output().unwrap());
    assert_eq!(run.code, Some(125), "{}", run.debug());
    let want = format!(
        "CannotPullContainerError: not a WebAssembly component: {}/index.html (starts with \
         \"<!DOCTYPE html>\\n\", not \"\\0asm\")",
        dir.path().display()
    );
    assert!(run.stderr.contains(&want), "{}", run.debug());
    assert!(
        !run.stderr.contains("expected"),
        "no WAT parser excerpt: {}",
        run.debug()
    );
}

#[test]
fn plurals_are_right() {
    let host = Host::new();
    let one = host.taskdef(&task("one", &[("app", "echo", &[])]));
    let two = host.taskdef(&task("two", &[("a", "echo", &[]), ("b", "echo", &[])]));
    let (_, stdout, _) = host.output(&["validate", one.to_str().unwrap()]);
    assert_eq!(
        stdout.trim(),
        "one: valid (1 container, cpu 1024, memory 2048 MiB)"
    );
    let (_, stdout, _) = host.output(&["validate", two.to_str().unwrap()]);
    assert_eq!(
        stdout.trim(),
        "two: valid (2 containers, cpu 1024, memory 2048 MiB)"
    );
}

/// Every line the host prints itself has one style: `wasmgate: …`, warnings as
/// `wasmgate: warning: …` (no timestamped `WARN` columns); serve says at info level when
/// it starts and stops a task.
#[test]
fn serve_logs_task_starts_and_stops_in_the_host_s_one_style() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let def = host.taskdef(&task("told", &[("app", "sleep", &["100"])]));
    let file = format!("file://{}", def.display());
    server.aws_json(&["ecs", "register-task-definition", "--cli-input-json", &file]);
    let out = server.aws_json(&["ecs", "run-task", "--task-definition", "told"]);
    let arn = out["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    let id = arn.rsplit('/').next().unwrap().to_owned();
    server.aws_json(&["ecs", "wait", "tasks-stopped", "--tasks", &arn]);
    // A long task, then a crash of the host: the next one warns about it.
    let long = host.taskdef(&task("long", &[("app", "sleep", &["600000"])]));
    let file = format!("file://{}", long.display());
    server.aws_json(&["ecs", "register-task-definition", "--cli-input-json", &file]);
    server.aws_json(&["ecs", "run-task", "--task-definition", "long"]);
    let run = server.terminate(WAIT);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines.contains(&format!("wasmgate: task {id} (told:1) started").as_str()),
        "{}",
        run.stderr
    );
    assert!(
        lines.contains(
            &format!(
                "wasmgate: task {id} (told:1) stopped: EssentialContainerExited: Essential \
                 container in task exited"
            )
            .as_str()
        ),
        "{}",
        run.stderr
    );
    for l in &lines {
        assert!(
            l.starts_with("wasmgate: "),
            "a line in another style: {l:?}\n{}",
            run.stderr
        );
    }

    // The warning style, and its plural: one task was still running when the host died.
    let mut server = Server::start(&host);
    server.aws_json(&["ecs", "run-task", "--task-definition", "long"]);
    server.kill();
    let server = Server::start(&host);
    let text = server.debug();
    assert!(
        text.contains(
            "wasmgate: warning: 1 task was still running when the previous host stopped; \
             recorded it as STOPPED"
        ),
        "{text}"
    );
}

/// A service's replacements are told in the same style: the task that stopped, the
/// service's event, and the new task started by the deployment.
#[test]
fn serve_logs_a_service_replacing_its_task() {
    let host = Host::new();
    let mut server = Server::start(&host);
    // `echo` exits at once: the service keeps replacing it.
    register(
        &server,
        &host,
        &task("again", &[("app", "echo", &["once"])]),
    );
    server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "again",
        "--task-definition",
        "again",
        "--desired-count",
        "1",
    ]);
    let started = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("wasmgate: task "))
            .filter(|l| l.contains(" (again:1) started by ecs-svc/"))
            .filter_map(|l| l.split(' ').next().map(str::to_owned))
            .collect()
    };
    // The first task told stopped, the service's event naming the second, and the second
    // told started by the deployment (in an order that depends on timing).
    let told = |text: &str| {
        let ids = started(text);
        let [first, second, ..] = ids.as_slice() else {
            return false;
        };
        first != second
            && text.contains(&format!("wasmgate: task {first} (again:1) stopped: "))
            && text.contains(&format!(
                "wasmgate: (service again) has started 1 tasks: (task {second})."
            ))
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !told(&server.debug()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no replacement told:\n{}",
            server.debug()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = server.terminate(WAIT);
    for l in run.stderr.lines() {
        assert!(
            l.starts_with("wasmgate: "),
            "a line in another style: {l:?}\n{}",
            run.stderr
        );
    }
}

// ---- Responses closer to ECS (item 6) ----

/// A registry on loopback that accepts connections and never answers: a task whose image
/// comes from it stays PENDING (pulling) for as long as the test needs.
fn silent_registry() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

fn register(server: &Server, host: &Host, def: &Value) -> Value {
    let path = host.taskdef(def);
    let file = format!("file://{}", path.display());
    server.aws_json(&["ecs", "register-task-definition", "--cli-input-json", &file])
}

fn poll(what: &str, mut get: impl FnMut() -> Value, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let v = get();
        if ok(&v) {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "never {what}: {v:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `pendingTasksCount` (DescribeClusters) and a service's `pendingCount` count the tasks
/// that are starting; `activeServicesCount` the ACTIVE services; `settings` shows
/// containerInsights as ECS does (disabled unless set), and UpdateClusterSettings changes it.
#[test]
fn pending_counts_and_cluster_settings_as_ecs_shows_them() {
    let host = Host::new();
    let server = Server::start(&host);
    let port = silent_registry();
    let mut def = task("slow", &[("app", "echo", &[])]);
    def["containerDefinitions"][0]["image"] = json!(format!("127.0.0.1:{port}/slow/app:1"));
    register(&server, &host, &def);

    let out = server.aws_json(&["ecs", "run-task", "--task-definition", "slow"]);
    let status = out["tasks"][0]["lastStatus"].as_str().unwrap().to_owned();
    assert!(
        ["PROVISIONING", "PENDING"].contains(&status.as_str()),
        "{out:#}"
    );
    let describe = || {
        server.aws_json(&["ecs", "describe-clusters", "--include", "SETTINGS"])["clusters"][0]
            .clone()
    };
    let c = poll("one task pending", describe, |c| {
        c["pendingTasksCount"] == 1
    });
    assert_eq!(c["runningTasksCount"], 0, "{c:#}");
    assert_eq!(
        c["settings"],
        json!([{"name": "containerInsights", "value": "disabled"}]),
        "{c:#}"
    );

    server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "slow-svc",
        "--task-definition",
        "slow",
        "--desired-count",
        "1",
    ]);
    let svc = poll(
        "the service's task pending",
        || {
            server.aws_json(&["ecs", "describe-services", "--services", "slow-svc"])["services"][0]
                .clone()
        },
        |s| s["pendingCount"] == 1,
    );
    assert_eq!(svc["runningCount"], 0, "{svc:#}");
    assert_eq!(svc["deployments"][0]["pendingCount"], 1, "{svc:#}");
    let c = poll("two tasks pending", describe, |c| {
        c["pendingTasksCount"] == 2
    });
    assert_eq!(c["activeServicesCount"], 1, "{c:#}");

    // A setting given at creation is what DescribeClusters shows.
    let created = server.aws_json(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "insights",
        "--settings",
        "name=containerInsights,value=enabled",
    ]);
    assert_eq!(
        created["cluster"]["settings"],
        json!([{"name": "containerInsights", "value": "enabled"}]),
        "{created:#}"
    );
    let out = server.aws_json(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        "insights",
        "--include",
        "SETTINGS",
    ]);
    assert_eq!(
        out["clusters"][0]["settings"],
        json!([{"name": "containerInsights", "value": "enabled"}]),
        "{out:#}"
    );
    // UpdateClusterSettings replaces the setting of that name.
    let updated = server.aws_json(&[
        "ecs",
        "update-cluster-settings",
        "--cluster",
        "insights",
        "--settings",
        "name=containerInsights,value=disabled",
    ]);
    assert_eq!(
        updated["cluster"]["settings"],
        json!([{"name": "containerInsights", "value": "disabled"}]),
        "{updated:#}"
    );
    let run = server.aws(&[
        "ecs",
        "update-cluster-settings",
        "--cluster",
        "insights",
        "--settings",
        "name=containerInsights,value=sometimes",
    ]);
    assert!(
        run.stderr
            .contains("settings[0].value: \"sometimes\" is not valid"),
        "{}",
        run.stderr
    );
    // Without include=SETTINGS there are none, as in ECS.
    let out = server.aws_json(&["ecs", "describe-clusters", "--clusters", "insights"]);
    assert!(out["clusters"][0].get("settings").is_none(), "{out:#}");
}

/// A container definition without `cpu` shows `cpu: 0`, as ECS does; registered again from
/// what DescribeTaskDefinition printed, it runs the same.
#[test]
fn container_definitions_without_cpu_show_cpu_0() {
    let host = Host::new();
    let server = Server::start(&host);
    let def = task("nocpu", &[("a", "echo", &["x"]), ("b", "echo", &["y"])]);
    let out = register(&server, &host, &def);
    for c in out["taskDefinition"]["containerDefinitions"]
        .as_array()
        .unwrap()
    {
        assert_eq!(c["cpu"], 0, "{out:#}");
    }
    let out = server.aws_json(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "nocpu",
    ]);
    let td = out["taskDefinition"].clone();
    for c in td["containerDefinitions"].as_array().unwrap() {
        assert_eq!(c["cpu"], 0, "{out:#}");
    }
    // Round trip (the CLI refuses the output-only members itself): `cpu: 0` shares the
    // task's CPU as an absent `cpu` does.
    let mut td = td;
    for k in [
        "taskDefinitionArn",
        "revision",
        "status",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "requiresAttributes",
    ] {
        td.as_object_mut().unwrap().remove(k);
    }
    let again = register(&server, &host, &td);
    assert_eq!(again["taskDefinition"]["revision"], 2, "{again:#}");
    let out = server.aws_json(&["ecs", "run-task", "--task-definition", "nocpu:2"]);
    let arn = out["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    server.aws_json(&["ecs", "wait", "tasks-stopped", "--tasks", &arn]);
    let t = server.aws_json(&["ecs", "describe-tasks", "--tasks", &arn])["tasks"][0].clone();
    for c in t["containers"].as_array().unwrap() {
        assert_eq!(c["exitCode"], 0, "{t:#}");
        assert_eq!(c["cpu"], "512", "{t:#}");
    }
}

/// `capacityProviderStrategy` with FARGATE / FARGATE_SPOT is the launch type's equivalent:
/// the task shows `capacityProviderName` (and launchType FARGATE), a service its strategy
/// (and no launchType); another provider, or a launch type as well, is refused with
/// ECS's message.
#[test]
fn fargate_capacity_providers_are_the_launch_type_s_equivalent() {
    let host = Host::new();
    let server = Server::start(&host);
    register(
        &server,
        &host,
        &task("cp", &[("app", "sleep", &["600000"])]),
    );

    let out = server.aws_json(&[
        "ecs",
        "run-task",
        "--task-definition",
        "cp",
        "--capacity-provider-strategy",
        "capacityProvider=FARGATE_SPOT,weight=1",
    ]);
    let t = &out["tasks"][0];
    assert_eq!(t["capacityProviderName"], "FARGATE_SPOT", "{out:#}");
    assert_eq!(t["launchType"], "FARGATE", "{out:#}");
    let arn = t["taskArn"].as_str().unwrap().to_owned();
    let t = server.aws_json(&["ecs", "describe-tasks", "--tasks", &arn])["tasks"][0].clone();
    assert_eq!(t["capacityProviderName"], "FARGATE_SPOT", "{t:#}");
    server.aws_json(&["ecs", "stop-task", "--task", &arn]);
    // Without a strategy there is no capacityProviderName.
    let out = server.aws_json(&["ecs", "run-task", "--task-definition", "cp"]);
    assert!(
        out["tasks"][0].get("capacityProviderName").is_none(),
        "{out:#}"
    );
    let arn = out["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    server.aws_json(&["ecs", "stop-task", "--task", &arn]);

    let refused = |args: &[&str], want: &str| {
        let run = server.aws(args);
        assert_ne!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("An error occurred (InvalidParameterException)"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(want), "{}", run.stderr);
    };
    refused(
        &[
            "ecs",
            "run-task",
            "--task-definition",
            "cp",
            "--launch-type",
            "FARGATE",
            "--capacity-provider-strategy",
            "capacityProvider=FARGATE",
        ],
        "Specifying both a launch type and capacity provider strategy is not supported. \
         Remove one and try again.",
    );
    refused(
        &[
            "ecs",
            "run-task",
            "--task-definition",
            "cp",
            "--capacity-provider-strategy",
            "capacityProvider=my-asg-provider",
        ],
        "The specified capacity provider strategy cannot contain a capacity provider that is \
         not associated with the cluster. Associate the capacity provider with the cluster or \
         specify a valid capacity provider and try again.",
    );
    refused(
        &[
            "ecs",
            "create-service",
            "--service-name",
            "both",
            "--task-definition",
            "cp",
            "--desired-count",
            "1",
            "--launch-type",
            "FARGATE",
            "--capacity-provider-strategy",
            "capacityProvider=FARGATE_SPOT",
        ],
        "Specifying both a launch type and capacity provider strategy is not supported.",
    );

    let out = server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "spot",
        "--task-definition",
        "cp",
        "--desired-count",
        "1",
        "--capacity-provider-strategy",
        "capacityProvider=FARGATE_SPOT,weight=1",
    ]);
    let svc = &out["service"];
    let strategy = json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]);
    assert_eq!(svc["capacityProviderStrategy"], strategy, "{out:#}");
    assert!(svc.get("launchType").is_none(), "{out:#}");
    assert_eq!(
        svc["deployments"][0]["capacityProviderStrategy"], strategy,
        "{out:#}"
    );
    server.aws_json(&["ecs", "wait", "services-stable", "--services", "spot"]);
    let list = server.aws_json(&["ecs", "list-tasks", "--service-name", "spot"]);
    let arn = list["taskArns"][0].as_str().unwrap().to_owned();
    let t = server.aws_json(&["ecs", "describe-tasks", "--tasks", &arn])["tasks"][0].clone();
    assert_eq!(t["capacityProviderName"], "FARGATE_SPOT", "{t:#}");
    assert_eq!(t["group"], "service:spot", "{t:#}");
    server.aws_json(&["ecs", "delete-service", "--service", "spot", "--force"]);
}
