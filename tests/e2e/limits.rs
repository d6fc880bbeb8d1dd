//! Limits a task lives under: memory (container limit and shared task budget), CPU shares
//! enforced by time, the fuel meter and fuel budgets, and private scratch roots.

use crate::common;

use common::{Host, guest, task};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmgate::config::HostConfig;
use wasmgate::runtime::{
    Console, ContainerStatus, LogLine, Runtime, StopCode, TaskEvent, TaskHandle, TaskSpec,
    TaskStatus,
};

const MIB: u64 = 1 << 20;
const OOM_REASON: &str = "OutOfMemoryError: container killed due to memory usage";

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn container_memory_limit_kills_with_the_ecs_oom_reason() {
    let host = Host::new();
    let mut def = task("oom", &[("hog", "oom", &[])]);
    def["containerDefinitions"][0]["memory"] = json!(64);
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(137), "{}", run.debug());
    let hog = run.container("hog");
    assert_eq!(hog["exitCode"], 137, "{}", run.debug());
    assert_eq!(hog["reason"], OOM_REASON, "{}", run.debug());
    assert_eq!(hog["memoryLimitMib"], 64);
    let peak = u64_of(&hog["memoryPeakBytes"]);
    assert!(peak > 0 && peak <= 64 * MIB, "peak {peak}\n{}", run.debug());
    // The guest did allocate before it died, never past its limit.
    let lines = run.lines_of("hog");
    assert!(!lines.is_empty(), "{}", run.debug());
    for l in lines.iter().filter(|l| l.starts_with("allocated ")) {
        let n: u64 = l
            .trim_start_matches("allocated ")
            .trim_end_matches(" MiB")
            .parse()
            .expect("allocated <n> MiB");
        assert!(n <= 64, "{l}\n{}", run.debug());
    }
    assert!(
        run.stderr.contains(&format!(
            "container hog STOPPED exitCode=137 reason=\"{OOM_REASON}\""
        )),
        "{}",
        run.debug()
    );
}

#[test]
fn task_memory_is_a_budget_shared_by_its_containers() {
    let host = Host::new();
    let mut def = task("shared", &[("a", "oom", &[]), ("b", "oom", &[])]);
    def["cpu"] = json!("256");
    def["memory"] = json!("512");
    let run = host.run(&def, &["--stop-timeout", "0"]);
    assert_eq!(run.code, Some(137), "{}", run.debug());
    // The first container to hit the shared budget was OOM-killed and ended the task.
    let ended = u64_of(&run.task["endedBy"]) as usize;
    let containers = run.task["containers"].as_array().expect("containers");
    let first = &containers[ended];
    let other = &containers[1 - ended];
    assert_eq!(first["exitCode"], 137, "{}", run.debug());
    assert_eq!(first["reason"], OOM_REASON, "{}", run.debug());
    assert_eq!(other["exitCode"], 137, "{}", run.debug());
    let first_peak = u64_of(&first["memoryPeakBytes"]);
    let other_peak = u64_of(&other["memoryPeakBytes"]);
    // Neither has a limit of its own, and neither got the whole budget: the other held part.
    assert!(first_peak > 0 && other_peak > 0, "{}", run.debug());
    assert!(first_peak < 512 * MIB, "{}", run.debug());
    assert!(other_peak <= 512 * MIB, "{}", run.debug());
    // Together they stayed within the task's 512 MiB. The survivor may still grow into the
    // memory the killed container gave back until its stop lands (stopTimeout 0: at its next
    // epoch yield), so the sum of the two peaks gets that much slack.
    let slack = 64 * MIB;
    assert!(
        first_peak + other_peak <= 512 * MIB + slack,
        "{} + {} MiB\n{}",
        first_peak / MIB,
        other_peak / MIB,
        run.debug()
    );
}

#[test]
fn a_spinning_sibling_is_stopped_when_the_essential_container_exits() {
    let host = Host::new();
    let def = task(
        "spinstop",
        &[("main", "echo", &["done"]), ("spinner", "spin", &[])],
    );
    let run = host.run(&def, &["--stop-timeout", "0.2"]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.task["endedBy"], 0, "{}", run.debug());
    assert_eq!(run.container("main")["exitCode"], 0);
    let spinner = run.container("spinner");
    assert_eq!(spinner["exitCode"], 137, "{}", run.debug());
    assert!(
        spinner["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("stopTimeout"),
        "{}",
        run.debug()
    );
    assert_eq!(run.task["lastStatus"], "STOPPED");
}

#[test]
fn a_cpu_share_bounds_a_spinning_container() {
    let host = Host::new();
    let mut def = task(
        "share",
        &[("spinner", "spin", &[]), ("timer", "sleep", &["1500"])],
    );
    def["containerDefinitions"][0]["cpu"] = json!(256);
    let started = Instant::now();
    let run = host.run(&def, &["--stop-timeout", "0.2"]);
    let wall = started.elapsed();
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.lines_of("timer"), ["slept 1500"]);
    assert_eq!(run.lines_of("spinner"), ["spinning"]);
    let spinner = run.container("spinner");
    assert_eq!(spinner["cpuUnits"], 256);
    assert_eq!(spinner["exitCode"], 137, "{}", run.debug());
    let cpu_ms = u64_of(&spinner["cpuTimeMs"]);
    // 256 of 1024 units is a quarter of a vCPU; allow twice that.
    let bound = wall.as_millis() as u64 / 2;
    assert!(
        cpu_ms > 0 && cpu_ms <= bound,
        "cpuTimeMs {cpu_ms} over {wall:?} of wall time (bound {bound})\n{}",
        run.debug()
    );
}

/// Collects what a task's containers print.
#[derive(Default)]
struct Capture(Mutex<Vec<(String, String)>>);

impl Console for Capture {
    fn line(&self, _task_id: &str, line: &LogLine) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push((line.container.to_string(), line.message.clone()));
        }
    }
}

fn spec(json: &Value, dir: &std::path::Path, console: Option<Arc<dyn Console>>) -> TaskSpec {
    let parsed = wasmgate::taskdef::parse(&json.to_string(), &Default::default())
        .expect("a valid task definition");
    TaskSpec {
        definition: parsed.definition,
        base_dir: dir.to_owned(),
        overrides: vec![],
        stop_timeout: Some(Duration::from_millis(100)),
        console,
        identity: None,
    }
}

/// Waits (bounded, to fail rather than hang) until `container` of `task` reports RUNNING.
async fn wait_running(task: &mut TaskHandle, container: &str) {
    let mut events = task.take_events().expect("events not taken yet");
    let running =
        async {
            loop {
                match events.recv().await {
                    Ok(TaskEvent::Container { name, status, .. })
                        if name == container && status == ContainerStatus::Running =>
                    {
                        return;
                    }
                    Ok(TaskEvent::Task {
                        status: TaskStatus::Stopped,
                    }) => {
                        panic!(
                            "the task stopped before {container} ran: {:?}",
                            task.snapshot()
                        )
                    }
                    Ok(_) => {}
                    // Fell behind the small buffer: the snapshot holds the latest state.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let now = task.snapshot();
                        if now.containers.iter().any(|c| {
                            c.name == container && c.last_status == ContainerStatus::Running
                        }) {
                            return;
                        }
                    }
                    Err(e) => panic!("event stream ended before {container} ran: {e}"),
                }
            }
        };
    tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the container never reported RUNNING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_task_does_not_delay_a_sibling_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::new(HostConfig {
        data_dir: Some(dir.path().join("data")),
        ..Default::default()
    })
    .expect("runtime");

    let spin_def = json!({
        "family": "spinner",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{ "name": "spin", "image": guest("spin") }],
    });
    let mut spin = runtime
        .start_task(spec(&spin_def, dir.path(), None))
        .expect("start the spin task");
    wait_running(&mut spin, "spin").await;

    let capture = Arc::new(Capture::default());
    let echo_def = task("sibling", &[("app", "echo", &["hello"])]);
    let mut echo = runtime
        .start_task(spec(&echo_def, dir.path(), Some(capture.clone())))
        .expect("start the echo task");
    let done = tokio::time::timeout(Duration::from_secs(60), echo.wait())
        .await
        .expect("the echo task never stopped while a sibling task was spinning");
    assert_eq!(done.last_status, TaskStatus::Stopped);
    assert_eq!(done.containers[0].exit_code, Some(0), "{done:?}");
    let printed: Vec<String> = capture
        .0
        .lock()
        .expect("capture")
        .iter()
        .filter(|(c, _)| c == "app")
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(printed, ["arg[0]=app", "arg[1]=hello"]);

    // The spinner is still there, still running: only the echo task ended.
    let now = spin.snapshot();
    assert_eq!(now.last_status, TaskStatus::Running, "{now:?}");
    assert_eq!(
        now.containers[0].last_status,
        ContainerStatus::Running,
        "{now:?}"
    );

    spin.stop(StopCode::UserInitiated, "test finished");
    let stopped = tokio::time::timeout(Duration::from_secs(60), spin.wait())
        .await
        .expect("the spin task never stopped");
    assert_eq!(stopped.last_status, TaskStatus::Stopped);
    assert_eq!(stopped.stop_code, Some(StopCode::UserInitiated));
    assert_eq!(stopped.stopped_reason.as_deref(), Some("test finished"));
    assert_eq!(stopped.containers[0].exit_code, Some(137), "{stopped:?}");
    assert!(stopped.containers[0].cpu_time_ms > 0, "{stopped:?}");
}

#[test]
fn by_default_only_a_container_with_a_fuel_budget_counts_fuel() {
    let host = Host::new();
    let mut def = task("fuel", &[("budgeted", "echo", &[]), ("plain", "echo", &[])]);
    def["containerDefinitions"][0]["dockerLabels"] =
        json!({ "wasmgate.fuel-budget": "1000000000000" });
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let fuel = &run.container("budgeted")["fuelConsumed"];
    assert!(fuel.as_u64().is_some_and(|f| f > 0), "{}", run.debug());
    // The other runs uninstrumented code: no fuel figure, its CPU time still metered.
    let plain = run.container("plain");
    assert_eq!(plain["fuelConsumed"], Value::Null, "{}", run.debug());
    assert!(plain["cpuTimeMs"].is_u64(), "{}", run.debug());
    assert_eq!(run.lines_of("plain"), ["arg[0]=plain"]);
}

#[test]
fn meter_all_counts_fuel_for_every_container() {
    let host = Host::with_config("[fuel]\nmeter = \"all\"\n");
    let run = host.run(&task("fuel-all", &[("app", "echo", &[])]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let fuel = &run.container("app")["fuelConsumed"];
    assert!(fuel.as_u64().is_some_and(|f| f > 0), "{}", run.debug());
}

#[test]
fn fuel_ranks_tenants_as_the_cpu_meter_does() {
    // Three containers doing 1×, 4× and 16× the same work (each with a fuel budget, so
    // each counts fuel), side by side; a fourth waits for all three to finish.
    let host = Host::new();
    let work = [
        ("small", 150_000),
        ("medium", 600_000),
        ("large", 2_400_000),
    ];
    let mut containers: Vec<Value> = work
        .iter()
        .map(|(name, n)| {
            json!({
                "name": name,
                "image": guest("producer"),
                "essential": false,
                "environment": [{ "name": "COUNT", "value": n.to_string() }],
                "mountPoints": [{ "sourceVolume": name, "containerPath": "/data" }],
                "dockerLabels": { "wasmgate.fuel-budget": "1000000000000" },
            })
        })
        .collect();
    containers.push(json!({
        "name": "done",
        "image": guest("echo"),
        "dependsOn": work.iter()
            .map(|(name, _)| json!({ "containerName": name, "condition": "SUCCESS" }))
            .collect::<Vec<_>>(),
    }));
    let def = json!({
        "family": "fuel-rank",
        "cpu": "2048",
        "memory": "4096",
        "containerDefinitions": containers,
        "volumes": work.iter().map(|(name, _)| json!({ "name": name })).collect::<Vec<_>>(),
    });
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let meters: Vec<(u64, u64)> = work
        .iter()
        .map(|(name, _)| {
            let c = run.container(name);
            (u64_of(&c["cpuTimeMs"]), u64_of(&c["fuelConsumed"]))
        })
        .collect();
    for pair in meters.windows(2) {
        let ((cpu_a, fuel_a), (cpu_b, fuel_b)) = (pair[0], pair[1]);
        assert!(
            cpu_a < cpu_b && fuel_a < fuel_b,
            "both meters rank 4× the work higher: {meters:?}\n{}",
            run.debug()
        );
    }
}

#[test]
fn fuel_is_not_reported_when_disabled_in_the_host_config() {
    let host = Host::with_config("[fuel]\nenabled = false\n");
    let run = host.run(&task("nofuel", &[("app", "echo", &["still runs"])]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(
        run.container("app")["fuelConsumed"],
        Value::Null,
        "{}",
        run.debug()
    );
    assert_eq!(run.lines_of("app"), ["arg[0]=app", "arg[1]=still runs"]);
}

#[test]
fn a_fuel_budget_label_stops_a_spinner() {
    let host = Host::new();
    let mut def = task("budget", &[("spinner", "spin", &[])]);
    def["containerDefinitions"][0]["dockerLabels"] = json!({ "wasmgate.fuel-budget": "1000000" });
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(137), "{}", run.debug());
    let spinner = run.container("spinner");
    assert_eq!(spinner["exitCode"], 137, "{}", run.debug());
    assert!(
        spinner["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("FuelExhausted"),
        "{}",
        run.debug()
    );
    assert_eq!(spinner["fuelConsumed"], 1_000_000, "{}", run.debug());
    assert_eq!(run.lines_of("spinner"), ["spinning"]);
}

#[test]
fn a_non_numeric_fuel_label_is_refused_naming_the_field() {
    let host = Host::new();
    let mut def = task(
        "badlabel",
        &[("app", "echo", &[]), ("spinner", "spin", &[])],
    );
    def["containerDefinitions"][1]["dockerLabels"] = json!({ "wasmgate.fuel-budget": "lots" });
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(2), "{}", run.debug());
    assert!(
        run.stderr
            .contains("containerDefinitions[1].dockerLabels.wasmgate.fuel-budget"),
        "{}",
        run.debug()
    );
    assert!(run.stderr.contains("lots"), "{}", run.debug());
    assert!(
        !run.stdout.contains(" | "),
        "nothing may run\n{}",
        run.debug()
    );
}

#[test]
fn containers_cannot_see_each_others_scratch_root() {
    let host = Host::new();
    let mut def = task(
        "scratch",
        &[
            ("writer", "files", &["write", "/secret", "x"]),
            ("reader", "files", &["exists", "/secret"]),
            ("self", "files", &["exists", "/"]),
        ],
    );
    def["containerDefinitions"][0]["essential"] = json!(false);
    def["containerDefinitions"][1]["dependsOn"] =
        json!([{ "containerName": "writer", "condition": "COMPLETE" }]);
    def["containerDefinitions"][2]["essential"] = json!(false);
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    // The write worked in the writer's own root...
    assert_eq!(run.container("writer")["exitCode"], 0, "{}", run.debug());
    // ...and the reader, started after it, does not see it.
    assert_eq!(run.lines_of("reader"), ["no"], "{}", run.debug());
    // (The guest's `exists` does answer yes for what is there.)
    assert_eq!(run.lines_of("self"), ["yes"], "{}", run.debug());
}
