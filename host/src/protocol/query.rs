//! awsQuery (IAM, STS, CloudWatch's query mode): a form `Action=<Op>&Version=<date>&…`
//! (POST body, or the query string of a GET) whose keys flatten the input —
//! `Tags.member.1.Key`, `Attributes.entry.1.key` — and XML responses:
//!
//! ```xml
//! <OpResponse xmlns="…"><OpResult>…</OpResult>
//!   <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></OpResponse>
//! <ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>…</Code><Message>…</Message>
//!   </Error><RequestId>…</RequestId></ErrorResponse>
//! ```
//!
//! The form becomes a [`Node::Form`] tree of [`Node::Text`] leaves, which the typed model
//! reads (`Vec<T>` from `member.N`, maps from `entry.N`); lists are written as `<member>`,
//! maps as `<entry><key/><value/></entry>`, timestamps in ISO 8601, blobs in base64.

use super::error::ApiError;
use super::reply::Reply;
use super::value::{Node, Timestamp, base64, special_float};
use http::{HeaderMap, Method, Uri};
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use std::collections::BTreeMap;
use std::io;

/// Keys deeper than this are refused (the deepest AWS input needs about 10).
pub const MAX_KEY_DEPTH: usize = 32;

pub(crate) const FORM: &str = "application/x-www-form-urlencoded";
const XML: &str = "text/xml";

/// A decoded awsQuery request.
#[derive(Debug)]
pub(crate) struct QueryRequest {
    pub action: String,
    pub version: Option<String>,
    pub input: Node,
}

/// Whether a request looks like awsQuery: a form body, or an `Action` in the query string.
pub(crate) fn looks_like_query(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    let form = super::json::mime(headers).eq_ignore_ascii_case(FORM);
    let action_in_uri = uri
        .query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "Action"));
    (*method == Method::POST && form) || action_in_uri
}

pub(crate) fn decode(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<QueryRequest, ApiError> {
    let mut pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    if *method == Method::POST && !body.is_empty() {
        let mime = super::json::mime(headers);
        if !mime.eq_ignore_ascii_case(FORM) {
            return Err(ApiError::serialization(format!(
                "Content-Type must be {FORM}; got {}",
                if mime.is_empty() { "none" } else { mime }
            )));
        }
        pairs.extend(form_urlencoded::parse(body).into_owned());
    }
    let (mut action, mut version) = (None, None);
    let mut tree = Branch::default();
    for (key, value) in pairs {
        match key.as_str() {
            "Action" => action = Some(value),
            "Version" => version = Some(value),
            _ => tree.insert(&key, value)?,
        }
    }
    let action = action.filter(|a| !a.is_empty()).ok_or_else(|| {
        ApiError::new(
            "MissingAction",
            "The request must contain the parameter Action.",
        )
    })?;
    Ok(QueryRequest {
        action,
        version,
        input: tree.into_node(),
    })
}

/// The form's keys as a tree while it is built (sorted, so repeated keys find their branch).
#[derive(Default)]
struct Branch(BTreeMap<String, Entry>);

enum Entry {
    Leaf(String),
    Branch(Branch),
}

impl Branch {
    fn insert(&mut self, key: &str, value: String) -> Result<(), ApiError> {
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(malformed(format!(
                "the parameter name {key:?} has an empty part"
            )));
        }
        if parts.len() > MAX_KEY_DEPTH {
            return Err(malformed(format!(
                "the parameter name {key:?} has more than {MAX_KEY_DEPTH} parts"
            )));
        }
        let conflict = || malformed(format!("{key} is given both as a value and as a structure"));
        let (last, parents) = parts.split_last().ok_or_else(conflict)?;
        let mut branch = self;
        for part in parents {
            let entry = branch
                .0
                .entry((*part).to_owned())
                .or_insert_with(|| Entry::Branch(Branch::default()));
            branch = match entry {
                Entry::Branch(b) => b,
                Entry::Leaf(_) => return Err(conflict()),
            };
        }
        match branch.0.get_mut(*last) {
            Some(Entry::Branch(_)) => Err(conflict()),
            // A repeated key: the last one counts, as in AWS.
            Some(Entry::Leaf(v)) => {
                *v = value;
                Ok(())
            }
            None => {
                branch.0.insert((*last).to_owned(), Entry::Leaf(value));
                Ok(())
            }
        }
    }

    fn into_node(self) -> Node {
        Node::Form(
            self.0
                .into_iter()
                .map(|(k, e)| {
                    let node = match e {
                        Entry::Leaf(v) => Node::Text(v),
                        Entry::Branch(b) => b.into_node(),
                    };
                    (k, node)
                })
                .collect(),
        )
    }
}

fn malformed(message: String) -> ApiError {
    ApiError::new("MalformedQueryString", message)
}

/// `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…`; an operation without output
/// (`()`) has no `<OpResult>`.
pub(crate) fn ok(operation: &str, xmlns: &str, node: &Node, request_id: &str) -> Reply {
    let body = write(|w| {
        let response = format!("{operation}Response");
        w.write_event(Event::Start(
            BytesStart::new(response.as_str()).with_attributes([("xmlns", xmlns)]),
        ))?;
        let result = format!("{operation}Result");
        match node {
            Node::Null => {}
            Node::Struct(members) | Node::Form(members) => {
                start(w, &result)?;
                for (name, value) in members {
                    write_node(w, name, value)?;
                }
                end(w, &result)?;
            }
            other => write_node(w, &result, other)?,
        }
        start(w, "ResponseMetadata")?;
        text_element(w, "RequestId", request_id)?;
        end(w, "ResponseMetadata")?;
        end(w, &response)
    });
    Reply::new(200, XML, body)
}

pub(crate) fn error(xmlns: &str, err: &ApiError, request_id: &str) -> Reply {
    let body = write(|w| {
        w.write_event(Event::Start(
            BytesStart::new("ErrorResponse").with_attributes([("xmlns", xmlns)]),
        ))?;
        start(w, "Error")?;
        text_element(w, "Type", err.fault())?;
        text_element(w, "Code", &err.code)?;
        text_element(w, "Message", &err.message)?;
        end(w, "Error")?;
        text_element(w, "RequestId", request_id)?;
        end(w, "ErrorResponse")
    });
    Reply::new(err.status, XML, body)
}

type W = Writer<Vec<u8>>;

fn write(f: impl FnOnce(&mut W) -> io::Result<()>) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    // Writing into a Vec cannot fail; an empty body would show a bug, not crash the host.
    match f(&mut w) {
        Ok(()) => w.into_inner(),
        Err(e) => {
            tracing::error!("awsQuery: writing the XML response failed: {e}");
            Vec::new()
        }
    }
}

fn start(w: &mut W, name: &str) -> io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))
}

fn end(w: &mut W, name: &str) -> io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn text_element(w: &mut W, name: &str, text: &str) -> io::Result<()> {
    start(w, name)?;
    let text = xml_chars(text);
    w.write_event(Event::Text(BytesText::new(&text)))?;
    end(w, name)
}

/// XML 1.0 cannot carry most control characters, even escaped: they become U+FFFD.
fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if text.chars().all(allowed) {
        text.into()
    } else {
        text.chars()
            .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
            .collect::<String>()
            .into()
    }
}

fn write_node(w: &mut W, name: &str, node: &Node) -> io::Result<()> {
    match node {
        Node::Null => Ok(()),
        Node::Struct(members) | Node::Form(members) => {
            start(w, name)?;
            for (member, value) in members {
                write_node(w, member, value)?;
            }
            end(w, name)
        }
        Node::Map(entries) => {
            start(w, name)?;
            for (key, value) in entries {
                start(w, "entry")?;
                text_element(w, "key", key)?;
                write_node(w, "value", value)?;
                end(w, "entry")?;
            }
            end(w, name)
        }
        Node::List(items) => {
            start(w, name)?;
            for item in items {
                write_node(w, "member", item)?;
            }
            end(w, name)
        }
        Node::Bool(b) => text_element(w, name, if *b { "true" } else { "false" }),
        Node::Int(i) => text_element(w, name, &i.to_string()),
        Node::Float(f) => match special_float(*f) {
            Some(text) => text_element(w, name, text),
            None => text_element(w, name, &f.to_string()),
        },
        Node::Str(s) | Node::Text(s) => text_element(w, name, s),
        Node::Bytes(b) => text_element(w, name, &base64(b)),
        Node::Time(secs) => {
            let text = Timestamp::from_epoch_seconds(*secs)
                .map(|t| t.to_iso8601())
                .unwrap_or_default();
            text_element(w, name, &text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::value::{from_node, to_node};
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct AssumeRole {
        role_arn: String,
        duration_seconds: Option<u32>,
        #[serde(default)]
        tags: Vec<Tag>,
        #[serde(default)]
        transitive_tag_keys: Vec<String>,
        #[serde(default)]
        attributes: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        value: String,
    }

    fn post(body: &str) -> Result<QueryRequest, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        decode(
            &Method::POST,
            &"/".parse().unwrap(),
            &headers,
            body.as_bytes(),
        )
    }

    #[test]
    fn decodes_flattened_lists_and_maps() {
        let q = post(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr\
             &DurationSeconds=900&Tags.member.2.Key=b&Tags.member.2.Value=2\
             &Tags.member.1.Key=a&Tags.member.1.Value=1+%26+more&TransitiveTagKeys.member.1=a\
             &Attributes.entry.1.key=Policy&Attributes.entry.1.value=%7B%7D&Extra=1",
        )
        .unwrap();
        assert_eq!(
            (q.action.as_str(), q.version.as_deref()),
            ("AssumeRole", Some("2011-06-15"))
        );
        let d = from_node::<AssumeRole>(q.input).unwrap();
        assert_eq!(d.value.role_arn, "arn:aws:iam::1:role/r");
        assert_eq!(d.value.duration_seconds, Some(900));
        assert_eq!(
            d.value.tags,
            [
                Tag {
                    key: "a".into(),
                    value: "1 & more".into()
                },
                Tag {
                    key: "b".into(),
                    value: "2".into()
                }
            ]
        );
        assert_eq!(d.value.transitive_tag_keys, ["a"]);
        assert_eq!(d.value.attributes["Policy"], "{}");
        assert_eq!(d.ignored, ["Extra"]);
    }

    #[test]
    fn bad_forms_are_named() {
        let q = post("Action=AssumeRole&RoleArn=r&DurationSeconds=soon").unwrap();
        let e = from_node::<AssumeRole>(q.input).unwrap_err();
        assert_eq!(
            e,
            r#"DurationSeconds: invalid type: string "soon", expected u32"#
        );
        let q = post("Action=AssumeRole&RoleArn=r&Tags.member.1.Key=a").unwrap();
        assert_eq!(
            from_node::<AssumeRole>(q.input).unwrap_err(),
            "Tags[0].Value: is required"
        );
        let e = post("Action=X&A=1&A.B=2").unwrap_err();
        assert_eq!(e.code, "MalformedQueryString");
        assert!(
            e.message.contains("both as a value and as a structure"),
            "{}",
            e.message
        );
        assert_eq!(
            post("Action=X&A..B=1").unwrap_err().code,
            "MalformedQueryString"
        );
        assert_eq!(post("Version=1").unwrap_err().code, "MissingAction");
        let deep = format!("Action=X&{}=1", vec!["a"; MAX_KEY_DEPTH + 1].join("."));
        assert_eq!(post(&deep).unwrap_err().code, "MalformedQueryString");
        let e = decode(
            &Method::POST,
            &"/".parse().unwrap(),
            &HeaderMap::new(),
            b"Action=X",
        )
        .unwrap_err();
        assert_eq!(e.code, "SerializationException");
        // GET with the parameters in the query string.
        let q = decode(
            &Method::GET,
            &"/?Action=GetUser&UserName=bob".parse().unwrap(),
            &HeaderMap::new(),
            b"",
        )
        .unwrap();
        assert_eq!(
            (q.action.as_str(), q.input.get("UserName")),
            ("GetUser", Some(&Node::Text("bob".into())))
        );
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out {
        user_name: String,
        tags: Vec<Tag>,
        summary: BTreeMap<String, u32>,
        created: crate::protocol::value::Timestamp,
        none: Option<String>,
    }

    #[test]
    fn encodes_results_as_xml() {
        let out = Out {
            user_name: "a<b>&\"c\"\u{1}".into(),
            tags: vec![Tag {
                key: "k".into(),
                value: "v".into(),
            }],
            summary: BTreeMap::from([("Users".into(), 3)]),
            created: crate::protocol::value::Timestamp::from_epoch_seconds(1_714_564_800.5)
                .unwrap(),
            none: None,
        };
        let r = ok(
            "GetUser",
            "https://iam.amazonaws.com/doc/2010-05-08/",
            &to_node(&out).unwrap(),
            "rid-1",
        );
        assert_eq!((r.status, r.content_type), (200, "text/xml"));
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult>\
             <UserName>a&lt;b&gt;&amp;&quot;c&quot;\u{FFFD}</UserName>\
             <Tags><member><Key>k</Key><Value>v</Value></member></Tags>\
             <Summary><entry><key>Users</key><value>3</value></entry></Summary>\
             <Created>2024-05-01T12:00:00.500Z</Created></GetUserResult>\
             <ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></GetUserResponse>"
        );
        let r = ok("DeleteUser", "ns", &Node::Null, "r");
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "<DeleteUserResponse xmlns=\"ns\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"
        );
    }

    #[test]
    fn encodes_errors() {
        let r = error(
            "ns",
            &ApiError::with_status("NoSuchEntity", "no user <x>", 404),
            "r",
        );
        assert_eq!(r.status, 404);
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "<ErrorResponse xmlns=\"ns\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>\
             <Message>no user &lt;x&gt;</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        );
        let r = error("ns", &ApiError::server("boom"), "r");
        assert!(
            String::from_utf8(r.body)
                .unwrap()
                .contains("<Type>Receiver</Type>")
        );
    }
}
