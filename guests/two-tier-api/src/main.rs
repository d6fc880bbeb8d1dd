//! `two-tier-api`: the back end of `examples/two-tier`, a `wasi:http` component on :5000.
//!
//! - `/api/<anything>`: `200 {"service":"api","path":"…","message":"…","requests":n}`
//!   where `message` is `$GREETING` (default `hello from the api`) and `requests` counts the
//!   requests this instance served: always 1, since the host makes a fresh instance per request.
//! - `/health`: `200 ok`.
//! - anything else: `404 {"error":"not found","path":"…"}`.

use http_kit::{json_escape, path_of, path_only, respond};
use std::sync::atomic::{AtomicU32, Ordering};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

static SERVED: AtomicU32 = AtomicU32::new(0);

struct Api;

impl wasip2::exports::http::incoming_handler::Guest for Api {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let path = path_of(&req);
        drop(req);
        let n = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
        let p = path_only(&path);
        if p == "/health" {
            return respond(out, 200, "text/plain", b"ok\n");
        }
        if !p.starts_with("/api/") && p != "/api" {
            let body = format!(
                "{{\"error\":\"not found\",\"path\":\"{}\"}}\n",
                json_escape(&path)
            );
            return respond(out, 404, "application/json", body.as_bytes());
        }
        let message = std::env::var("GREETING").unwrap_or_else(|_| "hello from the api".to_owned());
        let body = format!(
            "{{\"service\":\"api\",\"path\":\"{}\",\"message\":\"{}\",\"requests\":{n}}}\n",
            json_escape(&path),
            json_escape(&message)
        );
        respond(out, 200, "application/json", body.as_bytes());
    }
}

wasip2::http::proxy::export!(Api);

fn main() {
    eprintln!("two-tier-api is a wasi:http component: serve it (portMappings), do not run it");
}
