//! Container health checks (ECS `healthCheck`) for Wasm containers.
//!
//! A Wasm container has no shell to run a command in, so the one check offered is an HTTP
//! GET from the host to the task's address, written in either of the forms ECS users
//! already write:
//! - `["CMD", "http-get", "http://localhost:<port>/<path>"]`
//! - `["CMD-SHELL", "curl -f http://localhost:<port>/<path>"]` (optionally `|| exit 1`)
//!
//! A status from 200 to 399 passes (as `curl -f`); anything else, a refused connection or
//! no answer within `timeout` fails. `interval` (default 30 s), `timeout` (5 s), `retries`
//! (3) and `startPeriod` (0 s: failures inside it do not count) are ECS's members with
//! ECS's defaults and ranges.

use crate::taskdef::FieldError;
use serde::Serialize;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// ECS `healthStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
    Unknown,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "HEALTHY",
            HealthStatus::Unhealthy => "UNHEALTHY",
            HealthStatus::Unknown => "UNKNOWN",
        }
    }
}

/// A parsed `healthCheck`.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

const FORMS: &str = "use [\"CMD\", \"http-get\", \"http://localhost:<port>/<path>\"] or [\"CMD-SHELL\", \"curl -f http://localhost:<port>/<path>\"]";

/// Parses container `i`'s `healthCheck`; the error names the member.
pub fn parse(i: usize, value: &Value) -> Result<HealthCheck, FieldError> {
    let at = |m: &str| format!("containerDefinitions[{i}].healthCheck.{m}");
    let command: Vec<&str> = value
        .get("command")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let url = match command.as_slice() {
        ["CMD", "http-get", url] => Some(*url),
        ["CMD-SHELL", line] => {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["curl", "-f", url] | ["curl", "-f", url, "||", "exit", "1"] => Some(*url),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(url) = url else {
        return Err(FieldError::new(
            at("command"),
            format!("wasmgate runs health checks as an HTTP GET: {FORMS}"),
        ));
    };
    let (port, path) = parse_url(url).ok_or_else(|| {
        FieldError::new(
            at("command"),
            format!("{url:?} is not http://localhost:<port>/<path>; {FORMS}"),
        )
    })?;
    let secs = |m: &str, default: u64, lo: u64, hi: u64| -> Result<Duration, FieldError> {
        match value.get(m) {
            None | Some(Value::Null) => Ok(Duration::from_secs(default)),
            Some(v) => v
                .as_u64()
                .filter(|n| (lo..=hi).contains(n))
                .map(Duration::from_secs)
                .ok_or_else(|| FieldError::new(at(m), format!("must be between {lo} and {hi}"))),
        }
    };
    let interval = secs("interval", 30, 5, 300)?;
    let timeout = secs("timeout", 5, 2, 60)?;
    let start_period = secs("startPeriod", 0, 0, 300)?;
    let retries = secs("retries", 3, 1, 10)?.as_secs() as u32;
    Ok(HealthCheck {
        port,
        path,
        interval,
        timeout,
        retries,
        start_period,
    })
}

fn parse_url(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok().filter(|p| *p > 0)?),
        None => (authority, 80),
    };
    if !matches!(host, "localhost" | "127.0.0.1" | "0.0.0.0") {
        return None;
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some((port, path.to_owned()))
}

/// One GET; whether it passed.
pub async fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: wasmgate-health\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut head = [0u8; 32];
        let mut n = 0;
        while n < 12 {
            let got = s.read(&mut head[n..]).await.ok()?;
            if got == 0 {
                break;
            }
            n += got;
        }
        let line = std::str::from_utf8(&head[..n]).ok()?;
        let status: u16 = line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()?;
        Some(status)
    };
    matches!(
        tokio::time::timeout(timeout, attempt).await,
        Ok(Some(status)) if (200..400).contains(&status)
    )
}

/// Checks a container at `ip`, reporting each change of its health, until `report` says
/// nobody listens any more.
pub async fn watch(ip: IpAddr, check: HealthCheck, report: impl Fn(HealthStatus) -> bool) {
    let addr = SocketAddr::new(ip, check.port);
    let started = Instant::now();
    let mut failures = 0u32;
    let mut last = HealthStatus::Unknown;
    loop {
        let ok = probe(addr, &check.path, check.timeout).await;
        let now = if ok {
            failures = 0;
            HealthStatus::Healthy
        } else if started.elapsed() < check.start_period {
            last
        } else {
            failures += 1;
            if failures >= check.retries {
                HealthStatus::Unhealthy
            } else {
                last
            }
        };
        if now != last {
            last = now;
            if !report(now) {
                return;
            }
        }
        tokio::time::sleep(check.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_command_forms_and_defaults() {
        let a = parse(
            0,
            &json!({ "command": ["CMD", "http-get", "http://localhost:8080/health"] }),
        )
        .expect("CMD form");
        assert_eq!((a.port, a.path.as_str()), (8080, "/health"));
        assert_eq!(a.interval, Duration::from_secs(30));
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert_eq!(a.retries, 3);
        assert_eq!(a.start_period, Duration::ZERO);
        let b = parse(
            1,
            &json!({ "command": ["CMD-SHELL", "curl -f http://localhost:80/ || exit 1"],
                     "interval": 5, "timeout": 2, "retries": 1, "startPeriod": 10 }),
        )
        .expect("CMD-SHELL form");
        assert_eq!((b.port, b.path.as_str()), (80, "/"));
        assert_eq!(b.retries, 1);
        assert_eq!(b.start_period, Duration::from_secs(10));
    }

    #[test]
    fn other_forms_are_refused_naming_the_member() {
        for bad in [
            json!({ "command": ["CMD", "true"] }),
            json!({ "command": ["CMD-SHELL", "wget -q http://localhost/"] }),
            json!({ "command": ["CMD", "http-get", "http://example.com:80/"] }),
            json!({}),
        ] {
            let e = parse(2, &bad).expect_err("refused");
            assert_eq!(e.path, "containerDefinitions[2].healthCheck.command");
            assert!(e.rule.contains("http://localhost:<port>/<path>"), "{e}");
        }
        let e = parse(
            0,
            &json!({ "command": ["CMD", "http-get", "http://localhost:1/"], "interval": 1 }),
        )
        .expect_err("interval");
        assert_eq!(
            e.to_string(),
            "containerDefinitions[0].healthCheck.interval: must be between 5 and 300"
        );
    }
}
