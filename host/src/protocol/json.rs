//! awsJson1_0 and awsJson1_1: `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON
//! object body; responses are JSON objects, errors `{"__type": code, "message": …}` with
//! `x-amzn-ErrorType`. Timestamps are epoch seconds, blobs base64 strings. restJson1 bodies
//! use the same encoding ([`super::rest_json`]).

use super::error::ApiError;
use super::reply::Reply;
use super::value::{Node, base64, epoch_number, special_float};
use http::HeaderMap;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// The two JSON dialects: they differ only in the content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonVersion {
    V1_0,
    V1_1,
}

impl JsonVersion {
    pub fn content_type(self) -> &'static str {
        match self {
            JsonVersion::V1_0 => "application/x-amz-json-1.0",
            JsonVersion::V1_1 => "application/x-amz-json-1.1",
        }
    }

    /// The dialect a request's `Content-Type` names, if any.
    pub fn of_request(headers: &HeaderMap) -> Option<Self> {
        let mime = mime(headers);
        if mime.eq_ignore_ascii_case(JsonVersion::V1_0.content_type()) {
            Some(JsonVersion::V1_0)
        } else if mime.eq_ignore_ascii_case(JsonVersion::V1_1.content_type()) {
            Some(JsonVersion::V1_1)
        } else {
            None
        }
    }
}

pub(crate) fn mime(headers: &HeaderMap) -> &str {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
}

/// Either JSON content type is accepted for either dialect (clients are not picky either).
pub(crate) fn check_content_type(headers: &HeaderMap, want: JsonVersion) -> Result<(), ApiError> {
    if JsonVersion::of_request(headers).is_some() {
        return Ok(());
    }
    let got = match headers.get(http::header::CONTENT_TYPE) {
        None => "none".to_owned(),
        Some(v) => format!("{:?}", v.to_str().unwrap_or("(not text)")),
    };
    Err(ApiError::serialization(format!(
        "Content-Type must be {}; got {got}",
        want.content_type()
    )))
}

/// A request body: a JSON object (an empty body counts as `{}`).
pub(crate) fn decode(body: &[u8]) -> Result<Node, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Node::Struct(Vec::new()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("The request body is not valid JSON: {e}")))?;
    match value {
        Value::Object(_) => Ok(from_json(value)),
        // JSON's own names for what came instead (a client sent JSON, not a Node).
        other => Err(ApiError::serialization(format!(
            "The request body must be a JSON object, not {}",
            match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ))),
    }
}

/// A parsed JSON value as a tree.
pub(crate) fn from_json(value: Value) -> Node {
    match value {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Node::Int(i.into()),
            (None, Some(u)) => Node::Int(u.into()),
            _ => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Node::Str(s),
        Value::Array(items) => Node::List(items.into_iter().map(from_json).collect()),
        Value::Object(m) => Node::Struct(m.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

/// A response body. An operation without output answers `{}`.
pub(crate) fn encode(node: &Node) -> Vec<u8> {
    let node = match node {
        Node::Null => &Node::Struct(Vec::new()),
        n => n,
    };
    // Writing a tree of plain values into a Vec cannot fail.
    serde_json::to_vec(&Json(node)).unwrap_or_else(|_| b"{}".to_vec())
}

pub(crate) fn ok(version: JsonVersion, node: &Node) -> Reply {
    Reply::new(200, version.content_type(), encode(node))
}

/// `{"__type": code, "message": …}` with `x-amzn-ErrorType`; a query-compatible service
/// also names the awsQuery code and fault in `x-amzn-query-error`.
pub(crate) fn error(content_type: &'static str, err: &ApiError, query_compatible: bool) -> Reply {
    let body = serde_json::json!({"__type": err.code, "message": err.message});
    let mut reply = Reply::new(
        err.status,
        content_type,
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    reply.header("x-amzn-errortype", err.code.clone());
    if query_compatible {
        reply.header(
            "x-amzn-query-error",
            format!("{};{}", err.code, err.fault()),
        );
    }
    reply
}

/// A tree in AWS JSON's form.
struct Json<'a>(&'a Node);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i128(*i),
            Node::Float(f) => match special_float(*f) {
                Some(text) => s.serialize_str(text),
                None => s.serialize_f64(*f),
            },
            Node::Str(t) | Node::Text(t) => s.serialize_str(t),
            Node::Bytes(b) => s.serialize_str(&base64(b)),
            Node::Time(secs) => epoch_number(*secs).serialize(s),
            Node::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Json(item))?;
                }
                seq.end()
            }
            Node::Struct(m) | Node::Map(m) | Node::Form(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m.iter().filter(|(_, v)| *v != Node::Null) {
                    map.serialize_entry(k, &Json(v))?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::value::{Blob, Timestamp, from_node, to_node};
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Def {
        family: String,
        #[serde(default)]
        container_definitions: Vec<Container>,
        #[serde(default)]
        labels: BTreeMap<String, Vec<u32>>,
        registered_at: Option<Timestamp>,
        payload: Option<Blob>,
        ratio: Option<f64>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Container {
        name: String,
        memory: Option<u32>,
    }

    #[test]
    fn decodes_nested_lists_and_maps() {
        let body = br#"{"family":"web","containerDefinitions":[{"name":"a","memory":64},{"name":"b"}],
            "labels":{"x":[1,2]},"registeredAt":1714564800.25,"payload":"aGk=","ratio":"NaN","zz":1}"#;
        let d = from_node::<Def>(decode(body).unwrap()).unwrap();
        assert_eq!(d.value.container_definitions[0].memory, Some(64));
        assert_eq!(d.value.labels["x"], [1, 2]);
        assert_eq!(
            d.value.registered_at.unwrap().to_iso8601(),
            "2024-05-01T12:00:00.250Z"
        );
        assert_eq!(d.value.payload.as_ref().unwrap().0, b"hi");
        assert!(d.value.ratio.unwrap().is_nan());
        assert_eq!(d.ignored, ["zz"]);
        let d = from_node::<Def>(decode(b" ").unwrap());
        assert_eq!(d.unwrap_err(), "family: is required");
    }

    #[test]
    fn bad_input_names_the_member() {
        let body =
            br#"{"family":"web","containerDefinitions":[{"name":"a"},{"name":"b","memory":"x"}]}"#;
        let e = from_node::<Def>(decode(body).unwrap()).unwrap_err();
        assert_eq!(
            e,
            r#"containerDefinitions[1].memory: invalid type: string "x", expected u32"#
        );
        let e = decode(b"[1]").unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "SerializationException",
                "The request body must be a JSON object, not an array"
            )
        );
        let e = decode(b"{\"a\":").unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
    }

    #[test]
    fn encodes_timestamps_blobs_and_specials() {
        let d = Def {
            family: "web".into(),
            container_definitions: vec![Container {
                name: "a".into(),
                memory: None,
            }],
            labels: BTreeMap::from([("x".into(), vec![3])]),
            registered_at: Timestamp::from_epoch_seconds(1_714_564_800.0),
            payload: Some(Blob(b"hi".to_vec())),
            ratio: Some(f64::INFINITY),
        };
        let bytes = encode(&to_node(&d).unwrap());
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"family":"web","containerDefinitions":[{"name":"a"}],"labels":{"x":[3]},
                "registeredAt":1714564800,"payload":"aGk=","ratio":"Infinity"})
        );
        assert_eq!(encode(&Node::Null), b"{}");
    }

    #[test]
    fn errors_carry_type_and_header() {
        let r = error(
            JsonVersion::V1_0.content_type(),
            &ApiError::new("ResourceNotFound", "no <such> thing"),
            true,
        );
        assert_eq!(r.status, 400);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"__type": "ResourceNotFound", "message": "no <such> thing"})
        );
        assert!(
            r.headers
                .contains(&("x-amzn-errortype", "ResourceNotFound".into()))
        );
        assert!(
            r.headers
                .contains(&("x-amzn-query-error", "ResourceNotFound;Sender".into()))
        );
    }
}
