//! Attacks on logging: output that ignores the write permit, output that would fill the
//! disk, and the retention API that keeps the store from growing forever.

use super::{assert_a_well_behaved_task_runs, rss_kib};
use crate::common::{Host, Server, guest};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);
const MIB: u64 = 1 << 20;

/// Peak resident memory of a process in KiB (Linux `VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Bytes of the log store on disk: the database and its write-ahead log.
fn store_bytes(data_dir: &Path) -> u64 {
    ["logs.db", "logs.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(data_dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

fn awslogs(group: &str) -> Value {
    json!({
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": group,
            "awslogs-stream-prefix": "flood",
            "awslogs-region": "us-east-1",
            "awslogs-create-group": "true",
        },
    })
}

fn flood_task(mode: &str, mib: Option<u64>) -> Value {
    let mut command = vec![mode.to_owned()];
    command.extend(mib.map(|m| m.to_string()));
    json!({
        "family": "log-flood",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "flood",
            "image": guest("hostile-log-flood"),
            "command": command,
            "essential": true,
            "logConfiguration": awslogs("/hostile/flood"),
        }],
    })
}

/// `wasmgate logs --stats` as `name → value` (the first word after the name).
fn stats(host: &Host) -> std::collections::HashMap<String, String> {
    let (code, stdout, stderr) = host.output(&["logs", "--stats"]);
    assert_eq!(code, Some(0), "logs --stats failed\n{stdout}\n{stderr}");
    stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_owned(), w.next()?.to_owned()))
        })
        .collect()
}

fn stat(stats: &std::collections::HashMap<String, String>, name: &str) -> u64 {
    stats
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in logs --stats: {stats:?}"))
}

/// A guest that writes 64 MiB per `output-stream.write` without asking `check-write` is
/// trapped on its first write with a reason naming the rule; the server's memory does not
/// grow by what it tried to queue. Bound: peak RSS under 300 MiB over the idle server (the
/// guest's own 64 MiB buffer and the host's copy of it are most of that), where accepting
/// the writes grows the host by ~170 MB per write, without end.
#[test]
fn a_write_beyond_the_permit_traps_the_writer_and_host_memory_stays_bounded() {
    let host = Host::new();
    let server = Server::start(&host);
    let baseline = rss_kib(server.pid());
    assert!(baseline > 0, "cannot read the server's memory");

    let def = json!({
        "family": "permit-writer",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "writer",
            "image": guest("hostile-permit-writer"),
            // Four 64 MiB writes: the first must already be refused.
            "command": ["64", "4"],
            "essential": true,
        }],
    });
    let path = host.taskdef(&def);
    server.aws_json(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", path.display()),
    ]);
    // Three attacks one after the other: none may leave memory behind for the next.
    for attempt in 0..3 {
        let out = server.aws_json(&["ecs", "run-task", "--task-definition", "permit-writer"]);
        let arn = out["tasks"][0]["taskArn"]
            .as_str()
            .unwrap_or_else(|| panic!("no task: {out:#}"))
            .to_owned();
        let waited = server.aws(&["ecs", "wait", "tasks-stopped", "--tasks", &arn]);
        assert!(waited.success(), "attempt {attempt}: {}", waited.stderr);
        let d = server.aws_json(&["ecs", "describe-tasks", "--tasks", &arn]);
        let task = &d["tasks"][0];
        let reason = task["containers"][0]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("OutputPermitExceeded:")
                && reason.contains("67108864 bytes")
                && reason.contains("check-write permitted only"),
            "attempt {attempt}: the writer was not stopped for its write: {task:#}"
        );
        assert_eq!(task["lastStatus"], "STOPPED");
    }
    let peak = peak_rss_kib(server.pid());
    let now = rss_kib(server.pid());
    eprintln!("server RSS: idle {baseline} KiB, peak {peak} KiB, after {now} KiB");
    assert!(
        peak.saturating_sub(baseline) < 300 * 1024,
        "server peak RSS {peak} KiB, {} MiB over its idle {baseline} KiB",
        peak.saturating_sub(baseline) / 1024
    );
    assert!(
        now.saturating_sub(baseline) < 300 * 1024,
        "server RSS {now} KiB after the attacks, idle {baseline} KiB"
    );
    assert_a_well_behaved_task_runs(&host);
}

/// A task that floods 32 MiB of 1000-byte lines under a 1 MiB log budget: it runs to its
/// end (dropping is not stopping), the log store on disk stays within the budget plus
/// 4 MiB of SQLite and WAL slack, the console got no more than the budget either, and the
/// dropped lines are reported in `--json` and on stderr.
#[test]
fn a_log_flood_is_cut_at_the_task_budget_and_the_drop_is_reported() {
    let host = Host::with_config("[logs]\ntask_budget_mib = 1\n");
    let run = host.run(&flood_task("lines", Some(32)), &[]);
    assert_eq!(run.code, Some(0), "{}", short(&run.stderr));

    let dropped = run.task["logLinesDropped"].as_u64().unwrap_or(0);
    let dropped_bytes = run.task["logBytesDropped"].as_u64().unwrap_or(0);
    assert!(
        dropped > 30_000 && dropped_bytes > 30 * MIB,
        "dropped {dropped} lines, {dropped_bytes} bytes: {}",
        run.task
    );
    assert!(
        run.stderr.contains("used up its log budget of 1 MiB"),
        "no notice when the budget ran out:\n{}",
        short(&run.stderr)
    );
    assert!(
        run.stderr.contains(&format!("{dropped} log lines") as &str),
        "no count of the dropped lines:\n{}",
        short(&run.stderr)
    );
    let console = run.lines_of("flood");
    let console_bytes: usize = console.iter().map(|l| l.len() + 1).sum();
    assert!(
        !console.is_empty() && console_bytes as u64 <= MIB,
        "{console_bytes} bytes of output reached the console"
    );

    let on_disk = store_bytes(&host.data_dir());
    assert!(
        on_disk <= MIB + 4 * MIB,
        "the log store takes {on_disk} bytes on disk for a 1 MiB budget"
    );
    let s = stats(&host);
    let stored = stat(&s, "storedBytes");
    assert!(
        stored > 0 && stored <= MIB,
        "storedBytes {stored} for a 1 MiB budget: {s:?}"
    );
    assert_eq!(stat(&s, "events"), console.len() as u64, "{s:?}");
    assert_a_well_behaved_task_runs(&host);
}

/// One line that never ends, forever: cut into 16 KiB events until the budget is spent,
/// then dropped. The guest keeps running (it is only logging) until stopped; the store
/// stays within the budget meanwhile, and the stop reports what was dropped.
#[test]
fn an_endless_line_forever_is_bounded_while_it_runs() {
    let host = Host::with_config("[logs]\ntask_budget_mib = 1\n");
    let live = host.start(&flood_task("endless", None), &["--stop-timeout", "0"]);
    live.expect_stderr("used up its log budget of 1 MiB", WAIT);
    let at_notice = store_bytes(&host.data_dir());
    // The flood goes on while a bystander runs; the store does not grow with it.
    assert_a_well_behaved_task_runs(&host);
    let later = store_bytes(&host.data_dir());
    assert!(
        at_notice <= 5 * MIB && later <= 5 * MIB,
        "log store {at_notice} then {later} bytes on disk for a 1 MiB budget"
    );
    live.signal(libc::SIGTERM);
    let run = live.wait(WAIT);
    assert_eq!(run.task["lastStatus"], "STOPPED", "{}", short(&run.stderr));
    assert_eq!(run.task["stopCode"], "UserInitiated");
    assert!(
        run.task["logLinesDropped"].as_u64().unwrap_or(0) > 0,
        "{}",
        run.task
    );
    let events: Vec<String> = run.lines_of("flood");
    assert!(
        events.iter().all(|l| l.len() <= 16 * 1024),
        "an event longer than 16 KiB"
    );
}

/// PutRetentionPolicy / DeleteRetentionPolicy through the AWS CLI, DescribeLogGroups
/// showing `retentionInDays` and a `storedBytes` that counts what was put, and a value
/// CloudWatch does not accept refused with InvalidParameterException.
#[test]
fn retention_policies_through_the_aws_cli() {
    let host = Host::new();
    let server = Server::start(&host);
    let group = "/hostile/retention";
    server.aws_json(&["logs", "create-log-group", "--log-group-name", group]);
    server.aws_json(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        group,
        "--log-stream-name",
        "s",
    ]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    server.aws_json(&[
        "logs",
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "s",
        "--log-events",
        &format!("timestamp={now},message=hello"),
        &format!("timestamp={now},message=world!"),
    ]);
    let describe = || {
        let out = server.aws_json(&[
            "logs",
            "describe-log-groups",
            "--log-group-name-prefix",
            group,
        ]);
        out["logGroups"][0].clone()
    };
    let g = describe();
    assert_eq!(g["storedBytes"], 11, "{g:#}");
    assert!(g.get("retentionInDays").is_none(), "{g:#}");

    server.aws_json(&[
        "logs",
        "put-retention-policy",
        "--log-group-name",
        group,
        "--retention-in-days",
        "14",
    ]);
    assert_eq!(describe()["retentionInDays"], 14);

    let bad = server.aws(&[
        "logs",
        "put-retention-policy",
        "--log-group-name",
        group,
        "--retention-in-days",
        "2",
    ]);
    assert!(!bad.success(), "2 days was accepted");
    assert!(
        bad.stderr.contains("InvalidParameterException") && bad.stderr.contains("retentionInDays"),
        "{}",
        bad.stderr
    );
    assert_eq!(
        describe()["retentionInDays"],
        14,
        "a refused value changed the policy"
    );

    let missing = server.aws(&[
        "logs",
        "put-retention-policy",
        "--log-group-name",
        "/hostile/none",
        "--retention-in-days",
        "7",
    ]);
    assert!(
        missing.stderr.contains("ResourceNotFoundException"),
        "{}",
        missing.stderr
    );

    server.aws_json(&["logs", "delete-retention-policy", "--log-group-name", group]);
    let g = describe();
    assert!(g.get("retentionInDays").is_none(), "{g:#}");
    // Events younger than any retention are still there.
    let events = server.aws_json(&[
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "s",
    ]);
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(2),
        "{events:#}"
    );
}

/// The first and last lines of a long stderr, for failure messages.
fn short(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 40 {
        return text.to_owned();
    }
    format!(
        "{}\n… {} lines …\n{}",
        lines[..20].join("\n"),
        lines.len() - 40,
        lines[lines.len() - 20..].join("\n")
    )
}
