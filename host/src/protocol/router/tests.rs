//! The router against a probe service that answers all five protocols.

use super::*;
use crate::op;
use crate::protocol::{Operation, Route};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Mutex;

#[derive(Default)]
struct Probe {
    /// (operation, protocol, unknown members) of every call that reached a handler.
    calls: Mutex<Vec<(String, ProtocolKind, Vec<String>)>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EchoIn {
    name: String,
    count: Option<u32>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EchoOut {
    name: String,
    count: u32,
    tags: Vec<String>,
    caller: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameIn {
    #[allow(dead_code)]
    name: String,
}

static ROUTES: [Route; 2] = [
    Route::new("Echo", "POST", "/echo/{Name}").query(&[("count", "Count")]),
    Route::new("Nothing", "DELETE", "/echo/{Name}").status(204),
];

static PROTOCOLS: [Protocol; 4] = [
    Protocol::AwsJson1_1 {
        target_prefix: "Probe_2024",
    },
    Protocol::AwsQuery {
        version: "2024-01-01",
        xmlns: "urn:probe",
    },
    Protocol::RestJson1 { routes: &ROUTES },
    Protocol::RpcV2Cbor {
        service: "ProbeService",
    },
];

impl Service for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn signing_name(&self) -> &'static str {
        "probe"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("Echo", Self::echo),
            op!("Fail", Self::fail),
            op!("Nothing", Self::nothing),
        ]
    }
    fn validation_error(&self, message: String) -> ApiError {
        ApiError::new("ValidationError", message)
    }
}

impl Probe {
    fn record(&self, ctx: &Context) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((
                ctx.operation.to_owned(),
                ctx.protocol,
                ctx.unknown_members.clone(),
            ));
        }
    }

    async fn echo(&self, ctx: &Context, input: EchoIn) -> Result<EchoOut, ApiError> {
        self.record(ctx);
        Ok(EchoOut {
            name: input.name,
            count: input.count.unwrap_or(0),
            tags: input.tags,
            caller: ctx.principal.arn.clone(),
        })
    }

    async fn fail(&self, ctx: &Context, _input: NameIn) -> Result<(), ApiError> {
        self.record(ctx);
        Err(ApiError::with_status("NoSuchThing", "no such thing", 404))
    }

    async fn nothing(&self, ctx: &Context, _input: NameIn) -> Result<(), ApiError> {
        self.record(ctx);
        Ok(())
    }
}

fn router() -> (Router, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let router = Router::builder()
        .service(probe.clone())
        .max_body_bytes(4096)
        .build()
        .unwrap();
    (router, probe)
}

fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn principal() -> Principal {
    Principal::root("test", "arn:aws:iam::000000000000:user/test")
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(
    router: &Router,
    head: http::request::Parts,
    scope: Option<&str>,
    body: &[u8],
) -> Answer {
    let routed = router.route(&head, scope);
    let resp = routed
        .call(principal(), "req-1", &head, Bytes::copy_from_slice(body))
        .await;
    let (parts, body) = resp.into_parts();
    assert_eq!(parts.headers["x-amzn-requestid"], "req-1");
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

const JSON: (&str, &str) = ("content-type", "application/x-amz-json-1.1");

#[tokio::test]
async fn json_target_routes_to_typed_handlers() {
    let (r, probe) = router();
    let h = head("POST", "/", &[("x-amz-target", "Probe_2024.Echo"), JSON]);
    assert_eq!(r.route(&h, None).signing_name(), Some("probe"));
    assert_eq!(r.route(&h, None).describe(), "probe.Echo");
    let a = send(
        &r,
        h,
        Some("probe"),
        br#"{"Name":"n","Count":2,"Tags":["a"],"Extra":{"x":1}}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.header("content-type"), "application/x-amz-json-1.1");
    assert_eq!(
        a.json(),
        json!({"Name":"n","Count":2,"Tags":["a"],"Caller":"arn:aws:iam::000000000000:user/test"})
    );
    let calls = probe.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [(
            "Echo".to_owned(),
            ProtocolKind::AwsJson1_1,
            vec!["Extra".to_owned()]
        )]
    );

    // Bad input: the service's validation error, naming the member.
    let h = head("POST", "/", &[("x-amz-target", "Probe_2024.Echo"), JSON]);
    let a = send(&r, h, Some("probe"), br#"{"Name":"n","Tags":[1]}"#).await;
    assert_eq!(
        (a.status, a.header("x-amzn-errortype")),
        (400, "ValidationError")
    );
    assert_eq!(
        a.json()["message"],
        "Tags[0]: invalid type: integer `1`, expected a string"
    );
    // A handler's error.
    let h = head("POST", "/", &[("x-amz-target", "Probe_2024.Fail"), JSON]);
    let a = send(&r, h, Some("probe"), br#"{"Name":"n"}"#).await;
    assert_eq!(
        (a.status, a.json()),
        (
            404,
            json!({"__type":"NoSuchThing","message":"no such thing"})
        )
    );
}

#[tokio::test]
async fn json_routing_errors() {
    let (r, probe) = router();
    for target in [
        "Nope_1.Echo",
        "Probe_2024.Nope",
        "Probe_2024.",
        "Probe_2024",
    ] {
        let a = send(
            &r,
            head("POST", "/", &[("x-amz-target", target), JSON]),
            Some("probe"),
            b"{}",
        )
        .await;
        assert_eq!(
            (a.status, a.header("x-amzn-errortype")),
            (400, "UnknownOperationException"),
            "{target}"
        );
        assert!(
            a.json()["message"].as_str().unwrap().contains(target),
            "{}",
            a.text()
        );
    }
    let a = send(
        &r,
        head("GET", "/", &[("x-amz-target", "Probe_2024.Echo"), JSON]),
        None,
        b"",
    )
    .await;
    assert_eq!((a.status, a.header("allow")), (405, "POST"));
    let a = send(
        &r,
        head("POST", "/x", &[("x-amz-target", "Probe_2024.Echo"), JSON]),
        None,
        b"",
    )
    .await;
    assert_eq!(a.status, 404);
    let a = send(
        &r,
        head("POST", "/", &[("x-amz-target", "Probe_2024.Echo")]),
        None,
        b"{}",
    )
    .await;
    assert_eq!(a.header("x-amzn-errortype"), "SerializationException");
    assert!(
        a.json()["message"]
            .as_str()
            .unwrap()
            .contains("Content-Type"),
        "{}",
        a.text()
    );
    // No target, no query form, no route: the JSON shape, naming the header.
    let a = send(&r, head("POST", "/", &[JSON]), None, b"{}").await;
    assert!(
        a.json()["message"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Target"),
        "{}",
        a.text()
    );
    assert!(probe.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn query_is_routed_by_scope_and_action() {
    let (r, probe) = router();
    let form = (
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    let a = send(
        &r,
        head("POST", "/", &[form]),
        Some("probe"),
        b"Action=Echo&Version=2024-01-01&Name=q&Count=3&Tags.member.1=x&Tags.member.2=y",
    )
    .await;
    assert_eq!(
        (a.status, a.header("content-type")),
        (200, "text/xml"),
        "{}",
        a.text()
    );
    assert!(
        a.text().starts_with(
            "<EchoResponse xmlns=\"urn:probe\"><EchoResult><Name>q</Name><Count>3</Count>\
             <Tags><member>x</member><member>y</member></Tags>"
        ),
        "{}",
        a.text()
    );
    assert!(a.text().ends_with(
        "<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></EchoResponse>"
    ));
    assert_eq!(probe.calls.lock().unwrap()[0].1, ProtocolKind::AwsQuery);

    let a = send(
        &r,
        head("POST", "/", &[form]),
        Some("probe"),
        b"Action=Nope&Version=2024-01-01",
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(
        a.text().contains("<Code>InvalidAction</Code>"),
        "{}",
        a.text()
    );
    let a = send(
        &r,
        head("POST", "/", &[form]),
        Some("probe"),
        b"Action=Echo&Version=1999-01-01&Name=q",
    )
    .await;
    assert!(a.text().contains("for version 1999-01-01"), "{}", a.text());
    let a = send(
        &r,
        head("POST", "/", &[form]),
        Some("probe"),
        b"Action=Echo&Count=x&Name=q",
    )
    .await;
    assert!(
        a.text().contains(
            "<Type>Sender</Type><Code>ValidationError</Code><Message>Count: invalid type"
        ),
        "{}",
        a.text()
    );
    // GET with Action in the query string.
    let a = send(
        &r,
        head("GET", "/?Action=Echo&Name=g", &[]),
        Some("probe"),
        b"",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
}

#[tokio::test]
async fn rest_routes_by_method_and_path() {
    let (r, _) = router();
    let h = head(
        "POST",
        "/echo/a%2Fb?count=7",
        &[("content-type", "application/json")],
    );
    assert_eq!(
        r.route(&h, Some("probe")).protocol(),
        ProtocolKind::RestJson1
    );
    let a = send(&r, h, Some("probe"), br#"{"Tags":["t"]}"#).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["Name"], "a/b");
    assert_eq!(a.json()["Count"], 7);
    let a = send(&r, head("DELETE", "/echo/a", &[]), Some("probe"), b"").await;
    assert_eq!((a.status, a.text().as_str()), (204, ""));
    let a = send(&r, head("GET", "/echo/a", &[]), Some("probe"), b"").await;
    assert_eq!(
        (a.status, a.header("x-amzn-errortype")),
        (405, "UnknownOperationException")
    );
    assert!(["POST", "DELETE"].contains(&a.header("allow")));
    let a = send(&r, head("GET", "/nowhere", &[]), Some("probe"), b"").await;
    // The probe also answers awsQuery, so an unmatched request gets the query shape.
    assert!(
        a.text().contains("<Code>MissingAction</Code>"),
        "{}",
        a.text()
    );
}

#[tokio::test]
async fn cbor_path_routes_and_errors() {
    let (r, _) = router();
    let cbor_headers = [
        ("content-type", "application/cbor"),
        ("smithy-protocol", "rpc-v2-cbor"),
    ];
    let mut body = Vec::new();
    ciborium::ser::into_writer(
        &ciborium::Value::Map(vec![(
            ciborium::Value::Text("Name".into()),
            ciborium::Value::Text("c".into()),
        )]),
        &mut body,
    )
    .unwrap();
    let a = send(
        &r,
        head(
            "POST",
            "/service/ProbeService/operation/Echo",
            &cbor_headers,
        ),
        None,
        &body,
    )
    .await;
    assert_eq!(
        (a.status, a.header("smithy-protocol")),
        (200, "rpc-v2-cbor")
    );
    let v: ciborium::Value = ciborium::de::from_reader(a.body.as_ref()).unwrap();
    assert_eq!(v.as_map().unwrap()[0].1, ciborium::Value::Text("c".into()));
    let a = send(
        &r,
        head("POST", "/service/Nope/operation/Echo", &cbor_headers),
        None,
        &body,
    )
    .await;
    assert_eq!(a.status, 404);
    let v: ciborium::Value = ciborium::de::from_reader(a.body.as_ref()).unwrap();
    assert_eq!(
        v.as_map().unwrap()[0].1,
        ciborium::Value::Text("UnknownOperationException".into())
    );
    let a = send(
        &r,
        head(
            "POST",
            "/service/ProbeService/operation/Nope",
            &cbor_headers,
        ),
        None,
        &body,
    )
    .await;
    assert_eq!(a.status, 404);
    let a = send(
        &r,
        head(
            "POST",
            "/service/ProbeService/operation/Echo",
            &[("content-type", "application/json")],
        ),
        None,
        b"{}",
    )
    .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn gzip_bodies_and_rejections() {
    use std::io::Write;
    let (r, _) = router();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"{"Name":"zipped"}"#).unwrap();
    let body = gz.finish().unwrap();
    let h = head(
        "POST",
        "/",
        &[
            ("x-amz-target", "Probe_2024.Echo"),
            JSON,
            ("content-encoding", "gzip"),
        ],
    );
    let a = send(&r, h, Some("probe"), &body).await;
    assert_eq!((a.status, a.json()["Name"].as_str()), (200, Some("zipped")));
    // Past the router's 4 KiB limit once inflated.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&vec![b' '; 8192]).unwrap();
    let h = head(
        "POST",
        "/",
        &[
            ("x-amz-target", "Probe_2024.Echo"),
            JSON,
            ("content-encoding", "gzip"),
        ],
    );
    let a = send(&r, h, Some("probe"), &gz.finish().unwrap()).await;
    assert_eq!(
        a.header("x-amzn-errortype"),
        "RequestEntityTooLargeException"
    );

    // reject() shapes an outside error (a bad signature) for the protocol.
    let h = head(
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    let resp = r.route(&h, Some("probe")).reject(
        "r",
        &ApiError::with_status("SignatureDoesNotMatch", "bad", 403),
    );
    assert_eq!(resp.status(), 403);
    assert!(String::from_utf8_lossy(resp.body()).contains("<Code>SignatureDoesNotMatch</Code>"));
}

struct Twin(&'static [Protocol], &'static str);

impl Service for Twin {
    fn name(&self) -> &'static str {
        self.1
    }
    fn signing_name(&self) -> &'static str {
        "twin"
    }
    fn protocols(&self) -> &'static [Protocol] {
        self.0
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        let mut ops = vec![op!("Go", Self::go)];
        if self.1 == "a" {
            ops.push(op!("Go", Self::go));
        }
        ops
    }
}

impl Twin {
    async fn go(&self, _ctx: &Context, _input: ()) -> Result<(), ApiError> {
        Ok(())
    }
}

#[test]
fn builder_refuses_ambiguous_services() {
    static JSON_P: [Protocol; 1] = [Protocol::AwsJson1_1 { target_prefix: "P" }];
    let e = Router::builder()
        .service(Arc::new(Twin(&JSON_P, "a")))
        .build()
        .err()
        .unwrap();
    assert_eq!(
        e,
        RouterError::DuplicateOperation {
            service: "a",
            operation: "Go"
        }
    );

    let (_, probe) = router();
    static CLASH: [Protocol; 1] = [Protocol::AwsJson1_1 {
        target_prefix: "Probe_2024",
    }];
    let e = Router::builder()
        .service(probe)
        .service(Arc::new(Twin(&CLASH, "b")))
        .build()
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("both use the JSON target prefix \"Probe_2024\""),
        "{e}"
    );

    static ROUTE: [Route; 1] = [Route::new("Missing", "GET", "/x")];
    static REST: [Protocol; 1] = [Protocol::RestJson1 { routes: &ROUTE }];
    let e = Router::builder()
        .service(Arc::new(Twin(&REST, "c")))
        .build()
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "service c: route Missing names no registered operation"
    );
    let e = Router::builder()
        .service(Arc::new(Twin(&[], "d")))
        .build()
        .err()
        .unwrap();
    assert_eq!(e, RouterError::NoProtocol { service: "d" });
}
