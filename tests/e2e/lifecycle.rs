//! The task lifecycle as a user of `wasmgate run` sees it: exit codes, traps, ECS task states,
//! essential containers, dependsOn conditions, ECS overrides and the console's prefixes.

use crate::common;

use common::{Host, Run, task};
use serde_json::{Value, json};

const EXIT_INVALID: i32 = 2;

/// The statuses from `wasmgate: task <id> <STATUS>` lines, in order, for the task `id`.
fn task_states(run: &Run) -> Vec<String> {
    let id = run.task["taskId"].as_str().expect("taskId in the snapshot");
    let prefix = format!("wasmgate: task {id} ");
    run.stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        // `wasmgate: task <id> address <ip>` is the task's network address, not a state.
        .filter(|rest| !rest.starts_with("address "))
        .map(str::to_owned)
        .collect()
}

/// Index of the first stderr line containing `needle`, or a panic naming it.
fn stderr_line(run: &Run, needle: &str) -> usize {
    run.stderr
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no stderr line with {needle:?}\n{}", run.debug()))
}

fn exit_code_is_reported_exactly(code: i32) {
    let host = Host::new();
    let s = code.to_string();
    let run = host.run(&task("exit", &[("app", "exit-code", &[&s])]), &[]);
    assert_eq!(run.code, Some(code), "{}", run.debug());
    let app = run.container("app");
    assert_eq!(app["exitCode"], code, "{}", run.debug());
    assert_eq!(app["reason"], Value::Null, "{}", run.debug());
    assert_eq!(app["lastStatus"], "STOPPED");
    assert_eq!(
        run.lines_of("app"),
        [format!("exit-code: exiting with {code}")]
    );
    assert_eq!(run.task["stopCode"], "EssentialContainerExited");
    assert!(
        run.stderr
            .contains(&format!("wasmgate: container app STOPPED exitCode={code}")),
        "{}",
        run.debug()
    );
}

#[test]
fn exit_code_42_is_the_process_exit_code() {
    exit_code_is_reported_exactly(42);
}

#[test]
fn exit_code_255_is_the_process_exit_code() {
    exit_code_is_reported_exactly(255);
}

#[test]
fn exit_code_0_is_the_process_exit_code() {
    exit_code_is_reported_exactly(0);
}

#[test]
fn a_trap_is_reported_with_its_message_and_no_exit_code() {
    let host = Host::new();
    for how in ["trap", "panic"] {
        let run = host.run(&task("trap", &[("app", "exit-code", &[how])]), &[]);
        assert_eq!(run.code, Some(1), "{how}: {}", run.debug());
        let app = run.container("app");
        assert_eq!(app["exitCode"], Value::Null, "{how}: {}", run.debug());
        let reason = app["reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("WasmTrap: "), "{how}: {}", run.debug());
        assert!(reason.contains("unreachable"), "{how}: {}", run.debug());
        assert!(
            run.stderr.contains(&format!(
                "wasmgate: container app STOPPED reason=\"{reason}\""
            )),
            "{how}: {}",
            run.debug()
        );
    }
}

/// The task states of a run, without the optional PROVISIONING (where every task begins).
fn states_after_provisioning(run: &Run) -> Vec<String> {
    let mut states = task_states(run);
    if states.first().map(String::as_str) == Some("PROVISIONING") {
        states.remove(0);
    }
    states
}

const ECS_ORDER: [&str; 7] = [
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
];

#[test]
fn task_states_follow_the_ecs_order() {
    let host = Host::new();
    let run = host.run(&task("states", &[("app", "sleep", &["200"])]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(
        states_after_provisioning(&run),
        ECS_ORDER,
        "{}",
        run.debug()
    );
    // The container starts after the task is provisioned and stops before the task stops.
    let id = run.task["taskId"].as_str().expect("taskId");
    let c_running = stderr_line(&run, "wasmgate: container app RUNNING");
    let c_stopped = stderr_line(&run, "wasmgate: container app STOPPED exitCode=0");
    let t_activating = stderr_line(&run, &format!("task {id} ACTIVATING"));
    let t_stopping = stderr_line(&run, &format!("task {id} STOPPING"));
    assert!(
        t_activating < c_running && c_running < c_stopped && c_stopped < t_stopping,
        "{}",
        run.debug()
    );
    assert!(
        run.stderr.contains(
            "wasmgate: task stopped: EssentialContainerExited: Essential container in task exited"
        ),
        "{}",
        run.debug()
    );
    assert_eq!(run.task["lastStatus"], "STOPPED");
    assert_eq!(run.task["desiredStatus"], "STOPPED");
    assert_eq!(run.task["stopCode"], "EssentialContainerExited");
    assert_eq!(run.task["endedBy"], 0);
}

/// A container that exits at once still passes through RUNNING, and so does its task.
#[test]
fn a_fast_exiting_container_still_passes_through_running() {
    let host = Host::new();
    let def = task("fast", &[("app", "exit-code", &["0"])]);
    // The race shows in about one run in seven; twenty runs make a miss unlikely.
    for attempt in 0..20 {
        let run = host.run(&def, &[]);
        assert_eq!(run.code, Some(0), "{}", run.debug());
        assert_eq!(
            states_after_provisioning(&run),
            ECS_ORDER,
            "attempt {attempt}\n{}",
            run.debug()
        );
        assert!(
            stderr_line(&run, "wasmgate: container app RUNNING")
                < stderr_line(&run, "wasmgate: container app STOPPED"),
            "attempt {attempt}\n{}",
            run.debug()
        );
    }
}

#[test]
fn a_non_essential_exit_does_not_stop_the_task() {
    let host = Host::new();
    // `main` starts only after `side` has exited: it can run only if the task went on.
    let mut def = task(
        "nonessential",
        &[("side", "exit-code", &["3"]), ("main", "echo", &["after"])],
    );
    def["containerDefinitions"][0]["essential"] = json!(false);
    def["containerDefinitions"][1]["dependsOn"] =
        json!([{ "containerName": "side", "condition": "COMPLETE" }]);
    let run = host.run(&def, &[]);
    assert_eq!(
        run.code,
        Some(0),
        "the essential container's code, not side's\n{}",
        run.debug()
    );
    assert_eq!(run.container("side")["exitCode"], 3);
    assert_eq!(run.container("main")["exitCode"], 0);
    assert_eq!(run.lines_of("main"), ["arg[0]=main", "arg[1]=after"]);
    assert_eq!(run.task["endedBy"], 1, "{}", run.debug());
}

#[test]
fn an_essential_exit_stops_the_task_and_its_siblings() {
    let host = Host::new();
    let mut def = task(
        "essential",
        &[("main", "exit-code", &["7"]), ("bg", "sleep", &["600000"])],
    );
    def["containerDefinitions"][1]["essential"] = json!(false);
    let run = host.run(&def, &["--stop-timeout", "0.2"]);
    assert_eq!(run.code, Some(7), "{}", run.debug());
    assert_eq!(run.task["stopCode"], "EssentialContainerExited");
    assert_eq!(run.task["endedBy"], 0);
    let bg = run.container("bg");
    assert_eq!(bg["exitCode"], 137, "{}", run.debug());
    assert!(
        bg["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("stopTimeout"),
        "{}",
        run.debug()
    );
    assert!(
        run.lines_of("bg").is_empty(),
        "bg never finished sleeping\n{}",
        run.debug()
    );
}

#[test]
fn depends_on_start_starts_after_the_dependency_started() {
    let host = Host::new();
    // `db` never exits by itself: `app` can only have run if START did not wait for an exit.
    let mut def = task(
        "start",
        &[("db", "sleep", &["600000"]), ("app", "echo", &["up"])],
    );
    def["containerDefinitions"][0]["essential"] = json!(false);
    def["containerDefinitions"][1]["dependsOn"] =
        json!([{ "containerName": "db", "condition": "START" }]);
    let run = host.run(&def, &["--stop-timeout", "0.2"]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.lines_of("app"), ["arg[0]=app", "arg[1]=up"]);
    assert!(
        stderr_line(&run, "wasmgate: container db RUNNING")
            < stderr_line(&run, "wasmgate: container app STOPPED"),
        "{}",
        run.debug()
    );
    assert_eq!(run.container("db")["exitCode"], 137, "{}", run.debug());
    assert!(
        run.lines_of("db").is_empty(),
        "db never finished\n{}",
        run.debug()
    );
}

#[test]
fn depends_on_complete_waits_for_an_exit_whatever_its_code() {
    let host = Host::new();
    // `app` is quick and `slow` is not: had `app` not waited, it would stop first.
    let mut def = task(
        "complete",
        &[
            ("slow", "sleep", &["300"]),
            ("failing", "exit-code", &["3"]),
            ("app", "echo", &["go"]),
        ],
    );
    def["containerDefinitions"][0]["essential"] = json!(false);
    def["containerDefinitions"][1]["essential"] = json!(false);
    def["containerDefinitions"][2]["dependsOn"] = json!([
        { "containerName": "slow", "condition": "COMPLETE" },
        { "containerName": "failing", "condition": "COMPLETE" }
    ]);
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.container("failing")["exitCode"], 3);
    assert_eq!(run.lines_of("slow"), ["slept 300"]);
    assert_eq!(run.lines_of("app"), ["arg[0]=app", "arg[1]=go"]);
    let app_stopped = stderr_line(&run, "wasmgate: container app STOPPED exitCode=0");
    assert!(
        stderr_line(&run, "wasmgate: container slow STOPPED exitCode=0") < app_stopped
            && stderr_line(&run, "wasmgate: container failing STOPPED exitCode=3") < app_stopped,
        "{}",
        run.debug()
    );
    assert_eq!(run.task["endedBy"], 2, "{}", run.debug());
}

#[test]
fn depends_on_success_runs_after_a_zero_exit() {
    let host = Host::new();
    let mut def = task(
        "success",
        &[("init", "sleep", &["300"]), ("app", "echo", &["ok"])],
    );
    def["containerDefinitions"][0]["essential"] = json!(false);
    def["containerDefinitions"][1]["dependsOn"] =
        json!([{ "containerName": "init", "condition": "SUCCESS" }]);
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.lines_of("init"), ["slept 300"]);
    assert_eq!(run.lines_of("app"), ["arg[0]=app", "arg[1]=ok"]);
    assert!(
        stderr_line(&run, "wasmgate: container init STOPPED exitCode=0")
            < stderr_line(&run, "wasmgate: container app STOPPED exitCode=0"),
        "{}",
        run.debug()
    );
}

#[test]
fn depends_on_success_on_a_failing_dependency_never_starts_the_dependent() {
    let host = Host::new();
    let mut def = task(
        "failed",
        &[("init", "exit-code", &["3"]), ("app", "echo", &["never"])],
    );
    def["containerDefinitions"][0]["essential"] = json!(false);
    def["containerDefinitions"][1]["dependsOn"] =
        json!([{ "containerName": "init", "condition": "SUCCESS" }]);
    let run = host.run(&def, &[]);
    assert_ne!(
        run.code,
        Some(0),
        "a task whose essential container never ran did not succeed\n{}",
        run.debug()
    );
    let app = run.container("app");
    assert_eq!(app["lastStatus"], "STOPPED");
    assert_eq!(app["exitCode"], Value::Null, "{}", run.debug());
    assert!(
        app["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("DependencyFailed: "),
        "{}",
        run.debug()
    );
    assert!(
        run.lines_of("app").is_empty(),
        "app never ran\n{}",
        run.debug()
    );
    assert!(
        !run.stderr.contains("container app RUNNING"),
        "{}",
        run.debug()
    );
    assert_eq!(run.lines_of("init"), ["exit-code: exiting with 3"]);
}

/// An echo task whose container `app` has an entry point, a command and two variables.
fn override_task() -> Value {
    let mut def = task(
        "overrides",
        &[("app", "echo", &["def-cmd"]), ("other", "echo", &[])],
    );
    def["containerDefinitions"][0]["entryPoint"] = json!(["ep"]);
    def["containerDefinitions"][0]["environment"] = json!([
        { "name": "KEEP", "value": "from-def" },
        { "name": "REPLACED", "value": "from-def" }
    ]);
    def["containerDefinitions"][1]["environment"] =
        json!([{ "name": "REPLACED", "value": "other-def" }]);
    def
}

/// The `env NAME=value` lines a container printed.
fn env_of(run: &Run, name: &str) -> Vec<String> {
    run.lines_of(name)
        .into_iter()
        .filter_map(|l| l.strip_prefix("env ").map(str::to_owned))
        .collect()
}

fn args_of(run: &Run, name: &str) -> Vec<String> {
    run.lines_of(name)
        .into_iter()
        .filter(|l| l.starts_with("arg["))
        .collect()
}

#[test]
fn env_override_merges_by_name() {
    let host = Host::new();
    let run = host.run(
        &override_task(),
        &[
            "-e",
            "app:REPLACED=from-cli",
            "-e",
            "app:ADDED=new=with=equals",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(
        env_of(&run, "app"),
        [
            "ADDED=new=with=equals",
            "KEEP=from-def",
            "REPLACED=from-cli"
        ],
        "{}",
        run.debug()
    );
    // The command is untouched; the other container is untouched.
    assert_eq!(
        args_of(&run, "app"),
        ["arg[0]=app", "arg[1]=ep", "arg[2]=def-cmd"]
    );
    assert_eq!(env_of(&run, "other"), ["REPLACED=other-def"]);
}

#[test]
fn command_override_replaces_the_command_and_keeps_the_entry_point() {
    let host = Host::new();
    let run = host.run(&override_task(), &["--command", r#"app=["x","y z"]"#]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(
        args_of(&run, "app"),
        ["arg[0]=app", "arg[1]=ep", "arg[2]=x", "arg[3]=y z"],
        "{}",
        run.debug()
    );
    assert_eq!(env_of(&run, "app"), ["KEEP=from-def", "REPLACED=from-def"]);
    assert_eq!(args_of(&run, "other"), ["arg[0]=other"]);
}

#[test]
fn overrides_json_has_the_ecs_meaning() {
    let host = Host::new();
    let overrides = json!({ "containerOverrides": [{
        "name": "app",
        "command": ["json-cmd"],
        "environment": [
            { "name": "REPLACED", "value": "from-json" },
            { "name": "NEW", "value": "1" }
        ]
    }]})
    .to_string();
    let check = |run: &Run| {
        assert_eq!(run.code, Some(0), "{}", run.debug());
        assert_eq!(
            args_of(run, "app"),
            ["arg[0]=app", "arg[1]=ep", "arg[2]=json-cmd"],
            "{}",
            run.debug()
        );
        assert_eq!(
            env_of(run, "app"),
            ["KEEP=from-def", "NEW=1", "REPLACED=from-json"],
            "{}",
            run.debug()
        );
        assert_eq!(env_of(run, "other"), ["REPLACED=other-def"]);
    };
    check(&host.run(&override_task(), &["--overrides", &overrides]));
    // The same from a file, as `aws ecs run-task --overrides file://…` takes it.
    let file = host.dir.path().join("overrides.json");
    std::fs::write(&file, &overrides).expect("write overrides");
    let arg = format!("file://{}", file.display());
    check(&host.run(&override_task(), &["--overrides", &arg]));
}

#[test]
fn overrides_naming_an_unknown_container_are_refused() {
    let host = Host::new();
    let overrides =
        json!({ "containerOverrides": [{ "name": "nope", "command": ["x"] }] }).to_string();
    let run = host.run(&override_task(), &["--overrides", &overrides]);
    assert_eq!(run.code, Some(EXIT_INVALID), "{}", run.debug());
    assert!(
        run.stderr.contains("overrides.containerOverrides[0].name"),
        "{}",
        run.debug()
    );
    assert!(run.stderr.contains("nope"), "{}", run.debug());
    assert!(
        !run.stdout.contains(" | "),
        "nothing may run\n{}",
        run.debug()
    );
    // The same through -e.
    let run = host.run(&override_task(), &["-e", "nope:A=b"]);
    assert_eq!(run.code, Some(EXIT_INVALID), "{}", run.debug());
    assert!(run.stderr.contains("nope"), "{}", run.debug());
    assert!(
        !run.stdout.contains(" | "),
        "nothing may run\n{}",
        run.debug()
    );
}

#[test]
fn guest_stderr_lines_are_marked_with_a_bang() {
    let host = Host::new();
    let mut def = task(
        "stderr",
        &[("app", "echo", &[]), ("longer-name", "echo", &[])],
    );
    def["containerDefinitions"][0]["environment"] =
        json!([{ "name": "ECHO_STDERR", "value": "1" }]);
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    // Names are padded to the longest one so the output lines up.
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines.contains(&"app         ! stderr-line"),
        "{}",
        run.debug()
    );
    assert!(
        lines.contains(&"app         | arg[0]=app"),
        "{}",
        run.debug()
    );
    assert!(
        lines.contains(&"longer-name | arg[0]=longer-name"),
        "{}",
        run.debug()
    );
    assert!(!run.stdout.contains("longer-name ! "), "{}", run.debug());
}
