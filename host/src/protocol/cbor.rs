//! smithy-rpc-v2-cbor (what botocore 1.44 uses for CloudWatch and Cloud Map):
//! `POST /service/<Service>/operation/<Operation>` with `smithy-protocol: rpc-v2-cbor` and a
//! CBOR map body. Timestamps are tag 1 over epoch seconds (an integer, or a float with a
//! fraction), blobs byte strings. Errors are a CBOR map `{"__type": code, "message": …}`
//! with the error's status.

use super::error::ApiError;
use super::reply::Reply;
use super::value::Node;
use ciborium::value::{Integer, Value};

pub(crate) const CONTENT_TYPE: &str = "application/cbor";
/// The header every request and response of the protocol carries.
pub(crate) const PROTOCOL_HEADER: &str = "smithy-protocol";
pub(crate) const PROTOCOL: &str = "rpc-v2-cbor";
/// Deepest nesting read: bounds the decoder's recursion (AWS inputs nest about 10 deep).
const RECURSION_LIMIT: usize = 128;
/// CBOR tag 1: epoch-based date/time.
const EPOCH_TAG: u64 = 1;

/// `/service/<Service>/operation/<Operation>` → `(Service, Operation)`.
pub(crate) fn parse_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/service/")?;
    let (service, rest) = rest.split_once('/')?;
    let operation = rest.strip_prefix("operation/")?;
    if service.is_empty() || operation.is_empty() || operation.contains('/') {
        return None;
    }
    Some((service, operation))
}

pub(crate) fn check_headers(headers: &http::HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if let Some(p) = headers.get(PROTOCOL_HEADER)
        && p.to_str().ok() != Some(PROTOCOL)
    {
        return Err(ApiError::serialization(format!(
            "The {PROTOCOL_HEADER} header must be {PROTOCOL}"
        )));
    }
    let mime = super::json::mime(headers);
    if !body.is_empty() && !mime.eq_ignore_ascii_case(CONTENT_TYPE) {
        return Err(ApiError::serialization(format!(
            "Content-Type must be {CONTENT_TYPE}; got {}",
            if mime.is_empty() { "none" } else { mime }
        )));
    }
    Ok(())
}

/// A request body: one CBOR map (an empty body counts as an empty map).
pub(crate) fn decode(body: &[u8]) -> Result<Node, ApiError> {
    if body.is_empty() {
        return Ok(Node::Struct(Vec::new()));
    }
    let value: Value = ciborium::de::from_reader_with_recursion_limit(body, RECURSION_LIMIT)
        .map_err(|e| ApiError::serialization(format!("The request body is not valid CBOR: {e}")))?;
    match from_cbor(value).map_err(ApiError::serialization)? {
        node @ Node::Struct(_) => Ok(node),
        other => Err(ApiError::serialization(format!(
            "The request body must be a CBOR map, not {}",
            other.kind()
        ))),
    }
}

fn from_cbor(value: Value) -> Result<Node, String> {
    Ok(match value {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(b),
        Value::Integer(i) => Node::Int(i128::from(i)),
        Value::Float(f) => Node::Float(f),
        Value::Text(s) => Node::Str(s),
        Value::Bytes(b) => Node::Bytes(b),
        Value::Tag(EPOCH_TAG, inner) => match *inner {
            Value::Integer(i) => Node::Time(i128::from(i) as f64),
            Value::Float(f) => Node::Time(f),
            _ => return Err("a timestamp (tag 1) must hold a number".into()),
        },
        // Other tags say nothing the typed model needs: read what they wrap.
        Value::Tag(_, inner) => from_cbor(*inner)?,
        Value::Array(items) => {
            Node::List(items.into_iter().map(from_cbor).collect::<Result<_, _>>()?)
        }
        Value::Map(entries) => Node::Struct(
            entries
                .into_iter()
                .map(|(k, v)| match k {
                    Value::Text(k) => Ok((k, from_cbor(v)?)),
                    _ => Err("map keys must be text strings".to_owned()),
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => Node::Null,
    })
}

fn to_cbor(node: &Node) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => Integer::try_from(*i)
            .map(Value::Integer)
            .unwrap_or(Value::Float(*i as f64)),
        Node::Float(f) => Value::Float(*f),
        Node::Str(s) | Node::Text(s) => Value::Text(s.clone()),
        Node::Bytes(b) => Value::Bytes(b.clone()),
        Node::Time(secs) => {
            let inner = if secs.fract() == 0.0 && secs.abs() < 9.0e15 {
                Value::Integer(Integer::from(*secs as i64))
            } else {
                Value::Float((secs * 1000.0).round() / 1000.0)
            };
            Value::Tag(EPOCH_TAG, Box::new(inner))
        }
        Node::List(items) => Value::Array(items.iter().map(to_cbor).collect()),
        Node::Struct(m) | Node::Map(m) | Node::Form(m) => Value::Map(
            m.iter()
                .filter(|(_, v)| *v != Node::Null)
                .map(|(k, v)| (Value::Text(k.clone()), to_cbor(v)))
                .collect(),
        ),
    }
}

/// A response body; an operation without output answers an empty map.
pub(crate) fn encode(node: &Node) -> Vec<u8> {
    let value = match node {
        Node::Null => Value::Map(Vec::new()),
        n => to_cbor(n),
    };
    let mut out = Vec::new();
    if let Err(e) = ciborium::ser::into_writer(&value, &mut out) {
        tracing::error!("rpc-v2-cbor: writing the response failed: {e}");
    }
    out
}

fn reply(status: u16, body: Vec<u8>) -> Reply {
    let mut r = Reply::new(status, CONTENT_TYPE, body);
    r.header(PROTOCOL_HEADER, PROTOCOL.to_owned());
    r
}

pub(crate) fn ok(node: &Node) -> Reply {
    reply(200, encode(node))
}

pub(crate) fn error(err: &ApiError, query_compatible: bool) -> Reply {
    let body = Node::Struct(vec![
        ("__type".into(), Node::Str(err.code.clone())),
        ("message".into(), Node::Str(err.message.clone())),
    ]);
    let mut r = reply(err.status, encode(&body));
    if query_compatible {
        r.header(
            "x-amzn-query-error",
            format!("{};{}", err.code, err.fault()),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::value::{Blob, Timestamp, from_node, to_node};
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Datum {
        metric_name: String,
        timestamp: Option<Timestamp>,
        #[serde(default)]
        dimensions: Vec<Dimension>,
        #[serde(default)]
        values: Vec<f64>,
        payload: Option<Blob>,
        #[serde(default)]
        extended: BTreeMap<String, f64>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Dimension {
        name: String,
        value: String,
    }

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn decodes_tags_bytes_lists_and_maps() {
        let body = cbor(&Value::Map(vec![
            (text("MetricName"), text("Latency")),
            (
                text("Timestamp"),
                Value::Tag(1, Box::new(Value::Float(1_714_564_800.5))),
            ),
            (
                text("Dimensions"),
                Value::Array(vec![Value::Map(vec![
                    (text("Name"), text("Service")),
                    (text("Value"), text("web")),
                ])]),
            ),
            (
                text("Values"),
                Value::Array(vec![Value::Float(1.5), Value::Integer(2.into())]),
            ),
            (text("Payload"), Value::Bytes(b"\x00\xff".to_vec())),
            (
                text("Extended"),
                Value::Map(vec![(text("p99"), Value::Float(9.0))]),
            ),
            (text("Unit"), Value::Null),
        ]));
        let d = from_node::<Datum>(decode(&body).unwrap()).unwrap();
        assert_eq!(
            d.value.timestamp.unwrap().to_iso8601(),
            "2024-05-01T12:00:00.500Z"
        );
        assert_eq!(
            d.value.dimensions,
            [Dimension {
                name: "Service".into(),
                value: "web".into()
            }]
        );
        assert_eq!(d.value.values, [1.5, 2.0]);
        assert_eq!(d.value.payload.unwrap().0, b"\x00\xff");
        assert_eq!(d.value.extended["p99"], 9.0);
        assert!(d.ignored.is_empty());
    }

    #[test]
    fn bad_input_is_named() {
        let body = cbor(&Value::Map(vec![
            (text("MetricName"), text("m")),
            (
                text("Dimensions"),
                Value::Array(vec![Value::Map(vec![(
                    text("Name"),
                    Value::Integer(3.into()),
                )])]),
            ),
        ]));
        let e = from_node::<Datum>(decode(&body).unwrap()).unwrap_err();
        assert_eq!(
            e,
            "Dimensions[0].Name: invalid type: integer `3`, expected a string"
        );
        assert_eq!(
            decode(b"\xff\x00").unwrap_err().code,
            "SerializationException"
        );
        let e = decode(&cbor(&Value::Array(vec![]))).unwrap_err();
        assert!(
            e.message.contains("must be a CBOR map, not a list"),
            "{}",
            e.message
        );
        let e = decode(&cbor(&Value::Map(vec![(
            Value::Integer(1.into()),
            text("x"),
        )])))
        .unwrap_err();
        assert!(e.message.contains("keys must be text"), "{}", e.message);
        // Nesting past the limit is refused, not recursed into.
        let mut deep = Value::Array(vec![]);
        for _ in 0..200 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(
            decode(&cbor(&Value::Map(vec![(text("a"), deep)])))
                .unwrap_err()
                .code,
            "SerializationException"
        );
    }

    #[test]
    fn encodes_timestamps_as_tag_1() {
        let d = Datum {
            metric_name: "m".into(),
            timestamp: Timestamp::from_epoch_seconds(100.0),
            dimensions: vec![],
            values: vec![0.25],
            payload: Some(Blob(vec![1, 2])),
            extended: BTreeMap::new(),
        };
        let r = ok(&to_node(&d).unwrap());
        assert_eq!((r.status, r.content_type), (200, CONTENT_TYPE));
        assert!(r.headers.contains(&(PROTOCOL_HEADER, PROTOCOL.into())));
        let v: Value = ciborium::de::from_reader(r.body.as_slice()).unwrap();
        let Value::Map(m) = v else { panic!() };
        assert_eq!(
            m[1],
            (
                text("Timestamp"),
                Value::Tag(1, Box::new(Value::Integer(100.into())))
            )
        );
        assert_eq!(m[4], (text("Payload"), Value::Bytes(vec![1, 2])));
        let v: Value = ciborium::de::from_reader(encode(&Node::Null).as_slice()).unwrap();
        assert_eq!(v, Value::Map(vec![]));
    }

    #[test]
    fn errors_and_paths() {
        let r = error(
            &ApiError::with_status("ResourceNotFound", "gone", 404),
            false,
        );
        assert_eq!(r.status, 404);
        let v: Value = ciborium::de::from_reader(r.body.as_slice()).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                (text("__type"), text("ResourceNotFound")),
                (text("message"), text("gone"))
            ])
        );
        assert_eq!(
            parse_path("/service/Granite/operation/PutMetricData"),
            Some(("Granite", "PutMetricData"))
        );
        assert_eq!(parse_path("/service/Granite/operation/"), None);
        assert_eq!(parse_path("/service/Granite/op/X"), None);
    }
}
