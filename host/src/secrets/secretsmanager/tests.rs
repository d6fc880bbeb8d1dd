//! Secrets Manager through its operation table over an in-memory store.

use serde_json::{Value, json};

use super::SecretsManagerService;
use super::store::KIND;
use crate::protocol::ApiError;
use crate::secrets::test_support::{call, dump, vault};

async fn ok(s: &SecretsManagerService, op: &'static str, input: Value) -> Value {
    call(s, op, input.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {input}: {e}"))
}

async fn err(s: &SecretsManagerService, op: &'static str, input: Value) -> ApiError {
    match call(s, op, input.clone()).await {
        Ok(v) => panic!("{op} {input} should fail, answered {v}"),
        Err(e) => e,
    }
}

fn service() -> (
    SecretsManagerService,
    std::sync::Arc<crate::state::memory::MemStore>,
) {
    let (v, store) = vault();
    (SecretsManagerService::new(v), store)
}

#[tokio::test]
async fn create_get_put_moves_staging_labels_and_seals_values() {
    let (s, store) = service();
    let created = ok(
        &s,
        "CreateSecret",
        json!({"Name": "prod/db",
        "SecretString": "{\"user\":\"admin\",\"password\":\"s3cr3t-pw\"}",
        "Description": "database", "Tags": [{"Key": "team", "Value": "blue"}]}),
    )
    .await;
    let arn = created["ARN"].as_str().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-"));
    assert_eq!(
        arn.len(),
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-".len() + 6
    );
    let v1 = created["VersionId"].as_str().unwrap().to_owned();
    assert!(
        !dump(&store, KIND).contains("s3cr3t"),
        "clear secret in the store"
    );

    let got = ok(&s, "GetSecretValue", json!({"SecretId": "prod/db"})).await;
    assert!(got["SecretString"].as_str().unwrap().contains("s3cr3t-pw"));
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));
    assert_eq!(got["VersionId"], v1);

    let put = ok(
        &s,
        "PutSecretValue",
        json!({"SecretId": arn, "SecretString": "second"}),
    )
    .await;
    let v2 = put["VersionId"].as_str().unwrap().to_owned();
    assert_eq!(put["VersionStages"], json!(["AWSCURRENT"]));
    let prev = ok(
        &s,
        "GetSecretValue",
        json!({"SecretId": "prod/db", "VersionStage": "AWSPREVIOUS"}),
    )
    .await;
    assert_eq!(prev["VersionId"], v1);
    let by_id = ok(
        &s,
        "GetSecretValue",
        json!({"SecretId": "prod/db", "VersionId": v2}),
    )
    .await;
    assert_eq!(by_id["SecretString"], "second");
    // A third value: the first version loses AWSPREVIOUS.
    ok(
        &s,
        "PutSecretValue",
        json!({"SecretId": "prod/db", "SecretString": "third"}),
    )
    .await;
    let d = ok(&s, "DescribeSecret", json!({"SecretId": "prod/db"})).await;
    let stages = d["VersionIdsToStages"].as_object().unwrap();
    assert_eq!(stages.len(), 2, "{d}");
    assert_eq!(stages[&v2], json!(["AWSPREVIOUS"]));
    assert!(!stages.contains_key(&v1));
    assert_eq!(d["Tags"], json!([{"Key": "team", "Value": "blue"}]));
    assert!(!d.to_string().contains("third"));
    // Partial ARN (no suffix).
    let partial = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db";
    assert_eq!(
        ok(&s, "GetSecretValue", json!({"SecretId": partial})).await["SecretString"],
        "third"
    );
    let e = err(
        &s,
        "GetSecretValue",
        json!({"SecretId": "prod/db", "VersionStage": "NOPE"}),
    )
    .await;
    assert_eq!(e.code, "ResourceNotFoundException");
    let e = err(&s, "GetSecretValue", json!({"SecretId": "prod/nothing"})).await;
    assert_eq!(e.code, "ResourceNotFoundException");
    let e = err(
        &s,
        "CreateSecret",
        json!({"Name": "prod/db", "SecretString": "x"}),
    )
    .await;
    assert_eq!(e.code, "ResourceExistsException");
}

#[tokio::test]
async fn client_request_tokens_make_puts_idempotent() {
    let (s, _) = service();
    ok(
        &s,
        "CreateSecret",
        json!({"Name": "t", "SecretBinary": "AAEC"}),
    )
    .await;
    let b = ok(&s, "GetSecretValue", json!({"SecretId": "t"})).await;
    assert_eq!(b["SecretBinary"], "AAEC");
    assert!(b.get("SecretString").is_none());
    let token = "0123456789abcdef0123456789abcdef";
    let first = ok(
        &s,
        "PutSecretValue",
        json!({"SecretId": "t", "SecretString": "a", "ClientRequestToken": token}),
    )
    .await;
    let again = ok(
        &s,
        "PutSecretValue",
        json!({"SecretId": "t", "SecretString": "a", "ClientRequestToken": token}),
    )
    .await;
    assert_eq!(first["VersionId"], again["VersionId"]);
    let e = err(
        &s,
        "PutSecretValue",
        json!({"SecretId": "t", "SecretString": "b", "ClientRequestToken": token}),
    )
    .await;
    assert_eq!(e.code, "ResourceExistsException");
}

#[tokio::test]
async fn delete_restore_and_force() {
    let (s, _) = service();
    ok(
        &s,
        "CreateSecret",
        json!({"Name": "gone", "SecretString": "v"}),
    )
    .await;
    let e = err(
        &s,
        "DeleteSecret",
        json!({"SecretId": "gone", "RecoveryWindowInDays": 6}),
    )
    .await;
    assert_eq!(e.code, "InvalidParameterException");
    assert!(e.message.contains("RecoveryWindowInDays"));
    let e = err(
        &s,
        "DeleteSecret",
        json!({"SecretId": "gone", "RecoveryWindowInDays": 7,
        "ForceDeleteWithoutRecovery": true}),
    )
    .await;
    assert_eq!(e.code, "InvalidParameterException");
    let d = ok(
        &s,
        "DeleteSecret",
        json!({"SecretId": "gone", "RecoveryWindowInDays": 7}),
    )
    .await;
    let days =
        (d["DeletionDate"].as_f64().unwrap() - crate::secrets::now_ms() as f64 / 1000.0) / 86400.0;
    assert!((6.9..7.1).contains(&days), "{days}");
    let e = err(&s, "GetSecretValue", json!({"SecretId": "gone"})).await;
    assert_eq!(e.code, "InvalidRequestException");
    assert!(e.message.contains("marked for deletion"));
    assert!(ok(&s, "DescribeSecret", json!({"SecretId": "gone"})).await["DeletedDate"].is_number());
    let e = err(
        &s,
        "CreateSecret",
        json!({"Name": "gone", "SecretString": "x"}),
    )
    .await;
    assert_eq!(e.code, "InvalidRequestException");
    let listed = ok(&s, "ListSecrets", json!({})).await;
    assert_eq!(listed["SecretList"], json!([]));
    let listed = ok(&s, "ListSecrets", json!({"IncludePlannedDeletion": true})).await;
    assert_eq!(listed["SecretList"].as_array().unwrap().len(), 1);
    ok(&s, "RestoreSecret", json!({"SecretId": "gone"})).await;
    assert_eq!(
        ok(&s, "GetSecretValue", json!({"SecretId": "gone"})).await["SecretString"],
        "v"
    );
    ok(
        &s,
        "DeleteSecret",
        json!({"SecretId": "gone", "ForceDeleteWithoutRecovery": true}),
    )
    .await;
    assert_eq!(
        err(&s, "DescribeSecret", json!({"SecretId": "gone"}))
            .await
            .code,
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn list_filters_and_pages() {
    let (s, _) = service();
    for (name, desc, team) in [
        ("app/a", "Alpha db", "blue"),
        ("app/b", "beta", "red"),
        ("other", "misc", "blue"),
    ] {
        ok(
            &s,
            "CreateSecret",
            json!({"Name": name, "SecretString": "v", "Description": desc,
            "Tags": [{"Key": "team", "Value": team}]}),
        )
        .await;
    }
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> = v["SecretList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let f = |key: &str, values: Value| json!({"Filters": [{"Key": key, "Values": values}]});
    assert_eq!(
        names(&ok(&s, "ListSecrets", f("name", json!(["app/"]))).await),
        ["app/a", "app/b"]
    );
    assert_eq!(
        names(&ok(&s, "ListSecrets", f("description", json!(["alpha"]))).await),
        ["app/a"]
    );
    assert_eq!(
        names(&ok(&s, "ListSecrets", f("tag-value", json!(["blue"]))).await),
        ["app/a", "other"]
    );
    assert_eq!(
        names(&ok(&s, "ListSecrets", f("tag-key", json!(["team"]))).await).len(),
        3
    );
    assert_eq!(
        names(&ok(&s, "ListSecrets", f("name", json!(["!app"]))).await),
        ["other"]
    );
    assert_eq!(
        names(&ok(&s, "ListSecrets", f("all", json!(["BETA"]))).await),
        ["app/b"]
    );
    let mut seen = Vec::new();
    let mut token: Option<Value> = None;
    loop {
        let mut input = json!({"MaxResults": 2, "SortBy": "name", "SortOrder": "asc"});
        if let Some(t) = &token {
            input["NextToken"] = t.clone();
        }
        let page = ok(&s, "ListSecrets", input).await;
        seen.extend(
            page["SecretList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["Name"].as_str().unwrap().to_owned()),
        );
        assert!(page["SecretList"][0]["SecretVersionsToStages"].is_object());
        token = page.get("NextToken").cloned();
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["app/a", "app/b", "other"]);
    let e = err(&s, "ListSecrets", json!({"NextToken": "x"})).await;
    assert_eq!(e.code, "InvalidNextTokenException");
    let e = err(
        &s,
        "ListSecrets",
        json!({"Filters": [{"Key": "colour", "Values": ["x"]}]}),
    )
    .await;
    assert_eq!(e.code, "ValidationException");
}

#[tokio::test]
async fn bad_input_names_the_member() {
    let (s, store) = service();
    let cases = [
        (
            "CreateSecret",
            json!({"Name": "a b", "SecretString": "v"}),
            "ValidationException",
            "Name",
        ),
        (
            "CreateSecret",
            json!({"Name": "big", "SecretString": "x".repeat(65_537)}),
            "ValidationException",
            "secretString",
        ),
        (
            "CreateSecret",
            json!({"Name": "both", "SecretString": "v", "SecretBinary": "AA=="}),
            "InvalidParameterException",
            "SecretBinary",
        ),
        (
            "CreateSecret",
            json!({"Name": "tok", "SecretString": "v", "ClientRequestToken": "short"}),
            "ValidationException",
            "clientRequestToken",
        ),
        (
            "GetSecretValue",
            json!({"SecretId": "arn:aws:s3:::bucket"}),
            "InvalidParameterException",
            "SecretId",
        ),
        (
            "PutSecretValue",
            json!({"SecretId": "x"}),
            "InvalidParameterException",
            "SecretString",
        ),
    ];
    for (op, input, code, says) in cases {
        let e = err(&s, op, input.clone()).await;
        assert_eq!(e.code, code, "{op} {input}: {e}");
        assert!(e.message.contains(says), "{op} {input}: {e}");
    }
    assert_eq!(dump(&store, KIND), "");
    // 64 KiB exactly is fine.
    ok(
        &s,
        "CreateSecret",
        json!({"Name": "max", "SecretString": "x".repeat(65_536)}),
    )
    .await;
}
