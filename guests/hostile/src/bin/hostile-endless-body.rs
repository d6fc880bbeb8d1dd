//! `hostile-endless-body`: a `wasi:http` proxy component whose every response is `200` with
//! a body that never ends (64 KiB chunks of `x`, written as fast as the host takes them).
//! Put behind the load balancer, its health path is an endless body: a health checker that
//! collects the body grows without bound. It stops writing once the host closes the
//! stream (the reader went away).
//!
//! Each request prints `endless-body: streaming <path>` on stderr, so a test can count them.

use std::io::Write;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

const CHUNK: usize = 64 * 1024;

struct Endless;

impl wasip2::exports::http::incoming_handler::Guest for Endless {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let path = http_kit::path_of(&req);
        drop(req);
        eprintln!("endless-body: streaming {path}");
        let headers = Fields::new();
        let _ = headers.append("content-type", b"text/plain");
        let resp = OutgoingResponse::new(headers);
        let _ = resp.set_status_code(200);
        let Ok(body) = resp.body() else {
            ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some("no body".into()))));
            return;
        };
        ResponseOutparam::set(out, Ok(resp));
        let chunk = vec![b'x'; CHUNK];
        if let Ok(mut stream) = body.write() {
            // Ends only when the host closes the stream (the reader is gone).
            while stream.write_all(&chunk).is_ok() {}
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

wasip2::http::proxy::export!(Endless);

fn main() {
    eprintln!("hostile-endless-body is a wasi:http component: serve it, do not run it");
}
