//! The front end against stub services over a real socket.

use super::*;
use crate::api::sigv4::{amz_date, canonical_request, signing_key, string_to_sign};
use crate::config::ApiConfig;
use crate::protocol::{self, BoxFuture, Context, Operation, Protocol, Service, ValueService};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

const JSON_1_1: &str = "application/x-amz-json-1.1";

/// Echoes what it was called with; `Panic` panics, `Slow` sleeps, `Fail` fails.
struct Stub {
    signing: &'static str,
    protocols: &'static [Protocol],
    calls: AtomicUsize,
}

impl Service for Stub {
    fn name(&self) -> &'static str {
        self.signing
    }
    fn signing_name(&self) -> &'static str {
        self.signing
    }
    fn protocols(&self) -> &'static [Protocol] {
        self.protocols
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        protocol::forwarding(&[
            "ListClusters",
            "GetLogEvents",
            "Panic",
            "Slow",
            "Hold",
            "Fail",
        ])
    }
}

impl ValueService for Stub {
    fn call_value<'a>(
        &'a self,
        ctx: &'a Context,
        body: Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            match ctx.operation {
                "Panic" => panic!("stub service panicked on purpose"),
                "Slow" => {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    Ok(json!({"slow": true}))
                }
                "Hold" => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    Ok(json!({"held": true}))
                }
                "Fail" => Err(ApiError::new(
                    "ClusterNotFoundException",
                    "Cluster not found.",
                )),
                op => Ok(json!({"op": op, "principal": ctx.principal.arn, "body": body})),
            }
        })
    }
}

fn stub(prefix: &'static str, signing: &'static str) -> Arc<Stub> {
    // Tests only: a handful of prefixes, leaked to be `'static` as real services' are.
    let protocols = Box::leak(Box::new([Protocol::AwsJson1_1 {
        target_prefix: prefix,
    }]));
    Arc::new(Stub {
        signing,
        protocols,
        calls: AtomicUsize::new(0),
    })
}

struct TestServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<io::Result<()>>,
    ecs: Arc<Stub>,
    client: Client<HttpConnector, Full<Bytes>>,
}

async fn start() -> TestServer {
    start_with(ServeLimits::default()).await
}

async fn start_with(limits: ServeLimits) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ecs = stub("Ecs_Test", "ecs");
    let logs = stub("Logs_Test", "logs");
    let auth = Auth::from_config(&ApiConfig::default()).unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let services = Router::builder().service(ecs.clone()).service(logs);
    let done = tokio::spawn(serve_with(listener, services, auth, limits, async move {
        let _ = rx.await;
    }));
    TestServer {
        addr,
        stop: Some(tx),
        done,
        ecs,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

/// A request to sign.
struct Req<'a> {
    method: &'a str,
    path: &'a str,
    target: Option<&'a str>,
    content_type: &'a str,
    body: Vec<u8>,
    key: &'a str,
    secret: &'a str,
    service: &'a str,
    date: OffsetDateTime,
    sign: bool,
}

impl<'a> Req<'a> {
    fn new(target: &'a str, body: &str) -> Self {
        Self {
            method: "POST",
            path: "/",
            target: Some(target),
            content_type: JSON_1_1,
            body: body.as_bytes().to_vec(),
            key: "test",
            secret: "test",
            service: if target.starts_with("Logs") {
                "logs"
            } else {
                "ecs"
            },
            date: OffsetDateTime::now_utc(),
            sign: true,
        }
    }

    fn build(&self, addr: SocketAddr) -> Request<Full<Bytes>> {
        let host = addr.to_string();
        let date = amz_date(self.date);
        let mut b = Request::builder()
            .method(self.method)
            .uri(format!("http://{host}{}", self.path))
            .header("host", &host)
            .header("content-type", self.content_type)
            .header("x-amz-date", &date);
        if let Some(t) = self.target {
            b = b.header("x-amz-target", t);
        }
        let mut req = b.body(Full::new(Bytes::from(self.body.clone()))).unwrap();
        if self.sign {
            let mut signed: Vec<String> =
                vec!["content-type".into(), "host".into(), "x-amz-date".into()];
            if self.target.is_some() {
                signed.push("x-amz-target".into());
            }
            let (parts, body) = req.into_parts();
            let canonical = canonical_request(RequestHead::from(&parts), &signed, &self.body);
            let day = &date[..8];
            let scope = format!("{day}/us-east-1/{}/aws4_request", self.service);
            let sts = string_to_sign(&date, &scope, &canonical);
            let key = signing_key(self.secret, day, "us-east-1", self.service);
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
            mac.update(sts.as_bytes());
            let sig = hex::encode(mac.finalize().into_bytes());
            req = Request::from_parts(parts, body);
            req.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!(
                    "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
                    self.key,
                    signed.join(";")
                ))
                .unwrap(),
            );
        }
        req
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["__type"].as_str().unwrap_or("")
    }
    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

impl TestServer {
    async fn send(&self, req: Req<'_>) -> Answer {
        let resp = self.client.request(req.build(self.addr)).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {bytes:?}"));
        let a = Answer {
            status,
            headers,
            body,
        };
        assert_eq!(a.headers["content-type"], JSON_1_1);
        assert_eq!(a.headers["x-amzn-requestid"].len(), 36);
        if status != 200 {
            assert_eq!(a.headers["x-amzn-errortype"].to_str().unwrap(), a.code());
            assert!(!a.message().is_empty());
        }
        a
    }

    async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        self.done.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn routes_signed_requests_by_prefix() {
    let s = start().await;
    let a = s
        .send(Req::new("Ecs_Test.ListClusters", r#"{"maxResults": 1}"#))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["op"], "ListClusters");
    assert_eq!(a.body["principal"], "arn:aws:iam::000000000000:user/test");
    assert_eq!(a.body["body"], json!({"maxResults": 1}));
    let a = s.send(Req::new("Logs_Test.GetLogEvents", "{}")).await;
    assert_eq!(
        (a.status, a.body["op"].as_str()),
        (200, Some("GetLogEvents"))
    );
    // An empty body counts as {}; JSON 1.0 is accepted too.
    let mut r = Req::new("Ecs_Test.ListClusters", "");
    r.content_type = "application/x-amz-json-1.0";
    let a = s.send(r).await;
    assert_eq!((a.status, &a.body["body"]), (200, &json!({})));
    s.stop().await;
}

#[tokio::test]
async fn signature_failures() {
    let s = start().await;
    let mut r = Req::new("Ecs_Test.ListClusters", "{}");
    r.sign = false;
    let a = s.send(r).await;
    assert_eq!(
        (a.status, a.code()),
        (403, "MissingAuthenticationTokenException")
    );
    assert_eq!(a.message(), "Missing Authentication Token");

    let mut r = Req::new("Ecs_Test.ListClusters", "{}");
    r.secret = "wrong";
    let a = s.send(r).await;
    assert_eq!((a.status, a.code()), (400, "InvalidSignatureException"));
    assert!(
        a.message()
            .starts_with("The request signature we calculated does not match")
    );

    let mut r = Req::new("Ecs_Test.ListClusters", "{}");
    r.key = "AKIDNOBODY";
    let a = s.send(r).await;
    assert_eq!((a.status, a.code()), (400, "UnrecognizedClientException"));

    let mut r = Req::new("Ecs_Test.ListClusters", "{}");
    r.date = OffsetDateTime::now_utc() - time::Duration::minutes(20);
    let a = s.send(r).await;
    assert_eq!(a.code(), "InvalidSignatureException");
    assert!(
        a.message().starts_with("Signature expired: "),
        "{}",
        a.message()
    );

    // Signed for logs, sent to an ECS target.
    let mut r = Req::new("Ecs_Test.ListClusters", "{}");
    r.service = "logs";
    let a = s.send(r).await;
    assert_eq!(a.code(), "InvalidSignatureException");
    assert!(
        a.message().contains("correct service: 'ecs'"),
        "{}",
        a.message()
    );
    assert_eq!(
        s.ecs.calls.load(Ordering::SeqCst),
        0,
        "rejected requests reach no service"
    );
    s.stop().await;
}

#[tokio::test]
async fn unknown_targets_and_bad_bodies() {
    let s = start().await;
    for target in ["Nope_2020.ListClusters", "Ecs_Test.", "Ecs_Test"] {
        let a = s.send(Req::new(target, "{}")).await;
        assert_eq!(
            (a.status, a.code()),
            (400, "UnknownOperationException"),
            "{target}"
        );
    }
    let mut r = Req::new("Ecs_Test.ListClusters", "{}");
    r.target = None;
    let a = s.send(r).await;
    assert_eq!(a.code(), "UnknownOperationException");
    assert!(a.message().contains("X-Amz-Target"), "{}", a.message());

    let a = s
        .send(Req::new("Ecs_Test.ListClusters", r#"{"maxResults": "#))
        .await;
    assert_eq!((a.status, a.code()), (400, "SerializationException"));
    assert!(
        a.message().contains("not valid JSON") && a.message().contains("line 1"),
        "{}",
        a.message()
    );
    let a = s.send(Req::new("Ecs_Test.ListClusters", "[1, 2]")).await;
    assert_eq!(a.code(), "SerializationException");
    assert!(
        a.message().contains("must be a JSON object, not an array"),
        "{}",
        a.message()
    );

    let mut r = Req::new("Ecs_Test.ListClusters", "{}");
    r.content_type = "text/plain";
    let a = s.send(r).await;
    assert_eq!(a.code(), "SerializationException");
    assert!(a.message().contains("Content-Type"), "{}", a.message());
    assert_eq!(s.ecs.calls.load(Ordering::SeqCst), 0);
    s.stop().await;
}

#[tokio::test]
async fn body_limit() {
    let s = start().await;
    let big = format!(r#"{{"x": "{}"}}"#, "a".repeat(MAX_BODY_BYTES));
    let a = s.send(Req::new("Ecs_Test.ListClusters", &big)).await;
    assert_eq!(
        (a.status, a.code()),
        (400, "RequestEntityTooLargeException")
    );
    assert!(
        a.message().contains(&MAX_BODY_BYTES.to_string()),
        "{}",
        a.message()
    );
    // Just under the limit is fine.
    let fits = format!(r#"{{"x": "{}"}}"#, "a".repeat(MAX_BODY_BYTES - 16));
    let a = s.send(Req::new("Ecs_Test.ListClusters", &fits)).await;
    assert_eq!(a.status, 200, "{}", a.message());
    s.stop().await;
}

#[tokio::test]
async fn wrong_path_or_method() {
    let s = start().await;
    let mut r = Req::new("Ecs_Test.ListClusters", "");
    r.method = "GET";
    let a = s.send(r).await;
    assert_eq!((a.status, a.code()), (405, "UnknownOperationException"));
    assert_eq!(a.headers["allow"], "POST");
    let mut r = Req::new("Ecs_Test.ListClusters", "{}");
    r.path = "/v1/clusters";
    let a = s.send(r).await;
    assert_eq!(a.status, 404);
    s.stop().await;
}

#[tokio::test]
async fn service_errors_and_panics() {
    let s = start().await;
    let a = s.send(Req::new("Ecs_Test.Fail", "{}")).await;
    assert_eq!(
        (a.status, a.code(), a.message()),
        (400, "ClusterNotFoundException", "Cluster not found.")
    );
    let a = s.send(Req::new("Ecs_Test.Panic", "{}")).await;
    assert_eq!((a.status, a.code()), (500, "ServerException"));
    // The server keeps serving.
    let a = s.send(Req::new("Ecs_Test.ListClusters", "{}")).await;
    assert_eq!(a.status, 200);
    s.stop().await;
}

/// Two requests on one connection (keep-alive), read with a raw socket.
#[tokio::test]
async fn keep_alive() {
    let s = start().await;
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    for _ in 0..2 {
        let req = Req::new("Ecs_Test.ListClusters", "{}").build(s.addr);
        let (parts, _) = req.into_parts();
        let mut raw = String::from("POST / HTTP/1.1\r\ncontent-length: 2\r\n");
        for (k, v) in &parts.headers {
            raw.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
        }
        raw.push_str("\r\n{}");
        conn.write_all(raw.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).contains("ListClusters") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "connection closed: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    }
    s.stop().await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let s = start().await;
    let req = Req::new("Ecs_Test.Slow", "{}").build(s.addr);
    let client = s.client.clone();
    let in_flight = tokio::spawn(async move { client.request(req).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let addr = s.addr;
    s.stop().await;
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"slow":true}"#);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn duplicate_prefixes_are_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let auth = Auth::from_config(&ApiConfig::default()).unwrap();
    let services = Router::builder()
        .service(stub("A", "a"))
        .service(stub("A", "b"));
    let e = serve(listener, services, auth, async {}).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

/// The head of `req` as raw HTTP/1.1, announcing `content_length` body bytes.
fn raw_head(req: &Req<'_>, addr: SocketAddr, content_length: usize) -> String {
    let (parts, _) = req.build(addr).into_parts();
    let mut raw = format!("POST / HTTP/1.1\r\ncontent-length: {content_length}\r\n");
    for (k, v) in &parts.headers {
        raw.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    raw.push_str("\r\n");
    raw
}

/// Reads until the server closes the connection (bounded by `within`).
async fn read_to_close(conn: &mut tokio::net::TcpStream, within: Duration) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(within, conn.read_to_end(&mut got))
        .await
        .expect("answered and closed in time")
        .expect("read");
    String::from_utf8_lossy(&got).into_owned()
}

fn patient() -> ServeLimits {
    ServeLimits {
        body_read_timeout: Duration::from_secs(3600),
        ..ServeLimits::default()
    }
}

/// A request whose key is unknown (or missing) is answered without its body: the body
/// timeout is an hour, the answer comes anyway, and the connection is closed.
#[tokio::test]
async fn unauthenticated_requests_are_refused_before_their_body() {
    let s = start_with(patient()).await;
    for (key, sign, want) in [
        ("AKIDNOBODY", true, "UnrecognizedClientException"),
        ("test", false, "MissingAuthenticationTokenException"),
    ] {
        let mut r = Req::new("Ecs_Test.ListClusters", "{}");
        (r.key, r.sign) = (key, sign);
        let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        conn.write_all(raw_head(&r, s.addr, MAX_BODY_BYTES).as_bytes())
            .await
            .unwrap();
        let text = read_to_close(&mut conn, Duration::from_secs(30)).await;
        assert!(text.contains(want), "{text}");
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{text}"
        );
    }
    assert_eq!(s.ecs.calls.load(Ordering::SeqCst), 0);
    s.stop().await;
}

/// The budget of body bytes in flight: while one request's 1 MiB body is in use (its
/// operation takes 3 s), another waits out the 1 s body timeout and gets
/// `ThrottlingException`; once the first is done the budget is free again.
#[tokio::test]
async fn body_bytes_in_flight_are_capped() {
    let s = start_with(ServeLimits {
        body_read_timeout: Duration::from_secs(1),
        max_body_in_flight: MAX_BODY_BYTES,
        ..ServeLimits::default()
    })
    .await;
    let big = Req::new("Ecs_Test.Hold", &" ".repeat(MAX_BODY_BYTES - 1)).build(s.addr);
    let client = s.client.clone();
    let hog = tokio::spawn(async move { client.request(big).await });
    // Until the hog's body is read (and reserved), small requests still pass.
    let mut a = s.send(Req::new("Ecs_Test.ListClusters", "{}")).await;
    for _ in 0..50 {
        if a.status != 200 {
            break;
        }
        a = s.send(Req::new("Ecs_Test.ListClusters", "{}")).await;
    }
    assert_eq!(
        (a.status, a.code()),
        (400, "ThrottlingException"),
        "{}",
        a.body
    );
    assert!(
        a.message().contains("api.max_body_in_flight_mib"),
        "{}",
        a.message()
    );
    let held = hog.await.unwrap().unwrap();
    assert_eq!(held.status(), 200);
    let a = s.send(Req::new("Ecs_Test.ListClusters", "{}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    s.stop().await;
}

/// At the connection cap, stalled connections make room: four that never send a byte
/// fill it, a signed request still gets its answer, and a stalled one was closed.
#[tokio::test]
async fn stalled_connections_make_room_at_the_cap() {
    let s = start_with(ServeLimits {
        max_connections: 4,
        ..patient()
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(tokio::net::TcpStream::connect(s.addr).await.unwrap());
    }
    let a = s.send(Req::new("Ecs_Test.ListClusters", "{}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut closed = 0;
    for c in &mut stalled {
        let mut b = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(500), c.read(&mut b)).await {
            closed += 1;
        }
    }
    assert!(closed >= 1, "no stalled connection made room");
    s.stop().await;
}

#[test]
fn limits_from_config_name_their_fields() {
    let bad = |api: ApiConfig| ServeLimits::from_config(&api).unwrap_err().to_string();
    let e = bad(ApiConfig {
        max_connections: 0,
        ..ApiConfig::default()
    });
    assert!(e.starts_with("api.max_connections: 0 is outside"), "{e}");
    let e = bad(ApiConfig {
        body_read_timeout_seconds: 0,
        ..ApiConfig::default()
    });
    assert!(e.starts_with("api.body_read_timeout_seconds"), "{e}");
    let e = bad(ApiConfig {
        max_body_in_flight_mib: 0,
        ..ApiConfig::default()
    });
    assert!(e.starts_with("api.max_body_in_flight_mib"), "{e}");
    assert_eq!(
        ServeLimits::from_config(&ApiConfig::default()).unwrap(),
        ServeLimits::default()
    );
}
