use serde_json::json;

use super::mem;
use crate::state::{Expect, StateStore};

#[test]
fn documents_round_trip_and_list_by_prefix_in_key_order() {
    let s = mem();
    assert_eq!(
        s.put_document("iam.user", "bob", &json!({"n": 1}), Expect::Any)
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        s.put_document("iam.user", "alice", &json!({"n": 2}), Expect::Any)
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        s.put_document("iam.role", "alice", &json!({}), Expect::Any)
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        s.put_document("iam.user", "al%_x", &json!({}), Expect::Any)
            .unwrap(),
        Some(1)
    );
    let keys: Vec<String> = s
        .list_documents("iam.user", "al")
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(keys, ["al%_x", "alice"]);
    let all = s.list_documents("iam.user", "").unwrap();
    assert_eq!(all.len(), 3);
    let got = s.get_document("iam.user", "alice").unwrap().unwrap();
    assert_eq!((got.value, got.revision), (json!({"n": 2}), 1));
    assert!(s.get_document("iam.user", "carol").unwrap().is_none());
}

#[test]
fn document_writes_check_their_precondition_and_change_nothing_when_it_fails() {
    let s = mem();
    assert_eq!(
        s.put_document("k", "a", &json!(1), Expect::Absent).unwrap(),
        Some(1)
    );
    assert_eq!(
        s.put_document("k", "a", &json!(2), Expect::Absent).unwrap(),
        None
    );
    assert_eq!(
        s.put_document("k", "a", &json!(3), Expect::Revision(7))
            .unwrap(),
        None
    );
    assert_eq!(
        s.put_document("k", "a", &json!(4), Expect::Revision(1))
            .unwrap(),
        Some(2)
    );
    assert_eq!(s.get_document("k", "a").unwrap().unwrap().value, json!(4));
    assert!(!s.delete_document("k", "a", Expect::Revision(1)).unwrap());
    assert!(!s.delete_document("k", "a", Expect::Absent).unwrap());
    assert!(s.delete_document("k", "a", Expect::Revision(2)).unwrap());
    assert!(!s.delete_document("k", "a", Expect::Any).unwrap());
    assert!(s.get_document("k", "a").unwrap().is_none());
}

#[test]
fn documents_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let s = crate::state::sqlite::SqliteStateStore::open(&path).unwrap();
        s.put_document("iam.user", "alice", &json!({"arn": "x"}), Expect::Any)
            .unwrap();
    }
    let s = crate::state::sqlite::SqliteStateStore::open(&path).unwrap();
    assert_eq!(
        s.get_document("iam.user", "alice").unwrap().unwrap().value,
        json!({"arn": "x"})
    );
}
