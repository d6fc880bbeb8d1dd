use super::{ACCOUNT, Fixture, REGION, echo_def};
use serde_json::{Value, json};

fn arn(resource: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}")
}

async fn tags_of(f: &Fixture, resource_arn: &str) -> Value {
    f.ok("ListTagsForResource", json!({"resourceArn": resource_arn}))
        .await["tags"]
        .clone()
}

#[tokio::test]
async fn tag_untag_and_list_on_every_kind() {
    let f = Fixture::new();
    f.register(echo_def("echo", &[])).await;
    let task = f.run(json!({"taskDefinition": "echo"})).await;
    let id = task.rsplit('/').next().unwrap_or_default().to_owned();
    for resource in [
        arn("cluster/default"),
        arn("task-definition/echo:1"),
        task.clone(),
    ] {
        assert_eq!(tags_of(&f, &resource).await, json!([]));
        f.ok(
            "TagResource",
            json!({"resourceArn": resource, "tags": [
                {"key": "env", "value": "prod"}, {"key": "team", "value": "a"}]}),
        )
        .await;
        f.ok(
            "TagResource",
            json!({"resourceArn": resource, "tags": [{"key": "env", "value": "dev"}]}),
        )
        .await;
        assert_eq!(
            tags_of(&f, &resource).await,
            json!([{"key": "env", "value": "dev"}, {"key": "team", "value": "a"}])
        );
        f.ok(
            "UntagResource",
            json!({"resourceArn": resource, "tagKeys": ["team", "absent"]}),
        )
        .await;
        assert_eq!(
            tags_of(&f, &resource).await,
            json!([{"key": "env", "value": "dev"}])
        );
    }
    // The legacy short task ARN names the same task.
    assert_eq!(
        tags_of(&f, &arn(&format!("task/{id}"))).await,
        json!([{"key": "env", "value": "dev"}])
    );
    let described = f.describe_task(&task).await;
    assert_eq!(described["tags"], json!([{"key": "env", "value": "dev"}]));
    let td = f
        .ok(
            "DescribeTaskDefinition",
            json!({"taskDefinition": "echo", "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(td["tags"], json!([{"key": "env", "value": "dev"}]));
    f.wait_idle().await;
}

#[tokio::test]
async fn unknown_and_malformed_resources() {
    let f = Fixture::new();
    let before = f.store.dump();
    for missing in [
        arn("cluster/nope"),
        arn("task-definition/nope:1"),
        arn("task/default/0123456789abcdef0123456789abcdef"),
        arn("service/default/web"),
        "arn:aws:ecs:eu-west-1:999999999999:cluster/default".to_owned(),
    ] {
        f.err(
            "ListTagsForResource",
            json!({"resourceArn": missing}),
            "ResourceNotFoundException",
        )
        .await;
        f.err(
            "TagResource",
            json!({"resourceArn": missing, "tags": [{"key": "k", "value": "v"}]}),
            "ResourceNotFoundException",
        )
        .await;
        f.err(
            "UntagResource",
            json!({"resourceArn": missing, "tagKeys": ["k"]}),
            "ResourceNotFoundException",
        )
        .await;
    }
    for malformed in [
        "default",
        "arn:aws:s3:::bucket",
        &arn("widget/x"),
        &arn("task-definition/echo"),
        &arn("cluster/bad name"),
    ] {
        let msg = f
            .err(
                "TagResource",
                json!({"resourceArn": malformed, "tags": [{"key": "k", "value": "v"}]}),
                "InvalidParameterException",
            )
            .await;
        assert!(msg.starts_with("resourceArn:"), "{msg}");
    }
    let cluster = arn("cluster/default");
    for (op, body, prefix) in [
        (
            "TagResource",
            json!({"resourceArn": cluster}),
            "tags: is required",
        ),
        (
            "TagResource",
            json!({"tags": []}),
            "resourceArn: is required",
        ),
        (
            "TagResource",
            json!({"resourceArn": cluster, "tags": [{"key": "aws:x", "value": "v"}]}),
            "tags[0].key:",
        ),
        (
            "TagResource",
            json!({"resourceArn": cluster, "tags": [{"key": "k", "value": 5}]}),
            "tags[0].value: invalid type: integer `5`, expected a string",
        ),
        (
            "UntagResource",
            json!({"resourceArn": cluster}),
            "tagKeys: is required",
        ),
        (
            "UntagResource",
            json!({"resourceArn": cluster, "tagKeys": [""]}),
            "tagKeys[0]:",
        ),
        ("ListTagsForResource", json!({}), "resourceArn: is required"),
    ] {
        let msg = f.err(op, body, "InvalidParameterException").await;
        assert!(msg.starts_with(prefix), "{op}: {msg}");
    }
    // At most 50 tags per resource.
    let fifty: Vec<Value> = (0..50)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    assert_eq!(f.store.dump(), before);
    f.ok(
        "TagResource",
        json!({"resourceArn": cluster, "tags": fifty}),
    )
    .await;
    let before = f.store.dump();
    f.err(
        "TagResource",
        json!({"resourceArn": cluster, "tags": [{"key": "one-more", "value": "v"}]}),
        "InvalidParameterException",
    )
    .await;
    assert_eq!(f.store.dump(), before);
}
