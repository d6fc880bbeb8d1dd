use serde_json::json;

use super::{cluster, mem};
use crate::state::StateStore;

#[test]
fn clusters_put_get_replace_and_list_by_name() {
    let s = mem();
    assert_eq!(s.get_cluster("default").unwrap(), None);
    assert!(s.list_clusters().unwrap().is_empty());
    for name in ["zeta", "Alpha", "default", "beta"] {
        s.put_cluster(&cluster(name)).unwrap();
    }
    assert_eq!(s.get_cluster("beta").unwrap(), Some(cluster("beta")));

    let mut gone = cluster("beta");
    gone.status = "INACTIVE".to_owned();
    gone.extra = json!({"configuration": {"executeCommandConfiguration": {"logging": "NONE"}}});
    s.put_cluster(&gone).unwrap();
    assert_eq!(s.get_cluster("beta").unwrap(), Some(gone));

    let names: Vec<_> = s
        .list_clusters()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    // Byte order: uppercase sorts before lowercase.
    assert_eq!(names, ["Alpha", "beta", "default", "zeta"]);
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn tags_upsert_remove_and_sort_by_key() {
    let s = mem();
    let arn = "arn:aws:ecs:us-east-1:000000000000:cluster/default";
    let other = "arn:aws:ecs:us-east-1:000000000000:cluster/other";
    assert!(s.tags(arn).unwrap().is_empty());

    s.tag(arn, &kv(&[("team", "web"), ("env", "dev"), ("Z", "1")]))
        .unwrap();
    s.tag(other, &kv(&[("env", "prod")])).unwrap();
    s.tag(arn, &kv(&[("env", "prod"), ("cost", "")])).unwrap();
    assert_eq!(
        s.tags(arn).unwrap(),
        kv(&[("Z", "1"), ("cost", ""), ("env", "prod"), ("team", "web")])
    );

    s.untag(
        arn,
        &["team".to_owned(), "absent".to_owned(), "Z".to_owned()],
    )
    .unwrap();
    assert_eq!(s.tags(arn).unwrap(), kv(&[("cost", ""), ("env", "prod")]));
    assert_eq!(
        s.tags(other).unwrap(),
        kv(&[("env", "prod")]),
        "other ARN untouched"
    );

    s.tag(arn, &[]).unwrap();
    s.untag(arn, &[]).unwrap();
    assert_eq!(s.tags(arn).unwrap().len(), 2);
}
