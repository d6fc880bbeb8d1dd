use serde_json::json;

use super::{mem, stopped, task};
use crate::state::sqlite::SqliteStateStore;
use crate::state::{StateStore, TaskQuery};

fn ids(s: &SqliteStateStore, q: TaskQuery) -> Vec<String> {
    s.list_tasks(&q)
        .unwrap()
        .into_iter()
        .map(|t| t.task_id)
        .collect()
}

fn in_cluster(cluster: &str) -> TaskQuery {
    TaskQuery {
        cluster: cluster.to_owned(),
        ..Default::default()
    }
}

#[test]
fn put_get_and_replace_by_task_id() {
    let s = mem();
    assert_eq!(s.get_task("t1").unwrap(), None);
    let t = task("t1", "default", 5);
    s.put_task(&t).unwrap();
    assert_eq!(s.get_task("t1").unwrap(), Some(t.clone()));

    let mut t2 = stopped(t, 9);
    t2.started_by = Some("ci".to_owned());
    t2.group = None;
    t2.task = json!({"stoppedReason": "Essential container in task exited"});
    s.put_task(&t2).unwrap();
    assert_eq!(s.get_task("t1").unwrap(), Some(t2));
    assert_eq!(
        ids(&s, in_cluster("default")),
        ["t1"],
        "replaced, not duplicated"
    );
}

#[test]
fn list_is_oldest_first_and_applies_every_filter() {
    let s = mem();
    // Inserted out of order; "a" and "b" tie on created_at and sort by id.
    let mut b = task("b", "default", 20);
    b.started_by = Some("ci".to_owned());
    let mut c = task("c", "default", 10);
    c.family = "db".to_owned();
    c.task_definition = "db:3".to_owned();
    c.group = Some("service:db".to_owned());
    let mut a = stopped(task("a", "default", 20), 30);
    a.started_by = Some("ci".to_owned());
    for t in [b, c, a, task("x", "other", 1)] {
        s.put_task(&t).unwrap();
    }

    assert_eq!(ids(&s, in_cluster("default")), ["c", "a", "b"]);
    assert_eq!(ids(&s, in_cluster("other")), ["x"]);
    assert!(ids(&s, in_cluster("missing")).is_empty());

    let q = |f: fn(&mut TaskQuery)| {
        let mut q = in_cluster("default");
        f(&mut q);
        ids(&s, q)
    };
    assert_eq!(q(|q| q.family = Some("web".into())), ["a", "b"]);
    assert_eq!(q(|q| q.family = Some("db".into())), ["c"]);
    assert_eq!(q(|q| q.started_by = Some("ci".into())), ["a", "b"]);
    assert_eq!(q(|q| q.group = Some("service:db".into())), ["c"]);
    assert_eq!(q(|q| q.desired_status = Some("RUNNING".into())), ["c", "b"]);
    assert_eq!(q(|q| q.desired_status = Some("STOPPED".into())), ["a"]);
    assert_eq!(
        q(|q| {
            q.started_by = Some("ci".into());
            q.desired_status = Some("RUNNING".into());
            q.family = Some("web".into());
            q.group = Some("family:web".into());
        }),
        ["b"]
    );
    assert!(q(|q| q.family = Some("nope".into())).is_empty());
}

/// ListTasks' `serviceName` is the scheduler's service, never a group a caller chose.
#[test]
fn the_service_filter_reads_the_service_not_the_group() {
    let s = mem();
    let mut real = task("real", "default", 1);
    real.group = Some("service:web".to_owned());
    real.service = Some("web".to_owned());
    let mut label = task("label", "default", 2);
    label.group = Some("service:web".to_owned());
    for t in [real, label] {
        s.put_task(&t).unwrap();
    }
    let mut q = in_cluster("default");
    q.service = Some("web".into());
    assert_eq!(ids(&s, q), ["real"]);
    assert_eq!(
        s.get_task("real").unwrap().unwrap().service.as_deref(),
        Some("web")
    );
    assert_eq!(s.get_task("label").unwrap().unwrap().service, None);
}

#[test]
fn unfinished_are_the_tasks_not_stopped() {
    let s = mem();
    let mut pending = task("p", "default", 3);
    pending.last_status = "PENDING".to_owned();
    // Desired STOPPED but not yet stopped: still unfinished.
    let mut stopping = task("s", "other", 2);
    stopping.desired_status = "STOPPED".to_owned();
    for t in [
        pending,
        stopped(task("done", "default", 1), 4),
        task("r", "default", 1),
        stopping,
    ] {
        s.put_task(&t).unwrap();
    }
    let got: Vec<_> = s
        .unfinished_tasks()
        .unwrap()
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(got, ["r", "s", "p"]);
}

#[test]
fn prune_deletes_only_stopped_tasks_stopped_before_the_cutoff() {
    let s = mem();
    let mut no_stop_time = stopped(task("nostop", "default", 1), 0);
    no_stop_time.stopped_at_ms = None;
    for t in [
        stopped(task("old", "default", 1), 100),
        stopped(task("edge", "default", 1), 200),
        stopped(task("new", "default", 1), 300),
        task("running", "default", 1),
        no_stop_time,
    ] {
        s.put_task(&t).unwrap();
    }
    // A running task with a (bogus) old stop time is still not pruned.
    let mut odd = task("odd", "default", 1);
    odd.stopped_at_ms = Some(1);
    s.put_task(&odd).unwrap();

    assert_eq!(s.prune_stopped_tasks(200).unwrap(), 1);
    assert_eq!(s.get_task("old").unwrap(), None);
    assert_eq!(
        ids(&s, in_cluster("default")),
        ["edge", "new", "nostop", "odd", "running"]
    );
    assert_eq!(s.prune_stopped_tasks(200).unwrap(), 0);
    assert_eq!(s.prune_stopped_tasks(i64::MAX).unwrap(), 2);
    assert_eq!(ids(&s, in_cluster("default")), ["nostop", "odd", "running"]);
}
