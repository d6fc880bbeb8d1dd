//! The typed model's meeting point with the wire: every codec decodes its bytes into a
//! [`Node`] tree and encodes a [`Node`] tree into bytes; [`from_node`] and [`to_node`] turn
//! trees into an operation's `serde` types and back. So one `Deserialize` input struct
//! reads from JSON, a query form, a REST request or CBOR alike, and one `Serialize` output
//! struct is written to each.
//!
//! What differs between protocols is carried by the tree, not by the types:
//! - a query-form value, URI label, query-string value or header is [`Node::Text`]: it is
//!   parsed into whatever scalar the type asks for (`"5"` → `u32`, `"true"` → `bool`);
//! - a query-form branch is [`Node::Form`]: lists are read from `member.N`, maps from
//!   `entry.N.key/value` ([`de`]);
//! - timestamps ([`Timestamp`]) and blobs ([`Blob`]) serialize to [`Node::Time`] and
//!   [`Node::Bytes`]; each writer puts them in its protocol's form (epoch seconds,
//!   ISO 8601, CBOR tag 1, base64, byte strings).

mod de;
mod ser;
mod types;

pub use de::{Decoded, describe, from_node};
pub use ser::to_node;
pub(crate) use types::base64;
pub use types::{Blob, Timestamp};

/// A protocol-neutral value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Absent: members whose value is `Null` are skipped when read and when written.
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A string from a typed body (JSON, CBOR): only a string type reads it.
    Str(String),
    /// A string that stands for any scalar (query forms, URI labels, query strings,
    /// headers): parsed into the type asked for.
    Text(String),
    Bytes(Vec<u8>),
    /// A timestamp, in seconds since the Unix epoch.
    Time(f64),
    List(Vec<Node>),
    /// An object with named members: a struct written by [`to_node`], or any JSON object or
    /// CBOR map read from the wire.
    Struct(Vec<(String, Node)>),
    /// A map with keys chosen at run time (a Rust `HashMap`/`BTreeMap`): the XML writer
    /// renders it as `<entry><key/><value/></entry>`.
    Map(Vec<(String, Node)>),
    /// A branch of an awsQuery form (`Tags.member.1.Key=…`), children by path component.
    Form(Vec<(String, Node)>),
}

impl Node {
    /// What the value is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a number",
            Node::Str(_) | Node::Text(_) => "a string",
            Node::Bytes(_) => "a blob",
            Node::Time(_) => "a timestamp",
            Node::List(_) => "a list",
            Node::Struct(_) | Node::Map(_) | Node::Form(_) => "a structure",
        }
    }

    /// The member `name` of a structure (the first, if a form repeats it).
    pub fn get(&self, name: &str) -> Option<&Node> {
        match self {
            Node::Struct(m) | Node::Map(m) | Node::Form(m) => {
                m.iter().find(|(k, _)| k == name).map(|(_, v)| v)
            }
            _ => None,
        }
    }
}

/// Seconds since the epoch as a whole number when it is one (botocore sends integers
/// unless the value has a fraction).
pub(crate) fn epoch_number(secs: f64) -> serde_json::Number {
    if secs.fract() == 0.0 && secs.abs() < 9.0e15 {
        serde_json::Number::from(secs as i64)
    } else {
        // Milliseconds are what AWS keeps; round away float noise past them.
        let rounded = (secs * 1000.0).round() / 1000.0;
        serde_json::Number::from_f64(rounded).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

/// The text AWS uses for a double that is not a finite number.
pub(crate) fn special_float(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("Infinity")
    } else if f == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}
