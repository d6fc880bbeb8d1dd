//! `hostile-slow-handler`: a `wasi:http` proxy component that holds every request for a
//! long time (argument 1: milliseconds, default 10 minutes; `?ms=N` overrides it) before
//! it answers `200 slept N ms`. Enough concurrent requests to it would hold as many
//! instances as a host hands out; the host must refuse the excess with 503 and keep its
//! pool for other tasks (tests/e2e/hostile/http.rs).

use http_kit::{path_of, query, respond};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct SlowHandler;

impl wasip2::exports::http::incoming_handler::Guest for SlowHandler {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let path = path_of(&req);
        drop(req);
        let ms = query(&path, "ms")
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| hostile::arg_or(1, 600_000u64));
        std::thread::sleep(std::time::Duration::from_millis(ms));
        respond(out, 200, "text/plain", format!("slept {ms} ms\n").as_bytes());
    }
}

wasip2::http::proxy::export!(SlowHandler);

fn main() {
    eprintln!("hostile-slow-handler is a wasi:http component: serve it, do not run it");
}
