//! The task metadata endpoint v4 (issue 13 item 7) and the credentials endpoint's
//! transport (item 1): a guest (`guests/metadata-reader`) asks its task's endpoints over
//! wasi:http and over wasi:sockets; its answers are parsed as an OpenTelemetry-style
//! reader would, with the field names the AWS documentation gives for Fargate.

use crate::common::{Host, Server, guest};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use wasmgate::config::HostConfig;
use wasmgate::runtime::{
    Console, ContainerCredentials, LogLine, Runtime, TaskCredentialsProvider, TaskRole, TaskSpec,
};

const WAIT: Duration = Duration::from_secs(120);

/// A definition with one metadata reader doing `actions`, plus `extra` containers.
fn reader_task(family: &str, actions: &[&str], extra: Vec<Value>) -> Value {
    let mut containers = vec![json!({
        "name": "reader",
        "image": guest("metadata-reader"),
        "command": actions,
        "memory": 256,
        "dockerLabels": {"team": "metadata"},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/md", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "md"},
        },
    })];
    containers.extend(extra);
    json!({
        "family": family,
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": containers,
    })
}

/// `RESULT <action> <status> <body>` lines of the reader: action → (status, body).
fn results(lines: &[String]) -> HashMap<String, (String, Value)> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("RESULT ")?;
            let (action, rest) = rest.split_once(' ')?;
            let (status, body) = rest.split_once(' ').unwrap_or((rest, ""));
            let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
            Some((action.to_owned(), (status.to_owned(), body)))
        })
        .collect()
}

/// The body of a 200 answer to `action`.
fn ok_body<'a>(r: &'a HashMap<String, (String, Value)>, action: &str, debug: &str) -> &'a Value {
    match r.get(action) {
        Some((status, body)) if status == "200" => body,
        other => panic!("{action}: {other:?}\n{debug}"),
    }
}

#[derive(Clone, Copy, Debug)]
enum T {
    Str,
    Num,
    Obj,
    Arr,
}

fn has_type(v: &Value, t: T) -> bool {
    match t {
        T::Str => v.is_string(),
        T::Num => v.is_number(),
        T::Obj => v.is_object(),
        T::Arr => v.is_array(),
    }
}

/// Every documented field (`a/b`: member b of a) present with its type; `path` names the
/// document in messages.
fn assert_fields(doc: &Value, fields: &[(&str, T)], path: &str) {
    for (field, t) in fields {
        let v = field
            .split('/')
            .fold(doc, |v, part| v.get(part).unwrap_or(&Value::Null));
        assert!(
            has_type(v, *t),
            "{path}: {field} should be {t:?}, is {v}\nin {doc:#}"
        );
    }
}

/// `${ECS_CONTAINER_METADATA_URI_V4}` (AWS: "Example container metadata response").
const CONTAINER_FIELDS: &[(&str, T)] = &[
    ("DockerId", T::Str),
    ("Name", T::Str),
    ("DockerName", T::Str),
    ("Image", T::Str),
    ("ImageID", T::Str),
    ("Labels", T::Obj),
    ("Labels/com.amazonaws.ecs.cluster", T::Str),
    ("DesiredStatus", T::Str),
    ("KnownStatus", T::Str),
    ("Limits", T::Obj),
    ("Limits/CPU", T::Num),
    ("Limits/Memory", T::Num),
    ("CreatedAt", T::Str),
    ("StartedAt", T::Str),
    ("Type", T::Str),
    ("LogDriver", T::Str),
    ("LogOptions", T::Obj),
    ("ContainerARN", T::Str),
    ("Networks", T::Arr),
];

/// `${uri}/task` (AWS: "Amazon ECS task metadata v4 JSON response for tasks on Fargate").
const TASK_FIELDS: &[(&str, T)] = &[
    ("Cluster", T::Str),
    ("TaskARN", T::Str),
    ("Family", T::Str),
    ("Revision", T::Str),
    ("DesiredStatus", T::Str),
    ("KnownStatus", T::Str),
    ("Limits", T::Obj),
    ("Limits/CPU", T::Num),
    ("Limits/Memory", T::Num),
    ("PullStartedAt", T::Str),
    ("PullStoppedAt", T::Str),
    ("AvailabilityZone", T::Str),
    ("LaunchType", T::Str),
    ("EphemeralStorageMetrics", T::Obj),
    ("EphemeralStorageMetrics/Utilized", T::Num),
    ("EphemeralStorageMetrics/Reserved", T::Num),
    ("Containers", T::Arr),
];

/// `${uri}/stats` (Docker's ContainerStats, the members ECS's readers use).
const STATS_FIELDS: &[(&str, T)] = &[
    ("read", T::Str),
    ("preread", T::Str),
    ("name", T::Str),
    ("id", T::Str),
    ("cpu_stats", T::Obj),
    ("cpu_stats/cpu_usage/total_usage", T::Num),
    ("cpu_stats/system_cpu_usage", T::Num),
    ("cpu_stats/online_cpus", T::Num),
    ("precpu_stats", T::Obj),
    ("memory_stats/usage", T::Num),
    ("memory_stats/max_usage", T::Num),
    ("memory_stats/limit", T::Num),
    ("blkio_stats", T::Obj),
    ("networks", T::Obj),
    ("networks/eth1/rx_bytes", T::Num),
    ("networks/eth1/rx_packets", T::Num),
    ("networks/eth1/tx_bytes", T::Num),
    ("networks/eth1/tx_packets", T::Num),
    ("storage_stats", T::Obj),
    ("fuel_consumed", T::Num),
];

fn labels_and_networks(c: &Value, task_arn: &str, family: &str) {
    let labels = &c["Labels"];
    assert_eq!(labels["com.amazonaws.ecs.task-arn"], task_arn, "{c:#}");
    assert_eq!(labels["com.amazonaws.ecs.task-definition-family"], family);
    assert!(labels["com.amazonaws.ecs.task-definition-version"].is_string());
    assert_eq!(labels["com.amazonaws.ecs.container-name"], c["Name"]);
    let net = &c["Networks"][0];
    assert_eq!(net["NetworkMode"], "awsvpc", "{c:#}");
    assert!(net["IPv4Addresses"][0].is_string(), "{c:#}");
}

#[test]
fn every_documented_field_is_there_over_wasi_http_and_wasi_sockets() {
    let host = Host::new();
    let def = reader_task(
        "md-fields",
        &[
            // The reader runs as soon as it is instantiated; the task is RUNNING once its
            // side container is too.
            "await:RUNNING",
            "env",
            "get:",
            "get:/task",
            "get:/taskWithTags",
            "get:/stats",
            "get:/task/stats",
            "v3:",
            "v3:/task",
            "tcp:",
            "tcp:/task",
            "tcp:/stats",
            "get:/no-such-path",
        ],
        vec![json!({
            "name": "side",
            "image": guest("sleep"),
            "command": ["3000"],
            "essential": false,
        })],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let lines = run.lines_of("reader");
    let debug = run.debug();
    let r = results(&lines);
    let awaited = ok_body(&r, "await:RUNNING", &debug);
    assert_eq!(awaited["KnownStatus"], "RUNNING", "{awaited:#}");

    // The variables, as ECS sets them.
    let env: HashMap<&str, &str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ENV ")?.split_once('='))
        .collect();
    let v4 = env["ECS_CONTAINER_METADATA_URI_V4"];
    assert!(v4.starts_with("http://127.0.0.1:51679/v4/"), "{v4}");
    assert!(env["ECS_CONTAINER_METADATA_URI"].starts_with("http://127.0.0.1:51679/v3/"));
    // No role: no credentials variables.
    assert_eq!(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "");

    let task_id = run.task["taskId"].as_str().unwrap_or_default().to_owned();
    for action in ["get:", "v3:", "tcp:"] {
        let c = ok_body(&r, action, &debug);
        assert_fields(c, CONTAINER_FIELDS, action);
        assert_eq!(c["Name"], "reader");
        assert_eq!(c["Type"], "NORMAL");
        assert_eq!(c["KnownStatus"], "RUNNING", "{c:#}");
        assert_eq!(c["Limits"]["Memory"], 256);
        assert_eq!(
            c["Labels"]["team"], "metadata",
            "the container's own labels"
        );
        assert_eq!(c["LogDriver"], "awslogs");
        assert_eq!(c["LogOptions"]["awslogs-group"], "/md");
        assert!(v4.ends_with(c["DockerId"].as_str().unwrap()), "{v4} {c}");
        assert!(
            c["ImageID"].as_str().unwrap().starts_with("sha256:"),
            "{c:#}"
        );
        let task_arn = c["Labels"]["com.amazonaws.ecs.task-arn"].as_str().unwrap();
        assert!(task_arn.ends_with(&format!("/{task_id}")), "{task_arn}");
        labels_and_networks(c, task_arn, "md-fields");
        assert_eq!(
            c["Networks"][0]["IPv4Addresses"][0], run.task["privateIpv4Address"],
            "the task's address, as DescribeTasks shows it"
        );
    }
    for action in ["get:/task", "v3:/task", "tcp:/task", "get:/taskWithTags"] {
        let t = ok_body(&r, action, &debug);
        assert_fields(t, TASK_FIELDS, action);
        assert_eq!(t["Family"], "md-fields");
        assert_eq!(t["LaunchType"], "FARGATE");
        assert_eq!(t["KnownStatus"], "RUNNING");
        assert_eq!(t["Limits"]["CPU"], 0.5);
        assert_eq!(t["Limits"]["Memory"], 1024);
        assert!(t["TaskARN"].as_str().unwrap().ends_with(&task_id));
        assert!(t.get("ServiceName").is_none(), "not a service's task");
        let containers = t["Containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2, "{t:#}");
        for c in containers {
            assert_fields(
                c,
                &CONTAINER_FIELDS
                    .iter()
                    .filter(|(f, _)| !f.starts_with("Log"))
                    .copied()
                    .collect::<Vec<_>>(),
                action,
            );
        }
    }
    assert!(ok_body(&r, "get:/taskWithTags", &debug)["TaskTags"].is_object());
    assert!(ok_body(&r, "get:/task", &debug).get("TaskTags").is_none());

    for action in ["get:/stats", "tcp:/stats"] {
        let s = ok_body(&r, action, &debug);
        assert_fields(s, STATS_FIELDS, action);
        assert_eq!(s["memory_stats"]["limit"], 256u64 << 20);
    }
    // The TCP requests before it moved bytes both ways over the task's network.
    let s = ok_body(&r, "tcp:/stats", &debug);
    for counter in ["rx_bytes", "rx_packets", "tx_bytes", "tx_packets"] {
        assert!(
            num(s, &format!("networks.eth1.{counter}")) > 0,
            "{counter}: {s:#}"
        );
    }
    let all = ok_body(&r, "get:/task/stats", &debug);
    let all = all.as_object().unwrap();
    assert_eq!(all.len(), 2, "one entry per container: {all:?}");
    for (id, s) in all {
        assert!(id.starts_with(&task_id), "{id}");
        assert_fields(s, STATS_FIELDS, "get:/task/stats");
    }
    assert_eq!(r["get:/no-such-path"].0, "404", "{debug}");
}

fn num(v: &Value, path: &str) -> u64 {
    path.split('.')
        .fold(v, |v, p| &v[p])
        .as_u64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v:#}"))
}

#[test]
fn stats_are_live_and_grow_while_a_container_spins() {
    let host = Host::new();
    let def = reader_task(
        "md-stats",
        &[
            "get:/stats",
            "spin:400",
            "get:/stats?again",
            "spin:400",
            "get:/task/stats",
        ],
        vec![],
    );
    // A fuel budget makes the container count fuel (by default only such containers do).
    let mut def = def;
    def["containerDefinitions"][0]["dockerLabels"]["wasmgate.fuel-budget"] = json!("1000000000000");
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let debug = run.debug();
    let r = results(&run.lines_of("reader"));
    let first = ok_body(&r, "get:/stats", &debug);
    let second = ok_body(&r, "get:/stats?again", &debug);
    let cpu1 = num(first, "cpu_stats.cpu_usage.total_usage");
    let cpu2 = num(second, "cpu_stats.cpu_usage.total_usage");
    assert!(cpu1 > 0, "{first:#}");
    // Half a vCPU on a shared machine: at least some of the 400 ms show.
    assert!(
        cpu2 >= cpu1 + 50_000_000,
        "400 ms of spinning adds CPU time (ns): {cpu1} → {cpu2}"
    );
    let fuel1 = num(first, "fuel_consumed");
    let fuel2 = num(second, "fuel_consumed");
    // Fuel is written back every epoch tick: the first reading may come before one.
    assert!(fuel2 > fuel1, "fuel {fuel1} → {fuel2}");
    assert!(num(second, "cpu_stats.system_cpu_usage") >= num(first, "cpu_stats.system_cpu_usage"));
    assert!(num(second, "memory_stats.usage") > 0);
    // Docker's precpu_stats: the previous reading.
    assert_eq!(num(second, "precpu_stats.cpu_usage.total_usage"), cpu1);
    assert!(second["read"].as_str() > first["read"].as_str());
    assert_eq!(second["preread"], first["read"]);
    let all = ok_body(&r, "get:/task/stats", &debug);
    let mine = all.as_object().unwrap().values().next().unwrap();
    assert!(num(mine, "cpu_stats.cpu_usage.total_usage") > cpu2);
}

#[test]
fn another_task_cannot_reach_a_tasks_endpoints() {
    // Even with a rule that opens every task address to every task.
    let host = Host::with_config("[[network.rules]]\nallow = \"127.42.0.0/16\"\n");
    let holder = host.start(
        &json!({
            "family": "md-holder",
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [{
                "name": "holder",
                "image": guest("metadata-reader"),
                // Its own first connection opens its listener: the intruder meets a real one.
                "command": ["env", "tcp:/task", "sleep:60000"],
            }],
        }),
        &["--stop-timeout", "0"],
    );
    let env = holder.expect_stdout("ENV ECS_CONTAINER_METADATA_URI_V4=", WAIT);
    holder.expect_stdout("RESULT tcp:/task 200", WAIT);
    let uri = env.rsplit('=').next().unwrap().to_owned();
    let address = holder.task_address(WAIT);
    let foreign = uri.replace("127.0.0.1", &address.to_string());

    let def = reader_task(
        "md-intruder",
        &[
            &format!("url:{foreign}/task"),
            &format!("tcpurl:{foreign}/task"),
            &format!("url:{uri}/task"),
            "get:/task",
        ],
        vec![],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let r = results(&run.lines_of("reader"));
    let debug = run.debug();
    let (status, body) = &r[&format!("url:{foreign}/task")];
    assert_eq!(
        status, "error",
        "wasi:http to the other task: {body}\n{debug}"
    );
    let (status, body) = &r[&format!("tcpurl:{foreign}/task")];
    assert_eq!(
        status, "error",
        "wasi:sockets to the other task: {body}\n{debug}"
    );
    // The other task's URI, as written, is this task's own endpoint: it names no
    // container here.
    assert_eq!(r[&format!("url:{uri}/task")].0, "404", "{debug}");
    let own = ok_body(&r, "get:/task", &debug);
    assert_eq!(own["Family"], "md-intruder");

    holder.signal(libc::SIGTERM);
    holder.wait(WAIT);
}

#[test]
fn run_task_under_serve_shows_the_tasks_arns_and_tags() {
    let host = Host::new();
    let server = Server::start(&host);
    server.python_ok("metadata.py", &[]);
}

/// Credentials a test hands out, and what the runtime told it.
#[derive(Default)]
struct FakeProvider {
    started: Mutex<Vec<TaskRole>>,
    stopped: Mutex<Vec<String>>,
}

impl TaskCredentialsProvider for FakeProvider {
    fn credentials(&self, task_id: &str) -> Option<ContainerCredentials> {
        if self.stopped.lock().unwrap().iter().any(|t| t == task_id) {
            return None;
        }
        Some(ContainerCredentials {
            access_key_id: format!("ASIA{}", &task_id[..8].to_uppercase()),
            secret_access_key: "fake-secret".into(),
            token: "fake-session-token".into(),
            expiration: SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
            role_arn: "arn:aws:iam::000000000000:role/app".into(),
        })
    }

    fn task_started(&self, task: &TaskRole) {
        self.started.lock().unwrap().push(task.clone());
    }

    fn task_stopped(&self, task_id: &str) {
        self.stopped.lock().unwrap().push(task_id.to_owned());
    }
}

#[derive(Default)]
struct Capture(Mutex<Vec<String>>);

impl Console for Capture {
    fn line(&self, _task_id: &str, line: &LogLine) {
        self.0.lock().unwrap().push(line.message.clone());
    }
}

async fn run_reader(runtime: &Runtime, def: Value, dir: &std::path::Path) -> (Vec<String>, String) {
    let parsed = wasmgate::taskdef::parse(&def.to_string(), &Default::default()).unwrap();
    let capture = Arc::new(Capture::default());
    let mut task = runtime
        .start_task(TaskSpec {
            definition: parsed.definition,
            base_dir: dir.to_owned(),
            overrides: vec![],
            stop_timeout: None,
            console: Some(capture.clone()),
            identity: None,
        })
        .unwrap();
    let id = task.id().to_owned();
    let end = tokio::time::timeout(WAIT, task.wait()).await.unwrap();
    assert_eq!(end.containers[0].exit_code, Some(0), "{end:?}");
    let lines = capture.0.lock().unwrap().clone();
    (lines, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_with_a_role_gets_credentials_with_its_token_only() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(HostConfig {
        data_dir: Some(dir.path().join("data")),
        ..HostConfig::default()
    })
    .unwrap();
    let provider = Arc::new(FakeProvider::default());
    runtime.set_credentials_provider(provider.clone());

    let actions = ["env", "creds", "creds-none", "creds-bad", "tcp-creds"];
    let mut def = reader_task("md-role", &actions, vec![]);
    def["taskRoleArn"] = json!("arn:aws:iam::000000000000:role/app");
    let (lines, task_id) = run_reader(&runtime, def, dir.path()).await;
    let debug = lines.join("\n");
    let env: HashMap<&str, &str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ENV ")?.split_once('='))
        .collect();
    assert_eq!(
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
        "http://127.0.0.1:51679/v2/credentials"
    );
    assert_eq!(
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"].len(),
        64,
        "{debug}"
    );
    let r = results(&lines);
    for action in ["creds", "tcp-creds"] {
        let c = ok_body(&r, action, &debug);
        assert_eq!(
            c["AccessKeyId"],
            format!("ASIA{}", task_id[..8].to_uppercase())
        );
        assert_eq!(c["SecretAccessKey"], "fake-secret");
        assert_eq!(c["Token"], "fake-session-token");
        assert_eq!(c["Expiration"], "2033-05-18T03:33:20Z");
        assert_eq!(c["RoleArn"], "arn:aws:iam::000000000000:role/app");
    }
    assert_eq!(r["creds-none"].0, "401", "{debug}");
    assert_eq!(r["creds-bad"].0, "403", "{debug}");
    // The provider heard of the task's start (with its role) and of its end.
    let started = provider.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].task_id, task_id);
    assert_eq!(started[0].role_arn, "arn:aws:iam::000000000000:role/app");
    assert!(started[0].task_arn.ends_with(&task_id));
    assert_eq!(*provider.stopped.lock().unwrap(), vec![task_id]);

    // Without a taskRoleArn: no variables, and the path answers 404.
    let def = reader_task(
        "md-norole",
        &["env", "url:http://127.0.0.1:51679/v2/credentials"],
        vec![],
    );
    let (lines, _) = run_reader(&runtime, def, dir.path()).await;
    assert!(
        lines.contains(&"ENV AWS_CONTAINER_CREDENTIALS_FULL_URI=".to_owned()),
        "{lines:?}"
    );
    let r = results(&lines);
    assert_eq!(
        r["url:http://127.0.0.1:51679/v2/credentials"].0, "404",
        "{lines:?}"
    );
    assert_eq!(
        provider.started.lock().unwrap().len(),
        1,
        "not told of a task without a role"
    );
}
