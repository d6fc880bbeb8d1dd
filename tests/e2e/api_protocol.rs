//! The wire protocol of `wasmgate serve` (issue 4) from the outside: the real binary on an
//! ephemeral port, driven by raw HTTP requests signed with the test helpers' own SigV4
//! signer (no code shared with the host's verifier). Real AWS clients are in api_clients.

use crate::common;

use common::*;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ECS: &str = "AmazonEC2ContainerServiceV20141113";
const LOGS: &str = "Logs_20140328";

fn is_request_id(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// Every answer's common headers, and the error shape when it is one.
fn check_shape(r: &RawResponse) {
    assert_eq!(
        r.header("content-type"),
        "application/x-amz-json-1.1",
        "{r:?}"
    );
    assert!(is_request_id(r.header("x-amzn-requestid")), "{r:?}");
    assert!(r.json.is_object(), "body is a JSON object: {r:?}");
    if r.status != 200 {
        assert_eq!(r.header("x-amzn-errortype"), r.code(), "{r:?}");
        assert!(!r.message().is_empty(), "{r:?}");
        assert!(r.status < 500, "client errors are never 5xx: {r:?}");
    }
}

fn send(server: &Server, req: &RawRequest) -> RawResponse {
    let r = api_request(server.port, req);
    check_shape(&r);
    r
}

#[test]
fn test_signer_matches_the_reference_vector() {
    // ecs-api.md §2 (botocore 1.44.5 with a frozen clock).
    let at = UNIX_EPOCH + Duration::from_secs(1_715_949_296);
    assert_eq!(sigv4_amz_date(at), "20240517T123456Z");
    assert_eq!(
        sigv4_amz_date(UNIX_EPOCH + Duration::from_secs(951_868_799)),
        "20000229T235959Z"
    );
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Host", "127.0.0.1:8080"),
        ("X-Amz-Date", "20240517T123456Z"),
        (
            "X-Amz-Target",
            "AmazonEC2ContainerServiceV20141113.CreateCluster",
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let auth = sigv4_authorization(
        &headers,
        br#"{"clusterName": "demo"}"#,
        &SigningKey::test("ecs"),
        "20240517T123456Z",
    );
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
         Signature=0b5df3b6d5f074cc0c42ef1b440e2012c7b06265c5ee5dcc0c0b47738e549c57"
    );
}

#[test]
fn signed_ecs_and_logs_calls() {
    let host = Host::new();
    let server = Server::start(&host);

    let r = send(
        &server,
        &RawRequest::new(&format!("{ECS}.ListClusters"), "{}"),
    );
    assert_eq!(r.status, 200, "{r:?}\n{}", server.debug());
    let arns = r.json["clusterArns"].as_array().expect("clusterArns");
    assert!(
        arns.iter()
            .any(|a| a == "arn:aws:ecs:us-east-1:000000000000:cluster/default"),
        "{r:?}"
    );

    // The Logs API on the same listener, signed for `logs`.
    let r = send(
        &server,
        &RawRequest::new(&format!("{LOGS}.DescribeLogGroups"), "{}"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json["logGroups"].is_array(), "{r:?}");
    let r = send(
        &server,
        &RawRequest::new(
            &format!("{LOGS}.CreateLogGroup"),
            r#"{"logGroupName": "/wg/protocol"}"#,
        ),
    );
    assert_eq!((r.status, &r.json), (200, &json!({})), "{r:?}");
    let r = send(
        &server,
        &RawRequest::new(
            &format!("{LOGS}.DescribeLogGroups"),
            r#"{"logGroupNamePrefix": "/wg/"}"#,
        ),
    );
    assert_eq!(r.json["logGroups"][0]["logGroupName"], "/wg/protocol");
    assert_eq!(
        r.json["logGroups"][0]["arn"],
        "arn:aws:logs:us-east-1:000000000000:log-group:/wg/protocol:*"
    );
    let r = send(
        &server,
        &RawRequest::new(
            &format!("{LOGS}.GetLogEvents"),
            r#"{"logGroupName": "/wg/none", "logStreamName": "s"}"#,
        ),
    );
    assert_eq!(
        (r.status, r.code(), r.message()),
        (
            400,
            "ResourceNotFoundException",
            "The specified log group does not exist."
        )
    );

    // A request signed for `logs` sent to an ECS target, and the other way round.
    let mut req = RawRequest::new(&format!("{ECS}.ListClusters"), "{}");
    req.key = Some(SigningKey::test("logs"));
    let r = send(&server, &req);
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidSignatureException"),
        "{r:?}"
    );
    assert!(r.message().contains("'ecs'"), "{r:?}");
    let mut req = RawRequest::new(&format!("{LOGS}.DescribeLogGroups"), "{}");
    req.key = Some(SigningKey::test("ecs"));
    let r = send(&server, &req);
    assert_eq!(r.code(), "InvalidSignatureException", "{r:?}");
}

#[test]
fn rejected_requests() {
    let host = Host::new();
    let server = Server::start(&host);
    let list = format!("{ECS}.ListClusters");

    let mut req = RawRequest::new(&list, "{}");
    req.key = None;
    let r = send(&server, &req);
    assert_eq!(
        (r.status, r.code(), r.message()),
        (
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token"
        )
    );

    let mut req = RawRequest::new(&list, "{}");
    req.key.as_mut().expect("signed").secret_access_key = "not-the-secret".into();
    let r = send(&server, &req);
    assert_eq!((r.status, r.code()), (400, "InvalidSignatureException"));
    assert!(
        r.message().starts_with(
            "The request signature we calculated does not match the signature you provided."
        ),
        "{r:?}"
    );

    let mut req = RawRequest::new(&list, "{}");
    req.key.as_mut().expect("signed").access_key_id = "AKIAUNKNOWN".into();
    let r = send(&server, &req);
    assert_eq!(
        (r.status, r.code(), r.message()),
        (
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid."
        )
    );

    let mut req = RawRequest::new(&list, "{}");
    req.at = SystemTime::now() - Duration::from_secs(20 * 60);
    let r = send(&server, &req);
    assert_eq!((r.status, r.code()), (400, "InvalidSignatureException"));
    assert!(r.message().starts_with("Signature expired:"), "{r:?}");

    let r = send(
        &server,
        &RawRequest::new("Bogus_20200101.ListClusters", "{}"),
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "UnknownOperationException"),
        "{r:?}"
    );
    let r = send(
        &server,
        &RawRequest::new(&format!("{ECS}.NoSuchOperation"), "{}"),
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "UnknownOperationException"),
        "{r:?}"
    );
    let r = send(
        &server,
        &RawRequest::new(&format!("{LOGS}.NoSuchOperation"), "{}"),
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "UnknownOperationException"),
        "{r:?}"
    );

    let r = send(&server, &RawRequest::new(&list, r#"{"maxResults": 5"#));
    assert_eq!(
        (r.status, r.code()),
        (400, "SerializationException"),
        "{r:?}"
    );
    assert!(r.message().contains("not valid JSON"), "{r:?}");
    let r = send(&server, &RawRequest::new(&list, "[]"));
    assert_eq!(r.code(), "SerializationException", "{r:?}");

    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let r = send(&server, &RawRequest::new(&list, &big));
    assert_eq!(
        (r.status, r.code()),
        (400, "RequestEntityTooLargeException"),
        "{r:?}"
    );
    assert!(r.message().contains("1048576"), "{r:?}");

    // The server is still serving after all that.
    let r = send(&server, &RawRequest::new(&list, "{}"));
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn configured_keys_replace_the_default_one() {
    let host = Host::with_config(
        "[api]\naccount_id = \"123456789012\"\n\n[[api.keys]]\naccess_key_id = \"AKIDWASMGATE\"\n\
         secret_access_key = \"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\"\n",
    );
    let server = Server::start(&host);
    let mut req = RawRequest::new(&format!("{ECS}.ListClusters"), "{}");
    req.key = Some(SigningKey {
        access_key_id: "AKIDWASMGATE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        region: "us-east-1".into(),
        service: "ecs".into(),
    });
    let r = send(&server, &req);
    assert_eq!(r.status, 200, "{r:?}\n{}", server.debug());
    assert!(
        r.json["clusterArns"]
            .as_array()
            .expect("clusterArns")
            .iter()
            .any(|a| a == "arn:aws:ecs:us-east-1:123456789012:cluster/default"),
        "{r:?}"
    );
    // test/test no longer exists.
    let r = send(
        &server,
        &RawRequest::new(&format!("{ECS}.ListClusters"), "{}"),
    );
    assert_eq!(r.code(), "UnrecognizedClientException", "{r:?}");
    // Another region than the host's is refused.
    let mut req = req.clone();
    req.key.as_mut().expect("signed").region = "eu-west-1".into();
    let r = send(&server, &req);
    assert_eq!(r.code(), "InvalidSignatureException", "{r:?}");
    assert!(r.message().contains("region"), "{r:?}");
}

#[test]
fn non_loopback_listen_needs_configured_keys() {
    let host = Host::new();
    let (code, _, stderr) = host.output(&["serve", "--listen", "0.0.0.0:0"]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(code.is_some(), "exited, not killed: {stderr}");
    assert!(stderr.contains("api.keys"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn bad_api_config_is_refused() {
    let host = Host::with_config("[api]\naccount_id = \"12345\"\n");
    let (code, _, stderr) = host.output(&["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("api.account_id"), "{stderr}");
}

#[test]
fn sigterm_stops_the_server_with_exit_code_zero() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let r = send(
        &server,
        &RawRequest::new(&format!("{ECS}.ListClusters"), "{}"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let port = server.port;
    let run = server.terminate(Duration::from_secs(60));
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(run.stderr.contains("SIGTERM received"), "{}", run.debug());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on the port any more"
    );
}
