//! Log shipping end to end: the awslogs driver's group and stream naming, `wasmgate logs`
//! (one stream, a whole group, `--follow`), console-only containers, and a flooding guest.

use crate::common;

use common::{Host, Live, Run, guest};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn awslogs(group: &str, prefix: &str) -> Value {
    json!({
        "logDriver": "awslogs",
        "options": {"awslogs-group": group, "awslogs-stream-prefix": prefix, "awslogs-region": "us-east-1"},
    })
}

/// An `echo` container that also prints `stderr-line` on stderr.
fn echo(name: &str, args: &[&str], logs: Option<Value>) -> Value {
    let mut c = json!({
        "name": name,
        "image": guest("echo"),
        "essential": false,
        "command": args,
        "environment": [{"name": "ECHO_STDERR", "value": "1"}],
    });
    if let Some(l) = logs {
        c["logConfiguration"] = l;
    }
    c
}

fn taskdef(family: &str, mut containers: Vec<Value>) -> Value {
    containers.last_mut().unwrap()["essential"] = json!(true);
    // The last (essential) container waits for the others, so all of them run to the end.
    let names: Vec<String> = containers[..containers.len() - 1]
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    containers.last_mut().unwrap()["dependsOn"] = names
        .iter()
        .map(|n| json!({"containerName": n, "condition": "COMPLETE"}))
        .collect();
    json!({"family": family, "cpu": "1024", "memory": "2048", "containerDefinitions": containers})
}

fn task_id(run: &Run) -> String {
    run.task["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("no taskId\n{}", run.debug()))
        .to_owned()
}

/// `wasmgate logs <args>`, which must succeed; its stdout lines.
fn logs(host: &Host, args: &[&str]) -> Vec<String> {
    let mut a = vec!["logs"];
    a.extend_from_slice(args);
    let (code, stdout, stderr) = host.output(&a);
    assert_eq!(code, Some(0), "wasmgate {a:?}\n{stdout}\n{stderr}");
    stdout.lines().map(str::to_owned).collect()
}

/// `wasmgate logs --group G` output split into (stream, message), in printed order.
fn group_events(host: &Host, group: &str) -> Vec<(String, String)> {
    logs(host, &["--group", group])
        .into_iter()
        .map(|l| {
            let (s, m) = l.split_once(' ').unwrap_or((&l, ""));
            (s.to_owned(), m.to_owned())
        })
        .collect()
}

#[test]
fn awslogs_streams_are_named_prefix_container_task_id_in_the_group() {
    let host = Host::new();
    let def = taskdef(
        "naming",
        vec![
            echo("web", &["from-web"], Some(awslogs("/test/naming", "svc"))),
            echo(
                "worker",
                &["from-worker"],
                Some(awslogs("/test/naming", "svc")),
            ),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let id = task_id(&run);
    assert_eq!(id.len(), 32, "{id}");

    let events = group_events(&host, "/test/naming");
    let mut streams: Vec<&str> = events.iter().map(|(s, _)| s.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let (web, worker) = (format!("svc/web/{id}"), format!("svc/worker/{id}"));
    assert_eq!(streams, [web.as_str(), worker.as_str()], "{events:?}");
    // Each stream holds its own container's lines, in order.
    for (stream, name) in [(&web, "web"), (&worker, "worker")] {
        let msgs: Vec<&str> = events
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, m)| m.as_str())
            .collect();
        assert_eq!(msgs, run.lines_of(name), "{stream}\n{}", run.debug());
        assert!(
            msgs.contains(&format!("arg[1]=from-{name}").as_str()),
            "{msgs:?}"
        );
    }

    // Another run of the same definition gets streams of its own in the same group.
    let again = host.run(&def, &[]);
    assert_eq!(again.code, Some(0), "{}", again.debug());
    let id2 = task_id(&again);
    assert_ne!(id, id2);
    let events = group_events(&host, "/test/naming");
    assert!(
        events.iter().any(|(s, _)| *s == format!("svc/web/{id2}")),
        "{events:?}"
    );
    assert!(events.iter().any(|(s, _)| *s == web), "{events:?}");
}

#[test]
fn a_stream_holds_exactly_the_guest_lines_in_order_stdout_and_stderr() {
    let host = Host::new();
    let def = taskdef(
        "one-stream",
        vec![echo(
            "app",
            &["first", "second arg"],
            Some(awslogs("/test/one", "p")),
        )],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let stream = format!("p/app/{}", task_id(&run));

    let stored = logs(&host, &["--group", "/test/one", "--stream", &stream]);
    let console = run.lines_of("app");
    assert_eq!(stored, console, "store vs console\n{}", run.debug());
    assert_eq!(
        stored[..3],
        ["arg[0]=app", "arg[1]=first", "arg[2]=second arg"]
    );
    assert!(
        stored.contains(&"env ECHO_STDERR=1".to_owned()),
        "{stored:?}"
    );
    // The stderr line is in the same stream, after the stdout lines printed before it.
    assert_eq!(
        stored.last().map(String::as_str),
        Some("stderr-line"),
        "{stored:?}"
    );
    assert!(run.stdout.contains("app ! stderr-line"), "{}", run.debug());
    assert!(run.stdout.contains("app | arg[1]=first"), "{}", run.debug());
}

#[test]
fn a_container_without_log_configuration_logs_to_the_console_only() {
    let host = Host::new();
    let def = taskdef(
        "mixed",
        vec![
            echo("quiet", &["quiet-arg"], None),
            echo(
                "shipped",
                &["shipped-arg"],
                Some(awslogs("/test/mixed", "m")),
            ),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    // Both print to the console.
    assert!(
        run.lines_of("quiet")
            .contains(&"arg[1]=quiet-arg".to_owned()),
        "{}",
        run.debug()
    );
    assert!(
        run.lines_of("shipped")
            .contains(&"arg[1]=shipped-arg".to_owned()),
        "{}",
        run.debug()
    );
    // Only the shipped one is in the store.
    let events = group_events(&host, "/test/mixed");
    let id = task_id(&run);
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|(s, _)| *s == format!("m/shipped/{id}")),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|(_, m)| m.contains("quiet")),
        "{events:?}"
    );

    // A host whose only task logged to the console has no such group: `logs` fails.
    let host = Host::new();
    let def = taskdef("console-only", vec![echo("quiet", &["x"], None)]);
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(run.stdout.contains("quiet | arg[1]=x"), "{}", run.debug());
    let (code, stdout, stderr) = host.output(&["logs", "--group", "/test/mixed"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert_eq!(stdout, "", "{stderr}");
    assert!(
        stderr.contains("/test/mixed"),
        "the error names the group: {stderr}"
    );
}

fn flood_line(i: usize) -> String {
    let mut l = format!("line {i} ");
    l.push_str(&"x".repeat(100 - l.len()));
    l
}

#[test]
fn a_flood_of_20000_lines_arrives_complete_and_in_order() {
    const N: usize = 20_000;
    let host = Host::new();
    let mut c = json!({"name": "flood", "image": guest("flood"), "command": [N.to_string()]});
    c["logConfiguration"] = awslogs("/test/flood", "f");
    let def =
        json!({"family": "flood", "cpu": "1024", "memory": "2048", "containerDefinitions": [c]});
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", &run.stderr);

    let check = |what: &str, lines: &[String]| {
        assert_eq!(lines.len(), N, "{what}: line count");
        assert_eq!(lines[0], flood_line(1), "{what}: first");
        assert_eq!(lines[N - 1], flood_line(N), "{what}: last");
        if let Some(i) = (0..N).find(|&i| lines[i] != flood_line(i + 1)) {
            panic!("{what}: line {} is {:?}", i + 1, lines[i]);
        }
    };
    check("console", &run.lines_of("flood"));
    let stream = format!("f/flood/{}", task_id(&run));
    let stored = logs(&host, &["--group", "/test/flood", "--stream", &stream]);
    check("store", &stored);
}

#[test]
fn follow_prints_lines_of_a_task_started_after_it() {
    let host = Host::new();
    let def = |mark: &str| {
        taskdef(
            "follow",
            vec![echo("app", &[mark], Some(awslogs("/test/follow", "fl")))],
        )
    };
    // `logs` needs the group to exist (like CloudWatch): a first run creates it.
    let first = host.run(&def("first-run"), &[]);
    assert_eq!(first.code, Some(0), "{}", first.debug());

    let follower = Live::spawn(host.cmd(&["logs", "--group", "/test/follow", "--follow"]));
    follower.expect_stdout("arg[1]=first-run", WAIT);

    let second = host.run(&def("second-run"), &[]);
    assert_eq!(second.code, Some(0), "{}", second.debug());
    let stream = format!("fl/app/{}", task_id(&second));
    let line = follower.expect_stdout("arg[1]=second-run", WAIT);
    assert_eq!(line, format!("{stream} arg[1]=second-run"));
    follower.expect_stdout(&format!("{stream} stderr-line"), WAIT);
    follower.kill();
}

/// The task id `wasmgate run` printed in its `wasmgate: task <id> PENDING` line.
fn printed_task_id(run: &Run) -> String {
    run.stderr
        .lines()
        .find_map(|l| l.strip_prefix("wasmgate: task ")?.strip_suffix(" PENDING"))
        .unwrap_or_else(|| panic!("no PENDING line\n{}", run.debug()))
        .to_owned()
}

#[test]
fn the_task_id_run_prints_finds_the_task_s_logs() {
    let host = Host::new();
    let def = taskdef(
        "findable",
        vec![
            echo("web", &["from-web"], Some(awslogs("/test/findable", "svc"))),
            echo(
                "worker",
                &["from-worker"],
                Some(awslogs("/test/other", "svc")),
            ),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    // The id printed is the full one, the one in the stream names.
    let id = printed_task_id(&run);
    assert_eq!(id, task_id(&run), "{}", run.debug());
    assert_eq!(id.len(), 32, "{id}");

    // `--task` with the id, or a prefix of it: every container's lines, whatever its group,
    // as `name | line` (no colour codes: stdout is not a terminal).
    for arg in [id.as_str(), &id[..8]] {
        let lines = logs(&host, &["--task", arg]);
        assert!(
            lines.contains(&"web    | arg[1]=from-web".to_owned()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"worker | arg[1]=from-worker".to_owned()),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| !l.contains('\x1b')), "{lines:?}");
    }
    // One container.
    let lines = logs(&host, &["--task", &id[..8], "--container", "worker"]);
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.starts_with("worker | ")),
        "{lines:?}"
    );
    // JSON for programs: one object per line.
    let lines = logs(&host, &["--task", &id[..8], "--format", "json"]);
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let web = events
        .iter()
        .find(|e| e["message"] == "arg[1]=from-web")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(web["container"], "web");
    assert_eq!(web["taskId"], id.as_str());
    assert_eq!(web["logGroupName"], "/test/findable");
    assert_eq!(web["logStreamName"], format!("svc/web/{id}"));
    assert!(web["timestamp"].as_i64().unwrap() > 0, "{web}");

    // The README's `--stream prefix/container/<id>` works with the id as printed, and with a
    // prefix of it.
    for arg in [id.clone(), id[..8].to_owned()] {
        let stream = format!("svc/web/{arg}");
        let lines = logs(&host, &["--group", "/test/findable", "--stream", &stream]);
        assert!(lines.contains(&"arg[1]=from-web".to_owned()), "{lines:?}");
    }

    // `--since`: 1h takes everything, 0s nothing written before now.
    let lines = logs(&host, &["--task", &id[..8], "--since", "1h"]);
    assert!(
        lines.contains(&"web    | arg[1]=from-web".to_owned()),
        "{lines:?}"
    );
    assert_eq!(
        logs(&host, &["--task", &id[..8], "--since", "0s"]),
        Vec::<String>::new()
    );
    let (code, _, stderr) = host.output(&["logs", "--task", &id, "--since", "10 minutes"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected a number and a unit"), "{stderr}");

    // A task that never logged: a clear error, exit 1.
    let (code, stdout, stderr) = host.output(&["logs", "--task", "ffffffff"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("no logs of task ffffffff"), "{stderr}");
    let (code, _, stderr) = host.output(&[
        "logs",
        "--group",
        "/test/findable",
        "--stream",
        "svc/web/ffff",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("log stream svc/web/ffff in log group /test/findable"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--task"),
        "the error says how to find a task's streams: {stderr}"
    );
}

/// `wasmgate logs <args>` at a terminal (a pty from `script(1)`, as a person runs it): what
/// the terminal shows, line by line.
fn logs_at_a_terminal(host: &Host, args: &[&str]) -> Vec<String> {
    let line = format!(
        "{} --data-dir {} logs {}",
        common::wasmgate_bin(),
        host.data_dir().display(),
        args.join(" ")
    );
    let out = std::process::Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .env_remove("WASMGATE_CONFIG")
        .env_remove("WASMGATE_DATA_DIR")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script(1)");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(out.status.success(), "{line}\n{text}");
    text.lines().map(str::to_owned).collect()
}

/// The ANSI colour a terminal line starts with (`ESC[<n>m`), and the rest of the line.
fn colour_of(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("\x1b[")?;
    let (code, rest) = rest.split_once('m')?;
    Some((code, rest))
}

#[test]
fn on_a_terminal_each_container_has_its_own_colour() {
    let host = Host::new();
    let def = taskdef(
        "colours",
        vec![
            echo("web", &["from-web"], Some(awslogs("/test/colours", "c"))),
            echo(
                "worker",
                &["from-worker"],
                Some(awslogs("/test/colours", "c")),
            ),
        ],
    );
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let id = task_id(&run);

    let lines = logs_at_a_terminal(&host, &["--task", &id[..8]]);
    // Every line of a container (stdout and stderr) in that container's colour, the name
    // padded and reset before the message.
    let colour = |name: &str| -> String {
        let mine: Vec<&String> = lines
            .iter()
            .filter(|l| colour_of(l).is_some_and(|(_, rest)| rest.starts_with(name)))
            .collect();
        // argv (2 lines), its environment (1 line) and its stderr line.
        assert_eq!(
            mine.len(),
            4,
            "{name}: stdout and stderr lines in {lines:?}"
        );
        let (code, _) = colour_of(mine[0]).unwrap();
        for l in &mine {
            let (c, rest) = colour_of(l).unwrap();
            assert_eq!(c, code, "{lines:?}");
            let padded = format!("{name:<6}\x1b[0m | ");
            assert!(rest.starts_with(&padded), "{l:?}");
        }
        code.to_owned()
    };
    assert_ne!(colour("web"), colour("worker"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(" | arg[1]=from-worker") && l.contains("worker")),
        "{lines:?}"
    );
    // A group's lines: the container's name, coloured the same way.
    let lines = logs_at_a_terminal(&host, &["--group", "/test/colours"]);
    assert!(
        lines
            .iter()
            .all(|l| colour_of(l).is_some_and(|(_, rest)| rest.contains("\x1b[0m "))),
        "{lines:?}"
    );
    // JSON is for programs: no colour even on a terminal.
    let lines = logs_at_a_terminal(&host, &["--task", &id[..8], "--format", "json"]);
    assert!(!lines.is_empty(), "{lines:?}");
    for l in &lines {
        assert!(!l.contains('\x1b'), "{l:?}");
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
    }
}

#[test]
fn follow_waits_for_a_store_group_and_stream_that_do_not_exist_yet() {
    let host = Host::new();
    // Nothing has logged yet: no store, no group. `--follow` waits instead of failing.
    let group = Live::spawn(host.cmd(&["logs", "--group", "/test/later", "--follow"]));
    group.expect_stderr("wasmgate: waiting for", WAIT);
    let def = taskdef(
        "later",
        vec![echo("app", &["late"], Some(awslogs("/test/later", "l")))],
    );
    // Without `--follow` a missing group is still an error.
    let (code, _, stderr) = host.output(&["logs", "--group", "/test/later"]);
    assert_eq!(code, Some(1), "{stderr}");

    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let id = task_id(&run);
    let line = group.expect_stdout("arg[1]=late", WAIT);
    assert_eq!(line, format!("l/app/{id} arg[1]=late"));

    // A stream and a task that do not exist yet: waited for too, then followed. The
    // prefix is one the first task's id does not start with (else its stream exists).
    let prefix = if id.starts_with('0') { "1" } else { "0" };
    let stream_name = format!("l/app/{prefix}");
    let stream = Live::spawn(host.cmd(&[
        "logs",
        "--group",
        "/test/later",
        "--stream",
        &stream_name,
        "--follow",
    ]));
    stream.expect_stderr(
        &format!("wasmgate: waiting for log stream {stream_name}"),
        WAIT,
    );
    let task = Live::spawn(host.cmd(&["logs", "--task", prefix, "--follow"]));
    task.expect_stderr(
        &format!("wasmgate: waiting for logs of task {prefix}"),
        WAIT,
    );
    // Runs until one gets an id starting with the prefix (1 in 16 each).
    let mut zero = None;
    for _ in 0..200 {
        let run = host.run(&def, &[]);
        assert_eq!(run.code, Some(0), "{}", run.debug());
        let id = task_id(&run);
        if id.starts_with(prefix) {
            zero = Some(id);
            break;
        }
    }
    let zero = zero.expect("a task id starting with the prefix");
    assert_eq!(stream.expect_stdout("arg[1]=late", WAIT), "arg[1]=late");
    assert_eq!(task.expect_stdout("arg[1]=late", WAIT), "app | arg[1]=late");
    assert!(
        !task.stdout_text().contains(&id),
        "only the task with that id"
    );
    let _ = zero;
    for l in [group, stream, task] {
        l.kill();
    }
}
