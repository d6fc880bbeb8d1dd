use super::{ACCOUNT, Fixture, REGION, echo_def, guest};
use serde_json::{Value, json};
use std::collections::HashSet;

fn td_arn(family: &str, revision: u32) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}")
}

#[tokio::test]
async fn register_answers_the_ecs_shape() {
    let f = Fixture::new();
    let mut def = echo_def("web", &["hi"]);
    def["cpu"] = json!("1 vCPU");
    def["memory"] = json!("2 GB");
    def["tags"] = json!([{"key": "team", "value": "edge"}]);
    let out = f.ok("RegisterTaskDefinition", def).await;
    let td = &out["taskDefinition"];
    assert_eq!(td["taskDefinitionArn"], td_arn("web", 1));
    assert_eq!(td["family"], "web");
    assert_eq!(td["revision"], 1);
    assert_eq!(td["status"], "ACTIVE");
    assert_eq!(td["cpu"], "1024");
    assert_eq!(td["memory"], "2048");
    assert_eq!(td["networkMode"], "awsvpc");
    assert_eq!(td["compatibilities"], json!(["EC2", "FARGATE"]));
    assert_eq!(td["requiresCompatibilities"], json!(["FARGATE"]));
    assert_eq!(td["containerDefinitions"][0]["name"], "app");
    assert_eq!(td["containerDefinitions"][0]["image"], guest("echo"));
    assert_eq!(
        td["registeredBy"],
        format!("arn:aws:iam::{ACCOUNT}:user/test")
    );
    assert!(td["registeredAt"].is_f64(), "{td}");
    assert!(td.get("tags").is_none());
    assert_eq!(out["tags"], json!([{"key": "team", "value": "edge"}]));

    // Revisions only ever increase, also past a deregistered one.
    let second = f.register(echo_def("web", &[])).await;
    assert_eq!(second, td_arn("web", 2));
    f.ok(
        "DeregisterTaskDefinition",
        json!({"taskDefinition": "web:2"}),
    )
    .await;
    assert_eq!(f.register(echo_def("web", &[])).await, td_arn("web", 3));
}

#[tokio::test]
async fn refused_definitions_name_every_broken_rule() {
    let f = Fixture::new();
    let before = f.store.dump();

    let mut def = echo_def("web", &[]);
    def["cpu"] = json!("1024");
    def["memory"] = json!("1024");
    let msg = f
        .err("RegisterTaskDefinition", def, "ClientException")
        .await;
    assert!(
        msg.starts_with(
            "No Fargate configuration exists for given values: 1024 CPU, 1024 memory. See the Amazon ECS documentation for the valid values."
        ),
        "{msg}"
    );
    assert!(
        msg.contains("memory: 1024 MiB is not valid for cpu 1024"),
        "{msg}"
    );

    let mut def = echo_def("bad family!", &[]);
    def["containerDefinitions"][0]["image"] = json!("");
    def["containerDefinitions"][0]["stopTimeout"] = json!(500);
    let msg = f
        .err("RegisterTaskDefinition", def, "ClientException")
        .await;
    assert_eq!(
        msg,
        "family: must be 1 to 255 letters, numbers, hyphens and underscores; \
         containerDefinitions[0].image: is required; \
         containerDefinitions[0].stopTimeout: 500 is out of range; must be between 2 and 120 seconds"
    );

    // The runtime's own rules are applied at registration too, as `wasmgate run` does.
    let mut def = echo_def("web", &[]);
    def["containerDefinitions"][0]["dockerLabels"] = json!({"wasmgate.fuel-budget": "lots"});
    let msg = f
        .err("RegisterTaskDefinition", def, "ClientException")
        .await;
    assert!(
        msg.starts_with("containerDefinitions[0].dockerLabels.wasmgate.fuel-budget:"),
        "{msg}"
    );

    // Instance reuse: only the value's syntax is known here (whether the component is an
    // HTTP proxy is checked when a task starts).
    let mut def = echo_def("web", &[]);
    def["containerDefinitions"][0]["dockerLabels"] =
        json!({"wasmgate.instance-reuse": "concurrent"});
    let msg = f
        .err("RegisterTaskDefinition", def, "ClientException")
        .await;
    assert_eq!(
        msg,
        "containerDefinitions[0].dockerLabels.wasmgate.instance-reuse: \"concurrent\" must be \
         \"none\", \"sequential\" or a positive integer (the maximum number of requests per \
         instance)"
    );

    let mut def = echo_def("web", &[]);
    def.as_object_mut().map(|o| o.remove("cpu"));
    let msg = f
        .err("RegisterTaskDefinition", def, "ClientException")
        .await;
    assert!(
        msg.starts_with("Fargate requires that 'cpu' be defined at the task level."),
        "{msg}"
    );

    let msg = f
        .err("RegisterTaskDefinition", json!({}), "ClientException")
        .await;
    assert!(msg.contains("family: is required"), "{msg}");
    assert!(msg.contains("containerDefinitions"), "{msg}");

    // Wrong types name the member.
    let mut def = echo_def("web", &[]);
    def["containerDefinitions"][0]["essential"] = json!("yes");
    let msg = f
        .err("RegisterTaskDefinition", def, "InvalidParameterException")
        .await;
    assert!(msg.contains("containerDefinitions[0].essential"), "{msg}");

    let mut def = echo_def("web", &[]);
    def["tags"] = json!([{"key": "aws:reserved", "value": "x"}]);
    let msg = f
        .err("RegisterTaskDefinition", def, "InvalidParameterException")
        .await;
    assert!(msg.starts_with("tags[0].key:"), "{msg}");
    assert_eq!(f.store.dump(), before);
}

#[tokio::test]
async fn describe_by_family_revision_and_arn() {
    let f = Fixture::new();
    let mut def = echo_def("web", &[]);
    def["tags"] = json!([{"key": "a", "value": "1"}]);
    f.register(def).await;
    f.register(echo_def("web", &[])).await;
    let latest = f
        .ok("DescribeTaskDefinition", json!({"taskDefinition": "web"}))
        .await;
    assert_eq!(latest["taskDefinition"]["revision"], 2);
    assert!(latest.get("tags").is_none());
    let first = f
        .ok(
            "DescribeTaskDefinition",
            json!({"taskDefinition": "web:1", "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(first["taskDefinition"]["revision"], 1);
    assert_eq!(first["tags"], json!([{"key": "a", "value": "1"}]));
    let by_arn = f
        .ok(
            "DescribeTaskDefinition",
            json!({"taskDefinition": td_arn("web", 1)}),
        )
        .await;
    assert_eq!(by_arn["taskDefinition"], first["taskDefinition"]);

    // The latest ACTIVE one: after deregistering 2, `web` is 1 again.
    let out = f
        .ok(
            "DeregisterTaskDefinition",
            json!({"taskDefinition": td_arn("web", 2)}),
        )
        .await;
    assert_eq!(out["taskDefinition"]["status"], "INACTIVE");
    assert!(out["taskDefinition"]["deregisteredAt"].is_f64());
    let again = f
        .ok(
            "DeregisterTaskDefinition",
            json!({"taskDefinition": "web:2"}),
        )
        .await;
    assert_eq!(
        again["taskDefinition"]["deregisteredAt"],
        out["taskDefinition"]["deregisteredAt"]
    );
    let latest = f
        .ok("DescribeTaskDefinition", json!({"taskDefinition": "web"}))
        .await;
    assert_eq!(latest["taskDefinition"]["revision"], 1);
    // INACTIVE revisions stay describable.
    let inactive = f
        .ok("DescribeTaskDefinition", json!({"taskDefinition": "web:2"}))
        .await;
    assert_eq!(inactive["taskDefinition"]["status"], "INACTIVE");

    for unknown in [
        "nope",
        "web:9",
        &td_arn("nope", 1),
        "arn:aws:ecs:eu-west-1:1:task-definition/web:1",
    ] {
        let msg = f
            .err(
                "DescribeTaskDefinition",
                json!({"taskDefinition": unknown}),
                "ClientException",
            )
            .await;
        assert_eq!(msg, "Unable to describe task definition.");
    }
    for malformed in ["web:x", "web:0", "bad name", ""] {
        let msg = f
            .err(
                "DescribeTaskDefinition",
                json!({"taskDefinition": malformed}),
                "InvalidParameterException",
            )
            .await;
        assert!(msg.starts_with("taskDefinition:"), "{msg}");
    }
    f.err(
        "DescribeTaskDefinition",
        json!({"taskDefinition": "web", "include": ["ALL"]}),
        "InvalidParameterException",
    )
    .await;
}

#[tokio::test]
async fn deregister_needs_a_revision() {
    let f = Fixture::new();
    f.register(echo_def("web", &[])).await;
    let before = f.store.dump();
    let msg = f
        .err(
            "DeregisterTaskDefinition",
            json!({"taskDefinition": "web"}),
            "InvalidParameterException",
        )
        .await;
    assert!(msg.starts_with("taskDefinition:"), "{msg}");
    f.err(
        "DeregisterTaskDefinition",
        json!({"taskDefinition": "web:5"}),
        "ClientException",
    )
    .await;
    f.err(
        "DeregisterTaskDefinition",
        json!({}),
        "InvalidParameterException",
    )
    .await;
    assert_eq!(f.store.dump(), before);
}

async fn list_all(f: &Fixture, op: &str, key: &str, mut body: Value) -> Vec<String> {
    let mut all = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let out = f.ok(op, body.clone()).await;
        for v in out[key].as_array().expect("list") {
            all.push(v.as_str().expect("string").to_owned());
        }
        match out.get("nextToken").and_then(Value::as_str) {
            Some(t) => {
                assert!(seen.insert(t.to_owned()), "token repeated");
                body["nextToken"] = json!(t);
            }
            None => return all,
        }
    }
}

#[tokio::test]
async fn list_definitions_and_families() {
    let f = Fixture::new();
    for family in ["b", "a", "a-b", "a_b"] {
        for _ in 0..2 {
            f.register(echo_def(family, &[])).await;
        }
    }
    f.ok("DeregisterTaskDefinition", json!({"taskDefinition": "b:1"}))
        .await;
    f.ok("DeregisterTaskDefinition", json!({"taskDefinition": "b:2"}))
        .await;

    let asc = list_all(
        &f,
        "ListTaskDefinitions",
        "taskDefinitionArns",
        json!({"maxResults": 1}),
    )
    .await;
    assert_eq!(
        asc,
        vec![
            td_arn("a", 1),
            td_arn("a", 2),
            td_arn("a-b", 1),
            td_arn("a-b", 2),
            td_arn("a_b", 1),
            td_arn("a_b", 2),
        ]
    );
    let desc = list_all(
        &f,
        "ListTaskDefinitions",
        "taskDefinitionArns",
        json!({"sort": "DESC", "maxResults": 4}),
    )
    .await;
    let mut reversed = asc.clone();
    reversed.reverse();
    assert_eq!(desc, reversed);
    // familyPrefix is the whole family name here.
    let a = list_all(
        &f,
        "ListTaskDefinitions",
        "taskDefinitionArns",
        json!({"familyPrefix": "a"}),
    )
    .await;
    assert_eq!(a, vec![td_arn("a", 1), td_arn("a", 2)]);
    let inactive = list_all(
        &f,
        "ListTaskDefinitions",
        "taskDefinitionArns",
        json!({"status": "INACTIVE"}),
    )
    .await;
    assert_eq!(inactive, vec![td_arn("b", 1), td_arn("b", 2)]);

    let families = list_all(
        &f,
        "ListTaskDefinitionFamilies",
        "families",
        json!({"maxResults": 3}),
    )
    .await;
    assert_eq!(families, vec!["a", "a-b", "a_b", "b"]);
    let active = list_all(
        &f,
        "ListTaskDefinitionFamilies",
        "families",
        json!({"status": "ACTIVE", "familyPrefix": "a"}),
    )
    .await;
    assert_eq!(active, vec!["a", "a-b", "a_b"]);
    let inactive = list_all(
        &f,
        "ListTaskDefinitionFamilies",
        "families",
        json!({"status": "INACTIVE"}),
    )
    .await;
    assert_eq!(inactive, vec!["b"]);

    for (op, body) in [
        ("ListTaskDefinitions", json!({"status": "GONE"})),
        ("ListTaskDefinitions", json!({"sort": "UP"})),
        ("ListTaskDefinitions", json!({"maxResults": 0})),
        ("ListTaskDefinitions", json!({"nextToken": "00"})),
        (
            "ListTaskDefinitionFamilies",
            json!({"status": "DELETE_IN_PROGRESS"}),
        ),
        ("ListTaskDefinitionFamilies", json!({"maxResults": 1000})),
        ("ListTaskDefinitionFamilies", json!({"familyPrefix": 1})),
    ] {
        f.err(op, body, "InvalidParameterException").await;
    }
    // A token of one listing is no token of another.
    let out = f
        .ok("ListTaskDefinitionFamilies", json!({"maxResults": 1}))
        .await;
    let token = out["nextToken"].as_str().expect("token");
    f.err(
        "ListTaskDefinitions",
        json!({"nextToken": token}),
        "InvalidParameterException",
    )
    .await;
}
