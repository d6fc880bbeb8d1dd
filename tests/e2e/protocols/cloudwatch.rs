//! The real CloudWatch service (not a probe) through botocore's three serializers:
//! PutMetricData then GetMetricData (a percentile and an expression) and a refused NaN,
//! in smithy-rpc-v2-cbor, awsJson1_0 and awsQuery.

use super::botocore::{Botocore, exchange};
use serde_json::{Value, json};
use std::sync::Arc;
use wasmgate::metrics::{MetricStore, MetricsService};
use wasmgate::protocol::Router;
use wasmgate::state::sqlite::SqliteStateStore;

async fn round_trip(protocol: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteStateStore::open(&dir.path().join("state.db")).unwrap();
    let service = MetricsService::new(
        MetricStore::in_memory(100, 16 << 20),
        Arc::new(state),
        "us-east-1",
        "000000000000",
    );
    let router = Router::builder()
        .service(Arc::new(service))
        .build()
        .unwrap();
    let mut boto = Botocore::start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let minute = now - 120 - (now - 120) % 60;
    let at = |t: u64| {
        let iso = wasmgate::protocol::Timestamp::from_epoch_seconds(t as f64)
            .unwrap()
            .to_iso8601();
        json!({ "$ts": iso })
    };
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    let put = json!({"Namespace": "App", "MetricData": [
        {"MetricName": "Latency", "Dimensions": [{"Name": "Stage", "Value": "prod & test"}],
         "Timestamp": at(minute + 5), "Values": values, "Unit": "Milliseconds", "StorageResolution": 1}]});
    let wire = boto.serialize("cloudwatch", protocol, "PutMetricData", put);
    let resp = exchange(&router, &wire).await;
    assert_eq!(resp.status(), 200, "{protocol}: {:?}", resp.body());

    let metric = json!({"Namespace": "App", "MetricName": "Latency",
        "Dimensions": [{"Name": "Stage", "Value": "prod & test"}]});
    let get = json!({"StartTime": at(minute), "EndTime": at(minute + 60), "MetricDataQueries": [
        {"Id": "p90", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "p90"}},
        {"Id": "half", "Expression": "p90 / 2", "Label": "half of p90"}]});
    let wire = boto.serialize("cloudwatch", protocol, "GetMetricData", get);
    let resp = exchange(&router, &wire).await;
    let parsed = boto.parse("cloudwatch", protocol, "GetMetricData", &resp);
    let results = parsed["MetricDataResults"]
        .as_array()
        .unwrap_or_else(|| panic!("{parsed}"));
    assert_eq!(results.len(), 2, "{protocol}: {parsed}");
    assert_eq!(results[0]["Values"], json!([90.0]), "{protocol}: {parsed}");
    assert_eq!(results[1]["Values"], json!([45.0]), "{protocol}: {parsed}");
    assert_eq!(results[1]["Label"], "half of p90");
    assert_eq!(results[0]["StatusCode"], "Complete");
    assert_eq!(
        results[0]["Timestamps"].as_array().map(Vec::len),
        Some(1),
        "{parsed}"
    );

    // NaN: refused with the member named, whatever the wire.
    let nan = json!({"Namespace": "App", "MetricData": [{"MetricName": "x", "Value": 1.0},
        {"MetricName": "x", "Value": "NaN"}]});
    // botocore will not serialize a NaN from JSON params: send 2.5, then put NaN where it
    // is, in each protocol's form ("NaN" in JSON, `NaN` in a form, a CBOR float).
    let mut good = nan;
    good["MetricData"][1]["Value"] = json!(2.5);
    let mut wire = boto.serialize("cloudwatch", protocol, "PutMetricData", good);
    if protocol == "smithy-rpc-v2-cbor" {
        let mut v: ciborium::Value = ciborium::de::from_reader(wire.body.as_slice()).unwrap();
        fn walk(v: &mut ciborium::Value) {
            match v {
                ciborium::Value::Float(f) if *f == 2.5 => *f = f64::NAN,
                ciborium::Value::Map(m) => m.iter_mut().for_each(|(_, x)| walk(x)),
                ciborium::Value::Array(a) => a.iter_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut v);
        let mut body = Vec::new();
        ciborium::ser::into_writer(&v, &mut body).unwrap();
        wire.body = body;
    } else {
        let text = String::from_utf8(wire.body.clone()).unwrap();
        let nan = if protocol == "json" { "\"NaN\"" } else { "NaN" };
        assert!(text.contains("2.5"), "{text}");
        wire.body = text.replace("2.5", nan).into_bytes();
    }
    let resp = exchange(&router, &wire).await;
    let parsed: Value = boto.parse("cloudwatch", protocol, "PutMetricData", &resp);
    assert_eq!(
        parsed["Error"]["Code"], "InvalidParameterValue",
        "{protocol}: {parsed}"
    );
    let message = parsed["Error"]["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains("The value NaN for parameter MetricData.member.2.Value is invalid"),
        "{protocol}: {message}"
    );
}

#[tokio::test]
async fn cloudwatch_service_over_rpc_v2_cbor() {
    round_trip("smithy-rpc-v2-cbor").await;
}

#[tokio::test]
async fn cloudwatch_service_over_json_1_0() {
    round_trip("json").await;
}

#[tokio::test]
async fn cloudwatch_service_over_query() {
    round_trip("query").await;
}
