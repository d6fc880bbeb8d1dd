//! The protocol layer against botocore itself, for each of awsJson1_0, awsJson1_1, awsQuery,
//! restJson1 and smithy-rpc-v2-cbor: botocore's serializer (with the real service model)
//! makes the request, the router decodes it into the typed input the test expects, and
//! botocore's parser reads the router's response (and errors) into the expected dict.

mod botocore;
mod cloudwatch;
mod services;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use botocore::{Botocore, REQUEST_ID, exchange};
use serde_json::{Value, json};
use services::*;
use wasmgate::protocol::{ProtocolKind, Timestamp};

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("a timestamp")
}

fn meta(status: u16) -> Value {
    json!({"RequestId": REQUEST_ID, "HTTPStatusCode": status})
}

/// PutMetricData with timestamps, dimensions, value lists and a statistic set.
fn metric_params() -> Value {
    json!({"Namespace": "App", "MetricData": [
        {"MetricName": "Latency", "Timestamp": {"$ts": "2024-05-01T12:00:00.5Z"},
         "Dimensions": [{"Name": "Service", "Value": "web"}, {"Name": "Stage", "Value": "prod & test"}],
         "Values": [1.5, 2.0], "Counts": [1.0, 3.0], "Unit": "Milliseconds", "StorageResolution": 1},
        {"MetricName": "Count", "Value": 7.0,
         "StatisticValues": {"SampleCount": 2.0, "Sum": 7.0, "Minimum": 3.0, "Maximum": 4.0}}
    ]})
}

fn expected_metrics() -> PutMetricDataInput {
    PutMetricDataInput {
        namespace: "App".into(),
        metric_data: vec![
            MetricDatum {
                metric_name: "Latency".into(),
                dimensions: vec![
                    Dimension {
                        name: "Service".into(),
                        value: "web".into(),
                    },
                    Dimension {
                        name: "Stage".into(),
                        value: "prod & test".into(),
                    },
                ],
                timestamp: Some(ts("2024-05-01T12:00:00.5Z")),
                value: None,
                statistic_values: None,
                values: vec![1.5, 2.0],
                counts: vec![1.0, 3.0],
                unit: Some("Milliseconds".into()),
                storage_resolution: Some(1),
            },
            MetricDatum {
                metric_name: "Count".into(),
                dimensions: vec![],
                timestamp: None,
                value: Some(7.0),
                statistic_values: Some(StatisticSet {
                    sample_count: 2.0,
                    sum: 7.0,
                    minimum: 3.0,
                    maximum: 4.0,
                }),
                values: vec![],
                counts: vec![],
                unit: None,
                storage_resolution: None,
            },
        ],
    }
}

fn statistics_params() -> Value {
    json!({"Namespace": "App", "MetricName": "Latency",
           "Dimensions": [{"Name": "Service", "Value": "web"}],
           "StartTime": {"$ts": "2024-05-01T12:00:00Z"}, "EndTime": {"$ts": "2024-05-01T13:00:00.250Z"},
           "Period": 60, "Statistics": ["Average", "SampleCount"], "ExtendedStatistics": ["p99"]})
}

fn expected_statistics_input() -> GetMetricStatisticsInput {
    GetMetricStatisticsInput {
        namespace: "App".into(),
        metric_name: "Latency".into(),
        dimensions: vec![Dimension {
            name: "Service".into(),
            value: "web".into(),
        }],
        start_time: ts("2024-05-01T12:00:00Z"),
        end_time: ts("2024-05-01T13:00:00.250Z"),
        period: 60,
        statistics: vec!["Average".into(), "SampleCount".into()],
        extended_statistics: vec!["p99".into()],
    }
}

fn expected_statistics_output() -> Value {
    json!({"Label": "Latency", "Datapoints": [{"Timestamp": "2024-05-01T12:00:00+00:00",
        "SampleCount": 3.0, "Average": 1.5, "Unit": "Milliseconds", "ExtendedStatistics": {"p99": 2.5}}],
        "ResponseMetadata": meta(200)})
}

/// One CloudWatch conversation in `protocol`: PutMetricData and GetMetricStatistics decode
/// into the same typed inputs whatever the protocol, the output parses back, and an error
/// carries the code, message and status.
async fn cloudwatch_in(protocol: &str, kind: ProtocolKind, check_wire: impl Fn(&botocore::Wire)) {
    let (router, seen) = router();
    let mut boto = Botocore::start();

    let wire = boto.serialize("cloudwatch", protocol, "PutMetricData", metric_params());
    check_wire(&wire);
    let resp = exchange(&router, &wire).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    assert_eq!(
        seen.last::<PutMetricDataInput>(),
        (expected_metrics(), kind, vec![])
    );
    let parsed = boto.parse("cloudwatch", protocol, "PutMetricData", &resp);
    // botocore's rpc-v2 parser adds no RequestId for an operation without output.
    let expected = match kind {
        ProtocolKind::RpcV2Cbor => json!({"HTTPStatusCode": 200}),
        _ => meta(200),
    };
    assert_eq!(parsed, json!({"ResponseMetadata": expected}));

    let wire = boto.serialize(
        "cloudwatch",
        protocol,
        "GetMetricStatistics",
        statistics_params(),
    );
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        seen.last::<GetMetricStatisticsInput>().0,
        expected_statistics_input()
    );
    let parsed = boto.parse("cloudwatch", protocol, "GetMetricStatistics", &resp);
    assert_eq!(parsed, expected_statistics_output());

    // A blob out: a CBOR byte string, base64 in JSON and XML.
    let wire = boto.serialize(
        "cloudwatch",
        protocol,
        "GetMetricWidgetImage",
        json!({"MetricWidget": "{\"metrics\":[]}", "OutputFormat": "png"}),
    );
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        seen.last::<GetMetricWidgetImageInput>().0.metric_widget,
        "{\"metrics\":[]}"
    );
    let parsed = boto.parse("cloudwatch", protocol, "GetMetricWidgetImage", &resp);
    assert_eq!(
        parsed["MetricWidgetImage"],
        json!({"$b64": B64.encode(PNG_BYTES)}),
        "{parsed}"
    );

    let wire = boto.serialize(
        "cloudwatch",
        protocol,
        "DeleteAlarms",
        json!({"AlarmNames": ["a", "b"]}),
    );
    let resp = exchange(&router, &wire).await;
    let parsed = boto.parse("cloudwatch", protocol, "DeleteAlarms", &resp);
    assert_eq!(parsed["Error"]["Code"], "ResourceNotFound", "{parsed}");
    assert_eq!(parsed["Error"]["Message"], "No alarm named a, b");
    assert_eq!(parsed["Error"]["Type"], "Sender");
    assert_eq!(parsed["ResponseMetadata"], meta(404));

    // A member of the wrong type: CloudWatch's validation error, naming the member by its
    // path. botocore's text serializers pass a string through with validation off; its CBOR
    // serializer cannot, so the string goes into its valid body instead.
    let wire = if kind == ProtocolKind::RpcV2Cbor {
        let mut wire = boto.serialize("cloudwatch", protocol, "PutMetricData", metric_params());
        wire.body = cbor_replace(
            &wire.body,
            "StorageResolution",
            ciborium::Value::Text("x".into()),
        );
        wire
    } else {
        let mut bad = metric_params();
        bad["MetricData"][0]["StorageResolution"] = json!("x");
        boto.serialize_unchecked("cloudwatch", protocol, "PutMetricData", bad)
    };
    let before = seen.count();
    let resp = exchange(&router, &wire).await;
    let parsed = boto.parse("cloudwatch", protocol, "PutMetricData", &resp);
    assert_eq!(parsed["Error"]["Code"], "InvalidParameterValue", "{parsed}");
    assert_eq!(
        parsed["Error"]["Message"],
        "MetricData[0].StorageResolution: invalid type: string \"x\", expected u32"
    );
    assert_eq!(parsed["ResponseMetadata"]["HTTPStatusCode"], 400);
    assert_eq!(seen.count(), before, "bad input reaches no handler");
}

/// A CBOR body with the first value of `key` (at any depth) replaced.
fn cbor_replace(body: &[u8], key: &str, new: ciborium::Value) -> Vec<u8> {
    fn walk(v: &mut ciborium::Value, key: &str, new: &mut Option<ciborium::Value>) {
        match v {
            ciborium::Value::Map(entries) => {
                for (k, val) in entries {
                    if k.as_text() == Some(key)
                        && let Some(n) = new.take()
                    {
                        *val = n;
                    }
                    walk(val, key, new);
                }
            }
            ciborium::Value::Array(items) => items.iter_mut().for_each(|i| walk(i, key, new)),
            _ => {}
        }
    }
    let mut value: ciborium::Value = ciborium::de::from_reader(body).expect("botocore's CBOR");
    let mut new = Some(new);
    walk(&mut value, key, &mut new);
    assert!(new.is_none(), "{key} is not in the body");
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).expect("CBOR");
    out
}

#[tokio::test]
async fn rpc_v2_cbor_cloudwatch_round_trip() {
    cloudwatch_in("smithy-rpc-v2-cbor", ProtocolKind::RpcV2Cbor, |wire| {
        assert_eq!(
            wire.path,
            "/service/GraniteServiceVersion20100801/operation/PutMetricData"
        );
        assert_eq!(wire.header("smithy-protocol"), Some("rpc-v2-cbor"));
    })
    .await;
}

#[tokio::test]
async fn aws_json_1_0_cloudwatch_round_trip() {
    cloudwatch_in("json", ProtocolKind::AwsJson1_0, |wire| {
        assert_eq!(
            wire.header("Content-Type"),
            Some("application/x-amz-json-1.0")
        );
        assert_eq!(
            wire.header("X-Amz-Target"),
            Some("GraniteServiceVersion20100801.PutMetricData")
        );
    })
    .await;
}

#[tokio::test]
async fn aws_query_cloudwatch_round_trip() {
    cloudwatch_in("query", ProtocolKind::AwsQuery, |wire| {
        let body = String::from_utf8_lossy(&wire.body);
        assert!(
            body.contains("MetricData.member.1.Dimensions.member.2.Value=prod+%26+test"),
            "{body}"
        );
        assert!(
            body.contains("MetricData.member.1.Timestamp=2024-05-01T12%3A00%3A00.500000Z"),
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn aws_json_1_1_ecs_round_trip() {
    let (router, seen) = router();
    let mut boto = Botocore::start();

    let mut wire = boto.serialize(
        "ecs",
        "json",
        "ListClusters",
        json!({"maxResults": 10, "nextToken": "t1"}),
    );
    assert_eq!(
        wire.header("Content-Type"),
        Some("application/x-amz-json-1.1")
    );
    // A member from a newer model than the service's: ignored, and reported to the handler.
    let mut body: Value = serde_json::from_slice(&wire.body).expect("JSON");
    body["futureMember"] = json!({"x": 1});
    wire.body = serde_json::to_vec(&body).expect("JSON");
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        seen.last::<ListClustersInput>(),
        (
            ListClustersInput {
                next_token: Some("t1".into()),
                max_results: Some(10)
            },
            ProtocolKind::AwsJson1_1,
            vec!["futureMember".to_owned()]
        )
    );
    assert_eq!(
        boto.parse("ecs", "json", "ListClusters", &resp),
        json!({"clusterArns": ["arn:aws:ecs:us-east-1:000000000000:cluster/default"], "nextToken": "t2",
               "ResponseMetadata": meta(200)})
    );

    let params = json!({"family": "web", "cpu": "256",
        "containerDefinitions": [
            {"name": "app", "image": "app.wasm", "memory": 128, "essential": true,
             "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
             "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"}]},
            {"name": "side", "image": "side.wasm"}],
        "tags": [{"key": "team", "value": "core"}]});
    let wire = boto.serialize("ecs", "json", "RegisterTaskDefinition", params);
    let resp = exchange(&router, &wire).await;
    let (input, kind, unknown) = seen.last::<RegisterTaskDefinitionInput>();
    assert_eq!(kind, ProtocolKind::AwsJson1_1);
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(input.container_definitions.len(), 2);
    assert_eq!(
        input.container_definitions[0].port_mappings[0],
        PortMapping {
            container_port: 8080,
            protocol: Some("tcp".into())
        }
    );
    assert_eq!(
        input.container_definitions[0].environment[1],
        KeyValue {
            name: "B".into(),
            value: "x=y".into()
        }
    );
    assert_eq!(input.container_definitions[1].memory, None);
    assert_eq!(
        input.tags,
        [EcsTag {
            key: "team".into(),
            value: "core".into()
        }]
    );
    let parsed = boto.parse("ecs", "json", "RegisterTaskDefinition", &resp);
    assert_eq!(parsed["taskDefinition"]["revision"], 1);
    assert_eq!(
        parsed["taskDefinition"]["registeredAt"],
        "2024-05-01T12:00:00.250000+00:00"
    );

    // The issue's example: a string where ECS wants an integer.
    let bad = json!({"family": "web", "containerDefinitions": [
        {"name": "a", "memory": 64}, {"name": "b", "memory": "x"}]});
    let wire = boto.serialize_unchecked("ecs", "json", "RegisterTaskDefinition", bad);
    let resp = exchange(&router, &wire).await;
    let parsed = boto.parse("ecs", "json", "RegisterTaskDefinition", &resp);
    assert_eq!(
        parsed["Error"],
        json!({"Code": "InvalidParameterException",
               "Message": "containerDefinitions[1].memory: invalid type: string \"x\", expected u32"})
    );
    assert_eq!(parsed["ResponseMetadata"], meta(400));
}

#[tokio::test]
async fn aws_query_sts_iam_sns_round_trip() {
    let (router, seen) = router();
    let mut boto = Botocore::start();

    // Lists of structures and of strings in; nested structures and a timestamp out.
    let params = json!({"RoleArn": "arn:aws:iam::000000000000:role/deploy", "RoleSessionName": "ci-run",
        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}], "DurationSeconds": 900,
        "Tags": [{"Key": "project", "Value": "wasm & gate"}, {"Key": "env", "Value": "ci"}],
        "TransitiveTagKeys": ["project"]});
    let wire = boto.serialize("sts", "query", "AssumeRole", params);
    let resp = exchange(&router, &wire).await;
    assert_eq!(resp.headers()["content-type"], "text/xml");
    assert_eq!(
        seen.last::<AssumeRoleInput>().0,
        AssumeRoleInput {
            role_arn: "arn:aws:iam::000000000000:role/deploy".into(),
            role_session_name: "ci-run".into(),
            policy_arns: vec![PolicyDescriptor {
                arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into()
            }],
            duration_seconds: Some(900),
            tags: vec![
                Tag {
                    key: "project".into(),
                    value: "wasm & gate".into()
                },
                Tag {
                    key: "env".into(),
                    value: "ci".into()
                },
            ],
            transitive_tag_keys: vec!["project".into()],
        }
    );
    assert_eq!(
        boto.parse("sts", "query", "AssumeRole", &resp),
        json!({"Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s3cr3t/+=",
                  "SessionToken": "token<&>", "Expiration": "2024-05-01T13:00:00+00:00"},
               "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:ci-run",
                  "Arn": "arn:aws:iam::000000000000:role/deploy/ci-run"},
               "PackedPolicySize": 6, "ResponseMetadata": meta(200)})
    );

    let wire = boto.serialize("sts", "query", "GetCallerIdentity", json!({}));
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        boto.parse("sts", "query", "GetCallerIdentity", &resp),
        json!({"UserId": "test", "Account": "000000000000", "Arn": "arn:aws:iam::000000000000:user/test",
               "ResponseMetadata": meta(200)})
    );

    // IAM: tags in and out, a map out, a modeled error.
    let wire = boto.serialize(
        "iam",
        "query",
        "CreateUser",
        json!({"UserName": "bob", "Tags": [{"Key": "k", "Value": "v"}]}),
    );
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        boto.parse("iam", "query", "CreateUser", &resp),
        json!({"User": {"Path": "/", "UserName": "bob", "UserId": "AIDAEXAMPLE",
                  "Arn": "arn:aws:iam::000000000000:user/bob", "CreateDate": "2024-05-01T12:00:00+00:00",
                  "Tags": [{"Key": "k", "Value": "v"}]},
               "ResponseMetadata": meta(200)})
    );
    let wire = boto.serialize("iam", "query", "GetAccountSummary", json!({}));
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        boto.parse("iam", "query", "GetAccountSummary", &resp),
        json!({"SummaryMap": {"Roles": 0, "Users": 3}, "ResponseMetadata": meta(200)})
    );
    let wire = boto.serialize("iam", "query", "GetUser", json!({"UserName": "nobody"}));
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        boto.parse("iam", "query", "GetUser", &resp),
        json!({"Error": {"Type": "Sender", "Code": "NoSuchEntity",
                  "Message": "The user with name nobody cannot be found."},
               "ResponseMetadata": meta(404)})
    );

    // SNS: a map in (`Attributes.entry.N.key/value`) and a map out.
    let wire = boto.serialize(
        "sns",
        "query",
        "CreateTopic",
        json!({"Name": "alerts", "Attributes": {"DisplayName": "Alerts", "FifoTopic": "false"},
               "Tags": [{"Key": "team", "Value": "ops"}]}),
    );
    let resp = exchange(&router, &wire).await;
    let (input, _, unknown) = seen.last::<CreateTopicInput>();
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(
        input.attributes.get("DisplayName").map(String::as_str),
        Some("Alerts")
    );
    assert_eq!(
        input.attributes.get("FifoTopic").map(String::as_str),
        Some("false")
    );
    assert_eq!(
        input.tags,
        [Tag {
            key: "team".into(),
            value: "ops".into()
        }]
    );
    assert_eq!(
        boto.parse("sns", "query", "CreateTopic", &resp)["TopicArn"],
        "arn:aws:sns:us-east-1:000000000000:alerts"
    );
    let wire = boto.serialize(
        "sns",
        "query",
        "GetTopicAttributes",
        json!({"TopicArn": "arn:t"}),
    );
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        boto.parse("sns", "query", "GetTopicAttributes", &resp)["Attributes"],
        json!({"TopicArn": "arn:t", "Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"})
    );

    // A bad value: STS's validation error in the awsQuery error shape.
    let wire = boto.serialize_unchecked(
        "sts",
        "query",
        "AssumeRole",
        json!({"RoleArn": "r", "RoleSessionName": "s", "DurationSeconds": "soon"}),
    );
    let resp = exchange(&router, &wire).await;
    let parsed = boto.parse("sts", "query", "AssumeRole", &resp);
    assert_eq!(
        parsed["Error"],
        json!({"Type": "Sender", "Code": "ValidationError",
               "Message": "DurationSeconds: invalid type: string \"soon\", expected u32"})
    );
}

#[tokio::test]
async fn rest_json_scheduler_round_trip() {
    let (router, seen) = router();
    let mut boto = Botocore::start();

    let params = json!({"Name": "nightly run", "GroupName": "ops", "ScheduleExpression": "cron(0 3 * * ? *)",
        "StartDate": {"$ts": "2024-06-01T00:00:00Z"}, "State": "ENABLED", "ClientToken": "tok-1",
        "Target": {"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": "arn:aws:iam::000000000000:role/r",
                   "Input": "{\"a\":1}", "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}},
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}});
    let wire = boto.serialize("scheduler", "rest-json", "CreateSchedule", params);
    assert_eq!(
        (wire.method.as_str(), wire.path.as_str()),
        ("POST", "/schedules/nightly%20run")
    );
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        seen.last::<CreateScheduleInput>().0,
        CreateScheduleInput {
            name: "nightly run".into(),
            group_name: Some("ops".into()),
            schedule_expression: "cron(0 3 * * ? *)".into(),
            start_date: Some(ts("2024-06-01T00:00:00Z")),
            state: Some("ENABLED".into()),
            target: Target {
                arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
                role_arn: "arn:aws:iam::000000000000:role/r".into(),
                input: Some("{\"a\":1}".into()),
                retry_policy: Some(RetryPolicy {
                    maximum_event_age_in_seconds: Some(600),
                    maximum_retry_attempts: Some(3)
                }),
            },
            flexible_time_window: FlexibleTimeWindow {
                mode: "FLEXIBLE".into(),
                maximum_window_in_minutes: Some(15)
            },
            client_token: Some("tok-1".into()),
        }
    );
    assert_eq!(
        boto.parse("scheduler", "rest-json", "CreateSchedule", &resp),
        json!({"ScheduleArn": "arn:aws:scheduler:us-east-1:000000000000:schedule/default/nightly run",
               "ResponseMetadata": meta(200)})
    );

    let wire = boto.serialize(
        "scheduler",
        "rest-json",
        "GetSchedule",
        json!({"Name": "a", "GroupName": "ops"}),
    );
    assert_eq!(wire.path, "/schedules/a?groupName=ops");
    let resp = exchange(&router, &wire).await;
    let parsed = boto.parse("scheduler", "rest-json", "GetSchedule", &resp);
    assert_eq!(parsed["GroupName"], "ops");
    assert_eq!(parsed["CreationDate"], "2024-05-01T12:00:00.500000+00:00");
    assert_eq!(
        parsed["Target"]["RetryPolicy"],
        json!({"MaximumRetryAttempts": 2})
    );

    let wire = boto.serialize(
        "scheduler",
        "rest-json",
        "ListSchedules",
        json!({"GroupName": "ops", "NamePrefix": "ni", "State": "ENABLED", "MaxResults": 5}),
    );
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        seen.last::<ListSchedulesInput>().0,
        ListSchedulesInput {
            group_name: Some("ops".into()),
            name_prefix: Some("ni".into()),
            state: Some("ENABLED".into()),
            max_results: Some(5),
            next_token: None,
        }
    );
    assert_eq!(
        boto.parse("scheduler", "rest-json", "ListSchedules", &resp)["Schedules"],
        json!([{"Arn": "arn:s", "Name": "a", "State": "ENABLED"}])
    );

    let wire = boto.serialize(
        "scheduler",
        "rest-json",
        "DeleteSchedule",
        json!({"Name": "a", "ClientToken": "t"}),
    );
    assert_eq!(wire.method, "DELETE");
    let resp = exchange(&router, &wire).await;
    assert_eq!(
        seen.last::<NameInput>().0.client_token.as_deref(),
        Some("t")
    );
    assert_eq!(
        boto.parse("scheduler", "rest-json", "DeleteSchedule", &resp),
        json!({"ResponseMetadata": meta(200)})
    );

    let wire = boto.serialize(
        "scheduler",
        "rest-json",
        "GetSchedule",
        json!({"Name": "missing"}),
    );
    let resp = exchange(&router, &wire).await;
    let parsed = boto.parse("scheduler", "rest-json", "GetSchedule", &resp);
    assert_eq!(
        parsed["Error"]["Code"], "ResourceNotFoundException",
        "{parsed}"
    );
    assert_eq!(
        parsed["Error"]["Message"],
        "Schedule missing does not exist."
    );
    assert_eq!(parsed["ResponseMetadata"], meta(404));

    // A bad query-string value names the member.
    let wire = boto.serialize_unchecked(
        "scheduler",
        "rest-json",
        "ListSchedules",
        json!({"MaxResults": "lots"}),
    );
    let resp = exchange(&router, &wire).await;
    let parsed = boto.parse("scheduler", "rest-json", "ListSchedules", &resp);
    assert_eq!(parsed["Error"]["Code"], "ValidationException");
    assert_eq!(
        parsed["Error"]["Message"],
        "MaxResults: invalid type: string \"lots\", expected u32"
    );
}

#[tokio::test]
async fn one_handler_answers_cbor_and_json_1_1_for_cloud_map() {
    let (router, seen) = router();
    let mut boto = Botocore::start();
    let params = json!({"Name": "internal", "CreatorRequestId": "req-9", "Description": "d",
                        "Tags": [{"Key": "a", "Value": ""}]});
    for (protocol, kind) in [
        ("smithy-rpc-v2-cbor", ProtocolKind::RpcV2Cbor),
        ("json", ProtocolKind::AwsJson1_1),
    ] {
        let wire = boto.serialize(
            "servicediscovery",
            protocol,
            "CreateHttpNamespace",
            params.clone(),
        );
        let resp = exchange(&router, &wire).await;
        assert_eq!(
            seen.last::<CreateHttpNamespaceInput>(),
            (
                CreateHttpNamespaceInput {
                    name: "internal".into(),
                    creator_request_id: Some("req-9".into()),
                    description: Some("d".into()),
                    tags: vec![Tag {
                        key: "a".into(),
                        value: String::new()
                    }],
                },
                kind,
                vec![]
            )
        );
        assert_eq!(
            boto.parse("servicediscovery", protocol, "CreateHttpNamespace", &resp),
            json!({"OperationId": "op-internal", "ResponseMetadata": meta(200)})
        );
    }
    assert_eq!(seen.count(), 2);
}

#[tokio::test]
async fn aws_json_1_1_secrets_manager_blob_in() {
    let (router, seen) = router();
    let mut boto = Botocore::start();
    let params = json!({"SecretId": "db", "ClientRequestToken": "00000000-0000-0000-0000-000000000001",
        "SecretBinary": {"$b64": B64.encode(PNG_BYTES)}, "VersionStages": ["AWSCURRENT", "next"]});
    let wire = boto.serialize("secretsmanager", "json", "PutSecretValue", params);
    let resp = exchange(&router, &wire).await;
    let (input, kind, _) = seen.last::<PutSecretValueInput>();
    assert_eq!(kind, ProtocolKind::AwsJson1_1);
    assert_eq!(
        input.secret_binary.as_ref().map(|b| b.0.as_slice()),
        Some(PNG_BYTES)
    );
    assert_eq!(input.version_stages, ["AWSCURRENT", "next"]);
    assert_eq!(
        boto.parse("secretsmanager", "json", "PutSecretValue", &resp),
        json!({"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf", "Name": "db",
               "VersionId": "00000000-0000-0000-0000-000000000001", "VersionStages": ["AWSCURRENT", "next"],
               "ResponseMetadata": meta(200)})
    );
}
