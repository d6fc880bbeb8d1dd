//! Parameter Store through its operation table (typed decoding, errors as the wire has
//! them) over an in-memory store.

use serde_json::{Value, json};

use super::SsmService;
use super::store::KIND;
use crate::protocol::ApiError;
use crate::secrets::test_support::{call, dump, vault};

async fn ok(s: &SsmService, op: &'static str, input: Value) -> Value {
    call(s, op, input.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {input}: {e}"))
}

async fn err(s: &SsmService, op: &'static str, input: Value) -> ApiError {
    match call(s, op, input.clone()).await {
        Ok(v) => panic!("{op} {input} should fail, answered {v}"),
        Err(e) => e,
    }
}

fn service() -> (SsmService, std::sync::Arc<crate::state::memory::MemStore>) {
    let (v, store) = vault();
    (SsmService::new(v), store)
}

#[tokio::test]
async fn a_secure_string_is_sealed_at_rest_and_opaque_without_decryption() {
    let (s, store) = service();
    let out = ok(
        &s,
        "PutParameter",
        json!({"Name": "/app/db/password", "Value": "hunter2-secret", "Type": "SecureString"}),
    )
    .await;
    assert_eq!(out, json!({"Version": 1, "Tier": "Standard"}));
    ok(
        &s,
        "PutParameter",
        json!({"Name": "/app/db/host", "Value": "db.internal", "Type": "String"}),
    )
    .await;
    let raw = dump(&store, KIND);
    assert!(
        !raw.contains("hunter2-secret"),
        "clear SecureString in the store: {raw}"
    );
    assert!(
        raw.contains("db.internal"),
        "a String parameter is stored as given"
    );

    let clear = ok(
        &s,
        "GetParameter",
        json!({"Name": "/app/db/password", "WithDecryption": true}),
    )
    .await;
    let p = &clear["Parameter"];
    assert_eq!(p["Value"], "hunter2-secret");
    assert_eq!(p["Type"], "SecureString");
    assert_eq!(
        p["ARN"],
        "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/password"
    );
    assert_eq!(p["DataType"], "text");
    assert!(p["LastModifiedDate"].is_number());
    let opaque = ok(&s, "GetParameter", json!({"Name": "/app/db/password"})).await;
    let v = opaque["Parameter"]["Value"].as_str().unwrap();
    assert_ne!(v, "hunter2-secret");
    assert!(!v.contains("hunter2"));
    use base64::Engine;
    assert!(
        base64::engine::general_purpose::STANDARD.decode(v).is_ok(),
        "{v}"
    );
}

#[tokio::test]
async fn versions_selectors_and_history() {
    let (s, _) = service();
    let put = |v: &str, overwrite: bool| {
        json!({"Name": "/cfg/level", "Value": v, "Type": "String", "Overwrite": overwrite,
               "Description": format!("level {v}")})
    };
    ok(&s, "PutParameter", put("one", false)).await;
    let e = err(&s, "PutParameter", put("two", false)).await;
    assert_eq!(e.code, "ParameterAlreadyExists");
    assert_eq!(ok(&s, "PutParameter", put("two", true)).await["Version"], 2);
    assert_eq!(
        ok(&s, "PutParameter", put("three", true)).await["Version"],
        3
    );

    let v1 = ok(&s, "GetParameter", json!({"Name": "/cfg/level:1"})).await;
    assert_eq!(v1["Parameter"]["Value"], "one");
    assert_eq!(v1["Parameter"]["Selector"], ":1");
    assert_eq!(v1["Parameter"]["Name"], "/cfg/level");
    let arn = ok(
        &s,
        "GetParameter",
        json!({"Name": "arn:aws:ssm:us-east-1:000000000000:parameter/cfg/level"}),
    )
    .await;
    assert_eq!(arn["Parameter"]["Value"], "three");
    let e = err(&s, "GetParameter", json!({"Name": "/cfg/level:9"})).await;
    assert_eq!(e.code, "ParameterVersionNotFound");
    let e = err(&s, "GetParameter", json!({"Name": "/cfg/level:prod"})).await;
    assert_eq!(e.code, "ParameterVersionNotFound");
    let e = err(&s, "GetParameter", json!({"Name": "/cfg/nothing"})).await;
    assert_eq!(e.code, "ParameterNotFound");
    assert!(e.message.contains("/cfg/nothing"));

    let h = ok(
        &s,
        "GetParameterHistory",
        json!({"Name": "/cfg/level", "MaxResults": 2}),
    )
    .await;
    let values: Vec<_> = h["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Value"].clone())
        .collect();
    assert_eq!(values, ["one", "two"]);
    assert_eq!(h["Parameters"][1]["Description"], "level two");
    let rest = ok(
        &s,
        "GetParameterHistory",
        json!({"Name": "/cfg/level", "NextToken": h["NextToken"]}),
    )
    .await;
    assert_eq!(rest["Parameters"][0]["Version"], 3);
    assert!(rest.get("NextToken").is_none());
}

#[tokio::test]
async fn get_parameters_reports_missing_names() {
    let (s, _) = service();
    ok(
        &s,
        "PutParameter",
        json!({"Name": "a", "Value": "1", "Type": "String"}),
    )
    .await;
    let out = ok(&s, "GetParameters", json!({"Names": ["a", "b", "a:7"]})).await;
    assert_eq!(out["Parameters"].as_array().unwrap().len(), 1);
    assert_eq!(out["InvalidParameters"], json!(["b", "a:7"]));
    let e = err(&s, "GetParameters", json!({"Names": []})).await;
    assert_eq!(e.code, "ValidationException");
}

#[tokio::test]
async fn by_path_one_level_or_recursive_with_pages() {
    let (s, _) = service();
    for n in [
        "/p/a",
        "/p/b",
        "/p/c",
        "/p/sub/d",
        "/p/sub/deep/e",
        "/q/x",
        "/pp",
    ] {
        ok(
            &s,
            "PutParameter",
            json!({"Name": n, "Value": n, "Type": "String"}),
        )
        .await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_owned())
            .collect()
    };
    let one = ok(&s, "GetParametersByPath", json!({"Path": "/p"})).await;
    assert_eq!(names(&one), ["/p/a", "/p/b", "/p/c"]);
    let mut all = Vec::new();
    let mut token: Option<Value> = None;
    for _ in 0..10 {
        let mut input = json!({"Path": "/p/", "Recursive": true, "MaxResults": 2});
        if let Some(t) = &token {
            input["NextToken"] = t.clone();
        }
        let page = ok(&s, "GetParametersByPath", input).await;
        assert!(names(&page).len() <= 2);
        all.extend(names(&page));
        token = page.get("NextToken").cloned();
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all, ["/p/a", "/p/b", "/p/c", "/p/sub/d", "/p/sub/deep/e"]);
    let e = err(
        &s,
        "GetParametersByPath",
        json!({"Path": "/p", "NextToken": "bogus"}),
    )
    .await;
    assert_eq!(e.code, "InvalidNextToken");
    let e = err(
        &s,
        "GetParametersByPath",
        json!({"Path": "/p", "MaxResults": 11}),
    )
    .await;
    assert_eq!(e.code, "ValidationException");
    let e = err(
        &s,
        "GetParametersByPath",
        json!({"Path": "/p", "ParameterFilters": [{"Key": "Name", "Values": ["x"]}]}),
    )
    .await;
    assert_eq!(e.code, "InvalidFilterKey");
    let typed = ok(
        &s,
        "GetParametersByPath",
        json!({"Path": "/", "Recursive": true,
               "ParameterFilters": [{"Key": "Type", "Values": ["SecureString"]}]}),
    )
    .await;
    assert!(names(&typed).is_empty());
}

#[tokio::test]
async fn describe_filters_and_never_shows_values() {
    let (s, _) = service();
    ok(
        &s,
        "PutParameter",
        json!({"Name": "/svc/token", "Value": "tok-123", "Type": "SecureString",
        "Tags": [{"Key": "team", "Value": "blue"}]}),
    )
    .await;
    ok(
        &s,
        "PutParameter",
        json!({"Name": "/svc/url", "Value": "http://x", "Type": "String",
        "Tier": "Advanced"}),
    )
    .await;
    ok(
        &s,
        "PutParameter",
        json!({"Name": "other", "Value": "v", "Type": "StringList"}),
    )
    .await;
    let d = ok(&s, "DescribeParameters", json!({})).await;
    assert_eq!(d["Parameters"].as_array().unwrap().len(), 3);
    assert!(!d.to_string().contains("tok-123"));
    assert_eq!(d["Parameters"][0]["KeyId"], "alias/aws/ssm");
    let begins = ok(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [
        {"Key": "Name", "Option": "BeginsWith", "Values": ["/svc"]}]}),
    )
    .await;
    assert_eq!(begins["Parameters"].as_array().unwrap().len(), 2);
    let eq = ok(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [
        {"Key": "Name", "Values": ["/svc/url"]}, {"Key": "Tier", "Values": ["Advanced"]}]}),
    )
    .await;
    assert_eq!(eq["Parameters"][0]["Name"], "/svc/url");
    let tag = ok(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [
        {"Key": "tag:team", "Values": ["blue"]}]}),
    )
    .await;
    assert_eq!(tag["Parameters"][0]["Name"], "/svc/token");
    let legacy = ok(
        &s,
        "DescribeParameters",
        json!({"Filters": [
        {"Key": "Type", "Values": ["StringList"]}]}),
    )
    .await;
    assert_eq!(legacy["Parameters"][0]["Name"], "other");
    let page = ok(&s, "DescribeParameters", json!({"MaxResults": 2})).await;
    assert_eq!(page["Parameters"].as_array().unwrap().len(), 2);
    assert!(page["NextToken"].is_string());
    let e = err(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [
        {"Key": "Name", "Option": "Like", "Values": ["x"]}]}),
    )
    .await;
    assert_eq!(e.code, "InvalidFilterOption");
    let e = err(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [
        {"Key": "Type", "Values": ["Blob"]}]}),
    )
    .await;
    assert_eq!(e.code, "InvalidFilterValue");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_member_and_changes_nothing() {
    let (s, store) = service();
    let cases = [
        (
            json!({"Name": "/a", "Value": "x".repeat(4097), "Type": "String"}),
            "ValidationException",
            "4096",
        ),
        (
            json!({"Name": "/a", "Value": "x".repeat(8193), "Type": "String", "Tier": "Advanced"}),
            "ValidationException",
            "8192",
        ),
        (
            json!({"Name": "/a", "Value": "", "Type": "String"}),
            "ValidationException",
            "value",
        ),
        (
            json!({"Name": "/a", "Value": "v"}),
            "ValidationException",
            "Type",
        ),
        (
            json!({"Name": "/a", "Value": "v", "Type": "Blob"}),
            "ValidationException",
            "Type",
        ),
        (
            json!({"Name": "a/b", "Value": "v", "Type": "String"}),
            "ValidationException",
            "a/b",
        ),
        (
            json!({"Name": "/aws/x", "Value": "v", "Type": "String"}),
            "ValidationException",
            "aws",
        ),
        (
            json!({"Name": "/l".repeat(16), "Value": "v", "Type": "String"}),
            "HierarchyLevelLimitExceededException",
            "15",
        ),
        (
            json!({"Name": "/a", "Value": "v", "Type": "String", "KeyId": "k"}),
            "ValidationException",
            "KeyId",
        ),
        (
            json!({"Name": "/a", "Value": "v", "Type": "String", "Overwrite": true, "Tags": [{"Key": "k", "Value": "v"}]}),
            "ValidationException",
            "overwrite",
        ),
        (
            json!({"Name": "/a", "Value": "abc", "Type": "String", "AllowedPattern": "^\\d+$"}),
            "ParameterPatternMismatchException",
            "allowedPattern",
        ),
        (
            json!({"Name": "/a", "Value": "abc", "Type": "String", "AllowedPattern": "("}),
            "InvalidAllowedPatternException",
            "AllowedPattern",
        ),
    ];
    for (input, code, says) in cases {
        let e = err(&s, "PutParameter", input.clone()).await;
        assert_eq!(e.code, code, "{input}: {e}");
        assert!(e.message.contains(says), "{input}: {e}");
    }
    assert_eq!(dump(&store, KIND), "", "a refused put stored something");
    // The advanced tier holds up to 8 KB, and a parameter stays advanced.
    let big = ok(
        &s,
        "PutParameter",
        json!({"Name": "/big", "Value": "x".repeat(8192),
        "Type": "String", "Tier": "Intelligent-Tiering"}),
    )
    .await;
    assert_eq!(big["Tier"], "Advanced");
    let e = err(
        &s,
        "PutParameter",
        json!({"Name": "/big", "Value": "x", "Overwrite": true,
        "Tier": "Standard"}),
    )
    .await;
    assert_eq!(e.code, "ValidationException");
}

#[tokio::test]
async fn delete_one_or_many() {
    let (s, _) = service();
    for n in ["/d/1", "/d/2"] {
        ok(
            &s,
            "PutParameter",
            json!({"Name": n, "Value": "v", "Type": "String"}),
        )
        .await;
    }
    assert_eq!(
        ok(&s, "DeleteParameter", json!({"Name": "/d/1"})).await,
        json!({})
    );
    assert_eq!(
        err(&s, "DeleteParameter", json!({"Name": "/d/1"}))
            .await
            .code,
        "ParameterNotFound"
    );
    let out = ok(
        &s,
        "DeleteParameters",
        json!({"Names": ["/d/1", "/d/2", "bad//"]}),
    )
    .await;
    assert_eq!(out["DeletedParameters"], json!(["/d/2"]));
    assert_eq!(out["InvalidParameters"], json!(["/d/1", "bad//"]));
}
