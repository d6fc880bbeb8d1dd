//! `metadata-reader`: asks the task's endpoints what an ECS application would, one action
//! per argument, in order, and prints one line per request:
//! `RESULT <label> <status> <body>` (the body is the endpoint's one-line JSON), or
//! `RESULT <label> error <message>`.
//!
//! Actions:
//! - `get:<suffix>`: wasi:http GET `$ECS_CONTAINER_METADATA_URI_V4<suffix>` (`get:` alone is
//!   the container's own document, `get:/task`, `get:/stats`...);
//! - `v3:<suffix>`: the same under `$ECS_CONTAINER_METADATA_URI`;
//! - `tcp:<suffix>`: the same as `get:` as a plain HTTP/1.1 GET over a wasi:sockets TCP stream;
//! - `creds`, `creds-none`, `creds-bad`: wasi:http GET `$AWS_CONTAINER_CREDENTIALS_FULL_URI`
//!   with the task's token, without one, with a wrong one; `tcp-creds` over TCP;
//! - `url:<url>`: wasi:http GET of any URL; `tcpurl:<url>` the same over TCP;
//! - `spin:<ms>`: compute for that long; `sleep:<ms>`: sleep;
//! - `await:<status>`: GET `/task` until its `KnownStatus` is that (a container runs before
//!   its task is RUNNING: the task waits for its other containers), at most 60 s;
//! - `env`: print `ENV <name>=<value>` for the endpoint variables; `envrev:<name>` prints
//!   any one variable (a container secret, say) reversed, so that a test can check the
//!   guest saw the value while the value itself appears in no output or log;
//! - `fetch:<url>|<token>`: wasi:http GET of `<url>` with that `Authorization` (another
//!   task's credentials endpoint, say).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const VARS: &[&str] = &[
    "ECS_CONTAINER_METADATA_URI_V4",
    "ECS_CONTAINER_METADATA_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/// GETs the task document until its `KnownStatus` is `status`; the last answer either way.
fn await_status(v4: &str, status: &str) -> Result<(u16, String), String> {
    let want = format!("\"KnownStatus\":\"{status}\"");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = http(&format!("{v4}/task"), None);
        // The task's own is the last `KnownStatus`: the host writes keys in order, so
        // `Containers` (each with its `KnownStatus`) comes before it.
        let done = matches!(&answer, Ok((200, body))
            if body.rfind("\"KnownStatus\":").is_some_and(|i| body[i..].starts_with(&want)));
        if done || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let v4 = std::env::var("ECS_CONTAINER_METADATA_URI_V4").unwrap_or_default();
    let v3 = std::env::var("ECS_CONTAINER_METADATA_URI").unwrap_or_default();
    let creds = std::env::var("AWS_CONTAINER_CREDENTIALS_FULL_URI").unwrap_or_default();
    let token = std::env::var("AWS_CONTAINER_AUTHORIZATION_TOKEN").unwrap_or_default();
    for action in std::env::args().skip(1) {
        let (verb, arg) = action.split_once(':').unwrap_or((action.as_str(), ""));
        let result = match verb {
            "get" => http(&format!("{v4}{arg}"), None),
            "v3" => http(&format!("{v3}{arg}"), None),
            "tcp" => tcp(&format!("{v4}{arg}"), None),
            "creds" => http(&creds, Some(&token)),
            "creds-none" => http(&creds, None),
            "creds-bad" => http(&creds, Some("not-the-token")),
            "tcp-creds" => tcp(&creds, Some(&token)),
            "url" => http(arg, None),
            "tcpurl" => tcp(arg, None),
            "spin" => {
                spin(Duration::from_millis(arg.parse().unwrap_or(100)));
                continue;
            }
            "sleep" => {
                std::thread::sleep(Duration::from_millis(arg.parse().unwrap_or(100)));
                continue;
            }
            "await" => await_status(&v4, arg),
            "envrev" => {
                let value = std::env::var(arg).unwrap_or_default();
                println!("ENV {arg}={}", value.chars().rev().collect::<String>());
                let _ = std::io::stdout().flush();
                continue;
            }
            "fetch" => {
                let (url, token) = arg.split_once('|').unwrap_or((arg, ""));
                http(url, Some(token))
            }
            "env" => {
                for var in VARS {
                    println!("ENV {var}={}", std::env::var(var).unwrap_or_default());
                }
                continue;
            }
            _ => Err(format!("unknown action {action:?}")),
        };
        match result {
            Ok((status, body)) => println!("RESULT {action} {status} {}", body.trim()),
            Err(e) => println!("RESULT {action} error {e}"),
        }
        let _ = std::io::stdout().flush();
    }
}

fn http(url: &str, token: Option<&str>) -> Result<(u16, String), String> {
    let headers: Vec<(&str, &str)> = token.map(|t| ("authorization", t)).into_iter().collect();
    let got = http_kit::get_with(url, &headers)?;
    Ok((got.status, String::from_utf8_lossy(&got.body).into_owned()))
}

/// A plain HTTP/1.1 GET over TCP (Rust std's sockets are wasi:sockets on wasip2).
fn tcp(url: &str, token: Option<&str>) -> Result<(u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {url:?}"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let stream = TcpStream::connect(authority).map_err(|e| format!("connect {authority}: {e}"))?;
    // wasip2 std may report a refused connection only when the peer is asked for.
    stream
        .peer_addr()
        .map_err(|e| format!("connect {authority}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: {t}\r\n"));
    }
    request.push_str("\r\n");
    let mut out = &stream;
    out.write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    let mut input = &stream;
    input
        .read_to_end(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response head in {} bytes", response.len()))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {:?}", head.lines().next()))?;
    Ok((status, body.to_owned()))
}

fn spin(d: Duration) {
    let start = Instant::now();
    let mut x: u64 = 1;
    while start.elapsed() < d {
        for _ in 0..10_000 {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407),
            );
        }
    }
}
