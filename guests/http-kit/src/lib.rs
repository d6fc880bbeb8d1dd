//! Helpers shared by the `wasi:http` guests (`http-hello`, `two-tier-*`): write a whole
//! response, send a GET through `wasi:http/outgoing-handler`, and read query parameters.
//! Plain `wasip2` bindings, no async runtime: each call blocks on its pollable.

use std::io::{Read, Write};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};

/// The request's path with its query (`/` when the client sent none).
pub fn path_of(req: &IncomingRequest) -> String {
    req.path_with_query().unwrap_or_else(|| "/".to_owned())
}

/// The path without its query.
pub fn path_only(path_with_query: &str) -> &str {
    path_with_query
        .split_once('?')
        .map_or(path_with_query, |(p, _)| p)
}

/// The first value of query parameter `key` (no percent-decoding: test guests only).
pub fn query<'a>(path_with_query: &'a str, key: &str) -> Option<&'a str> {
    let (_, q) = path_with_query.split_once('?')?;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Sends a complete response: status, one content-type header and the body.
pub fn respond(out: ResponseOutparam, status: u16, content_type: &str, body: &[u8]) {
    let headers = Fields::new();
    let _ = headers.append("content-type", content_type.as_bytes());
    let _ = headers.append("content-length", body.len().to_string().as_bytes());
    let resp = OutgoingResponse::new(headers);
    let _ = resp.set_status_code(status);
    let Ok(out_body) = resp.body() else {
        ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some("no body".into()))));
        return;
    };
    ResponseOutparam::set(out, Ok(resp));
    if let Ok(mut stream) = out_body.write() {
        // `Write` for the WASI output stream writes in chunks the host accepts.
        let _ = stream.write_all(body);
        let _ = stream.flush();
    }
    let _ = OutgoingBody::finish(out_body, None);
}

/// An answer to an outgoing request.
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `GET url` through `wasi:http/outgoing-handler`; `url` is `http://authority/path`.
/// Errors are the `wasi:http` error code as text (e.g. `ConnectionRefused`).
pub fn get(url: &str) -> Result<Fetched, String> {
    get_with(url, &[])
}

/// `GET url` with extra request headers (`name`, `value`).
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Result<Fetched, String> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else {
        return Err(format!("unsupported URL {url:?}"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| format!("header {name}: {e:?}"))?;
    }
    let req = OutgoingRequest::new(fields);
    req.set_method(&Method::Get)
        .and_then(|_| req.set_scheme(Some(&scheme)))
        .and_then(|_| req.set_authority(Some(authority)))
        .and_then(|_| req.set_path_with_query(Some(path)))
        .map_err(|_| format!("invalid URL {url:?}"))?;
    let future = outgoing_handler::handle(req, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let resp = match future.get() {
        Some(Ok(Ok(resp))) => resp,
        Some(Ok(Err(code))) => return Err(format!("{code:?}")),
        Some(Err(())) => return Err("response already taken".into()),
        None => return Err("response not ready".into()),
    };
    let status = resp.status();
    let body = resp.consume().map_err(|_| "no body".to_owned())?;
    let mut bytes = Vec::new();
    {
        let mut stream = body.stream().map_err(|_| "no body stream".to_owned())?;
        stream
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading the body: {e}"))?;
    }
    drop(body);
    Ok(Fetched {
        status,
        body: bytes,
    })
}

/// Escapes `s` for use inside a JSON string.
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
