//! Task definitions as a user writes them: every validation rule refuses a bad definition with
//! exit code 2 and an error naming the field path and the rule (through both `wasmgate
//! validate` and `wasmgate run`), and the accepted ECS forms run.

use crate::common;

use common::{Host, RawRequest, Server, api_request, guest, task};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Exit code of `wasmgate` for an invalid definition or invalid arguments.
const EXIT_INVALID: i32 = 2;
/// Exit code of `wasmgate run` when the task could not start.
const EXIT_NOT_STARTED: i32 = 125;

/// Writes `text` verbatim as a task definition file (for JSON that is not well-formed).
fn write_raw(host: &Host, name: &str, text: &str) -> PathBuf {
    let path = host.dir.path().join(name);
    std::fs::write(&path, text).expect("write raw task definition");
    path
}

/// Runs `wasmgate <sub> <path>` and returns (exit code, stdout, stderr).
fn invoke(host: &Host, sub: &str, path: &Path) -> (Option<i32>, String, String) {
    let path = path.to_string_lossy();
    let out = host
        .cmd(&[sub, path.as_ref()])
        .output()
        .expect("run wasmgate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Both `validate` and `run` refuse the definition at `path` with exit 2, every expected
/// `path: rule` text appears on stderr, and `run` starts no task.
fn assert_rejected_file(host: &Host, path: &Path, expected: &[&str]) {
    for sub in ["validate", "run"] {
        let (code, stdout, stderr) = invoke(host, sub, path);
        let ctx =
            format!("wasmgate {sub}: exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        assert_eq!(code, Some(EXIT_INVALID), "{ctx}");
        for e in expected {
            assert!(stderr.contains(e), "stderr lacks {e:?}\n{ctx}");
        }
        assert!(!stdout.contains(": valid"), "{ctx}");
        if sub == "run" {
            assert!(
                !stderr.contains("wasmgate: task "),
                "no task may start from an invalid definition\n{ctx}"
            );
            assert!(!stdout.contains(" | "), "no guest may run\n{ctx}");
        }
    }
}

fn assert_rejected(def: &Value, expected: &[&str]) {
    let host = Host::new();
    let path = host.taskdef(def);
    assert_rejected_file(&host, &path, expected);
}

fn echo(name: &str) -> Value {
    json!({ "name": name, "image": guest("echo") })
}

#[test]
fn malformed_json_is_refused_with_its_position() {
    let host = Host::new();
    let path = write_raw(
        &host,
        "broken.json",
        "{\n  \"family\": \"broken\",\n  \"containerDefinitions\": [\n    {\"name\": \"app\",}\n  ]\n}\n",
    );
    assert_rejected_file(&host, &path, &["line 4", "column"]);
    // A truncated file, too.
    let path = write_raw(
        &host,
        "truncated.json",
        "{\"family\": \"broken\", \"cpu\": ",
    );
    assert_rejected_file(&host, &path, &["EOF", "line 1"]);
}

#[test]
fn a_definition_must_be_a_json_object() {
    let host = Host::new();
    let path = write_raw(&host, "array.json", "[]");
    assert_rejected_file(&host, &path, &["a task definition must be a JSON object"]);
}

#[test]
fn wrong_type_names_the_field() {
    let mut def = task("wrongtype", &[("app", "echo", &[])]);
    def["containerDefinitions"][0]["cpu"] = json!(true);
    assert_rejected(
        &def,
        &["containerDefinitions[0].cpu: invalid type: boolean `true`"],
    );
}

#[test]
fn zero_containers_are_refused() {
    let mut def = task("empty", &[]);
    def["containerDefinitions"] = json!([]);
    assert_rejected(
        &def,
        &["containerDefinitions: at least one container definition is required"],
    );
}

#[test]
fn eleven_containers_are_refused() {
    let mut def = task("crowded", &[]);
    def["containerDefinitions"] = (0..11).map(|i| echo(&format!("c{i}"))).collect();
    assert_rejected(
        &def,
        &["containerDefinitions: at most 10 containers are allowed in a task, found 11"],
    );
    // Ten is fine.
    def["containerDefinitions"] = (0..10).map(|i| echo(&format!("c{i}"))).collect();
    let run = Host::new().run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.task["containers"].as_array().map(Vec::len), Some(10));
}

#[test]
fn duplicate_container_names_are_refused() {
    let def = task("dups", &[("app", "echo", &[]), ("app", "echo", &[])]);
    assert_rejected(
        &def,
        &[r#"containerDefinitions[1].name: duplicate container name "app""#],
    );
}

#[test]
fn at_least_one_container_must_be_essential() {
    let mut def = task("noessential", &[("a", "echo", &[]), ("b", "echo", &[])]);
    def["containerDefinitions"][0]["essential"] = json!(false);
    def["containerDefinitions"][1]["essential"] = json!(false);
    assert_rejected(
        &def,
        &["containerDefinitions: at least one container must be essential"],
    );
}

#[test]
fn invalid_fargate_cpu_memory_combination_is_refused() {
    let mut def = task("size", &[("app", "echo", &[])]);
    def["cpu"] = json!("256");
    def["memory"] = json!("4096");
    assert_rejected(
        &def,
        &["memory: 4096 MiB is not valid for cpu 256; valid values: 512, 1024, 2048"],
    );
    def["cpu"] = json!("300");
    def["memory"] = json!("1024");
    assert_rejected(&def, &["cpu: 300 is not a valid Fargate CPU value"]);
}

#[test]
fn container_memory_above_the_task_memory_is_refused() {
    let mut def = task("bigcontainer", &[("a", "echo", &[]), ("b", "echo", &[])]);
    def["containerDefinitions"][1]["memory"] = json!(4096);
    assert_rejected(
        &def,
        &["containerDefinitions[1].memory: 4096 MiB exceeds the task's 2048 MiB"],
    );
}

#[test]
fn container_cpu_sum_above_the_task_cpu_is_refused() {
    let mut def = task("cpusum", &[("a", "echo", &[]), ("b", "echo", &[])]);
    def["containerDefinitions"][0]["cpu"] = json!(768);
    def["containerDefinitions"][1]["cpu"] = json!(512);
    assert_rejected(
        &def,
        &[
            "containerDefinitions: the sum of container cpu (1280) exceeds the task's 1024 cpu units",
        ],
    );
}

#[test]
fn depends_on_an_unknown_container_is_refused() {
    let mut def = task("ghostdep", &[("app", "echo", &[])]);
    def["containerDefinitions"][0]["dependsOn"] =
        json!([{ "containerName": "ghost", "condition": "START" }]);
    assert_rejected(
        &def,
        &[
            r#"containerDefinitions[0].dependsOn[0].containerName: container "ghost" is not defined in this task"#,
        ],
    );
}

#[test]
fn depends_on_cycle_is_refused() {
    let mut def = task("cycle", &[("a", "echo", &[]), ("b", "echo", &[])]);
    def["containerDefinitions"][0]["dependsOn"] =
        json!([{ "containerName": "b", "condition": "START" }]);
    def["containerDefinitions"][1]["dependsOn"] =
        json!([{ "containerName": "a", "condition": "START" }]);
    assert_rejected(
        &def,
        &["containerDefinitions: dependsOn forms a cycle: a -> b -> a"],
    );
}

#[test]
fn mount_point_must_name_a_declared_volume() {
    let mut def = task("nomount", &[("app", "echo", &[])]);
    def["containerDefinitions"][0]["mountPoints"] =
        json!([{ "sourceVolume": "data", "containerPath": "/data" }]);
    assert_rejected(
        &def,
        &[
            r#"containerDefinitions[0].mountPoints[0].sourceVolume: volume "data" is not declared in volumes"#,
        ],
    );
}

/// A task that writes through a volume backed by the host directory `dir`.
fn bind_mount_task(dir: &Path) -> Value {
    let mut def = task(
        "bind",
        &[("app", "files", &["write", "/mnt/hello.txt", "from-guest"])],
    );
    def["volumes"] = json!([{ "name": "hostdir", "host": { "sourcePath": dir } }]);
    def["containerDefinitions"][0]["mountPoints"] =
        json!([{ "sourceVolume": "hostdir", "containerPath": "/mnt" }]);
    def
}

#[test]
fn host_source_path_is_refused_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_rejected(
        &bind_mount_task(dir.path()),
        &["volumes[0].host.sourcePath: host bind mounts are disabled on this host"],
    );
    assert!(!dir.path().join("hello.txt").exists());
}

#[test]
fn host_source_path_is_mounted_when_the_host_allows_bind_mounts() {
    let host = Host::with_config("[storage]\nallow_bind_mounts = true\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = host.run(&bind_mount_task(dir.path()), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let written = std::fs::read_to_string(dir.path().join("hello.txt")).unwrap_or_else(|e| {
        panic!(
            "the guest's file is not in the bind mount: {e}\n{}",
            run.debug()
        )
    });
    assert_eq!(written, "from-guest");
}

#[test]
fn privileged_containers_are_refused() {
    let mut def = task("priv", &[("app", "echo", &[])]);
    def["containerDefinitions"][0]["privileged"] = json!(true);
    assert_rejected(
        &def,
        &["containerDefinitions[0].privileged: privileged containers are not supported"],
    );
}

#[test]
fn network_mode_bridge_is_refused() {
    let mut def = task("bridge", &[("app", "echo", &[])]);
    def["networkMode"] = json!("bridge");
    assert_rejected(
        &def,
        &[r#"networkMode: "bridge" is not supported"#, "awsvpc"],
    );
    // awsvpc is the one accepted mode.
    def["networkMode"] = json!("awsvpc");
    let run = Host::new().run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
}

#[test]
fn depends_on_healthy_is_refused_at_run() {
    let host = Host::new();
    let mut def = task(
        "healthy",
        &[("db", "sleep", &["60000"]), ("app", "echo", &[])],
    );
    def["containerDefinitions"][1]["dependsOn"] =
        json!([{ "containerName": "db", "condition": "HEALTHY" }]);
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(EXIT_INVALID), "{}", run.debug());
    assert!(
        run.stderr
            .contains("containerDefinitions[1].dependsOn[0].condition: HEALTHY"),
        "{}",
        run.debug()
    );
    assert!(!run.stderr.contains("wasmgate: task "), "{}", run.debug());
    assert!(!run.stdout.contains(" | "), "{}", run.debug());
}

#[test]
fn ecs_size_strings_are_accepted() {
    let host = Host::new();
    let mut def = task("strings", &[("app", "echo", &["hi"])]);
    def["cpu"] = json!("1 vCPU");
    def["memory"] = json!("2 GB");
    let path = host.taskdef(&def);
    let (code, stdout, stderr) = invoke(&host, "validate", &path);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("strings: valid (1 container, cpu 1024, memory 2048 MiB)"),
        "{stdout}"
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.task["cpu"], 1024, "{}", run.debug());
    assert_eq!(run.task["memory"], 2048, "{}", run.debug());
    assert_eq!(run.lines_of("app"), ["arg[0]=app", "arg[1]=hi"]);
}

#[test]
fn describe_task_definition_wrapper_is_accepted() {
    let host = Host::new();
    let inner = task("wrapped", &[("app", "echo", &["wrapped-arg"])]);
    let mut inner = inner.as_object().expect("object").clone();
    // What describe-task-definition adds: read-only members, accepted without warnings.
    inner.insert(
        "taskDefinitionArn".into(),
        json!("arn:aws:ecs:us-east-1:123456789012:task-definition/wrapped:3"),
    );
    inner.insert("revision".into(), json!(3));
    inner.insert("status".into(), json!("ACTIVE"));
    let def = json!({ "taskDefinition": inner, "tags": [] });
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.task["family"], "wrapped");
    assert_eq!(run.lines_of("app"), ["arg[0]=app", "arg[1]=wrapped-arg"]);
    assert!(!run.stderr.contains("warning"), "{}", run.debug());
}

/// `echo` with its environment misspelled, which would otherwise run without it.
fn misspelled_environment() -> Value {
    let mut def = task("typo", &[("app", "echo", &["ran"])]);
    def["containerDefinitions"][0]["enviroment"] = json!([{ "name": "GREETING", "value": "hi" }]);
    def
}

#[test]
fn a_misspelled_field_is_refused_with_the_closest_name() {
    assert_rejected(
        &misspelled_environment(),
        &[r#"containerDefinitions[0].enviroment: unknown field; did you mean "environment"?"#],
    );
}

#[test]
fn allow_unknown_fields_runs_the_task_with_a_warning() {
    let host = Host::new();
    let mut def = misspelled_environment();
    // A real ECS member wasmgate does not honour is a warning either way.
    def["containerDefinitions"][0]["ulimits"] = json!([{ "name": "nofile", "softLimit": 1 }]);
    let run = host.run(&def, &["--allow-unknown-fields"]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(
        run.stderr.contains(
            r#"wasmgate: warning: containerDefinitions[0].enviroment: unknown field, ignored; did you mean "environment"?"#
        ),
        "{}",
        run.debug()
    );
    assert!(
        run.stderr.contains(
            "wasmgate: warning: containerDefinitions[0].ulimits: not supported by wasmgate, ignored"
        ),
        "{}",
        run.debug()
    );
    assert_eq!(run.lines_of("app"), ["arg[0]=app", "arg[1]=ran"]);
    // `validate` takes the switch too, and still calls the definition valid.
    let path = host.taskdef(&def);
    let path = path.to_string_lossy();
    let out = host
        .cmd(&["validate", "--allow-unknown-fields", path.as_ref()])
        .output()
        .expect("run wasmgate");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("typo: valid"), "{stdout}");
    assert!(
        stderr.contains("containerDefinitions[0].enviroment: unknown field, ignored"),
        "{stderr}"
    );
}

#[test]
fn describe_task_definition_output_from_serve_runs_without_warnings() {
    let server_host = Host::new();
    let server = Server::start(&server_host);
    let call = |target: &str, body: &Value| {
        api_request(
            server.port,
            &RawRequest::new(
                &format!("AmazonEC2ContainerServiceV20141113.{target}"),
                &body.to_string(),
            ),
        )
    };
    // RegisterTaskDefinition reads through the same parser: a typo is a ClientException.
    let refused = call("RegisterTaskDefinition", &misspelled_environment());
    assert_eq!(refused.status, 400, "{}", server.debug());
    assert_eq!(refused.code(), "ClientException");
    assert_eq!(
        refused.message(),
        r#"containerDefinitions[0].enviroment: unknown field; did you mean "environment"?"#
    );

    let mut def = task("described", &[("app", "echo", &["described-arg"])]);
    def["tags"] = json!([{ "key": "team", "value": "edge" }]);
    let registered = call("RegisterTaskDefinition", &def);
    assert_eq!(registered.status, 200, "{:?}", registered.json);
    let described = call(
        "DescribeTaskDefinition",
        &json!({ "taskDefinition": "described", "include": ["TAGS"] }),
    );
    assert_eq!(described.status, 200, "{:?}", described.json);
    // The output-only members ECS prints are there, and fed back as is.
    let inner = &described.json["taskDefinition"];
    for member in [
        "taskDefinitionArn",
        "revision",
        "status",
        "registeredAt",
        "registeredBy",
    ] {
        assert!(inner.get(member).is_some(), "{member} in {inner}");
    }
    let run = Host::new().run(&described.json, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(!run.stderr.contains("warning"), "{}", run.debug());
    assert_eq!(run.task["family"], "described", "{}", run.debug());
    assert_eq!(run.lines_of("app"), ["arg[0]=app", "arg[1]=described-arg"]);
}

#[test]
fn oci_reference_to_an_unreachable_registry_fails_to_start_with_cannot_pull() {
    // Registry images are pulled (tests/e2e/registry.rs); a registry nobody listens on (port 1 on
    // loopback, never reached over the network) is a clear CannotPullContainerError.
    let host = Host::with_config("[registry]\nmax_attempts = 1\n");
    let mut def = task("oci", &[("app", "echo", &[])]);
    def["containerDefinitions"][0]["image"] = json!("127.0.0.1:1/x/y:1");
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(EXIT_NOT_STARTED), "{}", run.debug());
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("CannotPullContainerError: registry 127.0.0.1:1 is unreachable"),
        "{}",
        run.debug()
    );
    assert_eq!(run.task["stopCode"], "TaskFailedToStart", "{}", run.debug());
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", run.debug());
}

#[test]
fn missing_image_file_fails_to_start_with_cannot_pull() {
    let host = Host::new();
    let mut def = task("missing", &[("app", "echo", &[])]);
    let missing = host.dir.path().join("no-such-component.wasm");
    def["containerDefinitions"][0]["image"] = json!(missing);
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(EXIT_NOT_STARTED), "{}", run.debug());
    assert!(
        run.stderr.contains("CannotPullContainerError"),
        "{}",
        run.debug()
    );
    assert!(
        run.stderr.contains("no-such-component.wasm"),
        "{}",
        run.debug()
    );
    assert_eq!(run.task["stopCode"], "TaskFailedToStart", "{}", run.debug());
    let reason = run.container("app")["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("CannotPullContainerError"),
        "{}",
        run.debug()
    );
    assert!(run.lines_of("app").is_empty(), "{}", run.debug());
}

#[test]
fn a_second_run_uses_the_compile_cache() {
    let host = Host::new();
    let def = task("cache", &[("app", "echo", &["again"])]);
    let first = host.run(&def, &[]);
    assert_eq!(first.code, Some(0), "{}", first.debug());
    assert!(
        first.stderr.contains("wasmgate: compiled "),
        "a fresh host must compile\n{}",
        first.debug()
    );
    let second = host.run(&def, &[]);
    assert_eq!(second.code, Some(0), "{}", second.debug());
    assert!(
        !second.stderr.contains("wasmgate: compiled "),
        "the second run must use the cache\n{}",
        second.debug()
    );
    assert_eq!(second.lines_of("app"), ["arg[0]=app", "arg[1]=again"]);
    let digest = &first.container("app")["imageDigest"];
    assert!(
        digest.as_str().is_some_and(|d| d.starts_with("sha256:")),
        "{}",
        first.debug()
    );
    assert_eq!(digest, &second.container("app")["imageDigest"]);
}

/// Issue 15, item 7: a cold task with several distinct images compiles them side by side
/// (up to one compile per CPU), and an image two containers share is compiled once.
#[test]
fn distinct_images_of_a_cold_task_compile_side_by_side() {
    let host = Host::new();
    let def = task(
        "cold",
        &[
            ("a", "echo", &["one"]),
            ("b", "exit-code", &["0"]),
            ("c", "files", &["exists", "/x"]),
            ("d", "echo", &["two"]),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(
        run.lines_of("a"),
        ["arg[0]=a", "arg[1]=one"],
        "{}",
        run.debug()
    );
    assert_eq!(
        run.lines_of("d"),
        ["arg[0]=d", "arg[1]=two"],
        "{}",
        run.debug()
    );
    let compiled: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("wasmgate: compiled "))
        .collect();
    assert_eq!(
        compiled.len(),
        3,
        "one compile per distinct image\n{}",
        run.debug()
    );
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Every load is handed to the compiler before the first result is awaited, so with two
    // CPUs or more a second compile starts while the first runs.
    if cpus >= 2 {
        assert!(
            compiled
                .iter()
                .any(|l| !l.contains("(1 compiling at once)")),
            "compiles overlapped\n{}",
            run.debug()
        );
    }
    assert!(
        compiled
            .iter()
            .all(|l| !l.contains(&format!("({} compiling at once)", cpus + 1))),
        "never more compiles than CPUs\n{}",
        run.debug()
    );
}
