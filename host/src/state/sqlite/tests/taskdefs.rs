use std::sync::Arc;

use serde_json::json;

use super::mem;
use crate::state::sqlite::SqliteStateStore;
use crate::state::{StateStore, TaskDefQuery};

#[test]
fn register_numbers_revisions_per_family_and_returns_the_record() {
    let s = mem();
    let def = json!({"family": "web", "containerDefinitions": [{"name": "app"}]});
    let r1 = s.register_task_definition("web", &def, 10).unwrap();
    assert_eq!(
        (r1.family.as_str(), r1.revision, r1.status.as_str()),
        ("web", 1, "ACTIVE")
    );
    assert_eq!((r1.registered_at_ms, r1.deregistered_at_ms), (10, None));
    assert_eq!(r1.definition, def);
    assert_eq!(
        s.register_task_definition("web", &def, 11)
            .unwrap()
            .revision,
        2
    );
    assert_eq!(
        s.register_task_definition("db", &def, 12).unwrap().revision,
        1
    );

    assert_eq!(s.get_task_definition("web", Some(1)).unwrap(), Some(r1));
    assert_eq!(s.get_task_definition("web", Some(3)).unwrap(), None);
    assert_eq!(s.get_task_definition("nope", None).unwrap(), None);
    assert_eq!(
        s.get_task_definition("web", None)
            .unwrap()
            .unwrap()
            .revision,
        2
    );
}

#[test]
fn latest_is_highest_active_and_revisions_never_reuse_numbers() {
    let s = mem();
    let def = json!({});
    for at in 1..=3 {
        s.register_task_definition("web", &def, at).unwrap();
    }
    let r3 = s
        .set_task_definition_status("web", 3, "INACTIVE", 100)
        .unwrap()
        .unwrap();
    assert_eq!(
        (r3.status.as_str(), r3.deregistered_at_ms),
        ("INACTIVE", Some(100))
    );
    assert_eq!(
        s.get_task_definition("web", None)
            .unwrap()
            .unwrap()
            .revision,
        2
    );
    // Deregistered revisions stay describable.
    assert_eq!(s.get_task_definition("web", Some(3)).unwrap(), Some(r3));

    s.set_task_definition_status("web", 1, "INACTIVE", 101)
        .unwrap();
    s.set_task_definition_status("web", 2, "INACTIVE", 102)
        .unwrap();
    assert_eq!(
        s.get_task_definition("web", None).unwrap(),
        None,
        "no ACTIVE revision"
    );
    assert_eq!(
        s.register_task_definition("web", &def, 4).unwrap().revision,
        4
    );

    // Even a revision deleted outright does not free its number.
    super::raw(
        &s,
        "DELETE FROM task_definitions WHERE family = 'web' AND revision = 4",
    );
    assert_eq!(
        s.register_task_definition("web", &def, 5).unwrap().revision,
        5
    );
}

#[test]
fn set_status_keeps_first_deregistration_time_and_reports_absence() {
    let s = mem();
    s.register_task_definition("web", &json!({}), 1).unwrap();
    assert_eq!(
        s.set_task_definition_status("web", 2, "INACTIVE", 5)
            .unwrap(),
        None
    );
    assert_eq!(
        s.set_task_definition_status("nope", 1, "INACTIVE", 5)
            .unwrap(),
        None
    );
    s.set_task_definition_status("web", 1, "INACTIVE", 5)
        .unwrap();
    let r = s
        .set_task_definition_status("web", 1, "DELETE_IN_PROGRESS", 9)
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.status.as_str(), r.deregistered_at_ms),
        ("DELETE_IN_PROGRESS", Some(5))
    );
    assert_eq!(s.get_task_definition("web", Some(1)).unwrap(), Some(r));
    let r = s
        .set_task_definition_status("web", 1, "ACTIVE", 10)
        .unwrap()
        .unwrap();
    assert_eq!(r.deregistered_at_ms, None);
}

fn listed(s: &SqliteStateStore, q: TaskDefQuery) -> Vec<String> {
    s.list_task_definitions(&q)
        .unwrap()
        .into_iter()
        .map(|r| format!("{}:{}", r.family, r.revision))
        .collect()
}

#[test]
fn list_orders_by_family_bytes_then_revision_and_filters() {
    let s = mem();
    let def = json!({});
    // Interleaved registrations; revision 10 must sort after 9 (numeric, not text).
    for family in ["web", "Web", "web_x", "webs", "api"] {
        s.register_task_definition(family, &def, 0).unwrap();
    }
    for _ in 0..9 {
        s.register_task_definition("web", &def, 0).unwrap();
    }
    s.set_task_definition_status("web", 2, "INACTIVE", 1)
        .unwrap();

    let all = listed(&s, TaskDefQuery::default());
    let mut expected = vec!["Web:1".to_owned(), "api:1".to_owned()];
    expected.extend((1..=10).map(|r| format!("web:{r}")));
    expected.extend(["web_x:1".to_owned(), "webs:1".to_owned()]);
    assert_eq!(all, expected);

    let desc = listed(
        &s,
        TaskDefQuery {
            descending: true,
            ..Default::default()
        },
    );
    assert_eq!(desc, expected.iter().rev().cloned().collect::<Vec<_>>());

    let q = TaskDefQuery {
        family_prefix: Some("web_".into()),
        ..Default::default()
    };
    assert_eq!(listed(&s, q), ["web_x:1"], "`_` is literal, not a wildcard");
    let q = TaskDefQuery {
        family_prefix: Some("W".into()),
        ..Default::default()
    };
    assert_eq!(listed(&s, q), ["Web:1"], "prefix is case-sensitive");

    let q = TaskDefQuery {
        status: Some("INACTIVE".into()),
        ..Default::default()
    };
    assert_eq!(listed(&s, q), ["web:2"]);
    let q = TaskDefQuery {
        family_prefix: Some("web".into()),
        status: Some("ACTIVE".into()),
        descending: true,
    };
    let got = listed(&s, q);
    assert_eq!(got.first().map(String::as_str), Some("webs:1"));
    assert_eq!(got.len(), 11, "web (9 ACTIVE), web_x, webs");
    assert!(!got.contains(&"web:2".to_owned()));
}

#[test]
fn families_filter_by_prefix_and_active_revisions() {
    let s = mem();
    let def = json!({});
    for family in ["web", "worker", "api", "web"] {
        s.register_task_definition(family, &def, 0).unwrap();
    }
    s.set_task_definition_status("worker", 1, "INACTIVE", 1)
        .unwrap();
    s.set_task_definition_status("web", 1, "INACTIVE", 1)
        .unwrap();

    let f = |p: Option<&str>, st: Option<&str>| s.list_families(p, st).unwrap();
    assert_eq!(f(None, None), ["api", "web", "worker"]);
    assert_eq!(f(None, Some("ALL")), ["api", "web", "worker"]);
    assert_eq!(
        f(None, Some("ACTIVE")),
        ["api", "web"],
        "web still has revision 2"
    );
    assert_eq!(f(None, Some("INACTIVE")), ["worker"]);
    assert_eq!(f(Some("w"), None), ["web", "worker"]);
    assert_eq!(f(Some("w"), Some("ACTIVE")), ["web"]);
    assert_eq!(f(Some("x"), None), Vec::<String>::new());
    s.set_task_definition_status("api", 1, "DELETE_IN_PROGRESS", 1)
        .unwrap();
    assert_eq!(f(None, Some("DELETE_IN_PROGRESS")), ["api"]);
}

fn assert_distinct_and_complete(mut revisions: Vec<u32>, n: u32) {
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=n).collect::<Vec<_>>());
}

#[test]
fn concurrent_registrations_on_one_store_get_distinct_revisions() {
    let s = Arc::new(mem());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        s.register_task_definition("web", &json!({}), 0)
                            .unwrap()
                            .revision
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let revisions = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_distinct_and_complete(revisions, 100);
}

#[test]
fn concurrent_registrations_through_separate_connections_get_distinct_revisions() {
    // Two stores on one file = two connections: this exercises the IMMEDIATE transaction
    // and busy timeout, not just the mutex.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let stores = [
        SqliteStateStore::open(&path).unwrap(),
        SqliteStateStore::open(&path).unwrap(),
    ];
    let revisions = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .map(|s| {
                scope.spawn(move || {
                    (0..20)
                        .map(|_| {
                            s.register_task_definition("web", &json!({}), 0)
                                .unwrap()
                                .revision
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_distinct_and_complete(revisions, 40);
}
