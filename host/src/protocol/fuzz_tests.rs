//! The request decoders under arbitrary input (issue 9, item 17): each codec's `decode`
//! and the typed read (`from_node`) must answer bad bytes with an error, never a panic.
//! Inputs are edits of real requests botocore sends (and raw bytes); proptest shrinks a
//! failure to its smallest input. `PROPTEST_CASES=200000 cargo test --lib protocol::fuzz`
//! runs longer by hand.

use super::value::{Node, from_node};
use super::{cbor, json, query};
use http::{HeaderMap, HeaderValue, Method, Uri};
use proptest::prelude::*;
use serde::Deserialize;

/// A typed input with the shapes services use: strings, numbers, lists, maps, nesting.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "PascalCase")]
struct Probe {
    name: Option<String>,
    count: Option<i32>,
    values: Option<Vec<f64>>,
    tags: Option<Vec<ProbeTag>>,
    attributes: Option<std::collections::HashMap<String, String>>,
    nested: Option<Box<Probe>>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "PascalCase")]
struct ProbeTag {
    key: String,
    value: Option<String>,
}

fn typed(node: Node) {
    let _ = from_node::<Probe>(node.clone());
    let _ = from_node::<serde_json::Value>(node);
}

const QUERY_SEEDS: &[&str] = &[
    "Action=CreateUser&Version=2010-05-08&UserName=alice&Tags.member.1.Key=team&Tags.member.1.Value=a",
    "Action=SetAttr&Version=1&Attributes.entry.1.key=k&Attributes.entry.1.value=v&Nested.Name=x&Nested.Count=3",
    "Action=Put&Version=1&Values.member.1=1.5&Values.member.2=NaN&Count=-2147483648",
];

const JSON_SEEDS: &[&str] = &[
    r#"{"Name":"a","Count":1,"Values":[1.0,2.5],"Tags":[{"Key":"k","Value":"v"}],"Attributes":{"a":"b"},"Nested":{"Name":"n"}}"#,
    r#"{"cluster":"default","maxResults":10,"nextToken":null}"#,
];

fn edit(seed: &[u8], edits: &[(usize, u8, bool)]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for &(pos, byte, insert) in edits {
        let at = if bytes.is_empty() {
            0
        } else {
            pos % (bytes.len() + 1)
        };
        if insert || at == bytes.len() {
            bytes.insert(at, byte);
        } else {
            bytes[at] = byte;
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, bool)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 0..8)
}

fn form_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(3000)
    ))]

    #[test]
    fn query_decoding_never_panics(seed in 0..QUERY_SEEDS.len(), e in edits()) {
        let body = edit(QUERY_SEEDS[seed].as_bytes(), &e);
        let uri = Uri::from_static("/");
        if let Ok(req) = query::decode(&Method::POST, &uri, &form_headers(), &body) {
            typed(req.input);
        }
    }

    #[test]
    fn json_decoding_never_panics(seed in 0..JSON_SEEDS.len(), e in edits()) {
        let body = edit(JSON_SEEDS[seed].as_bytes(), &e);
        if let Ok(node) = json::decode(&body) {
            typed(node);
        }
    }

    #[test]
    fn cbor_decoding_never_panics(seed in 0..JSON_SEEDS.len(), e in edits()) {
        // The same documents as CBOR, then edited as bytes.
        let value: serde_json::Value = serde_json::from_str(JSON_SEEDS[seed]).unwrap_or_default();
        let bytes = cbor::encode(&json::from_json(value));
        let body = edit(&bytes, &e);
        if let Ok(node) = cbor::decode(&body) {
            typed(node);
        }
    }

    #[test]
    fn raw_bytes_never_panic_any_decoder(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let uri = Uri::from_static("/");
        let _ = query::decode(&Method::POST, &uri, &form_headers(), &body);
        let _ = json::decode(&body).map(typed);
        let _ = cbor::decode(&body).map(typed);
    }
}
