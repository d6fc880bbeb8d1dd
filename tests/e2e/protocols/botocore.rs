//! botocore as the other end of the wire: its own serializer makes each request, the
//! router answers it, and botocore's own parser reads the answer
//! (`tests/py/botocore_wire.py`, one JSON line per job, in the test venv).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use wasmgate::protocol::{Principal, Router};

use crate::common;

pub struct Botocore {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// A request as botocore would send it.
#[derive(Debug, Clone)]
pub struct Wire {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The SigV4 signing name botocore would put in the credential scope.
    pub signing_name: String,
}

impl Wire {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Botocore {
    pub fn start() -> Self {
        let mut cmd = Command::new(common::pyenv().join("bin/python"));
        cmd.arg(common::repo().join("tests/py/botocore_wire.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        common::aws_client_env(&mut cmd);
        let mut child = cmd.spawn().expect("start tests/py/botocore_wire.py");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, job: Value) -> Value {
        writeln!(self.stdin, "{job}").expect("write to botocore_wire.py");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .expect("read from botocore_wire.py");
        assert!(n > 0, "botocore_wire.py ended; job: {job}");
        let out: Value = serde_json::from_str(&line).expect("a JSON line");
        if let Some(e) = out.get("error") {
            panic!(
                "botocore failed on {job}:\n{}",
                e.as_str().unwrap_or_default()
            );
        }
        out
    }

    /// botocore's request for `operation` with `params` (validated against the model).
    pub fn serialize(
        &mut self,
        service: &str,
        protocol: &str,
        operation: &str,
        params: Value,
    ) -> Wire {
        self.serialize_with(service, protocol, operation, params, true)
    }

    /// The same, skipping botocore's parameter validation (to send what a careless client
    /// might).
    pub fn serialize_unchecked(
        &mut self,
        service: &str,
        protocol: &str,
        operation: &str,
        params: Value,
    ) -> Wire {
        self.serialize_with(service, protocol, operation, params, false)
    }

    fn serialize_with(
        &mut self,
        service: &str,
        protocol: &str,
        operation: &str,
        params: Value,
        validate: bool,
    ) -> Wire {
        let out = self.ask(
            json!({"cmd": "serialize", "service": service, "protocol": protocol,
            "operation": operation, "params": params, "validate": validate}),
        );
        let headers = out["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        Wire {
            method: out["method"].as_str().expect("method").to_owned(),
            path: out["path"].as_str().expect("path").to_owned(),
            headers,
            body: B64
                .decode(out["body_b64"].as_str().expect("body"))
                .expect("base64"),
            signing_name: out["signing_name"]
                .as_str()
                .expect("signing name")
                .to_owned(),
        }
    }

    /// What botocore's parser makes of `response` for `operation`.
    pub fn parse(
        &mut self,
        service: &str,
        protocol: &str,
        operation: &str,
        response: &http::Response<Bytes>,
    ) -> Value {
        let headers: serde_json::Map<String, Value> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or_default())))
            .collect();
        self.ask(
            json!({"cmd": "parse", "service": service, "protocol": protocol, "operation": operation,
            "status": response.status().as_u16(), "headers": headers,
            "body_b64": B64.encode(response.body())}),
        )
    }
}

impl Drop for Botocore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const REQUEST_ID: &str = "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE";

/// Routes `wire` as the front end will (credential scope = botocore's signing name) and
/// returns the router's response.
pub async fn exchange(router: &Router, wire: &Wire) -> http::Response<Bytes> {
    let mut b = http::Request::builder()
        .method(wire.method.as_str())
        .uri(wire.path.as_str());
    for (k, v) in &wire.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let (parts, ()) = b.body(()).expect("a valid request").into_parts();
    let routed = router.route(&parts, Some(&wire.signing_name));
    let principal = Principal::root("test", "arn:aws:iam::000000000000:user/test");
    routed
        .call(
            principal,
            REQUEST_ID,
            &parts,
            Bytes::from(wire.body.clone()),
        )
        .await
}
