//! The IAM API (issue 12) with boto3 (`tests/py/iam.py`) and the AWS CLI: users, access
//! keys, groups, roles, managed policies with versions, inline policies, IAM's errors, and
//! IAM state across a restart of `wasmgate serve` on the same data directory.

use crate::common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn boto3_drives_users_keys_groups_roles_and_policies() {
    let host = Host::new();
    let server = Server::start(&host);
    let out = server.python_ok("iam.py", &["all"]);
    println!("{}", out.stdout);
}

#[test]
fn the_cli_round_trips_policy_documents_and_reports_iam_errors() {
    let host = Host::new();
    let server = Server::start(&host);
    let user = server.aws_json(&["iam", "create-user", "--user-name", "dora"]);
    assert_eq!(user["User"]["UserName"], "dora");
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}]
    });
    let text = policy.to_string();
    server.aws_json(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "dora",
        "--policy-name",
        "list",
        "--policy-document",
        &text,
    ]);
    let got = server.aws_json(&[
        "iam",
        "get-user-policy",
        "--user-name",
        "dora",
        "--policy-name",
        "list",
    ]);
    assert_eq!(
        got["PolicyDocument"], policy,
        "the CLI decodes the URL-encoded document"
    );

    let created = server.aws_json(&[
        "iam",
        "create-policy",
        "--policy-name",
        "List",
        "--policy-document",
        &text,
    ]);
    let arn = created["Policy"]["Arn"].as_str().unwrap().to_owned();
    let v = server.aws_json(&[
        "iam",
        "get-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v1",
    ]);
    assert_eq!(v["PolicyVersion"]["Document"], policy);

    let missing = server.aws(&["iam", "get-user", "--user-name", "nobody"]);
    assert!(!missing.success());
    assert!(
        missing.stderr.contains("(NoSuchEntity)")
            && missing
                .stderr
                .contains("The user with name nobody cannot be found."),
        "{}",
        missing.stderr
    );
    let bad = server.aws(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "dora",
        "--policy-name",
        "bad",
        "--policy-document",
        "{\"Statement\": ",
    ]);
    assert!(
        bad.stderr.contains("(MalformedPolicyDocument)"),
        "{}",
        bad.stderr
    );
    let dup = server.aws(&["iam", "create-user", "--user-name", "DORA"]);
    assert!(
        dup.stderr.contains("(EntityAlreadyExists)"),
        "{}",
        dup.stderr
    );
    let listed = server.aws_json(&["iam", "list-user-policies", "--user-name", "dora"]);
    assert_eq!(
        listed["PolicyNames"],
        json!(["list"]),
        "nothing else was stored"
    );
}

#[test]
fn iam_state_survives_a_restart() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let out = server.python_ok("iam.py", &["persist-setup"]);
    let key_line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("KEY "))
        .unwrap_or_else(|| panic!("no key printed:\n{}", out.stdout))
        .to_owned();
    let (key_id, _secret) = key_line.split_once(' ').unwrap();
    let run = server.terminate(Duration::from_secs(60));
    assert_eq!(run.code, Some(0), "{}", run.debug());

    let server = Server::start(&host);
    server.python_ok("iam.py", &["persist-check", key_id]);
}
