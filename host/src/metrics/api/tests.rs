use super::*;
use crate::protocol::{Context, Principal, ProtocolKind};
use crate::state::memory::MemStore;
use put::PutMetricDataInput;

fn service() -> MetricsService {
    MetricsService::new(
        MetricStore::in_memory(100, 64 << 20),
        Arc::new(MemStore::default()),
        "us-east-1",
        "000000000000",
    )
}

fn ctx() -> Context {
    Context {
        principal: Principal::root("test", "arn:aws:iam::000000000000:user/test"),
        request_id: "r".into(),
        service: "cloudwatch",
        operation: "PutMetricData",
        protocol: ProtocolKind::RpcV2Cbor,
        unknown_members: Vec::new(),
    }
}

async fn put(s: &MetricsService, body: serde_json::Value) -> Result<(), ApiError> {
    let input: PutMetricDataInput = serde_json::from_value(body).unwrap();
    s.put_metric_data(&ctx(), input).await
}

#[test]
fn serde_paths_become_query_member_paths() {
    assert_eq!(
        aws_path("MetricData[0].Dimensions[2].Name: is required"),
        "MetricData.member.1.Dimensions.member.3.Name: is required"
    );
    let e = service().validation_error("MetricData[1].MetricName: is required".into());
    assert_eq!(e.code, "MissingParameter");
    assert_eq!(
        e.message,
        "The parameter MetricData.member.2.MetricName is required."
    );
}

#[tokio::test]
async fn bad_put_metric_data_names_the_member_and_stores_nothing() {
    let s = service();
    let cases = [
        (
            serde_json::json!({"Namespace": "AWS/ECS", "MetricData": [{"MetricName": "m", "Value": 1.0}]}),
            "InvalidParameterValue",
            "parameter Namespace",
        ),
        (
            serde_json::json!({"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.0}, {"MetricName": "m", "Value": 1.0, "StorageResolution": 5}]}),
            "InvalidParameterValue",
            "MetricData.member.2.StorageResolution",
        ),
        (
            serde_json::json!({"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.0, "Values": [1.0]}]}),
            "InvalidParameterCombination",
            "MetricData.member.1.Value and MetricData.member.1.Values",
        ),
        (
            serde_json::json!({"Namespace": "App", "MetricData": [{"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]}]}),
            "InvalidParameterValue",
            "MetricData.member.1.Counts must be of the same size",
        ),
        (
            serde_json::json!({"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.0, "Unit": "Parsecs"}]}),
            "InvalidParameterValue",
            "MetricData.member.1.Unit",
        ),
        (
            serde_json::json!({"Namespace": "App", "MetricData": []}),
            "MissingParameter",
            "MetricData",
        ),
    ];
    for (body, code, member) in cases {
        let e = put(&s, body.clone()).await.unwrap_err();
        assert_eq!(e.code, code, "{body}: {e}");
        assert!(e.message.contains(member), "{body}: {}", e.message);
    }
    let dims: Vec<_> = (0..31)
        .map(|i| serde_json::json!({"Name": format!("d{i}"), "Value": "v"}))
        .collect();
    let e = put(&s, serde_json::json!({"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.0, "Dimensions": dims}]}))
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "The collection MetricData.member.1.Dimensions must not have a size greater than 30."
    );
    let input = PutMetricDataInput {
        namespace: "App".into(),
        metric_data: Some(vec![put::MetricDatum {
            metric_name: "m".into(),
            dimensions: vec![],
            timestamp: None,
            value: Some(f64::NAN),
            statistic_values: None,
            values: None,
            counts: None,
            unit: None,
            storage_resolution: None,
        }]),
        entity_metric_data: None,
        strict_entity_validation: None,
    };
    let e = s.put_metric_data(&ctx(), input).await.unwrap_err();
    assert!(
        e.message
            .starts_with("The value NaN for parameter MetricData.member.1.Value is invalid."),
        "{e}"
    );
    assert_eq!(s.store().footprint().series, 0, "nothing stored");
}

#[tokio::test]
async fn a_caller_past_its_rate_is_throttled_and_past_its_series_told_the_cap() {
    let config = crate::config::MetricsConfig {
        put_requests_per_second: 2,
        max_series_per_caller: 1,
        ..Default::default()
    };
    let s = service().with_limits(&config);
    let datum = |name: &str| serde_json::json!({"Namespace": "App", "MetricData": [{"MetricName": name, "Value": 1.0}]});
    put(&s, datum("a")).await.unwrap();
    let e = put(&s, datum("b")).await.unwrap_err();
    assert_eq!(e.code, "LimitExceeded");
    assert!(e.message.contains("max_series_per_caller"), "{}", e.message);
    let e = put(&s, datum("a")).await.unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("Throttling", "Rate exceeded")
    );
    assert_eq!(e.status, 400);
}
