//! `http-hello`: a `wasi:http` proxy component (it exports `wasi:http/incoming-handler`).
//!
//! - any path: `200 hello from <NAME> path=<path>` (`NAME` from the environment, else the
//!   first argument, else `http-hello`).
//! - `/trap`: executes `unreachable` (the host answers 500 and keeps serving).
//! - `/alloc?mib=N`: allocates and touches N MiB, then answers `allocated N MiB`.
//! - `/sleep?ms=N`: sleeps N ms, then answers `slept N ms` (for draining tests).
//! - `/fetch?url=http://…`: GETs the URL through `wasi:http/outgoing-handler` and answers
//!   `fetched <status> <body>`, or `502 fetch failed: <error-code>`.
//! - `/env?name=V`: answers the value of environment variable `V` (or 404).
//! - `/burn?ms=N`: computes for N ms of wall time (CPU-bound: the host's CPU share
//!   throttles it), then answers `burned N ms`.
//! - `/count`: answers `count N of ID`, N the `/count` requests this instance has served
//!   (kept in its memory: always 1 with a fresh instance per request, 1, 2, 3… when reused)
//!   and ID a random number the instance drew at its first `/count` (which instance it is).
//!
//! `main` is never run by wasmgate (the component serves HTTP); it only explains that.

use http_kit::{path_of, path_only, query, respond};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

const MIB: usize = 1 << 20;

/// `/count` requests this instance has served (lives in the instance's linear memory).
static COUNT: AtomicU64 = AtomicU64::new(0);
/// This instance's random id (0: not drawn yet).
static ID: AtomicU64 = AtomicU64::new(0);

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let path = path_of(&req);
        drop(req);
        match path_only(&path) {
            "/trap" => {
                eprintln!("http-hello: trapping on request");
                core::arch::wasm32::unreachable()
            }
            "/alloc" => {
                let mib = query(&path, "mib").and_then(|m| m.parse::<usize>().ok());
                let mib = mib.unwrap_or(1);
                let mut chunks: Vec<Vec<u8>> = Vec::with_capacity(mib);
                for n in 0..mib {
                    let mut chunk = vec![0u8; MIB];
                    for i in (0..MIB).step_by(4096) {
                        chunk[i] = (n as u8) | 1;
                    }
                    chunks.push(black_box(chunk));
                }
                let body = format!("allocated {} MiB\n", chunks.len());
                respond(out, 200, "text/plain", body.as_bytes());
            }
            "/sleep" => {
                let ms = query(&path, "ms").and_then(|m| m.parse::<u64>().ok());
                let ms = ms.unwrap_or(100);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                respond(
                    out,
                    200,
                    "text/plain",
                    format!("slept {ms} ms\n").as_bytes(),
                );
            }
            "/fetch" => {
                let Some(url) = query(&path, "url") else {
                    return respond(out, 400, "text/plain", b"missing ?url=\n");
                };
                match http_kit::get(url) {
                    Ok(f) => {
                        let body = format!(
                            "fetched {} {}\n",
                            f.status,
                            String::from_utf8_lossy(&f.body).trim_end()
                        );
                        respond(out, 200, "text/plain", body.as_bytes());
                    }
                    Err(e) => {
                        eprintln!("http-hello: fetch {url} failed: {e}");
                        respond(
                            out,
                            502,
                            "text/plain",
                            format!("fetch failed: {e}\n").as_bytes(),
                        );
                    }
                }
            }
            "/burn" => {
                let ms = query(&path, "ms").and_then(|m| m.parse::<u64>().ok());
                let ms = ms.unwrap_or(100).min(10_000);
                let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
                let mut x: u64 = black_box(1);
                while std::time::Instant::now() < until {
                    for _ in 0..10_000 {
                        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                }
                respond(out, 200, "text/plain", format!("burned {ms} ms\n").as_bytes());
            }
            "/count" => {
                let n = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
                if ID.load(Ordering::Relaxed) == 0 {
                    ID.store(wasip2::random::random::get_random_u64() | 1, Ordering::Relaxed);
                }
                let id = ID.load(Ordering::Relaxed);
                let body = format!("count {n} of {id:016x}\n");
                respond(out, 200, "text/plain", body.as_bytes());
            }
            "/env" => match query(&path, "name").and_then(|n| std::env::var(n).ok()) {
                Some(v) => respond(out, 200, "text/plain", format!("{v}\n").as_bytes()),
                None => respond(out, 404, "text/plain", b"not set\n"),
            },
            _ => {
                let body = format!("hello from {} path={path}\n", name());
                respond(out, 200, "text/plain", body.as_bytes());
            }
        }
    }
}

fn name() -> String {
    std::env::var("NAME")
        .ok()
        .or_else(|| std::env::args().nth(1))
        .unwrap_or_else(|| "http-hello".to_owned())
}

wasip2::http::proxy::export!(Hello);

fn main() {
    eprintln!("http-hello is a wasi:http component: serve it (portMappings), do not run it");
}
