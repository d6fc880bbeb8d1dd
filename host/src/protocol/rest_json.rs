//! restJson1 (Scheduler): the operation is the HTTP method and a path template
//! (`POST /schedules/{Name}`); input members come from path labels, the query string,
//! headers (each declared by the operation's [`Route`]) and the JSON body (all the rest).
//! Responses are JSON bodies with the route's status; errors `{"__type", "message"}` with
//! `x-amzn-ErrorType` and the error's status.
//!
//! Not covered (no planned service needs them): members bound to the whole payload
//! (`httpPayload`), output members in headers, query-string maps (`httpQueryParams`).

use super::error::ApiError;
use super::reply::Reply;
use super::service::Route;
use super::value::Node;
use http::{HeaderMap, Method, Uri};
use percent_encoding::percent_decode_str;

const CONTENT_TYPE: &str = "application/json";

/// A route's path, parsed once at start-up.
#[derive(Debug)]
pub(crate) struct CompiledRoute {
    pub route: &'static Route,
    method: Method,
    segments: Vec<Segment>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(&'static str),
    /// `{Name}`: one segment, into the member of that name.
    Label(&'static str),
    /// `{Key+}`: the rest of the path, slashes included (last segment only).
    Greedy(&'static str),
}

impl CompiledRoute {
    pub fn compile(route: &'static Route) -> Result<Self, String> {
        let method = Method::from_bytes(route.method.as_bytes())
            .map_err(|_| format!("{}: bad HTTP method {:?}", route.operation, route.method))?;
        // A literal query in the template (`/x?versions`) is not part of the match.
        let path = route.path.split('?').next().unwrap_or("");
        let Some(path) = path.strip_prefix('/') else {
            return Err(format!(
                "{}: the path {:?} must start with /",
                route.operation, route.path
            ));
        };
        let mut segments = Vec::new();
        let parts: Vec<&'static str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        for (i, part) in parts.iter().enumerate() {
            let seg = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(label) => match label.strip_suffix('+') {
                    Some(greedy) if i + 1 == parts.len() => Segment::Greedy(greedy),
                    Some(_) => {
                        return Err(format!(
                            "{}: a greedy label must be last in {:?}",
                            route.operation, route.path
                        ));
                    }
                    None => Segment::Label(label),
                },
                None if part.contains(['{', '}']) => {
                    return Err(format!(
                        "{}: a label must be a whole segment in {:?}",
                        route.operation, route.path
                    ));
                }
                None => Segment::Literal(part),
            };
            segments.push(seg);
        }
        Ok(Self {
            route,
            method,
            segments,
        })
    }

    /// The path's labels (member, decoded value) when the request matches this route.
    pub fn matches(&self, method: &Method, path: &str) -> Option<Vec<(&'static str, String)>> {
        if *method != self.method {
            return None;
        }
        let path = path.strip_prefix('/')?;
        let path = path.strip_suffix('/').unwrap_or(path);
        let parts: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        let mut labels = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Literal(lit) => {
                    if parts.get(i) != Some(lit) {
                        return None;
                    }
                }
                Segment::Label(member) => {
                    let raw = parts.get(i).filter(|p| !p.is_empty())?;
                    labels.push((*member, decode_segment(raw)?));
                }
                Segment::Greedy(member) => {
                    let rest = parts.get(i..).filter(|r| !r.is_empty())?.join("/");
                    labels.push((*member, decode_segment(&rest)?));
                    return Some(labels);
                }
            }
        }
        (parts.len() == self.segments.len()).then_some(labels)
    }

    /// Whether the path alone matches (for `405` rather than `404`).
    pub fn path_matches(&self, path: &str) -> bool {
        self.matches(&self.method, path).is_some()
    }
}

fn decode_segment(raw: &str) -> Option<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The input tree: body members, overridden by labels, query-string values and headers.
pub(crate) fn decode(
    route: &CompiledRoute,
    labels: Vec<(&'static str, String)>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Node, ApiError> {
    let Node::Struct(mut members) = super::json::decode(body)? else {
        return Err(ApiError::serialization(
            "The request body must be a JSON object",
        ));
    };
    let mut set = |member: &str, node: Node| {
        members.retain(|(k, _)| k != member);
        members.push((member.to_owned(), node));
    };
    if let Some(query) = uri.query() {
        let mut found: Vec<(&'static str, Vec<String>)> = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let Some((_, member)) = route.route.query.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            match found.iter_mut().find(|(m, _)| m == member) {
                Some((_, values)) => values.push(value.into_owned()),
                None => found.push((member, vec![value.into_owned()])),
            }
        }
        for (member, mut values) in found {
            // A key given once reads as a scalar or as a list of one; repeated, as a list.
            let node = if values.len() == 1 {
                Node::Text(values.remove(0))
            } else {
                Node::List(values.into_iter().map(Node::Text).collect())
            };
            set(member, node);
        }
    }
    for (header, member) in route.route.headers {
        if let Some(v) = headers.get(*header) {
            let v = v.to_str().map_err(|_| {
                ApiError::serialization(format!("The {header} header must be text"))
            })?;
            set(member, Node::Text(v.to_owned()));
        }
    }
    for (member, value) in labels {
        set(member, Node::Text(value));
    }
    Ok(Node::Struct(members))
}

pub(crate) fn ok(status: u16, node: &Node) -> Reply {
    // A 204 has no body, by HTTP's rules.
    let body = if status == 204 {
        Vec::new()
    } else {
        super::json::encode(node)
    };
    Reply::new(status, CONTENT_TYPE, body)
}

pub(crate) fn error(err: &ApiError) -> Reply {
    super::json::error(CONTENT_TYPE, err, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::value::{Timestamp, from_node};
    use serde::Deserialize;

    static CREATE: Route = Route::new("CreateSchedule", "POST", "/schedules/{Name}");
    static LIST: Route = Route::new("ListSchedules", "GET", "/schedules").query(&[
        ("ScheduleGroup", "GroupName"),
        ("MaxResults", "MaxResults"),
        ("State", "States"),
    ]);
    static GET_OBJECT: Route = Route::new("GetObject", "GET", "/{Bucket}/{Key+}")
        .headers(&[("x-amz-expected-owner", "Owner")]);

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Create {
        name: String,
        schedule_expression: String,
        start_date: Option<Timestamp>,
        target: Target,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Target {
        arn: String,
        retry_policy: Option<Retry>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Retry {
        maximum_retry_attempts: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct List {
        group_name: Option<String>,
        max_results: Option<u32>,
        #[serde(default)]
        states: Vec<String>,
    }

    fn run<T: serde::de::DeserializeOwned>(
        route: &'static Route,
        method: &str,
        uri: &str,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<T, String> {
        let c = CompiledRoute::compile(route).unwrap();
        let uri: Uri = uri.parse().unwrap();
        let labels = c
            .matches(&method.parse().unwrap(), uri.path())
            .ok_or("no match")?;
        let node = decode(&c, labels, &uri, headers, body.as_bytes()).map_err(|e| e.message)?;
        from_node::<T>(node).map(|d| d.value)
    }

    #[test]
    fn labels_query_and_body_meet_in_one_input() {
        let c: Create = run(
            &CREATE,
            "POST",
            "/schedules/my%20sched",
            &HeaderMap::new(),
            r#"{"ScheduleExpression":"rate(1 minute)","StartDate":1714564800,"Target":{"Arn":"arn:x","RetryPolicy":{"MaximumRetryAttempts":3}}}"#,
        )
        .unwrap();
        assert_eq!(c.name, "my sched");
        assert_eq!(
            c.target.retry_policy.unwrap().maximum_retry_attempts,
            Some(3)
        );
        assert_eq!(c.start_date.unwrap().to_iso8601(), "2024-05-01T12:00:00Z");
        assert_eq!(c.schedule_expression, "rate(1 minute)");
        assert_eq!(c.target.arn, "arn:x");

        let l: List = run(
            &LIST,
            "GET",
            "/schedules?ScheduleGroup=g&MaxResults=5&State=A&State=B&Other=1",
            &HeaderMap::new(),
            "",
        )
        .unwrap();
        assert_eq!(
            (l.group_name.as_deref(), l.max_results),
            (Some("g"), Some(5))
        );
        assert_eq!(l.states, ["A", "B"]);
        let l: List = run(&LIST, "GET", "/schedules?State=A", &HeaderMap::new(), "").unwrap();
        assert_eq!(l.states, ["A"]);
    }

    #[test]
    fn bad_values_name_the_member() {
        let e = run::<List>(
            &LIST,
            "GET",
            "/schedules?MaxResults=lots",
            &HeaderMap::new(),
            "",
        )
        .unwrap_err();
        assert_eq!(
            e,
            r#"MaxResults: invalid type: string "lots", expected u32"#
        );
        let e = run::<Create>(
            &CREATE,
            "POST",
            "/schedules/a",
            &HeaderMap::new(),
            r#"{"ScheduleExpression":"x","Target":{}}"#,
        )
        .unwrap_err();
        assert_eq!(e, "Target.Arn: is required");
        let e = run::<Create>(&CREATE, "POST", "/schedules/a", &HeaderMap::new(), "[").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn routes_match_method_path_and_greedy_labels() {
        let c = CompiledRoute::compile(&CREATE).unwrap();
        assert!(c.matches(&Method::GET, "/schedules/a").is_none());
        assert!(c.path_matches("/schedules/a"));
        assert!(c.matches(&Method::POST, "/schedules").is_none());
        assert!(c.matches(&Method::POST, "/schedules/a/b").is_none());
        assert!(c.matches(&Method::POST, "/schedules/").is_none());
        let g = CompiledRoute::compile(&GET_OBJECT).unwrap();
        let labels = g.matches(&Method::GET, "/b/dir/file%2B1.txt").unwrap();
        assert_eq!(
            labels,
            [
                ("Bucket", "b".to_owned()),
                ("Key", "dir/file+1.txt".to_owned())
            ]
        );
        let mut h = HeaderMap::new();
        h.insert("x-amz-expected-owner", "123".parse().unwrap());
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Get {
            bucket: String,
            key: String,
            owner: String,
        }
        let got: Get = run(&GET_OBJECT, "GET", "/b/k", &h, "").unwrap();
        assert_eq!(
            (got.bucket.as_str(), got.key.as_str(), got.owner.as_str()),
            ("b", "k", "123")
        );
        static BAD: Route = Route::new("X", "GET", "/a/{B+}/c");
        assert!(CompiledRoute::compile(&BAD).is_err());
        static BAD2: Route = Route::new("X", "GET", "/a/x{B}");
        assert!(CompiledRoute::compile(&BAD2).is_err());
    }

    #[test]
    fn errors_carry_the_type_header() {
        let r = error(&ApiError::with_status(
            "ResourceNotFoundException",
            "no schedule a",
            404,
        ));
        assert_eq!((r.status, r.content_type), (404, "application/json"));
        assert!(
            r.headers
                .contains(&("x-amzn-errortype", "ResourceNotFoundException".into()))
        );
    }
}
