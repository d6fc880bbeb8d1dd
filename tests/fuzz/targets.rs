//! The fuzz targets: each takes arbitrary bytes and drives one parser as the host does.

use wasmgate::api::sigv4::{Presented, RequestHead, canonical_request};

/// A task definition as `wasmgate run`, `validate` and RegisterTaskDefinition read it.
pub fn taskdef(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let opts = wasmgate::taskdef::ValidationOptions::default();
    if let Ok(parsed) = wasmgate::taskdef::parse(text, &opts) {
        // What was accepted is valid by the validator's own rules.
        wasmgate::taskdef::validate(&parsed.definition, &opts)
            .unwrap_or_else(|e| panic!("parse accepted what validate refuses: {e}"));
    }
}

/// Reads `METHOD URI\nName: value\n…\n\nbody` into request parts and a body.
pub fn request(input: &[u8]) -> Option<(http::request::Parts, Vec<u8>)> {
    let split = input
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(input.len());
    let head = std::str::from_utf8(&input[..split]).ok()?;
    let body = input.get(split + 2..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let (method, uri) = lines.next()?.trim().split_once(' ')?;
    let mut builder = http::Request::builder()
        .method(method.trim())
        .uri(uri.trim());
    for line in lines {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
    }
    let (parts, ()) = builder.body(()).ok()?.into_parts();
    Some((parts, body))
}

/// The SigV4 check the API runs on every request: parse the Authorization header, check
/// the scope and date, build the canonical request and verify the signature.
pub fn sigv4(input: &[u8]) {
    let Some((parts, body)) = request(input) else {
        return;
    };
    let head = RequestHead::from(&parts);
    // The canonical request is built for any header set, signed or not.
    let all: Vec<String> = parts
        .headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect();
    let _ = canonical_request(head, &all, &body);
    let Ok(presented) = Presented::parse(&parts.headers) else {
        return;
    };
    let now = time::OffsetDateTime::now_utc();
    let _ = presented.check_scope("us-east-1", Some("ecs"), now);
    let _ = presented.scope();
    if presented.verify("test", head, &body).is_ok() {
        panic!("a mutated request verified with a made-up signature: {presented:?}");
    }
}

/// A container `image` that names a registry.
pub fn image_ref(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(r) = wasmgate::images::ImageRef::parse(text) {
        // What parses prints as a reference that parses to the same thing.
        let again = wasmgate::images::ImageRef::parse(&r.to_string())
            .unwrap_or_else(|e| panic!("{r} does not parse again: {e}"));
        assert_eq!(r, again, "round trip of {text:?}");
    }
}
