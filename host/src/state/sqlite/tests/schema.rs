//! Schema versioning, connection settings and the handling of damaged data.

use serde_json::json;

use super::{cluster, mem, raw, task};
use crate::state::sqlite::{SqliteStateStore, schema};
use crate::state::{StateError, StateStore, TaskDefQuery, TaskQuery};

fn pragma<T: rusqlite::types::FromSql>(s: &SqliteStateStore, name: &str) -> T {
    s.conn()
        .pragma_query_value(None, name, |r| r.get(0))
        .unwrap()
}

#[test]
fn open_creates_parent_dirs_and_sets_durable_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/state.db");
    let s = SqliteStateStore::open(&path).unwrap();
    assert!(path.is_file());
    assert_eq!(pragma::<String>(&s, "journal_mode"), "wal");
    assert_eq!(pragma::<i64>(&s, "synchronous"), 2, "FULL");
    assert_eq!(pragma::<i64>(&s, "foreign_keys"), 1);
    assert_eq!(pragma::<i64>(&s, "busy_timeout"), 5000);
    assert_eq!(pragma::<u32>(&s, "user_version"), schema::latest_version());
}

#[test]
fn reopening_a_current_database_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(SqliteStateStore::open(&path).unwrap());
    // Re-running migration 1 would fail on CREATE TABLE, so success means it was skipped.
    let s = SqliteStateStore::open(&path).unwrap();
    assert_eq!(pragma::<u32>(&s, "user_version"), schema::latest_version());
}

/// Version 4 gives tasks a `service` column; the rows written before it keep what their
/// group said, the only record they have.
#[test]
fn tasks_from_version_3_take_their_service_from_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &schema::MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 3;
             INSERT INTO tasks (task_id, cluster, task_definition, family, last_status,
                                desired_status, group_name, created_at_ms, task)
             VALUES ('a', 'default', 'web:1', 'web', 'RUNNING', 'RUNNING', 'service:api', 1, '{}'),
                    ('b', 'default', 'web:1', 'web', 'RUNNING', 'RUNNING', 'family:web', 2, '{}');",
        )
        .unwrap();
    }
    let s = SqliteStateStore::open(&path).unwrap();
    assert_eq!(pragma::<u32>(&s, "user_version"), schema::latest_version());
    let service = |id: &str| s.get_task(id).unwrap().unwrap().service;
    assert_eq!(service("a").as_deref(), Some("api"));
    assert_eq!(service("b"), None);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let newer = schema::latest_version() + 1;
    raw(
        &SqliteStateStore::open(&path).unwrap(),
        &format!("PRAGMA user_version = {newer}"),
    );
    match SqliteStateStore::open(&path) {
        Err(StateError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (newer, schema::latest_version()));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = SqliteStateStore::open(&path).unwrap_err();
    assert!(matches!(err, StateError::Corrupt(_)), "{err:?}");
}

fn assert_corrupt<T: std::fmt::Debug>(r: crate::state::Result<T>, mentions: &str) {
    match r {
        Err(StateError::Corrupt(msg)) => assert!(msg.contains(mentions), "{msg}"),
        other => panic!("expected Corrupt mentioning {mentions}, got {other:?}"),
    }
}

#[test]
fn corrupt_rows_are_errors_not_panics() {
    let s = mem();
    s.put_cluster(&cluster("default")).unwrap();
    s.put_task(&task("t1", "default", 1)).unwrap();
    s.register_task_definition("web", &json!({}), 1).unwrap();
    s.register_task_definition("db", &json!({}), 1).unwrap();
    raw(
        &s,
        "UPDATE clusters SET extra = '{not json' ;
         UPDATE tasks SET task = '[1,' ;
         UPDATE task_definitions SET definition = 'nul' WHERE family = 'web';
         UPDATE task_definitions SET revision = 4294967296 WHERE family = 'db';",
    );

    assert_corrupt(s.get_cluster("default"), "clusters");
    assert_corrupt(s.list_clusters(), "clusters");
    assert_corrupt(s.get_task("t1"), "tasks");
    assert_corrupt(
        s.list_tasks(&TaskQuery {
            cluster: "default".into(),
            ..Default::default()
        }),
        "tasks",
    );
    assert_corrupt(s.unfinished_tasks(), "tasks");
    assert_corrupt(s.get_task_definition("web", None), "task_definitions");
    assert_corrupt(s.get_task_definition("db", None), "task_definitions");
    assert_corrupt(
        s.list_task_definitions(&TaskDefQuery::default()),
        "task_definitions",
    );
    assert_corrupt(
        s.set_task_definition_status("web", 1, "INACTIVE", 2),
        "task_definitions",
    );
    // A status change whose result cannot be read back is not applied.
    let status: String = s
        .conn()
        .query_row(
            "SELECT status FROM task_definitions WHERE family = 'web'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "ACTIVE");

    // The damage is contained: other operations keep working.
    s.put_task(&task("t2", "other", 1)).unwrap();
    assert_eq!(s.get_task("t2").unwrap(), Some(task("t2", "other", 1)));
    assert_eq!(s.list_families(None, None).unwrap(), ["db", "web"]);
}

#[test]
fn foreign_keys_are_enforced() {
    let s = mem();
    let err = s
        .conn()
        .execute_batch(
            "INSERT INTO task_definitions (family, revision, status, registered_at_ms, definition)
             VALUES ('orphan', 1, 'ACTIVE', 0, '{}')",
        )
        .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
}
