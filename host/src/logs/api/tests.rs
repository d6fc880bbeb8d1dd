//! The Logs API over an in-memory store, called as the front end calls it.

use super::*;
use serde_json::json;

fn svc() -> LogsService {
    LogsService::new(LogStore::open_in_memory().expect("store"))
        .with_arn_scope("eu-west-1", "123456789012")
}

fn principal() -> Principal {
    Principal::root("test", "arn:aws:iam::123456789012:user/test")
}

async fn call(s: &LogsService, op: &str, body: Value) -> Result<Value, ApiError> {
    s.call(&principal(), op, body).await
}

async fn ok(s: &LogsService, op: &str, body: Value) -> Value {
    call(s, op, body.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

async fn err(s: &LogsService, op: &str, body: Value) -> ApiError {
    match call(s, op, body.clone()).await {
        Ok(v) => panic!("{op} {body}: expected an error, got {v}"),
        Err(e) => {
            assert!(e.status < 500, "{e}");
            e
        }
    }
}

/// A group with one stream and events `m0..m<n>` at timestamps 1000, 1001, ….
async fn seeded(s: &LogsService, group: &str, stream: &str, n: i64) {
    let _ = call(s, "CreateLogGroup", json!({"logGroupName": group})).await;
    ok(
        s,
        "CreateLogStream",
        json!({"logGroupName": group, "logStreamName": stream}),
    )
    .await;
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"timestamp": 1000 + i, "message": format!("m{i}")}))
        .collect();
    let out = ok(
        s,
        "PutLogEvents",
        json!({"logGroupName": group, "logStreamName": stream, "logEvents": events}),
    )
    .await;
    assert!(out["nextSequenceToken"].is_string());
}

fn messages(v: &Value) -> Vec<&str> {
    v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["message"].as_str().expect("message"))
        .collect()
}

#[tokio::test]
async fn groups_create_describe_delete() {
    let s = svc();
    for g in ["/ecs/web", "/ecs/api", "other"] {
        assert_eq!(
            ok(&s, "CreateLogGroup", json!({"logGroupName": g})).await,
            json!({})
        );
    }
    let e = err(&s, "CreateLogGroup", json!({"logGroupName": "/ecs/web"})).await;
    assert_eq!(e.code, "ResourceAlreadyExistsException");

    let all = ok(&s, "DescribeLogGroups", json!({})).await;
    let names: Vec<&str> = all["logGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["logGroupName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/ecs/api", "/ecs/web", "other"]);
    assert!(all.get("nextToken").is_none(), "no token on the last page");
    let g = &all["logGroups"][0];
    assert_eq!(
        g["arn"],
        "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/api:*"
    );
    assert_eq!(
        g["logGroupArn"],
        "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/api"
    );
    assert!(
        g["creationTime"].as_i64().unwrap() > 1_600_000_000_000,
        "epoch ms"
    );

    // Prefix and pages.
    let p1 = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/", "limit": 1}),
    )
    .await;
    assert_eq!(p1["logGroups"][0]["logGroupName"], "/ecs/api");
    let t = p1["nextToken"].as_str().unwrap();
    let p2 = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/", "limit": 1, "nextToken": t}),
    )
    .await;
    assert_eq!(p2["logGroups"][0]["logGroupName"], "/ecs/web");
    // Pattern: case-insensitive substring.
    let p = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePattern": "WEB"}),
    )
    .await;
    assert_eq!(p["logGroups"].as_array().unwrap().len(), 1);
    let p = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePattern": "e", "limit": 1}),
    )
    .await;
    assert_eq!(p["logGroups"][0]["logGroupName"], "/ecs/api");
    let t = p["nextToken"].as_str().unwrap();
    let p = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePattern": "e", "limit": 1, "nextToken": t}),
    )
    .await;
    assert_eq!(p["logGroups"][0]["logGroupName"], "/ecs/web");
    // Identifiers: names or ARNs; unknown ones are left out.
    let p = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupIdentifiers": [
            "other",
            "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/web:*",
            "missing",
            "arn:aws:logs:us-east-1:999999999999:log-group:/ecs/web",
        ]}),
    )
    .await;
    assert_eq!(p["logGroups"].as_array().unwrap().len(), 2, "{p}");

    let e = err(&s, "DescribeLogGroups", json!({"limit": 51})).await;
    assert_eq!(e.code, "InvalidParameterException");
    assert!(e.message.contains("'limit'"), "{}", e.message);
    let e = err(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "a", "logGroupNamePattern": "b"}),
    )
    .await;
    assert!(e.message.contains("mutually exclusive"), "{}", e.message);
    let e = err(&s, "DescribeLogGroups", json!({"nextToken": "garbage"})).await;
    assert_eq!(e.code, "InvalidParameterException");

    ok(&s, "DeleteLogGroup", json!({"logGroupName": "other"})).await;
    let e = err(&s, "DeleteLogGroup", json!({"logGroupName": "other"})).await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "ResourceNotFoundException",
            "The specified log group does not exist."
        )
    );
    let e = err(&s, "CreateLogGroup", json!({"logGroupName": "has space"})).await;
    assert!(e.message.contains("'logGroupName'"), "{}", e.message);
    let e = err(
        &s,
        "CreateLogGroup",
        json!({"logGroupName": "g", "tags": {"k": 1}}),
    )
    .await;
    assert!(e.message.contains("tags.k"), "{}", e.message);
}

#[tokio::test]
async fn get_log_events() {
    let s = svc();
    seeded(&s, "/ecs/web", "ecs/app/t1", 5).await;
    // Newest page by default, events oldest first within it.
    let tail = ok(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/t1", "limit": 2}),
    )
    .await;
    assert_eq!(messages(&tail), ["m3", "m4"]);
    let e0 = &tail["events"][0];
    assert_eq!(e0["timestamp"], 1003);
    assert!(e0["ingestionTime"].is_i64());
    assert!(tail["nextForwardToken"].is_string() && tail["nextBackwardToken"].is_string());

    // Following forward tokens from the head ends with the same token returned.
    let mut token: Option<String> = None;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let mut q = json!({"logGroupIdentifier": "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/web:*",
                           "logStreamName": "ecs/app/t1", "startFromHead": true, "limit": 2});
        if let Some(t) = &token {
            q["nextToken"] = t.clone().into();
        }
        let page = ok(&s, "GetLogEvents", q).await;
        seen.extend(messages(&page).into_iter().map(str::to_owned));
        let next = page["nextForwardToken"].as_str().unwrap().to_owned();
        if token.as_deref() == Some(next.as_str()) {
            break;
        }
        token = Some(next);
    }
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4"]);

    let range = ok(
        &s,
        "GetLogEvents",
        json!({"logGroupIdentifier": "/ecs/web", "logStreamName": "ecs/app/t1",
               "startTime": 1001, "endTime": 1003, "startFromHead": true}),
    )
    .await;
    assert_eq!(messages(&range), ["m1", "m2"]);

    let both =
        json!({"logGroupName": "/ecs/web", "logGroupIdentifier": "/ecs/web", "logStreamName": "x"});
    let e = err(&s, "GetLogEvents", both).await;
    assert!(
        e.message
            .contains("Exactly one of logGroupName and logGroupIdentifier"),
        "{}",
        e.message
    );
    let e = err(&s, "GetLogEvents", json!({"logStreamName": "x"})).await;
    assert_eq!(e.code, "InvalidParameterException");
    let e = err(&s, "GetLogEvents", json!({"logGroupName": "/ecs/web"})).await;
    assert!(e.message.contains("'logStreamName'"), "{}", e.message);
    let e = err(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/nope", "logStreamName": "x"}),
    )
    .await;
    assert_eq!(e.message, "The specified log group does not exist.");
    let e = err(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/ecs/web", "logStreamName": "x"}),
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "ResourceNotFoundException",
            "The specified log stream does not exist."
        )
    );
    let e = err(
        &s,
        "GetLogEvents",
        json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web", "logStreamName": "ecs/app/t1"}),
    )
    .await;
    assert_eq!(
        e.code, "ResourceNotFoundException",
        "another region's group is not here"
    );
    let e = err(
        &s,
        "GetLogEvents",
        json!({"logGroupIdentifier": "arn:aws:s3:::bucket", "logStreamName": "s"}),
    )
    .await;
    assert!(e.message.contains("logGroupIdentifier"), "{}", e.message);
    let e = err(
        &s,
        "GetLogEvents",
        json!({"logGroupName": 5, "logStreamName": "s"}),
    )
    .await;
    assert!(
        e.message.contains("parameter logGroupName"),
        "{}",
        e.message
    );
    let e = err(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/t1", "limit": 0}),
    )
    .await;
    assert!(e.message.contains("'limit'"), "{}", e.message);
    let e = err(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/t1", "nextToken": "x"}),
    )
    .await;
    assert_eq!(e.message, "The specified nextToken is invalid.");
    let e = err(&s, "GetLogEvents", json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/t1", "startTime": 5, "endTime": 1})).await;
    assert!(e.message.contains("endTime"), "{}", e.message);
}

#[tokio::test]
async fn filter_log_events() {
    let s = svc();
    seeded(&s, "g", "a/1", 3).await;
    seeded(&s, "g", "b/1", 3).await;
    let all = ok(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "g", "interleaved": true}),
    )
    .await;
    assert_eq!(all["events"].as_array().unwrap().len(), 6);
    assert!(all.get("nextToken").is_none());
    assert!(all["searchedLogStreams"].is_array());
    let e = &all["events"][0];
    assert!(
        e["eventId"].is_string() && e["logStreamName"].is_string() && e["ingestionTime"].is_i64()
    );

    let some = ok(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "g", "filterPattern": "\"m1\""}),
    )
    .await;
    assert_eq!(messages(&some), ["m1", "m1"]);
    let some = ok(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "g", "logStreamNames": ["b/1"], "startTime": 1001}),
    )
    .await;
    assert_eq!(messages(&some), ["m1", "m2"]);
    let some = ok(
        &s,
        "FilterLogEvents",
        json!({"logGroupIdentifier": "g", "logStreamNamePrefix": "a/"}),
    )
    .await;
    assert_eq!(messages(&some), ["m0", "m1", "m2"]);

    // Pages of one.
    let mut token: Option<String> = None;
    let mut n = 0;
    loop {
        let mut q = json!({"logGroupName": "g", "limit": 1});
        if let Some(t) = &token {
            q["nextToken"] = t.clone().into();
        }
        let page = ok(&s, "FilterLogEvents", q).await;
        n += page["events"].as_array().unwrap().len();
        match page.get("nextToken").and_then(Value::as_str) {
            Some(t) => {
                assert_ne!(Some(t), token.as_deref(), "a token never repeats");
                token = Some(t.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(n, 6);

    let e = err(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "g", "filterPattern": "{ $.x = 1 }"}),
    )
    .await;
    assert!(e.message.contains("filterPattern"), "{}", e.message);
    let e = err(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "g", "logStreamNames": ["a/1"], "logStreamNamePrefix": "a"}),
    )
    .await;
    assert!(e.message.contains("logStreamNames"), "{}", e.message);
    let e = err(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "g", "logStreamNames": [1]}),
    )
    .await;
    assert!(e.message.contains("logStreamNames[0]"), "{}", e.message);
    let e = err(&s, "FilterLogEvents", json!({"logGroupName": "nope"})).await;
    assert_eq!(e.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn describe_log_streams() {
    let s = svc();
    seeded(&s, "g", "b", 1).await;
    seeded(&s, "g", "a", 2).await;
    ok(
        &s,
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "c"}),
    )
    .await;
    let e = err(
        &s,
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "c"}),
    )
    .await;
    assert_eq!(e.code, "ResourceAlreadyExistsException");
    let e = err(
        &s,
        "CreateLogStream",
        json!({"logGroupName": "nope", "logStreamName": "c"}),
    )
    .await;
    assert_eq!(e.code, "ResourceNotFoundException");

    let out = ok(&s, "DescribeLogStreams", json!({"logGroupName": "g"})).await;
    let names: Vec<&str> = out["logStreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["logStreamName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    let a = &out["logStreams"][0];
    assert_eq!(
        a["arn"],
        "arn:aws:logs:eu-west-1:123456789012:log-group:g:log-stream:a"
    );
    assert_eq!(a["storedBytes"], 0);
    assert_eq!(
        (
            a["firstEventTimestamp"].as_i64(),
            a["lastEventTimestamp"].as_i64()
        ),
        (Some(1000), Some(1001))
    );
    assert!(
        out["logStreams"][2].get("firstEventTimestamp").is_none(),
        "no events yet"
    );

    let desc = ok(
        &s,
        "DescribeLogStreams",
        json!({"logGroupName": "g", "descending": true, "limit": 2}),
    )
    .await;
    assert_eq!(desc["logStreams"][0]["logStreamName"], "c");
    let t = desc["nextToken"].as_str().unwrap();
    let rest = ok(
        &s,
        "DescribeLogStreams",
        json!({"logGroupName": "g", "descending": true, "limit": 2, "nextToken": t}),
    )
    .await;
    assert_eq!(rest["logStreams"].as_array().unwrap().len(), 1);
    assert!(rest.get("nextToken").is_none());

    let by_time = ok(
        &s,
        "DescribeLogStreams",
        json!({"logGroupIdentifier": "g", "orderBy": "LastEventTime", "descending": true}),
    )
    .await;
    assert_eq!(by_time["logStreams"].as_array().unwrap().len(), 3);
    let by_prefix = ok(
        &s,
        "DescribeLogStreams",
        json!({"logGroupName": "g", "logStreamNamePrefix": "b"}),
    )
    .await;
    assert_eq!(by_prefix["logStreams"].as_array().unwrap().len(), 1);

    let e = err(
        &s,
        "DescribeLogStreams",
        json!({"logGroupName": "g", "orderBy": "LastEventTime", "logStreamNamePrefix": "a"}),
    )
    .await;
    assert_eq!(e.code, "InvalidParameterException");
    let e = err(
        &s,
        "DescribeLogStreams",
        json!({"logGroupName": "g", "orderBy": "Size"}),
    )
    .await;
    assert!(e.message.contains("'orderBy'"), "{}", e.message);
    let e = err(&s, "DescribeLogStreams", json!({"logGroupName": "nope"})).await;
    assert_eq!(e.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn put_log_events_rules() {
    let s = svc();
    ok(&s, "CreateLogGroup", json!({"logGroupName": "g"})).await;
    let put =
        |events: Value| json!({"logGroupName": "g", "logStreamName": "s", "logEvents": events});
    let e = err(
        &s,
        "PutLogEvents",
        put(json!([{"timestamp": 1, "message": "x"}])),
    )
    .await;
    assert_eq!(e.message, "The specified log stream does not exist.");
    ok(
        &s,
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "s"}),
    )
    .await;
    let e = err(
        &s,
        "PutLogEvents",
        put(json!([{"timestamp": 2, "message": "x"}, {"timestamp": 1, "message": "y"}])),
    )
    .await;
    assert!(e.message.contains("chronological"), "{}", e.message);
    let e = err(&s, "PutLogEvents", put(json!([]))).await;
    assert!(e.message.contains("logEvents"), "{}", e.message);
    let e = err(&s, "PutLogEvents", put(json!([{"message": "x"}]))).await;
    assert!(
        e.message.contains("logEvents[0].timestamp"),
        "{}",
        e.message
    );
    let e = err(
        &s,
        "PutLogEvents",
        put(json!([{"timestamp": 1, "message": ""}])),
    )
    .await;
    assert!(e.message.contains("logEvents[0].message"), "{}", e.message);
    let e = err(
        &s,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s"}),
    )
    .await;
    assert!(e.message.contains("'logEvents'"), "{}", e.message);
    ok(
        &s,
        "PutLogEvents",
        put(json!([{"timestamp": 1, "message": "x"}, {"timestamp": 1, "message": "y"}])),
    )
    .await;
    let out = ok(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s"}),
    )
    .await;
    assert_eq!(messages(&out), ["x", "y"]);
}

#[tokio::test]
async fn unknown_operation_and_identity() {
    let s = svc();
    let e = err(&s, "PutSubscriptionFilter", json!({})).await;
    assert_eq!(e.code, "UnknownOperationException");
    use crate::protocol::{Protocol, Service};
    assert_eq!(s.signing_name(), "logs");
    assert!(matches!(
        s.protocols(),
        [Protocol::AwsJson1_1 {
            target_prefix: "Logs_20140328"
        }]
    ));
}

#[tokio::test]
async fn retention_policies() {
    let s = svc();
    seeded(&s, "/ecs/web", "a", 3).await;
    let group = |v: &Value| v["logGroups"][0].clone();
    let before = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/web"}),
    )
    .await;
    assert!(
        group(&before).get("retentionInDays").is_none(),
        "no retention until one is put: {before}"
    );
    // storedBytes counts the message bytes stored: m0 m1 m2.
    assert_eq!(group(&before)["storedBytes"], 6);

    for days in [1, 14, 3653] {
        let out = ok(
            &s,
            "PutRetentionPolicy",
            json!({"logGroupName": "/ecs/web", "retentionInDays": days}),
        )
        .await;
        assert_eq!(out, json!({}));
        let d = ok(
            &s,
            "DescribeLogGroups",
            json!({"logGroupNamePrefix": "/ecs/web"}),
        )
        .await;
        assert_eq!(group(&d)["retentionInDays"], days);
    }

    for days in [
        json!(2),
        json!(0),
        json!(-1),
        json!(3654),
        json!(1_i64 << 40),
    ] {
        let e = err(
            &s,
            "PutRetentionPolicy",
            json!({"logGroupName": "/ecs/web", "retentionInDays": days}),
        )
        .await;
        assert_eq!(e.code, "InvalidParameterException", "{days}");
        assert!(e.message.contains("'retentionInDays'"), "{}", e.message);
        assert!(e.message.contains("[1, 3, 5, 7, 14, 30"), "{}", e.message);
    }
    let e = err(
        &s,
        "PutRetentionPolicy",
        json!({"logGroupName": "/ecs/web"}),
    )
    .await;
    assert!(e.message.contains("retentionInDays"), "{}", e.message);
    let e = err(
        &s,
        "PutRetentionPolicy",
        json!({"logGroupName": "/ecs/web", "retentionInDays": "7"}),
    )
    .await;
    assert_eq!(e.code, "InvalidParameterException");
    // The last valid policy is still in force.
    let d = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/web"}),
    )
    .await;
    assert_eq!(group(&d)["retentionInDays"], 3653);

    let e = err(
        &s,
        "PutRetentionPolicy",
        json!({"logGroupName": "/ecs/none", "retentionInDays": 7}),
    )
    .await;
    assert_eq!(e.code, "ResourceNotFoundException");

    let out = ok(
        &s,
        "DeleteRetentionPolicy",
        json!({"logGroupName": "/ecs/web"}),
    )
    .await;
    assert_eq!(out, json!({}));
    let d = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/web"}),
    )
    .await;
    assert!(group(&d).get("retentionInDays").is_none(), "{d}");
    // Deleting again is fine (CloudWatch does not complain either); a missing group is not.
    ok(
        &s,
        "DeleteRetentionPolicy",
        json!({"logGroupName": "/ecs/web"}),
    )
    .await;
    let e = err(
        &s,
        "DeleteRetentionPolicy",
        json!({"logGroupName": "/ecs/none"}),
    )
    .await;
    assert_eq!(e.code, "ResourceNotFoundException");
}
