//! What survives closing the store, and what survives the process being killed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

use super::{cluster, stopped, task};
use crate::state::sqlite::SqliteStateStore;
use crate::state::{StateStore, TaskDefQuery, TaskQuery};

#[test]
fn reopening_a_file_finds_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let def = json!({"containerDefinitions": [{"name": "app", "image": "app.wasm"}]});
    let arn = "arn:aws:ecs:us-east-1:000000000000:task/default/t1";
    let (r1, t1, t2) = {
        let s = SqliteStateStore::open(&path).unwrap();
        s.put_cluster(&cluster("default")).unwrap();
        s.put_cluster(&cluster("other")).unwrap();
        let r1 = s.register_task_definition("web", &def, 1).unwrap();
        s.register_task_definition("web", &def, 2).unwrap();
        s.set_task_definition_status("web", 2, "INACTIVE", 3)
            .unwrap();
        let t1 = task("t1", "default", 1);
        let t2 = stopped(task("t2", "default", 2), 9);
        s.put_task(&t1).unwrap();
        s.put_task(&t2).unwrap();
        s.tag(arn, &[("env".into(), "dev".into())]).unwrap();
        (r1, t1, t2)
    };

    let s = SqliteStateStore::open(&path).unwrap();
    assert_eq!(
        s.list_clusters().unwrap(),
        [cluster("default"), cluster("other")]
    );
    assert_eq!(s.get_task_definition("web", None).unwrap(), Some(r1));
    let defs = s.list_task_definitions(&TaskDefQuery::default()).unwrap();
    assert_eq!(defs.len(), 2);
    assert_eq!(
        (defs[1].status.as_str(), defs[1].deregistered_at_ms),
        ("INACTIVE", Some(3))
    );
    let q = TaskQuery {
        cluster: "default".into(),
        ..Default::default()
    };
    assert_eq!(s.list_tasks(&q).unwrap(), [t1.clone(), t2]);
    assert_eq!(s.unfinished_tasks().unwrap(), [t1]);
    assert_eq!(s.tags(arn).unwrap(), [("env".to_owned(), "dev".to_owned())]);
    assert_eq!(
        s.register_task_definition("web", &def, 4).unwrap().revision,
        3
    );
}

/// Set in the re-executed test binary: the database path the child writes to.
const CHILD_DB_ENV: &str = "WASMGATE_TEST_STATE_SIGKILL_CHILD_DB";
/// Written by the child after each write returns, before the next one starts.
const ACK: &str = "WASMGATE-ACK ";

/// A child process writes tasks in a loop and announces each acknowledged one; the parent
/// SIGKILLs it mid-loop, then reopens the file and must find every announced task.
#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Some(db) = std::env::var_os(CHILD_DB_ENV) {
        return sigkill_child(Path::new(&db));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    // libtest names tests by module path without the crate name.
    let module = module_path!().split_once("::").map_or("", |(_, rest)| rest);
    let name = format!("{module}::acknowledged_writes_survive_sigkill");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = None;
    // Kill mid-stream, after enough writes that the WAL holds many commits.
    while last.is_none_or(|n| n < 40) {
        let line = lines
            .next()
            .expect("child exited before acknowledging 40 writes")
            .unwrap();
        if let Some(n) = line.strip_prefix(ACK) {
            last = Some(n.parse::<u32>().unwrap());
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    // Acknowledgements already in the pipe were printed after their write returned, too.
    for line in lines.map_while(std::result::Result::ok) {
        if let Some(n) = line.strip_prefix(ACK) {
            last = Some(n.parse().unwrap());
        }
    }
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "child must have been killed, got {status}"
    );

    let acked = last.unwrap();
    let s = SqliteStateStore::open(&db).unwrap();
    for i in 0..=acked {
        assert!(
            s.get_task(&format!("t{i}")).unwrap().is_some(),
            "acknowledged task t{i} lost"
        );
    }
    // The child may have registered one more revision before the kill landed.
    let latest = s
        .get_task_definition("web", None)
        .unwrap()
        .unwrap()
        .revision;
    assert!(
        (acked + 1..=acked + 2).contains(&latest),
        "acked {acked}, latest revision {latest}"
    );
}

/// The child side: writes until killed (bounded, so a parent that died cannot leave it
/// running forever).
fn sigkill_child(db: &Path) {
    use std::io::Write;
    let s = SqliteStateStore::open(db).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0..100_000u32 {
        s.register_task_definition("web", &json!({"i": i}), 0)
            .unwrap();
        s.put_task(&task(&format!("t{i}"), "default", i64::from(i)))
            .unwrap();
        writeln!(out, "{ACK}{i}").unwrap();
        out.flush().unwrap();
    }
}

/// A task's progress is written without an fsync, visible at once, and leaves the
/// connection fsyncing every other write (the next acknowledged one makes it durable too).
#[test]
fn progress_writes_are_visible_at_once_and_leave_the_connection_at_full() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = SqliteStateStore::open(&path).unwrap();
    let mut t = task("t1", "default", 1);
    s.put_task(&t).unwrap();
    t.last_status = "RUNNING".into();
    s.put_task_progress(&t).unwrap();
    assert_eq!(s.get_task("t1").unwrap(), Some(t.clone()));
    let synchronous: i64 = s
        .conn()
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(synchronous, 2, "FULL again after a progress write");
    drop(s);
    // Not lost by closing the store (nor by a crash of the process: the WAL is written).
    let s = SqliteStateStore::open(&path).unwrap();
    assert_eq!(s.get_task("t1").unwrap(), Some(t));
}
