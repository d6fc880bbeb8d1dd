//! Metering and cost (issue 14, items 5 and 6) against the real binary: `wasmgate usage`
//! agrees with hand arithmetic for tasks of known size and length (the one-minute
//! minimum: tasks that end within seconds are billed a minute; the per-second part is the
//! unit tests' `usage::bill`, with an injected clock), by group and format, while `serve`
//! runs and after it died, and a crash closes a running task at the last heartbeat; and
//! `wasmgate stats --no-stream` shows spinning containers (of `serve` and of `wasmgate
//! run`) at their CPU share.

use crate::common;

use common::{Host, Server, guest};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Prices that make the arithmetic easy: 0.001 USD per vCPU-second, 0.0001 per
/// GB-second. The meter beats and writes every second.
const CONFIG: &str = "[usage]\nvcpu_hour_usd = 3.6\ngb_hour_usd = 0.36\n\
                      heartbeat_seconds = 1\nrecord_seconds = 1\n";

fn def(family: &str, cpu: u32, memory: u32, g: &str, cmd: &[&str]) -> Value {
    json!({
        "family": family,
        "cpu": cpu.to_string(),
        "memory": memory.to_string(),
        "containerDefinitions": [{
            "name": "app",
            "image": guest(g),
            "command": cmd,
            "cpu": cpu / 2,
        }],
    })
}

fn register_and_run(host: &Host, server: &Server, def: &Value) -> String {
    let path = host.taskdef(def);
    let file = format!("file://{}", path.display());
    server.aws_json(&["ecs", "register-task-definition", "--cli-input-json", &file]);
    let family = def["family"].as_str().unwrap();
    let out = server.aws_json(&["ecs", "run-task", "--task-definition", family]);
    out["tasks"][0]["taskArn"].as_str().unwrap().to_owned()
}

/// `wasmgate <command> <args>`'s stdout; it must succeed.
fn wasmgate(host: &Host, command: &str, args: &[&str]) -> String {
    let mut all = vec![command];
    all.extend_from_slice(args);
    let out = host.cmd(&all).output().unwrap();
    assert!(
        out.status.success(),
        "wasmgate {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn usage(host: &Host, args: &[&str]) -> String {
    wasmgate(host, "usage", args)
}

fn usage_json(host: &Host, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&usage(host, &all)).unwrap()
}

fn group<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {report}"))
}

/// Polls `f` until it returns Some, at most `within`.
fn poll<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn close(a: &Value, b: f64) {
    let a = a.as_f64().unwrap_or(f64::NAN);
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[test]
fn two_short_tasks_are_billed_a_minute_each_at_their_size() {
    let host = Host::with_config(CONFIG);
    let server = Server::start(&host);
    // ¼ vCPU, ½ GB and 1 vCPU, 2 GB, each done in half a second.
    let small = register_and_run(&host, &server, &def("small", 256, 512, "sleep", &["500"]));
    let big = register_and_run(&host, &server, &def("big", 1024, 2048, "sleep", &["500"]));
    server.aws_json(&["ecs", "wait", "tasks-stopped", "--tasks", &small, &big]);
    let report = poll(Duration::from_secs(30), "both records closed", || {
        let r = usage_json(&host, &["--group-by", "family"]);
        (r["total"]["tasks"] == 2 && r["total"]["running"] == 0).then_some(r)
    });
    // The minute: small 15 vCPU-s, 30 GB-s; big 60 vCPU-s, 120 GB-s.
    let s = group(&report, "small");
    close(&s["vcpuSeconds"], 15.0);
    close(&s["gbSeconds"], 30.0);
    close(&s["cost"], 15.0 * 0.001 + 30.0 * 0.0001);
    let b = group(&report, "big");
    close(&b["vcpuSeconds"], 60.0);
    close(&b["gbSeconds"], 120.0);
    close(&b["cost"], 60.0 * 0.001 + 120.0 * 0.0001);
    close(&report["total"]["cost"], 0.09);
    // Used: a sleeping guest hardly uses its CPU; by use it costs far less than the minute.
    // (Its memory is sampled once a second: a half-second task may show none.)
    assert!(
        report["total"]["cpuSeconds"].as_f64().unwrap() < 1.0,
        "{report}"
    );
    assert!(
        report["total"]["costByUse"].as_f64().unwrap() < 0.001,
        "{report}"
    );

    // Group by task: one row each, with its run's times.
    let by_task = usage_json(&host, &["--group-by", "task"]);
    let id = small.rsplit('/').next().unwrap();
    let t = group(&by_task, id);
    let ran = t["endMs"].as_i64().unwrap() - t["startMs"].as_i64().unwrap();
    assert!((400..10_000).contains(&ran), "{t}");
    // Filters, windows, day, cluster.
    let only = usage_json(&host, &["--family", "small"]);
    assert_eq!(only["total"]["tasks"], 1, "{only}");
    let future = usage_json(&host, &["--since", "2099-01-01"]);
    assert_eq!(future["total"]["tasks"], 0, "{future}");
    let day = usage_json(&host, &["--group-by", "day"]);
    assert_eq!(day["groups"].as_array().unwrap().len(), 1, "{day}");
    close(&group(&usage_json(&host, &[]), "default")["cost"], 0.09);

    // Table and CSV say the same.
    let table = usage(&host, &["--group-by", "family"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("FAMILY") && lines[0].contains("COST BY USE"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("big") && lines[1].contains("$0.072000"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("TOTAL") && lines[3].contains("$0.090000"),
        "{table}"
    );
    let csv = usage(&host, &["--group-by", "family", "--format", "csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].starts_with("group,tasks,vcpu_seconds,gb_seconds,cost_usd"),
        "{csv}"
    );
    assert!(rows[1].starts_with("big,1,60,120,0.072"), "{csv}");
    assert!(rows[2].starts_with("small,1,15,30,0.018"), "{csv}");

    // Bad input: the option and the rule.
    let out = host.cmd(&["usage", "--group-by", "week"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--group-by") && err.contains("cluster, service"),
        "{err}"
    );
}

/// A task belongs to a service only when the service's scheduler started it. A RunTask
/// caller may set the group `service:web`, but ListTasks `--service-name web` does not list
/// that task and `usage --service web` does not bill it.
#[test]
fn a_run_task_group_naming_a_service_is_neither_listed_nor_billed_as_the_service() {
    let host = Host::with_config(CONFIG);
    let server = Server::start(&host);
    let d = def("web", 256, 512, "sleep", &["600000"]);
    let path = host.taskdef(&d);
    let file = format!("file://{}", path.display());
    server.aws_json(&["ecs", "register-task-definition", "--cli-input-json", &file]);
    server.aws_json(&[
        "ecs",
        "create-service",
        "--service-name",
        "web",
        "--task-definition",
        "web",
        "--desired-count",
        "1",
    ]);
    server.aws_json(&["ecs", "wait", "services-stable", "--services", "web"]);
    let listed = |service: &str| -> Vec<String> {
        let out = server.aws_json(&["ecs", "list-tasks", "--service-name", service]);
        out["taskArns"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect()
    };
    let real = listed("web");
    assert_eq!(real.len(), 1, "{real:?}");
    let out = server.aws_json(&[
        "ecs",
        "run-task",
        "--task-definition",
        "web",
        "--group",
        "service:web",
    ]);
    let label = out["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    assert_eq!(out["tasks"][0]["group"], "service:web", "{out}");
    server.aws_json(&["ecs", "wait", "tasks-running", "--tasks", &label]);

    assert_eq!(listed("web"), real);
    // Both are billed (running tasks count up to now); only the scheduler's under `web`.
    let report = poll(Duration::from_secs(30), "both tasks metered", || {
        let r = usage_json(&host, &["--group-by", "task"]);
        (r["total"]["tasks"] == 2).then_some(r)
    });
    assert_eq!(report["total"]["running"], 2, "{report}");
    let web = usage_json(&host, &["--service", "web", "--group-by", "task"]);
    assert_eq!(web["total"]["tasks"], 1, "{web}");
    let real_id = real[0].rsplit('/').next().unwrap();
    group(&web, real_id);
}

#[test]
fn a_crash_closes_a_running_task_at_the_last_heartbeat() {
    // Every container counts fuel, so the record has fuel too.
    let host = Host::with_config(&format!("{CONFIG}[fuel]\nmeter = \"all\"\n"));
    let mut server = Server::start(&host);
    let arn = register_and_run(&host, &server, &def("spinner", 1024, 2048, "spin", &[]));
    let id = arn.rsplit('/').next().unwrap().to_owned();
    // Running: it counts up to now, and its record has its CPU time and, once the meter
    // has sampled it, its average memory (the first record may be written before that).
    let running = poll(
        Duration::from_secs(60),
        "a record with CPU time and memory",
        || {
            let r = usage_json(&host, &["--group-by", "task"]);
            let t = r["groups"].as_array()?.first()?.clone();
            (t["running"] == 1
                && t["cpuSeconds"].as_f64()? > 0.2
                && t["memoryAverageBytes"].as_f64()? > 0.0)
                .then_some(t)
        },
    );
    assert_eq!(running["group"], id.as_str());
    assert!(running["fuel"].as_f64().unwrap() > 0.0, "{running}");
    assert!(
        running["memoryPeakBytes"].as_u64().unwrap() > 0,
        "{running}"
    );
    assert!(
        running["memoryAverageBytes"].as_f64().unwrap() > 0.0,
        "{running}"
    );
    std::thread::sleep(Duration::from_secs(2));
    server.kill();
    let killed = now_ms();
    // With the host dead for longer than three beats, the open record ends at its last one.
    std::thread::sleep(Duration::from_millis(3_500));
    let after = usage_json(&host, &["--group-by", "task"]);
    let t = group(&after, &id);
    let end = t["endMs"].as_i64().unwrap();
    assert!(
        end <= killed && end >= killed - 2_500,
        "end {end}, killed {killed}: {t}"
    );

    // A restart closes it there for good (not at the restart, seconds later).
    let _server = Server::start(&host);
    let closed = usage_json(&host, &["--group-by", "task"]);
    let t = group(&closed, &id);
    assert_eq!(
        (t["running"].clone(), t["lost"].clone()),
        (json!(0), json!(1)),
        "{t}"
    );
    assert_eq!(t["endMs"].as_i64().unwrap(), end, "{t}");
    std::thread::sleep(Duration::from_secs(2));
    let later = usage_json(&host, &["--group-by", "task"]);
    assert_eq!(group(&later, &id)["endMs"].as_i64().unwrap(), end);
}

#[test]
fn stats_no_stream_shows_a_spinning_container_at_its_share() {
    let host = Host::with_config("[fuel]\nmeter = \"all\"\n");
    let server = Server::start(&host);
    // The task has 1 vCPU, its container 512 units: half a CPU.
    let arn = register_and_run(&host, &server, &def("busy", 1024, 2048, "spin", &[]));
    let id = arn.rsplit('/').next().unwrap().to_owned();
    let stats = |args: &[&str]| {
        let mut all = vec!["stats", "--no-stream"];
        all.extend_from_slice(args);
        let out = host.cmd(&all).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let row = poll(Duration::from_secs(60), "the container busy", || {
        let rows: Value = serde_json::from_str(&stats(&["--format", "json"])).ok()?;
        let row = rows
            .as_array()?
            .iter()
            .find(|r| r["taskId"] == id.as_str())?
            .clone();
        (row["cpuPercent"].as_f64()? > 25.0).then_some(row)
    });
    assert_eq!(row["container"], "app");
    assert_eq!(row["sharePercent"], 50.0);
    let cpu = row["cpuPercent"].as_f64().unwrap();
    assert!(
        cpu <= 65.0,
        "a 512-unit container at {cpu}% of a CPU: {row}"
    );
    assert!(row["fuelPerSecond"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["memoryLimitBytes"].as_u64().unwrap() > 0, "{row}");
    // The table: its row, at its share; filters leave it out.
    let table = stats(&[]);
    assert!(table.starts_with("TASK"), "{table}");
    let line = table
        .lines()
        .find(|l| l.starts_with(&id[..12]))
        .unwrap_or_else(|| panic!("no row for {id}:\n{table}"));
    assert!(line.contains("/ 50%"), "{table}");
    let other = stats(&["--cluster", "other", "--format", "json"]);
    assert_eq!(other.trim(), "[]");

    // `wasmgate run` on the same data directory publishes too: a quarter of a CPU.
    let _local = host.start(&def("local", 512, 1024, "spin", &[]), &[]);
    let row = poll(Duration::from_secs(60), "the run task busy", || {
        let rows: Value = serde_json::from_str(&stats(&["--format", "json"])).ok()?;
        let row = rows
            .as_array()?
            .iter()
            .find(|r| r["family"] == "local")?
            .clone();
        // Any CPU at all: under a loaded machine a quarter share may get far less.
        (row["cpuPercent"].as_f64()? > 0.0).then_some(row)
    });
    assert_eq!(row["sharePercent"], 25.0);
    let cpu = row["cpuPercent"].as_f64().unwrap();
    assert!(
        cpu <= 40.0,
        "a 256-unit container at {cpu}% of a CPU: {row}"
    );
}
